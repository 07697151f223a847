//! The crate's one error type.
//!
//! Variants say *what went wrong* in terms a caller can act on (show the card error to the owner, fix the
//! configuration, try again later), not which HTTP status Stripe happened to send. [`Error::is_retryable`] is
//! the one place that decides whether repeating the same request can help.

use std::time::Duration;

use crate::webhook::WebhookRejected;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `callbook-billing`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider rejected the API key (Stripe 401, `authentication_error`).
    #[error("the billing provider rejected the API key: {message}")]
    Unauthenticated {
        /// The provider's message.
        message: String,
    },
    /// The key is valid but may not do this (Stripe 403, e.g. a restricted key without the permission).
    #[error("the billing provider refused the request: {message}")]
    Forbidden {
        /// The provider's message.
        message: String,
    },
    /// The object does not exist (Stripe 404, `resource_missing`), or the tenant has no billing customer yet.
    #[error("{resource} not found: {message}")]
    NotFound {
        /// What was looked up, e.g. `customer for tenant t-1` or `subscription sub_…`.
        resource: String,
        /// The provider's message.
        message: String,
    },
    /// The request was invalid (Stripe 400, `invalid_request_error`); fix it before trying again.
    #[error("invalid billing request (code {code:?}, param {param:?}): {message}")]
    InvalidInput {
        /// Provider error code (`parameter_missing`, …), when the provider produced this error.
        code: Option<String>,
        /// The offending parameter, when known.
        param: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A payment failed (Stripe 402, `card_error`): show `message` to the account owner.
    #[error("payment failed (code {code:?}, decline code {decline_code:?}): {message}")]
    PaymentFailed {
        /// Stripe's error code, e.g. `card_declined`.
        code: Option<String>,
        /// The issuer's reason, e.g. `insufficient_funds`.
        decline_code: Option<String>,
        /// A message safe to show to the card holder.
        message: String,
    },
    /// An idempotency key was reused with different parameters (Stripe 400, `idempotency_error`). A bug in the
    /// caller: the same key must always carry the same request.
    #[error("idempotency key reused with different parameters: {message}")]
    IdempotencyKeyReused {
        /// The provider's message.
        message: String,
    },
    /// Another request with the same idempotency key is still in flight, or the object was changed
    /// concurrently (Stripe 409). Safe to repeat with the same key.
    #[error("conflicting concurrent request: {message}")]
    Conflict {
        /// The provider's message.
        message: String,
    },
    /// Too many requests (Stripe 429, `rate_limit_error` or `lock_timeout`). The request was not processed.
    #[error("rate limited by the billing provider (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider is down or failing (Stripe 5xx `api_error`, connection refused or reset).
    #[error("billing provider unavailable (status {status:?}): {message}")]
    Unavailable {
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// What happened.
        message: String,
    },
    /// No response arrived in time. For a write the outcome is unknown; repeating it with the same
    /// idempotency key is safe, which is what the Stripe backend does.
    #[error("the billing provider did not answer in time")]
    Timeout,
    /// The provider answered with an error this crate has no better variant for.
    #[error("billing provider error (status {status}, type {error_type:?}, code {code:?}): {message}")]
    Provider {
        /// HTTP status.
        status: u16,
        /// Stripe's error `type`.
        error_type: Option<String>,
        /// Stripe's error `code`.
        code: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// The provider answered 2xx but the body was not what its API documents.
    #[error("unexpected response from the billing provider: {message}")]
    Decode {
        /// What could not be understood.
        message: String,
    },
    /// A webhook failed signature verification; nothing from it may be trusted.
    #[error("webhook rejected: {0}")]
    InvalidSignature(#[from] WebhookRejected),
    /// A webhook's signature is valid but its body is not a Stripe event.
    #[error("malformed webhook event: {0}")]
    MalformedWebhook(String),
    /// The backend is misconfigured (missing key, bad base URL); the message names the variable.
    #[error("billing configuration error: {0}")]
    Config(String),
    /// A transport failure below HTTP (DNS, TLS, connection reset). Retried like [`Error::Unavailable`].
    #[error("transport error talking to the billing provider: {source}")]
    Transport {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Whether sending the **same** request again (with the same idempotency key) can succeed.
    ///
    /// True for rate limiting, concurrent-request conflicts, provider outages, timeouts and transport
    /// failures. Every write in this crate carries an idempotency key, so repeating it cannot act twice.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Conflict { .. }
                | Error::Unavailable { .. }
                | Error::Timeout
                | Error::Transport { .. }
        )
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            code: None,
            param: None,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(resource: impl Into<String>, message: impl Into<String>) -> Self {
        Error::NotFound {
            resource: resource.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retryable() {
        let retryable = [
            Error::RateLimited {
                retry_after: None,
                message: String::new(),
            },
            Error::Conflict {
                message: String::new(),
            },
            Error::Unavailable {
                status: Some(500),
                message: String::new(),
            },
            Error::Timeout,
        ];
        for e in &retryable {
            assert!(e.is_retryable(), "{e:?}");
        }
        let final_errors = [
            Error::Unauthenticated {
                message: String::new(),
            },
            Error::invalid("bad"),
            Error::not_found("customer", "gone"),
            Error::PaymentFailed {
                code: Some("card_declined".into()),
                decline_code: None,
                message: String::new(),
            },
            Error::IdempotencyKeyReused {
                message: String::new(),
            },
            Error::Config("x".into()),
        ];
        for e in &final_errors {
            assert!(!e.is_retryable(), "{e:?}");
        }
    }

    #[test]
    fn retry_after_is_exposed() {
        let e = Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
            message: String::new(),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(Error::Timeout.retry_after(), None);
    }
}
