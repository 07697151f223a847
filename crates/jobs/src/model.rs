//! The domain: value types (phone numbers, money, addresses, zones) and the records the store keeps.
//!
//! Instants are `DateTime<Utc>` truncated to whole microseconds (the precision every backend keeps), local
//! times only ever appear together with an IANA zone, and money is integer minor units plus an ISO 4217 code.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, FieldError, Result};
use crate::ids::*;

/// Truncates an instant to whole microseconds, the precision all backends store.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(t)
}

/// The current instant, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    to_micros(Utc::now())
}

// ------------------------------------------------------------------------------------------------ values

/// A phone number in E.164 form (`+` then 7–15 digits, no leading zero), the only form the store keeps.
///
/// `Debug` shows only the last two digits: phone numbers are personal data and must not reach logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Validates a number already in E.164 form. Separators are **not** accepted here; use
    /// [`PhoneNumber::normalize`] for human input.
    pub fn parse(s: &str) -> Result<Self> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| Error::invalid("phone", "must start with +"))?;
        let ok = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                "phone",
                "not an E.164 number (+ and 7 to 15 digits)",
            ))
        }
    }

    /// Normalises human input: drops spaces, dots, dashes and parentheses; a bare 10-digit number or an 11-digit
    /// number starting with 1 is taken as North American (`+1…`), the only national plan assumed.
    pub fn normalize(s: &str) -> Result<Self> {
        let trimmed = s.trim();
        let plus = trimmed.starts_with('+') || trimmed.starts_with("00");
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        let e164 = if trimmed.starts_with("00") {
            format!("+{}", &digits[2.min(digits.len())..])
        } else if plus {
            format!("+{digits}")
        } else if digits.len() == 10 {
            format!("+1{digits}")
        } else if digits.len() == 11 && digits.starts_with('1') {
            format!("+{digits}")
        } else {
            return Err(Error::invalid("phone", "cannot tell the country of this number"));
        };
        if trimmed
            .chars()
            .any(|c| !(c.is_ascii_digit() || " +-.()".contains(c)))
        {
            return Err(Error::invalid(
                "phone",
                "contains characters that are not part of a number",
            ));
        }
        Self::parse(&e164)
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneNumber(+…{tail})")
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

/// An amount of money: integer minor units (cents) and an ISO 4217 currency code. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in the currency's minor unit (e.g. 8900 = USD 89.00). Negative amounts are rejected by the store.
    pub minor: i64,
    /// Three upper-case letters, e.g. `USD`.
    pub currency: String,
}

impl Money {
    /// A money value; validated when stored.
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Self {
            minor,
            currency: currency.into(),
        }
    }

    pub(crate) fn validate(&self, field: &'static str, errors: &mut Vec<FieldError>) {
        if self.minor < 0 {
            errors.push(FieldError::new(field, "must not be negative"));
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            errors.push(FieldError::new(
                field,
                "currency must be an ISO 4217 code like USD",
            ));
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Two minor digits covers the currencies the trades use; ISO 4217 exponents are not tabulated here.
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{} {sign}{}.{:02}", self.currency, abs / 100, abs % 100)
    }
}

/// A postal address as the caller gave it. All parts optional; [`Address::is_empty`] when nothing is known.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Street and number.
    pub line1: Option<String>,
    /// Apartment, suite, unit.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country (ISO code or name).
    pub country: Option<String>,
}

impl Address {
    /// True when no part is known.
    pub fn is_empty(&self) -> bool {
        self.parts().all(|p| p.is_none())
    }

    fn parts(&self) -> impl Iterator<Item = Option<&str>> {
        [
            &self.line1,
            &self.line2,
            &self.city,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
        .into_iter()
        .map(|p| p.as_deref().map(str::trim).filter(|s| !s.is_empty()))
    }

    /// One line, parts joined with `, ` (for calendars and search).
    pub fn one_line(&self) -> String {
        self.parts().flatten().collect::<Vec<_>>().join(", ")
    }
}

/// A validated IANA time zone name (`America/New_York`), stored as its name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(chrono_tz::UTC);

    /// Parses an IANA name.
    pub fn parse(name: &str) -> Result<Self> {
        name.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| Error::invalid("timezone", "not an IANA time zone name"))
    }

    /// The chrono-tz zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.0.name())
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl TryFrom<String> for TimeZone {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<TimeZone> for String {
    fn from(z: TimeZone) -> String {
        z.0.name().to_owned()
    }
}

/// Generates `as_str`/`FromStr`/`Display` for a text-stored enum.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        ///
        /// Ordered by declaration (so it can key a `BTreeMap`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored (snake_case) name.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid(stringify!($name), format!("unknown value `{s}`"))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// ------------------------------------------------------------------------------------------------ tenants

/// Opening hours for one weekday, in the tenant's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// Opening time, `HH:MM` local.
    pub open: chrono::NaiveTime,
    /// Closing time, `HH:MM` local.
    pub close: chrono::NaiveTime,
}

/// One business account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Business name.
    pub name: String,
    /// The business's zone: dates are resolved and displayed in it.
    pub timezone: TimeZone,
    /// Opening hours per weekday.
    pub business_hours: Vec<OpeningHours>,
    /// Free-form settings (notification preferences, vocabulary …), owned by the server.
    pub settings: Value,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
}

