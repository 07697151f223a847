//! The HTTP layer: authentication, headers, retries of safe requests, error mapping and logging.
//!
//! Nothing above this module sees a `reqwest` type or an HTTP status; nothing in it knows what a phone number
//! or a recording is.

use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::wire;
use crate::telephony::PageToken;
use crate::{Error, Result};

/// Sent with every request.
pub(crate) const USER_AGENT_VALUE: &str = concat!("callbook-telephony/", env!("CARGO_PKG_VERSION"));

/// Twilio's API version; every resource path starts with it.
pub(crate) const API_PREFIX: &str = "/2010-04-01/Accounts/";

/// Error bodies are read up to this size; anything longer is not a Twilio error document.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A provider message longer than this is cut.
const MAX_MESSAGE_CHARS: usize = 300;

/// Auth tokens and API key secrets share the crate's redacting wrapper.
pub(crate) use crate::signature::Secret;

/// One logical request; attempts are built from it afresh.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// Path with the ids replaced by placeholders; the only form of the path that is logged.
    pub(crate) template: &'static str,
    pub(crate) url: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) form: Option<Vec<(&'static str, String)>>,
    /// What a 404 means, e.g. `recording RE…`.
    pub(crate) resource: &'a str,
    pub(crate) accept: &'static str,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, template: &'static str, url: String, resource: &'a str) -> Self {
        Self {
            method,
            template,
            url,
            query: Vec::new(),
            form: None,
            resource,
            accept: "application/json",
        }
    }
    pub(crate) fn get(template: &'static str, url: String, resource: &'a str) -> Self {
        Self::new(Method::GET, template, url, resource)
    }
    pub(crate) fn delete(template: &'static str, url: String, resource: &'a str) -> Self {
        Self::new(Method::DELETE, template, url, resource)
    }
    pub(crate) fn post(template: &'static str, url: String, resource: &'a str) -> Self {
        Self::new(Method::POST, template, url, resource).with_form(Vec::new())
    }
    pub(crate) fn with_query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }
    pub(crate) fn with_form(mut self, form: Vec<(&'static str, String)>) -> Self {
        self.form = Some(form);
        self
    }
    pub(crate) fn with_accept(mut self, accept: &'static str) -> Self {
        self.accept = accept;
        self
    }
    /// Only requests that change nothing, or change the same thing when repeated, are retried. A POST
    /// (buying a number) never is: a retried purchase can buy twice.
    fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::DELETE)
    }
}

/// How safe requests are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt, for 429, 5xx, timeouts and connection failures.
    pub(crate) max_retries: u32,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub(crate) max_delay: Duration,
}

impl RetryPolicy {
    /// The provider's `Retry-After` when it sent one, else full jitter: `rand(0, min(3 s, 100 ms · 2^n))`.
    fn delay(&self, retry: u32, error: &Error) -> Duration {
        let delay = error.retry_after().unwrap_or_else(|| {
            let ceiling_ms = 100u64.saturating_mul(1u64 << retry.min(16)).min(3_000);
            Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
        });
        delay.min(self.max_delay)
    }
}

