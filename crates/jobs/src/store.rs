//! The store traits and their contracts.
//!
//! The store is split by concern — [`TenantStore`], [`CallStore`], [`WorkQueue`], [`CustomerStore`],
//! [`JobBoard`], [`ActivityStore`], [`AccountStore`], [`PrivacyStore`] — and [`JobStore`] combines them so one `Arc<dyn JobStore>` serves the
//! whole application. Every backend ([`InMemoryJobStore`](crate::memory::InMemoryJobStore), `SqliteJobStore`,
//! `PostgresJobStore`) implements all of them, and the conformance suite in `testing` checks that they agree.
//!
//! # Contract (every backend)
//!
//! * **Tenant isolation.** Every method that reads or writes a tenant's data takes the [`TenantId`] and only
//!   sees that tenant's rows: a record of another tenant is [`Error::NotFound`], exactly
//!   as if it did not exist, and references to another tenant's records in inputs (a customer id in a
//!   [`NewJob`]) are rejected the same way. The only deliberate exceptions are the operations that find the
//!   tenant in the first place or serve all tenants, and all return records carrying their tenant id:
//!   [`TenantStore::route_phone_line`] (a webhook names a number, not a tenant), [`WorkQueue::claim_calls`],
//!   [`WorkQueue::queue_stats`] and [`CallStore::stale_calls`] (workers serve all tenants),
//!   [`AccountStore::find_session`] and [`AccountStore::find_api_token`] (the hash of the credential is what
//!   identifies the tenant), [`AccountStore::touch_session`] and [`AccountStore::touch_api_token`] (by the id
//!   those returned), [`AccountStore::find_users_by_login`] (login forms do not name the tenant), and
//!   [`AccountStore::list_tenants`] and [`AccountStore::purge_expired_sessions`] (admin and schedulers).
//! * **Validation before writing.** Invalid input is [`Error::InvalidInput`] with
//!   every bad field listed, and nothing is written.
//! * **Atomicity.** Each method is one transaction: it happens completely or not at all.
//! * **Timestamps** are UTC, truncated to microseconds; `created_at`/`updated_at` come from the store's clock,
//!   lease arithmetic from the `now` the caller passes (so workers and tests control time).
//! * **Ordering** is stated per method and is total (ties broken by id), so pages are stable.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ids::*;
use crate::model::*;

/// Tenants, their users and their phone lines.
#[async_trait]
pub trait TenantStore: Send + Sync + Debug + 'static {
    /// Creates a tenant. The name must not be empty.
    async fn create_tenant(&self, new: NewTenant) -> Result<Tenant>;
    /// A tenant by id.
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant>;
    /// Replaces the tenant's settings document (e.g. notification preferences).
    async fn update_tenant_settings(&self, id: TenantId, settings: Value) -> Result<Tenant>;
    /// Adds a user. Logins are unique per tenant, case-insensitively ([`Error::AlreadyExists`]).
    async fn create_user(
        &self,
        tenant: TenantId,
        login: &str,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<User>;
    /// A user by login (case-insensitive), `None` when absent.
    async fn find_user_by_login(&self, tenant: TenantId, login: &str) -> Result<Option<User>>;
    /// The tenant's users ordered by login.
    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>>;
    /// Adds a phone line. A number is unique per provider **across tenants** ([`Error::AlreadyExists`]).
    async fn add_phone_line(&self, tenant: TenantId, line: NewPhoneLine) -> Result<PhoneLine>;
    /// The tenant's lines ordered by number.
    async fn list_phone_lines(&self, tenant: TenantId) -> Result<Vec<PhoneLine>>;
    /// The line (and so the tenant) a provider number belongs to. Deliberately not tenant-scoped: a webhook
    /// names the number it was sent for.
    async fn route_phone_line(&self, provider: &str, number: &PhoneNumber) -> Result<Option<PhoneLine>>;
}

