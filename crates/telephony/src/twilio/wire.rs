//! Twilio's JSON as it really arrives, and its conversion into this crate's domain types.
//!
//! Everything here is lenient on purpose. Twilio sends numbers as strings (`"duration": "4"`), unset URLs as
//! `""` or `null`, `SMS`/`MMS` capability keys in upper case on one resource and lower case on another, and
//! adds fields and enum values over time. A field we cannot read is treated as absent rather than failing the
//! whole response; only the ids we key on (`sid`, `account_sid`, the phone number) are required.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::telephony::{
    AccountSid, AvailableNumber, CallInfo, CallSid, CallStatus, E164, HttpMethod, NumberCapabilities,
    NumberSid, OwnedNumber, RecordingInfo, RecordingSid, RecordingStatus, WebhookConfig,
};
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------------

/// `GET …/AvailablePhoneNumbers/{CC}/{Kind}.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AvailablePhoneNumberList {
    #[serde(deserialize_with = "lenient_vec")]
    pub(crate) available_phone_numbers: Vec<AvailablePhoneNumber>,
}

/// One entry of [`AvailablePhoneNumberList`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AvailablePhoneNumber {
    #[serde(deserialize_with = "opt_string")]
    pub(crate) phone_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) friendly_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) locality: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) region: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) postal_code: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) iso_country: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) address_requirements: Option<String>,
    pub(crate) capabilities: Capabilities,
}

/// An `IncomingPhoneNumber` resource.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IncomingPhoneNumber {
    #[serde(deserialize_with = "opt_string")]
    pub(crate) sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) account_sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) phone_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) friendly_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) voice_url: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) voice_method: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) voice_fallback_url: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) voice_fallback_method: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) status_callback: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) status_callback_method: Option<String>,
    pub(crate) capabilities: Capabilities,
    #[serde(deserialize_with = "opt_date")]
    pub(crate) date_created: Option<DateTime<Utc>>,
}

/// A `Recording` resource.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Recording {
    #[serde(deserialize_with = "opt_string")]
    pub(crate) sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) account_sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) call_sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) status: Option<String>,
    #[serde(deserialize_with = "opt_u32")]
    pub(crate) duration: Option<u32>,
    #[serde(deserialize_with = "opt_u32")]
    pub(crate) channels: Option<u32>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) source: Option<String>,
    #[serde(deserialize_with = "opt_date")]
    pub(crate) start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "opt_date")]
    pub(crate) date_created: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "opt_u32")]
    pub(crate) error_code: Option<u32>,
}

/// A `Call` resource.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Call {
    #[serde(deserialize_with = "opt_string")]
    pub(crate) sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) account_sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) parent_call_sid: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) from: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) to: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) direction: Option<String>,
    #[serde(deserialize_with = "opt_date")]
    pub(crate) start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "opt_date")]
    pub(crate) end_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "opt_u32")]
    pub(crate) duration: Option<u32>,
}

/// `GET …/IncomingPhoneNumbers.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IncomingPhoneNumberList {
    #[serde(deserialize_with = "lenient_vec")]
    pub(crate) incoming_phone_numbers: Vec<IncomingPhoneNumber>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) next_page_uri: Option<String>,
}

/// `GET …/Recordings.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RecordingList {
    #[serde(deserialize_with = "lenient_vec")]
    pub(crate) recordings: Vec<Recording>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) next_page_uri: Option<String>,
}

/// `capabilities`: `{"voice": true, "SMS": true, "MMS": false}` on available numbers, lower case on owned ones.
/// Keys are matched case-insensitively; values may be booleans or `"true"`/`"false"`.
#[derive(Debug, Default)]
pub(crate) struct Capabilities(NumberCapabilities);

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let map = match Value::deserialize(deserializer)? {
            Value::Object(map) => map,
            _ => return Ok(Self::default()),
        };
        let lowered: BTreeMap<String, bool> = map
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), value_as_bool(&v)?)))
            .collect();
        let get = |key: &str| lowered.get(key).copied().unwrap_or(false);
        Ok(Self(NumberCapabilities {
            voice: get("voice"),
            sms: get("sms"),
            mms: get("mms"),
            fax: get("fax"),
        }))
    }
}

