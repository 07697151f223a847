//! Typed Twilio voice webhooks: incoming call, call status, recording status, `<Record>` and `<Dial>` actions.
//!
//! Parse a webhook only **after** its signature verified ([`crate::signature`]). Parsing is lenient where
//! Twilio is known to drift (unknown parameters are kept in `extra`, unknown enum values become `Other`,
//! empty strings are "absent") and strict where a value is needed to act (a missing `CallSid` is an error
//! naming the field).
//!
//! ```
//! use callbook_telephony::events::RecordingStatusEvent;
//! use callbook_telephony::telephony::RecordingStatus;
//! let body = b"AccountSid=AC00000000000000000000000000000001&CallSid=CA00000000000000000000000000000002\
//!     &RecordingSid=RE00000000000000000000000000000003&RecordingStatus=completed&RecordingDuration=42\
//!     &RecordingChannels=1&RecordingSource=RecordVerb&NewParam=kept";
//! let event = RecordingStatusEvent::parse(body).unwrap();
//! assert_eq!(event.status, RecordingStatus::Completed);
//! assert_eq!(event.duration_seconds, Some(42));
//! assert_eq!(event.extra.get("NewParam"), Some("kept"));
//! ```

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::form::FormParams;
use crate::telephony::{AccountSid, CallSid, CallStatus, RecordingSid, RecordingStatus};

/// A webhook body that cannot be used: a required field is missing or a value is not what Twilio documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {problem}")]
pub struct MalformedWebhook {
    /// The parameter name, as Twilio spells it.
    pub field: &'static str,
    /// What is wrong (never the value itself, which may be personal data).
    pub problem: &'static str,
}

impl MalformedWebhook {
    fn missing(field: &'static str) -> Self {
        Self {
            field,
            problem: "missing",
        }
    }
    fn invalid(field: &'static str, problem: &'static str) -> Self {
        Self { field, problem }
    }
}

/// Reads parameters and remembers which were used, so the rest can be kept as `extra`.
struct Reader<'a> {
    params: &'a FormParams,
    used: HashSet<&'static str>,
}

impl<'a> Reader<'a> {
    fn new(params: &'a FormParams) -> Self {
        Self {
            params,
            used: HashSet::new(),
        }
    }

    /// A present, non-empty value.
    fn opt(&mut self, name: &'static str) -> Option<String> {
        self.used.insert(name);
        self.params.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn req(&mut self, name: &'static str) -> Result<String, MalformedWebhook> {
        self.opt(name).ok_or(MalformedWebhook::missing(name))
    }

    fn sid(&mut self, name: &'static str, prefix: &str) -> Result<String, MalformedWebhook> {
        let v = self.req(name)?;
        check_sid(name, &v, prefix)?;
        Ok(v)
    }

    fn opt_sid(&mut self, name: &'static str, prefix: &str) -> Result<Option<String>, MalformedWebhook> {
        match self.opt(name) {
            Some(v) => check_sid(name, &v, prefix).map(|()| Some(v)),
            None => Ok(None),
        }
    }

    fn number<T: FromStr>(&mut self, name: &'static str) -> Result<Option<T>, MalformedWebhook> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| MalformedWebhook::invalid(name, "not a number")),
        }
    }

    fn rfc2822(&mut self, name: &'static str) -> Result<Option<DateTime<Utc>>, MalformedWebhook> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc2822(v.trim())
                .map(|d| Some(d.with_timezone(&Utc)))
                .map_err(|_| MalformedWebhook::invalid(name, "not an RFC 2822 date")),
        }
    }

    fn bool(&mut self, name: &'static str) -> Result<Option<bool>, MalformedWebhook> {
        match self.opt(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(MalformedWebhook::invalid(name, "not true or false")),
        }
    }

    fn extra(&self) -> FormParams {
        FormParams::from_pairs(
            self.params
                .pairs()
                .iter()
                .filter(|(k, _)| !self.used.contains(k.as_str()))
                .cloned(),
        )
    }
}

fn check_sid(field: &'static str, value: &str, prefix: &str) -> Result<(), MalformedWebhook> {
    if value.starts_with(prefix) && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(MalformedWebhook::invalid(
            field,
            "not a Twilio id of the expected kind",
        ))
    }
}

