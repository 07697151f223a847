//! [`FakeTelephony`]: a complete in-memory telephony provider with Twilio's semantics.
//!
//! It keeps a number inventory (numbers on offer and numbers owned), a recording registry with audio, and
//! the calls it has seen. Buying a number takes it off the market; releasing puts it back; a recording's
//! media can be downloaded only once it is `completed` and no longer after it is deleted — the same
//! contract the Twilio backend honours, checked by the same conformance suite. Clones share state, so a
//! [`crate::simulator::CallSimulator`] and the code under test can hold the same fake.
//!
//! ```
//! # tokio_test_block_on(async {
//! use callbook_telephony::fake::FakeTelephony;
//! use callbook_telephony::telephony::*;
//! let fake = FakeTelephony::new();
//! let offer = fake.search_available_numbers(&NumberSearch::local("US").with_area_code(415)).await.unwrap();
//! let bought = fake.purchase_number(&PurchaseRequest::new(offer[0].phone_number.clone())).await.unwrap();
//! assert!(fake.purchase_number(&PurchaseRequest::new(bought.phone_number.clone())).await.is_err());
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::telephony::{
    AccountSid, AudioFormat, AvailableNumber, CallInfo, CallSid, CallStatus, Capabilities, E164,
    NumberCapabilities, NumberKind, NumberSearch, NumberSid, OwnedNumber, Page, PageRequest, PageToken,
    PurchaseRequest, RecordingFilter, RecordingInfo, RecordingMedia, RecordingSid, RecordingStatus,
    Telephony, WebhookConfig,
};
use crate::{Error, Result};

/// The account id a [`FakeTelephony::new`] fake uses.
pub const FAKE_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, Clone)]
struct StoredRecording {
    info: RecordingInfo,
    audio: Option<(String, Bytes)>,
}

#[derive(Debug)]
struct State {
    account_sid: AccountSid,
    available: BTreeMap<String, (NumberKind, AvailableNumber)>,
    /// Owned numbers in purchase order.
    owned: Vec<OwnedNumber>,
    recordings: BTreeMap<RecordingSid, StoredRecording>,
    calls: BTreeMap<CallSid, CallInfo>,
    next_id: u128,
}

/// An in-memory telephony provider. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct FakeTelephony {
    state: Arc<Mutex<State>>,
}

impl Default for FakeTelephony {
    fn default() -> Self {
        Self::new()
    }
}

/// A sid: two-letter prefix and 32 hex digits, unique within one fake.
fn sid(prefix: &str, n: u128) -> String {
    format!("{prefix}{n:032x}")
}

impl FakeTelephony {
    /// A fake for account [`FAKE_ACCOUNT_SID`], with a pool of US numbers on offer: local numbers in area
    /// codes 415, 212 and 312 (`+1 AAA 555 01NN`, the range reserved for fiction) and toll-free `+1 800 555 01NN`.
    pub fn new() -> Self {
        let fake = Self::empty(AccountSid::new(FAKE_ACCOUNT_SID));
        for (area, locality, region, postal) in [
            (415, "San Francisco", "CA", "94103"),
            (212, "New York", "NY", "10001"),
            (312, "Chicago", "IL", "60601"),
        ] {
            for n in 0..10u16 {
                fake.offer_number(
                    NumberKind::Local,
                    AvailableNumber {
                        phone_number: E164(format!("+1{area}55501{n:02}")),
                        friendly_name: format!("({area}) 555-01{n:02}"),
                        locality: Some(locality.to_owned()),
                        region: Some(region.to_owned()),
                        postal_code: Some(postal.to_owned()),
                        iso_country: "US".to_owned(),
                        address_requirements: "none".to_owned(),
                        capabilities: NumberCapabilities {
                            voice: true,
                            sms: true,
                            mms: true,
                            fax: false,
                        },
                    },
                );
            }
        }
        for n in 0..5u16 {
            fake.offer_number(
                NumberKind::TollFree,
                AvailableNumber {
                    phone_number: E164(format!("+180055501{n:02}")),
                    friendly_name: format!("(800) 555-01{n:02}"),
                    locality: None,
                    region: None,
                    postal_code: None,
                    iso_country: "US".to_owned(),
                    address_requirements: "none".to_owned(),
                    capabilities: NumberCapabilities {
                        voice: true,
                        sms: true,
                        mms: false,
                        fax: false,
                    },
                },
            );
        }
        fake
    }