/// The error bodies Twilio sends: the classic `{code, message, more_info, status}` and RFC 9457 problem details
/// `{type, title, status, code, detail}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    #[serde(deserialize_with = "opt_u32")]
    pub(crate) code: Option<u32>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) message: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) more_info: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) detail: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub(crate) title: Option<String>,
    #[serde(rename = "type", deserialize_with = "opt_string")]
    pub(crate) problem_type: Option<String>,
}

impl ErrorBody {
    /// The human-readable part: `message`, else the problem's `detail`, else its `title`.
    pub(crate) fn text(&self) -> Option<&str> {
        self.message
            .as_deref()
            .or(self.detail.as_deref())
            .or(self.title.as_deref())
    }
    /// Where the provider documents the error: `more_info`, else the problem `type` when it is a link.
    pub(crate) fn link(&self) -> Option<&str> {
        self.more_info.as_deref().or(self
            .problem_type
            .as_deref()
            .filter(|t| t.starts_with("https://") || t.starts_with("http://")))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Conversion into domain types
// ---------------------------------------------------------------------------------------------------------------

fn required(value: Option<String>, what: &str) -> Result<String> {
    value.ok_or_else(|| Error::Decode {
        message: format!("{what} missing from the response"),
    })
}

/// The number as E.164. The value itself is never put in the error: it is personal data.
fn phone(value: Option<String>, what: &str) -> Result<E164> {
    required(value, what)?.parse().map_err(|_| Error::Decode {
        message: format!("{what} is not E.164"),
    })
}

fn method(value: Option<&str>) -> HttpMethod {
    match value {
        Some(m) if m.eq_ignore_ascii_case("GET") => HttpMethod::Get,
        _ => HttpMethod::Post,
    }
}

impl AvailablePhoneNumber {
    pub(crate) fn into_domain(self) -> Result<AvailableNumber> {
        let phone_number = phone(self.phone_number, "available phone_number")?;
        Ok(AvailableNumber {
            friendly_name: self.friendly_name.unwrap_or_else(|| phone_number.to_string()),
            phone_number,
            locality: self.locality,
            region: self.region,
            postal_code: self.postal_code,
            iso_country: self.iso_country.unwrap_or_default(),
            address_requirements: self.address_requirements.unwrap_or_else(|| "none".to_owned()),
            capabilities: self.capabilities.0,
        })
    }
}

impl IncomingPhoneNumber {
    pub(crate) fn into_domain(self) -> Result<OwnedNumber> {
        let phone_number = phone(self.phone_number, "incoming phone_number")?;
        Ok(OwnedNumber {
            sid: NumberSid::new(required(self.sid, "incoming phone number sid")?),
            account_sid: AccountSid::new(required(self.account_sid, "incoming phone number account_sid")?),
            friendly_name: self.friendly_name.unwrap_or_else(|| phone_number.to_string()),
            phone_number,
            webhooks: WebhookConfig {
                voice_method: method(self.voice_method.as_deref()),
                voice_url: self.voice_url,
                voice_fallback_method: method(self.voice_fallback_method.as_deref()),
                voice_fallback_url: self.voice_fallback_url,
                status_callback_method: method(self.status_callback_method.as_deref()),
                status_callback: self.status_callback,
            },
            capabilities: self.capabilities.0,
            created_at: self.date_created,
        })
    }
}

impl Recording {
    pub(crate) fn into_domain(self) -> Result<RecordingInfo> {
        Ok(RecordingInfo {
            sid: RecordingSid::new(required(self.sid, "recording sid")?),
            account_sid: AccountSid::new(required(self.account_sid, "recording account_sid")?),
            call_sid: CallSid::new(self.call_sid.unwrap_or_default()),
            status: RecordingStatus::parse(self.status.as_deref().unwrap_or("")),
            duration_seconds: self.duration,
            channels: self.channels.and_then(|c| u8::try_from(c).ok()).unwrap_or(1),
            source: self.source,
            started_at: self.start_time,
            created_at: self.date_created,
            error_code: self.error_code,
        })
    }
}

impl Call {
    pub(crate) fn into_domain(self) -> Result<CallInfo> {
        Ok(CallInfo {
            sid: CallSid::new(required(self.sid, "call sid")?),
            account_sid: AccountSid::new(required(self.account_sid, "call account_sid")?),
            from: self.from.unwrap_or_default(),
            to: self.to.unwrap_or_default(),
            status: CallStatus::parse(self.status.as_deref().unwrap_or("")),
            direction: self.direction.unwrap_or_default(),
            started_at: self.start_time,
            ended_at: self.end_time,
            duration_seconds: self.duration,
            parent_call_sid: self.parent_call_sid.map(CallSid::new),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Lenient field readers
// ---------------------------------------------------------------------------------------------------------------

/// A string; numbers and booleans are written out; `null`, `""` and anything else are `None`.
fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A non-negative whole number given as a number or a string (`4`, `"4"`, `"4.0"`); anything else
/// (`""`, `null`, `"-1"` for a recording still in progress) is `None`.
fn opt_u32<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<u32>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let number = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    Ok(number
        .filter(|n| n.is_finite() && *n >= 0.0 && *n <= f64::from(u32::MAX))
        .map(|n| n.trunc() as u32))
}

/// An RFC 2822 date (`Thu, 30 Jul 2015 23:19:04 +0000`), as Twilio writes them; RFC 3339 is accepted too.
/// Anything unreadable is `None`.
fn opt_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => parse_date(&s),
        _ => None,
    })
}

/// A list whose unreadable elements are a decode error of the whole list, but `null` is an empty list.
fn lenient_vec<'de, D, T>(deserializer: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn value_as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn available_number_with_string_coordinates_and_upper_case_capabilities() {
        let json = r#"{
            "available_phone_numbers": [{
                "address_requirements": "none", "beta": false,
                "capabilities": {"MMS": true, "SMS": false, "voice": true},
                "friendly_name": "(808) 925-1571", "iso_country": "US", "lata": "834",
                "latitude": "19.720000", "longitude": "-155.090000", "locality": "Hilo",
                "phone_number": "+18089251571", "postal_code": "96720", "rate_center": "HILO", "region": "HI"
            }],
            "end": 1, "first_page_uri": "/x", "next_page_uri": null, "page": 0, "page_size": 50
        }"#;
        let list: AvailablePhoneNumberList = serde_json::from_str(json).unwrap();
        let n = list
            .available_phone_numbers
            .into_iter()
            .next()
            .unwrap()
            .into_domain()
            .unwrap();
        assert_eq!(n.phone_number.as_str(), "+18089251571");
        assert_eq!(n.locality.as_deref(), Some("Hilo"));
        assert_eq!(
            n.capabilities,
            NumberCapabilities {
                voice: true,
                sms: false,
                mms: true,
                fax: false
            }
        );
    }

    #[test]
    fn lower_case_and_string_capabilities() {
        let c: Capabilities =
            serde_json::from_str(r#"{"voice": "true", "sms": true, "mms": null, "fax": 1}"#).unwrap();
        assert_eq!(
            c.0,
            NumberCapabilities {
                voice: true,
                sms: true,
                mms: false,
                fax: false
            }
        );
        let c: Capabilities = serde_json::from_str("null").unwrap();
        assert_eq!(c.0, NumberCapabilities::default());
    }

    #[test]
    fn empty_and_null_urls_are_none_and_methods_default_to_post() {
        let json = r#"{"sid": "PN1", "account_sid": "AC1", "phone_number": "+15005550006",
            "voice_url": "", "voice_method": "get", "voice_fallback_url": null, "status_callback": "https://h/s",
            "status_callback_method": "BREW", "date_created": "Thu, 30 Jul 2015 23:19:04 +0000", "new_field": {}}"#;
        let n: IncomingPhoneNumber = serde_json::from_str(json).unwrap();
        let n = n.into_domain().unwrap();
        assert_eq!(n.webhooks.voice_url, None);
        assert_eq!(n.webhooks.voice_method, HttpMethod::Get);
        assert_eq!(n.webhooks.voice_fallback_url, None);
        assert_eq!(n.webhooks.status_callback.as_deref(), Some("https://h/s"));
        assert_eq!(n.webhooks.status_callback_method, HttpMethod::Post);
        assert_eq!(n.friendly_name, "+15005550006");
        assert_eq!(
            n.created_at,
            Some(Utc.with_ymd_and_hms(2015, 7, 30, 23, 19, 4).unwrap())
        );
    }

    #[test]
    fn numbers_as_strings() {
        let json = r#"{"sid": "RE1", "account_sid": "AC1", "call_sid": "CA1", "status": "weird-new-status",
            "duration": "4", "channels": "2", "price": "-0.00250", "error_code": null,
            "encryption_details": {"type": "rsa-aes"}}"#;
        let r: Recording = serde_json::from_str(json).unwrap();
        let r = r.into_domain().unwrap();
        assert_eq!(r.duration_seconds, Some(4));
        assert_eq!(r.channels, 2);
        assert_eq!(r.status, RecordingStatus::Other("weird-new-status".into()));
        assert_eq!(r.error_code, None);
    }

    #[test]
    fn unreadable_numbers_are_absent() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "opt_u32")]
            n: Option<u32>,
        }
        for (json, want) in [
            (r#"{"n": ""}"#, None),
            (r#"{"n": "-1"}"#, None),
            (r#"{"n": "abc"}"#, None),
            (r#"{"n": null}"#, None),
            (r#"{"n": 7}"#, Some(7)),
            (r#"{"n": "7.0"}"#, Some(7)),
            (r#"{"n": 1e30}"#, None),
        ] {
            assert_eq!(serde_json::from_str::<T>(json).unwrap().n, want, "{json}");
        }
    }

    #[test]
    fn missing_ids_and_bad_numbers_are_decode_errors_without_the_number() {
        let n: IncomingPhoneNumber = serde_json::from_str(r#"{"phone_number": "+15005550006"}"#).unwrap();
        assert!(matches!(n.into_domain(), Err(Error::Decode { .. })));
        let n: IncomingPhoneNumber =
            serde_json::from_str(r#"{"sid": "PN1", "account_sid": "AC1", "phone_number": "555-0100"}"#)
                .unwrap();
        let err = n.into_domain().unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
        assert!(!err.to_string().contains("555"), "{err}");
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("Mon, 22 Aug 2011 20:58:45 +0000"),
            Some(Utc.with_ymd_and_hms(2011, 8, 22, 20, 58, 45).unwrap())
        );
        assert_eq!(
            parse_date("2011-08-22T20:58:45Z"),
            Some(Utc.with_ymd_and_hms(2011, 8, 22, 20, 58, 45).unwrap())
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn error_bodies() {
        let e: ErrorBody = serde_json::from_str(
            r#"{"code": 20404, "message": "Not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#,
        )
        .unwrap();
        assert_eq!(
            (e.code, e.text(), e.link()),
            (
                Some(20404),
                Some("Not found"),
                Some("https://www.twilio.com/docs/errors/20404")
            )
        );
        let e: ErrorBody = serde_json::from_str(
            r#"{"type": "https://www.twilio.com/docs/errors/20001", "title": "Bad request", "status": 400, "code": "20001", "detail": "Missing To"}"#,
        )
        .unwrap();
        assert_eq!(
            (e.code, e.text(), e.link()),
            (
                Some(20001),
                Some("Missing To"),
                Some("https://www.twilio.com/docs/errors/20001")
            )
        );
    }
}