/// Input for [`crate::TenantStore::create_tenant`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    /// Business name (non-empty).
    pub name: String,
    /// IANA zone.
    pub timezone: TimeZone,
    /// Opening hours.
    pub business_hours: Vec<OpeningHours>,
    /// Settings document (`null` becomes `{}`).
    pub settings: Value,
}

impl NewTenant {
    /// A tenant with no hours and empty settings.
    pub fn new(name: impl Into<String>, timezone: TimeZone) -> Self {
        Self {
            name: name.into(),
            timezone,
            business_hours: Vec::new(),
            settings: Value::Object(Default::default()),
        }
    }
}

text_enum!(
    /// What a user may do.
    Role {
        /// Everything, including billing and deleting the tenant.
        Owner = "owner",
        /// Manage users, lines and settings.
        Admin = "admin",
        /// Work the board.
        Staff = "staff",
    }
);

/// A staff login. Hashing passwords is the server's job; the store keeps the hash it is given.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Login (unique per tenant, compared case-insensitively).
    pub login: String,
    /// Role.
    pub role: Role,
    /// Password hash (PHC string); never shown by `Debug` and never serialized (a `Json(user)` must not leak
    /// it), only read back from the store.
    #[serde(default, skip_serializing)]
    pub password_hash: Option<String>,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("role", &self.role)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

text_enum!(
    /// How the line's voice webhook answers.
    WebhookMode {
        /// Announcement then `<Record>` (voicemail style).
        Record = "record",
        /// Announcement then `<Dial record>` to staff.
        DialRecord = "dial_record",
    }
);

/// A provider number owned by a tenant.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneLine {
    /// Id.
    pub id: PhoneLineId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Provider name, e.g. `twilio`.
    pub provider: String,
    /// The number (unique per provider across all tenants).
    pub number: PhoneNumber,
    /// Provider account (Twilio `AccountSid`).
    pub provider_account_id: String,
    /// Provider's id of the number (Twilio `PN…`).
    pub provider_number_id: Option<String>,
    /// Provider credentials, **already encrypted** by the caller; opaque here. Never shown by `Debug`.
    pub credentials: Option<Vec<u8>>,
    /// How calls are answered.
    pub webhook_mode: WebhookMode,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for PhoneLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneLine")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("provider", &self.provider)
            .field("number", &self.number)
            .field("credentials", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("webhook_mode", &self.webhook_mode)
            .finish_non_exhaustive()
    }
}

/// Input for [`crate::TenantStore::add_phone_line`].
#[derive(Clone, PartialEq)]
pub struct NewPhoneLine {
    /// Provider name.
    pub provider: String,
    /// The number.
    pub number: PhoneNumber,
    /// Provider account id.
    pub provider_account_id: String,
    /// Provider number id.
    pub provider_number_id: Option<String>,
    /// Encrypted credentials blob.
    pub credentials: Option<Vec<u8>>,
    /// Webhook mode.
    pub webhook_mode: WebhookMode,
}

impl fmt::Debug for NewPhoneLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPhoneLine")
            .field("provider", &self.provider)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

// ------------------------------------------------------------------------------------------------ calls

text_enum!(
    /// Where a call is in the pipeline. See [`crate::CallStore`] and [`crate::WorkQueue`] for transitions.
    CallState {
        /// The voice webhook arrived; nothing else yet.
        Received = "received",
        /// The call ended; its recording is not ready yet.
        AwaitingRecording = "awaiting_recording",
        /// The recording is ready: a worker may claim the call.
        Queued = "queued",
        /// A worker holds (or held, if its lease expired) the call.
        Processing = "processing",
        /// Finished: at least one job was created.
        Done = "done",
        /// Finished: the call held no appointment (spam, empty, wrong number).
        NoAppointment = "no_appointment",
        /// Finished, but a person must look at it (low confidence, ambiguous date).
        NeedsReview = "needs_review",
        /// Gave up after too many failures; `last_error` says why.
        Dead = "dead",
    }
);

impl CallState {
    /// True for the states a worker never touches again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CallState::Done | CallState::NoAppointment | CallState::NeedsReview | CallState::Dead
        )
    }
}

/// The processing bookkeeping of a call (the pipeline's unit of work).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processing {
    /// State.
    pub state: CallState,
    /// The last checkpointed step name (opaque to the store, e.g. `transcribed`).
    pub step: Option<String>,
    /// Data saved with the checkpoint (opaque JSON).
    pub checkpoint: Option<Value>,
    /// Claims so far (a claim that is released without work does not count).
    pub attempts: i32,
    /// Not claimable before this instant (`None` = now).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// The lease's expiry; after it another worker may claim the call.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last failure (a short message without personal data).
    pub last_error: Option<String>,
}

/// The work queue at one instant, across all tenants: what [`WorkQueue::queue_stats`](crate::WorkQueue::queue_stats)
/// returns, for the queue-depth metric. Holds counts and one instant, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Calls per state; every [`CallState`] is present (0 when none), so `counts[&CallState::Queued]` never
    /// panics. [`QueueStats::count`] reads it too.
    pub counts: std::collections::BTreeMap<CallState, u64>,
    /// Calls that are due at the instant asked about: `Queued`, or `Processing` with an expired lease
    /// (`lease_until` absent or not after it), and `next_attempt_at` absent or not after it — what
    /// `claim_calls` would look at. An expired lease after `max_attempts` claims counts too (the next claim
    /// marks such a call `Dead` instead of taking it).
    pub due: u64,
    /// The smallest `coalesce(next_attempt_at, created_at)` among the due calls (how long the oldest one has
    /// been waiting); `None` when nothing is due.
    pub oldest_due_since: Option<DateTime<Utc>>,
}

