//! The worker: claims calls with leases and drives each through the steps, checkpointing after every one.
//!
//! | step (checkpoint name) | side effect | what the checkpoint carries |
//! |---|---|---|
//! | [`Step::Stored`] (`stored`) | recording downloaded from the provider and stored encrypted; the call's `RecordingRef.storage_key` set | storage key, content type |
//! | [`Step::Transcribed`] (`transcribed`) | redacted transcript saved (`put_transcript`) | + nothing new (the transcript is in the store) |
//! | [`Step::Extracted`] (`extracted`) | extraction saved (`put_extraction`) | + nothing new (the extraction is in the store) |
//! | [`Step::Booked`] (`booked`) | one job per appointment (`book_appointment`, idempotent per `(call, index)`), call linked to the customer | + job ids |
//!
//! The call then finishes `done`, `no_appointment` or `needs_review`. A restarted worker reads the call's
//! checkpoint and starts at the step after it, so a finished side effect is never repeated. Each step is also
//! idempotent on its natural key, for the window between a side effect and its checkpoint:
//!
//! - the audio lives at a key derived from tenant, call and provider recording id; a stored blob is read back
//!   instead of downloading again (so a call re-queued for reprocessing never downloads twice either);
//! - the provider's copy is deleted only after the `stored` checkpoint (re-saved with `provider_deleted`), and
//!   "already gone" counts as deleted;
//! - usage is metered with [`callbook_jobs::ActivityStore::record_usage`] under keys `call:{id}:{step}`, so a
//!   repeated step is never billed twice;
//! - jobs are booked per `(call, appointment index)`;
//! - e-mails carry a dedupe key per job (see [`crate::notify`]); live events may repeat after a crash and carry
//!   ids for that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callbook_extract::{Extraction, Extractor};
use callbook_jobs::{
    Actor, Call, CallState, JobId, JobStore, JobStoreExt, Lease, RecordingRef, RetryPolicy, StoredExtraction,
    StoredTranscript, Tenant,
};
use callbook_storage::{RecordingKey, RecordingOptions, RecordingStore, RecordingStoreExt};
use callbook_telephony::telephony::{AudioFormat, RecordingSid, Telephony};
use callbook_transcribe::redact::{RedactionOptions, redact_transcript};
use callbook_transcribe::{AudioInput, TranscribeOptions, Transcriber, Usage as TranscriptionUsage};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::error::{Error, Result};
use crate::notify::{Event, EventKind, Notifier};
use crate::{mapping, metrics, usage};

/// The worker's settings. Start from [`WorkerConfig::new`] (or [`WorkerConfig::from_env`]) and adjust with the
/// `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    owner: String,
    lease: Duration,
    batch_size: u32,
    retry: RetryPolicy,
    review_threshold: f64,
    default_visit: TimeDelta,
    concurrency: usize,
    poll_interval: Duration,
    shutdown_grace: Duration,
    delete_provider_copy: bool,
    limits: ProviderLimits,
    reconcile_every: Option<Duration>,
    reconcile_after: Duration,
    reconcile_window: Duration,
    stats_every: Duration,
}

/// How many calls may use each provider at once, per worker (and all its clones): protects the provider's
/// rate limits and the machine (local Whisper is CPU-bound) while other calls keep moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// Recording downloads from the telephony provider.
    pub download: usize,
    /// Transcriptions.
    pub transcribe: usize,
    /// Extractions.
    pub extract: usize,
}

impl Default for ProviderLimits {
    /// 8 downloads, 4 transcriptions, 4 extractions at once.
    fn default() -> Self {
        Self {
            download: 8,
            transcribe: 4,
            extract: 4,
        }
    }
}