/// Calls and what the pipeline learnt about them.
#[async_trait]
pub trait CallStore: Send + Sync + Debug + 'static {
    /// Records a call, idempotently: the same `(provider, provider_call_id)` returns the existing call and
    /// `false`; a new one starts in [`CallState::Received`] and returns `true`.
    async fn record_call(&self, tenant: TenantId, call: NewCall) -> Result<(Call, bool)>;
    /// A call by id.
    async fn get_call(&self, tenant: TenantId, id: CallId) -> Result<Call>;
    /// A call by provider id, `None` when absent.
    async fn find_call_by_provider_id(
        &self,
        tenant: TenantId,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>>;
    /// Calls newest first (`started_at` descending, then id), optionally only in one state.
    async fn list_calls(&self, tenant: TenantId, state: Option<CallState>, page: Page) -> Result<Vec<Call>>;
    /// Records a provider status callback. Once the call is no longer [`CallState::Received`] the processing
    /// state is not touched; a `completed` status moves a `Received` call to
    /// [`CallState::AwaitingRecording`].
    async fn update_call_status(
        &self,
        tenant: TenantId,
        id: CallId,
        provider_status: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<Call>;
    /// Records the call's recording. A call in `Received` or `AwaitingRecording` becomes
    /// [`CallState::Queued`] (due now); later states keep their state (a duplicate callback changes nothing
    /// but the reference). A `None` duration or storage key keeps the value already stored, so a duplicate
    /// provider callback (which carries no storage key) never erases the key the worker wrote.
    async fn set_recording(&self, tenant: TenantId, id: CallId, recording: RecordingRef) -> Result<Call>;
    /// Attributes the call to a customer (of the same tenant).
    async fn link_call_customer(&self, tenant: TenantId, id: CallId, customer: CustomerId) -> Result<Call>;
    /// Puts a finished call (or a dead one) back in the queue for reprocessing: state `Queued`, attempts 0,
    /// checkpoint and error cleared. A call that is not final is [`Error::InvalidState`].
    async fn requeue_call(&self, tenant: TenantId, id: CallId) -> Result<Call>;
    /// Ends a person's review of a call: a call in [`CallState::NeedsReview`] becomes `outcome`, which must be
    /// [`CallState::Done`] or [`CallState::NoAppointment`] (else [`Error::InvalidInput`]). A call in any other
    /// state is [`Error::InvalidState`] and nothing changes. Processing details (step, attempts, last error)
    /// are kept.
    async fn finish_review(&self, tenant: TenantId, id: CallId, outcome: CallState) -> Result<Call>;
    /// Stores (or replaces) the call's transcript.
    async fn put_transcript(&self, tenant: TenantId, transcript: StoredTranscript) -> Result<()>;
    /// The call's transcript.
    async fn get_transcript(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredTranscript>>;
    /// Stores (or replaces) the call's extraction.
    async fn put_extraction(&self, tenant: TenantId, extraction: StoredExtraction) -> Result<()>;
    /// The call's extraction.
    async fn get_extraction(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredExtraction>>;
    /// Records a user's correction of an extracted field.
    async fn add_correction(&self, tenant: TenantId, correction: NewCorrection) -> Result<Correction>;
    /// The call's corrections, oldest first.
    async fn list_corrections(&self, tenant: TenantId, call: CallId) -> Result<Vec<Correction>>;
    /// Calls of **any tenant** in one of `states` whose `updated_at` is in `[updated_since, updated_before)`,
    /// oldest `updated_at` first, then id; at most `limit` (1–500, 0 means 50, as for [`Page`]).
    ///
    /// For the reconciliation pass: calls left in [`CallState::Received`] or
    /// [`CallState::AwaitingRecording`] because a recording callback never arrived, to ask the provider about.
    /// Like [`WorkQueue::claim_calls`] it crosses tenants deliberately (the records carry their tenant id).
    /// Empty `states` is an empty result. The lower bound keeps calls that will never change (a call that ended
    /// without a recording) from filling every page forever.
    async fn stale_calls(
        &self,
        states: &[CallState],
        updated_since: DateTime<Utc>,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>>;
}

/// Claiming calls for processing, with leases.
///
/// A call is **due** when its state is `Queued`, or `Processing` with an expired lease (its worker died), and
/// its `next_attempt_at` is absent or not after `now`. Claiming sets state `Processing`, the lease
/// (`owner`, `now + lease`) and increments `attempts`. Every other method requires the caller's [`Lease`]
/// (take it from the claimed call with [`Call::lease`]): held by its owner **and** still at its attempt
/// number (no later claim happened), state `Processing` and `lease_until > now`, else [`Error::LeaseLost`]
/// and nothing changes. So even two tasks sharing one owner string cannot both write after a re-claim.
/// Two claimers never hold the same call at the same time.
#[async_trait]
pub trait WorkQueue: Send + Sync + Debug + 'static {
    /// Atomically claims up to `limit` due calls of **any tenant**, oldest due first
    /// (`coalesce(next_attempt_at, created_at)`, then id).
    ///
    /// A call whose lease expired after `max_attempts` or more claims (its worker crashed or hung every time)
    /// is not claimed again: it becomes [`CallState::Dead`] with `last_error` "lease expired N times" (use
    /// [`RetryPolicy::max_attempts`]). `max_attempts < 1` is [`Error::InvalidInput`].
    async fn claim_calls(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        max_attempts: i32,
    ) -> Result<Vec<Call>>;
    /// Extends the lease to `now + lease`.
    async fn extend_lease(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Call>;
    /// Saves progress: the step just finished and its data. A restarted worker resumes from it.
    async fn checkpoint(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        step: &str,
        data: Option<Value>,
    ) -> Result<Call>;
    /// Finishes the call with a final outcome (`Done`, `NoAppointment` or `NeedsReview`; others are
    /// [`Error::InvalidInput`]) and drops the lease.
    async fn finish_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        outcome: CallState,
    ) -> Result<Call>;
    /// Gives the call back for a later attempt: state `Queued`, `last_error`, due at `next_attempt_at`.
    async fn retry_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<Call>;
    /// Gives up: state `Dead` with the reason in `last_error`.
    async fn kill_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Call>;
    /// Gives the call back untouched (e.g. on shutdown): state `Queued`, due now, and the claim does not
    /// count as an attempt.
    async fn release_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Call>;
    /// The queue across **all tenants** at `now` (for the queue-depth metric): the number of calls per state,
    /// how many are due (see [`QueueStats::due`]: the calls [`WorkQueue::claim_calls`] would look at) and since
    /// when the oldest due one has waited. Reads only. One statement on the SQL backends: the due part reads
    /// only unfinished calls through an index; the per-state counts read every call once, from the
    /// `calls_state` index (SQLite: covering index, ≈ 12 ms for 200,000 calls; Postgres: index-only or
    /// parallel scan, ≈ 40 ms), so poll it at a metrics-scrape interval, not per claim.
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats>;
}

/// Exponential backoff with deterministic jitter, for [`WorkQueueExt::fail_call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// After this many attempts the call is dead.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    /// 30 s, doubling, at most 1 h, dead after 8 attempts.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones: `base · 2^(attempts-1)` capped at
    /// `max_delay`, then scaled into `[50 %, 100 %]` by a jitter derived from the call id (so workers spread
    /// out, yet the value is reproducible).
    pub fn delay(&self, call: CallId, attempts: i32) -> Duration {
        let exp = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let raw = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_delay);
        let bytes = call.as_uuid().as_u128();
        let mix =
            (bytes as u64) ^ ((bytes >> 64) as u64) ^ (attempts as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let frac = 0.5 + (mix % 1000) as f64 / 2000.0;
        raw.mul_f64(frac)
    }
}

/// Convenience over [`WorkQueue`], for every backend.
#[async_trait]
pub trait WorkQueueExt: WorkQueue {
    /// Records a failed attempt: [`WorkQueue::kill_call`] once `attempts >= policy.max_attempts` or when the
    /// error is permanent (`retryable == false`), else [`WorkQueue::retry_call`] after the policy's delay.
    #[allow(clippy::too_many_arguments)]
    async fn fail_call(
        &self,
        call: &Call,
        lease: &Lease,
        now: DateTime<Utc>,
        error: &str,
        retryable: bool,
        policy: &RetryPolicy,
    ) -> Result<Call> {
        if !retryable || call.processing.attempts >= policy.max_attempts {
            self.kill_call(call.tenant_id, call.id, lease, now, error).await
        } else {
            let delay = policy.delay(call.id, call.processing.attempts);
            let next =
                now + chrono::Duration::from_std(delay).map_err(|e| Error::InvalidState(e.to_string()))?;
            self.retry_call(call.tenant_id, call.id, lease, now, error, to_micros(next))
                .await
        }
    }
}

impl<T: WorkQueue + ?Sized> WorkQueueExt for T {}

/// Customers: find-or-create, search, merges.
#[async_trait]
pub trait CustomerStore: Send + Sync + Debug + 'static {
    /// Finds the customer an appointment belongs to, or creates one.
    ///
    /// Candidates are the tenant's unmerged customers sharing the input's E.164 phone or its normalised
    /// address (merged customers resolve to their survivor). A candidate matches **confidently** when the
    /// phone is the same and the names are similar (Jaro-Winkler ≥ 0.85 on normalised names) or one name is
    /// unknown, or when the address is the same and the names are similar. The best confident match (highest
    /// score, then oldest) is returned and gains the input's phone if new. Otherwise a customer is created,
    /// and every remaining candidate becomes an open [`MergeSuggestion`] — never a silent merge. With
    /// `source_call` set, the call is linked to the resulting customer.
    async fn find_or_create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<CustomerMatch>;
    /// Creates a customer without matching (entered by hand).
    async fn create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<Customer>;
    /// A customer by id (also a merged one; see `merged_into`).
    async fn get_customer(&self, tenant: TenantId, id: CustomerId) -> Result<Customer>;
    /// Unmerged customers whose name, phone or address contains every whitespace-separated term of `query`
    /// (ASCII case-insensitive), ordered by name then id. An empty query lists all.
    async fn search_customers(&self, tenant: TenantId, query: &str, limit: u32) -> Result<Vec<Customer>>;
    /// Calls and jobs of the customer and of every customer merged into it, newest first.
    async fn customer_history(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerHistory>;
    /// Merge suggestions, newest first, optionally of one status.
    async fn list_merge_suggestions(
        &self,
        tenant: TenantId,
        status: Option<SuggestionStatus>,
    ) -> Result<Vec<MergeSuggestion>>;
    /// Marks a suggestion dismissed.
    async fn dismiss_merge_suggestion(
        &self,
        tenant: TenantId,
        id: MergeSuggestionId,
    ) -> Result<MergeSuggestion>;
    /// Merges `merged` into `survivor`: `merged.merged_into = survivor`, open suggestions between the two
    /// become accepted. Nothing else is rewritten, so the merge can be undone exactly. Merging a customer
    /// into itself, into a merged customer, or one that is already merged is [`Error::InvalidState`].
    async fn merge_customers(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        merged: CustomerId,
        actor: Actor,
    ) -> Result<CustomerMerge>;
    /// The merges into `survivor` that can still be undone (not undone yet), newest first (`created_at`, then
    /// id, descending). [`Error::NotFound`] when the customer does not exist in the tenant.
    async fn list_merges(&self, tenant: TenantId, survivor: CustomerId) -> Result<Vec<CustomerMerge>>;
    /// Undoes a merge: the merged customer stands alone again, its suggestions reopen. Undoing twice is
    /// [`Error::InvalidState`].
    async fn undo_merge(&self, tenant: TenantId, merge: MergeId) -> Result<CustomerMerge>;
}

/// The job board.
#[async_trait]
pub trait JobBoard: Send + Sync + Debug + 'static {
    /// Creates a job in [`Stage::QuoteRequested`] at the end of that column, version 1, with a history entry
    /// `None → QuoteRequested`. Validation: title 1–200 characters; start and end both or neither, end after
    /// start; recurrence only with a schedule and must parse as an RRULE; price non-negative with an ISO
    /// currency; customer and source call must exist in the tenant. With `source` set and a job from the same
    /// source already present, that job is returned unchanged (idempotent pipeline retries). With
    /// `reject_double_booking`, an overlap with another open job is [`Error::DoubleBooked`].
    async fn create_job(&self, tenant: TenantId, job: NewJob, actor: Actor) -> Result<Job>;
    /// A job by id.
    async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Job>;
    /// The job created from a call's appointment, if any.
    async fn find_job_by_source(&self, tenant: TenantId, source: JobSource) -> Result<Option<Job>>;
    /// Jobs matching the filter, ordered by position then id (the board's order within a stage).
    async fn list_jobs(&self, tenant: TenantId, filter: &JobFilter, page: Page) -> Result<Vec<Job>>;
    /// Edits a job if its version is still `expected_version` (else [`Error::Conflict`], nothing written);
    /// bumps the version. Same validation as creation. With `patch.reject_double_booking`, a schedule that
    /// overlaps another open job is [`Error::DoubleBooked`] and nothing is written.
    async fn update_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        patch: JobPatch,
        actor: Actor,
    ) -> Result<Job>;
    /// Moves a job to a stage and position (`None` = end of the column) if its version is still
    /// `expected_version`; bumps the version and records a history entry when the stage changes.
    async fn move_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        stage: Stage,
        position: Option<i64>,
        actor: Actor,
    ) -> Result<Job>;
    /// The job's stage changes, oldest first.
    async fn stage_history(&self, tenant: TenantId, id: JobId) -> Result<Vec<StageChange>>;
    /// Adds a note (non-empty).
    async fn add_note(&self, tenant: TenantId, job: JobId, actor: Actor, body: &str) -> Result<JobNote>;
    /// The job's notes, oldest first.
    async fn list_notes(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobNote>>;
    /// Adds photo metadata.
    async fn add_photo(
        &self,
        tenant: TenantId,
        job: JobId,
        actor: Actor,
        photo: NewPhoto,
    ) -> Result<JobPhoto>;
    /// The job's photos, oldest first.
    async fn list_photos(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobPhoto>>;
    /// Open jobs (not Completed or Cancelled) whose schedule overlaps `[start, end)`, by start then id — the
    /// double-booking check. One crew per tenant is assumed; recurrences count only their first occurrence.
    async fn overlapping_jobs(
        &self,
        tenant: TenantId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exclude: Option<JobId>,
    ) -> Result<Vec<Job>>;
}

/// Webhook idempotency, audit log, usage counters and notifications.
#[async_trait]
pub trait ActivityStore: Send + Sync + Debug + 'static {
    /// Records a webhook idempotency key; `true` the first time the key is seen for the tenant, `false` on
    /// every repeat (atomically, so concurrent duplicates see exactly one `true`).
    async fn first_delivery(&self, tenant: TenantId, key: &str) -> Result<bool>;
    /// Appends to the audit log.
    async fn append_audit(&self, entry: AuditEntry) -> Result<()>;
    /// The audit log, newest first.
    async fn list_audit(&self, tenant: TenantId, page: Page) -> Result<Vec<AuditEntry>>;
    /// Adds `amount` to a usage counter for a period (e.g. `2026-11`) and returns the new total.
    async fn add_usage(&self, tenant: TenantId, metric: &str, period: &str, amount: i64) -> Result<i64>;
    /// A usage counter's total (0 when never used).
    async fn usage(&self, tenant: TenantId, metric: &str, period: &str) -> Result<i64>;
    /// Meters usage once per idempotency `key` (e.g. `call:{call_id}:audio`), so a restarted worker never
    /// bills twice.
    ///
    /// In one transaction: records the key for the tenant (with the period and the store's time); if the key
    /// is new, adds every `(metric, amount)` to its counter for `period` exactly as [`add_usage`] does (a
    /// metric named twice adds both amounts) and returns `true`; if the key was already recorded, changes
    /// nothing and returns `false` (whatever the amounts and period this time). Concurrent calls with one key
    /// see exactly one `true` and the amounts are counted once. Keys are per tenant: another tenant's key
    /// does not count. Validation (all fields listed, nothing written): `key` 1–200 bytes, `period` and every
    /// metric non-empty, amounts ≥ 0, no NUL characters; an unknown tenant is [`Error::NotFound`].
    ///
    /// [`add_usage`]: ActivityStore::add_usage
    async fn record_usage(
        &self,
        tenant: TenantId,
        key: &str,
        period: &str,
        amounts: &[(&str, i64)],
    ) -> Result<bool>;
    /// Every usage counter of the tenant for `period`, ordered by metric (byte order); empty when none (also
    /// for an unknown tenant, like [`ActivityStore::usage`]'s 0).
    async fn list_usage(&self, tenant: TenantId, period: &str) -> Result<Vec<UsageTotal>>;
    /// Creates a notification.
    async fn notify(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        kind: &str,
        payload: Value,
    ) -> Result<Notification>;
    /// Notifications for a user (their own and tenant-wide ones), newest first.
    async fn list_notifications(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        unread_only: bool,
    ) -> Result<Vec<Notification>>;
    /// How many of [`Self::list_notifications`]`(tenant, user, true)` there are, without reading them (the
    /// dashboard shows the number on every page).
    async fn count_unread_notifications(&self, tenant: TenantId, user: Option<UserId>) -> Result<u64>;
    /// Marks a notification read (idempotent: the first read time stays).
    async fn mark_notification_read(&self, tenant: TenantId, id: NotificationId) -> Result<Notification>;
}

