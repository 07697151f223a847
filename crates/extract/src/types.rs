//! Input and output types: the transcript and call context going in, the [`Extraction`] coming out.
//!
//! The output types serialise exactly to the extraction JSON of DESIGN.md §5: an unknown field is `null`, never an
//! object with a null value.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::datetime::WeekdayPolicy;

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The person calling the business (the customer).
    Caller,
    /// The business: a receptionist, dispatcher, answering service or an AI agent.
    Agent,
    /// Not known (a single-channel recording without diarisation).
    Unknown,
}

/// One speaker turn of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Who spoke.
    pub speaker: Speaker,
    /// What they said.
    pub text: String,
}

/// A timed piece of a transcript as a recogniser returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, in seconds from the beginning of the recording.
    pub start: f64,
    /// End, in seconds from the beginning of the recording.
    pub end: f64,
    /// The text of the segment.
    pub text: String,
    /// Recogniser confidence in `[0, 1]`, when it reported one.
    pub confidence: Option<f64>,
}

/// The transcript of one call: its text, and speaker turns and segments when the transcriber provides them.
///
/// When no turns are given, [`Transcript::turns`] derives them from `Agent:` / `Caller:` / `Customer:` line labels,
/// and falls back to one turn of [`Speaker::Unknown`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The full text.
    pub text: String,
    /// Speaker turns, in order (empty when unknown).
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// Timed segments, in order (empty when unknown).
    #[serde(default)]
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// A transcript from plain text (speaker labels such as `Agent:` at line starts are recognised).
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            turns: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// Sets explicit speaker turns (they win over labels in the text).
    #[must_use]
    pub fn with_turns(mut self, turns: Vec<Turn>) -> Self {
        self.turns = turns;
        self
    }

    /// Sets recogniser segments.
    #[must_use]
    pub fn with_segments(mut self, segments: Vec<Segment>) -> Self {
        self.segments = segments;
        self
    }

    /// The speaker turns: the explicit ones, else those labelled in the text, else the whole text as one
    /// [`Speaker::Unknown`] turn. Empty lines are skipped.
    pub fn turns(&self) -> Vec<Turn> {
        if !self.turns.is_empty() {
            return self.turns.clone();
        }
        let mut turns: Vec<Turn> = Vec::new();
        let mut any_label = false;
        for line in self.text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match split_label(line) {
                Some((speaker, rest)) => {
                    any_label = true;
                    turns.push(Turn {
                        speaker,
                        text: rest.trim().to_owned(),
                    });
                }
                None => match turns.last_mut() {
                    Some(last) if any_label => {
                        last.text.push(' ');
                        last.text.push_str(line);
                    }
                    _ => turns.push(Turn {
                        speaker: Speaker::Unknown,
                        text: line.to_owned(),
                    }),
                },
            }
        }
        if !any_label && turns.len() > 1 {
            let text = turns
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            return vec![Turn {
                speaker: Speaker::Unknown,
                text,
            }];
        }
        turns
    }
}

/// Recognises a speaker label at the start of a line.
fn split_label(line: &str) -> Option<(Speaker, &str)> {
    let (label, rest) = line.split_once(':')?;
    let speaker = match label.trim().to_ascii_lowercase().as_str() {
        "caller" | "customer" | "user" | "client" | "patient" => Speaker::Caller,
        "agent" | "receptionist" | "dispatcher" | "assistant" | "operator" | "business" | "system"
        | "wizard" => Speaker::Agent,
        "speaker" | "unknown" => Speaker::Unknown,
        _ => return None,
    };
    Some((speaker, rest))
}

/// The business that received the call. Its own phone numbers and address are **distractors**: they are never
/// returned as the customer's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessProfile {
    /// Trading name.
    pub name: String,
    /// Services offered, in the trade's words ("drain cleaning", "furnace repair").
    #[serde(default)]
    pub services: Vec<String>,
    /// The business's own phone numbers (any format; E.164 preferred).
    #[serde(default)]
    pub phone_numbers: Vec<String>,
    /// The business's own addresses (free text; the first line is what matters).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// What the business already knows about the caller (a returning customer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownCustomer {
    /// The customer's name on file.
    pub name: Option<String>,
    /// The customer's phone numbers on file (E.164).
    #[serde(default)]
    pub phone_numbers: Vec<String>,
    /// The customer's service addresses on file (first lines).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// Everything about a call except its words: when it started, where the business is, who it is, who called.
