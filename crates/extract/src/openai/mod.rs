//! The OpenAI Chat Completions backend (feature `openai`): structured outputs with a strict `json_schema`.
//!
//! The model reads the transcript and returns, per appointment, the caller's **date/time phrase** and its own
//! reading of it; [`crate::datetime`] re-resolves the phrase against the call instant in the business's zone, and a
//! disagreement marks `when.ambiguous` and lowers the confidence. Phone numbers are normalised with `phonenumber`;
//! the result goes through [`crate::validate::sanitize`] like every built-in extractor's.
//!
//! Failure modes: a refusal is [`Error::Refused`]; `finish_reason` `length` is [`Error::Truncated`],
//! `content_filter` is [`Error::ContentFiltered`]; output that is not valid JSON for the schema gets **one**
//! repair request, then [`Error::InvalidOutput`]; HTTP 401/403 → [`Error::Unauthenticated`], 429 →
//! [`Error::RateLimited`] (with `Retry-After`) or [`Error::QuotaExceeded`] (`insufficient_quota`), 5xx →
//! [`Error::Unavailable`], anything else → [`Error::Provider`]. This backend does not retry: retry policy belongs
//! to one layer above it ([`Error::is_retryable`]).
//!
//! Provider profiles: [`Provider::OpenAi`] (`Authorization: Bearer`), [`Provider::Azure`] (deployment URL,
//! `api-version`, `api-key` header) and [`Provider::Compatible`] (Ollama, vLLM… — bearer token optional).

mod wire;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::datetime::{self, Reference};
use crate::error::{Error, Result};
use crate::extractor::Extractor;
use crate::rules::phone;
use crate::types::{
    Address, Appointment, CallContext, CallKind, Extraction, ExtractorInfo, Field, Money, Price, PriceKind,
    Transcript, Urgency, WhenField,
};

/// Default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// An API key that never appears in `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which dialect of the Chat Completions API to speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// api.openai.com: `{base}/chat/completions`, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`, `api-key` header.
    Azure {
        /// The deployment name.
        deployment: String,
        /// The `api-version` query value.
        api_version: String,
    },
    /// Any OpenAI-compatible server (Ollama, vLLM, LiteLLM…): like OpenAI, the key is optional.
    Compatible,
}

/// Builds an [`OpenAiExtractor`].
#[derive(Debug, Clone)]
pub struct OpenAiExtractorBuilder {
    api_key: Option<Secret>,
    base_url: String,
    model: String,
    provider: Provider,
    timeout: Duration,
    temperature: Option<f64>,
    max_completion_tokens: u32,
    logprobs: bool,
}

impl Default for OpenAiExtractorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenAiExtractorBuilder {
    /// Defaults: OpenAI, [`DEFAULT_MODEL`], 90 s timeout, temperature 0, 2,000 completion tokens.
    pub fn new() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            model: DEFAULT_MODEL.to_owned(),
            provider: Provider::OpenAi,
            timeout: Duration::from_secs(90),
            temperature: Some(0.0),
            max_completion_tokens: 2000,
            logprobs: false,
        }
    }

    /// Reads `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `CALLBOOK_EXTRACT_MODEL` and `CALLBOOK_EXTRACT_LOGPROBS` (`1`,
    /// `true`, `yes` or `on` asks for token log-probabilities, which then score the fields). A base URL other than
    /// OpenAI's selects [`Provider::Compatible`].
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(key) = std::env::var("OPENAI_API_KEY")
            && !key.trim().is_empty()
        {
            builder.api_key = Some(Secret::new(key.trim()));
        }
        if let Ok(url) = std::env::var("OPENAI_BASE_URL")
            && !url.trim().is_empty()
        {
            builder = builder.with_base_url(url.trim());
            if !url.contains("api.openai.com") {
                builder.provider = Provider::Compatible;
            }
        }
        if let Ok(model) = std::env::var("CALLBOOK_EXTRACT_MODEL")
            && !model.trim().is_empty()
        {
            builder.model = model.trim().to_owned();
        }
        if let Ok(flag) = std::env::var("CALLBOOK_EXTRACT_LOGPROBS") {
            builder.logprobs = logprobs_flag(&flag);
        }
        builder
    }

    /// Sets the API key.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }

    /// Sets the base URL (e.g. a local mock server).
    #[must_use]
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sets the model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets the provider profile.
    #[must_use]
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// Sets the request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the sampling temperature; `None` leaves it out (reasoning models reject non-default values).
    #[must_use]
    pub fn with_temperature(mut self, temperature: Option<f64>) -> Self {
        self.temperature = temperature;
        self
    }

    /// Asks for token log-probabilities (for providers that return them).
    #[must_use]
    pub fn with_logprobs(mut self, logprobs: bool) -> Self {
        self.logprobs = logprobs;
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<OpenAiExtractor> {
        if self.api_key.is_none() && self.provider != Provider::Compatible {
            return Err(Error::Config("OPENAI_API_KEY is not set".to_owned()));
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "OPENAI_BASE_URL must be an http(s) URL, got {:?}",
                self.base_url
            )));
        }
        if self.model.trim().is_empty() {
            return Err(Error::Config("CALLBOOK_EXTRACT_MODEL is empty".to_owned()));
        }
        if self.timeout.is_zero() {
            return Err(Error::Config("the timeout must be positive".to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10).min(self.timeout))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Ok(OpenAiExtractor {
            config: self,
            client,
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
        })
    }
}