    /// A fake for `account_sid` with nothing on offer.
    pub fn empty(account_sid: AccountSid) -> Self {
        let state = State {
            account_sid,
            available: BTreeMap::new(),
            owned: Vec::new(),
            recordings: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_id: 1,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters to a fake.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The account this fake plays.
    pub fn account_sid(&self) -> AccountSid {
        self.lock().account_sid.clone()
    }

    /// Puts a number on offer.
    pub fn offer_number(&self, kind: NumberKind, number: AvailableNumber) {
        self.lock()
            .available
            .insert(number.phone_number.as_str().to_owned(), (kind, number));
    }

    /// Makes `phone_number` an owned number directly (as if bought earlier), with `webhooks`.
    pub fn add_owned_number(&self, phone_number: E164, webhooks: WebhookConfig) -> OwnedNumber {
        let mut s = self.lock();
        s.available.remove(phone_number.as_str());
        let n = s.bump();
        let owned = OwnedNumber {
            sid: NumberSid::new(sid("PN", n)),
            account_sid: s.account_sid.clone(),
            friendly_name: phone_number.as_str().to_owned(),
            phone_number,
            webhooks,
            capabilities: NumberCapabilities {
                voice: true,
                sms: true,
                mms: true,
                fax: false,
            },
            created_at: Some(Utc::now()),
        };
        s.owned.push(owned.clone());
        owned
    }

    /// Records that a call exists (the simulator does this when a call "arrives").
    pub fn add_call(&self, call: CallInfo) {
        self.lock().calls.insert(call.sid.clone(), call);
    }

    /// Updates a known call's status (and end time when final).
    pub fn set_call_status(
        &self,
        call_sid: &CallSid,
        status: CallStatus,
        duration_seconds: Option<u32>,
    ) -> Result<()> {
        let mut s = self.lock();
        let call = s
            .calls
            .get_mut(call_sid)
            .ok_or_else(|| not_found("call", call_sid.as_str()))?;
        if status.is_final() {
            call.ended_at = Some(Utc::now());
        }
        call.status = status;
        call.duration_seconds = duration_seconds.or(call.duration_seconds);
        Ok(())
    }

    /// Starts a recording for `call_sid` (status `in-progress`, no media yet) and returns its sid.
    pub fn start_recording(&self, call_sid: &CallSid, channels: u8, source: &str) -> RecordingSid {
        self.lock().insert_recording(call_sid, channels, source, None).sid
    }

    /// Completes a recording with its audio; from now on it can be downloaded.
    pub fn complete_recording(
        &self,
        sid: &RecordingSid,
        content_type: &str,
        audio: Bytes,
        duration_seconds: u32,
    ) -> Result<RecordingInfo> {
        let mut s = self.lock();
        let rec = s
            .recordings
            .get_mut(sid)
            .ok_or_else(|| not_found("recording", sid.as_str()))?;
        rec.info.status = RecordingStatus::Completed;
        rec.info.duration_seconds = Some(duration_seconds);
        rec.audio = Some((content_type.to_owned(), audio));
        Ok(rec.info.clone())
    }

    /// Marks a recording `absent` (nothing recorded; Twilio error 16101 too short / 16102 silent).
    pub fn mark_recording_absent(&self, sid: &RecordingSid, error_code: u32) -> Result<RecordingInfo> {
        let mut s = self.lock();
        let rec = s
            .recordings
            .get_mut(sid)
            .ok_or_else(|| not_found("recording", sid.as_str()))?;
        rec.info.status = RecordingStatus::Absent;
        rec.info.duration_seconds = Some(0);
        rec.info.error_code = Some(error_code);
        Ok(rec.info.clone())
    }

    /// Registers a completed recording in one step.
    pub fn add_completed_recording(
        &self,
        call_sid: &CallSid,
        content_type: &str,
        audio: Bytes,
        duration_seconds: u32,
        channels: u8,
    ) -> RecordingInfo {
        let media = Some((content_type.to_owned(), audio, duration_seconds));
        self.lock()
            .insert_recording(call_sid, channels, "RecordVerb", media)
    }

    /// Whether recording media is still held (false after deletion) — lets tests check a provider copy was deleted.
    pub fn has_recording_media(&self, sid: &RecordingSid) -> bool {
        self.lock().recordings.get(sid).is_some_and(|r| r.audio.is_some())
    }

    /// Allocates a fresh id (for callers minting their own sids, such as the simulator).
    pub fn mint_sid(&self, prefix: &str) -> String {
        let n = self.lock().bump();
        sid(prefix, n)
    }
}

impl State {
    fn bump(&mut self) -> u128 {
        let n = self.next_id;
        self.next_id += 1;
        n
    }

    /// Inserts a recording: `in-progress` without media, `completed` with it.
    fn insert_recording(
        &mut self,
        call_sid: &CallSid,
        channels: u8,
        source: &str,
        media: Option<(String, Bytes, u32)>,
    ) -> RecordingInfo {
        let n = self.bump();
        let now = Utc::now();
        let (status, duration_seconds, audio) = match media {
            Some((content_type, bytes, seconds)) => (
                RecordingStatus::Completed,
                Some(seconds),
                Some((content_type, bytes)),
            ),
            None => (RecordingStatus::InProgress, None, None),
        };
        let info = RecordingInfo {
            sid: RecordingSid::new(sid("RE", n)),
            account_sid: self.account_sid.clone(),
            call_sid: call_sid.clone(),
            status,
            duration_seconds,
            channels,
            source: Some(source.to_owned()),
            started_at: Some(now),
            created_at: Some(now),
            error_code: None,
        };
        self.recordings.insert(
            info.sid.clone(),
            StoredRecording {
                info: info.clone(),
                audio,
            },
        );
        info
    }
}

fn not_found(kind: &str, id: &str) -> Error {
    Error::NotFound {
        resource: format!("{kind} {id}"),
        message: format!("The requested {kind} was not found"),
    }
}

/// Twilio's `Contains` pattern: letters map to keypad digits, `*` matches one character; matched anywhere
/// in the national number unless anchored with `+` (start) / `$` (end).
fn matches_contains(number: &str, pattern: &str) -> bool {
    fn keypad(c: char) -> char {
        match c.to_ascii_uppercase() {
            'A'..='C' => '2',
            'D'..='F' => '3',
            'G'..='I' => '4',
            'J'..='L' => '5',
            'M'..='O' => '6',
            'P'..='S' => '7',
            'T'..='V' => '8',
            'W'..='Z' => '9',
            other => other,
        }
    }
    let digits: Vec<char> = number.trim_start_matches('+').chars().collect();
    let (anchored_start, rest) = match pattern.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, pattern),
    };
    let (anchored_end, rest) = match rest.strip_suffix('$') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let pat: Vec<char> = rest.chars().map(keypad).collect();
    if pat.len() > digits.len() {
        return false;
    }
    let fits = |at: usize| {
        pat.iter()
            .enumerate()
            .all(|(i, p)| *p == '*' || *p == digits[at + i])
    };
    let last = digits.len() - pat.len();
    match (anchored_start, anchored_end) {
        (true, _) => fits(0) && (!anchored_end || last == 0),
        (false, true) => fits(last),
        (false, false) => (0..=last).any(fits),
    }
}

