//! The provider-neutral [`Telephony`] trait and the domain types it speaks.
//!
//! Ids keep the provider's spelling (`PN…`, `RE…`, `CA…` for Twilio) because they are the keys webhooks
//! carry; everything else is ours, never a wire type.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::Result;

macro_rules! provider_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a provider id as given.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id as the provider spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

provider_id!(
    /// A provider account id (Twilio `AC` + 32 hex).
    AccountSid
);
provider_id!(
    /// One call leg (Twilio `CallSid`, `CA` + 32 hex). Stable across every callback of that leg.
    CallSid
);
provider_id!(
    /// One recording (Twilio `RecordingSid`, `RE` + 32 hex).
    RecordingSid
);
provider_id!(
    /// A phone number the account owns (Twilio `IncomingPhoneNumber` sid, `PN` + 32 hex).
    NumberSid
);

/// A phone number in E.164 form: `+`, country code, subscriber number; 2 to 15 digits in all.
///
/// This is a syntactic check only. Region-aware parsing of what callers *say* lives in `callbook-extract`,
/// which uses libphonenumber's data; numbers from the provider are already E.164.
///
/// ```
/// use callbook_telephony::telephony::E164;
/// let n: E164 = "+14155551234".parse().unwrap();
/// assert_eq!(n.as_str(), "+14155551234");
/// assert!("4155551234".parse::<E164>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(pub(crate) String);

impl E164 {
    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for E164 {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        let digits = s.strip_prefix('+').unwrap_or("");
        let valid = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::Error::InvalidInput {
                code: None,
                message: "not an E.164 phone number".into(),
            })
        }
    }
}
impl TryFrom<String> for E164 {
    type Error = crate::Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}
impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}
impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
/// Phone numbers are personal data: `Debug` shows only the last two digits.
impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "E164(+…{tail})")
    }
}

/// HTTP method a provider uses to call a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum HttpMethod {
    /// `GET`: parameters in the query string (fragile for signing; avoid).
    Get,
    /// `POST` with a form body (what Callbook configures).
    #[default]
    Post,
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Kind of number to search for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum NumberKind {
    /// A geographic number.
    #[default]
    Local,
    /// A toll-free number.
    TollFree,
    /// A mobile number.
    Mobile,
}

/// Filters for [`Telephony::search_available_numbers`]. Unset fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NumberSearch {
    /// ISO 3166-1 alpha-2 country, e.g. `US`.
    pub country: String,
    /// Local, toll-free or mobile.
    pub kind: NumberKind,
    /// Area code (US/CA only).
    pub area_code: Option<u16>,
    /// Pattern the number must contain (Twilio `Contains`: digits/letters, `*` one char, `%` a run).
    pub contains: Option<String>,
    /// Only numbers that can take voice calls.
    pub voice_enabled: Option<bool>,
    /// Only numbers that can take SMS.
    pub sms_enabled: Option<bool>,
    /// Postal code the number is in.
    pub in_postal_code: Option<String>,
    /// Region (state/province) the number is in.
    pub in_region: Option<String>,
    /// Locality (city) the number is in.
    pub in_locality: Option<String>,
    /// Find numbers near this one (E.164).
    pub near_number: Option<E164>,
    /// Exclude numbers that need any address on file.
    pub exclude_all_address_required: bool,
    /// At most this many results (provider caps apply).
    pub limit: Option<u32>,
}