/// Direction of a call leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// A call into our number.
    Inbound,
    /// Placed through the REST API.
    OutboundApi,
    /// Placed by `<Dial>`.
    OutboundDial,
    /// A value this crate does not know yet.
    Other(String),
}

impl Direction {
    fn parse(s: &str) -> Self {
        match s {
            "inbound" => Self::Inbound,
            "outbound-api" => Self::OutboundApi,
            "outbound-dial" => Self::OutboundDial,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Best-effort location the carrier reports for a number (often empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Country (ISO code).
    pub country: Option<String>,
}

/// Parameters every voice webhook carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallDetails {
    /// Account (or sub-account) the call belongs to; check it is yours after verification.
    pub account_sid: AccountSid,
    /// The call leg.
    pub call_sid: CallSid,
    /// Caller: E.164, `client:…`, `sip:…`, or `anonymous`/`restricted`. Personal data.
    pub from: Option<String>,
    /// The number called (ours).
    pub to: Option<String>,
    /// Status at the time of the request.
    pub call_status: Option<CallStatus>,
    /// Direction.
    pub direction: Option<Direction>,
    /// `2010-04-01`.
    pub api_version: Option<String>,
    /// CNAM caller name, when the number does lookups.
    pub caller_name: Option<String>,
    /// Number the call was forwarded from, when the carrier says.
    pub forwarded_from: Option<String>,
    /// Parent leg, for child legs.
    pub parent_call_sid: Option<CallSid>,
    /// SHAKEN/STIR verification result, e.g. `TN-Validation-Passed-A`.
    pub stir_verstat: Option<String>,
    /// Caller location.
    pub from_geo: Geo,
    /// Called-number location.
    pub to_geo: Geo,
}

impl CallDetails {
    fn read(r: &mut Reader<'_>) -> Result<Self, MalformedWebhook> {
        let details = Self {
            account_sid: AccountSid::new(r.sid("AccountSid", "AC")?),
            call_sid: CallSid::new(r.sid("CallSid", "CA")?),
            from: r.opt("From"),
            to: r.opt("To"),
            call_status: r.opt("CallStatus").map(|s| CallStatus::parse(&s)),
            direction: r.opt("Direction").map(|s| Direction::parse(&s)),
            api_version: r.opt("ApiVersion"),
            caller_name: r.opt("CallerName"),
            forwarded_from: r.opt("ForwardedFrom"),
            parent_call_sid: r.opt_sid("ParentCallSid", "CA")?.map(CallSid::new),
            stir_verstat: r.opt("StirVerstat"),
            from_geo: Geo {
                city: r.opt("FromCity"),
                state: r.opt("FromState"),
                zip: r.opt("FromZip"),
                country: r.opt("FromCountry"),
            },
            to_geo: Geo {
                city: r.opt("ToCity"),
                state: r.opt("ToState"),
                zip: r.opt("ToZip"),
                country: r.opt("ToCountry"),
            },
        };
        // Legacy duplicates of From/To and their geo carry nothing new; mark them used.
        for legacy in [
            "Caller",
            "Called",
            "CallerCity",
            "CallerState",
            "CallerZip",
            "CallerCountry",
            "CalledCity",
            "CalledState",
            "CalledZip",
            "CalledCountry",
        ] {
            r.opt(legacy);
        }
        Ok(details)
    }
}

/// Call arrived: the request to the number's `VoiceUrl`; answer with TwiML.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingCall {
    /// The call.
    pub call: CallDetails,
    /// `CallToken` (reused when forwarding).
    pub call_token: Option<String>,
    /// Parameters this crate does not model, kept as sent (e.g. `AddOns`).
    pub extra: FormParams,
}

impl IncomingCall {
    /// Parses a raw form body.
    pub fn parse(body: &[u8]) -> Result<Self, MalformedWebhook> {
        Self::from_params(&FormParams::parse(body))
    }
    /// Parses decoded parameters. `From` and `To` are required here.
    pub fn from_params(params: &FormParams) -> Result<Self, MalformedWebhook> {
        let mut r = Reader::new(params);
        let call = CallDetails::read(&mut r)?;
        if call.from.is_none() {
            return Err(MalformedWebhook::missing("From"));
        }
        if call.to.is_none() {
            return Err(MalformedWebhook::missing("To"));
        }
        let call_token = r.opt("CallToken");
        Ok(Self {
            call,
            call_token,
            extra: r.extra(),
        })
    }
}

/// A recording reference carried by a status or action callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRef {
    /// The recording.
    pub sid: RecordingSid,
    /// Twilio's URL (no extension). Do **not** fetch it with credentials; build the media URL from the sid.
    pub url: Option<String>,
    /// Seconds.
    pub duration_seconds: Option<u32>,
}

