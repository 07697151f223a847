//! The crate's one error type.
//!
//! Variants say what went wrong in terms a caller can act on. [`Error::is_retryable`] is the only place that decides
//! whether repeating the same request can help.

use std::time::Duration;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `callbook-extract`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input cannot be processed (bad time zone, bad timestamp, a malformed line).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The configuration is incomplete or wrong (missing API key, bad base URL). Names the setting.
    #[error("configuration error: {0}")]
    Config(String),
    /// The provider rejected our credentials (HTTP 401/403).
    #[error("the extraction provider rejected the credentials: {message}")]
    Unauthenticated {
        /// The provider's message.
        message: String,
    },
    /// Too many requests (HTTP 429, not a quota problem).
    #[error("rate limited by the extraction provider (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The account is out of credit (HTTP 429 `insufficient_quota`): needs a human, not a retry.
    #[error("the extraction provider's quota is exhausted: {message}")]
    QuotaExceeded {
        /// The provider's message.
        message: String,
    },
    /// The provider is down or failing (HTTP 5xx, connection refused or reset).
    #[error("extraction provider unavailable (status {status:?}): {message}")]
    Unavailable {
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// What happened.
        message: String,
    },
    /// No response arrived in time.
    #[error("the extraction provider did not answer in time")]
    Timeout,
    /// The model refused to answer (safety refusal).
    #[error("the model refused: {0}")]
    Refused(String),
    /// The provider's content filter stopped the answer.
    #[error("the provider's content filter stopped the answer")]
    ContentFiltered,
    /// The answer was cut off at the token limit.
    #[error("the model's answer was cut off at the token limit")]
    Truncated,
    /// The model's output did not match the schema, even after one repair attempt.
    #[error("the model's output is not valid extraction JSON: {0}")]
    InvalidOutput(String),
    /// The provider answered with an error this crate has no better variant for.
    #[error("extraction provider error (status {status}, code {code:?}): {message}")]
    Provider {
        /// HTTP status.
        status: u16,
        /// The provider's error code.
        code: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// A scripted test double ran out of script.
    #[error("the scripted extractor has no more responses")]
    ScriptExhausted,
}

impl Error {
    /// Whether repeating the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Timeout
        ) || matches!(self, Self::Provider { status, .. } if matches!(status, 408 | 409))
    }

    /// How long the provider asked us to wait before retrying, when it said (HTTP 429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether every later request will fail the same way until a human acts (bad credentials, exhausted quota,
    /// wrong configuration): a batch should stop instead of failing each remaining line.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            Self::Unauthenticated { .. } | Self::QuotaExceeded { .. } | Self::Config(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_errors_and_retry_after() {
        assert!(
            Error::Unauthenticated {
                message: String::new()
            }
            .needs_operator()
        );
        assert!(
            Error::QuotaExceeded {
                message: String::new()
            }
            .needs_operator()
        );
        assert!(Error::Config(String::new()).needs_operator());
        assert!(!Error::Timeout.needs_operator());
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
            message: String::new(),
        };
        assert!(!limited.needs_operator());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(Error::Timeout.retry_after(), None);
    }

    #[test]
    fn retryable_classification() {
        assert!(Error::Timeout.is_retryable());
        assert!(
            Error::RateLimited {
                retry_after: None,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            Error::Unavailable {
                status: Some(503),
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            Error::Provider {
                status: 409,
                code: None,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            !Error::QuotaExceeded {
                message: String::new()
            }
            .is_retryable()
        );
        assert!(!Error::Refused("no".into()).is_retryable());
        assert!(!Error::ContentFiltered.is_retryable());
        assert!(!Error::InvalidOutput("x".into()).is_retryable());
        assert!(
            !Error::Provider {
                status: 400,
                code: None,
                message: String::new()
            }
            .is_retryable()
        );
    }
}