impl NumberSearch {
    /// A search for local numbers in `country`.
    pub fn local(country: impl Into<String>) -> Self {
        Self {
            country: country.into(),
            kind: NumberKind::Local,
            ..Self::default()
        }
    }
    /// A search for toll-free numbers in `country`.
    pub fn toll_free(country: impl Into<String>) -> Self {
        Self {
            country: country.into(),
            kind: NumberKind::TollFree,
            ..Self::default()
        }
    }
    /// Restrict to an area code.
    pub fn with_area_code(mut self, area_code: u16) -> Self {
        self.area_code = Some(area_code);
        self
    }
    /// Restrict to numbers containing a pattern.
    pub fn with_contains(mut self, pattern: impl Into<String>) -> Self {
        self.contains = Some(pattern.into());
        self
    }
    /// Restrict to voice-capable numbers.
    pub fn with_voice_enabled(mut self, enabled: bool) -> Self {
        self.voice_enabled = Some(enabled);
        self
    }
    /// Restrict to a postal code.
    pub fn with_postal_code(mut self, postal_code: impl Into<String>) -> Self {
        self.in_postal_code = Some(postal_code.into());
        self
    }
    /// Restrict to a region (state/province).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.in_region = Some(region.into());
        self
    }
    /// At most `limit` results.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// What a number can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct NumberCapabilities {
    /// Voice calls.
    pub voice: bool,
    /// SMS.
    pub sms: bool,
    /// MMS.
    pub mms: bool,
    /// Fax.
    pub fax: bool,
}

/// A number offered for purchase.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AvailableNumber {
    /// The number.
    pub phone_number: E164,
    /// Provider's display form, e.g. `(415) 555-0100`.
    pub friendly_name: String,
    /// Locality (city), when known.
    pub locality: Option<String>,
    /// Region (state/province), when known.
    pub region: Option<String>,
    /// Postal code, when known.
    pub postal_code: Option<String>,
    /// ISO country code.
    pub iso_country: String,
    /// Whether the number needs an address on file (`none`, `any`, `local`, `foreign`).
    pub address_requirements: String,
    /// What it can do.
    pub capabilities: NumberCapabilities,
}

/// Where the provider sends a number's webhooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// URL asked for TwiML when a call arrives.
    pub voice_url: Option<String>,
    /// Method for `voice_url`.
    pub voice_method: HttpMethod,
    /// URL asked when `voice_url` fails.
    pub voice_fallback_url: Option<String>,
    /// Method for `voice_fallback_url`.
    pub voice_fallback_method: HttpMethod,
    /// URL told about call status changes.
    pub status_callback: Option<String>,
    /// Method for `status_callback`.
    pub status_callback_method: HttpMethod,
}

impl WebhookConfig {
    /// Callbook's layout: every webhook under `public_base_url` (no trailing slash) at the paths of
    /// DESIGN.md §5, all `POST`.
    ///
    /// ```
    /// # use callbook_telephony::telephony::WebhookConfig;
    /// let w = WebhookConfig::callbook("https://hooks.example.com");
    /// assert_eq!(w.voice_url.as_deref(), Some("https://hooks.example.com/webhooks/twilio/voice"));
    /// ```
    pub fn callbook(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            voice_url: Some(format!("{base}/webhooks/twilio/voice")),
            voice_method: HttpMethod::Post,
            voice_fallback_url: None,
            voice_fallback_method: HttpMethod::Post,
            status_callback: Some(format!("{base}/webhooks/twilio/status")),
            status_callback_method: HttpMethod::Post,
        }
    }
}

/// A number the account owns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OwnedNumber {
    /// Provider id (`PN…`).
    pub sid: NumberSid,
    /// Owning account (a sub-account for multi-tenant set-ups).
    pub account_sid: AccountSid,
    /// The number.
    pub phone_number: E164,
    /// Display name.
    pub friendly_name: String,
    /// Current webhook configuration.
    pub webhooks: WebhookConfig,
    /// What it can do.
    pub capabilities: NumberCapabilities,
    /// When it was bought.
    pub created_at: Option<DateTime<Utc>>,
}

/// What to buy in [`Telephony::purchase_number`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurchaseRequest {
    /// Exactly this number (from a search).
    pub phone_number: E164,
    /// Display name (≤ 64 characters).
    pub friendly_name: Option<String>,
    /// Webhooks to configure in the same request, so the number is never live without them.
    pub webhooks: WebhookConfig,
}