fn read_recording_ref(r: &mut Reader<'_>) -> Result<Option<RecordingRef>, MalformedWebhook> {
    let sid = r.opt_sid("RecordingSid", "RE")?;
    let url = r.opt("RecordingUrl");
    let duration_seconds = r.number("RecordingDuration")?;
    Ok(sid.map(|sid| RecordingRef {
        sid: RecordingSid::new(sid),
        url,
        duration_seconds,
    }))
}

/// The number's `StatusCallback`: the call changed status (for inbound calls, usually once, at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallStatusEvent {
    /// The call; `call_status` is required here.
    pub call: CallDetails,
    /// The new status.
    pub status: CallStatus,
    /// Billed seconds (on `completed`).
    pub call_duration_seconds: Option<u32>,
    /// When Twilio produced the event.
    pub timestamp: Option<DateTime<Utc>>,
    /// Orders the callbacks of one call (0, 1, 2…); they can arrive out of order.
    pub sequence_number: Option<u64>,
    /// `call-progress-events`.
    pub callback_source: Option<String>,
    /// SIP response code of the leg.
    pub sip_response_code: Option<u16>,
    /// The recording, when the call was recorded through `<Dial record>` or the API.
    pub recording: Option<RecordingRef>,
    /// Parameters this crate does not model.
    pub extra: FormParams,
}

impl CallStatusEvent {
    /// Parses a raw form body.
    pub fn parse(body: &[u8]) -> Result<Self, MalformedWebhook> {
        Self::from_params(&FormParams::parse(body))
    }
    /// Parses decoded parameters.
    pub fn from_params(params: &FormParams) -> Result<Self, MalformedWebhook> {
        let mut r = Reader::new(params);
        let call = CallDetails::read(&mut r)?;
        let status = call
            .call_status
            .clone()
            .ok_or(MalformedWebhook::missing("CallStatus"))?;
        Ok(Self {
            status,
            call_duration_seconds: r.number("CallDuration")?,
            timestamp: r.rfc2822("Timestamp")?,
            sequence_number: r.number("SequenceNumber")?,
            callback_source: r.opt("CallbackSource"),
            sip_response_code: r.number("SipResponseCode")?,
            recording: read_recording_ref(&mut r)?,
            extra: r.extra(),
            call,
        })
    }

    /// Deduplication key `(CallSid, SequenceNumber)`, when Twilio sent a sequence number.
    pub fn dedup_key(&self) -> Option<(CallSid, u64)> {
        self.sequence_number.map(|n| (self.call.call_sid.clone(), n))
    }
}

/// How a recording was made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordingSource {
    /// `<Record>`.
    RecordVerb,
    /// `<Dial record>`.
    DialVerb,
    /// REST `Record=true` on an outbound call.
    OutboundApi,
    /// A conference.
    Conference,
    /// SIP trunking.
    Trunking,
    /// The call recordings API.
    StartCallRecordingApi,
    /// The conference recordings API.
    StartConferenceRecordingApi,
    /// A value this crate does not know yet.
    Other(String),
}

