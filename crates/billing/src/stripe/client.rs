//! The HTTP layer: authentication, pinned API version, idempotency keys, retries, error mapping, logging.
//!
//! Nothing above this module sees a `reqwest` type or an HTTP status; nothing in it knows what a tenant is.

use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::webhook::Secret;
use crate::wire;
use crate::{Error, Result};

/// Sent with every request.
pub(crate) const USER_AGENT_VALUE: &str = concat!("callbook-billing/", env!("CARGO_PKG_VERSION"));

/// Error bodies are read up to this size; anything longer is not a Stripe error document.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A provider message longer than this is cut.
const MAX_MESSAGE_CHARS: usize = 300;

/// One logical request; every attempt is built from it afresh and carries the same idempotency key.
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The path with ids replaced by placeholders; the only form of the path that is logged.
    pub(crate) template: &'static str,
    /// The path, e.g. `/v1/customers`.
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) idempotency_key: Option<String>,
    /// What a 404 means, e.g. `subscription sub_…`.
    pub(crate) resource: String,
}

impl Request {
    pub(crate) fn get(template: &'static str, path: String, resource: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            template,
            path,
            query: Vec::new(),
            form: Vec::new(),
            idempotency_key: None,
            resource: resource.into(),
        }
    }
    /// A POST; `idempotency_key` is sent as `Idempotency-Key` on every attempt.
    pub(crate) fn post(
        template: &'static str,
        path: String,
        resource: impl Into<String>,
        idempotency_key: String,
    ) -> Self {
        Self {
            method: Method::POST,
            idempotency_key: Some(idempotency_key),
            ..Self::get(template, path, resource)
        }
    }
    pub(crate) fn delete(template: &'static str, path: String, resource: impl Into<String>) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(template, path, resource)
        }
    }
    pub(crate) fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }
    pub(crate) fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.form.push((name.to_owned(), value.into()));
        self
    }
}

/// How requests are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// First backoff ceiling; doubles per retry.
    pub(crate) initial_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub(crate) max_delay: Duration,
}

impl RetryPolicy {
    /// The provider's `Retry-After` when it sent one, else full jitter: `rand(0, initial · 2^n)`, capped.
    fn delay(&self, retry: u32, error: &Error) -> Duration {
        let delay = error.retry_after().unwrap_or_else(|| {
            let ceiling = self
                .initial_delay
                .saturating_mul(1u32 << retry.min(16))
                .min(self.max_delay);
            let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(rand::rng().random_range(0..=ms))
        });
        delay.min(self.max_delay)
    }
}

/// A failed attempt: the error and Stripe's own verdict on retrying it (`Stripe-Should-Retry`).
struct Failure {
    error: Error,
    should_retry: Option<bool>,
}

/// Authenticated access to Stripe's `/v1` API.
#[derive(Clone)]
pub(crate) struct RestClient {
    pub(crate) http: reqwest::Client,
    /// Scheme and authority (and an optional path prefix), no trailing slash.
    pub(crate) base_url: String,
    pub(crate) secret_key: Secret,
    pub(crate) api_version: String,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &self.secret_key)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl RestClient {
    /// Sends `request` (with retries) and decodes the 2xx JSON body as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let response = self.send(request).await?;
        let body = response.bytes().await.map_err(transport_error)?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            // serde's message can quote a value; only the position and kind go into the error.
            message: format!(
                "{} {}: unexpected JSON ({:?} error at line {} column {})",
                request.method,
                request.template,
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }

    /// Sends `request`, retrying when Stripe says so (`Stripe-Should-Retry: true`) or, without that header,
    /// when the error [is retryable](Error::is_retryable); `Stripe-Should-Retry: false` stops retries.
    /// Every attempt carries the same `Idempotency-Key`, so a retried write acts at most once.
    async fn send(&self, request: &Request) -> Result<reqwest::Response> {
        let mut retry = 0;
        loop {
            let failure = match self.attempt(request, retry).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let retryable = failure
                .should_retry
                .unwrap_or_else(|| failure.error.is_retryable());
            if !retryable || retry >= self.retry.max_retries {
                return Err(failure.error);
            }
            let delay = self.retry.delay(retry, &failure.error);
            tracing::debug!(
                method = %request.method,
                path = request.template,
                retry = retry + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying stripe request"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt(
        &self,
        request: &Request,
        retry: u32,
    ) -> std::result::Result<reqwest::Response, Failure> {
        let started = Instant::now();
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), &url)
            .header(AUTHORIZATION, format!("Bearer {}", self.secret_key.expose()))
            .header("Stripe-Version", &self.api_version)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .timeout(self.timeout);
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if request.method == Method::POST {
            builder = builder.form(&request.form);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                let error = transport_error(e);
                tracing::debug!(
                    method = %request.method,
                    path = request.template,
                    elapsed_ms = elapsed_ms(started),
                    attempt = retry + 1,
                    "stripe request failed: {error}"
                );
                return Err(Failure {
                    error,
                    should_retry: None,
                });
            }
        };
        let status = response.status();
        let request_id = header(response.headers(), "request-id");
        tracing::debug!(
            method = %request.method,
            path = request.template,
            status = status.as_u16(),
            elapsed_ms = elapsed_ms(started),
            attempt = retry + 1,
            request_id = request_id.as_deref().unwrap_or(""),
            replayed = header(response.headers(), "idempotent-replayed").as_deref() == Some("true"),
            "stripe request"
        );
        if status.is_success() {
            return Ok(response);
        }
        let should_retry = match header(response.headers(), "stripe-should-retry").as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let retry_after = retry_after(response.headers());
        let body = read_capped(response).await;
        Err(Failure {
            error: error_from_response(status, retry_after, &body, &request.resource),
            should_retry,
        })
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// Reads at most [`MAX_ERROR_BODY`] bytes; a body that cannot be read counts as empty.
async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    body
}

