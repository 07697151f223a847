//! The crate's one error type.
//!
//! Variants say what went wrong in terms a caller can act on. [`Error::is_retryable`] is the only place that
//! decides whether repeating the same operation can help.

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `callbook-storage`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object at this location (a recording, a hold marker).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked up (a storage path; ids are opaque, never personal data).
        what: String,
    },
    /// A create-only write found an object already there.
    #[error("already exists: {what}")]
    AlreadyExists {
        /// The location.
        what: String,
    },
    /// The stored bytes are not what was written: tampered with, truncated, extended, reordered, moved to
    /// another location, or not a Callbook blob at all. No plaintext from a failing segment is ever returned.
    #[error("integrity check failed: {reason}")]
    Integrity {
        /// Which check failed.
        reason: String,
    },
    /// The data key this blob was encrypted under has been destroyed (crypto-shredding; also after the scope
    /// was reinstated and has a new key), or a put targets a shredded tenant or customer that has not been
    /// reinstated. The audio is unrecoverable by design.
    #[error("the data key for {scope} has been shredded")]
    KeyShredded {
        /// The key scope (`tenant/{id}` or `tenant/{id}/customer/{id}`).
        scope: String,
    },
    /// A wrapped data key names a master key (key-encryption key) that is not in the configured keyring.
    /// Add the old master key to the keyring (and run a rewrap) to read it.
    #[error("master key {kek_id:?} is not in the keyring")]
    MasterKeyMissing {
        /// The master key id stored with the wrapped data key.
        kek_id: String,
    },
    /// A tenant, call or recording under legal hold cannot be shredded.
    #[error("refused: {what} is under legal hold")]
    LegalHold {
        /// What is held.
        what: String,
    },
    /// The caller's input is invalid (an id with unsafe characters, an empty content type…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The body stream the caller supplied to a put failed; nothing was stored.
    #[error("the recording body failed while uploading: {source}")]
    Body {
        /// The stream's error.
        #[source]
        source: std::io::Error,
    },
    /// A signed playback link was rejected.
    #[error(transparent)]
    Link(#[from] crate::links::LinkError),
    /// The store is misconfigured (bad URL, missing master key, missing cargo feature).
    #[error("storage configuration error: {0}")]
    Config(String),
    /// The object store refused our credentials or permissions.
    #[error("the object store refused access: {message}")]
    Unauthorized {
        /// What the store said.
        message: String,
    },
    /// The object store is unreachable or failing (connection refused, 5xx after object_store's own
    /// retries). Retrying later can succeed.
    #[error("object store unavailable: {source}")]
    Unavailable {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The object store does not support an operation this crate needs.
    #[error("the object store does not support {operation}")]
    Unsupported {
        /// The operation.
        operation: String,
    },
}

impl Error {
    /// Whether repeating the same operation can succeed: only [`Error::Unavailable`].
    ///
    /// Integrity failures, shredded keys and bad input never become valid by retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    pub(crate) fn integrity(reason: impl Into<String>) -> Self {
        Error::Integrity {
            reason: reason.into(),
        }
    }

    /// Maps an object_store error on `what` to the semantic variant.
    pub(crate) fn from_store(err: object_store::Error) -> Self {
        use object_store::Error as E;
        match err {
            E::NotFound { path, .. } => Error::NotFound { what: path },
            E::AlreadyExists { path, .. } => Error::AlreadyExists { what: path },
            E::Precondition { path, .. } => Error::AlreadyExists { what: path },
            E::PermissionDenied { path, source } | E::Unauthenticated { path, source } => {
                Error::Unauthorized {
                    message: format!("{path}: {source}"),
                }
            }
            E::NotSupported { source } => Error::Unsupported {
                operation: source.to_string(),
            },
            E::NotImplemented { operation, .. } => Error::Unsupported { operation },
            E::InvalidPath { source } => Error::InvalidInput(source.to_string()),
            E::UnknownConfigurationKey { key, store } => {
                Error::Config(format!("unknown configuration key {key:?} for {store}"))
            }
            other => Error::Unavailable {
                source: Box::new(other),
            },
        }
    }
}

impl From<object_store::Error> for Error {
    fn from(err: object_store::Error) -> Self {
        Error::from_store(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        let unavailable = Error::from_store(object_store::Error::Generic {
            store: "S3",
            source: "connection refused".into(),
        });
        assert!(unavailable.is_retryable());
        assert!(!Error::integrity("x").is_retryable());
        assert!(!Error::KeyShredded { scope: "t".into() }.is_retryable());
        assert!(!Error::InvalidInput("x".into()).is_retryable());
        let nf = Error::from_store(object_store::Error::NotFound {
            path: "a/b".into(),
            source: "gone".into(),
        });
        assert!(matches!(nf, Error::NotFound { ref what } if what == "a/b"));
        assert!(!nf.is_retryable());
    }
}