impl QueueStats {
    /// The number of calls in `state`.
    pub fn count(&self, state: CallState) -> u64 {
        self.counts.get(&state).copied().unwrap_or(0)
    }
}

impl Default for QueueStats {
    /// No calls: every state at 0, nothing due.
    fn default() -> Self {
        Self {
            counts: CallState::ALL.iter().map(|s| (*s, 0)).collect(),
            due: 0,
            oldest_due_since: None,
        }
    }
}

/// The recording of a call, as far as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRef {
    /// Provider's recording id (Twilio `RE…`).
    pub provider_recording_id: String,
    /// Duration in seconds, when known.
    pub duration_seconds: Option<i64>,
    /// Where the encrypted audio lives in the recording store, once stored.
    pub storage_key: Option<String>,
}

/// One inbound call leg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Id.
    pub id: CallId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The line called, when known.
    pub phone_line_id: Option<PhoneLineId>,
    /// Provider name.
    pub provider: String,
    /// Provider's call id (Twilio `CallSid`), unique per tenant and provider.
    pub provider_call_id: String,
    /// Caller; `None` when withheld or not a phone number.
    pub from: Option<PhoneNumber>,
    /// Number called.
    pub to: Option<PhoneNumber>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// The provider's last call status (`ringing`, `completed` …).
    pub provider_status: String,
    /// The recording, once announced.
    pub recording: Option<RecordingRef>,
    /// The customer this call was attributed to.
    pub customer_id: Option<CustomerId>,
    /// Pipeline bookkeeping.
    pub processing: Processing,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Proof of one claim, for the [`crate::WorkQueue`] lease operations: the owner that claimed the call and
/// the claim's attempt number. A later claim of the same call (after this lease expired) has a higher
/// attempt number, so this lease is then lost even if the owner string is the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The claimer's owner string.
    pub owner: String,
    /// `processing.attempts` right after the claim.
    pub attempt: i32,
}

impl Lease {
    /// A lease from its parts (e.g. restored from a worker's own records).
    pub fn new(owner: impl Into<String>, attempt: i32) -> Self {
        Self {
            owner: owner.into(),
            attempt,
        }
    }
}

impl Call {
    /// The lease a claim just gave this call (`None` unless it is `Processing` with an owner).
    pub fn lease(&self) -> Option<Lease> {
        let p = &self.processing;
        match (&p.state, &p.lease_owner) {
            (CallState::Processing, Some(owner)) => Some(Lease::new(owner.clone(), p.attempts)),
            _ => None,
        }
    }
}

/// Input for [`crate::CallStore::record_call`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    /// Provider name.
    pub provider: String,
    /// Provider call id.
    pub provider_call_id: String,
    /// The line called.
    pub phone_line_id: Option<PhoneLineId>,
    /// Caller.
    pub from: Option<PhoneNumber>,
    /// Number called.
    pub to: Option<PhoneNumber>,
    /// Start instant.
    pub started_at: DateTime<Utc>,
    /// Provider status.
    pub provider_status: String,
}

/// A stored transcript: the transcriber's document (opaque JSON, already PII-redacted) plus summary columns.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTranscript {
    /// The call.
    pub call_id: CallId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The transcript document (text, segments …) as the transcribe crate serialises it.
    pub document: Value,
    /// Detected language (BCP 47).
    pub language: Option<String>,
    /// Overall confidence 0..1.
    pub confidence: Option<f64>,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: Option<String>,
    /// When stored (replaced on re-transcription).
    pub created_at: DateTime<Utc>,
}

/// A stored extraction: the extractor's document (opaque JSON) plus summary columns.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredExtraction {
    /// The call.
    pub call_id: CallId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The extraction document (DESIGN.md §5 shape).
    pub document: Value,
    /// `live`, `voicemail`, `spam` …
    pub call_kind: String,
    /// Number of appointments found.
    pub appointment_count: i32,
    /// Overall confidence 0..1.
    pub confidence: Option<f64>,
    /// Extractor name (`rules`, `openai`).
    pub extractor: String,
    /// Model, when an LLM was used.
    pub model: Option<String>,
    /// When stored (replaced on re-extraction).
    pub created_at: DateTime<Utc>,
}