fn paginate<T: Clone>(items: &[T], page: &PageRequest) -> Result<Page<T>> {
    let size = page
        .page_size
        .map_or(DEFAULT_PAGE_SIZE, |s| (s as usize).clamp(1, MAX_PAGE_SIZE));
    let (offset, size) = match &page.token {
        None => (0, size),
        Some(token) => decode_token(token)?,
    };
    let end = (offset + size).min(items.len());
    let slice = items.get(offset..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| PageToken::new(format!("{end}:{size}")));
    Ok(Page { items: slice, next })
}

fn decode_token(token: &PageToken) -> Result<(usize, usize)> {
    let bad = || Error::InvalidInput {
        code: None,
        message: "unknown page token".into(),
    };
    let (o, s) = token.as_str().split_once(':').ok_or_else(bad)?;
    Ok((
        o.parse().map_err(|_| bad())?,
        s.parse::<usize>().map_err(|_| bad())?.clamp(1, MAX_PAGE_SIZE),
    ))
}

#[async_trait]
impl Telephony for FakeTelephony {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            buy_numbers: true,
            delete_recordings: true,
            mp3_download: false,
        }
    }

    async fn search_available_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>> {
        if search.country.len() != 2 {
            return Err(Error::InvalidInput {
                code: None,
                message: "country must be an ISO 3166-1 alpha-2 code".into(),
            });
        }
        if let Some(pattern) = &search.contains {
            let literal = pattern.chars().filter(|c| c.is_ascii_alphanumeric()).count();
            if !(2..=16).contains(&pattern.len()) || literal < 2 {
                return Err(Error::InvalidInput {
                    code: Some(21451),
                    message: "Contains pattern is invalid".into(),
                });
            }
        }
        let s = self.lock();
        let limit = search.limit.map_or(DEFAULT_PAGE_SIZE, |l| l as usize);
        let found = s
            .available
            .values()
            .filter(|(kind, n)| *kind == search.kind && n.iso_country.eq_ignore_ascii_case(&search.country))
            .filter(|(_, n)| {
                search.area_code.is_none_or(|a| {
                    n.iso_country == "US" && n.phone_number.as_str().get(2..5) == Some(a.to_string().as_str())
                })
            })
            .filter(|(_, n)| {
                search
                    .contains
                    .as_deref()
                    .is_none_or(|p| matches_contains(n.phone_number.as_str(), p))
            })
            .filter(|(_, n)| search.voice_enabled.is_none_or(|v| n.capabilities.voice == v))
            .filter(|(_, n)| search.sms_enabled.is_none_or(|v| n.capabilities.sms == v))
            .filter(|(_, n)| search.in_postal_code.is_none() || n.postal_code == search.in_postal_code)
            .filter(|(_, n)| search.in_region.is_none() || n.region == search.in_region)
            .filter(|(_, n)| search.in_locality.is_none() || n.locality == search.in_locality)
            .filter(|(_, n)| !search.exclude_all_address_required || n.address_requirements == "none")
            .take(limit)
            .map(|(_, n)| n.clone())
            .collect();
        Ok(found)
    }

    async fn purchase_number(&self, request: &PurchaseRequest) -> Result<OwnedNumber> {
        if request
            .friendly_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 64)
        {
            return Err(Error::InvalidInput {
                code: None,
                message: "FriendlyName is longer than 64 characters".into(),
            });
        }
        let mut s = self.lock();
        let Some((_, offered)) = s.available.remove(request.phone_number.as_str()) else {
            return Err(Error::NumberUnavailable {
                code: 21422,
                message: "The requested phone number is not available".into(),
            });
        };
        let n = s.bump();
        let owned = OwnedNumber {
            sid: NumberSid::new(sid("PN", n)),
            account_sid: s.account_sid.clone(),
            phone_number: offered.phone_number.clone(),
            friendly_name: request.friendly_name.clone().unwrap_or(offered.friendly_name),
            webhooks: request.webhooks.clone(),
            capabilities: offered.capabilities,
            created_at: Some(Utc::now()),
        };
        s.owned.push(owned.clone());
        Ok(owned)
    }

    async fn fetch_number(&self, sid: &NumberSid) -> Result<OwnedNumber> {
        let s = self.lock();
        s.owned
            .iter()
            .find(|n| &n.sid == sid)
            .cloned()
            .ok_or_else(|| not_found("phone number", sid.as_str()))
    }

    async fn configure_number(&self, sid: &NumberSid, webhooks: &WebhookConfig) -> Result<OwnedNumber> {
        let mut s = self.lock();
        let n = s
            .owned
            .iter_mut()
            .find(|n| &n.sid == sid)
            .ok_or_else(|| not_found("phone number", sid.as_str()))?;
        n.webhooks = webhooks.clone();
        Ok(n.clone())
    }

    async fn list_numbers(&self, page: &PageRequest) -> Result<Page<OwnedNumber>> {
        paginate(&self.lock().owned, page)
    }

    async fn release_number(&self, sid: &NumberSid) -> Result<()> {
        let mut s = self.lock();
        let idx = s
            .owned
            .iter()
            .position(|n| &n.sid == sid)
            .ok_or_else(|| not_found("phone number", sid.as_str()))?;
        let released = s.owned.remove(idx);
        let kind = if released.phone_number.as_str().starts_with("+1800") {
            NumberKind::TollFree
        } else {
            NumberKind::Local
        };
        // Released numbers go back on the market, as they eventually do at Twilio.
        let offer = AvailableNumber {
            friendly_name: released.phone_number.as_str().to_owned(),
            phone_number: released.phone_number,
            locality: None,
            region: None,
            postal_code: None,
            iso_country: "US".to_owned(),
            address_requirements: "none".to_owned(),
            capabilities: released.capabilities,
        };
        s.available
            .insert(offer.phone_number.as_str().to_owned(), (kind, offer));
        Ok(())
    }

    async fn fetch_recording(&self, sid: &RecordingSid) -> Result<RecordingInfo> {
        let s = self.lock();
        s.recordings
            .get(sid)
            .filter(|r| r.info.status != RecordingStatus::Deleted)
            .map(|r| r.info.clone())
            .ok_or_else(|| not_found("recording", sid.as_str()))
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page<RecordingInfo>> {
        let s = self.lock();
        let mut found: Vec<RecordingInfo> = s
            .recordings
            .values()
            .map(|r| &r.info)
            .filter(|i| i.status != RecordingStatus::Deleted)
            .filter(|i| filter.call_sid.as_ref().is_none_or(|c| &i.call_sid == c))
            .filter(|i| {
                filter.created_on_or_after.is_none_or(|t: DateTime<Utc>| {
                    // Twilio filters by day (DateCreated>=YYYY-MM-DD).
                    i.created_at.is_some_and(|c| c.date_naive() >= t.date_naive())
                })
            })
            .cloned()
            .collect();
        // Newest first; sids are minted in increasing order, which breaks ties in creation time.
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.sid.cmp(&a.sid)));
        paginate(&found, page)
    }

    async fn download_recording(&self, sid: &RecordingSid, format: AudioFormat) -> Result<RecordingMedia> {
        let s = self.lock();
        let rec = s
            .recordings
            .get(sid)
            .filter(|r| r.info.status == RecordingStatus::Completed)
            .ok_or_else(|| not_found("recording media", sid.as_str()))?;
        let (content_type, bytes) = rec
            .audio
            .clone()
            .ok_or_else(|| not_found("recording media", sid.as_str()))?;
        if format == AudioFormat::Mp3 && content_type != AudioFormat::Mp3.content_type() {
            return Err(Error::InvalidInput {
                code: None,
                message: "the fake does not transcode to MP3".into(),
            });
        }
        Ok(RecordingMedia { content_type, bytes })
    }

    async fn delete_recording(&self, sid: &RecordingSid) -> Result<()> {
        let mut s = self.lock();
        let rec = s
            .recordings
            .get_mut(sid)
            .filter(|r| r.info.status != RecordingStatus::Deleted)
            .ok_or_else(|| not_found("recording", sid.as_str()))?;
        rec.info.status = RecordingStatus::Deleted;
        rec.audio = None;
        Ok(())
    }

    async fn fetch_call(&self, sid: &CallSid) -> Result<CallInfo> {
        self.lock()
            .calls
            .get(sid)
            .cloned()
            .ok_or_else(|| not_found("call", sid.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_patterns_follow_twilio() {
        assert!(matches_contains("+14155550100", "555"));
        assert!(matches_contains("+14155550100", "55*01"));
        assert!(matches_contains("+14155550100", "+1415"));
        assert!(!matches_contains("+14155550100", "+415"));
        assert!(matches_contains("+14155550100", "0100$"));
        assert!(!matches_contains("+14155550100", "0101$"));
        assert!(
            matches_contains("+18005550100", "JJJ"),
            "letters map to keypad digits (J=5)"
        );
    }

    #[test]
    fn pagination_tokens_walk_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let mut seen = Vec::new();
        let mut req = PageRequest::first(3);
        loop {
            let page = paginate(&items, &req).unwrap();
            seen.extend(page.items);
            match page.next {
                Some(t) => req = PageRequest::after(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(paginate(&items, &PageRequest::after(PageToken::new("garbage"))).is_err());
    }
}