impl PurchaseRequest {
    /// Buy `phone_number` with no webhooks configured yet.
    pub fn new(phone_number: E164) -> Self {
        Self {
            phone_number,
            friendly_name: None,
            webhooks: WebhookConfig::default(),
        }
    }
    /// Set the display name.
    pub fn with_friendly_name(mut self, name: impl Into<String>) -> Self {
        self.friendly_name = Some(name.into());
        self
    }
    /// Configure webhooks as part of the purchase.
    pub fn with_webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = webhooks;
        self
    }
}

/// Opaque position in a paged listing; pass it back to get the next page.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageToken(pub(crate) String);

impl PageToken {
    /// Wraps a token (for backends outside this crate).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageToken(..)")
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the provider's order (oldest number first; newest recording first).
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageToken>,
}

/// Which page to fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageRequest {
    /// Items per page (provider default when `None`; Twilio caps at 1000).
    pub page_size: Option<u32>,
    /// Continue from a previous page.
    pub token: Option<PageToken>,
}

impl PageRequest {
    /// The first page, `size` items per page.
    pub fn first(size: u32) -> Self {
        Self {
            page_size: Some(size),
            token: None,
        }
    }
    /// The page after `token`.
    pub fn after(token: PageToken) -> Self {
        Self {
            page_size: None,
            token: Some(token),
        }
    }
}

/// Filter for listing recordings (reconciliation asks "what did I miss since …").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingFilter {
    /// Only this call's recordings.
    pub call_sid: Option<CallSid>,
    /// Only recordings created at or after this instant (day precision on Twilio).
    pub created_on_or_after: Option<DateTime<Utc>>,
}

/// Lifecycle of a recording at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordingStatus {
    /// Still recording.
    InProgress,
    /// Paused.
    Paused,
    /// Stopped, not yet processed.
    Stopped,
    /// Being processed; media not yet available.
    Processing,
    /// Media available for download.
    Completed,
    /// Nothing was recorded (too short or silent).
    Absent,
    /// Recording failed.
    Failed,
    /// Deleted at the provider.
    Deleted,
    /// A value this crate does not know yet.
    Other(String),
}

impl RecordingStatus {
    /// Parses the provider's spelling; unknown values are kept in [`RecordingStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "in-progress" => Self::InProgress,
            "paused" => Self::Paused,
            "stopped" => Self::Stopped,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "absent" => Self::Absent,
            "failed" => Self::Failed,
            "deleted" => Self::Deleted,
            other => Self::Other(other.to_owned()),
        }
    }
    /// The provider's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InProgress => "in-progress",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Absent => "absent",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
            Self::Other(s) => s,
        }
    }
}

/// Metadata of a recording.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordingInfo {
    /// Provider id (`RE…`).
    pub sid: RecordingSid,
    /// Owning account.
    pub account_sid: AccountSid,
    /// The call it belongs to (the parent leg for `<Dial>` recordings).
    pub call_sid: CallSid,
    /// Lifecycle state.
    pub status: RecordingStatus,
    /// Length in whole seconds, when known.
    pub duration_seconds: Option<u32>,
    /// 1 (mono) or 2 (dual: channel 1 = caller, channel 2 = the dialed party).
    pub channels: u8,
    /// How it was made (`RecordVerb`, `DialVerb`, …).
    pub source: Option<String>,
    /// When recording started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the resource was created.
    pub created_at: Option<DateTime<Utc>>,
    /// Provider error code (e.g. 16101 too short), when any.
    pub error_code: Option<u32>,
}

/// Audio container to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AudioFormat {
    /// PCM WAV (lossless; Twilio's default).
    #[default]
    Wav,
    /// MP3.
    Mp3,
}

impl AudioFormat {
    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
            AudioFormat::Mp3 => "mp3",
        }
    }
    /// MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Wav => "audio/x-wav",
            AudioFormat::Mp3 => "audio/mpeg",
        }
    }
}

/// Downloaded recording audio.
#[derive(Clone, PartialEq)]
pub struct RecordingMedia {
    /// The content type the provider sent.
    pub content_type: String,
    /// The audio bytes.
    pub bytes: Bytes,
}

