//! The Postgres backend (feature `postgres`): the production database for any number of server and worker
//! processes.
//!
//! Claiming is `WITH due AS (SELECT … FOR UPDATE SKIP LOCKED) UPDATE … RETURNING`, so concurrent workers
//! never wait for or take each other's calls. Job creation takes a per-tenant transaction-scoped advisory
//! lock so two concurrent double-booking checks cannot both pass. Sorting by text uses `COLLATE "C"` to
//! match the other backends' byte order whatever the database locale.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::{Error, Result};
use crate::ids::TenantId;

pub(crate) type Db = sqlx::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const COLLATE_C: &str = " COLLATE \"C\"";

const CLAIM_SQL: &str = "WITH due AS (SELECT id FROM calls \
    WHERE state IN ('queued', 'processing') AND (state = 'queued' OR (state = 'processing' AND (lease_until IS NULL OR lease_until <= $4))) \
    AND (next_attempt_at IS NULL OR next_attempt_at <= $4) \
    ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT $5 FOR UPDATE SKIP LOCKED) \
    UPDATE calls SET state = 'processing', lease_owner = $1, lease_until = $2, attempts = calls.attempts + 1, \
    updated_at = $3 FROM due WHERE calls.id = due.id RETURNING calls.*";

/// One statement is atomic on its own (`SKIP LOCKED` row locks held until it commits): one round trip.
const CLAIM_IN_TRANSACTION: bool = false;

async fn begin_write(
    pool: &sqlx::Pool<Db>,
) -> std::result::Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

async fn lock_tenant_schedule(tx: &mut sqlx::Transaction<'static, Db>, tenant: TenantId) -> Result<()> {
    let key = tenant.as_uuid().as_u64_pair().0 as i64;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// The same SQL implementation is compiled once per dialect (each with its own `Db`); see `sql/store.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "sql/rows.rs"]
mod rows;
#[allow(clippy::duplicate_mod)]
#[path = "sql/store.rs"]
mod store;

pub use store::SqlJobStore as PostgresJobStore;

impl PostgresJobStore {
    /// Connects to `postgres://…` (pool of 10) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| Error::Config(format!("bad postgres URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }
}