/// Accounts: tenants (cross-tenant admin views), users, sessions, API tokens, phone-line changes.
///
/// [`AccountStore::list_tenants`], [`AccountStore::find_users_by_login`], [`AccountStore::find_session`],
/// [`AccountStore::find_api_token`] and [`AccountStore::purge_expired_sessions`] cross tenants by design (a
/// login form or a credential does not name the tenant; schedulers serve all tenants); what they return
/// carries its tenant id.
#[async_trait]
pub trait AccountStore: Send + Sync + Debug + 'static {
    /// Every tenant, oldest first (ties by id). Admin and schedulers (retention) only.
    async fn list_tenants(&self, page: Page) -> Result<Vec<Tenant>>;
    /// Changes name / zone / opening hours (validation as in [`TenantStore::create_tenant`]).
    async fn update_tenant_profile(&self, id: TenantId, profile: TenantProfile) -> Result<Tenant>;
    /// Deletes the tenant and **every** row that belongs to it (users, sessions, API tokens, phone lines, calls,
    /// transcripts, extractions, corrections, checkpoints/leases, customers, merges, merge suggestions, jobs,
    /// notes, photos, stage history, notifications, usage, idempotency/delivery keys, audit entries).
    /// [`Error::NotFound`] when it does not exist. Returns per-table counts.
    async fn delete_tenant(&self, id: TenantId) -> Result<ErasureReport>;

    /// One user of the tenant.
    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<User>;
    /// Users with this login in **any** tenant (case-insensitive), oldest first (then id) — login forms do
    /// not name the tenant.
    async fn find_users_by_login(&self, login: &str) -> Result<Vec<User>>;
    /// Replaces the password hash (PHC string) and deletes the user's sessions (not its API tokens).
    async fn set_user_password(&self, tenant: TenantId, id: UserId, password_hash: &str) -> Result<User>;
    /// Changes the role. Refuses ([`Error::InvalidState`]) to demote the tenant's last owner.
    async fn set_user_role(&self, tenant: TenantId, id: UserId, role: Role) -> Result<User>;
    /// Deletes the user, its sessions and its API tokens. Refuses ([`Error::InvalidState`]) to delete the
    /// last owner. The user's notifications go too; its corrections stay without the user.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<()>;

    /// Stores a login session. `token_hash` is SHA-256 of the cookie secret (the secret is never stored).
    /// Validation: hash of 32 bytes, `expires_at` after now; the user must exist in the tenant
    /// ([`Error::NotFound`]). A hash already in use is [`Error::AlreadyExists`].
    async fn create_session(&self, tenant: TenantId, session: NewSession) -> Result<Session>;
    /// The unexpired session (`expires_at > now`) with this token hash, any tenant (the hash is the
    /// credential).
    async fn find_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Session>>;
    /// Slides a session's expiry and records when it was last seen. [`Error::NotFound`] when the session is
    /// gone.
    async fn touch_session(
        &self,
        id: SessionId,
        seen_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Logs out: deletes the session with this token hash; `false` when there was none.
    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool>;
    /// Deletes every session of a user (password change, user removal); returns how many.
    async fn delete_user_sessions(&self, tenant: TenantId, user: UserId) -> Result<u64>;
    /// Deletes sessions that expired before `now` (`expires_at <= now`, as [`AccountStore::find_session`]
    /// no longer finds them), any tenant; returns how many.
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Stores an API token (its SHA-256 hash; the secret is shown once by the server and never stored).
    /// Validation: hash of 32 bytes, name 1–100 characters, prefix at most 16; the user, when set, must exist
    /// in the tenant ([`Error::NotFound`]). A hash already in use is [`Error::AlreadyExists`].
    async fn create_api_token(&self, tenant: TenantId, token: NewApiToken) -> Result<ApiToken>;
    /// The **unrevoked** token with this hash, any tenant.
    async fn find_api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>>;
    /// Records a use (cheap; callers may throttle it). [`Error::NotFound`] when the token is gone.
    async fn touch_api_token(&self, id: ApiTokenId, used_at: DateTime<Utc>) -> Result<()>;
    /// The tenant's tokens including revoked ones, newest first (`created_at`, then id, descending).
    async fn list_api_tokens(&self, tenant: TenantId) -> Result<Vec<ApiToken>>;
    /// Revokes (idempotent: revoking twice keeps the first `revoked_at`).
    async fn revoke_api_token(&self, tenant: TenantId, id: ApiTokenId) -> Result<ApiToken>;

    /// Changes a line's webhook mode, provider number id and (already encrypted) credentials; `None` fields are
    /// left as they are (`Some(None)` clears an `Option` field).
    async fn update_phone_line(
        &self,
        tenant: TenantId,
        id: PhoneLineId,
        update: PhoneLineUpdate,
    ) -> Result<PhoneLine>;
    /// Removes a line: [`TenantStore::route_phone_line`] stops finding it; calls keep their history with
    /// `phone_line_id` cleared. Returns the removed line.
    async fn remove_phone_line(&self, tenant: TenantId, id: PhoneLineId) -> Result<PhoneLine>;
}