#[derive(Debug, Clone, PartialEq)]
pub struct CallContext {
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// The business's IANA time zone: dates and times are resolved and written in it.
    pub timezone: Tz,
    /// The business.
    pub business: BusinessProfile,
    /// Caller ID in E.164, when the carrier sent one.
    pub caller_id: Option<String>,
    /// The customer on file, when the caller ID matched one.
    pub known_customer: Option<KnownCustomer>,
    /// How "next Tuesday" is read (a per-business setting).
    pub weekday_policy: WeekdayPolicy,
    /// ISO 3166 region used for phone numbers said without a country code (default: derived from the zone).
    pub phone_region: Option<String>,
}

impl CallContext {
    /// A context with an empty business profile, no caller ID and the default weekday policy.
    pub fn new(started_at: DateTime<Utc>, timezone: Tz) -> Self {
        Self {
            started_at,
            timezone,
            business: BusinessProfile::default(),
            caller_id: None,
            known_customer: None,
            weekday_policy: WeekdayPolicy::default(),
            phone_region: None,
        }
    }

    /// Sets the business profile.
    #[must_use]
    pub fn with_business(mut self, business: BusinessProfile) -> Self {
        self.business = business;
        self
    }

    /// Sets the caller ID (E.164).
    #[must_use]
    pub fn with_caller_id(mut self, caller_id: impl Into<String>) -> Self {
        self.caller_id = Some(caller_id.into());
        self
    }

    /// Sets the known customer.
    #[must_use]
    pub fn with_known_customer(mut self, customer: KnownCustomer) -> Self {
        self.known_customer = Some(customer);
        self
    }

    /// Sets the "next weekday" policy.
    #[must_use]
    pub fn with_weekday_policy(mut self, policy: WeekdayPolicy) -> Self {
        self.weekday_policy = policy;
        self
    }

    /// Sets the default phone region (ISO 3166 alpha-2, e.g. `US`, `GB`, `AU`).
    #[must_use]
    pub fn with_phone_region(mut self, region: impl Into<String>) -> Self {
        self.phone_region = Some(region.into());
        self
    }

    /// The region for phone numbers said without a country code: the explicit one, else one derived from the zone.
    pub fn effective_phone_region(&self) -> String {
        if let Some(region) = &self.phone_region {
            return region.to_ascii_uppercase();
        }
        region_for_zone(self.timezone).to_owned()
    }

    /// The currency of prices said in this business's calls (from the zone).
    pub fn currency(&self) -> &'static str {
        match region_for_zone(self.timezone) {
            "GB" => "GBP",
            "AU" => "AUD",
            "CA" => "CAD",
            "NZ" => "NZD",
            "IE" | "DE" | "FR" | "ES" | "IT" | "NL" => "EUR",
            _ => "USD",
        }
    }
}

/// A best guess of the country of an IANA zone, for phone numbers and currency.
fn region_for_zone(tz: Tz) -> &'static str {
    let name = tz.name();
    match name {
        "America/Toronto" | "America/Vancouver" | "America/Edmonton" | "America/Winnipeg"
        | "America/Halifax" | "America/St_Johns" | "America/Regina" | "America/Montreal" => "CA",
        "Europe/London" => "GB",
        "Europe/Dublin" => "IE",
        "Pacific/Auckland" => "NZ",
        _ if name.starts_with("Australia/") => "AU",
        _ => "US",
    }
}

/// What kind of call this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A conversation between the caller and the business.
    Live,
    /// A message left by the caller (one monologue).
    Voicemail,
    /// A robocall, sales or scam call.
    Spam,
    /// The caller meant to reach someone else.
    WrongNumber,
    /// Silence or no usable words.
    Empty,
    /// Could not tell.
    Unknown,
}