/// Token usage recorded by an [`OpenAiExtractor`] since it was built (the same shape as one extraction's
/// [`crate::TokenUsage`]).
pub type Usage = crate::TokenUsage;

/// The Chat Completions extractor. Build it with [`OpenAiExtractor::builder`] or [`OpenAiExtractor::from_env`].
#[derive(Debug)]
pub struct OpenAiExtractor {
    config: OpenAiExtractorBuilder,
    client: reqwest::Client,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

impl OpenAiExtractor {
    /// A builder with defaults.
    pub fn builder() -> OpenAiExtractorBuilder {
        OpenAiExtractorBuilder::new()
    }

    /// A builder from the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `CALLBOOK_EXTRACT_MODEL`).
    pub fn from_env() -> OpenAiExtractorBuilder {
        OpenAiExtractorBuilder::from_env()
    }

    /// Tokens used so far (for metering).
    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.completion_tokens.load(Ordering::Relaxed),
        }
    }

    fn url(&self) -> String {
        match &self.config.provider {
            Provider::Azure {
                deployment,
                api_version,
            } => format!(
                "{}/openai/deployments/{deployment}/chat/completions?api-version={api_version}",
                self.config.base_url
            ),
            _ => format!("{}/chat/completions", self.config.base_url),
        }
    }

    fn request_body(&self, messages: &[Value]) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "messages": messages,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "call_extraction", "strict": true, "schema": wire::schema()}},
            "max_completion_tokens": self.config.max_completion_tokens,
            "store": false,
        });
        if let Some(t) = self.config.temperature {
            body["temperature"] = json!(t);
        }
        if self.config.logprobs {
            body["logprobs"] = json!(true);
        }
        body
    }

    /// One Chat Completions round trip; returns the assistant's JSON text.
    async fn complete(&self, messages: &[Value]) -> Result<(String, Option<Vec<wire::TokenLogprob>>, Usage)> {
        let mut request = self.client.post(self.url()).json(&self.request_body(messages));
        match (&self.config.provider, &self.config.api_key) {
            (Provider::Azure { .. }, Some(key)) => request = request.header("api-key", &key.0),
            (_, Some(key)) => request = request.bearer_auth(&key.0),
            (_, None) => {}
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout
            } else {
                Error::Unavailable {
                    status: None,
                    message: format!("request failed: {}", e.without_url()),
                }
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = wire::retry_after(response.headers());
        let text = response.text().await.map_err(|e| Error::Unavailable {
            status: Some(status),
            message: format!("reading the response: {}", e.without_url()),
        })?;
        if !(200..300).contains(&status) {
            return Err(wire::status_error(status, retry_after, &text));
        }
        let completion: wire::Completion = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidOutput(format!("the response is not a chat completion: {e}")))?;
        let mut used = Usage::default();
        if let Some(usage) = &completion.usage {
            self.prompt_tokens
                .fetch_add(usage.prompt_tokens, Ordering::Relaxed);
            self.completion_tokens
                .fetch_add(usage.completion_tokens, Ordering::Relaxed);
            used = Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            };
        }
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::InvalidOutput("no choices".into()))?;
        if let Some(refusal) = choice.message.refusal.filter(|r| !r.is_empty()) {
            return Err(Error::Refused(refusal));
        }
        match choice.finish_reason.as_deref() {
            Some("length") => return Err(Error::Truncated),
            Some("content_filter") => return Err(Error::ContentFiltered),
            Some("stop" | "tool_calls" | "function_call") | None => {}
            Some(other) => return Err(Error::InvalidOutput(format!("unknown finish_reason {other:?}"))),
        }
        // A forced tool call arrives in tool_calls with finish_reason "stop"; check for it, not for the reason.
        if let Some(call) = choice.message.tool_calls.into_iter().next() {
            return Ok((call.function.arguments, None, used));
        }
        let logprobs = choice.logprobs.and_then(|l| l.content);
        choice
            .message
            .content
            .map(|content| (content, logprobs, used))
            .ok_or_else(|| Error::InvalidOutput("the answer has no content".to_owned()))
    }
}