/// A setting read by [`WorkerConfig::from_env`] had a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl WorkerConfig {
    /// Defaults for a worker named `owner` (unique per process, e.g. `host:pid`): lease 10 min (extended
    /// while a call is worked on), batch 4, 4 calls at once, [`RetryPolicy::default`] (30 s doubling, capped
    /// at 1 h, dead after 8 attempts), review threshold 0.5, a one-hour visit when only a start time was said,
    /// poll every second when idle, 30 s shutdown grace, the provider's copy kept, [`ProviderLimits::default`],
    /// reconciliation every 5 min for calls without a recording for 10 min (up to 2 days old), queue
    /// statistics every 5 s.
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            lease: Duration::from_secs(600),
            batch_size: 4,
            retry: RetryPolicy::default(),
            review_threshold: 0.5,
            default_visit: TimeDelta::hours(1),
            concurrency: 4,
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
            delete_provider_copy: false,
            limits: ProviderLimits::default(),
            reconcile_every: Some(Duration::from_secs(300)),
            reconcile_after: Duration::from_secs(600),
            reconcile_window: Duration::from_secs(2 * 86_400),
            stats_every: Duration::from_secs(5),
        }
    }

    /// Defaults adjusted by the environment (all optional; a bad value is an error naming the variable):
    ///
    /// | variable | setting |
    /// |---|---|
    /// | `CALLBOOK_WORKER_ID` | lease owner (default `{hostname}:{pid}`) |
    /// | `CALLBOOK_WORKER_CONCURRENCY` | calls at once (1–1024) |
    /// | `CALLBOOK_WORKER_LEASE_SECONDS` | lease (10–86400) |
    /// | `CALLBOOK_WORKER_MAX_ATTEMPTS` | attempts before dead (1–100) |
    /// | `CALLBOOK_WORKER_GRACE_SECONDS` | shutdown grace (0–3600) |
    /// | `CALLBOOK_REVIEW_THRESHOLD` | default review threshold (0–1; tenants may override) |
    /// | `CALLBOOK_DELETE_PROVIDER_RECORDINGS` | `true`/`false`: delete the provider's copy once stored |
    /// | `CALLBOOK_DOWNLOAD_CONCURRENCY`, `CALLBOOK_TRANSCRIBE_CONCURRENCY`, `CALLBOOK_EXTRACT_CONCURRENCY` | [`ProviderLimits`] (1–1024) |
    ///
    /// ```
    /// let config = callbook_pipeline::WorkerConfig::from_vars(|name| {
    ///     (name == "CALLBOOK_WORKER_CONCURRENCY").then(|| "16".to_owned())
    /// })
    /// .unwrap();
    /// assert_eq!(config.concurrency(), 16);
    /// let bad = callbook_pipeline::WorkerConfig::from_vars(|name| {
    ///     (name == "CALLBOOK_REVIEW_THRESHOLD").then(|| "high".to_owned())
    /// });
    /// assert_eq!(bad.unwrap_err().variable, "CALLBOOK_REVIEW_THRESHOLD");
    /// ```
    pub fn from_env() -> std::result::Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`WorkerConfig::from_env`] over any source of variables (for tests and embedding).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> std::result::Result<Self, ConfigError> {
        fn int(
            var: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            min: u64,
            max: u64,
        ) -> std::result::Result<Option<u64>, ConfigError> {
            let Some(raw) = var(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            match raw.trim().parse::<u64>() {
                Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(ConfigError {
                    variable: name,
                    message: format!("{raw:?} is not a whole number from {min} to {max}"),
                }),
            }
        }
        let owner = var("CALLBOOK_WORKER_ID")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(default_owner);
        let mut config = Self::new(owner);
        if let Some(v) = int(&var, "CALLBOOK_WORKER_CONCURRENCY", 1, 1024)? {
            config.concurrency = v as usize;
        }
        if let Some(v) = int(&var, "CALLBOOK_WORKER_LEASE_SECONDS", 10, 86_400)? {
            config.lease = Duration::from_secs(v);
        }
        if let Some(v) = int(&var, "CALLBOOK_WORKER_MAX_ATTEMPTS", 1, 100)? {
            config.retry.max_attempts = v as i32;
        }
        if let Some(v) = int(&var, "CALLBOOK_WORKER_GRACE_SECONDS", 0, 3600)? {
            config.shutdown_grace = Duration::from_secs(v);
        }
        if let Some(v) = int(&var, "CALLBOOK_DOWNLOAD_CONCURRENCY", 1, 1024)? {
            config.limits.download = v as usize;
        }
        if let Some(v) = int(&var, "CALLBOOK_TRANSCRIBE_CONCURRENCY", 1, 1024)? {
            config.limits.transcribe = v as usize;
        }
        if let Some(v) = int(&var, "CALLBOOK_EXTRACT_CONCURRENCY", 1, 1024)? {
            config.limits.extract = v as usize;
        }
        if let Some(raw) = var("CALLBOOK_REVIEW_THRESHOLD").filter(|v| !v.trim().is_empty()) {
            match raw.trim().parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => config.review_threshold = v,
                _ => {
                    return Err(ConfigError {
                        variable: "CALLBOOK_REVIEW_THRESHOLD",
                        message: format!("{raw:?} is not a number from 0 to 1"),
                    });
                }
            }
        }
        if let Some(raw) = var("CALLBOOK_DELETE_PROVIDER_RECORDINGS").filter(|v| !v.trim().is_empty()) {
            config.delete_provider_copy = match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError {
                        variable: "CALLBOOK_DELETE_PROVIDER_RECORDINGS",
                        message: format!("{raw:?} is not true or false"),
                    });
                }
            };
        }
        Ok(config)
    }

    /// Replaces the lease owner (unique per process).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// How long a claim holds a call before another worker may take it over. While a call is worked on by
    /// [`Worker::run`], the lease is extended every third of this.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many calls one [`Worker::run_once`] claims (at least 1); [`Worker::run`] claims at most this many
    /// per query.
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// After this many attempts a failing (or repeatedly crashing) call is dead (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: i32) -> Self {
        self.retry.max_attempts = max_attempts.max(1);
        self
    }

    /// Exponential backoff: `base · 2^(attempts-1)`, capped at `cap`, with jitter into `[50 %, 100 %]`.
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.retry.base = base;
        self.retry.max_delay = cap.max(base);
        self
    }

    /// An extraction whose overall confidence is below this (0..1) finishes `needs_review` without jobs. A
    /// tenant overrides it with `settings.extraction.review_threshold`.
    pub fn with_review_threshold(mut self, threshold: f64) -> Self {
        self.review_threshold = threshold.clamp(0.0, 1.0);
        self
    }

    /// The visit length used when the caller gave a start but no end.
    pub fn with_default_visit(mut self, visit: TimeDelta) -> Self {
        self.default_visit = visit;
        self
    }

    /// How many calls [`Worker::run`] works on at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How often an idle [`Worker::run`] looks for work (it also wakes on [`WorkerHandle::wake`]).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long [`Worker::run`] lets in-flight calls finish after shutdown was asked for, before it cancels
    /// them and releases their leases.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Delete the provider's copy of the recording once it is stored (and read back) encrypted.
    pub fn with_delete_provider_copy(mut self, delete: bool) -> Self {
        self.delete_provider_copy = delete;
        self
    }

    /// Per-provider concurrency limits (each at least 1).
    pub fn with_provider_limits(mut self, limits: ProviderLimits) -> Self {
        self.limits = ProviderLimits {
            download: limits.download.max(1),
            transcribe: limits.transcribe.max(1),
            extract: limits.extract.max(1),
        };
        self
    }

    /// Reconciliation: every `every` (`None` = never), [`Worker::run`] asks the provider about calls that have
    /// waited more than `after` (and less than `window`) for their recording callback.
    pub fn with_reconciliation(mut self, every: Option<Duration>, after: Duration, window: Duration) -> Self {
        self.reconcile_every = every;
        self.reconcile_after = after;
        self.reconcile_window = window.max(after);
        self
    }

    /// How often [`Worker::run`] refreshes the queue gauges (one query across tenants).
    pub fn with_stats_interval(mut self, every: Duration) -> Self {
        self.stats_every = every.max(Duration::from_millis(100));
        self
    }

    /// The owner string used for leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The retry policy (backoff and attempts limit).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Calls worked on at once by [`Worker::run`].
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The lease duration.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The default review threshold.
    pub fn review_threshold(&self) -> f64 {
        self.review_threshold
    }

    /// Whether the provider's copy is deleted once stored.
    pub fn deletes_provider_copy(&self) -> bool {
        self.delete_provider_copy
    }

    /// The per-provider limits.
    pub fn provider_limits(&self) -> ProviderLimits {
        self.limits
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    pub(crate) fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    pub(crate) fn reconciliation(&self) -> (Option<Duration>, Duration, Duration) {
        (self.reconcile_every, self.reconcile_after, self.reconcile_window)
    }

    pub(crate) fn stats_every(&self) -> Duration {
        self.stats_every
    }

    pub(crate) fn batch_size(&self) -> u32 {
        self.batch_size
    }
}