/// GDPR: listing for export, erasure of a data subject, retention of transcripts and extractions.
#[async_trait]
pub trait PrivacyStore: Send + Sync + Debug + 'static {
    /// The tenant's customers (including merged ones), oldest first (`created_at`, then id) — for a full
    /// export.
    async fn list_customers(&self, tenant: TenantId, page: Page) -> Result<Vec<Customer>>;
    /// Everything that belongs to a customer, as ids, so the server can export it and delete the blobs before
    /// the rows: the customer and every customer merged into it (transitively), oldest first; calls linked to
    /// any of them **or** linked to no customer and whose `from` is one of their phone numbers (a call linked
    /// to another customer is that customer's), by `started_at` then id; jobs of those customers or booked
    /// from those calls, by `created_at` then id. [`Error::NotFound`] for an unknown id.
    async fn customer_footprint(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerFootprint>;
    /// Deletes everything in the footprint: customer rows, their calls with transcripts, extractions,
    /// corrections and queue state; jobs with notes, photos (rows) and stage history; merges and merge
    /// suggestions naming them; notifications whose payload names one of the erased call/job/customer ids.
    /// Audit entries and usage events are kept (they hold no personal data). Idempotent on a second call:
    /// [`Error::NotFound`] once the customer is gone. Corrections of other calls made on an erased job go
    /// too. Returns rows deleted per table (`customer_phones`, an index of `customers.phones`, not counted).
    async fn erase_customer(&self, tenant: TenantId, id: CustomerId) -> Result<ErasureReport>;
    /// Deletes one call and everything derived from it (transcript, extraction, corrections, queue state, jobs
    /// booked from it with their notes/photos/history, notifications naming them). For erasing calls that
    /// belong to no customer. [`Error::NotFound`] for an unknown id.
    async fn erase_call(&self, tenant: TenantId, id: CallId) -> Result<ErasureReport>;
    /// Retention: deletes the stored transcripts ([`PurgeKind::Transcript`]) or extractions
    /// ([`PurgeKind::Extraction`]) of the tenant's calls that **started** before `before`, except calls in
    /// `keep` (legal holds). Returns the ids of the calls whose artefact was deleted, in id order (so the
    /// caller can audit and count). Corrections stay.
    async fn purge_call_artefacts(
        &self,
        tenant: TenantId,
        kind: PurgeKind,
        before: DateTime<Utc>,
        keep: &[CallId],
    ) -> Result<Vec<CallId>>;
}

