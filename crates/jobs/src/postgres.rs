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
    WHERE state IN ('queued', 'processing') AND (state = 'queued' OR (state = 'processing' AND attempts < $6 AND (lease_until IS NULL OR lease_until <= $4))) \
    AND (next_attempt_at IS NULL OR next_attempt_at <= $4) \
    ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT $5 FOR UPDATE SKIP LOCKED) \
    UPDATE calls SET state = 'processing', lease_owner = $1, lease_until = $2, attempts = calls.attempts + 1, \
    updated_at = $3 FROM due WHERE calls.id = due.id RETURNING calls.*";

/// Buries calls whose lease expired after too many claims (they crash their worker) instead of claiming them.
const BURY_SQL: &str = "UPDATE calls SET state = 'dead', last_error = 'lease expired ' || attempts || ' times', \
    lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = $1 \
    WHERE state = 'processing' AND attempts >= $2 AND (lease_until IS NULL OR lease_until <= $3)";

/// One statement is atomic on its own (`SKIP LOCKED` row locks held until it commits): one round trip.
const CLAIM_IN_TRANSACTION: bool = false;

async fn begin_write(
    pool: &sqlx::Pool<Db>,
) -> std::result::Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// After an erasure commits: nothing. Deleted tuples stay in the heap files until (auto)vacuum reclaims them,
/// which a deployment that must guarantee physical erasure schedules (`VACUUM` cannot run in a transaction).
async fn after_erasure(_pool: &sqlx::Pool<Db>) {}

/// The advisory-lock key of one tenant's scope: both halves of the tenant's UUID folded with XOR (a UUIDv7's
/// first half is mostly its timestamp, so tenants created close together would share it), then the scope.
fn advisory_key(tenant: TenantId, scope: u64) -> i64 {
    let (hi, lo) = tenant.as_uuid().as_u64_pair();
    (hi ^ lo ^ scope) as i64
}

/// Serialises one tenant's schedule writes (position and double-booking checks) until the transaction ends.
async fn lock_tenant_schedule(tx: &mut sqlx::Transaction<'static, Db>, tenant: TenantId) -> Result<()> {
    advisory_lock(tx, advisory_key(tenant, 0)).await
}

/// Serialises one tenant's customer creation, find-or-create and merges until the transaction ends, so two
/// concurrent look-ups of one new number create one customer and two opposite merges cannot form a cycle.
async fn lock_tenant_customers(tx: &mut sqlx::Transaction<'static, Db>, tenant: TenantId) -> Result<()> {
    advisory_lock(tx, advisory_key(tenant, 0x6375_7374_6f6d_6572)).await
}

async fn advisory_lock(tx: &mut sqlx::Transaction<'static, Db>, key: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_created_together_get_different_lock_keys() {
        let keys: std::collections::HashSet<i64> =
            (0..1000).map(|_| advisory_key(TenantId::new(), 0)).collect();
        assert_eq!(keys.len(), 1000);
        let t = TenantId::new();
        assert_ne!(advisory_key(t, 0), advisory_key(t, 0x6375_7374_6f6d_6572));
    }
}

/// Serialises one tenant's role changes and user deletions until the transaction ends, so two concurrent
/// demotions cannot both see a second owner and leave none.
async fn lock_tenant_users(tx: &mut sqlx::Transaction<'static, Db>, tenant: TenantId) -> Result<()> {
    advisory_lock(tx, advisory_key(tenant, 0x7573_6572_735f_6f77)).await
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