/// `{hostname}:{pid}`: unique per process on a machine, readable in the calls table.
fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The last finished step of a call, as saved in its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The recording is stored encrypted.
    Stored,
    /// The redacted transcript is saved.
    Transcribed,
    /// The extraction is saved.
    Extracted,
    /// The jobs are booked.
    Booked,
}

impl Step {
    /// The checkpoint name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Stored => "stored",
            Step::Transcribed => "transcribed",
            Step::Extracted => "extracted",
            Step::Booked => "booked",
        }
    }

    /// Parses a checkpoint name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "stored" => Step::Stored,
            "transcribed" => Step::Transcribed,
            "extracted" => Step::Extracted,
            "booked" => Step::Booked,
            _ => return None,
        })
    }
}

/// The data saved with each checkpoint (accumulated: later steps keep the earlier fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// Canonical storage key of the encrypted audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_key: Option<String>,
    /// Content type of the stored audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    /// The final outcome decided after extraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    /// Jobs booked from the call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    job_ids: Vec<JobId>,
    /// The provider's copy of the recording was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    provider_deleted: bool,
}

/// How one claimed call ended in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished with this final state (`done`, `no_appointment` or `needs_review`).
    Finished(CallState),
    /// Failed retryably; due again at this instant.
    Retried(DateTime<Utc>),
    /// Given up; the reason stored in `last_error`.
    Dead(String),
    /// Another claim took the call over; nothing was written.
    LeaseLost,
}

impl Outcome {
    /// The metrics label.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Finished(CallState::Done) => "done",
            Outcome::Finished(CallState::NoAppointment) => "no_appointment",
            Outcome::Finished(_) => "needs_review",
            Outcome::Retried(_) => "retried",
            Outcome::Dead(_) => "dead",
            Outcome::LeaseLost => "lease_lost",
        }
    }
}

