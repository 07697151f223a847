//! The pipeline's error: one variant per provider crate, each keeping its crate's retry classification.

use std::time::Duration;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while driving a call.
///
/// The `Display` text may contain provider messages; use [`Error::reason`] for the short, PII-free text that
/// goes into the call's `last_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Downloading the recording failed.
    #[error("telephony: {0}")]
    Telephony(#[from] callbook_telephony::Error),
    /// The recording store failed.
    #[error("storage: {0}")]
    Storage(#[from] callbook_storage::Error),
    /// Transcription failed.
    #[error("transcribe: {0}")]
    Transcribe(#[from] callbook_transcribe::Error),
    /// Extraction failed.
    #[error("extract: {0}")]
    Extract(#[from] callbook_extract::Error),
    /// The job store failed.
    #[error("jobs: {0}")]
    Jobs(#[from] callbook_jobs::Error),
    /// The call cannot be processed as it is (no recording, unreadable checkpoint, unmappable data).
    #[error("invalid call: {0}")]
    Invalid(&'static str),
}

impl Error {
    /// Whether a later attempt may succeed (delegates to the provider crate's classification).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Telephony(e) => e.is_retryable(),
            Error::Storage(e) => e.is_retryable(),
            Error::Transcribe(e) => e.is_retryable(),
            Error::Extract(e) => e.is_retryable(),
            Error::Jobs(e) => e.is_retryable(),
            Error::Invalid(_) => false,
        }
    }

    /// The wait the provider asked for, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Telephony(e) => e.retry_after(),
            Error::Transcribe(e) => e.retry_after(),
            Error::Extract(e) => e.retry_after(),
            _ => None,
        }
    }

    /// True when the worker's lease was lost (another claim took the call): nothing may be written.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Error::Jobs(callbook_jobs::Error::LeaseLost))
    }

    /// The crate that raised the error (`telephony`, `storage`, `transcribe`, `extract`, `jobs`, `invalid`): a
    /// metrics label.
    pub fn provider(&self) -> &'static str {
        match self {
            Error::Telephony(_) => "telephony",
            Error::Storage(_) => "storage",
            Error::Transcribe(_) => "transcribe",
            Error::Extract(_) => "extract",
            Error::Jobs(_) => "jobs",
            Error::Invalid(_) => "invalid",
        }
    }

    /// A short reason without personal data: the crate and the error's variant name
    /// (e.g. `transcribe: Unavailable`), never the provider's message.
    pub fn reason(&self) -> String {
        let (krate, debug) = match self {
            Error::Telephony(e) => ("telephony", format!("{e:?}")),
            Error::Storage(e) => ("storage", format!("{e:?}")),
            Error::Transcribe(e) => ("transcribe", format!("{e:?}")),
            Error::Extract(e) => ("extract", format!("{e:?}")),
            Error::Jobs(e) => ("jobs", format!("{e:?}")),
            Error::Invalid(what) => return format!("invalid call: {what}"),
        };
        format!("{krate}: {}", variant_name(&debug))
    }
}

/// The leading identifier of a `Debug` rendering (`Unavailable { .. }` → `Unavailable`).
fn variant_name(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    &debug[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_the_variant_name_only() {
        let e = Error::Transcribe(callbook_transcribe::Error::Timeout);
        assert_eq!(e.reason(), "transcribe: Timeout");
        assert!(e.is_retryable());
        let e = Error::Jobs(callbook_jobs::Error::LeaseLost);
        assert!(e.is_lease_lost());
        assert!(!e.is_retryable());
        assert_eq!(
            Error::Invalid("no recording").reason(),
            "invalid call: no recording"
        );
    }
}