/// A user's fix to an extracted field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    /// Id.
    pub id: CorrectionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The call whose extraction was corrected.
    pub call_id: CallId,
    /// The job the fix was made on, if any.
    pub job_id: Option<JobId>,
    /// Field path, e.g. `appointments[0].when`.
    pub field: String,
    /// The extracted value.
    pub before: Value,
    /// The corrected value.
    pub after: Value,
    /// Who corrected it.
    pub user_id: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Input for [`crate::CallStore::add_correction`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewCorrection {
    /// The call.
    pub call_id: CallId,
    /// The job, if any.
    pub job_id: Option<JobId>,
    /// Field path.
    pub field: String,
    /// Before.
    pub before: Value,
    /// After.
    pub after: Value,
    /// Who.
    pub user_id: Option<UserId>,
}

// ------------------------------------------------------------------------------------------------ customers

/// A deduplicated person or organisation.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Id.
    pub id: CustomerId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name (may be empty when only a number is known).
    pub name: String,
    /// Known numbers, first one primary, no duplicates.
    pub phones: Vec<PhoneNumber>,
    /// Service address.
    pub address: Address,
    /// Set when this customer was merged into another (see [`crate::CustomerStore::merge_customers`]).
    pub merged_into: Option<CustomerId>,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The customer part of an appointment, for [`crate::CustomerStore::find_or_create_customer`].
#[derive(Clone, Default, PartialEq)]
pub struct CustomerInput {
    /// Name as said.
    pub name: Option<String>,
    /// Phone in E.164.
    pub phone: Option<PhoneNumber>,
    /// Address.
    pub address: Address,
    /// The call this came from: linked to the customer.
    pub source_call: Option<CallId>,
}

/// Why a customer matched an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchReason {
    /// The input's phone is one of the customer's.
    pub same_phone: bool,
    /// The normalised addresses are equal.
    pub same_address: bool,
    /// Jaro-Winkler similarity of the normalised names, when both are known.
    pub name_similarity: Option<f64>,
}

impl fmt::Display for MatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.same_phone {
            parts.push("same phone".to_owned());
        }
        if self.same_address {
            parts.push("same address".to_owned());
        }
        match self.name_similarity {
            Some(s) => parts.push(format!("name similarity {s:.2}")),
            None => parts.push("name unknown".to_owned()),
        }
        f.write_str(&parts.join(", "))
    }
}

/// What [`crate::CustomerStore::find_or_create_customer`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CustomerResolution {
    /// An existing customer matched confidently.
    Matched {
        /// 0..1.
        score: f64,
        /// Why.
        reason: MatchReason,
    },
    /// A new customer was created (possibly with merge suggestions for ambiguous candidates).
    Created,
}

/// The result of find-or-create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerMatch {
    /// The customer now attributed to the input.
    pub customer: Customer,
    /// How it was found.
    pub resolution: CustomerResolution,
    /// Merge suggestions created for ambiguous candidates (never silently merged).
    pub suggestions: Vec<MergeSuggestion>,
}

text_enum!(
    /// Status of a merge suggestion.
    SuggestionStatus {
        /// Waiting for a person.
        Open = "open",
        /// Merged.
        Accepted = "accepted",
        /// Not the same customer.
        Dismissed = "dismissed",
    }
);

/// "These two customers may be the same", for a person to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeSuggestion {
    /// Id.
    pub id: MergeSuggestionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The newer customer (would be merged away).
    pub customer_id: CustomerId,
    /// The existing customer it resembles (would survive).
    pub candidate_id: CustomerId,
    /// 0..1.
    pub score: f64,
    /// Why.
    pub reason: MatchReason,
    /// Status.
    pub status: SuggestionStatus,
    /// When suggested.
    pub created_at: DateTime<Utc>,
}

/// A performed merge; undoable with [`crate::CustomerStore::undo_merge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerMerge {
    /// Id.
    pub id: MergeId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The customer that remains.
    pub survivor_id: CustomerId,
    /// The customer merged into it.
    pub merged_id: CustomerId,
    /// Who merged.
    pub actor: Actor,
    /// When merged.
    pub created_at: DateTime<Utc>,
    /// When undone, if it was.
    pub undone_at: Option<DateTime<Utc>>,
}

/// Everything a customer was involved in (including customers merged into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// Calls, newest first.
    pub calls: Vec<Call>,
    /// Jobs, newest first.
    pub jobs: Vec<Job>,
}

// ------------------------------------------------------------------------------------------------ jobs

text_enum!(
    /// A job's column on the board. The flow is Quote Requested → Quote Sent → Confirmed → In Progress →
    /// Completed; Cancelled is reachable from any stage. Any move is allowed (boards are dragged freely) and
    /// recorded in the stage history.
    Stage {
        /// New work, usually created from a call.
        QuoteRequested = "quote_requested",
        /// A quote went out.
        QuoteSent = "quote_sent",
        /// The customer agreed; scheduled.
        Confirmed = "confirmed",
        /// Someone is on it.
        InProgress = "in_progress",
        /// Done.
        Completed = "completed",
        /// Will not happen.
        Cancelled = "cancelled",
    }
);

impl Stage {
    /// True for stages whose jobs no longer occupy the calendar.
    pub fn is_closed(&self) -> bool {
        matches!(self, Stage::Completed | Stage::Cancelled)
    }
}

text_enum!(
    /// How urgent the caller said the work is.
    Urgency {
        /// Danger or damage now (gas, flooding).
        Emergency = "emergency",
        /// Soon.
        Urgent = "urgent",
        /// Normal.
        Normal = "normal",
        /// Whenever.
        Flexible = "flexible",
    }
);

/// Who did something: a user or a named system component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// A staff user.
    User(UserId),
    /// A system component, e.g. `pipeline`.
    System(String),
}

impl Actor {
    /// The pipeline worker.
    pub fn pipeline() -> Self {
        Actor::System("pipeline".into())
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::System(name) => write!(f, "system:{name}"),
        }
    }
}