/// Counts of one [`Worker::run_once`] (or of a whole [`Worker::run`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Calls claimed.
    pub claimed: usize,
    /// Finished `done`.
    pub done: usize,
    /// Finished `no_appointment`.
    pub no_appointment: usize,
    /// Finished `needs_review`.
    pub needs_review: usize,
    /// Given back for a later attempt.
    pub retried: usize,
    /// Given up.
    pub dead: usize,
    /// Lost to another claim.
    pub lease_lost: usize,
    /// Given back untouched at shutdown ([`Worker::run`] only).
    pub released: usize,
}

impl RunReport {
    pub(crate) fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Finished(CallState::Done) => self.done += 1,
            Outcome::Finished(CallState::NoAppointment) => self.no_appointment += 1,
            Outcome::Finished(_) => self.needs_review += 1,
            Outcome::Retried(_) => self.retried += 1,
            Outcome::Dead(_) => self.dead += 1,
            Outcome::LeaseLost => self.lease_lost += 1,
        }
    }
}

/// Drives calls through the pipeline. Cheap to clone (all backends, limits and the wake-up signal are shared).
#[derive(Debug, Clone)]
pub struct Worker {
    config: WorkerConfig,
    store: Arc<dyn JobStore>,
    telephony: Arc<dyn Telephony>,
    recordings: Arc<dyn RecordingStore>,
    transcriber: Arc<dyn Transcriber>,
    extractor: Arc<dyn Extractor>,
    notifier: Option<Arc<dyn Notifier>>,
    limits: Arc<Limits>,
    wake: Arc<Notify>,
}

/// The per-provider semaphores.
#[derive(Debug)]
struct Limits {
    download: Semaphore,
    transcribe: Semaphore,
    extract: Semaphore,
}

impl Limits {
    fn new(limits: ProviderLimits) -> Self {
        Self {
            download: Semaphore::new(limits.download),
            transcribe: Semaphore::new(limits.transcribe),
            extract: Semaphore::new(limits.extract),
        }
    }
}

/// A handle to wake a running [`Worker::run`] (e.g. when a recording callback queued a call), so it claims
/// at once instead of at its next poll.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    wake: Arc<Notify>,
}

impl WorkerHandle {
    /// Wakes the worker loop (no-op when it is busy; a wake-up is remembered until it next waits).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Where "now" comes from: fixed for [`Worker::run_once`] and [`Worker::process_call`] (tests replay time),
/// the system clock for [`Worker::run`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    Fixed(DateTime<Utc>),
    System,
}

impl Clock {
    pub(crate) fn now(self) -> DateTime<Utc> {
        match self {
            Clock::Fixed(at) => at,
            Clock::System => Utc::now(),
        }
    }
}

impl Worker {
    /// A worker over the five backends, without notifications (add them with [`Worker::with_notifier`]).
    pub fn new(
        config: WorkerConfig,
        store: Arc<dyn JobStore>,
        telephony: Arc<dyn Telephony>,
        recordings: Arc<dyn RecordingStore>,
        transcriber: Arc<dyn Transcriber>,
        extractor: Arc<dyn Extractor>,
    ) -> Self {
        let limits = Arc::new(Limits::new(config.limits));
        Self {
            config,
            store,
            telephony,
            recordings,
            transcriber,
            extractor,
            notifier: None,
            limits,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Sends events (step progress, jobs created, calls finished, needing review or dead) to `notifier`.
    /// A failed delivery is logged and counted, never fails the call.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// The settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// The job store the worker writes to.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// A handle that wakes [`Worker::run`].
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            wake: self.wake.clone(),
        }
    }

    pub(crate) fn wake_signal(&self) -> &Notify {
        &self.wake
    }

    pub(crate) fn telephony(&self) -> &Arc<dyn Telephony> {
        &self.telephony
    }

    /// Manual retry of a finished or dead call (e.g. from the dashboard): it is queued again from its last
    /// checkpoint's natural keys — stored audio is read back, not downloaded again; booked jobs are not
    /// booked twice — and the running loop is woken. A call that is not final is
    /// [`callbook_jobs::Error::InvalidState`].
    pub async fn retry_call(
        &self,
        tenant: callbook_jobs::TenantId,
        id: callbook_jobs::CallId,
    ) -> Result<Call> {
        let call = self.store.requeue_call(tenant, id).await?;
        self.wake.notify_one();
        Ok(call)
    }

