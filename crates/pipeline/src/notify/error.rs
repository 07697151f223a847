//! The notifications error.

/// Why a notification was not delivered.
///
/// `Display` never contains e-mail addresses, phone numbers or the SMTP server's free text (which may echo an
/// address): only status codes and classifications.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The job store failed (loading the tenant, users or job, or writing an inbox row / dedupe key).
    #[error("jobs: {0}")]
    Store(#[from] callbook_jobs::Error),
    /// The SMTP server refused or could not be reached.
    #[error("smtp: {reason}{}", code.map(|c| format!(" ({c})")).unwrap_or_default())]
    Smtp {
        /// The SMTP reply code, when the server answered.
        code: Option<u16>,
        /// Whether a later attempt may succeed (4xx replies, connection and timeout errors).
        retryable: bool,
        /// A short classification (`transient reply`, `permanent reply`, `connection` …).
        reason: &'static str,
    },
    /// Postgres (`pg_notify`, `LISTEN`) failed.
    #[error("postgres: {0}")]
    Postgres(String),
    /// The notifier is misconfigured (bad SMTP URL or sender address); not retryable.
    #[error("configuration: {0}")]
    Config(String),
    /// The message could not be built (e.g. an invalid recipient address in the preferences); not retryable.
    #[error("message: {0}")]
    Message(String),
}

impl NotifyError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Store(e) => e.is_retryable(),
            NotifyError::Smtp { retryable, .. } => *retryable,
            NotifyError::Postgres(_) => true,
            NotifyError::Config(_) | NotifyError::Message(_) => false,
        }
    }
}