impl FromStr for Actor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if let Some(id) = s.strip_prefix("user:") {
            id.parse()
                .map(Actor::User)
                .map_err(|_| Error::invalid("actor", "bad user id"))
        } else if let Some(name) = s.strip_prefix("system:") {
            Ok(Actor::System(name.to_owned()))
        } else {
            Err(Error::invalid("actor", "must be user:<id> or system:<name>"))
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Actor> for String {
    fn from(a: Actor) -> String {
        a.to_string()
    }
}

/// When a job happens: UTC instants plus the zone they were agreed in (for display, .ics and recurrence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Start.
    pub start: DateTime<Utc>,
    /// End (after start).
    pub end: DateTime<Utc>,
    /// The zone the times were agreed in.
    pub timezone: TimeZone,
}

/// Where a job came from, for idempotent creation: one job per (call, appointment index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobSource {
    /// The call.
    pub call_id: CallId,
    /// Index of the appointment within the call's extraction.
    pub appointment_index: i32,
}

/// A work order on the board.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The customer.
    pub customer_id: Option<CustomerId>,
    /// The call and appointment it was created from.
    pub source: Option<JobSource>,
    /// Short title (board card).
    pub title: String,
    /// What to do.
    pub description: String,
    /// Service address.
    pub address: Address,
    /// When.
    pub schedule: Option<Schedule>,
    /// RFC 5545 recurrence rule (`FREQ=MONTHLY;COUNT=12`), without the `RRULE:` prefix.
    pub recurrence: Option<String>,
    /// Quoted or agreed price.
    pub price: Option<Money>,
    /// Urgency.
    pub urgency: Urgency,
    /// Free-text notes from the call (gate codes …).
    pub notes: Option<String>,
    /// Board column.
    pub stage: Stage,
    /// Order within the column (ascending; ties by id).
    pub position: i64,
    /// Optimistic-concurrency version; starts at 1, +1 on every change.
    pub version: i64,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Input for [`crate::JobBoard::create_job`]. Created jobs start in [`Stage::QuoteRequested`] at the end of the
/// column.
#[derive(Clone, PartialEq)]
pub struct NewJob {
    /// The customer (must belong to the tenant).
    pub customer_id: Option<CustomerId>,
    /// Source call and appointment (the call must belong to the tenant). Creating twice with the same source
    /// returns the first job.
    pub source: Option<JobSource>,
    /// Title, 1–200 characters.
    pub title: String,
    /// Description.
    pub description: String,
    /// Address.
    pub address: Address,
    /// Scheduled start (needs `scheduled_end`).
    pub scheduled_start: Option<DateTime<Utc>>,
    /// Scheduled end (after start).
    pub scheduled_end: Option<DateTime<Utc>>,
    /// Zone; the tenant's when `None`.
    pub timezone: Option<TimeZone>,
    /// RRULE (needs a schedule).
    pub recurrence: Option<String>,
    /// Price.
    pub price: Option<Money>,
    /// Urgency.
    pub urgency: Urgency,
    /// Notes.
    pub notes: Option<String>,
    /// Reject with [`Error::DoubleBooked`](crate::Error) when the slot overlaps another open job.
    pub reject_double_booking: bool,
}

impl NewJob {
    /// A job with only a title.
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            customer_id: None,
            source: None,
            title: title.into(),
            description: String::new(),
            address: Address::default(),
            scheduled_start: None,
            scheduled_end: None,
            timezone: None,
            recurrence: None,
            price: None,
            urgency: Urgency::Normal,
            notes: None,
            reject_double_booking: false,
        }
    }
}

/// An edit of a job; `None` leaves a field unchanged, `Some(None)` clears an optional one.
#[derive(Clone, Default, PartialEq)]
pub struct JobPatch {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Address.
    pub address: Option<Address>,
    /// Schedule.
    pub schedule: Option<Option<Schedule>>,
    /// Recurrence.
    pub recurrence: Option<Option<String>>,
    /// Price.
    pub price: Option<Option<Money>>,
    /// Urgency.
    pub urgency: Option<Urgency>,
    /// Notes.
    pub notes: Option<Option<String>>,
    /// Customer.
    pub customer_id: Option<Option<CustomerId>>,
    /// Reject with [`Error::DoubleBooked`](crate::Error) when the patched job's schedule overlaps another open
    /// job (checked whenever set and the job has a schedule, like [`NewJob::reject_double_booking`]).
    pub reject_double_booking: bool,
}

/// One stage move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    /// The job.
    pub job_id: JobId,
    /// Previous stage (`None` for creation).
    pub from: Option<Stage>,
    /// New stage.
    pub to: Stage,
    /// Who moved it.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
}