    /// Claims up to the batch size of due calls (any tenant) and processes them one after the other, with
    /// `now` as the clock.
    ///
    /// Only a failure of the claim itself is an error; each call's failure is handled by the failure policy
    /// (retry with backoff, or dead) and counted in the report.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RunReport> {
        let calls = self
            .store
            .claim_calls(
                &self.config.owner,
                now,
                self.config.lease,
                self.config.batch_size,
                self.config.retry.max_attempts,
            )
            .await?;
        let mut report = RunReport {
            claimed: calls.len(),
            ..RunReport::default()
        };
        for call in calls {
            let outcome = self.process(&call, Clock::Fixed(now)).await;
            report.count(&outcome);
        }
        Ok(report)
    }

    /// Drives one claimed call from its checkpoint to the end with `now` as the clock and applies the failure
    /// policy on error: retryable → `retry_call` after the backoff (or the provider's `retry_after`, when
    /// longer), unless the attempts limit is reached; permanent → dead with [`Error::reason`].
    pub async fn process_call(&self, call: &Call, now: DateTime<Utc>) -> Outcome {
        self.process(call, Clock::Fixed(now)).await
    }

    pub(crate) async fn process(&self, call: &Call, clock: Clock) -> Outcome {
        let started = Instant::now();
        let Some(lease) = call.lease() else {
            metrics::outcome("lease_lost");
            return Outcome::LeaseLost;
        };
        let outcome = match self.drive(call, &lease, clock).await {
            Ok(state) => Outcome::Finished(state),
            Err(e) if e.is_lease_lost() => Outcome::LeaseLost,
            Err(e) => self.fail(call, &lease, clock.now(), &e).await,
        };
        metrics::processing(started.elapsed().as_secs_f64());
        metrics::outcome(outcome.label());
        if matches!(outcome, Outcome::Finished(_) | Outcome::Dead(_)) {
            metrics::attempts(call.processing.attempts);
        }
        outcome
    }

    async fn fail(&self, call: &Call, lease: &Lease, now: DateTime<Utc>, error: &Error) -> Outcome {
        let reason = error.reason();
        metrics::provider_error(error.provider(), error.is_retryable());
        tracing::warn!(call = %call.id, attempts = call.processing.attempts, reason = %reason, "call failed");
        let policy = &self.config.retry;
        let result = if error.is_retryable() && call.processing.attempts < policy.max_attempts {
            let delay = policy
                .delay(call.id, call.processing.attempts)
                .max(error.retry_after().unwrap_or_default());
            let next = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1));
            self.store
                .retry_call(call.tenant_id, call.id, lease, now, &reason, next)
                .await
                .map(|c| Outcome::Retried(c.processing.next_attempt_at.unwrap_or(next)))
        } else {
            let reason = if error.is_retryable() {
                format!("{reason} (after {} attempts)", call.processing.attempts)
            } else {
                reason
            };
            self.store
                .kill_call(call.tenant_id, call.id, lease, now, &reason)
                .await
                .map(|_| Outcome::Dead(reason))
        };
        let outcome = result.unwrap_or_else(|e| {
            tracing::warn!(call = %call.id, error = %e, "could not record the failure");
            Outcome::LeaseLost
        });
        if let Outcome::Dead(reason) = &outcome {
            let event = Event::new(call.tenant_id, EventKind::CallDead, now)
                .with_call(call.id)
                .with_data(json!({"state": CallState::Dead.as_str(), "reason": reason}))
                .with_dedupe_key(format!("call.dead:{}:{}", call.id, call.processing.attempts));
            self.emit(event).await;
        }
        outcome
    }

    /// Runs the remaining steps; returns the final state.
    async fn drive(&self, call: &Call, lease: &Lease, clock: Clock) -> Result<CallState> {
        let (mut step, mut progress) = resume_point(call)?;
        let tenant = self.store.get_tenant(call.tenant_id).await?;
        let mut audio: Option<AudioInput> = None;
        loop {
            let started = Instant::now();
            step = match step {
                None => {
                    let (a, key, content_type) = self.fetch_and_store(call, &tenant).await?;
                    audio = Some(a);
                    progress.storage_key = Some(key);
                    progress.content_type = Some(content_type);
                    self.checkpoint(call, lease, clock, Step::Stored, &progress)
                        .await?;
                    if self.config.delete_provider_copy {
                        self.delete_provider_copy(call).await?;
                        progress.provider_deleted = true;
                        self.checkpoint(call, lease, clock, Step::Stored, &progress)
                            .await?;
                    }
                    Some(Step::Stored)
                }
                Some(Step::Stored) => {
                    if self.config.delete_provider_copy && !progress.provider_deleted {
                        self.delete_provider_copy(call).await?;
                        progress.provider_deleted = true;
                        self.checkpoint(call, lease, clock, Step::Stored, &progress)
                            .await?;
                    }
                    let audio = match audio.take() {
                        Some(a) => a,
                        None => self.load_audio(call, &progress).await?,
                    };
                    self.transcribe(call, &tenant, &audio, clock).await?;
                    self.checkpoint(call, lease, clock, Step::Transcribed, &progress)
                        .await?;
                    Some(Step::Transcribed)
                }
                Some(Step::Transcribed) => {
                    let extraction = self.extract(call, &tenant, clock).await?;
                    progress.outcome = Some(self.decide(&tenant, &extraction).as_str().to_owned());
                    self.checkpoint(call, lease, clock, Step::Extracted, &progress)
                        .await?;
                    Some(Step::Extracted)
                }
                Some(Step::Extracted) => {
                    if progress.outcome.as_deref() == Some(CallState::Done.as_str()) {
                        progress.job_ids = self.book(call, &tenant, clock).await?;
                    }
                    self.checkpoint(call, lease, clock, Step::Booked, &progress)
                        .await?;
                    Some(Step::Booked)
                }
                Some(Step::Booked) => {
                    let outcome = progress
                        .outcome
                        .as_deref()
                        .and_then(|o| o.parse::<CallState>().ok())
                        .filter(|s| s.is_final() && *s != CallState::Dead)
                        .ok_or(Error::Invalid("checkpoint has no outcome"))?;
                    self.announce(call, outcome, &progress, clock).await;
                    metrics::step("notified", started.elapsed().as_secs_f64());
                    self.store
                        .finish_call(call.tenant_id, call.id, lease, clock.now(), outcome)
                        .await?;
                    let event = Event::new(call.tenant_id, EventKind::CallFinished, clock.now())
                        .with_call(call.id)
                        .with_data(json!({"state": outcome.as_str(), "jobs": progress.job_ids.len()}));
                    self.emit(event).await;
                    return Ok(outcome);
                }
            };
            if let Some(done) = step {
                metrics::step(done.as_str(), started.elapsed().as_secs_f64());
            }
        }
    }

    async fn checkpoint(
        &self,
        call: &Call,
        lease: &Lease,
        clock: Clock,
        step: Step,
        progress: &Progress,
    ) -> Result<()> {
        let data = serde_json::to_value(progress).map_err(|_| Error::Invalid("unserialisable checkpoint"))?;
        let now = clock.now();
        self.store
            .checkpoint(call.tenant_id, call.id, lease, now, step.as_str(), Some(data))
            .await?;
        tracing::debug!(call = %call.id, step = step.as_str(), "checkpoint");
        self.emit(Event::call_step(call.tenant_id, call.id, step.as_str(), now))
            .await;
        Ok(())
    }

    /// Delivers an event; a failure is logged and counted, never raised.
    async fn emit(&self, event: Event) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        if let Err(e) = notifier.notify(&event).await {
            metrics::notify_error();
            tracing::warn!(kind = event.kind.as_str(), error = %e, "notification not delivered");
        }
    }

    /// The events of a finished call: one `job.created` per job, or `call.needs_review`.
    async fn announce(&self, call: &Call, outcome: CallState, progress: &Progress, clock: Clock) {
        let now = clock.now();
        for job in &progress.job_ids {
            self.emit(Event::job_created(call.tenant_id, Some(call.id), *job, now))
                .await;
        }
        if outcome == CallState::NeedsReview {
            let event = Event::call_outcome(
                call.tenant_id,
                call.id,
                EventKind::CallNeedsReview,
                outcome.as_str(),
                now,
            );
            self.emit(event).await;
        }
    }

    /// Stores the recording encrypted (downloading it, unless a previous attempt already stored it) and
    /// records the storage key on the call; meters the call, its audio size and storage once.
    async fn fetch_and_store(&self, call: &Call, tenant: &Tenant) -> Result<(AudioInput, String, String)> {
        let recording = call
            .recording
            .as_ref()
            .ok_or(Error::Invalid("the call has no recording"))?;
        let key = recording_key(call)?;
        let canonical = key.canonical();
        let (bytes, content_type) = match self.recordings.head_recording(&key).await {
            Ok(meta) => {
                // Stored by an attempt that died before its checkpoint (or before a reprocess): read it back.
                let bytes = self.recordings.get_bytes(&key).await?;
                (bytes, meta.content_type)
            }
            Err(callbook_storage::Error::NotFound { .. }) => {
                let sid = RecordingSid::new(recording.provider_recording_id.clone());
                let media = {
                    let _permit = self.limits.download.acquire().await;
                    self.telephony.download_recording(&sid, AudioFormat::Wav).await?
                };
                self.recordings
                    .put_bytes(
                        &key,
                        RecordingOptions::new(media.content_type.clone()),
                        media.bytes.clone(),
                    )
                    .await?;
                (media.bytes, media.content_type)
            }
            Err(e) => return Err(e.into()),
        };
        self.store
            .set_recording(
                call.tenant_id,
                call.id,
                RecordingRef {
                    provider_recording_id: recording.provider_recording_id.clone(),
                    duration_seconds: None,
                    storage_key: Some(canonical.clone()),
                },
            )
            .await?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.meter(
            call,
            tenant,
            "stored",
            &[(usage::CALLS, 1), (usage::STORAGE_BYTES, size)],
        )
        .await?;
        let audio = AudioInput::from_bytes(bytes)?;
        Ok((audio, canonical, content_type))
    }

    /// Deletes the provider's copy, after checking the stored copy is readable; "already gone" is success.
    async fn delete_provider_copy(&self, call: &Call) -> Result<()> {
        let recording = call
            .recording
            .as_ref()
            .ok_or(Error::Invalid("the call has no recording"))?;
        let meta = self.recordings.head_recording(&recording_key(call)?).await?;
        if meta.size == 0 {
            return Err(Error::Invalid(
                "the stored recording is empty; the provider's copy is kept",
            ));
        }
        let sid = RecordingSid::new(recording.provider_recording_id.clone());
        match self.telephony.delete_recording(&sid).await {
            Ok(()) | Err(callbook_telephony::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the stored audio back (after a restart): the key is derived from the call, as when it was stored.
    async fn load_audio(&self, call: &Call, progress: &Progress) -> Result<AudioInput> {
        let key = recording_key(call)?;
        if progress.storage_key.as_deref() != Some(key.canonical().as_str()) {
            return Err(Error::Invalid("checkpoint storage key does not match the call"));
        }
        let bytes = self.recordings.get_bytes(&key).await?;
        Ok(AudioInput::from_bytes(bytes)?)
    }

    /// Transcribes, redacts and saves the redacted transcript (the unredacted text is never stored); meters
    /// audio seconds and the provider's transcription usage once.
    async fn transcribe(&self, call: &Call, tenant: &Tenant, audio: &AudioInput, clock: Clock) -> Result<()> {
        let transcript = {
            let _permit = self.limits.transcribe.acquire().await;
            self.transcriber
                .transcribe(audio, &tenant_transcribe_options(tenant))
                .await?
        };
        let (redacted, _) = redact_transcript(&transcript, &RedactionOptions::default());
        let document =
            serde_json::to_value(&redacted).map_err(|_| Error::Invalid("unserialisable transcript"))?;
        self.store
            .put_transcript(
                call.tenant_id,
                StoredTranscript {
                    call_id: call.id,
                    tenant_id: call.tenant_id,
                    document,
                    language: redacted.language.clone(),
                    confidence: redacted.confidence.as_ref().map(|c| c.mean),
                    provider: self.transcriber.provider().to_owned(),
                    model: redacted.model.clone(),
                    created_at: clock.now(),
                },
            )
            .await?;
        let seconds = transcript
            .duration_seconds
            .or_else(|| audio.duration_seconds())
            .unwrap_or(0.0);
        let mut amounts = vec![(usage::AUDIO_SECONDS, seconds.ceil() as i64)];
        match transcript.usage {
            Some(TranscriptionUsage::Duration { seconds }) => {
                amounts.push((usage::TRANSCRIPTION_SECONDS, seconds.ceil() as i64));
            }
            Some(TranscriptionUsage::Tokens { total_tokens, .. }) => {
                amounts.push((
                    usage::TRANSCRIPTION_TOKENS,
                    i64::try_from(total_tokens).unwrap_or(i64::MAX),
                ));
            }
            _ => {}
        }
        self.meter(call, tenant, "transcribed", &amounts).await
    }

    /// Extracts from the saved transcript and saves the extraction; meters model tokens once.
    async fn extract(&self, call: &Call, tenant: &Tenant, clock: Clock) -> Result<Extraction> {
        let stored = self
            .store
            .get_transcript(call.tenant_id, call.id)
            .await?
            .ok_or(Error::Invalid("the checkpointed transcript is missing"))?;
        let transcript: callbook_transcribe::Transcript = serde_json::from_value(stored.document)
            .map_err(|_| Error::Invalid("the stored transcript is unreadable"))?;
        let input = mapping::transcript_for_extraction(&transcript);
        let context = mapping::call_context(call, tenant);
        let extraction = {
            let _permit = self.limits.extract.acquire().await;
            self.extractor.extract(&input, &context).await?
        };
        metrics::extraction_confidence(extraction.confidence);
        let document =
            serde_json::to_value(&extraction).map_err(|_| Error::Invalid("unserialisable extraction"))?;
        let call_kind = match document.get("call_kind") {
            Some(Value::String(kind)) => kind.clone(),
            _ => "unknown".to_owned(),
        };
        self.store
            .put_extraction(
                call.tenant_id,
                StoredExtraction {
                    call_id: call.id,
                    tenant_id: call.tenant_id,
                    document,
                    call_kind,
                    appointment_count: i32::try_from(extraction.appointments.len()).unwrap_or(i32::MAX),
                    confidence: Some(extraction.confidence),
                    extractor: extraction.extractor.name.clone(),
                    model: extraction.extractor.model.clone(),
                    created_at: clock.now(),
                },
            )
            .await?;
        let mut amounts = vec![(usage::EXTRACTIONS, 1)];
        if let Some(used) = extraction.usage {
            amounts.push((
                usage::LLM_PROMPT_TOKENS,
                i64::try_from(used.prompt_tokens).unwrap_or(i64::MAX),
            ));
            amounts.push((
                usage::LLM_COMPLETION_TOKENS,
                i64::try_from(used.completion_tokens).unwrap_or(i64::MAX),
            ));
        }
        self.meter(call, tenant, "extracted", &amounts).await?;
        Ok(extraction)
    }

    /// Adds usage once per `(call, step)`: the period is the month of the call's start in the tenant's zone.
    async fn meter(&self, call: &Call, tenant: &Tenant, step: &str, amounts: &[(&str, i64)]) -> Result<()> {
        let period = usage::period(call.started_at, tenant);
        let key = format!("call:{}:{step}", call.id);
        self.store
            .record_usage(call.tenant_id, &key, &period, amounts)
            .await?;
        Ok(())
    }

    /// The final state an extraction leads to, with the tenant's review threshold when it set one.
    fn decide(&self, tenant: &Tenant, extraction: &Extraction) -> CallState {
        let threshold = tenant
            .settings
            .pointer("/extraction/review_threshold")
            .and_then(Value::as_f64)
            .filter(|t| (0.0..=1.0).contains(t))
            .unwrap_or(self.config.review_threshold);
        if !extraction.has_appointment() {
            CallState::NoAppointment
        } else if extraction.confidence < threshold
            || extraction
                .appointments
                .iter()
                .any(|a| a.when.as_ref().is_some_and(|w| w.value.ambiguous))
        {
            CallState::NeedsReview
        } else {
            CallState::Done
        }
    }

    /// Books one job per appointment of the saved extraction (idempotent per `(call, index)`).
    async fn book(&self, call: &Call, tenant: &Tenant, clock: Clock) -> Result<Vec<JobId>> {
        let stored = self
            .store
            .get_extraction(call.tenant_id, call.id)
            .await?
            .ok_or(Error::Invalid("the checkpointed extraction is missing"))?;
        let extraction: Extraction = serde_json::from_value(stored.document)
            .map_err(|_| Error::Invalid("the stored extraction is unreadable"))?;
        let mut jobs = Vec::with_capacity(extraction.appointments.len());
        let mut first_customer = None;
        for (index, appointment) in extraction.appointments.iter().enumerate() {
            let (customer, job) =
                mapping::booking_input(call, tenant, index, appointment, self.config.default_visit);
            let booking = self
                .store
                .book_appointment(call.tenant_id, customer, job, Actor::pipeline())
                .await?;
            first_customer = first_customer.or(booking.job.customer_id);
            jobs.push(booking.job.id);
        }
        if let Some(customer) = first_customer
            && call.customer_id.is_none()
        {
            self.store
                .link_call_customer(call.tenant_id, call.id, customer)
                .await?;
        }
        if !jobs.is_empty() {
            let since = call.ended_at.unwrap_or(call.started_at);
            metrics::call_to_job((clock.now() - since).as_seconds_f64());
        }
        Ok(jobs)
    }
}

/// Where a claimed call resumes: its last finished step and the data saved with it.
fn resume_point(call: &Call) -> Result<(Option<Step>, Progress)> {
    let step = match call.processing.step.as_deref() {
        None => None,
        Some(name) => Some(Step::parse(name).ok_or(Error::Invalid("unknown checkpoint step"))?),
    };
    let progress = match &call.processing.checkpoint {
        None | Some(Value::Null) => Progress::default(),
        Some(data) => {
            serde_json::from_value(data.clone()).map_err(|_| Error::Invalid("unreadable checkpoint data"))?
        }
    };
    Ok((step, progress))
}

/// The storage key of a call's audio: tenant / call / provider recording id.
pub(crate) fn recording_key(call: &Call) -> Result<RecordingKey> {
    let recording = call
        .recording
        .as_ref()
        .ok_or(Error::Invalid("the call has no recording"))?;
    RecordingKey::audio(
        &call.tenant_id.to_string(),
        &call.id.to_string(),
        &recording.provider_recording_id,
    )
    .map_err(|_| Error::Invalid("the recording id is not a valid object name"))
}

// ---- issue 8 (settings): the tenant's transcription vocabulary
/// Transcription options for a tenant: its vocabulary (`settings.profile.vocabulary`, a list of words and
/// names set through the server's settings API) as the transcriber's hint. Non-strings are ignored.
fn tenant_transcribe_options(tenant: &Tenant) -> TranscribeOptions {
    let words: Vec<&str> = tenant
        .settings
        .pointer("/profile/vocabulary")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|w| w.as_str()).collect())
        .unwrap_or_default();
    if words.is_empty() {
        TranscribeOptions::new()
    } else {
        TranscribeOptions::new().with_vocabulary(words)
    }
}
// ---- end issue 8 (settings)