/// The system prompt: static, so the provider can cache it.
const SYSTEM_PROMPT: &str = "You convert one recorded phone call to a trades business into zero or more booking \
requests. Extract only what was said; unknown is null; never invent phone numbers, names or addresses. The business's \
own name, phone numbers and address are never the customer's. One appointment per distinct visit; no booking intent \
(information only, price shopping, wrong number, spam, cancellation, voicemail without a request) means no \
appointments. A time the business confirmed beats a caller's wish; a correction beats what it corrects. Copy the \
words that carry the final date and time into date_phrase exactly as said, then give your reading as date \
(YYYY-MM-DD) and time (HH:MM, 24-hour, local) using the REFERENCE block only. Phone numbers: the digits as said. \
Prices only when an amount was stated (quote: price of the work; fee: charge for the visit; budget: the caller's \
ceiling). Urgency: emergency (danger or damage now), urgent (within a day, contained), flexible (caller says timing \
does not matter), else normal.";

/// Whether a `CALLBOOK_EXTRACT_LOGPROBS` value switches log-probabilities on.
fn logprobs_flag(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn user_prompt(transcript: &Transcript, context: &CallContext) -> String {
    let local = context.started_at.with_timezone(&context.timezone);
    let mut out = format!(
        "REFERENCE\nbusiness: {}\ntime zone: {}\ncall started: {} ({})\n",
        context.business.name,
        context.timezone.name(),
        local.format("%Y-%m-%d %H:%M %:z"),
        local.format("%A"),
    );
    let list = |items: &[String]| items.join("; ");
    if !context.business.services.is_empty() {
        out.push_str(&format!(
            "services offered: {}\n",
            list(&context.business.services)
        ));
    }
    if !context.business.phone_numbers.is_empty() {
        out.push_str(&format!(
            "the business's own phone numbers (never the customer's): {}\n",
            list(&context.business.phone_numbers)
        ));
    }
    if !context.business.addresses.is_empty() {
        out.push_str(&format!(
            "the business's own addresses (never the service address): {}\n",
            list(&context.business.addresses)
        ));
    }
    if let Some(caller_id) = &context.caller_id {
        out.push_str(&format!(
            "caller ID (the number the customer is calling from): {caller_id}\n"
        ));
    }
    out.push_str(match context.weekday_policy {
        crate::datetime::WeekdayPolicy::AtLeastTwoDays => {
            "\"next <weekday>\" means the first such weekday at least two days after today\n"
        }
        crate::datetime::WeekdayPolicy::FollowingWeek => {
            "\"next <weekday>\" means that weekday in the Monday-to-Sunday week after this one\n"
        }
        crate::datetime::WeekdayPolicy::Nearest => {
            "\"next <weekday>\" means the first such weekday after today\n"
        }
    });
    out.push_str("next 14 days:");
    for offset in 0..14 {
        let day = local.date_naive() + chrono::Duration::days(offset);
        out.push_str(&format!(" {}", day.format("%a %Y-%m-%d")));
    }
    out.push_str("\n\nTRANSCRIPT\n");
    for turn in transcript.turns() {
        let label = match turn.speaker {
            crate::types::Speaker::Caller => "Caller",
            crate::types::Speaker::Agent => "Agent",
            crate::types::Speaker::Unknown => "Speaker",
        };
        out.push_str(&format!("{label}: {}\n", turn.text));
    }
    out
}

#[async_trait]
impl Extractor for OpenAiExtractor {
    fn info(&self) -> ExtractorInfo {
        ExtractorInfo::builtin("openai", Some(self.config.model.clone()))
    }

    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction> {
        let mut messages = vec![
            json!({"role": "system", "content": SYSTEM_PROMPT}),
            json!({"role": "user", "content": user_prompt(transcript, context)}),
        ];
        let (first, first_logprobs, mut used) = self.complete(&messages).await?;
        let (output, content, logprobs) = match serde_json::from_str::<wire::Output>(&first) {
            Ok(output) => (output, first, first_logprobs),
            Err(error) => {
                // One repair attempt, then a clear error.
                messages.push(json!({"role": "assistant", "content": first}));
                messages.push(json!({"role": "user", "content": format!(
                    "That was not valid JSON for the schema ({error}). Reply with the corrected JSON only.")}));
                let (second, second_logprobs, more) = self.complete(&messages).await?;
                used.prompt_tokens += more.prompt_tokens;
                used.completion_tokens += more.completion_tokens;
                let output = serde_json::from_str::<wire::Output>(&second)
                    .map_err(|e| Error::InvalidOutput(format!("after one repair attempt: {e}")))?;
                (output, second, second_logprobs)
            }
        };
        let confidences = logprobs
            .and_then(|tokens| wire::field_confidences(&content, &tokens))
            .unwrap_or_default();
        let extraction = to_extraction(output, context, self.info(), &confidences);
        let mut extraction = crate::validate::sanitize(extraction, transcript, context);
        extraction.usage = Some(used);
        Ok(extraction)
    }
}

/// Maps the model's answer to our types, re-resolving every date/time phrase.
fn to_extraction(
    output: wire::Output,
    context: &CallContext,
    info: ExtractorInfo,
    logprob_confidences: &[std::collections::HashMap<&'static str, f64>],
) -> Extraction {
    let region = context.effective_phone_region();
    let reference = Reference::new(context.started_at, context.timezone).with_policy(context.weekday_policy);
    let call_kind = match output.call_kind.as_str() {
        "live" => CallKind::Live,
        "voicemail" => CallKind::Voicemail,
        "spam" => CallKind::Spam,
        "wrong_number" => CallKind::WrongNumber,
        "empty" => CallKind::Empty,
        _ => CallKind::Unknown,
    };
    let clamp = |c: Option<f64>| c.unwrap_or(0.7).clamp(0.0, 1.0);
    let appointments = output
        .appointments
        .into_iter()
        .enumerate()
        .map(|(index, a)| {
            let confidence = clamp(a.confidence);
            // Token log-probabilities of the value, when the provider returned them; else the model's own figure.
            let conf = |field: &str| {
                logprob_confidences
                    .get(index)
                    .and_then(|m| m.get(field))
                    .copied()
                    .unwrap_or(confidence)
            };
            let evidence = a.evidence.clone().unwrap_or_default();
            let when = a
                .date_phrase
                .as_ref()
                .filter(|p| !p.trim().is_empty())
                .and_then(|phrase| {
                    let resolved = datetime::resolve_text(phrase, &reference);
                    let mut when = resolved.when;
                    let model_date = a
                        .date
                        .as_deref()
                        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                    let model_time = a
                        .time
                        .as_deref()
                        .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok());
                    let disagrees = model_date.is_some() && when.date.is_some() && model_date != when.date
                        || model_time.is_some() && when.time.is_some() && model_time != when.time;
                    // The weakest of the phrase and the model's date and time values, when they were scored.
                    let scored =
                        |field: &str| logprob_confidences.get(index).and_then(|m| m.get(field)).copied();
                    let mut confidence = [scored("date"), scored("time")]
                        .into_iter()
                        .flatten()
                        .fold(conf("date_phrase"), f64::min);
                    if disagrees {
                        when.ambiguous = true;
                        confidence *= 0.6;
                    }
                    if when.date.is_none() && when.time.is_none() && !when.flexible {
                        // Our resolver cannot read the phrase: fall back on the model's own reading, flagged and
                        // with a lower confidence, or nothing when the model gave nothing (DESIGN.md §5).
                        if model_date.is_none() && model_time.is_none() {
                            return None;
                        }
                        when.date = model_date;
                        when.time = model_time;
                        when.start = model_date.zip(model_time).map(|(day, time)| {
                            datetime::local_instant(reference.tz, day, time, &mut Vec::new())
                        });
                        when.ambiguous = true;
                        confidence *= 0.5;
                    }
                    Some(WhenField {
                        value: when,
                        phrase: phrase.clone(),
                        confidence,
                        evidence: evidence.clone(),
                    })
                });
            let price = a.price.and_then(|p| {
                let amount = p.amount.filter(|x| x.is_finite() && *x >= 0.0)?;
                let kind = match p.kind.as_deref() {
                    Some("fee") => PriceKind::Fee,
                    Some("budget") => PriceKind::Budget,
                    _ => PriceKind::Quote,
                };
                let cents = (amount * 100.0).round() as i64;
                Some(Field::new(
                    Price {
                        amount: Money(cents),
                        currency: context.currency().to_owned(),
                        kind,
                    },
                    conf("price"),
                    evidence.clone(),
                ))
            });
            let urgency = a.urgency.as_deref().map(|u| match u {
                "emergency" => Urgency::Emergency,
                "urgent" => Urgency::Urgent,
                "flexible" => Urgency::Flexible,
                _ => Urgency::Normal,
            });
            Appointment {
                customer_name: a
                    .customer_name
                    .filter(|s| !s.trim().is_empty())
                    .map(|v| Field::new(v, conf("customer_name"), evidence.clone())),
                customer_phone: a
                    .customer_phone
                    .and_then(|p| phone::to_e164(&p, &region))
                    .map(|v| Field::new(v, conf("customer_phone"), evidence.clone())),
                service_address: a.service_address.filter(|s| !s.line1.trim().is_empty()).map(|s| {
                    Field::new(
                        Address {
                            line1: s.line1,
                            line2: s.line2,
                            city: s.city,
                            region: s.region,
                            postal_code: s.postal_code,
                            country: None,
                        },
                        conf("service_address"),
                        evidence.clone(),
                    )
                }),
                when,
                job_description: a
                    .job_description
                    .filter(|s| !s.trim().is_empty())
                    .map(|v| Field::new(v, conf("job_description"), evidence.clone())),
                price,
                urgency: urgency.map(|u| Field::new(u, conf("urgency"), evidence.clone())),
                notes: a
                    .notes
                    .filter(|s| !s.trim().is_empty())
                    .map(|v| Field::new(v, conf("notes"), evidence.clone())),
            }
        })
        .collect::<Vec<_>>();
    let confidence = clamp(output.confidence);
    Extraction {
        call_kind,
        appointments,
        confidence,
        extractor: info,
        usage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_appointment(date_phrase: &str, date: Option<&str>, time: Option<&str>) -> Extraction {
        let output: wire::Output = serde_json::from_value(serde_json::json!({
            "call_kind": "live", "confidence": 0.9,
            "appointments": [{
                "evidence": "sometime soonish", "customer_name": null, "customer_phone": null,
                "service_address": null, "date_phrase": date_phrase, "date": date, "time": time,
                "job_description": "leak", "price": null, "urgency": "normal", "notes": null, "confidence": 0.8
            }]
        }))
        .unwrap();
        let started = chrono::DateTime::parse_from_rfc3339("2026-03-10T14:05:00-04:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let context = CallContext::new(started, chrono_tz::America::New_York);
        to_extraction(output, &context, ExtractorInfo::builtin("openai", None), &[])
    }

    #[test]
    fn the_prompt_names_the_distractors_caller_id_and_weekday_policy() {
        let started = chrono::DateTime::parse_from_rfc3339("2026-03-10T14:05:00-04:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut context = CallContext::new(started, chrono_tz::America::New_York);
        context.business.name = "Rivera Plumbing".to_owned();
        context.business.phone_numbers = vec!["+19145550100".to_owned()];
        context.business.addresses = vec!["42 Oak Street, Yonkers".to_owned()];
        context.business.services = vec!["drain cleaning".to_owned()];
        context.caller_id = Some("+19145552177".to_owned());
        let prompt = user_prompt(&Transcript::new("Caller: hi"), &context);
        for needle in [
            "+19145550100",
            "42 Oak Street, Yonkers",
            "drain cleaning",
            "caller ID",
            "+19145552177",
            "at least two days after today",
        ] {
            assert!(prompt.contains(needle), "{needle} missing from {prompt}");
        }
        assert!(logprobs_flag(" 1") && logprobs_flag("TRUE") && !logprobs_flag("0") && !logprobs_flag(""));
    }

    #[test]
    fn date_and_time_logprobs_lower_the_when_confidence() {
        let output: wire::Output = serde_json::from_value(serde_json::json!({
            "call_kind": "live", "confidence": 0.9,
            "appointments": [{
                "evidence": "tomorrow at 3", "customer_name": null, "customer_phone": null,
                "service_address": null, "date_phrase": "tomorrow at 3", "date": "2026-03-11", "time": "15:00",
                "job_description": "leak", "price": null, "urgency": "normal", "notes": null, "confidence": 0.8
            }]
        }))
        .unwrap();
        let started = chrono::DateTime::parse_from_rfc3339("2026-03-10T14:05:00-04:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let context = CallContext::new(started, chrono_tz::America::New_York);
        let scores = vec![std::collections::HashMap::from([
            ("date_phrase", 0.95),
            ("date", 0.9),
            ("time", 0.4),
        ])];
        let extraction = to_extraction(output, &context, ExtractorInfo::builtin("openai", None), &scores);
        let when = extraction.appointments[0].when.as_ref().unwrap();
        assert!((when.confidence - 0.4).abs() < 1e-9, "{}", when.confidence);
    }

    #[test]
    fn an_unreadable_phrase_falls_back_on_the_model_reading() {
        let extraction = one_appointment("the usual slot", Some("2026-03-12"), Some("15:30"));
        let when = extraction.appointments[0].when.as_ref().unwrap();
        assert_eq!(when.value.date, chrono::NaiveDate::from_ymd_opt(2026, 3, 12));
        assert_eq!(when.value.time, chrono::NaiveTime::from_hms_opt(15, 30, 0));
        assert_eq!(
            when.value.start.unwrap().to_rfc3339(),
            "2026-03-12T15:30:00-04:00"
        );
        assert!(when.value.ambiguous);
        assert!(when.confidence < 0.8, "{}", when.confidence);

        let extraction = one_appointment("the usual slot", None, None);
        assert!(extraction.appointments[0].when.is_none());
    }

    #[test]
    fn secrets_do_not_leak_into_debug() {
        let builder = OpenAiExtractor::builder().with_api_key("sk-very-secret");
        assert!(!format!("{builder:?}").contains("sk-very-secret"));
    }

    #[test]
    fn build_validates() {
        assert!(
            matches!(OpenAiExtractor::builder().build(), Err(Error::Config(m)) if m.contains("OPENAI_API_KEY"))
        );
        assert!(
            OpenAiExtractor::builder()
                .with_api_key("k")
                .with_base_url("ftp://x")
                .build()
                .is_err()
        );
        assert!(
            OpenAiExtractor::builder()
                .with_provider(Provider::Compatible)
                .with_base_url("http://localhost:11434/v1")
                .build()
                .is_ok()
        );
    }
}