/// A note on a job.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct JobNote {
    /// Id.
    pub id: NoteId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The job.
    pub job_id: JobId,
    /// Author.
    pub actor: Actor,
    /// Text.
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Metadata of a photo attached to a job; the bytes live in a blob store under `blob_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPhoto {
    /// Id.
    pub id: PhotoId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The job.
    pub job_id: JobId,
    /// Blob store key.
    pub blob_key: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Caption.
    pub caption: Option<String>,
    /// Uploader.
    pub actor: Actor,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Input for [`crate::JobBoard::add_photo`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewPhoto {
    /// Blob store key.
    pub blob_key: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Caption.
    pub caption: Option<String>,
}

/// Which jobs [`crate::JobBoard::list_jobs`] returns. All conditions combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Only this customer.
    pub customer_id: Option<CustomerId>,
    /// Only jobs whose schedule overlaps `[from, to)`; unscheduled jobs are excluded when either is set.
    pub scheduled_from: Option<DateTime<Utc>>,
    /// See `scheduled_from`.
    pub scheduled_to: Option<DateTime<Utc>>,
    /// Case-insensitive substring of title, description or notes.
    pub text: Option<String>,
}

/// A page request: at most `limit` items after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items to skip.
    pub offset: u32,
    /// Maximum items (1..=500; 0 is treated as 50).
    pub limit: u32,
}

impl Page {
    /// The first `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { offset: 0, limit }
    }

    pub(crate) fn limit(&self) -> i64 {
        match self.limit {
            0 => 50,
            n => n.min(500) as i64,
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(50)
    }
}

// ------------------------------------------------------------------------------------------------ activity

/// An audit-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Who.
    pub actor: Actor,
    /// What, e.g. `job.moved`.
    pub action: String,
    /// Affected record kind, e.g. `job`.
    pub entity: String,
    /// Affected record id.
    pub entity_id: String,
    /// Details (no personal data).
    pub details: Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// One usage counter of a tenant and period, as listed by
/// [`ActivityStore::list_usage`](crate::ActivityStore::list_usage) (the basis for billing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotal {
    /// The metric, e.g. `calls`, `audio_seconds`, `llm_tokens`.
    pub metric: String,
    /// Its total for the period.
    pub total: i64,
}

/// An event for staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Recipient; `None` = everyone in the tenant.
    pub user_id: Option<UserId>,
    /// Kind, e.g. `job.created`.
    pub kind: String,
    /// Payload for the UI.
    pub payload: Value,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When read.
    pub read_at: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------------------------------------------ accounts

/// A tenant's editable profile, for [`crate::AccountStore::update_tenant_profile`] (validated like
/// [`NewTenant`]: non-empty name, weekdays 1–7, opening before closing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantProfile {
    /// Business name (non-empty).
    pub name: String,
    /// IANA zone.
    pub timezone: TimeZone,
    /// Opening hours.
    pub business_hours: Vec<OpeningHours>,
}

/// The length of a credential hash the store accepts: SHA-256, 32 bytes.
pub const TOKEN_HASH_LEN: usize = 32;

/// Input for [`crate::AccountStore::create_session`]. `Debug` never shows the hash.
#[derive(Clone, PartialEq)]
pub struct NewSession {
    /// The user logging in (must belong to the tenant).
    pub user_id: UserId,
    /// SHA-256 of the cookie secret (32 bytes); the secret itself is never stored.
    pub token_hash: Vec<u8>,
    /// When the session ends unless touched (must be in the future).
    pub expires_at: DateTime<Utc>,
    /// The browser's `User-Agent`, for the user's list of sessions.
    pub user_agent: Option<String>,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("user_id", &self.user_id)
            .field("token_hash", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// A login session. Holds no credential: it is found by the hash of its cookie secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The logged-in user.
    pub user_id: UserId,
    /// Login instant.
    pub created_at: DateTime<Utc>,
    /// Last request seen (see [`crate::AccountStore::touch_session`]).
    pub last_seen_at: DateTime<Utc>,
    /// Expiry; the session is not found at or after it.
    pub expires_at: DateTime<Utc>,
    /// The browser's `User-Agent` at login.
    pub user_agent: Option<String>,
}

/// Input for [`crate::AccountStore::create_api_token`]. `Debug` never shows the hash.
#[derive(Clone, PartialEq)]
pub struct NewApiToken {
    /// A label for people (non-empty, at most 100 characters).
    pub name: String,
    /// The user who created it, if any (must belong to the tenant).
    pub user_id: Option<UserId>,
    /// What the token may do.
    pub role: Role,
    /// The token's visible beginning (at most 16 characters), to recognise it in lists.
    pub prefix: String,
    /// SHA-256 of the secret (32 bytes); the secret itself is never stored.
    pub token_hash: Vec<u8>,
}

impl fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiToken")
            .field("name", &self.name)
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .field("prefix", &self.prefix)
            .field("token_hash", &"<redacted>")
            .finish()
    }
}

/// An API token of one tenant. Holds no credential: it is found by the hash of its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Id.
    pub id: ApiTokenId,
    /// The tenant it is scoped to.
    pub tenant_id: TenantId,
    /// The user who created it, if any.
    pub user_id: Option<UserId>,
    /// Label.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its visible beginning.
    pub prefix: String,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last recorded use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked; a revoked token is never found by [`crate::AccountStore::find_api_token`].
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A change of a phone line for [`crate::AccountStore::update_phone_line`]: `None` leaves a field as it is,
/// `Some(None)` clears an optional one. `Debug` never shows the credentials.
#[derive(Clone, Default, PartialEq)]
pub struct PhoneLineUpdate {
    /// How calls are answered.
    pub webhook_mode: Option<WebhookMode>,
    /// The provider's id of the number.
    pub provider_number_id: Option<Option<String>>,
    /// Provider credentials, **already encrypted** by the caller.
    pub credentials: Option<Option<Vec<u8>>>,
}