/// What [`JobStoreExt::book_appointment`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    /// The job (new, or the one already booked from the same source).
    pub job: Job,
    /// How the customer was found; `None` when the job already existed (nothing was matched again, or a
    /// concurrent retry booked it first): the job's own `customer_id` is then the customer to use.
    pub customer: Option<CustomerMatch>,
}

/// Convenience over the whole store, for every backend.
#[async_trait]
pub trait JobStoreExt: CustomerStore + JobBoard {
    /// Books one appointment from a call: find-or-create the customer, then create the job for it.
    ///
    /// Idempotent for pipeline retries when `job.source` is set: if a job from that source exists it is
    /// returned and no customer is matched or created again. The two steps are separate transactions; a
    /// crash between them leaves a customer without the job, and the retry matches that customer again
    /// when the appointment has a phone or an address (a name alone creates a second customer, which then
    /// shows up as a merge suggestion only if phone or address coincide — checkpoint the customer id if that
    /// matters).
    async fn book_appointment(
        &self,
        tenant: TenantId,
        customer: CustomerInput,
        mut job: NewJob,
        actor: Actor,
    ) -> Result<Booking> {
        if let Some(source) = job.source
            && let Some(existing) = self.find_job_by_source(tenant, source).await?
        {
            return Ok(Booking {
                job: existing,
                customer: None,
            });
        }
        let found = self.find_or_create_customer(tenant, customer).await?;
        job.customer_id = Some(found.customer.id);
        let job = self.create_job(tenant, job, actor).await?;
        // A concurrent retry booked the job first: its customer is the job's, not the one just found (which
        // may be a duplicate created by this retry and is then not reported as the booking's customer).
        let customer = (job.customer_id == Some(found.customer.id)).then_some(found);
        Ok(Booking { job, customer })
    }
}