/// Authenticated access to `…/2010-04-01/Accounts/{AccountSid}/…`.
#[derive(Clone)]
pub(crate) struct RestClient {
    pub(crate) http: reqwest::Client,
    /// Scheme and authority (and an optional path prefix), no trailing slash.
    pub(crate) base_url: String,
    /// The account in the path; may be a sub-account of the one that authenticates.
    pub(crate) account_sid: String,
    pub(crate) username: String,
    pub(crate) password: Secret,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl RestClient {
    /// `{base}/2010-04-01/Accounts/{AC}/{rest}`; `rest` must already be built from validated ids.
    pub(crate) fn account_url(&self, rest: &str) -> String {
        format!("{}{API_PREFIX}{}/{rest}", self.base_url, self.account_sid)
    }

    /// The URL of the page a token points to. The token is Twilio's relative `next_page_uri` and is followed
    /// verbatim, but only if it is a path of this account's `list` resource: a token can never send our
    /// credentials to another host, another account or another resource.
    pub(crate) fn page_url(&self, token: &PageToken, list: &str) -> Result<String> {
        let token = token.as_str();
        let rest = token
            .strip_prefix(API_PREFIX)
            .and_then(|r| r.strip_prefix(self.account_sid.as_str()));
        let path_matches = rest.and_then(|r| r.strip_prefix('/')).is_some_and(|r| {
            let path = r.split_once('?').map_or(r, |(path, _)| path);
            path == list
        });
        let clean = token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\');
        if path_matches && clean {
            Ok(format!("{}{token}", self.base_url))
        } else {
            Err(Error::InvalidInput {
                code: None,
                message: format!("page token is not a next_page_uri of this account's {list} listing"),
            })
        }
    }

    /// Sends `request` and decodes a 2xx JSON body as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T> {
        let template = request.template;
        let response = self.send(request).await?;
        let body = response.bytes().await.map_err(transport_error)?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            // serde's message can quote the offending value; only its position and kind go into the error.
            message: format!(
                "{template}: invalid JSON ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }

    /// Sends `request` and discards a 2xx body (`DELETE` answers 204).
    pub(crate) async fn no_content(&self, request: Request<'_>) -> Result<()> {
        self.send(request).await.map(drop)
    }

    /// Sends `request`, retrying it when it is idempotent and the failure [is retryable](Error::is_retryable),
    /// and returns the 2xx response or the mapped error.
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<reqwest::Response> {
        let mut retry = 0;
        loop {
            let error = match self.attempt(&request, retry).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if !request.is_idempotent() || !error.is_retryable() || retry >= self.retry.max_retries {
                return Err(error);
            }
            let delay = self.retry.delay(retry, &error);
            tracing::debug!(
                method = %request.method,
                path = request.template,
                retry = retry + 1,
                delay_ms = delay.as_millis() as u64,
                "retrying twilio request"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt(&self, request: &Request<'_>, retry: u32) -> Result<reqwest::Response> {
        let started = Instant::now();
        let mut builder = self
            .http
            .request(request.method.clone(), &request.url)
            .basic_auth(&self.username, Some(self.password.expose()))
            .header(ACCEPT, request.accept)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .timeout(self.timeout);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(form) = &request.form {
            builder = builder.form(form);
        }
        let outcome = builder.send().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match outcome {
            Ok(response) => response,
            Err(e) => {
                let error = transport_error(e);
                tracing::debug!(
                    method = %request.method,
                    path = request.template,
                    elapsed_ms,
                    attempt = retry + 1,
                    error = error_kind(&error),
                    "twilio request failed"
                );
                return Err(error);
            }
        };
        let status = response.status();
        tracing::debug!(
            method = %request.method,
            path = request.template,
            status = status.as_u16(),
            elapsed_ms,
            attempt = retry + 1,
            "twilio request"
        );
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let body = read_capped(response).await;
        Err(error_from_response(status, retry_after, &body, request.resource))
    }
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
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

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = wire::parse_date(value)?;
    Some((at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// Maps a non-2xx response to an error. Only the provider's own message (never the raw body) is kept.
pub(crate) fn error_from_response(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    resource: &str,
) -> Error {
    let parsed: Option<wire::ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let more_info = parsed.as_ref().and_then(|b| b.link()).map(str::to_owned);
    let message = parsed
        .as_ref()
        .and_then(|b| b.text())
        .map(sanitize)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| match status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        });
    match (status.as_u16(), code) {
        (_, Some(20003)) | (401, _) => Error::Unauthenticated { code, message },
        (_, Some(20429)) | (429, _) => Error::RateLimited { retry_after, message },
        (_, Some(code @ (21421 | 21422 | 21451 | 21452))) => Error::NumberUnavailable { code, message },
        (403, _) => Error::Forbidden { code, message },
        (_, Some(20404)) | (404, _) => Error::NotFound {
            resource: resource.to_owned(),
            message,
        },
        (500..=599, _) => Error::Unavailable {
            status: Some(status.as_u16()),
            message,
        },
        (400 | 422, _) => Error::InvalidInput { code, message },
        (status, code) => Error::Provider {
            status,
            code,
            message,
            more_info,
        },
    }
}

/// Control characters out, length capped.
fn sanitize(message: &str) -> String {
    let mut out: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if message.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out.trim().to_owned()
}

/// A failure below HTTP. The URL (which holds ids, never secrets) is dropped all the same.
pub(crate) fn transport_error(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else if e.is_connect() {
        Error::Unavailable {
            status: None,
            message: "could not connect to the telephony provider".into(),
        }
    } else {
        Error::Transport {
            source: Box::new(e.without_url()),
        }
    }
}

fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Timeout => "timeout",
        Error::Unavailable { .. } => "connect",
        _ => "transport",
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
            "thing X",
        )
    }

    #[test]
    fn classic_error_bodies_map_by_code_then_status() {
        assert!(matches!(
            map(401, r#"{"code":20003,"message":"Authenticate","status":401}"#),
            Error::Unauthenticated {
                code: Some(20003),
                ..
            }
        ));
        assert!(matches!(map(403, "{}"), Error::Forbidden { code: None, .. }));
        match map(
            404,
            r#"{"code":20404,"message":"The requested resource was not found","status":404}"#,
        ) {
            Error::NotFound { resource, message } => {
                assert_eq!(resource, "thing X");
                assert_eq!(message, "The requested resource was not found");
            }
            other => panic!("{other:?}"),
        }
        for code in [21421, 21422, 21451, 21452] {
            let e = map(400, &format!(r#"{{"code":{code},"message":"no","status":400}}"#));
            assert!(
                matches!(e, Error::NumberUnavailable { code: c, .. } if c == code),
                "{code}"
            );
        }
        assert!(matches!(
            map(400, r#"{"code":21457,"message":"m"}"#),
            Error::InvalidInput {
                code: Some(21457),
                ..
            }
        ));
        assert!(matches!(map(429, r#"{"code":20429}"#), Error::RateLimited { .. }));
        assert!(matches!(
            map(503, ""),
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ));
        match map(
            409,
            r#"{"code":12345,"message":"conflict","more_info":"https://www.twilio.com/docs/errors/12345"}"#,
        ) {
            Error::Provider {
                status: 409,
                code: Some(12345),
                more_info: Some(link),
                ..
            } => {
                assert!(link.ends_with("12345"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_json_bodies_fall_back_to_the_status() {
        let e = map(
            502,
            "<html><body><h1>502 Bad Gateway</h1>secret stuff</body></html>",
        );
        let text = e.to_string();
        assert!(matches!(
            e,
            Error::Unavailable {
                status: Some(502),
                ..
            }
        ));
        assert!(!text.contains('<') && !text.contains("secret"), "{text}");
        assert!(text.contains("Bad Gateway"), "{text}");
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        let e = map(400, &format!(r#"{{"message":"{long}"}}"#));
        assert!(e.to_string().len() < 600);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "Thu, 01 Jan 1970 00:00:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn jitter_stays_under_the_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            max_retries: 3,
            max_delay: Duration::from_secs(30),
        };
        let unavailable = Error::Unavailable {
            status: Some(503),
            message: String::new(),
        };
        for retry in 0..40 {
            let ceiling = Duration::from_millis((100u64 << retry.min(5)).min(3000));
            assert!(policy.delay(retry, &unavailable) <= ceiling);
        }
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
            message: String::new(),
        };
        assert_eq!(policy.delay(0, &limited), Duration::from_secs(30));
    }
}
