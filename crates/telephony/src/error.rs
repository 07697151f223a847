//! The crate's one error type.
//!
//! Variants say *what went wrong* in terms a caller can act on, not which HTTP status a provider happened to
//! send. [`Error::is_retryable`] is the only place that decides whether repeating the same request can help.

use std::time::Duration;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `callbook-telephony`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider rejected our credentials (Twilio 401 / error 20003).
    #[error("the telephony provider rejected the credentials (code {code:?}): {message}")]
    Unauthenticated {
        /// Provider error code, when one was sent.
        code: Option<u32>,
        /// The provider's message.
        message: String,
    },
    /// The credentials are valid but not allowed to do this (HTTP 403).
    #[error("the telephony provider refused the request (code {code:?}): {message}")]
    Forbidden {
        /// Provider error code, when one was sent.
        code: Option<u32>,
        /// The provider's message.
        message: String,
    },
    /// The resource does not exist (Twilio 404 / error 20404).
    #[error("{resource} not found: {message}")]
    NotFound {
        /// What was looked up, e.g. `recording RE…`.
        resource: String,
        /// The provider's message.
        message: String,
    },
    /// The phone number cannot be bought: it is gone, reserved, invalid, or no number matched
    /// (Twilio 21421, 21422, 21451, 21452).
    #[error("phone number unavailable (code {code}): {message}")]
    NumberUnavailable {
        /// Provider error code.
        code: u32,
        /// The provider's message.
        message: String,
    },
    /// The request was invalid; fix it before trying again.
    #[error("invalid request (code {code:?}): {message}")]
    InvalidInput {
        /// Provider error code, when the provider produced this error.
        code: Option<u32>,
        /// What is wrong.
        message: String,
    },
    /// Too many requests (HTTP 429 / Twilio 20429). The request was not processed.
    #[error("rate limited by the telephony provider (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider is down or failing (HTTP 5xx, connection refused or reset).
    #[error("telephony provider unavailable (status {status:?}): {message}")]
    Unavailable {
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// What happened (never a response body that could hold personal data).
        message: String,
    },
    /// No response arrived in time. For a request with side effects the outcome is **unknown**.
    #[error("the telephony provider did not answer in time")]
    Timeout,
    /// The provider answered with an error this crate has no better variant for.
    #[error("telephony provider error (status {status}, code {code:?}): {message}")]
    Provider {
        /// HTTP status.
        status: u16,
        /// Provider error code.
        code: Option<u32>,
        /// The provider's message.
        message: String,
        /// The provider's documentation link for the code.
        more_info: Option<String>,
    },
    /// The provider answered 2xx but the body was not what its API documents.
    #[error("unexpected response from the telephony provider: {message}")]
    Decode {
        /// What could not be understood.
        message: String,
    },
    /// A webhook request's body or parameters are malformed; nothing from it should be stored.
    #[error("malformed webhook: {0}")]
    MalformedWebhook(#[from] crate::events::MalformedWebhook),
    /// A webhook request failed signature verification; nothing from it may be trusted.
    #[error("webhook signature rejected: {0}")]
    InvalidSignature(#[from] crate::signature::SignatureRejected),
    /// The client is misconfigured (missing credentials, bad base URL).
    #[error("telephony configuration error: {0}")]
    Config(String),
    /// A transport failure below HTTP (DNS, TLS). Retried like [`Error::Unavailable`].
    #[error("transport error talking to the telephony provider: {source}")]
    Transport {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Whether sending the **same** request again can succeed.
    ///
    /// True for rate limiting, provider outages, timeouts and transport failures. Callers must still not
    /// repeat a request with side effects (buying a number) after [`Error::Timeout`] or a transport error
    /// without reconciling first: the first attempt may have succeeded.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Unavailable { .. } | Error::Timeout | Error::Transport { .. }
        )
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The provider's numeric error code, if the error came from the provider.
    pub fn provider_code(&self) -> Option<u32> {
        match self {
            Error::Unauthenticated { code, .. }
            | Error::Forbidden { code, .. }
            | Error::InvalidInput { code, .. }
            | Error::Provider { code, .. } => *code,
            Error::NumberUnavailable { code, .. } => Some(*code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(
            Error::RateLimited {
                retry_after: None,
                message: String::new()
            }
            .is_retryable(),
            "429 was not processed, so it is safe to repeat"
        );
        assert!(
            Error::Unavailable {
                status: Some(503),
                message: String::new()
            }
            .is_retryable()
        );
        assert!(Error::Timeout.is_retryable());
        assert!(
            !Error::Unauthenticated {
                code: Some(20003),
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            !Error::NumberUnavailable {
                code: 21422,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            !Error::NotFound {
                resource: "x".into(),
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            !Error::InvalidInput {
                code: None,
                message: String::new()
            }
            .is_retryable()
        );
    }

    #[test]
    fn retry_after_is_exposed() {
        let e = Error::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
            message: String::new(),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(Error::Timeout.retry_after(), None);
    }
}
