//! Provider JSON, parsed leniently, and the error dialects. Private: the public types are ours.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::audio::AudioInput;
use crate::confidence;
use crate::transcript::{Segment, SegmentStats, Transcript, Usage, Word};
use crate::{Error, Result};

/// The largest server-directed wait we pass on; beyond it the caller should requeue instead of waiting.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrString {
        Num(f64),
        Str(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<NumOrString>::deserialize(d)? {
        Some(NumOrString::Num(n)) => Some(n),
        Some(NumOrString::Str(s)) => s.trim().parse().ok(),
        Some(NumOrString::Other(_)) | None => None,
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct WireTranscription {
    text: Option<String>,
    language: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    duration: Option<f64>,
    segments: Option<Vec<WireSegment>>,
    words: Option<Vec<WireWord>>,
    usage: Option<serde_json::Value>,
    logprobs: Option<Vec<WireLogprob>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireSegment {
    #[serde(deserialize_with = "lenient_f64")]
    start: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    end: Option<f64>,
    text: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    avg_logprob: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    no_speech_prob: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    compression_ratio: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    temperature: Option<f64>,
    speaker: Option<serde_json::Value>,
    /// whisper.cpp nests words in segments.
    words: Option<Vec<WireWord>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireWord {
    #[serde(alias = "text")]
    word: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    start: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    end: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    probability: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireLogprob {
    #[serde(deserialize_with = "lenient_f64")]
    logprob: Option<f64>,
}

fn parse_usage(v: &serde_json::Value) -> Option<Usage> {
    let u64_of = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    match v.get("type").and_then(serde_json::Value::as_str) {
        Some("duration") => v
            .get("seconds")
            .and_then(serde_json::Value::as_f64)
            .map(|seconds| Usage::Duration { seconds }),
        Some("tokens") => {
            let details = v.get("input_token_details");
            let detail = |k: &str| details.and_then(|d| d.get(k)).and_then(serde_json::Value::as_u64);
            let input = u64_of("input_tokens").unwrap_or(0);
            let output = u64_of("output_tokens").unwrap_or(0);
            Some(Usage::Tokens {
                input_tokens: input,
                output_tokens: output,
                total_tokens: u64_of("total_tokens").unwrap_or(input + output),
                audio_tokens: detail("audio_tokens"),
                text_tokens: detail("text_tokens"),
            })
        }
        _ => None,
    }
}

/// Parses a 2xx body into a transcript (provider, model and request id are filled in by the caller).
pub(crate) fn parse_transcript(body: &[u8], audio: &AudioInput) -> Result<Transcript> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::Decode {
        message: format!("the response is not JSON ({e})"),
    })?;
    let wire: WireTranscription = serde_json::from_value(raw.clone()).map_err(|e| Error::Decode {
        message: format!("the response is not a transcription ({e})"),
    })?;
    let Some(text) = wire.text else {
        return Err(Error::Decode {
            message: "the response has no `text`".into(),
        });
    };
    let mut t = Transcript {
        text: text.trim().to_owned(),
        language: wire.language.filter(|l| !l.is_empty()),
        duration_seconds: wire.duration.or(audio.duration_seconds()),
        ..Default::default()
    };
    let mut nested_words = Vec::new();
    for s in wire.segments.unwrap_or_default() {
        let text = s.text.unwrap_or_default().trim().to_owned();
        let compression_ratio = s
            .compression_ratio
            .or_else(|| (!text.is_empty()).then(|| confidence::compression_ratio(&text)));
        let start = s.start.unwrap_or(0.0);
        let end = s.end.unwrap_or(start).max(start);
        nested_words.extend(s.words.unwrap_or_default());
        t.segments.push(Segment {
            start,
            end,
            text,
            speaker: s.speaker.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            stats: SegmentStats {
                avg_logprob: s.avg_logprob,
                no_speech_prob: s.no_speech_prob,
                compression_ratio,
                temperature: s.temperature,
            },
            ..Default::default()
        });
    }
    t.segments.sort_by(|a, b| a.start.total_cmp(&b.start));
    let words = match wire.words {
        Some(w) if !w.is_empty() => w,
        _ => nested_words,
    };
    t.words = words
        .into_iter()
        .filter_map(|w| {
            let text = w.word?.trim().to_owned();
            let start = w.start.unwrap_or(0.0);
            Some(Word {
                start,
                end: w.end.unwrap_or(start).max(start),
                text,
                confidence: w.probability.map(|p| p.clamp(0.0, 1.0)),
                channel: None,
            })
        })
        .filter(|w| !w.text.is_empty())
        .collect();
    let logprobs: Vec<f64> = wire
        .logprobs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| l.logprob)
        .collect();
    if t.segments.is_empty() {
        t.confidence = confidence::confidence_from_logprobs(&logprobs);
    }
    t.usage = wire
        .usage
        .as_ref()
        .and_then(parse_usage)
        .or_else(|| t.duration_seconds.map(|seconds| Usage::Duration { seconds }));
    t.raw = Some(raw);
    Ok(t)
}

/// The error body in any dialect: (message, code, type).
fn parse_error_body(body: &[u8]) -> (String, Option<String>, Option<String>) {
    let as_code = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        match v.get("error") {
            // OpenAI / Azure / Groq: {"error": {"message", "type", "param", "code"}}
            Some(e @ serde_json::Value::Object(_)) => {
                let message = e
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let code = e.get("code").and_then(as_code);
                let kind = e.get("type").and_then(as_code);
                return (message, code, kind);
            }
            // whisper.cpp: {"error": "..."}
            Some(serde_json::Value::String(s)) => return (s.clone(), None, None),
            _ => {}
        }
        // FastAPI (speaches): {"detail": "..."} or {"detail": [{"msg": ...}]}
        if let Some(detail) = v.get("detail") {
            let message = match detail {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.get("msg")
                            .and_then(serde_json::Value::as_str)
                            .map_or_else(|| i.to_string(), str::to_owned)
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            return (message, None, None);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let cut: String = text.chars().take(300).collect();
    (cut, None, None)
}

/// `retry-after-ms`, then `Retry-After` as seconds or an HTTP date, then "retry after N seconds" in the
/// message (Azure).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap, message: &str) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let parsed = if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        Some(ms / 1000.0)
    } else if let Some(v) = header("retry-after") {
        v.parse::<f64>().ok().or_else(|| {
            chrono::DateTime::parse_from_rfc2822(v).ok().map(|at| {
                (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0
            })
        })
    } else {
        let lower = message.to_ascii_lowercase();
        lower.find("retry after ").and_then(|at| {
            lower[at + 12..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
    };
    parsed
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s).min(MAX_RETRY_AFTER))
}

/// Maps a non-2xx response to a semantic error.
pub(crate) fn map_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    let (message, code, kind) = parse_error_body(body);
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    let code_is = |want: &str| code.as_deref() == Some(want) || kind.as_deref() == Some(want);
    let lower = message.to_ascii_lowercase();
    let retry_after = retry_after(headers, &message);
    let err = match status {
        400 if code_is("content_filter") => Error::ContentFiltered { message },
        400 if lower.contains("longer than") || (lower.contains("duration") && code_is("invalid_value")) => {
            Error::AudioTooLarge { message }
        }
        400 if lower.contains("invalid file format")
            || lower.contains("corrupted")
            || lower.contains("could not be decoded")
            || lower.contains("failed to read audio")
            || lower.contains("failed to decode") =>
        {
            Error::InvalidAudio { reason: message }
        }
        400 | 422 => Error::InvalidRequest { code, message },
        401 => Error::Unauthenticated { message },
        403 => Error::Forbidden { message },
        404 => Error::NotFound { message },
        413 => Error::AudioTooLarge { message },
        429 if code_is("insufficient_quota") => Error::QuotaExceeded { message },
        429 => Error::RateLimited { retry_after, message },
        408 | 409 | 499 | 500..=599 => Error::Unavailable {
            status: Some(status),
            retry_after,
            message,
        },
        _ => Error::Provider {
            status,
            code,
            message,
        },
    };
    // openai-python obeys `x-should-retry` before the status rules.
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("false") if err.is_retryable() => Error::Provider {
            status,
            code: None,
            message: err.to_string(),
        },
        Some("true") if !err.is_retryable() => Error::Unavailable {
            status: Some(status),
            retry_after,
            message: err.to_string(),
        },
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn every_error_dialect_is_understood() {
        let h = HeaderMap::new();
        let e = map_error(
            400,
            &h,
            br#"{"error":{"message":"Unsupported value: 'temperature'","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}"#,
        );
        assert!(
            matches!(&e, Error::InvalidRequest { code: Some(c), message } if c == "unsupported_value" && message.starts_with("Unsupported"))
        );
        let e = map_error(500, &h, br#"{"error":"failed to load model"}"#);
        assert!(
            matches!(&e, Error::Unavailable { status: Some(500), message, .. } if message == "failed to load model")
        );
        let e = map_error(404, &h, br#"{"detail":"Model 'x' is not installed locally."}"#);
        assert!(matches!(&e, Error::NotFound { message } if message.contains("not installed")));
        let e = map_error(
            422,
            &h,
            br#"{"detail":[{"loc":["body","file"],"msg":"Field required","type":"missing"}]}"#,
        );
        assert!(matches!(&e, Error::InvalidRequest { message, .. } if message == "Field required"));
        let e = map_error(404, &h, b"File Not Found (/v1/audio/transcriptions)");
        assert!(matches!(&e, Error::NotFound { message } if message.starts_with("File Not Found")));
        let e = map_error(
            429,
            &h,
            br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert!(matches!(e, Error::QuotaExceeded { .. }) && !e.is_retryable());
        let e = map_error(
            400,
            &h,
            br#"{"error":{"message":"audio duration 1500.2 seconds is longer than 1400 seconds which is the maximum for this model","type":"invalid_request_error","param":null,"code":"invalid_value"}}"#,
        );
        assert!(matches!(e, Error::AudioTooLarge { .. }));
        let e = map_error(
            400,
            &h,
            br#"{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#,
        );
        assert!(matches!(e, Error::ContentFiltered { .. }));
    }

    #[test]
    fn retry_after_headers_in_order_of_precedence() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, ""), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h, ""), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        let at = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&at).unwrap());
        let d = retry_after(&h, "").unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            retry_after(
                &HeaderMap::new(),
                "Rate limit reached. Please retry after 86400 seconds."
            ),
            Some(Duration::from_secs(86400))
        );
        let mut h = HeaderMap::new();
        h.insert("x-should-retry", HeaderValue::from_static("false"));
        assert!(!map_error(503, &h, b"busy").is_retryable());
    }
}
