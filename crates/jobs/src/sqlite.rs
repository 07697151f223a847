//! The SQLite backend (feature `sqlite`, on by default): the embedded default database.
//!
//! Opened with WAL journaling, foreign keys on, `synchronous = NORMAL` and a 5 s busy timeout. Every write
//! runs in a `BEGIN IMMEDIATE` transaction, so writers queue on the database lock instead of failing when a
//! read transaction tries to upgrade; claiming is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
//! inside such a transaction, which makes it atomic across connections and processes.
//!
//! Erasure (GDPR): every connection runs with `secure_delete = ON`, so deleted rows are overwritten with zeros
//! instead of lingering in free pages, and after `delete_tenant` / `erase_customer` / `erase_call` the WAL is
//! checkpointed and truncated (`wal_checkpoint(TRUNCATE)`), so the file pair on disk no longer holds the erased
//! text. Backups made before the erasure still do, until they are rotated.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::{Error, Result};
use crate::ids::TenantId;

pub(crate) type Db = sqlx::Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite compares text bytewise by default.
const COLLATE_C: &str = "";

const CLAIM_SQL: &str = "UPDATE calls SET state = 'processing', lease_owner = $1, lease_until = $2, \
    attempts = attempts + 1, updated_at = $3 WHERE id IN (SELECT id FROM calls \
    WHERE state IN ('queued', 'processing') AND (state = 'queued' OR (state = 'processing' AND attempts < $6 AND (lease_until IS NULL OR lease_until <= $4))) \
    AND (next_attempt_at IS NULL OR next_attempt_at <= $4) \
    ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT $5) RETURNING *";

/// Buries calls whose lease expired after too many claims (they crash their worker) instead of claiming them.
const BURY_SQL: &str = "UPDATE calls SET state = 'dead', last_error = 'lease expired ' || attempts || ' times', \
    lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = $1 \
    WHERE state = 'processing' AND attempts >= $2 AND (lease_until IS NULL OR lease_until <= $3)";

/// The claim's subquery reads before the statement writes; in an immediate transaction the write lock is
/// taken first, so a concurrent writer can never invalidate the read snapshot (`SQLITE_BUSY_SNAPSHOT`).
const CLAIM_IN_TRANSACTION: bool = true;

async fn begin_write(
    pool: &sqlx::Pool<Db>,
) -> std::result::Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// After an erasure commits: moves the WAL's pages (which still hold the deleted rows' old contents) into the
/// database file, where `secure_delete` has zeroed them, and truncates the WAL. Best effort: a reader holding
/// an old snapshot makes SQLite skip frames (it answers "busy" rather than failing); the next erasure or the
/// automatic checkpoint catches up. An error here is ignored: the erasure itself has committed.
async fn after_erasure(pool: &sqlx::Pool<Db>) {
    let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await;
}

/// Immediate transactions already serialise writers, so the double-booking check cannot race.
async fn lock_tenant_schedule(_tx: &mut sqlx::Transaction<'static, Db>, _tenant: TenantId) -> Result<()> {
    Ok(())
}

/// SQLite write transactions are already serial (`BEGIN IMMEDIATE`).
async fn lock_tenant_customers(_tx: &mut sqlx::Transaction<'static, Db>, _tenant: TenantId) -> Result<()> {
    Ok(())
}

/// SQLite write transactions are already serial (`BEGIN IMMEDIATE`).
async fn lock_tenant_users(_tx: &mut sqlx::Transaction<'static, Db>, _tenant: TenantId) -> Result<()> {
    Ok(())
}

// The same SQL implementation is compiled once per dialect (each with its own `Db`); see `sql/store.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "sql/rows.rs"]
mod rows;
#[allow(clippy::duplicate_mod)]
#[path = "sql/store.rs"]
mod store;

pub use store::SqlJobStore as SqliteJobStore;

impl SqliteJobStore {
    /// Opens (creating the file and its directory if needed) `sqlite://path` or `sqlite::memory:` and applies
    /// pending migrations. An in-memory database lives in one connection that the pool never closes.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("bad sqlite URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("secure_delete", "ON");
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Config(format!("cannot create the database directory: {e}")))?;
            }
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?
        };
        Self::from_pool(pool).await
    }
}
