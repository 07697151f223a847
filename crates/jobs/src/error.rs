//! The crate's one error type.
//!
//! Variants say what went wrong in terms a caller can act on. [`Error::is_retryable`] is the only place that
//! decides whether repeating the same operation can help.

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of an input, with a message a user can read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name as the input struct spells it, e.g. `scheduled_end`.
    pub field: &'static str,
    /// What is wrong with it (never the value itself: it may be personal data).
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Everything that can go wrong in `callbook-jobs`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record does not exist **for this tenant** (a record of another tenant is reported the same way).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked up: `job`, `call`, `customer` …
        entity: &'static str,
    },
    /// The input failed validation; nothing was written. Every invalid field is listed.
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidInput(Vec<FieldError>),
    /// An optimistic-concurrency check failed: the record changed since the caller read it. Re-read and retry.
    #[error("{entity} was changed concurrently (expected version {expected}, found {actual})")]
    Conflict {
        /// What was being written.
        entity: &'static str,
        /// The version the caller based its edit on.
        expected: i64,
        /// The version in the store.
        actual: i64,
    },
    /// A uniqueness rule would be broken (same login, same phone line, same provider call id …).
    #[error("{entity} already exists")]
    AlreadyExists {
        /// What would be duplicated.
        entity: &'static str,
    },
    /// The requested slot overlaps other open jobs and the caller asked for double-booking to be rejected.
    #[error("the slot overlaps {} other job(s)", conflicting.len())]
    DoubleBooked {
        /// The overlapping jobs.
        conflicting: Vec<crate::ids::JobId>,
    },
    /// The worker no longer holds the call's lease (it expired and another worker may have claimed the call,
    /// or the call was never claimed by this owner). Stop working on the call.
    #[error("the lease on this call is not held by this worker")]
    LeaseLost,
    /// The operation is not allowed in the record's current state (e.g. undoing a merge twice).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The database URL or configuration is unusable.
    #[error("job store configuration error: {0}")]
    Config(String),
    /// A database migration failed.
    #[error("migration failed: {source}")]
    Migration {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The database is unreachable, busy or timed out; the operation may be repeated.
    #[error("database unavailable: {source}")]
    Unavailable {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Any other database error (constraint the crate did not anticipate, decoding a row).
    #[error("database error: {source}")]
    Database {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Whether repeating the **same** operation can succeed: only for [`Error::Unavailable`]. A
    /// [`Error::Conflict`] needs a fresh read first, so it is not retryable as such.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str) -> Self {
        Error::NotFound { entity }
    }

    /// A single-field [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput(vec![FieldError::new(field, message)])
    }

    /// The field errors, when this is [`Error::InvalidInput`].
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::InvalidInput(errors) => errors,
            _ => &[],
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Error::NotFound { entity: "row" },
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable { source: Box::new(e) },
            sqlx::Error::Database(ref db) => {
                // SQLITE_BUSY (5) / SQLITE_LOCKED (6); Postgres serialization failure / deadlock.
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if matches!(code.as_str(), "5" | "6" | "517" | "40001" | "40P01" | "55P03") {
                    Error::Unavailable { source: Box::new(e) }
                } else {
                    Error::Database { source: Box::new(e) }
                }
            }
            other => Error::Database {
                source: Box::new(other),
            },
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Migration { source: Box::new(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(
            Error::Unavailable {
                source: "busy".into()
            }
            .is_retryable()
        );
        assert!(
            !Error::Conflict {
                entity: "job",
                expected: 1,
                actual: 2
            }
            .is_retryable()
        );
        assert!(!Error::not_found("job").is_retryable());
        assert!(!Error::LeaseLost.is_retryable());
    }

    #[test]
    fn invalid_input_lists_every_field_without_values() {
        let e = Error::InvalidInput(vec![
            FieldError::new("phone", "not E.164"),
            FieldError::new("scheduled_end", "before scheduled_start"),
        ]);
        assert_eq!(
            e.to_string(),
            "invalid input: phone: not E.164; scheduled_end: before scheduled_start"
        );
        assert_eq!(e.field_errors().len(), 2);
    }
}