impl fmt::Debug for PhoneLineUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneLineUpdate")
            .field("webhook_mode", &self.webhook_mode)
            .field("provider_number_id", &self.provider_number_id)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|c| c.as_ref().map(|_| "<redacted>")),
            )
            .finish()
    }
}

// ------------------------------------------------------------------------------------------------ privacy

/// Everything that belongs to one customer, from [`crate::PrivacyStore::customer_footprint`]: what an export
/// contains and what an erasure deletes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerFootprint {
    /// The customer and every customer merged into it (directly or through others), oldest first.
    pub customers: Vec<CustomerId>,
    /// Calls linked to any of them or whose caller number is one of their phones, oldest first (`started_at`,
    /// then id). Each carries its [`RecordingRef`], so the caller can delete the audio and the provider's copy.
    pub calls: Vec<Call>,
    /// Jobs of those customers or booked from those calls, oldest first (`created_at`, then id); their
    /// photos are listed with [`crate::JobBoard::list_photos`].
    pub jobs: Vec<Job>,
}

/// What an erasure deleted: rows per table (or kind), for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// Table (or kind) name → rows deleted. Tables with nothing deleted are left out.
    pub rows: std::collections::BTreeMap<String, u64>,
}

impl ErasureReport {
    /// Rows deleted in all tables.
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }

    /// Adds `n` deleted rows of `table` (nothing when `n` is 0).
    pub fn add(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.rows.entry(table.to_owned()).or_insert(0) += n;
        }
    }

    /// Rows deleted from `table`.
    pub fn count(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }
}

/// Which derived artefact [`crate::PrivacyStore::purge_call_artefacts`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeKind {
    /// Stored transcripts.
    Transcript,
    /// Stored extractions.
    Extraction,
}

// ------------------------------------------------------------------------------------------------ redaction

/// `Debug` of free text that may hold personal data (DESIGN §8): its length only.
struct TextLen<'a>(&'a str);

impl fmt::Debug for TextLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

fn text_len(s: &Option<String>) -> Option<TextLen<'_>> {
    s.as_deref().map(TextLen)
}

/// `Debug` of a JSON document that may hold personal data: its kind and size only.
struct DocShape<'a>(&'a Value);

impl fmt::Debug for DocShape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Object(m) => write!(f, "<object, {} keys>", m.len()),
            Value::Array(a) => write!(f, "<array, {} items>", a.len()),
            Value::String(s) => write!(f, "<string, {} chars>", s.chars().count()),
            Value::Null => f.write_str("<null>"),
            _ => f.write_str("<scalar>"),
        }
    }
}

/// Shows how many address parts are known, never their text.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = self.parts().filter(Option::is_some).count();
        write!(f, "Address(<{known} parts>)")
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &TextLen(&self.name))
            .field("phones", &self.phones)
            .field("address", &self.address)
            .field("merged_into", &self.merged_into)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Debug for CustomerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerInput")
            .field("name", &text_len(&self.name))
            .field("phone", &self.phone)
            .field("address", &self.address)
            .field("source_call", &self.source_call)
            .finish()
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("customer_id", &self.customer_id)
            .field("source", &self.source)
            .field("title", &TextLen(&self.title))
            .field("description", &TextLen(&self.description))
            .field("address", &self.address)
            .field("schedule", &self.schedule)
            .field("recurrence", &self.recurrence)
            .field("price", &self.price)
            .field("urgency", &self.urgency)
            .field("notes", &text_len(&self.notes))
            .field("stage", &self.stage)
            .field("position", &self.position)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Debug for NewJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewJob")
            .field("customer_id", &self.customer_id)
            .field("source", &self.source)
            .field("title", &TextLen(&self.title))
            .field("description", &TextLen(&self.description))
            .field("address", &self.address)
            .field("scheduled_start", &self.scheduled_start)
            .field("scheduled_end", &self.scheduled_end)
            .field("timezone", &self.timezone)
            .field("recurrence", &self.recurrence)
            .field("price", &self.price)
            .field("urgency", &self.urgency)
            .field("notes", &text_len(&self.notes))
            .field("reject_double_booking", &self.reject_double_booking)
            .finish()
    }
}

impl fmt::Debug for JobPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobPatch")
            .field("title", &text_len(&self.title))
            .field("description", &text_len(&self.description))
            .field("address", &self.address)
            .field("schedule", &self.schedule)
            .field("recurrence", &self.recurrence)
            .field("price", &self.price)
            .field("urgency", &self.urgency)
            .field("notes", &self.notes.as_ref().map(text_len))
            .field("customer_id", &self.customer_id)
            .field("reject_double_booking", &self.reject_double_booking)
            .finish()
    }
}