/// `Retry-After` in delta-seconds (what Stripe sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn transport_error(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else if e.is_connect() {
        Error::Unavailable {
            status: None,
            message: "could not connect to the billing provider".into(),
        }
    } else {
        Error::Transport { source: Box::new(e) }
    }
}

/// Maps a non-2xx response to an error from its status and Stripe's error object
/// `{"error":{"type","code","message","param","decline_code"}}`. Only Stripe's message is kept, never the raw
/// body.
pub(crate) fn error_from_response(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    resource: &str,
) -> Error {
    let object = serde_json::from_slice::<wire::ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_default();
    let message = object
        .message
        .as_deref()
        .map(sanitize)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| match status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        });
    let error_type = object.error_type.as_deref().unwrap_or("");
    let code = object.code.as_deref().unwrap_or("");
    match status.as_u16() {
        401 => Error::Unauthenticated { message },
        403 => Error::Forbidden { message },
        402 => Error::PaymentFailed {
            code: object.code,
            decline_code: object.decline_code,
            message,
        },
        409 => Error::Conflict { message },
        429 => Error::RateLimited { retry_after, message },
        _ if error_type == "idempotency_error" => Error::IdempotencyKeyReused { message },
        _ if error_type == "card_error" => Error::PaymentFailed {
            code: object.code,
            decline_code: object.decline_code,
            message,
        },
        404 => Error::not_found(resource, message),
        // A missing object named by a parameter (`items[0][price]`, `customer`): name the parameter.
        400 if code == "resource_missing" => {
            Error::not_found(object.param.as_deref().unwrap_or(resource), message)
        }
        400 => Error::InvalidInput {
            code: object.code,
            param: object.param,
            message,
        },
        s if s >= 500 => Error::Unavailable {
            status: Some(s),
            message,
        },
        s => Error::Provider {
            status: s,
            error_type: object.error_type,
            code: object.code,
            message,
        },
    }
}

/// One line, printable, at most [`MAX_MESSAGE_CHARS`] characters.
fn sanitize(message: &str) -> String {
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() > MAX_MESSAGE_CHARS {
        let mut cut: String = clean.chars().take(MAX_MESSAGE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> Error {
        error_from_response(
            StatusCode::from_u16(status).unwrap(),
            None,
            body.as_bytes(),
            "customer cus_1",
        )
    }

    #[test]
    fn maps_status_and_type() {
        let e = map(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"parameter_missing","param":"items","message":"Missing required param: items."}}"#,
        );
        assert!(
            matches!(e, Error::InvalidInput { ref code, ref param, .. } if code.as_deref() == Some("parameter_missing") && param.as_deref() == Some("items"))
        );
        let e = map(
            404,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_1'"}}"#,
        );
        assert!(matches!(e, Error::NotFound { ref resource, .. } if resource == "customer cus_1"));
        let e = map(
            402,
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#,
        );
        assert!(
            matches!(e, Error::PaymentFailed { ref decline_code, .. } if decline_code.as_deref() == Some("insufficient_funds"))
        );
        assert!(matches!(
            map(
                400,
                r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#
            ),
            Error::IdempotencyKeyReused { .. }
        ));
        assert!(matches!(
            map(
                401,
                r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****abcd"}}"#
            ),
            Error::Unauthenticated { .. }
        ));
        assert!(matches!(map(409, "{}"), Error::Conflict { .. }));
        assert!(matches!(
            map(503, "<html>"),
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(map(418, "{}"), Error::Provider { status: 418, .. }));
    }

    #[test]
    fn long_or_multiline_messages_are_cleaned() {
        let long = "x".repeat(1000);
        let e = map(
            400,
            &format!(r#"{{"error":{{"type":"invalid_request_error","message":"{long}\nsecond"}}}}"#),
        );
        let Error::InvalidInput { message, .. } = e else {
            panic!("{e:?}")
        };
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(!message.contains('\n'));
    }

    #[test]
    fn backoff_respects_retry_after_and_the_cap() {
        let p = RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
            message: String::new(),
        };
        assert_eq!(p.delay(0, &limited), Duration::from_secs(2));
        for n in 0..20 {
            assert!(p.delay(n, &Error::Timeout) <= Duration::from_secs(2));
        }
    }
}
