// The SQL backend, written once for both dialects. `sqlite.rs` and `postgres.rs` each compile this file as a
// module with their own `Db`, `begin_write`, `MIGRATOR`, `CLAIM_SQL` and `COLLATE_C`, so the two backends
// run the same statements except where the dialects differ (claiming, collation, transaction start).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Pool};

use super::rows::*;
use super::{
    BURY_SQL, CLAIM_IN_TRANSACTION, CLAIM_SQL, COLLATE_C, Db, MIGRATOR, after_erasure, begin_write,
    lock_tenant_users,
};
use crate::error::{Error, Result};
use crate::ids::*;
use crate::matching::{self, Candidate};
use crate::memory::{
    Decision, check_in_review, check_mergeable, check_outcome, check_review_outcome, decide, enrich,
    validate_customer_input, validate_photo, validate_tenant, validate_usage,
};
use crate::model::*;
use crate::store::*;
use crate::validate;

type Tx = sqlx::Transaction<'static, Db>;

/// The store over a connection pool. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct SqlJobStore {
    pool: Pool<Db>,
}

impl SqlJobStore {
    /// Wraps an existing pool and applies pending migrations.
    pub async fn from_pool(pool: Pool<Db>) -> Result<Self> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool (for health checks and the server's own queries).
    pub fn pool(&self) -> &Pool<Db> {
        &self.pool
    }
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn lease_deadline(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>> {
    let d = chrono::Duration::from_std(lease).map_err(|_| Error::invalid("lease", "too long"))?;
    Ok(to_micros(now + d))
}

const CALL_COLS: &str = "id, tenant_id, phone_line_id, provider, provider_call_id, from_number, to_number, \
    started_at, ended_at, provider_status, recording_id, recording_duration, recording_key, customer_id, state, \
    step, checkpoint, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at";

async fn tenant_exists(tx: &mut Tx, tenant: TenantId) -> Result<TenantRow> {
    sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::not_found("tenant"))
}

async fn call_in(tx: &mut Tx, tenant: TenantId, id: CallId) -> Result<Call> {
    sqlx::query_as::<_, CallRow>("SELECT * FROM calls WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::not_found("call"))?
        .into_domain()
}

async fn customer_in(tx: &mut Tx, tenant: TenantId, id: CustomerId) -> Result<Customer> {
    Ok(
        sqlx::query_as::<_, CustomerRow>("SELECT * FROM customers WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(Error::not_found("customer"))?
            .into_domain(),
    )
}

async fn job_in(tx: &mut Tx, tenant: TenantId, id: JobId) -> Result<Job> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::not_found("job"))?
        .into_domain()
}

fn now_() -> DateTime<Utc> {
    crate::model::now()
}

impl SqlJobStore {
    /// Reads the call, checks the lease, applies `change` and writes it back with one conditional `UPDATE`
    /// (lease still held by `owner`, unexpired, and `attempts` unchanged), so no transaction is held across
    /// round trips; if the condition fails the lease was lost in between.
    async fn lease_op(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        change: impl FnOnce(&mut Processing) + Send,
    ) -> Result<Call> {
        let now = to_micros(now);
        let call = self.get_call(tenant, id).await?;
        let p = &call.processing;
        if p.state != CallState::Processing
            || p.lease_owner.as_deref() != Some(lease.owner.as_str())
            || p.attempts != lease.attempt
            || p.lease_until.is_none_or(|u| u <= now)
        {
            return Err(Error::LeaseLost);
        }
        let mut next = p.clone();
        change(&mut next);
        let sql = format!(
            "UPDATE calls SET state = $1, step = $2, checkpoint = $3, attempts = $4, next_attempt_at = $5, \
             lease_owner = $6, lease_until = $7, last_error = $8, updated_at = $9 \
             WHERE id = $10 AND tenant_id = $11 AND state = 'processing' AND lease_owner = $12 \
             AND lease_until > $13 AND attempts = $14 RETURNING {CALL_COLS}"
        );
        sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
            .bind(next.state.as_str())
            .bind(next.step)
            .bind(next.checkpoint.map(Json))
            .bind(next.attempts)
            .bind(next.next_attempt_at)
            .bind(next.lease_owner)
            .bind(next.lease_until)
            .bind(next.last_error)
            .bind(now_())
            .bind(id)
            .bind(tenant)
            .bind(lease.owner.clone())
            .bind(now)
            .bind(lease.attempt)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::LeaseLost)?
            .into_domain()
    }
}

#[async_trait]
impl TenantStore for SqlJobStore {
    async fn create_tenant(&self, new: NewTenant) -> Result<Tenant> {
        let name = validate_tenant(&new)?;
        let settings = if new.settings.is_null() {
            Value::Object(Default::default())
        } else {
            new.settings
        };
        let row = sqlx::query_as::<_, TenantRow>(
            "INSERT INTO tenants (id, name, timezone, business_hours, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(TenantId::new())
        .bind(name)
        .bind(new.timezone.name())
        .bind(Json(new.business_hours))
        .bind(Json(settings))
        .bind(now_())
        .fetch_one(&self.pool)
        .await?;
        row.into_domain()
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("tenant"))?
            .into_domain()
    }

    async fn update_tenant_settings(&self, id: TenantId, settings: Value) -> Result<Tenant> {
        validate::check_document("settings", &settings)?;
        sqlx::query_as::<_, TenantRow>("UPDATE tenants SET settings = $1 WHERE id = $2 RETURNING *")
            .bind(Json(settings))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("tenant"))?
            .into_domain()
    }