impl<T: CustomerStore + JobBoard + ?Sized> JobStoreExt for T {}

/// Everything the application needs, as one object: `Arc<dyn JobStore>`.
pub trait JobStore:
    TenantStore + CallStore + WorkQueue + CustomerStore + JobBoard + ActivityStore + AccountStore + PrivacyStore
{
}

impl<T> JobStore for T where
    T: TenantStore
        + CallStore
        + WorkQueue
        + CustomerStore
        + JobBoard
        + ActivityStore
        + AccountStore
        + PrivacyStore
{
}

/// The erased store.
pub type DynJobStore = dyn JobStore;

// Compile-time check that every trait stays object-safe.
const _: Option<&dyn JobStore> = None;
const _: Option<&dyn TenantStore> = None;
const _: Option<&dyn CallStore> = None;
const _: Option<&dyn WorkQueue> = None;
const _: Option<&dyn CustomerStore> = None;
const _: Option<&dyn JobBoard> = None;
const _: Option<&dyn ActivityStore> = None;
const _: Option<&dyn AccountStore> = None;
const _: Option<&dyn PrivacyStore> = None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let p = RetryPolicy::default();
        let id = CallId::new();
        for attempts in 1..12 {
            let raw = p
                .base
                .saturating_mul(2u32.pow((attempts - 1) as u32))
                .min(p.max_delay);
            let d = p.delay(id, attempts);
            assert!(d >= raw / 2 && d <= raw, "attempt {attempts}: {d:?} vs {raw:?}");
            assert_eq!(d, p.delay(id, attempts), "deterministic");
        }
    }
}