/// One extracted value with its confidence in `[0, 1]` and the transcript text that supports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field<T> {
    /// The value.
    pub value: T,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
    /// The transcript span the value was taken from.
    pub evidence: String,
}

impl<T> Field<T> {
    /// A field.
    pub fn new(value: T, confidence: f64, evidence: impl Into<String>) -> Self {
        Self {
            value,
            confidence,
            evidence: evidence.into(),
        }
    }
}

/// A postal address (where the work is done).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Number and street ("42 Oak Street"), or a description of a place.
    pub line1: String,
    /// Unit, apartment, suite, flat or floor ("Apt 3B").
    pub line2: Option<String>,
    /// City, when said.
    pub city: Option<String>,
    /// State, province or county, when said.
    pub region: Option<String>,
    /// ZIP or postcode, when said.
    pub postal_code: Option<String>,
    /// Country, when said.
    pub country: Option<String>,
}

/// When the appointment is, resolved in the business's zone. See DESIGN.md §5 for which parts are set when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    /// The local date, whenever a day is known.
    pub date: Option<NaiveDate>,
    /// The local start time (`HH:MM`), whenever a time of day is known.
    #[serde(serialize_with = "ser_hhmm", deserialize_with = "de_hhmm")]
    pub time: Option<NaiveTime>,
    /// Start instant with the zone's offset, when both day and time are known.
    pub start: Option<DateTime<FixedOffset>>,
    /// End instant of a window, when both day and an end time are known.
    pub end: Option<DateTime<FixedOffset>>,
    /// The caller said timing does not matter ("any time next week").
    pub flexible: bool,
    /// More than one reading is plausible (see [`crate::datetime::Ambiguity`]).
    pub ambiguous: bool,
}

fn ser_hhmm<S: Serializer>(time: &Option<NaiveTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => serializer.serialize_str(&t.format("%H:%M").to_string()),
        None => serializer.serialize_none(),
    }
}

fn de_hhmm<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveTime>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text {
        None => Ok(None),
        Some(text) => NaiveTime::parse_from_str(&text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The `when` field: the resolved value plus the caller's phrase it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhenField {
    /// The resolved date and time.
    pub value: When,
    /// The words that carry the date/time, as said.
    pub phrase: String,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
    /// The transcript span the value was taken from.
    pub evidence: String,
}

/// What a price is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    /// The business's price for the work (flat price, hourly rate, total).
    Quote,
    /// The caller's ceiling or target.
    Budget,
    /// A charge for the visit itself (service call, diagnostic, call-out).
    Fee,
}

/// An amount of money in minor units (cents), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money(pub i64);

impl Money {
    /// From whole units and cents.
    pub fn from_major_minor(major: i64, minor: i64) -> Self {
        Self(major * 100 + minor)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(serde::de::Error::custom("amount must be a decimal string")),
        };
        parse_money(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid amount {text:?}")))
    }
}

/// Parses "89", "89.5", "89.00" into [`Money`].
pub(crate) fn parse_money(text: &str) -> Option<Money> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (major, minor) = match text.split_once('.') {
        Some((major, minor)) => (major, minor),
        None => (text, ""),
    };
    if major.is_empty()
        || !major.bytes().all(|b| b.is_ascii_digit())
        || !minor.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let major: i64 = major.parse().ok()?;
    let minor: i64 = match minor.len() {
        0 => 0,
        1 => minor.parse::<i64>().ok()? * 10,
        _ => minor.get(..2)?.parse().ok()?,
    };
    let cents = major.checked_mul(100)?.checked_add(minor)?;
    Some(Money(if negative { -cents } else { cents }))
}

/// A price mentioned for the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// The amount, written as a decimal string ("89.00").
    pub amount: Money,
    /// ISO 4217 currency code.
    pub currency: String,
    /// What the amount is.
    pub kind: PriceKind,
}

/// How soon the job must happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Danger or damage happening now (gas smell, burst pipe, sparking, no heat in freezing weather).
    Emergency,
    /// Within about a day, but contained (no hot water, AC out).
    Urgent,
    /// Everything else.
    Normal,
    /// The caller says timing does not matter.
    Flexible,
}

