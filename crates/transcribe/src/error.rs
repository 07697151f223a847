//! The crate's one error type.
//!
//! Variants say *what went wrong* in terms a caller can act on, not which HTTP status a provider happened to
//! send. [`Error::is_retryable`] is the only place that decides whether repeating the same request can help.

use std::time::Duration;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `callbook-transcribe`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The audio is empty, truncated, of an unknown format or cannot be decoded. Sending it again will not help;
    /// the bytes are left untouched, so nothing is lost.
    #[error("invalid audio: {reason}")]
    InvalidAudio {
        /// What is wrong with it (never the audio itself).
        reason: String,
    },
    /// The audio is valid but this backend cannot handle its format or codec (e.g. Opus for local decoding).
    #[error("unsupported audio: {reason}")]
    UnsupportedAudio {
        /// Which format or codec, and why.
        reason: String,
    },
    /// The audio exceeds the provider's size or duration limit (HTTP 413, or a 400 saying the audio is too
    /// long). Split it ([`crate::chunking`]) or re-encode it.
    #[error("audio too large for the provider: {message}")]
    AudioTooLarge {
        /// The provider's message or our own check's.
        message: String,
    },
    /// The provider rejected our credentials (HTTP 401).
    #[error("the transcription provider rejected the credentials: {message}")]
    Unauthenticated {
        /// The provider's message.
        message: String,
    },
    /// The credentials are valid but not allowed to do this (HTTP 403, region not supported).
    #[error("the transcription provider refused the request: {message}")]
    Forbidden {
        /// The provider's message.
        message: String,
    },
    /// The model, deployment or endpoint does not exist (HTTP 404: unknown model, Azure deployment not found,
    /// speaches model not installed, wrong whisper.cpp path).
    #[error("not found at the transcription provider: {message}")]
    NotFound {
        /// The provider's message.
        message: String,
    },
    /// The request was invalid (HTTP 400/422); fix it before trying again.
    #[error("invalid transcription request (code {code:?}): {message}")]
    InvalidRequest {
        /// The provider's error code (`invalid_value`, `unsupported_value`…), when it sent one.
        code: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The account's credit or budget is exhausted (429 `insufficient_quota`). Needs account action.
    #[error("transcription quota exhausted: {message}")]
    QuotaExceeded {
        /// The provider's message.
        message: String,
    },
    /// The provider's content filter refused the request (Azure `content_filter`).
    #[error("the transcription provider's content filter refused the request: {message}")]
    ContentFiltered {
        /// The provider's message.
        message: String,
    },
    /// Too many requests (HTTP 429). The request was not processed.
    #[error("rate limited by the transcription provider (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider is down, overloaded or failing (408, 409, 5xx, connection refused or reset).
    #[error("transcription provider unavailable (status {status:?}): {message}")]
    Unavailable {
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// What happened.
        message: String,
    },
    /// No response arrived in time. The attempt may still have been billed.
    #[error("the transcription provider did not answer in time")]
    Timeout,
    /// The provider answered with an error this crate has no better variant for.
    #[error("transcription provider error (status {status}, code {code:?}): {message}")]
    Provider {
        /// HTTP status.
        status: u16,
        /// The provider's error code, when it sent one.
        code: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// The provider answered 2xx but the body was not what its API documents.
    #[error("unexpected response from the transcription provider: {message}")]
    Decode {
        /// What could not be understood.
        message: String,
    },
    /// A scripted or sidecar fake has no transcript for this audio.
    #[error("no transcript available: {message}")]
    NoTranscript {
        /// Which audio (by hash or file name) had none.
        message: String,
    },
    /// The backend is misconfigured (missing key, bad base URL, missing model file, feature not compiled in).
    #[error("transcription configuration error: {0}")]
    Config(String),
    /// A transport failure below HTTP (DNS, TLS, connection reset). Retried like [`Error::Unavailable`].
    #[error("transport error talking to the transcription provider: {source}")]
    Transport {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A local backend failed (decoder, model inference, I/O).
    #[error("local transcription failed: {message}")]
    Local {
        /// What failed.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidAudio`].
    pub fn invalid_audio(reason: impl Into<String>) -> Self {
        Error::InvalidAudio {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Local`] without a source.
    pub fn local(message: impl Into<String>) -> Self {
        Error::Local {
            message: message.into(),
            source: None,
        }
    }

    /// Whether sending the **same** request again can succeed.
    ///
    /// True for rate limiting (not for exhausted quota), provider outages, timeouts and transport failures.
    /// Transcription has no side effects at the provider, so a retry can cost money but never duplicate state.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Unavailable { .. } | Error::Timeout | Error::Transport { .. }
        )
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the error says something is wrong with the *audio* (so another provider will not help either).
    pub fn is_audio_problem(&self) -> bool {
        matches!(self, Error::InvalidAudio { .. })
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
            .is_retryable()
        );
        assert!(
            Error::Unavailable {
                status: Some(503),
                retry_after: None,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(Error::Timeout.is_retryable());
        assert!(
            !Error::QuotaExceeded {
                message: String::new()
            }
            .is_retryable()
        );
        assert!(!Error::invalid_audio("empty").is_retryable());
        assert!(
            !Error::AudioTooLarge {
                message: String::new()
            }
            .is_retryable()
        );
        assert!(!Error::Config("x".into()).is_retryable());
    }

    #[test]
    fn retry_after_is_exposed() {
        let e = Error::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
            message: String::new(),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(Error::Timeout.retry_after(), None);
    }
}
