//! Batch extraction over JSONL, the contract of `callbook extract` (DESIGN.md §5), kept here so every program that
//! offers it behaves the same.
//!
//! Input lines: `{"id", "transcript", "call_started_at" (RFC 3339), "timezone" (IANA)}` plus any other keys
//! (ignored). Output lines: `{"id", "extraction"}`, or `{"id", "error"}` when the line cannot be processed.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::extractor::Extractor;
use crate::rules::RulesExtractor;
use crate::types::{CallContext, Transcript};

/// One parsed input line.
#[derive(Debug, Clone)]
pub struct BatchInput {
    /// The line's `id`, as given (any JSON value; `null` when absent).
    pub id: Value,
    /// The transcript.
    pub transcript: Transcript,
    /// The call context (start instant and zone; no business profile).
    pub context: CallContext,
}

/// Why an input line cannot be processed.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    /// The line's `id` when it could be read, else `null`.
    pub id: Value,
    /// What is wrong.
    pub message: String,
}

/// Parses one input line.
pub fn parse_line(line: &str) -> Result<BatchInput, LineError> {
    let value: Value = serde_json::from_str(line).map_err(|e| LineError {
        id: Value::Null,
        message: format!("invalid JSON: {e}"),
    })?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let fail = |message: String| LineError {
        id: id.clone(),
        message,
    };
    let object = value
        .as_object()
        .ok_or_else(|| fail("a line must be a JSON object".to_owned()))?;
    let field = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| fail(format!("missing string field `{name}`")))
    };
    let transcript = field("transcript")?;
    let started = chrono::DateTime::parse_from_rfc3339(field("call_started_at")?)
        .map_err(|e| fail(format!("`call_started_at` is not RFC 3339: {e}")))?
        .with_timezone(&chrono::Utc);
    let zone_name = field("timezone")?;
    let zone: chrono_tz::Tz = zone_name
        .parse()
        .map_err(|_| fail(format!("unknown IANA time zone {zone_name:?}")))?;
    Ok(BatchInput {
        id,
        transcript: Transcript::new(transcript),
        context: CallContext::new(started, zone),
    })
}

/// One output line: `{"id", "extraction"}` or `{"id", "error"}`, serialised with `id` first and the extraction's
/// keys in the order of DESIGN.md §5.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchOutput {
    /// The input line's `id` (`null` when it could not be read).
    pub id: Value,
    /// The extraction, when the line was processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extraction: Option<crate::types::Extraction>,
    /// Why the line could not be processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Processes one input line into one output line (never fails: problems become `{"id", "error"}`).
pub async fn process_line(extractor: &dyn Extractor, line: &str) -> BatchOutput {
    match parse_line(line) {
        Ok(input) => match extractor.extract(&input.transcript, &input.context).await {
            Ok(extraction) => BatchOutput {
                id: input.id,
                extraction: Some(extraction),
                error: None,
            },
            Err(error) => BatchOutput {
                id: input.id,
                extraction: None,
                error: Some(error.to_string()),
            },
        },
        Err(error) => BatchOutput {
            id: error.id,
            extraction: None,
            error: Some(error.message),
        },
    }
}

/// The extractor a program should use: the explicit choice, else `CALLBOOK_EXTRACTOR`, else `openai` when an
/// OpenAI API key is set, else `rules`. Pass the environment values in (this function reads no environment).
pub fn choose_extractor(
    flag: Option<&str>,
    callbook_extractor: Option<&str>,
    openai_api_key: Option<&str>,
) -> String {
    let non_empty = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    non_empty(flag)
        .or_else(|| non_empty(callbook_extractor))
        .unwrap_or_else(|| {
            if non_empty(openai_api_key).is_some() {
                "openai".to_owned()
            } else {
                "rules".to_owned()
            }
        })
}

/// Builds an extractor by name: `rules`, or `openai` configured from the environment (`OPENAI_API_KEY`,
/// `OPENAI_BASE_URL`, `CALLBOOK_EXTRACT_MODEL`; needs the `openai` feature).
pub fn extractor_from_name(name: &str) -> Result<Arc<dyn Extractor>> {
    match name {
        "rules" => Ok(Arc::new(RulesExtractor::new())),
        "openai" => openai_from_env(),
        other => Err(Error::Config(format!(
            "unknown extractor {other:?} (expected `rules` or `openai`)"
        ))),
    }
}

#[cfg(feature = "openai")]
fn openai_from_env() -> Result<Arc<dyn Extractor>> {
    Ok(Arc::new(crate::openai::OpenAiExtractor::from_env().build()?))
}

#[cfg(not(feature = "openai"))]
fn openai_from_env() -> Result<Arc<dyn Extractor>> {
    Err(Error::Config(
        "this build of callbook-extract has no `openai` feature; use the `rules` extractor".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_order() {
        assert_eq!(
            choose_extractor(Some("rules"), Some("openai"), Some("sk")),
            "rules"
        );
        assert_eq!(choose_extractor(None, Some("rules"), Some("sk")), "rules");
        assert_eq!(choose_extractor(None, None, Some("sk")), "openai");
        assert_eq!(choose_extractor(None, Some(" "), None), "rules");
        assert_eq!(choose_extractor(None, None, None), "rules");
    }

    #[test]
    fn line_errors_keep_the_id() {
        let e =
            parse_line(r#"{"id": 7, "transcript": "x", "call_started_at": "yesterday", "timezone": "UTC"}"#)
                .unwrap_err();
        assert_eq!(e.id, serde_json::json!(7));
        assert!(e.message.contains("RFC 3339"));
        let e = parse_line(r#"{"id": "a", "transcript": "x", "call_started_at": "2026-03-10T14:05:00-04:00", "timezone": "Mars/Base"}"#).unwrap_err();
        assert!(e.message.contains("Mars/Base"));
        assert_eq!(parse_line("{not json").unwrap_err().id, Value::Null);
        assert!(
            parse_line(r#"{"id": 1, "call_started_at": "2026-03-10T14:05:00Z", "timezone": "UTC"}"#)
                .unwrap_err()
                .message
                .contains("transcript")
        );
    }

    #[tokio::test]
    async fn processes_a_line() {
        let out = process_line(
            &RulesExtractor::new(),
            r#"{"id": "x", "transcript": "Caller: hi", "call_started_at": "2026-03-10T14:05:00-04:00", "timezone": "America/New_York", "extra": 1}"#,
        )
        .await;
        assert_eq!(out.id, "x");
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            text.starts_with(r#"{"id":"x","extraction":{"call_kind":"empty","appointments":[]"#),
            "{text}"
        );
    }
}