/// One requested visit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// The customer's name.
    pub customer_name: Option<Field<String>>,
    /// The customer's phone number in E.164.
    pub customer_phone: Option<Field<String>>,
    /// Where the work is done.
    pub service_address: Option<Field<Address>>,
    /// When.
    pub when: Option<WhenField>,
    /// The job in the trade's words.
    pub job_description: Option<Field<String>>,
    /// A price that was stated.
    pub price: Option<Field<Price>>,
    /// How urgent.
    pub urgency: Option<Field<Urgency>>,
    /// Access and site facts (gate codes, pets, parking…).
    pub notes: Option<Field<String>>,
}

/// Which extractor produced an extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractorInfo {
    /// `rules`, `openai`, `fake`…
    pub name: String,
    /// The model, for model-backed extractors.
    pub model: Option<String>,
    /// The extractor's version (the crate version for built-in ones).
    pub version: String,
}

impl ExtractorInfo {
    /// Identity of a built-in extractor (version = this crate's version).
    pub fn builtin(name: &str, model: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            model,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The extractor's output for one call (DESIGN.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    /// What kind of call it was.
    pub call_kind: CallKind,
    /// The requested visits, in the order they were made (empty when there is none).
    pub appointments: Vec<Appointment>,
    /// Overall confidence in `[0, 1]`.
    pub confidence: f64,
    /// Which extractor produced it.
    pub extractor: ExtractorInfo,
    /// Model tokens this extraction used (for metering), when the extractor calls a model. Never serialised:
    /// the JSON contract of DESIGN.md §5 is unchanged.
    #[serde(skip)]
    pub usage: Option<TokenUsage>,
}

/// Model tokens used by one extraction (prompt and completion, summed over a repair attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
}

impl TokenUsage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

impl Extraction {
    /// An extraction without appointments.
    pub fn empty(call_kind: CallKind, confidence: f64, extractor: ExtractorInfo) -> Self {
        Self {
            call_kind,
            appointments: Vec::new(),
            confidence,
            extractor,
            usage: None,
        }
    }

    /// Whether the call asked for or booked at least one visit.
    pub fn has_appointment(&self) -> bool {
        !self.appointments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_from_labels() {
        let t = Transcript::new("Agent: Hello.\nCustomer: Hi\nthere\n\nCaller: bye");
        let turns = t.turns();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[0].speaker, Speaker::Agent);
        assert_eq!(
            turns[1],
            Turn {
                speaker: Speaker::Caller,
                text: "Hi there".into()
            }
        );
        assert_eq!(turns[2].text, "bye");
    }

    #[test]
    fn unlabelled_text_is_one_unknown_turn() {
        let turns = Transcript::new("hello this is\nmaria").turns();
        assert_eq!(
            turns,
            vec![Turn {
                speaker: Speaker::Unknown,
                text: "hello this is maria".into()
            }]
        );
    }

    #[test]
    fn money_round_trip() {
        assert_eq!(parse_money("89"), Some(Money(8900)));
        assert_eq!(parse_money("89.5"), Some(Money(8950)));
        assert_eq!(parse_money("0.05").map(|m| m.to_string()), Some("0.05".into()));
        assert_eq!(parse_money("x"), None);
        assert_eq!(Money(8900).to_string(), "89.00");
        assert_eq!(Money(-5).to_string(), "-0.05");
    }

    #[test]
    fn zones_give_regions_and_currencies() {
        let ctx = CallContext::new(Utc::now(), chrono_tz::Europe::London);
        assert_eq!(ctx.effective_phone_region(), "GB");
        assert_eq!(ctx.currency(), "GBP");
        let ctx = CallContext::new(Utc::now(), chrono_tz::America::Toronto);
        assert_eq!(ctx.currency(), "CAD");
        let ctx = CallContext::new(Utc::now(), chrono_tz::Australia::Sydney);
        assert_eq!(ctx.effective_phone_region(), "AU");
    }
}
