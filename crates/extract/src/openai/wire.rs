//! Chat Completions wire types (private, lenient) and the answer schema.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;

#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub(crate) choices: Vec<Choice>,
    #[serde(default)]
    pub(crate) usage: Option<UsageWire>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UsageWire {
    #[serde(default)]
    pub(crate) prompt_tokens: u64,
    #[serde(default)]
    pub(crate) completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub(crate) message: Message,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
    #[serde(default)]
    pub(crate) logprobs: Option<Logprobs>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Logprobs {
    #[serde(default)]
    pub(crate) content: Option<Vec<TokenLogprob>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenLogprob {
    #[serde(default)]
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) logprob: f64,
    #[serde(default)]
    pub(crate) bytes: Option<Vec<u8>>,
}

/// The fields whose confidence comes from token log-probabilities.
pub(crate) const SCORED_FIELDS: &[&str] = &[
    "customer_name",
    "customer_phone",
    "service_address",
    "date_phrase",
    "date",
    "time",
    "job_description",
    "price",
    "urgency",
    "notes",
];

/// Per-appointment, per-field confidence from output log-probabilities: `exp(mean(logprob))` over the tokens of each
/// value (the `-9999` "not in top-20" sentinel dropped). `None` when the tokens do not rebuild the content.
pub(crate) fn field_confidences(
    content: &str,
    tokens: &[TokenLogprob],
) -> Option<Vec<std::collections::HashMap<&'static str, f64>>> {
    let mut rebuilt: Vec<u8> = Vec::with_capacity(content.len());
    let mut ranges = Vec::with_capacity(tokens.len());
    for token in tokens {
        let start = rebuilt.len();
        match &token.bytes {
            Some(bytes) => rebuilt.extend_from_slice(bytes),
            None => rebuilt.extend_from_slice(token.token.as_bytes()),
        }
        ranges.push((start, rebuilt.len(), token.logprob));
    }
    if rebuilt != content.as_bytes() {
        return None;
    }
    let mut out: Vec<std::collections::HashMap<&'static str, f64>> = Vec::new();
    for field in SCORED_FIELDS {
        let key = format!("\"{field}\":");
        let mut from = 0;
        let mut index = 0;
        while let Some(pos) = content[from..].find(&key) {
            let value_start = from + pos + key.len();
            let rest = &content[value_start..];
            let trimmed = rest.len() - rest.trim_start().len();
            let mut stream = serde_json::Deserializer::from_str(&rest[trimmed..]).into_iter::<Value>();
            let value_len = match stream.next() {
                Some(Ok(_)) => stream.byte_offset(),
                _ => break,
            };
            let (a, b) = (value_start + trimmed, value_start + trimmed + value_len);
            let probabilities: Vec<f64> = ranges
                .iter()
                .filter(|(s, e, lp)| *s < b && *e > a && *lp > -9000.0)
                .map(|(_, _, lp)| *lp)
                .collect();
            if !probabilities.is_empty() {
                let mean = probabilities.iter().sum::<f64>() / probabilities.len() as f64;
                while out.len() <= index {
                    out.push(std::collections::HashMap::new());
                }
                out[index].insert(field, mean.exp().clamp(0.0, 1.0));
            }
            index += 1;
            from = b;
        }
    }
    Some(out)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCall {
    pub(crate) function: FunctionCall,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall {
    #[serde(default)]
    pub(crate) arguments: String,
}

/// The model's answer (matches [`schema`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Output {
    pub(crate) call_kind: String,
    pub(crate) appointments: Vec<OutputAppointment>,
    pub(crate) confidence: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutputAppointment {
    pub(crate) evidence: Option<String>,
    pub(crate) customer_name: Option<String>,
    pub(crate) customer_phone: Option<String>,
    pub(crate) service_address: Option<OutputAddress>,
    pub(crate) date_phrase: Option<String>,
    pub(crate) date: Option<String>,
    pub(crate) time: Option<String>,
    pub(crate) job_description: Option<String>,
    pub(crate) price: Option<OutputPrice>,
    pub(crate) urgency: Option<String>,
    pub(crate) notes: Option<String>,
    pub(crate) confidence: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutputAddress {
    pub(crate) line1: String,
    pub(crate) line2: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) postal_code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutputPrice {
    pub(crate) amount: Option<f64>,
    pub(crate) kind: Option<String>,
}

/// The strict schema: every object closed, every key required, optional values nullable; phrases before the
/// values derived from them (keys are emitted in schema order). Depth ≤ 4.
pub(crate) fn schema() -> Value {
    let s = |d: &str| json!({"type": ["string", "null"], "description": d});
    json!({
        "type": "object", "additionalProperties": false,
        "required": ["call_kind", "appointments", "confidence"],
        "properties": {
            "call_kind": {"type": "string", "enum": ["live", "voicemail", "spam", "wrong_number", "empty", "unknown"]},
            "appointments": {"type": "array", "items": {
                "type": "object", "additionalProperties": false,
                "required": ["evidence", "customer_name", "customer_phone", "service_address", "date_phrase", "date",
                             "time", "job_description", "price", "urgency", "notes", "confidence"],
                "properties": {
                    "evidence": s("the transcript words that support this appointment"),
                    "customer_name": s("as said, after spelling and corrections"),
                    "customer_phone": s("the digits as said"),
                    "service_address": {"type": ["object", "null"], "additionalProperties": false,
                        "required": ["line1", "line2", "city", "region", "postal_code"],
                        "properties": {"line1": {"type": "string"}, "line2": s("unit"), "city": s("city"),
                                       "region": s("state"), "postal_code": s("postcode")}},
                    "date_phrase": s("the words that carry the final date/time, verbatim"),
                    "date": s("YYYY-MM-DD"),
                    "time": s("HH:MM"),
                    "job_description": s("the job in the trade's words"),
                    "price": {"type": ["object", "null"], "additionalProperties": false, "required": ["amount", "kind"],
                        "properties": {"amount": {"type": ["number", "null"]},
                                       "kind": {"type": ["string", "null"], "enum": ["quote", "fee", "budget", null]}}},
                    "urgency": {"type": ["string", "null"], "enum": ["emergency", "urgent", "normal", "flexible", null]},
                    "notes": s("access and site facts"),
                    "confidence": {"type": ["number", "null"]}
                }
            }},
            "confidence": {"type": ["number", "null"]}
        }
    })
}

/// The longest wait we take from a `Retry-After` header; larger (or infinite) values are capped to this.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// `Retry-After` (or `retry-after-ms`) as a duration, capped at [`RETRY_AFTER_CAP`]; negative, NaN or
/// unparsable values are ignored, never a panic.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = |v: f64| {
        if v.is_nan() || v < 0.0 {
            return None;
        }
        Some(
            Duration::try_from_secs_f64(v)
                .unwrap_or(RETRY_AFTER_CAP)
                .min(RETRY_AFTER_CAP),
        )
    };
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return seconds(ms / 1000.0);
    }
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(seconds)
}

