//! Opening a store from a URL.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::memory::InMemoryJobStore;
use crate::store::JobStore;

/// Opens the store a URL names and applies pending migrations:
///
/// | URL | backend |
/// |---|---|
/// | `memory://` | [`InMemoryJobStore`] |
/// | `sqlite://path/to/file.db`, `sqlite::memory:` | `SqliteJobStore` (feature `sqlite`, default): WAL, foreign keys, busy timeout; the file and its directory are created |
/// | `postgres://user@host:port/db` (or `postgresql://`) | `PostgresJobStore` (feature `postgres`) |
///
/// A scheme whose feature is not compiled in is [`Error::Config`].
pub async fn open(url: &str) -> Result<Arc<dyn JobStore>> {
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(InMemoryJobStore::new()));
    }
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        {
            return Ok(Arc::new(crate::sqlite::SqliteJobStore::open(url).await?));
        }
        #[cfg(not(feature = "sqlite"))]
        return Err(Error::Config(
            "sqlite support is not compiled in (feature `sqlite`)".into(),
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            return Ok(Arc::new(crate::postgres::PostgresJobStore::open(url).await?));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(Error::Config(
            "postgres support is not compiled in (feature `postgres`)".into(),
        ));
    }
    let scheme = url.split(':').next().unwrap_or_default();
    Err(Error::Config(format!(
        "unsupported database URL scheme `{scheme}` (use memory://, sqlite:// or postgres://)"
    )))
}