impl RecordingSource {
    fn parse(s: &str) -> Self {
        match s {
            "RecordVerb" => Self::RecordVerb,
            "DialVerb" => Self::DialVerb,
            "OutboundAPI" => Self::OutboundApi,
            "Conference" => Self::Conference,
            "Trunking" => Self::Trunking,
            "StartCallRecordingAPI" => Self::StartCallRecordingApi,
            "StartConferenceRecordingAPI" => Self::StartConferenceRecordingApi,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The `recordingStatusCallback`: a recording changed state. Start processing on `completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStatusEvent {
    /// Account.
    pub account_sid: AccountSid,
    /// The call (always the parent leg of a two-leg call).
    pub call_sid: CallSid,
    /// The recording.
    pub recording_sid: RecordingSid,
    /// Twilio's URL for it (no extension; do not fetch it with credentials).
    pub recording_url: Option<String>,
    /// `in-progress`, `completed`, `absent`, `failed`.
    pub status: RecordingStatus,
    /// Seconds.
    pub duration_seconds: Option<u32>,
    /// 1 or 2 (dual: channel 1 = caller).
    pub channels: Option<u8>,
    /// When recording started.
    pub started_at: Option<DateTime<Utc>>,
    /// How it was made.
    pub source: Option<RecordingSource>,
    /// `inbound`, `outbound`, `both`.
    pub track: Option<String>,
    /// 16101 too short, 16102 silent (with `absent`).
    pub error_code: Option<u32>,
    /// Parameters this crate does not model.
    pub extra: FormParams,
}

impl RecordingStatusEvent {
    /// Parses a raw form body.
    pub fn parse(body: &[u8]) -> Result<Self, MalformedWebhook> {
        Self::from_params(&FormParams::parse(body))
    }
    /// Parses decoded parameters.
    pub fn from_params(params: &FormParams) -> Result<Self, MalformedWebhook> {
        let mut r = Reader::new(params);
        let event = Self {
            account_sid: AccountSid::new(r.sid("AccountSid", "AC")?),
            call_sid: CallSid::new(r.sid("CallSid", "CA")?),
            recording_sid: RecordingSid::new(r.sid("RecordingSid", "RE")?),
            recording_url: r.opt("RecordingUrl"),
            status: RecordingStatus::parse(&r.req("RecordingStatus")?),
            duration_seconds: r.number("RecordingDuration")?,
            channels: r.number("RecordingChannels")?,
            started_at: r.rfc2822("RecordingStartTime")?,
            source: r.opt("RecordingSource").map(|s| RecordingSource::parse(&s)),
            track: r.opt("RecordingTrack"),
            error_code: r.number("ErrorCode")?,
            extra: FormParams::default(),
        };
        Ok(Self {
            extra: r.extra(),
            ..event
        })
    }

    /// Deduplication key `(RecordingSid, RecordingStatus)`.
    pub fn dedup_key(&self) -> (RecordingSid, String) {
        (self.recording_sid.clone(), self.status.as_str().to_owned())
    }
}

/// The `<Record action>` request: the caller finished recording. Answer with TwiML; do **not** fetch the
/// recording here (it may not exist yet) — wait for [`RecordingStatusEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordActionEvent {
    /// The call.
    pub call: CallDetails,
    /// The recording, if Twilio made one.
    pub recording: Option<RecordingRef>,
    /// The key that ended the recording, or `hangup`.
    pub digits: Option<String>,
    /// Parameters this crate does not model.
    pub extra: FormParams,
}

impl RecordActionEvent {
    /// Parses a raw form body.
    pub fn parse(body: &[u8]) -> Result<Self, MalformedWebhook> {
        Self::from_params(&FormParams::parse(body))
    }
    /// Parses decoded parameters.
    pub fn from_params(params: &FormParams) -> Result<Self, MalformedWebhook> {
        let mut r = Reader::new(params);
        let call = CallDetails::read(&mut r)?;
        let recording = read_recording_ref(&mut r)?;
        let digits = r.opt("Digits");
        Ok(Self {
            call,
            recording,
            digits,
            extra: r.extra(),
        })
    }

    /// Whether the caller hung up to end the recording.
    pub fn caller_hung_up(&self) -> bool {
        self.digits.as_deref() == Some("hangup")
    }
}

/// Outcome of a `<Dial>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialCallStatus {
    /// The dialed party answered and the call ended normally.
    Completed,
    /// Answered (seen with `answerOnBridge`).
    Answered,
    /// Busy.
    Busy,
    /// No answer.
    NoAnswer,
    /// Could not be placed.
    Failed,
    /// Cancelled.
    Canceled,
    /// A value this crate does not know yet.
    Other(String),
}

impl DialCallStatus {
    fn parse(s: &str) -> Self {
        match s {
            "completed" => Self::Completed,
            "answered" => Self::Answered,
            "busy" => Self::Busy,
            "no-answer" => Self::NoAnswer,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The `<Dial action>` request: the forwarded call ended. Answer with TwiML (e.g. voicemail when nobody
/// answered).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DialActionEvent {
    /// The parent call.
    pub call: CallDetails,
    /// How the dial ended.
    pub dial_call_status: DialCallStatus,
    /// The child leg.
    pub dial_call_sid: Option<CallSid>,
    /// Seconds the child leg lasted.
    pub dial_call_duration_seconds: Option<u32>,
    /// Whether the legs were bridged.
    pub dial_bridged: Option<bool>,
    /// The recording, when `<Dial record>` recorded.
    pub recording: Option<RecordingRef>,
    /// Parameters this crate does not model.
    pub extra: FormParams,
}

impl DialActionEvent {
    /// Parses a raw form body.
    pub fn parse(body: &[u8]) -> Result<Self, MalformedWebhook> {
        Self::from_params(&FormParams::parse(body))
    }
    /// Parses decoded parameters.
    pub fn from_params(params: &FormParams) -> Result<Self, MalformedWebhook> {
        let mut r = Reader::new(params);
        let call = CallDetails::read(&mut r)?;
        let dial_call_status = DialCallStatus::parse(&r.req("DialCallStatus")?);
        Ok(Self {
            call,
            dial_call_status,
            dial_call_sid: r.opt_sid("DialCallSid", "CA")?.map(CallSid::new),
            dial_call_duration_seconds: r.number("DialCallDuration")?,
            dial_bridged: r.bool("DialBridged")?,
            recording: read_recording_ref(&mut r)?,
            extra: r.extra(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC00000000000000000000000000000001";
    const CA: &str = "CA00000000000000000000000000000002";
    const RE: &str = "RE00000000000000000000000000000003";

    fn r1_body() -> String {
        // The realistic inbound-call shape of twilio.md §1.8 R1.
        format!(
            "AccountSid={AC}&ApiVersion=2010-04-01&CallSid={CA}&CallStatus=ringing&Called=%2B15005550006\
             &CalledCity=&CalledCountry=US&CalledState=&CalledZip=&Caller=%2B14155551234&CallerCity=SAN+FRANCISCO\
             &CallerCountry=US&CallerState=CA&CallerZip=94103&Direction=inbound&From=%2B14155551234\
             &FromCity=SAN+FRANCISCO&FromCountry=US&FromState=CA&FromZip=94103&To=%2B15005550006&ToCity=\
             &ToCountry=US&ToState=&ToZip=&StirVerstat=TN-Validation-Passed-A&AddOns=%7B%22status%22%3A%22successful%22%7D"
        )
    }

    #[test]
    fn incoming_call_parses_every_documented_field() {
        let e = IncomingCall::parse(r1_body().as_bytes()).unwrap();
        assert_eq!(e.call.account_sid.as_str(), AC);
        assert_eq!(e.call.call_sid.as_str(), CA);
        assert_eq!(e.call.from.as_deref(), Some("+14155551234"));
        assert_eq!(e.call.to.as_deref(), Some("+15005550006"));
        assert_eq!(e.call.call_status, Some(CallStatus::Ringing));
        assert_eq!(e.call.direction, Some(Direction::Inbound));
        assert_eq!(e.call.from_geo.city.as_deref(), Some("SAN FRANCISCO"));
        assert_eq!(e.call.to_geo.city, None, "empty strings are absent");
        assert_eq!(e.call.stir_verstat.as_deref(), Some("TN-Validation-Passed-A"));
        assert_eq!(
            e.extra.pairs(),
            &[("AddOns".to_owned(), r#"{"status":"successful"}"#.to_owned())]
        );
    }

    #[test]
    fn missing_and_invalid_fields_are_named() {
        let err = IncomingCall::parse(b"AccountSid=AC1&From=%2B1&To=%2B2").unwrap_err();
        assert_eq!(
            err,
            MalformedWebhook {
                field: "CallSid",
                problem: "missing"
            }
        );
        let err =
            IncomingCall::parse(format!("AccountSid={AC}&CallSid={CA}&To=%2B2").as_bytes()).unwrap_err();
        assert_eq!(err.field, "From");
        let err =
            IncomingCall::parse(format!("AccountSid={AC}&CallSid={RE}&From=a&To=b").as_bytes()).unwrap_err();
        assert_eq!(err.field, "CallSid", "a recording sid in CallSid is rejected");
        let err = RecordingStatusEvent::parse(
            format!("AccountSid={AC}&CallSid={CA}&RecordingSid={RE}&RecordingStatus=completed&RecordingDuration=4s")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            MalformedWebhook {
                field: "RecordingDuration",
                problem: "not a number"
            }
        );
        assert!(!err.to_string().contains("4s"), "values are not echoed");
    }

    #[test]
    fn recording_status_r2_shape() {
        let body = format!(
            "AccountSid={AC}&CallSid={CA}&RecordingChannels=1&RecordingDuration=42&RecordingSid={RE}\
             &RecordingSource=RecordVerb&RecordingStartTime=Mon%2C+22+Aug+2011+20%3A58%3A45+%2B0000\
             &RecordingStatus=completed&RecordingTrack=both\
             &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2F{AC}%2FRecordings%2F{RE}"
        );
        let e = RecordingStatusEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(e.recording_sid.as_str(), RE);
        assert_eq!(e.status, RecordingStatus::Completed);
        assert_eq!(e.channels, Some(1));
        assert_eq!(e.source, Some(RecordingSource::RecordVerb));
        assert_eq!(e.started_at.unwrap().to_rfc3339(), "2011-08-22T20:58:45+00:00");
        assert_eq!(e.dedup_key(), (RecordingSid::new(RE), "completed".to_owned()));
        assert!(e.extra.is_empty());
    }

    #[test]
    fn unknown_enum_values_are_tolerated() {
        let body = format!(
            "AccountSid={AC}&CallSid={CA}&RecordingSid={RE}&RecordingStatus=archived&RecordingSource=Hologram"
        );
        let e = RecordingStatusEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(e.status, RecordingStatus::Other("archived".into()));
        assert_eq!(e.source, Some(RecordingSource::Other("Hologram".into())));
    }

    #[test]
    fn call_status_exposes_sequence_for_dedup() {
        let body = format!(
            "AccountSid={AC}&CallSid={CA}&CallStatus=completed&CallDuration=37&SequenceNumber=2\
             &Timestamp=Thu%2C+30+Jul+2015+23%3A19%3A04+%2B0000&CallbackSource=call-progress-events&From=x&To=y"
        );
        let e = CallStatusEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(e.status, CallStatus::Completed);
        assert_eq!(e.call_duration_seconds, Some(37));
        assert_eq!(e.dedup_key(), Some((CallSid::new(CA), 2)));
        assert!(CallStatusEvent::parse(format!("AccountSid={AC}&CallSid={CA}").as_bytes()).is_err());
    }

    #[test]
    fn record_and_dial_actions() {
        let body = format!(
            "AccountSid={AC}&CallSid={CA}&CallStatus=in-progress&Digits=hangup&RecordingSid={RE}&RecordingDuration=12\
             &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Fx"
        );
        let e = RecordActionEvent::parse(body.as_bytes()).unwrap();
        assert!(e.caller_hung_up());
        assert_eq!(e.recording.unwrap().duration_seconds, Some(12));

        let body = format!(
            "AccountSid={AC}&CallSid={CA}&DialCallStatus=no-answer&DialCallSid=CA99&DialCallDuration=0&DialBridged=false"
        );
        let e = DialActionEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(e.dial_call_status, DialCallStatus::NoAnswer);
        assert_eq!(e.dial_bridged, Some(false));
        assert!(e.recording.is_none());
        assert_eq!(
            DialActionEvent::parse(format!("AccountSid={AC}&CallSid={CA}").as_bytes())
                .unwrap_err()
                .field,
            "DialCallStatus"
        );
    }
}