    async fn create_user(
        &self,
        tenant: TenantId,
        login: &str,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<User> {
        let login = login.trim();
        if login.is_empty() {
            return Err(Error::invalid("login", "must not be empty"));
        }
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        let row = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, tenant_id, login, login_key, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(UserId::new())
        .bind(tenant)
        .bind(login.to_owned())
        .bind(login.to_ascii_lowercase())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                Error::AlreadyExists { entity: "user" }
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn find_user_by_login(&self, tenant: TenantId, login: &str) -> Result<Option<User>> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE tenant_id = $1 AND login_key = $2")
            .bind(tenant)
            .bind(login.trim().to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .map(UserRow::into_domain)
            .transpose()
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
        let sql = format!("SELECT * FROM users WHERE tenant_id = $1 ORDER BY login_key{COLLATE_C}, id");
        sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(UserRow::into_domain)
            .collect()
    }

    async fn add_phone_line(&self, tenant: TenantId, line: NewPhoneLine) -> Result<PhoneLine> {
        if line.provider.trim().is_empty() {
            return Err(Error::invalid("provider", "must not be empty"));
        }
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        let row = sqlx::query_as::<_, PhoneLineRow>(
            "INSERT INTO phone_lines (id, tenant_id, provider, number, provider_account_id, provider_number_id, \
             credentials, webhook_mode, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        )
        .bind(PhoneLineId::new())
        .bind(tenant)
        .bind(line.provider)
        .bind(line.number.as_str().to_owned())
        .bind(line.provider_account_id)
        .bind(line.provider_number_id)
        .bind(line.credentials)
        .bind(line.webhook_mode.as_str())
        .bind(now_())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                Error::AlreadyExists { entity: "phone line" }
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn list_phone_lines(&self, tenant: TenantId) -> Result<Vec<PhoneLine>> {
        let sql = format!("SELECT * FROM phone_lines WHERE tenant_id = $1 ORDER BY number{COLLATE_C}, id");
        sqlx::query_as::<_, PhoneLineRow>(AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(PhoneLineRow::into_domain)
            .collect()
    }

    async fn route_phone_line(&self, provider: &str, number: &PhoneNumber) -> Result<Option<PhoneLine>> {
        sqlx::query_as::<_, PhoneLineRow>("SELECT * FROM phone_lines WHERE provider = $1 AND number = $2")
            .bind(provider.to_owned())
            .bind(number.as_str().to_owned())
            .fetch_optional(&self.pool)
            .await?
            .map(PhoneLineRow::into_domain)
            .transpose()
    }
}

#[async_trait]
impl CallStore for SqlJobStore {
    async fn record_call(&self, tenant: TenantId, new: NewCall) -> Result<(Call, bool)> {
        if new.provider_call_id.trim().is_empty() {
            return Err(Error::invalid("provider_call_id", "must not be empty"));
        }
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        if let Some(line) = new.phone_line_id {
            let found: Option<(PhoneLineId,)> =
                sqlx::query_as("SELECT id FROM phone_lines WHERE id = $1 AND tenant_id = $2")
                    .bind(line)
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found("phone line"));
            }
        }
        let now = now_();
        let sql = format!(
            "INSERT INTO calls (id, tenant_id, phone_line_id, provider, provider_call_id, from_number, to_number, \
             started_at, provider_status, state, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'received', 0, $10, $10) \
             ON CONFLICT (tenant_id, provider, provider_call_id) DO NOTHING RETURNING {CALL_COLS}"
        );
        let inserted = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
            .bind(CallId::new())
            .bind(tenant)
            .bind(new.phone_line_id)
            .bind(new.provider.clone())
            .bind(new.provider_call_id.clone())
            .bind(new.from.map(String::from))
            .bind(new.to.map(String::from))
            .bind(to_micros(new.started_at))
            .bind(new.provider_status)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let result = match inserted {
            Some(row) => (row.into_domain()?, true),
            None => {
                let row = sqlx::query_as::<_, CallRow>(
                    "SELECT * FROM calls WHERE tenant_id = $1 AND provider = $2 AND provider_call_id = $3",
                )
                .bind(tenant)
                .bind(new.provider)
                .bind(new.provider_call_id)
                .fetch_one(&mut *tx)
                .await?;
                (row.into_domain()?, false)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn get_call(&self, tenant: TenantId, id: CallId) -> Result<Call> {
        sqlx::query_as::<_, CallRow>("SELECT * FROM calls WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("call"))?
            .into_domain()
    }

    async fn find_call_by_provider_id(
        &self,
        tenant: TenantId,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>> {
        sqlx::query_as::<_, CallRow>(
            "SELECT * FROM calls WHERE tenant_id = $1 AND provider = $2 AND provider_call_id = $3",
        )
        .bind(tenant)
        .bind(provider.to_owned())
        .bind(provider_call_id.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .map(CallRow::into_domain)
        .transpose()
    }

    async fn list_calls(&self, tenant: TenantId, state: Option<CallState>, page: Page) -> Result<Vec<Call>> {
        sqlx::query_as::<_, CallRow>(
            "SELECT * FROM calls WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             ORDER BY started_at DESC, id DESC LIMIT $3 OFFSET $4",
        )
        .bind(tenant)
        .bind(state.map(|s| s.as_str()))
        .bind(page.limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(CallRow::into_domain)
        .collect()
    }

    async fn update_call_status(
        &self,
        tenant: TenantId,
        id: CallId,
        provider_status: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<Call> {
        let sql = format!(
            "UPDATE calls SET provider_status = $1, ended_at = COALESCE($2, ended_at), \
             state = CASE WHEN state = 'received' AND $1 = 'completed' THEN 'awaiting_recording' ELSE state END, \
             updated_at = $3 WHERE id = $4 AND tenant_id = $5 RETURNING {CALL_COLS}"
        );
        sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
            .bind(provider_status.to_owned())
            .bind(ended_at.map(to_micros))
            .bind(now_())
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("call"))?
            .into_domain()
    }

    async fn set_recording(&self, tenant: TenantId, id: CallId, recording: RecordingRef) -> Result<Call> {
        let sql = format!(
            "UPDATE calls SET recording_id = $1, recording_duration = COALESCE($2, recording_duration), \
             recording_key = COALESCE($3, recording_key), \
             next_attempt_at = CASE WHEN state IN ('received', 'awaiting_recording') THEN NULL ELSE next_attempt_at END, \
             state = CASE WHEN state IN ('received', 'awaiting_recording') THEN 'queued' ELSE state END, \
             updated_at = $4 WHERE id = $5 AND tenant_id = $6 RETURNING {CALL_COLS}"
        );
        sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
            .bind(recording.provider_recording_id)
            .bind(recording.duration_seconds)
            .bind(recording.storage_key)
            .bind(now_())
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("call"))?
            .into_domain()
    }

    async fn link_call_customer(&self, tenant: TenantId, id: CallId, customer: CustomerId) -> Result<Call> {
        let mut tx = begin_write(&self.pool).await?;
        customer_in(&mut tx, tenant, customer).await?;
        call_in(&mut tx, tenant, id).await?;
        let row = sqlx::query_as::<_, CallRow>(
            "UPDATE calls SET customer_id = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4 RETURNING *",
        )
        .bind(customer)
        .bind(now_())
        .bind(id)
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn requeue_call(&self, tenant: TenantId, id: CallId) -> Result<Call> {
        let mut tx = begin_write(&self.pool).await?;
        let call = call_in(&mut tx, tenant, id).await?;
        if !call.processing.state.is_final() {
            return Err(Error::InvalidState(format!(
                "only a finished call can be requeued (state {})",
                call.processing.state
            )));
        }
        let row = sqlx::query_as::<_, CallRow>(
            "UPDATE calls SET state = 'queued', step = NULL, checkpoint = NULL, attempts = 0, \
             next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = $1 \
             WHERE id = $2 AND tenant_id = $3 RETURNING *",
        )
        .bind(now_())
        .bind(id)
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn finish_review(&self, tenant: TenantId, id: CallId, outcome: CallState) -> Result<Call> {
        check_review_outcome(outcome)?;
        let mut tx = begin_write(&self.pool).await?;
        let call = call_in(&mut tx, tenant, id).await?;
        check_in_review(&call)?;
        let row = sqlx::query_as::<_, CallRow>(
            "UPDATE calls SET state = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4 RETURNING *",
        )
        .bind(outcome.as_str())
        .bind(now_())
        .bind(id)
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn put_transcript(&self, tenant: TenantId, t: StoredTranscript) -> Result<()> {
        validate::check_document("document", &t.document)?;
        let mut tx = begin_write(&self.pool).await?;
        call_in(&mut tx, tenant, t.call_id).await?;
        sqlx::query(
            "INSERT INTO transcripts (call_id, tenant_id, document, language, confidence, provider, model, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (call_id) DO UPDATE SET document = EXCLUDED.document, \
             language = EXCLUDED.language, confidence = EXCLUDED.confidence, provider = EXCLUDED.provider, \
             model = EXCLUDED.model, created_at = EXCLUDED.created_at",
        )
        .bind(t.call_id)
        .bind(tenant)
        .bind(Json(t.document))
        .bind(t.language)
        .bind(t.confidence)
        .bind(t.provider)
        .bind(t.model)
        .bind(now_())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_transcript(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredTranscript>> {
        self.get_call(tenant, call).await?;
        Ok(sqlx::query_as::<_, TranscriptRow>(
            "SELECT * FROM transcripts WHERE call_id = $1 AND tenant_id = $2",
        )
        .bind(call)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| StoredTranscript {
            call_id: r.call_id,
            tenant_id: r.tenant_id,
            document: r.document.0,
            language: r.language,
            confidence: r.confidence,
            provider: r.provider,
            model: r.model,
            created_at: r.created_at,
        }))
    }

    async fn put_extraction(&self, tenant: TenantId, e: StoredExtraction) -> Result<()> {
        validate::check_document("document", &e.document)?;
        let mut tx = begin_write(&self.pool).await?;
        call_in(&mut tx, tenant, e.call_id).await?;
        sqlx::query(
            "INSERT INTO extractions (call_id, tenant_id, document, call_kind, appointment_count, confidence, \
             extractor, model, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id) DO UPDATE \
             SET document = EXCLUDED.document, call_kind = EXCLUDED.call_kind, \
             appointment_count = EXCLUDED.appointment_count, confidence = EXCLUDED.confidence, \
             extractor = EXCLUDED.extractor, model = EXCLUDED.model, created_at = EXCLUDED.created_at",
        )
        .bind(e.call_id)
        .bind(tenant)
        .bind(Json(e.document))
        .bind(e.call_kind)
        .bind(e.appointment_count)
        .bind(e.confidence)
        .bind(e.extractor)
        .bind(e.model)
        .bind(now_())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_extraction(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredExtraction>> {
        self.get_call(tenant, call).await?;
        Ok(sqlx::query_as::<_, ExtractionRow>(
            "SELECT * FROM extractions WHERE call_id = $1 AND tenant_id = $2",
        )
        .bind(call)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| StoredExtraction {
            call_id: r.call_id,
            tenant_id: r.tenant_id,
            document: r.document.0,
            call_kind: r.call_kind,
            appointment_count: r.appointment_count,
            confidence: r.confidence,
            extractor: r.extractor,
            model: r.model,
            created_at: r.created_at,
        }))
    }

    async fn add_correction(&self, tenant: TenantId, c: NewCorrection) -> Result<Correction> {
        if c.field.trim().is_empty() {
            return Err(Error::invalid("field", "must not be empty"));
        }
        let mut tx = begin_write(&self.pool).await?;
        call_in(&mut tx, tenant, c.call_id).await?;
        if let Some(job) = c.job_id {
            job_in(&mut tx, tenant, job).await?;
        }
        if let Some(user) = c.user_id {
            let found: Option<(UserId,)> =
                sqlx::query_as("SELECT id FROM users WHERE id = $1 AND tenant_id = $2")
                    .bind(user)
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found("user"));
            }
        }
        let r = sqlx::query_as::<_, CorrectionRow>(
            "INSERT INTO corrections (id, tenant_id, call_id, job_id, field, before_value, after_value, user_id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        )
        .bind(CorrectionId::new())
        .bind(tenant)
        .bind(c.call_id)
        .bind(c.job_id)
        .bind(c.field)
        .bind(Json(c.before))
        .bind(Json(c.after))
        .bind(c.user_id)
        .bind(now_())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(correction(r))
    }

    async fn list_corrections(&self, tenant: TenantId, call: CallId) -> Result<Vec<Correction>> {
        self.get_call(tenant, call).await?;
        Ok(sqlx::query_as::<_, CorrectionRow>(
            "SELECT * FROM corrections WHERE tenant_id = $1 AND call_id = $2 ORDER BY created_at, id",
        )
        .bind(tenant)
        .bind(call)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(correction)
        .collect())
    }

    async fn stale_calls(
        &self,
        states: &[CallState],
        updated_since: DateTime<Utc>,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        // Served by the `calls_state (state, updated_at, id)` index.
        let sql = format!(
            "SELECT * FROM calls WHERE state IN ({}) AND updated_at >= ${} AND updated_at < ${} \
             ORDER BY updated_at, id LIMIT ${}",
            in_list(1, states.len()),
            states.len() + 1,
            states.len() + 2,
            states.len() + 3
        );
        let mut q = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql));
        for state in states {
            q = q.bind(state.as_str());
        }
        q.bind(to_micros(updated_since))
            .bind(to_micros(updated_before))
            .bind(Page::first(limit).limit())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(CallRow::into_domain)
            .collect()
    }
}

fn correction(r: CorrectionRow) -> Correction {
    Correction {
        id: r.id,
        tenant_id: r.tenant_id,
        call_id: r.call_id,
        job_id: r.job_id,
        field: r.field,
        before: r.before_value.0,
        after: r.after_value.0,
        user_id: r.user_id,
        created_at: r.created_at,
    }
}

#[async_trait]
impl WorkQueue for SqlJobStore {
    async fn claim_calls(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        max_attempts: i32,
    ) -> Result<Vec<Call>> {
        if owner.is_empty() {
            return Err(Error::invalid("owner", "must not be empty"));
        }
        if max_attempts < 1 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        let now = to_micros(now);
        let until = lease_deadline(now, lease)?;
        let bury = sqlx::query(BURY_SQL).bind(now_()).bind(max_attempts).bind(now);
        let claim = sqlx::query_as::<_, CallRow>(CLAIM_SQL)
            .bind(owner.to_owned())
            .bind(until)
            .bind(now_())
            .bind(now)
            .bind(i64::from(limit))
            .bind(max_attempts);
        let rows = if CLAIM_IN_TRANSACTION {
            let mut tx = begin_write(&self.pool).await?;
            bury.execute(&mut *tx).await?;
            let rows = claim.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        } else {
            // The claim itself skips calls at the limit, so burying need not be atomic with it.
            bury.execute(&self.pool).await?;
            claim.fetch_all(&self.pool).await?
        };
        let mut calls = rows
            .into_iter()
            .map(CallRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        calls.sort_by_key(|c| (c.processing.next_attempt_at.unwrap_or(c.created_at), c.id));
        Ok(calls)
    }

    async fn extend_lease(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Call> {
        let until = lease_deadline(to_micros(now), duration)?;
        self.lease_op(tenant, id, lease, now, |p| p.lease_until = Some(until))
            .await
    }

    async fn checkpoint(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        step: &str,
        data: Option<Value>,
    ) -> Result<Call> {
        validate::check_text("step", step)?;
        if let Some(d) = &data {
            validate::check_document("data", d)?;
        }
        let step = step.to_owned();
        self.lease_op(tenant, id, lease, now, |p| {
            p.step = Some(step);
            p.checkpoint = data;
        })
        .await
    }

    async fn finish_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        outcome: CallState,
    ) -> Result<Call> {
        check_outcome(outcome)?;
        self.lease_op(tenant, id, lease, now, |p| {
            p.state = outcome;
            p.lease_owner = None;
            p.lease_until = None;
            p.next_attempt_at = None;
        })
        .await
    }

    async fn retry_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<Call> {
        let error = validate::error_text(error);
        self.lease_op(tenant, id, lease, now, |p| {
            p.state = CallState::Queued;
            p.lease_owner = None;
            p.lease_until = None;
            p.next_attempt_at = Some(to_micros(next_attempt_at));
            p.last_error = Some(error);
        })
        .await
    }

    async fn kill_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Call> {
        let reason = validate::error_text(reason);
        self.lease_op(tenant, id, lease, now, |p| {
            p.state = CallState::Dead;
            p.lease_owner = None;
            p.lease_until = None;
            p.next_attempt_at = None;
            p.last_error = Some(reason);
        })
        .await
    }

    async fn release_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Call> {
        self.lease_op(tenant, id, lease, now, |p| {
            p.state = CallState::Queued;
            p.lease_owner = None;
            p.lease_until = None;
            p.next_attempt_at = None;
            p.attempts = (p.attempts - 1).max(0);
        })
        .await
    }

    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats> {
        // One statement: the per-state counts (an index scan of `calls_state`), then one `due` row whose
        // condition is the claim's (over the partial index `calls_due` of unfinished calls).
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT state, COUNT(*), NULL FROM calls GROUP BY state \
             UNION ALL \
             SELECT 'due', COUNT(*), MIN(COALESCE(next_attempt_at, created_at)) FROM calls \
             WHERE state IN ('queued', 'processing') \
             AND (state = 'queued' OR lease_until IS NULL OR lease_until <= $1) \
             AND (next_attempt_at IS NULL OR next_attempt_at <= $1)",
        )
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        let mut stats = QueueStats::default();
        for (state, n, oldest) in rows {
            let n = u64::try_from(n).map_err(|_| corrupt("count"))?;
            if state == "due" {
                stats.due = n;
                stats.oldest_due_since = oldest;
            } else {
                stats.counts.insert(parse(&state, "call state")?, n);
            }
        }
        Ok(stats)
    }
}

async fn insert_customer(tx: &mut Tx, c: &Customer) -> Result<()> {
    sqlx::query(
        "INSERT INTO customers (id, tenant_id, name, phones, address, address_key, search_text, merged_into, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id)
    .bind(c.tenant_id)
    .bind(c.name.clone())
    .bind(Json(c.phones.clone()))
    .bind(Json(c.address.clone()))
    .bind(matching::address_key(&c.address))
    .bind(matching::search_text(&c.name, &c.phones, &c.address))
    .bind(c.merged_into)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    for p in &c.phones {
        insert_phone(tx, c, p).await?;
    }
    Ok(())
}

async fn insert_phone(tx: &mut Tx, c: &Customer, p: &PhoneNumber) -> Result<()> {
    sqlx::query("INSERT INTO customer_phones (tenant_id, customer_id, phone) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(c.tenant_id)
        .bind(c.id)
        .bind(p.as_str().to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn update_customer(tx: &mut Tx, c: &Customer) -> Result<()> {
    sqlx::query(
        "UPDATE customers SET name = $1, phones = $2, address = $3, address_key = $4, search_text = $5, \
         merged_into = $6, updated_at = $7 WHERE id = $8 AND tenant_id = $9",
    )
    .bind(c.name.clone())
    .bind(Json(c.phones.clone()))
    .bind(Json(c.address.clone()))
    .bind(matching::address_key(&c.address))
    .bind(matching::search_text(&c.name, &c.phones, &c.address))
    .bind(c.merged_into)
    .bind(c.updated_at)
    .bind(c.id)
    .bind(c.tenant_id)
    .execute(&mut **tx)
    .await?;
    for p in &c.phones {
        insert_phone(tx, c, p).await?;
    }
    Ok(())
}

async fn root_of(tx: &mut Tx, tenant: TenantId, mut c: Customer) -> Result<Customer> {
    for _ in 0..64 {
        match c.merged_into {
            Some(next) => c = customer_in(tx, tenant, next).await?,
            None => break,
        }
    }
    Ok(c)
}

async fn set_suggestions(
    tx: &mut Tx,
    tenant: TenantId,
    a: CustomerId,
    b: CustomerId,
    from: SuggestionStatus,
    to: SuggestionStatus,
) -> Result<()> {
    sqlx::query(
        "UPDATE merge_suggestions SET status = $1 WHERE tenant_id = $2 AND status = $3 AND \
         ((customer_id = $4 AND candidate_id = $5) OR (customer_id = $5 AND candidate_id = $4))",
    )
    .bind(to.as_str())
    .bind(tenant)
    .bind(from.as_str())
    .bind(a)
    .bind(b)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ids of the customer and every customer merged into it, transitively.
async fn merge_members(tx: &mut Tx, tenant: TenantId, id: CustomerId) -> Result<Vec<CustomerId>> {
    let mut members = vec![id];
    let mut frontier = vec![id];
    while let Some(next) = frontier.pop() {
        let children: Vec<(CustomerId,)> =
            sqlx::query_as("SELECT id FROM customers WHERE tenant_id = $1 AND merged_into = $2")
                .bind(tenant)
                .bind(next)
                .fetch_all(&mut **tx)
                .await?;
        for (child,) in children {
            if !members.contains(&child) {
                members.push(child);
                frontier.push(child);
            }
        }
    }
    Ok(members)
}

fn in_list(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl CustomerStore for SqlJobStore {
    async fn find_or_create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<CustomerMatch> {
        let name = validate_customer_input(&input)?;
        let mut tx = begin_write(&self.pool).await?;
        super::lock_tenant_customers(&mut tx, tenant).await?;
        tenant_exists(&mut tx, tenant).await?;
        if let Some(call) = input.source_call {
            call_in(&mut tx, tenant, call).await?;
        }
        let key = matching::address_key(&input.address);
        let candidates = sqlx::query_as::<_, CustomerRow>(
            "SELECT * FROM customers WHERE tenant_id = $1 AND (id IN \
             (SELECT customer_id FROM customer_phones WHERE tenant_id = $1 AND phone = $2) \
             OR (address_key <> '' AND address_key = $3))",
        )
        .bind(tenant)
        .bind(
            input
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        )
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        let mut best_per_root: BTreeMap<CustomerId, matching::Scored> = BTreeMap::new();
        let mut roots: BTreeMap<CustomerId, Customer> = BTreeMap::new();
        for row in candidates {
            let c = row.into_domain();
            let candidate = Candidate {
                name: &c.name,
                phones: &c.phones,
                address: &c.address,
            };
            let Some(scored) = matching::score(&input, &candidate) else {
                continue;
            };
            let root = root_of(&mut tx, tenant, c.clone()).await?;
            let keep = best_per_root
                .get(&root.id)
                .is_none_or(|b| (scored.confident, scored.score) > (b.confident, b.score));
            if keep {
                best_per_root.insert(root.id, scored);
            }
            roots.insert(root.id, root);
        }
        let decision = decide(best_per_root, |id| roots.get(id).map(|c| c.created_at));
        let now = now_();
        let result = match decision {
            Decision::Match(id, scored) => {
                let mut customer = roots.remove(&id).ok_or(Error::not_found("customer"))?;
                enrich(&mut customer, &name, &input);
                customer.updated_at = now;
                update_customer(&mut tx, &customer).await?;
                CustomerMatch {
                    customer,
                    resolution: CustomerResolution::Matched {
                        score: scored.score,
                        reason: scored.reason,
                    },
                    suggestions: Vec::new(),
                }
            }
            Decision::Create(ambiguous) => {
                let customer = new_customer(tenant, name, &input, now);
                insert_customer(&mut tx, &customer).await?;
                let mut suggestions = Vec::new();
                for (candidate_id, scored) in ambiguous {
                    let s = MergeSuggestion {
                        id: MergeSuggestionId::new(),
                        tenant_id: tenant,
                        customer_id: customer.id,
                        candidate_id,
                        score: scored.score,
                        reason: scored.reason,
                        status: SuggestionStatus::Open,
                        created_at: now,
                    };
                    sqlx::query(
                        "INSERT INTO merge_suggestions (id, tenant_id, customer_id, candidate_id, score, reason, \
                         status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(s.id)
                    .bind(tenant)
                    .bind(s.customer_id)
                    .bind(s.candidate_id)
                    .bind(s.score)
                    .bind(Json(s.reason.clone()))
                    .bind(s.status.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    suggestions.push(s);
                }
                CustomerMatch {
                    customer,
                    resolution: CustomerResolution::Created,
                    suggestions,
                }
            }
        };
        if let Some(call) = input.source_call {
            sqlx::query(
                "UPDATE calls SET customer_id = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4",
            )
            .bind(result.customer.id)
            .bind(now)
            .bind(call)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    async fn create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<Customer> {
        let name = validate_customer_input(&input)?;
        let mut tx = begin_write(&self.pool).await?;
        super::lock_tenant_customers(&mut tx, tenant).await?;
        tenant_exists(&mut tx, tenant).await?;
        if let Some(call) = input.source_call {
            call_in(&mut tx, tenant, call).await?;
        }
        let customer = new_customer(tenant, name, &input, now_());
        insert_customer(&mut tx, &customer).await?;
        if let Some(call) = input.source_call {
            sqlx::query("UPDATE calls SET customer_id = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(customer.id)
                .bind(call)
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(customer)
    }

    async fn get_customer(&self, tenant: TenantId, id: CustomerId) -> Result<Customer> {
        Ok(
            sqlx::query_as::<_, CustomerRow>("SELECT * FROM customers WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(Error::not_found("customer"))?
                .into_domain(),
        )
    }

    async fn search_customers(&self, tenant: TenantId, query: &str, limit: u32) -> Result<Vec<Customer>> {
        let terms = matching::search_terms(query);
        let mut sql = String::from("SELECT * FROM customers WHERE tenant_id = $1 AND merged_into IS NULL");
        for i in 0..terms.len() {
            sql.push_str(&format!(" AND search_text LIKE ${} ESCAPE '\\'", i + 2));
        }
        sql.push_str(&format!(
            " ORDER BY name{COLLATE_C}, id LIMIT ${}",
            terms.len() + 2
        ));
        let mut q = sqlx::query_as::<_, CustomerRow>(AssertSqlSafe(sql)).bind(tenant);
        for t in &terms {
            q = q.bind(validate::like_pattern(t));
        }
        Ok(q.bind(Page::first(limit).limit())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(CustomerRow::into_domain)
            .collect())
    }

    async fn customer_history(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerHistory> {
        let mut tx = self.pool.begin().await?;
        customer_in(&mut tx, tenant, id).await?;
        let members = merge_members(&mut tx, tenant, id).await?;
        let list = in_list(2, members.len());
        let sql = format!(
            "SELECT * FROM calls WHERE tenant_id = $1 AND customer_id IN ({list}) ORDER BY started_at DESC, id DESC"
        );
        let mut q = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql)).bind(tenant);
        for m in &members {
            q = q.bind(*m);
        }
        let calls = q
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(CallRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "SELECT * FROM jobs WHERE tenant_id = $1 AND customer_id IN ({list}) ORDER BY created_at DESC, id DESC"
        );
        let mut q = sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql)).bind(tenant);
        for m in &members {
            q = q.bind(*m);
        }
        let jobs = q
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(JobRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(CustomerHistory { calls, jobs })
    }

    async fn list_merge_suggestions(
        &self,
        tenant: TenantId,
        status: Option<SuggestionStatus>,
    ) -> Result<Vec<MergeSuggestion>> {
        sqlx::query_as::<_, SuggestionRow>(
            "SELECT * FROM merge_suggestions WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant)
        .bind(status.map(|s| s.as_str()))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(SuggestionRow::into_domain)
        .collect()
    }

    async fn dismiss_merge_suggestion(
        &self,
        tenant: TenantId,
        id: MergeSuggestionId,
    ) -> Result<MergeSuggestion> {
        sqlx::query_as::<_, SuggestionRow>(
            "UPDATE merge_suggestions SET status = 'dismissed' WHERE id = $1 AND tenant_id = $2 RETURNING *",
        )
        .bind(id)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::not_found("merge suggestion"))?
        .into_domain()
    }

    async fn merge_customers(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        merged: CustomerId,
        actor: Actor,
    ) -> Result<CustomerMerge> {
        let mut tx = begin_write(&self.pool).await?;
        super::lock_tenant_customers(&mut tx, tenant).await?;
        let s = customer_in(&mut tx, tenant, survivor).await?;
        let m = customer_in(&mut tx, tenant, merged).await?;
        check_mergeable(&s, &m)?;
        let now = now_();
        sqlx::query(
            "UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4",
        )
        .bind(survivor)
        .bind(now)
        .bind(merged)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        set_suggestions(
            &mut tx,
            tenant,
            survivor,
            merged,
            SuggestionStatus::Open,
            SuggestionStatus::Accepted,
        )
        .await?;
        let row = sqlx::query_as::<_, MergeRow>(
            "INSERT INTO customer_merges (id, tenant_id, survivor_id, merged_id, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(MergeId::new())
        .bind(tenant)
        .bind(survivor)
        .bind(merged)
        .bind(actor.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn list_merges(&self, tenant: TenantId, survivor: CustomerId) -> Result<Vec<CustomerMerge>> {
        self.get_customer(tenant, survivor).await?;
        sqlx::query_as::<_, MergeRow>(
            "SELECT * FROM customer_merges WHERE tenant_id = $1 AND survivor_id = $2 AND undone_at IS NULL \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant)
        .bind(survivor)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(MergeRow::into_domain)
        .collect()
    }

    async fn undo_merge(&self, tenant: TenantId, id: MergeId) -> Result<CustomerMerge> {
        let mut tx = begin_write(&self.pool).await?;
        super::lock_tenant_customers(&mut tx, tenant).await?;
        let merge =
            sqlx::query_as::<_, MergeRow>("SELECT * FROM customer_merges WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::not_found("merge"))?
                .into_domain()?;
        if merge.undone_at.is_some() {
            return Err(Error::InvalidState("the merge was already undone".into()));
        }
        let now = now_();
        sqlx::query(
            "UPDATE customers SET merged_into = NULL, updated_at = $1 WHERE id = $2 AND tenant_id = $3",
        )
        .bind(now)
        .bind(merge.merged_id)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        set_suggestions(
            &mut tx,
            tenant,
            merge.survivor_id,
            merge.merged_id,
            SuggestionStatus::Accepted,
            SuggestionStatus::Open,
        )
        .await?;
        let row = sqlx::query_as::<_, MergeRow>(
            "UPDATE customer_merges SET undone_at = $1 WHERE id = $2 AND tenant_id = $3 RETURNING *",
        )
        .bind(now)
        .bind(id)
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }
}

fn new_customer(tenant: TenantId, name: String, input: &CustomerInput, now: DateTime<Utc>) -> Customer {
    Customer {
        id: CustomerId::new(),
        tenant_id: tenant,
        name,
        phones: input.phone.iter().cloned().collect(),
        address: input.address.clone(),
        merged_into: None,
        created_at: now,
        updated_at: now,
    }
}

const JOB_WRITE_COLS: &str = "customer_id = $1, title = $2, description = $3, address = $4, scheduled_start = $5, \
    scheduled_end = $6, timezone = $7, recurrence = $8, price_minor = $9, currency = $10, urgency = $11, notes = $12, \
    stage = $13, position = $14, version = $15, updated_at = $16";

async fn write_job(tx: &mut Tx, job: &Job, expected_version: i64) -> Result<bool> {
    let sql =
        format!("UPDATE jobs SET {JOB_WRITE_COLS} WHERE id = $17 AND tenant_id = $18 AND version = $19");
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(job.customer_id)
        .bind(job.title.clone())
        .bind(job.description.clone())
        .bind(Json(job.address.clone()))
        .bind(job.schedule.as_ref().map(|s| s.start))
        .bind(job.schedule.as_ref().map(|s| s.end))
        .bind(job.schedule.as_ref().map(|s| s.timezone.name()))
        .bind(job.recurrence.clone())
        .bind(job.price.as_ref().map(|p| p.minor))
        .bind(job.price.as_ref().map(|p| p.currency.clone()))
        .bind(job.urgency.as_str())
        .bind(job.notes.clone())
        .bind(job.stage.as_str())
        .bind(job.position)
        .bind(job.version)
        .bind(job.updated_at)
        .bind(job.id)
        .bind(job.tenant_id)
        .bind(expected_version)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn end_of_stage(tx: &mut Tx, tenant: TenantId, stage: Stage, except: Option<JobId>) -> Result<i64> {
    let (max,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(position) FROM jobs WHERE tenant_id = $1 AND stage = $2 AND id <> $3")
            .bind(tenant)
            .bind(stage.as_str())
            .bind(except.unwrap_or(JobId::from_uuid(uuid::Uuid::nil())))
            .fetch_one(&mut **tx)
            .await?;
    Ok(max.map_or(1024, |p| p + 1024))
}

async fn overlapping(
    ex: &mut Tx,
    tenant: TenantId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    exclude: Option<JobId>,
) -> Result<Vec<Job>> {
    sqlx::query_as::<_, JobRow>(
        "SELECT * FROM jobs WHERE tenant_id = $1 AND stage NOT IN ('completed', 'cancelled') \
         AND scheduled_start IS NOT NULL AND scheduled_start < $2 AND scheduled_end > $3 AND id <> $4 \
         ORDER BY scheduled_start, id",
    )
    .bind(tenant)
    .bind(to_micros(end))
    .bind(to_micros(start))
    .bind(exclude.unwrap_or(JobId::from_uuid(uuid::Uuid::nil())))
    .fetch_all(&mut **ex)
    .await?
    .into_iter()
    .map(JobRow::into_domain)
    .collect()
}

async fn record_stage(tx: &mut Tx, tenant: TenantId, change: &StageChange) -> Result<()> {
    sqlx::query(
        "INSERT INTO stage_history (tenant_id, job_id, from_stage, to_stage, actor, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(change.job_id)
    .bind(change.from.map(|s| s.as_str()))
    .bind(change.to.as_str())
    .bind(change.actor.to_string())
    .bind(change.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn conflict(tx: &mut Tx, tenant: TenantId, id: JobId, expected: i64) -> Error {
    match job_in(tx, tenant, id).await {
        Ok(j) => Error::Conflict {
            entity: "job",
            expected,
            actual: j.version,
        },
        Err(e) => e,
    }
}

#[async_trait]
impl JobBoard for SqlJobStore {
    async fn create_job(&self, tenant: TenantId, new: NewJob, actor: Actor) -> Result<Job> {
        let mut tx = begin_write(&self.pool).await?;
        let zone = tenant_exists(&mut tx, tenant).await?.into_domain()?.timezone;
        let mut job = validate::job_from_new(tenant, &new, zone, now_())?;
        if let Some(c) = new.customer_id {
            customer_in(&mut tx, tenant, c).await?;
        }
        // Lock first, then look for the job from this source: concurrent retries wait and find the winner's
        // job instead of hitting the unique index.
        super::lock_tenant_schedule(&mut tx, tenant).await?;
        if let Some(source) = new.source {
            call_in(&mut tx, tenant, source.call_id).await?;
            let existing = sqlx::query_as::<_, JobRow>(
                "SELECT * FROM jobs WHERE tenant_id = $1 AND source_call_id = $2 AND source_index = $3",
            )
            .bind(tenant)
            .bind(source.call_id)
            .bind(source.appointment_index)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                return row.into_domain();
            }
        }
        if new.reject_double_booking
            && let Some(s) = &job.schedule
        {
            let clash = overlapping(&mut tx, tenant, s.start, s.end, None).await?;
            if !clash.is_empty() {
                return Err(Error::DoubleBooked {
                    conflicting: clash.iter().map(|j| j.id).collect(),
                });
            }
        }
        job.position = end_of_stage(&mut tx, tenant, Stage::QuoteRequested, None).await?;
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, customer_id, source_call_id, source_index, title, description, address, \
             scheduled_start, scheduled_end, timezone, recurrence, price_minor, currency, urgency, notes, stage, \
             position, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
        )
        .bind(job.id)
        .bind(tenant)
        .bind(job.customer_id)
        .bind(job.source.map(|s| s.call_id))
        .bind(job.source.map(|s| s.appointment_index))
        .bind(job.title.clone())
        .bind(job.description.clone())
        .bind(Json(job.address.clone()))
        .bind(job.schedule.as_ref().map(|s| s.start))
        .bind(job.schedule.as_ref().map(|s| s.end))
        .bind(job.schedule.as_ref().map(|s| s.timezone.name()))
        .bind(job.recurrence.clone())
        .bind(job.price.as_ref().map(|p| p.minor))
        .bind(job.price.as_ref().map(|p| p.currency.clone()))
        .bind(job.urgency.as_str())
        .bind(job.notes.clone())
        .bind(job.stage.as_str())
        .bind(job.position)
        .bind(job.version)
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&mut *tx)
        .await?;
        record_stage(
            &mut tx,
            tenant,
            &StageChange {
                job_id: job.id,
                from: None,
                to: Stage::QuoteRequested,
                actor,
                at: job.created_at,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Job> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("job"))?
            .into_domain()
    }

    async fn find_job_by_source(&self, tenant: TenantId, source: JobSource) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE tenant_id = $1 AND source_call_id = $2 AND source_index = $3",
        )
        .bind(tenant)
        .bind(source.call_id)
        .bind(source.appointment_index)
        .fetch_optional(&self.pool)
        .await?
        .map(JobRow::into_domain)
        .transpose()
    }

    async fn list_jobs(&self, tenant: TenantId, filter: &JobFilter, page: Page) -> Result<Vec<Job>> {
        let mut sql = String::from("SELECT * FROM jobs WHERE tenant_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if filter.stage.is_some() {
            sql.push_str(&format!(" AND stage = ${}", next()));
        }
        if filter.customer_id.is_some() {
            sql.push_str(&format!(" AND customer_id = ${}", next()));
        }
        if filter.scheduled_from.is_some() || filter.scheduled_to.is_some() {
            sql.push_str(" AND scheduled_start IS NOT NULL");
        }
        if filter.scheduled_to.is_some() {
            sql.push_str(&format!(" AND scheduled_start < ${}", next()));
        }
        if filter.scheduled_from.is_some() {
            sql.push_str(&format!(" AND scheduled_end > ${}", next()));
        }
        if filter.text.is_some() {
            let i = next();
            sql.push_str(&format!(
                " AND (lower(title) LIKE ${i} ESCAPE '\\' OR lower(description) LIKE ${i} ESCAPE '\\' \
                 OR lower(COALESCE(notes, '')) LIKE ${i} ESCAPE '\\')"
            ));
        }
        let (l, o) = (next(), next());
        sql.push_str(&format!(" ORDER BY position, id LIMIT ${l} OFFSET ${o}"));
        let mut q = sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql)).bind(tenant);
        if let Some(s) = filter.stage {
            q = q.bind(s.as_str());
        }
        if let Some(c) = filter.customer_id {
            q = q.bind(c);
        }
        if let Some(to) = filter.scheduled_to {
            q = q.bind(to_micros(to));
        }
        if let Some(from) = filter.scheduled_from {
            q = q.bind(to_micros(from));
        }
        if let Some(t) = &filter.text {
            q = q.bind(validate::like_pattern(&t.to_ascii_lowercase()));
        }
        q.bind(page.limit())
            .bind(i64::from(page.offset))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(JobRow::into_domain)
            .collect()
    }

    async fn update_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        patch: JobPatch,
        _actor: Actor,
    ) -> Result<Job> {
        let mut tx = begin_write(&self.pool).await?;
        let current = job_in(&mut tx, tenant, id).await?;
        if current.version != expected_version {
            return Err(Error::Conflict {
                entity: "job",
                expected: expected_version,
                actual: current.version,
            });
        }
        let customer_changed = patch.customer_id.flatten();
        let reject_double_booking = patch.reject_double_booking;
        let mut next = validate::apply_patch(&current, patch)?;
        if let Some(c) = customer_changed {
            customer_in(&mut tx, tenant, c).await?;
        }
        if reject_double_booking
            && !next.stage.is_closed()
            && let Some(s) = &next.schedule
        {
            super::lock_tenant_schedule(&mut tx, tenant).await?;
            let clash = overlapping(&mut tx, tenant, s.start, s.end, Some(id)).await?;
            if !clash.is_empty() {
                return Err(Error::DoubleBooked {
                    conflicting: clash.iter().map(|j| j.id).collect(),
                });
            }
        }
        next.version += 1;
        next.updated_at = now_();
        if !write_job(&mut tx, &next, expected_version).await? {
            return Err(conflict(&mut tx, tenant, id, expected_version).await);
        }
        tx.commit().await?;
        Ok(next)
    }

    async fn move_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        stage: Stage,
        position: Option<i64>,
        actor: Actor,
    ) -> Result<Job> {
        let mut tx = begin_write(&self.pool).await?;
        let current = job_in(&mut tx, tenant, id).await?;
        if current.version != expected_version {
            return Err(Error::Conflict {
                entity: "job",
                expected: expected_version,
                actual: current.version,
            });
        }
        let position = match position {
            Some(p) => p,
            None if stage == current.stage => current.position,
            None => end_of_stage(&mut tx, tenant, stage, Some(id)).await?,
        };
        let now = now_();
        let mut next = current.clone();
        next.stage = stage;
        next.position = position;
        next.version += 1;
        next.updated_at = now;
        if !write_job(&mut tx, &next, expected_version).await? {
            return Err(conflict(&mut tx, tenant, id, expected_version).await);
        }
        if stage != current.stage {
            record_stage(
                &mut tx,
                tenant,
                &StageChange {
                    job_id: id,
                    from: Some(current.stage),
                    to: stage,
                    actor,
                    at: now,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(next)
    }

    async fn stage_history(&self, tenant: TenantId, id: JobId) -> Result<Vec<StageChange>> {
        self.get_job(tenant, id).await?;
        sqlx::query_as::<_, HistoryRow>(
            "SELECT * FROM stage_history WHERE tenant_id = $1 AND job_id = $2 ORDER BY seq",
        )
        .bind(tenant)
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(StageChange {
                job_id: r.job_id,
                from: r.from_stage.map(|s| parse(&s, "stage")).transpose()?,
                to: parse(&r.to_stage, "stage")?,
                actor: parse(&r.actor, "actor")?,
                at: r.at,
            })
        })
        .collect()
    }

    async fn add_note(&self, tenant: TenantId, job: JobId, actor: Actor, body: &str) -> Result<JobNote> {
        let body = body.trim();
        if body.is_empty() {
            return Err(Error::invalid("body", "must not be empty"));
        }
        validate::check_text("body", body)?;
        let mut tx = begin_write(&self.pool).await?;
        job_in(&mut tx, tenant, job).await?;
        let note = JobNote {
            id: NoteId::new(),
            tenant_id: tenant,
            job_id: job,
            actor,
            body: body.to_owned(),
            created_at: now_(),
        };
        sqlx::query("INSERT INTO job_notes (id, tenant_id, job_id, actor, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(note.id)
            .bind(tenant)
            .bind(job)
            .bind(note.actor.to_string())
            .bind(note.body.clone())
            .bind(note.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(note)
    }

    async fn list_notes(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobNote>> {
        self.get_job(tenant, job).await?;
        sqlx::query_as::<_, NoteRow>(
            "SELECT * FROM job_notes WHERE tenant_id = $1 AND job_id = $2 ORDER BY created_at, id",
        )
        .bind(tenant)
        .bind(job)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(JobNote {
                id: r.id,
                tenant_id: r.tenant_id,
                job_id: r.job_id,
                actor: parse(&r.actor, "actor")?,
                body: r.body,
                created_at: r.created_at,
            })
        })
        .collect()
    }

    async fn add_photo(
        &self,
        tenant: TenantId,
        job: JobId,
        actor: Actor,
        photo: NewPhoto,
    ) -> Result<JobPhoto> {
        validate_photo(&photo)?;
        let mut tx = begin_write(&self.pool).await?;
        job_in(&mut tx, tenant, job).await?;
        let photo = JobPhoto {
            id: PhotoId::new(),
            tenant_id: tenant,
            job_id: job,
            blob_key: photo.blob_key,
            content_type: photo.content_type,
            size_bytes: photo.size_bytes,
            caption: photo.caption,
            actor,
            created_at: now_(),
        };
        sqlx::query(
            "INSERT INTO job_photos (id, tenant_id, job_id, blob_key, content_type, size_bytes, caption, actor, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(photo.id)
        .bind(tenant)
        .bind(job)
        .bind(photo.blob_key.clone())
        .bind(photo.content_type.clone())
        .bind(photo.size_bytes)
        .bind(photo.caption.clone())
        .bind(photo.actor.to_string())
        .bind(photo.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(photo)
    }

    async fn list_photos(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobPhoto>> {
        self.get_job(tenant, job).await?;
        sqlx::query_as::<_, PhotoRow>(
            "SELECT * FROM job_photos WHERE tenant_id = $1 AND job_id = $2 ORDER BY created_at, id",
        )
        .bind(tenant)
        .bind(job)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(JobPhoto {
                id: r.id,
                tenant_id: r.tenant_id,
                job_id: r.job_id,
                blob_key: r.blob_key,
                content_type: r.content_type,
                size_bytes: r.size_bytes,
                caption: r.caption,
                actor: parse(&r.actor, "actor")?,
                created_at: r.created_at,
            })
        })
        .collect()
    }

    async fn overlapping_jobs(
        &self,
        tenant: TenantId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exclude: Option<JobId>,
    ) -> Result<Vec<Job>> {
        let mut tx = self.pool.begin().await?;
        let jobs = overlapping(&mut tx, tenant, start, end, exclude).await?;
        tx.commit().await?;
        Ok(jobs)
    }
}

#[async_trait]
impl ActivityStore for SqlJobStore {
    async fn first_delivery(&self, tenant: TenantId, key: &str) -> Result<bool> {
        if key.is_empty() {
            return Err(Error::invalid("key", "must not be empty"));
        }
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        let done = sqlx::query(
            "INSERT INTO webhook_keys (tenant_id, key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(key.to_owned())
        .bind(now_())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, entry.tenant_id).await?;
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, actor, action, entity, entity_id, details, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.tenant_id)
        .bind(entry.actor.to_string())
        .bind(entry.action)
        .bind(entry.entity)
        .bind(entry.entity_id)
        .bind(Json(entry.details))
        .bind(to_micros(entry.at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, page: Page) -> Result<Vec<AuditEntry>> {
        sqlx::query_as::<_, AuditRow>(
            "SELECT tenant_id, actor, action, entity, entity_id, details, at FROM audit_log WHERE tenant_id = $1 \
             ORDER BY at DESC, seq DESC LIMIT $2 OFFSET $3",
        )
        .bind(tenant)
        .bind(page.limit())
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(AuditEntry {
                tenant_id: r.tenant_id,
                actor: parse(&r.actor, "actor")?,
                action: r.action,
                entity: r.entity,
                entity_id: r.entity_id,
                details: r.details.0,
                at: r.at,
            })
        })
        .collect()
    }

    async fn add_usage(&self, tenant: TenantId, metric: &str, period: &str, amount: i64) -> Result<i64> {
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        let (total,): (i64,) = sqlx::query_as(
            "INSERT INTO usage_counters (tenant_id, metric, period, total) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, metric, period) DO UPDATE SET total = usage_counters.total + EXCLUDED.total \
             RETURNING total",
        )
        .bind(tenant)
        .bind(metric.to_owned())
        .bind(period.to_owned())
        .bind(amount)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(total)
    }

    async fn usage(&self, tenant: TenantId, metric: &str, period: &str) -> Result<i64> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT total FROM usage_counters WHERE tenant_id = $1 AND metric = $2 AND period = $3",
        )
        .bind(tenant)
        .bind(metric.to_owned())
        .bind(period.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    async fn record_usage(
        &self,
        tenant: TenantId,
        key: &str,
        period: &str,
        amounts: &[(&str, i64)],
    ) -> Result<bool> {
        validate_usage(key, period, amounts)?;
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        // A concurrent transaction inserting the same key makes this insert wait for it (Postgres: the primary
        // key's unique check; SQLite: writers are serial) and then do nothing, so exactly one call counts.
        let recorded = sqlx::query(
            "INSERT INTO usage_events (tenant_id, key, period, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(key.to_owned())
        .bind(period.to_owned())
        .bind(now_())
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (metric, amount) in amounts {
            sqlx::query(
                "INSERT INTO usage_counters (tenant_id, metric, period, total) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, metric, period) DO UPDATE SET total = usage_counters.total + EXCLUDED.total",
            )
            .bind(tenant)
            .bind((*metric).to_owned())
            .bind(period.to_owned())
            .bind(*amount)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn list_usage(&self, tenant: TenantId, period: &str) -> Result<Vec<UsageTotal>> {
        let sql = format!(
            "SELECT metric, total FROM usage_counters WHERE tenant_id = $1 AND period = $2 ORDER BY metric{COLLATE_C}"
        );
        let rows: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant)
            .bind(period.to_owned())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(metric, total)| UsageTotal { metric, total })
            .collect())
    }

    async fn notify(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        kind: &str,
        payload: Value,
    ) -> Result<Notification> {
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        if let Some(u) = user {
            let found: Option<(UserId,)> =
                sqlx::query_as("SELECT id FROM users WHERE id = $1 AND tenant_id = $2")
                    .bind(u)
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found("user"));
            }
        }
        let n = Notification {
            id: NotificationId::new(),
            tenant_id: tenant,
            user_id: user,
            kind: kind.to_owned(),
            payload,
            created_at: now_(),
            read_at: None,
        };
        sqlx::query(
            "INSERT INTO notifications (id, tenant_id, user_id, kind, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(n.id)
        .bind(tenant)
        .bind(user)
        .bind(n.kind.clone())
        .bind(Json(n.payload.clone()))
        .bind(n.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn list_notifications(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        Ok(sqlx::query_as::<_, NotificationRow>(
            "SELECT * FROM notifications WHERE tenant_id = $1 AND (user_id IS NULL OR user_id = $2) \
             AND ($3 = 0 OR read_at IS NULL) ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant)
        .bind(user)
        .bind(i32::from(unread_only))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(notification)
        .collect())
    }

    async fn count_unread_notifications(&self, tenant: TenantId, user: Option<UserId>) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND (user_id IS NULL OR user_id = $2) \
             AND read_at IS NULL",
        )
        .bind(tenant)
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn mark_notification_read(&self, tenant: TenantId, id: NotificationId) -> Result<Notification> {
        Ok(notification(
            sqlx::query_as::<_, NotificationRow>(
                "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND tenant_id = $3 RETURNING *",
            )
            .bind(now_())
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("notification"))?,
        ))
    }
}

fn notification(r: NotificationRow) -> Notification {
    Notification {
        id: r.id,
        tenant_id: r.tenant_id,
        user_id: r.user_id,
        kind: r.kind,
        payload: r.payload.0,
        created_at: r.created_at,
        read_at: r.read_at,
    }
}

// ------------------------------------------------------------------------------------------------ accounts

async fn user_in(tx: &mut Tx, tenant: TenantId, id: UserId) -> Result<User> {
    sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::not_found("user"))?
        .into_domain()
}

async fn owner_count(tx: &mut Tx, tenant: TenantId) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'owner'")
        .bind(tenant)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n)
}

/// Runs `sql` binding `id` (and `tenant` as `$2` when the statement names it) and returns the rows affected.
async fn delete_by<'a, T>(tx: &mut Tx, sql: &'static str, id: T, tenant: TenantId) -> Result<u64>
where
    T: 'a + Send + sqlx::Encode<'a, Db> + sqlx::Type<Db>,
{
    let q = sqlx::query(sql).bind(id);
    let q = if sql.contains("$2") { q.bind(tenant) } else { q };
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

/// Deletes the given customers, calls and jobs of one tenant and every row derived from them, children first
/// (the erasure `erase_customer` and `erase_call` share; the same as the in-memory `State::erase`).
async fn erase_rows(
    tx: &mut Tx,
    tenant: TenantId,
    customers: &[CustomerId],
    calls: &[CallId],
    jobs: &[JobId],
) -> Result<ErasureReport> {
    let mut report = ErasureReport::default();
    let mut named: Vec<String> = customers.iter().map(ToString::to_string).collect();
    named.extend(calls.iter().map(ToString::to_string));
    named.extend(jobs.iter().map(ToString::to_string));
    // Payloads are opaque JSON: read them in id order, a page at a time (memory stays bounded), and match the
    // ids' text in Rust exactly as the in-memory store does.
    let mut doomed = Vec::new();
    let mut after: Option<NotificationId> = None;
    loop {
        let page: Vec<(NotificationId, Json<Value>)> = match after {
            None => sqlx::query_as(
                "SELECT id, payload FROM notifications WHERE tenant_id = $1 ORDER BY id LIMIT 500",
            )
            .bind(tenant)
            .fetch_all(&mut **tx)
            .await?,
            Some(last) => sqlx::query_as(
                "SELECT id, payload FROM notifications WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 500",
            )
            .bind(tenant)
            .bind(last)
            .fetch_all(&mut **tx)
            .await?,
        };
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        let full = page.len() == 500;
        doomed.extend(
            page.into_iter()
                .filter(|(_, payload)| validate::payload_names(&payload.0, &named))
                .map(|(id, _)| id),
        );
        if !full {
            break;
        }
    }
    for id in doomed {
        let n = delete_by(tx, "DELETE FROM notifications WHERE id = $1", id, tenant).await?;
        report.add("notifications", n);
    }
    for &call in calls {
        let n = delete_by(
            tx,
            "DELETE FROM corrections WHERE call_id = $1 AND tenant_id = $2",
            call,
            tenant,
        )
        .await?;
        report.add("corrections", n);
    }
    for &job in jobs {
        for (table, sql) in [
            (
                "corrections",
                "DELETE FROM corrections WHERE job_id = $1 AND tenant_id = $2",
            ),
            (
                "stage_history",
                "DELETE FROM stage_history WHERE job_id = $1 AND tenant_id = $2",
            ),
            (
                "job_notes",
                "DELETE FROM job_notes WHERE job_id = $1 AND tenant_id = $2",
            ),
            (
                "job_photos",
                "DELETE FROM job_photos WHERE job_id = $1 AND tenant_id = $2",
            ),
            ("jobs", "DELETE FROM jobs WHERE id = $1 AND tenant_id = $2"),
        ] {
            let n = delete_by(tx, sql, job, tenant).await?;
            report.add(table, n);
        }
    }
    for &call in calls {
        for (table, sql) in [
            (
                "transcripts",
                "DELETE FROM transcripts WHERE call_id = $1 AND tenant_id = $2",
            ),
            (
                "extractions",
                "DELETE FROM extractions WHERE call_id = $1 AND tenant_id = $2",
            ),
            ("calls", "DELETE FROM calls WHERE id = $1 AND tenant_id = $2"),
        ] {
            let n = delete_by(tx, sql, call, tenant).await?;
            report.add(table, n);
        }
    }
    for &customer in customers {
        for (table, sql) in [
            (
                "merge_suggestions",
                "DELETE FROM merge_suggestions WHERE (customer_id = $1 OR candidate_id = $1) AND tenant_id = $2",
            ),
            (
                "customer_merges",
                "DELETE FROM customer_merges WHERE (survivor_id = $1 OR merged_id = $1) AND tenant_id = $2",
            ),
        ] {
            let n = delete_by(tx, sql, customer, tenant).await?;
            report.add(table, n);
        }
        // Members may point at each other (`merged_into`): unlink them all before deleting any.
        delete_by(
            tx,
            "UPDATE customers SET merged_into = NULL WHERE id = $1 AND tenant_id = $2",
            customer,
            tenant,
        )
        .await?;
    }
    for &customer in customers {
        // customer_phones is the phone index of the customers row (not reported separately).
        delete_by(
            tx,
            "DELETE FROM customer_phones WHERE customer_id = $1 AND tenant_id = $2",
            customer,
            tenant,
        )
        .await?;
        let n = delete_by(
            tx,
            "DELETE FROM customers WHERE id = $1 AND tenant_id = $2",
            customer,
            tenant,
        )
        .await?;
        report.add("customers", n);
    }
    Ok(report)
}

/// The members of a customer (itself and every customer merged into it, transitively): `$1` customer, `$2`
/// tenant.
const MEMBERS_CTE: &str = "WITH RECURSIVE members(id) AS (\
    SELECT id FROM customers WHERE id = $1 AND tenant_id = $2 \
    UNION SELECT c.id FROM customers c JOIN members m ON c.merged_into = m.id WHERE c.tenant_id = $2) ";

async fn footprint_in(tx: &mut Tx, tenant: TenantId, id: CustomerId) -> Result<CustomerFootprint> {
    customer_in(tx, tenant, id).await?;
    let sql = format!(
        "{MEMBERS_CTE}SELECT customers.* FROM customers JOIN members ON customers.id = members.id \
         ORDER BY customers.created_at, customers.id"
    );
    let customers: Vec<CustomerId> = sqlx::query_as::<_, CustomerRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| r.into_domain().id)
        .collect();
    let sql = format!(
        "{MEMBERS_CTE}SELECT {CALL_COLS} FROM calls WHERE tenant_id = $2 AND (customer_id IN (SELECT id FROM members) \
         OR (customer_id IS NULL AND from_number IN (SELECT phone FROM customer_phones \
         WHERE tenant_id = $2 AND customer_id IN (SELECT id FROM members)))) ORDER BY started_at, id"
    );
    let calls: Vec<Call> = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(CallRow::into_domain)
        .collect::<Result<_>>()?;
    let sql = format!(
        "{MEMBERS_CTE}SELECT * FROM jobs WHERE tenant_id = $2 AND customer_id IN (SELECT id FROM members)"
    );
    let mut jobs: BTreeMap<JobId, Job> = BTreeMap::new();
    for row in sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await?
    {
        let job = row.into_domain()?;
        jobs.insert(job.id, job);
    }
    for call in &calls {
        for row in
            sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE source_call_id = $1 AND tenant_id = $2")
                .bind(call.id)
                .bind(tenant)
                .fetch_all(&mut **tx)
                .await?
        {
            let job = row.into_domain()?;
            jobs.insert(job.id, job);
        }
    }
    let mut jobs: Vec<Job> = jobs.into_values().collect();
    jobs.sort_by_key(|j| (j.created_at, j.id));
    Ok(CustomerFootprint {
        customers,
        calls,
        jobs,
    })
}

#[async_trait]
impl AccountStore for SqlJobStore {
    async fn list_tenants(&self, page: Page) -> Result<Vec<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants ORDER BY created_at, id LIMIT $1 OFFSET $2")
            .bind(page.limit())
            .bind(page.offset as i64)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(TenantRow::into_domain)
            .collect()
    }

    async fn update_tenant_profile(&self, id: TenantId, profile: TenantProfile) -> Result<Tenant> {
        let name = validate_tenant(&validate::profile_as_new_tenant(&profile))?;
        sqlx::query_as::<_, TenantRow>(
            "UPDATE tenants SET name = $1, timezone = $2, business_hours = $3 WHERE id = $4 RETURNING *",
        )
        .bind(name)
        .bind(profile.timezone.name())
        .bind(Json(profile.business_hours))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::not_found("tenant"))?
        .into_domain()
    }

    async fn delete_tenant(&self, id: TenantId) -> Result<ErasureReport> {
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, id).await?;
        let mut report = ErasureReport::default();
        // Children before parents; every table of migrations 0001–0004 that holds a tenant_id.
        for (table, sql) in [
            ("sessions", "DELETE FROM sessions WHERE tenant_id = $1"),
            ("api_tokens", "DELETE FROM api_tokens WHERE tenant_id = $1"),
            ("notifications", "DELETE FROM notifications WHERE tenant_id = $1"),
            ("corrections", "DELETE FROM corrections WHERE tenant_id = $1"),
            ("stage_history", "DELETE FROM stage_history WHERE tenant_id = $1"),
            ("job_notes", "DELETE FROM job_notes WHERE tenant_id = $1"),
            ("job_photos", "DELETE FROM job_photos WHERE tenant_id = $1"),
            ("jobs", "DELETE FROM jobs WHERE tenant_id = $1"),
            ("transcripts", "DELETE FROM transcripts WHERE tenant_id = $1"),
            ("extractions", "DELETE FROM extractions WHERE tenant_id = $1"),
            ("calls", "DELETE FROM calls WHERE tenant_id = $1"),
            (
                "merge_suggestions",
                "DELETE FROM merge_suggestions WHERE tenant_id = $1",
            ),
            (
                "customer_merges",
                "DELETE FROM customer_merges WHERE tenant_id = $1",
            ),
            ("", "DELETE FROM customer_phones WHERE tenant_id = $1"),
            ("", "UPDATE customers SET merged_into = NULL WHERE tenant_id = $1"),
            ("customers", "DELETE FROM customers WHERE tenant_id = $1"),
            ("phone_lines", "DELETE FROM phone_lines WHERE tenant_id = $1"),
            ("webhook_keys", "DELETE FROM webhook_keys WHERE tenant_id = $1"),
            ("audit_log", "DELETE FROM audit_log WHERE tenant_id = $1"),
            (
                "usage_counters",
                "DELETE FROM usage_counters WHERE tenant_id = $1",
            ),
            ("usage_events", "DELETE FROM usage_events WHERE tenant_id = $1"),
            ("users", "DELETE FROM users WHERE tenant_id = $1"),
            ("tenants", "DELETE FROM tenants WHERE id = $1"),
        ] {
            let n = sqlx::query(sql).bind(id).execute(&mut *tx).await?.rows_affected();
            if !table.is_empty() {
                report.add(table, n);
            }
        }
        tx.commit().await?;
        after_erasure(&self.pool).await;
        Ok(report)
    }

    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<User> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::not_found("user"))?
            .into_domain()
    }

    async fn find_users_by_login(&self, login: &str) -> Result<Vec<User>> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE login_key = $1 ORDER BY created_at, id")
            .bind(login.trim().to_ascii_lowercase())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(UserRow::into_domain)
            .collect()
    }

    async fn set_user_password(&self, tenant: TenantId, id: UserId, password_hash: &str) -> Result<User> {
        validate::password_hash(password_hash)?;
        let mut tx = begin_write(&self.pool).await?;
        let row = sqlx::query_as::<_, UserRow>(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND tenant_id = $3 RETURNING *",
        )
        .bind(password_hash.to_owned())
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::not_found("user"))?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn set_user_role(&self, tenant: TenantId, id: UserId, role: Role) -> Result<User> {
        let mut tx = begin_write(&self.pool).await?;
        lock_tenant_users(&mut tx, tenant).await?;
        let user = user_in(&mut tx, tenant, id).await?;
        if user.role == Role::Owner && role != Role::Owner && owner_count(&mut tx, tenant).await? <= 1 {
            return Err(Error::InvalidState(
                "cannot demote the tenant's last owner".into(),
            ));
        }
        let row = sqlx::query_as::<_, UserRow>("UPDATE users SET role = $1 WHERE id = $2 RETURNING *")
            .bind(role.as_str())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        lock_tenant_users(&mut tx, tenant).await?;
        let user = user_in(&mut tx, tenant, id).await?;
        if user.role == Role::Owner && owner_count(&mut tx, tenant).await? <= 1 {
            return Err(Error::InvalidState(
                "cannot delete the tenant's last owner".into(),
            ));
        }
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM notifications WHERE user_id = $1",
            "UPDATE corrections SET user_id = NULL WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, tenant: TenantId, session: NewSession) -> Result<Session> {
        let now = now_();
        let user_agent = validate::new_session(&session, now)?;
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        user_in(&mut tx, tenant, session.user_id).await?;
        let row = sqlx::query_as::<_, SessionRow>(
            "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created_at, last_seen_at, expires_at, \
             user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(SessionId::new())
        .bind(tenant)
        .bind(session.user_id)
        .bind(session.token_hash)
        .bind(now)
        .bind(now)
        .bind(to_micros(session.expires_at))
        .bind(user_agent)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                Error::AlreadyExists { entity: "session" }
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        Ok(row.into_domain())
    }

    async fn find_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Session>> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.to_vec())
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await?
        .map(SessionRow::into_domain))
    }

    async fn touch_session(
        &self,
        id: SessionId,
        seen_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let n = sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3")
            .bind(to_micros(seen_at))
            .bind(to_micros(expires_at))
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found("session"));
        }
        Ok(())
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn delete_user_sessions(&self, tenant: TenantId, user: UserId) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn create_api_token(&self, tenant: TenantId, token: NewApiToken) -> Result<ApiToken> {
        let name = validate::new_api_token(&token)?;
        let mut tx = begin_write(&self.pool).await?;
        tenant_exists(&mut tx, tenant).await?;
        if let Some(user) = token.user_id {
            user_in(&mut tx, tenant, user).await?;
        }
        let row = sqlx::query_as::<_, ApiTokenRow>(
            "INSERT INTO api_tokens (id, tenant_id, user_id, name, role, prefix, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(ApiTokenId::new())
        .bind(tenant)
        .bind(token.user_id)
        .bind(name)
        .bind(token.role.as_str())
        .bind(token.prefix)
        .bind(token.token_hash)
        .bind(now_())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                Error::AlreadyExists { entity: "api token" }
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn find_api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        sqlx::query_as::<_, ApiTokenRow>(
            "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(&self.pool)
        .await?
        .map(ApiTokenRow::into_domain)
        .transpose()
    }

    async fn touch_api_token(&self, id: ApiTokenId, used_at: DateTime<Utc>) -> Result<()> {
        let n = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(to_micros(used_at))
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found("api token"));
        }
        Ok(())
    }

    async fn list_api_tokens(&self, tenant: TenantId) -> Result<Vec<ApiToken>> {
        sqlx::query_as::<_, ApiTokenRow>(
            "SELECT * FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ApiTokenRow::into_domain)
        .collect()
    }

    async fn revoke_api_token(&self, tenant: TenantId, id: ApiTokenId) -> Result<ApiToken> {
        sqlx::query_as::<_, ApiTokenRow>(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND tenant_id = $3 \
             RETURNING *",
        )
        .bind(now_())
        .bind(id)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::not_found("api token"))?
        .into_domain()
    }

    async fn update_phone_line(
        &self,
        tenant: TenantId,
        id: PhoneLineId,
        update: PhoneLineUpdate,
    ) -> Result<PhoneLine> {
        validate::phone_line_update(&update)?;
        let mut tx = begin_write(&self.pool).await?;
        let mut line =
            sqlx::query_as::<_, PhoneLineRow>("SELECT * FROM phone_lines WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::not_found("phone line"))?
                .into_domain()?;
        if let Some(mode) = update.webhook_mode {
            line.webhook_mode = mode;
        }
        if let Some(number_id) = update.provider_number_id {
            line.provider_number_id = number_id;
        }
        if let Some(credentials) = update.credentials {
            line.credentials = credentials;
        }
        let row = sqlx::query_as::<_, PhoneLineRow>(
            "UPDATE phone_lines SET webhook_mode = $1, provider_number_id = $2, credentials = $3 \
             WHERE id = $4 AND tenant_id = $5 RETURNING *",
        )
        .bind(line.webhook_mode.as_str())
        .bind(line.provider_number_id)
        .bind(line.credentials)
        .bind(id)
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_domain()
    }

    async fn remove_phone_line(&self, tenant: TenantId, id: PhoneLineId) -> Result<PhoneLine> {
        let mut tx = begin_write(&self.pool).await?;
        let row =
            sqlx::query_as::<_, PhoneLineRow>("SELECT * FROM phone_lines WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::not_found("phone line"))?;
        sqlx::query("UPDATE calls SET phone_line_id = NULL, updated_at = $1 WHERE phone_line_id = $2")
            .bind(now_())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM phone_lines WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        row.into_domain()
    }
}

// ------------------------------------------------------------------------------------------------ privacy

#[async_trait]
impl PrivacyStore for SqlJobStore {
    async fn list_customers(&self, tenant: TenantId, page: Page) -> Result<Vec<Customer>> {
        Ok(sqlx::query_as::<_, CustomerRow>(
            "SELECT * FROM customers WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
        )
        .bind(tenant)
        .bind(page.limit())
        .bind(page.offset as i64)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(CustomerRow::into_domain)
        .collect())
    }

    async fn customer_footprint(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerFootprint> {
        // One read transaction, so the three reads see one state.
        let mut tx = self.pool.begin().await?;
        let fp = footprint_in(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(fp)
    }

    async fn erase_customer(&self, tenant: TenantId, id: CustomerId) -> Result<ErasureReport> {
        let mut tx = begin_write(&self.pool).await?;
        super::lock_tenant_customers(&mut tx, tenant).await?;
        let fp = footprint_in(&mut tx, tenant, id).await?;
        let calls: Vec<CallId> = fp.calls.iter().map(|c| c.id).collect();
        let jobs: Vec<JobId> = fp.jobs.iter().map(|j| j.id).collect();
        let report = erase_rows(&mut tx, tenant, &fp.customers, &calls, &jobs).await?;
        tx.commit().await?;
        after_erasure(&self.pool).await;
        Ok(report)
    }

    async fn erase_call(&self, tenant: TenantId, id: CallId) -> Result<ErasureReport> {
        let mut tx = begin_write(&self.pool).await?;
        call_in(&mut tx, tenant, id).await?;
        let jobs: Vec<(JobId,)> =
            sqlx::query_as("SELECT id FROM jobs WHERE source_call_id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await?;
        let jobs: Vec<JobId> = jobs.into_iter().map(|(j,)| j).collect();
        let report = erase_rows(&mut tx, tenant, &[], &[id], &jobs).await?;
        tx.commit().await?;
        after_erasure(&self.pool).await;
        Ok(report)
    }

    async fn purge_call_artefacts(
        &self,
        tenant: TenantId,
        kind: PurgeKind,
        before: DateTime<Utc>,
        keep: &[CallId],
    ) -> Result<Vec<CallId>> {
        let table = match kind {
            PurgeKind::Transcript => "transcripts",
            PurgeKind::Extraction => "extractions",
        };
        let mut tx = begin_write(&self.pool).await?;
        let sql = format!(
            "SELECT a.call_id FROM {table} a JOIN calls c ON c.id = a.call_id \
             WHERE c.tenant_id = $1 AND a.tenant_id = $1 AND c.started_at < $2 ORDER BY a.call_id"
        );
        let expired: Vec<(CallId,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant)
            .bind(to_micros(before))
            .fetch_all(&mut *tx)
            .await?;
        let delete = format!("DELETE FROM {table} WHERE call_id = $1 AND tenant_id = $2");
        let mut purged = Vec::new();
        for (call,) in expired {
            if keep.contains(&call) {
                continue;
            }
            let n = sqlx::query(AssertSqlSafe(delete.clone()))
                .bind(call)
                .bind(tenant)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                purged.push(call);
            }
        }
        tx.commit().await?;
        purged.sort();
        Ok(purged)
    }
}