impl fmt::Debug for JobNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobNote")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("job_id", &self.job_id)
            .field("actor", &self.actor)
            .field("body", &TextLen(&self.body))
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl fmt::Debug for StoredTranscript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTranscript")
            .field("call_id", &self.call_id)
            .field("tenant_id", &self.tenant_id)
            .field("document", &DocShape(&self.document))
            .field("language", &self.language)
            .field("confidence", &self.confidence)
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl fmt::Debug for StoredExtraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredExtraction")
            .field("call_id", &self.call_id)
            .field("tenant_id", &self.tenant_id)
            .field("document", &DocShape(&self.document))
            .field("call_kind", &self.call_kind)
            .field("appointment_count", &self.appointment_count)
            .field("confidence", &self.confidence)
            .field("extractor", &self.extractor)
            .field("model", &self.model)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_is_strict() {
        assert!(PhoneNumber::parse("+14155551234").is_ok());
        for bad in [
            "14155551234",
            "+0415555",
            "+1 415 555 1234",
            "+123456",
            "+1234567890123456",
            "+",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalize_handles_us_formats_and_rejects_junk() {
        for ok in [
            "(415) 555-1234",
            "415.555.1234",
            "1 415 555 1234",
            "+1 415-555-1234",
        ] {
            assert_eq!(
                PhoneNumber::normalize(ok).unwrap().as_str(),
                "+14155551234",
                "{ok}"
            );
        }
        assert_eq!(
            PhoneNumber::normalize("0044 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert!(PhoneNumber::normalize("555-1234").is_err());
        assert!(PhoneNumber::normalize("call 4155551234").is_err());
    }

    #[test]
    fn debug_never_prints_personal_data() {
        let address = Address {
            line1: Some("42 Oak Street".into()),
            city: Some("Yonkers".into()),
            ..Address::default()
        };
        let input = CustomerInput {
            name: Some("Maria Lopez".into()),
            phone: Some(PhoneNumber::parse("+19145552177").unwrap()),
            address: address.clone(),
            source_call: None,
        };
        let mut job = NewJob::titled("Fix Maria's sink");
        job.description = "Leak under the sink".into();
        job.notes = Some("gate code 4711".into());
        job.address = address.clone();
        let patch = JobPatch {
            title: Some("Maria again".into()),
            notes: Some(Some("gate code 4711".into())),
            address: Some(address.clone()),
            ..JobPatch::default()
        };
        let now = now();
        let stored = Job {
            id: JobId::new(),
            tenant_id: TenantId::new(),
            customer_id: None,
            source: None,
            title: job.title.clone(),
            description: job.description.clone(),
            address: address.clone(),
            schedule: None,
            recurrence: None,
            price: None,
            urgency: Urgency::Normal,
            notes: job.notes.clone(),
            stage: Stage::QuoteRequested,
            position: 1,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let customer = Customer {
            id: CustomerId::new(),
            tenant_id: stored.tenant_id,
            name: "Maria Lopez".into(),
            phones: vec![PhoneNumber::parse("+19145552177").unwrap()],
            address: address.clone(),
            merged_into: None,
            created_at: now,
            updated_at: now,
        };
        let note = JobNote {
            id: NoteId::new(),
            tenant_id: stored.tenant_id,
            job_id: stored.id,
            actor: Actor::pipeline(),
            body: "Maria prefers mornings".into(),
            created_at: now,
        };
        let doc = serde_json::json!({"text": "Hi, this is Maria Lopez at 42 Oak Street"});
        let transcript = StoredTranscript {
            call_id: CallId::new(),
            tenant_id: stored.tenant_id,
            document: doc.clone(),
            language: Some("en".into()),
            confidence: Some(0.9),
            provider: "whisper".into(),
            model: None,
            created_at: now,
        };
        let extraction = StoredExtraction {
            call_id: transcript.call_id,
            tenant_id: stored.tenant_id,
            document: doc,
            call_kind: "live".into(),
            appointment_count: 1,
            confidence: None,
            extractor: "rules".into(),
            model: None,
            created_at: now,
        };
        let printed = [
            format!("{address:?}"),
            format!("{input:?}"),
            format!("{job:?}"),
            format!("{stored:?}"),
            format!("{customer:?}"),
            format!("{note:?}"),
            format!("{transcript:?}"),
            format!("{extraction:?}"),
            format!("{patch:?}"),
        ];
        for text in &printed {
            for secret in ["Maria", "Oak", "Yonkers", "5552177", "4711", "Leak", "mornings"] {
                assert!(!text.contains(secret), "{secret} leaked in {text}");
            }
        }
        assert_eq!(printed[0], "Address(<2 parts>)");
        assert!(printed[3].contains(&format!("{:?}", stored.id)), "{}", printed[3]);
        assert!(printed[3].contains("title: <16 chars>"), "{}", printed[3]);
        assert!(printed[6].contains("<object, 1 keys>"), "{}", printed[6]);
    }

    #[test]
    fn phone_debug_is_redacted() {
        let p = PhoneNumber::parse("+14155551234").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+…34)");
    }

    #[test]
    fn money_formats_and_validates() {
        assert_eq!(Money::new(8900, "USD").to_string(), "USD 89.00");
        let mut errors = Vec::new();
        Money::new(-1, "usd").validate("price", &mut errors);
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn actor_round_trips() {
        let u = Actor::User(UserId::new());
        assert_eq!(u.to_string().parse::<Actor>().unwrap(), u);
        assert_eq!("system:pipeline".parse::<Actor>().unwrap(), Actor::pipeline());
        assert!("bob".parse::<Actor>().is_err());
    }

    #[test]
    fn stages_round_trip() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>().unwrap(), *s);
        }
        assert!("done".parse::<Stage>().is_err());
    }
}