impl fmt::Debug for RecordingMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingMedia")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Status of a call at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallStatus {
    /// Queued to be placed.
    Queued,
    /// Created (status callbacks only).
    Initiated,
    /// Ringing.
    Ringing,
    /// Answered and connected.
    InProgress,
    /// Ended normally after being connected; the only billed outcome.
    Completed,
    /// The other side was busy.
    Busy,
    /// Could not be placed.
    Failed,
    /// Nobody answered.
    NoAnswer,
    /// Cancelled before it was answered.
    Canceled,
    /// A value this crate does not know yet.
    Other(String),
}

impl CallStatus {
    /// Parses the provider's spelling; unknown values are kept in [`CallStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "initiated" => Self::Initiated,
            "ringing" => Self::Ringing,
            "in-progress" => Self::InProgress,
            "completed" => Self::Completed,
            "busy" => Self::Busy,
            "failed" => Self::Failed,
            "no-answer" => Self::NoAnswer,
            "canceled" => Self::Canceled,
            other => Self::Other(other.to_owned()),
        }
    }
    /// The provider's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::NoAnswer => "no-answer",
            Self::Canceled => "canceled",
            Self::Other(s) => s,
        }
    }
    /// Whether the call is over and will not change again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled
        )
    }
}

/// A call as the provider reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallInfo {
    /// Provider id (`CA…`).
    pub sid: CallSid,
    /// Owning account.
    pub account_sid: AccountSid,
    /// Caller as sent (`+1…`, `client:…`, `sip:…`, `anonymous`).
    pub from: String,
    /// Called number as sent.
    pub to: String,
    /// Status.
    pub status: CallStatus,
    /// `inbound`, `outbound-api`, `outbound-dial`.
    pub direction: String,
    /// When it was answered.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Billed length in seconds, once completed.
    pub duration_seconds: Option<u32>,
    /// Parent leg, for child legs.
    pub parent_call_sid: Option<CallSid>,
}

/// What a backend can do; differences are declared here, not guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Numbers can be searched and bought.
    pub buy_numbers: bool,
    /// Recording media can be deleted at the provider.
    pub delete_recordings: bool,
    /// Audio formats offered for download.
    pub mp3_download: bool,
}

/// A telephony provider: numbers, their webhook configuration, recordings and calls.
///
/// # Contract
/// Every backend guarantees:
/// * **Ids** are the provider's and are stable; a number, recording or call fetched twice has the same id.
/// * **Not found** is [`Error::NotFound`](crate::Error::NotFound), never an empty success; deleting or
///   releasing something already gone is `NotFound` too, so callers that want idempotency match on it.
/// * **Purchasing** a number that is not (or no longer) available is
///   [`Error::NumberUnavailable`](crate::Error::NumberUnavailable); a purchase is never retried by the backend,
///   because a retried POST can buy twice.
/// * **Reads are safe to retry**; transient failures say so through
///   [`Error::is_retryable`](crate::Error::is_retryable).
/// * **Recording media** is only available once the recording's status is `completed`; before that, and
///   after deletion, download fails with `NotFound`.
/// * **Listings** are complete when all pages are followed and contain each item once.
#[async_trait]
pub trait Telephony: Send + Sync + fmt::Debug + 'static {
    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Numbers on offer that match `search`.
    async fn search_available_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>>;

    /// Buys a number (never retried automatically).
    async fn purchase_number(&self, request: &PurchaseRequest) -> Result<OwnedNumber>;

    /// One owned number.
    async fn fetch_number(&self, sid: &NumberSid) -> Result<OwnedNumber>;

    /// Replaces a number's webhook configuration (unset URLs are cleared).
    async fn configure_number(&self, sid: &NumberSid, webhooks: &WebhookConfig) -> Result<OwnedNumber>;

    /// One page of owned numbers, oldest first.
    async fn list_numbers(&self, page: &PageRequest) -> Result<Page<OwnedNumber>>;

    /// Gives a number back to the provider.
    async fn release_number(&self, sid: &NumberSid) -> Result<()>;

    /// Metadata of one recording.
    async fn fetch_recording(&self, sid: &RecordingSid) -> Result<RecordingInfo>;

    /// One page of recordings matching `filter`, newest first.
    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page<RecordingInfo>>;

    /// Downloads a completed recording's audio.
    async fn download_recording(&self, sid: &RecordingSid, format: AudioFormat) -> Result<RecordingMedia>;

    /// Deletes a recording at the provider (limits retained personal data).
    async fn delete_recording(&self, sid: &RecordingSid) -> Result<()>;

    /// One call.
    async fn fetch_call(&self, sid: &CallSid) -> Result<CallInfo>;
}