/// Maps an error response. Parse order: OpenAI `{error:{…}}` → `error` string → `detail` → raw text (truncated).
pub(crate) fn status_error(status: u16, retry_after: Option<Duration>, body: &str) -> Error {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let (message, code) = match &value["error"] {
        Value::Object(e) => (
            e.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            e.get("code").and_then(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .or_else(|| c.as_u64().map(|n| n.to_string()))
            }),
        ),
        Value::String(s) => (s.clone(), None),
        _ => match &value["detail"] {
            Value::Null => (body.chars().take(200).collect(), None),
            detail => (
                detail.as_str().map_or_else(|| detail.to_string(), str::to_owned),
                None,
            ),
        },
    };
    match status {
        401 | 403 => Error::Unauthenticated { message },
        429 if code.as_deref() == Some("insufficient_quota") => Error::QuotaExceeded { message },
        429 => Error::RateLimited { retry_after, message },
        500..=599 => Error::Unavailable {
            status: Some(status),
            message,
        },
        _ => Error::Provider {
            status,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;

    fn headers(name: &'static str, value: &'static str) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(name, reqwest::header::HeaderValue::from_static(value));
        h
    }

    #[test]
    fn huge_or_infinite_retry_after_is_capped_not_a_panic() {
        for (name, value) in [
            ("retry-after", "inf"),
            ("retry-after", "1e300"),
            ("retry-after-ms", "inf"),
            ("retry-after-ms", "1e300"),
        ] {
            assert_eq!(
                retry_after(&headers(name, value)),
                Some(RETRY_AFTER_CAP),
                "{name}: {value}"
            );
        }
        assert_eq!(
            retry_after(&headers("retry-after-ms", "1500")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(&headers("retry-after", "-3")), None);
        assert_eq!(retry_after(&headers("retry-after-ms", "NaN")), None);
    }
}