/// Convenience operations built on [`Telephony`], available on every backend.
#[async_trait]
pub trait TelephonyExt: Telephony {
    /// Every owned number, following all pages.
    async fn list_all_numbers(&self) -> Result<Vec<OwnedNumber>> {
        let mut out = Vec::new();
        let mut request = PageRequest::first(1000);
        loop {
            let page = self.list_numbers(&request).await?;
            out.extend(page.items);
            match page.next {
                Some(token) => request = PageRequest::after(token),
                None => return Ok(out),
            }
        }
    }

    /// Every recording matching `filter`, following all pages.
    async fn list_all_recordings(&self, filter: &RecordingFilter) -> Result<Vec<RecordingInfo>> {
        let mut out = Vec::new();
        let mut request = PageRequest::first(1000);
        loop {
            let page = self.list_recordings(filter, &request).await?;
            out.extend(page.items);
            match page.next {
                Some(token) => request = PageRequest::after(token),
                None => return Ok(out),
            }
        }
    }

    /// The owned number with this E.164 value, if any.
    async fn find_owned_number(&self, phone_number: &E164) -> Result<Option<OwnedNumber>> {
        Ok(self
            .list_all_numbers()
            .await?
            .into_iter()
            .find(|n| &n.phone_number == phone_number))
    }
}

impl<T: Telephony + ?Sized> TelephonyExt for T {}

macro_rules! forward_telephony {
    ($ptr:ty) => {
        #[async_trait]
        impl<T: Telephony + ?Sized> Telephony for $ptr {
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn search_available_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>> {
                (**self).search_available_numbers(search).await
            }
            async fn purchase_number(&self, request: &PurchaseRequest) -> Result<OwnedNumber> {
                (**self).purchase_number(request).await
            }
            async fn fetch_number(&self, sid: &NumberSid) -> Result<OwnedNumber> {
                (**self).fetch_number(sid).await
            }
            async fn configure_number(
                &self,
                sid: &NumberSid,
                webhooks: &WebhookConfig,
            ) -> Result<OwnedNumber> {
                (**self).configure_number(sid, webhooks).await
            }
            async fn list_numbers(&self, page: &PageRequest) -> Result<Page<OwnedNumber>> {
                (**self).list_numbers(page).await
            }
            async fn release_number(&self, sid: &NumberSid) -> Result<()> {
                (**self).release_number(sid).await
            }
            async fn fetch_recording(&self, sid: &RecordingSid) -> Result<RecordingInfo> {
                (**self).fetch_recording(sid).await
            }
            async fn list_recordings(
                &self,
                filter: &RecordingFilter,
                page: &PageRequest,
            ) -> Result<Page<RecordingInfo>> {
                (**self).list_recordings(filter, page).await
            }
            async fn download_recording(
                &self,
                sid: &RecordingSid,
                format: AudioFormat,
            ) -> Result<RecordingMedia> {
                (**self).download_recording(sid, format).await
            }
            async fn delete_recording(&self, sid: &RecordingSid) -> Result<()> {
                (**self).delete_recording(sid).await
            }
            async fn fetch_call(&self, sid: &CallSid) -> Result<CallInfo> {
                (**self).fetch_call(sid).await
            }
        }
    };
}

forward_telephony!(Arc<T>);
forward_telephony!(Box<T>);

/// Compile-time proof that [`Telephony`] stays object-safe.
const _: Option<&dyn Telephony> = None;
