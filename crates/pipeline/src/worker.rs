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
//! checkpoint and starts at the step after it, so a finished side effect is never repeated.

use std::sync::Arc;
use std::time::Duration;

use callbook_extract::{Extraction, Extractor};
use callbook_jobs::{
    Actor, Call, CallState, JobId, JobStore, JobStoreExt, Lease, RecordingRef, RetryPolicy, StoredExtraction,
    StoredTranscript,
};
use callbook_storage::{RecordingKey, RecordingOptions, RecordingStore, RecordingStoreExt};
use callbook_telephony::telephony::{AudioFormat, RecordingSid, Telephony};
use callbook_transcribe::redact::{RedactionOptions, redact_transcript};
use callbook_transcribe::{AudioInput, TranscribeOptions, Transcriber};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::mapping;

/// The worker's settings. Start from [`WorkerConfig::new`] and adjust with the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    owner: String,
    lease: Duration,
    batch_size: u32,
    retry: RetryPolicy,
    review_threshold: f64,
    default_visit: TimeDelta,
}

impl WorkerConfig {
    /// Defaults for a worker named `owner` (unique per worker task, e.g. `host:pid:n`): lease 10 min,
    /// batch 4, [`RetryPolicy::default`] (30 s doubling, capped at 1 h, dead after 8 attempts), review
    /// threshold 0.5, a one-hour visit when only a start time was said.
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            lease: Duration::from_secs(600),
            batch_size: 4,
            retry: RetryPolicy::default(),
            review_threshold: 0.5,
            default_visit: TimeDelta::hours(1),
        }
    }

    /// How long a claim holds a call before another worker may take it over.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many calls one [`Worker::run_once`] claims (at least 1).
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

    /// An extraction whose overall confidence is below this (0..1) finishes `needs_review` without jobs.
    pub fn with_review_threshold(mut self, threshold: f64) -> Self {
        self.review_threshold = threshold.clamp(0.0, 1.0);
        self
    }

    /// The visit length used when the caller gave a start but no end.
    pub fn with_default_visit(mut self, visit: TimeDelta) -> Self {
        self.default_visit = visit;
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

/// Counts of one [`Worker::run_once`].
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
}

/// Drives calls through the pipeline. Cheap to clone (all backends are shared).
#[derive(Debug, Clone)]
pub struct Worker {
    config: WorkerConfig,
    store: Arc<dyn JobStore>,
    telephony: Arc<dyn Telephony>,
    recordings: Arc<dyn RecordingStore>,
    transcriber: Arc<dyn Transcriber>,
    extractor: Arc<dyn Extractor>,
}

impl Worker {
    /// A worker over the five backends.
    pub fn new(
        config: WorkerConfig,
        store: Arc<dyn JobStore>,
        telephony: Arc<dyn Telephony>,
        recordings: Arc<dyn RecordingStore>,
        transcriber: Arc<dyn Transcriber>,
        extractor: Arc<dyn Extractor>,
    ) -> Self {
        Self {
            config,
            store,
            telephony,
            recordings,
            transcriber,
            extractor,
        }
    }

    /// The settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Claims up to the batch size of due calls (any tenant) and processes them one after the other.
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
            match self.process_call(&call, now).await {
                Outcome::Finished(CallState::Done) => report.done += 1,
                Outcome::Finished(CallState::NoAppointment) => report.no_appointment += 1,
                Outcome::Finished(_) => report.needs_review += 1,
                Outcome::Retried(_) => report.retried += 1,
                Outcome::Dead(_) => report.dead += 1,
                Outcome::LeaseLost => report.lease_lost += 1,
            }
        }
        Ok(report)
    }

    /// Drives one claimed call from its checkpoint to the end and applies the failure policy on error:
    /// retryable → `retry_call` after the backoff (or the provider's `retry_after`, when longer), unless the
    /// attempts limit is reached; permanent → dead with [`Error::reason`].
    pub async fn process_call(&self, call: &Call, now: DateTime<Utc>) -> Outcome {
        let Some(lease) = call.lease() else {
            return Outcome::LeaseLost;
        };
        match self.drive(call, &lease, now).await {
            Ok(state) => Outcome::Finished(state),
            Err(e) if e.is_lease_lost() => Outcome::LeaseLost,
            Err(e) => self.fail(call, &lease, now, &e).await,
        }
    }

    async fn fail(&self, call: &Call, lease: &Lease, now: DateTime<Utc>, error: &Error) -> Outcome {
        let reason = error.reason();
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
        result.unwrap_or_else(|e| {
            tracing::warn!(call = %call.id, error = %e, "could not record the failure");
            Outcome::LeaseLost
        })
    }

    /// Runs the remaining steps; returns the final state.
    async fn drive(&self, call: &Call, lease: &Lease, now: DateTime<Utc>) -> Result<CallState> {
        let (mut step, mut progress) = resume_point(call)?;
        let tenant = self.store.get_tenant(call.tenant_id).await?;
        let mut audio: Option<AudioInput> = None;
        loop {
            step = match step {
                None => {
                    let (a, key, content_type) = self.fetch_and_store(call).await?;
                    audio = Some(a);
                    progress.storage_key = Some(key);
                    progress.content_type = Some(content_type);
                    self.checkpoint(call, lease, now, Step::Stored, &progress).await?;
                    Some(Step::Stored)
                }
                Some(Step::Stored) => {
                    let audio = match audio.take() {
                        Some(a) => a,
                        None => self.load_audio(call, &progress).await?,
                    };
                    self.transcribe(call, &audio, now).await?;
                    self.checkpoint(call, lease, now, Step::Transcribed, &progress)
                        .await?;
                    Some(Step::Transcribed)
                }
                Some(Step::Transcribed) => {
                    let extraction = self.extract(call, &tenant, now).await?;
                    progress.outcome = Some(self.decide(&extraction).as_str().to_owned());
                    self.checkpoint(call, lease, now, Step::Extracted, &progress)
                        .await?;
                    Some(Step::Extracted)
                }
                Some(Step::Extracted) => {
                    if progress.outcome.as_deref() == Some(CallState::Done.as_str()) {
                        progress.job_ids = self.book(call, &tenant).await?;
                    }
                    self.checkpoint(call, lease, now, Step::Booked, &progress).await?;
                    Some(Step::Booked)
                }
                Some(Step::Booked) => {
                    let outcome = progress
                        .outcome
                        .as_deref()
                        .and_then(|o| o.parse::<CallState>().ok())
                        .filter(|s| s.is_final() && *s != CallState::Dead)
                        .ok_or(Error::Invalid("checkpoint has no outcome"))?;
                    self.store
                        .finish_call(call.tenant_id, call.id, lease, now, outcome)
                        .await?;
                    return Ok(outcome);
                }
            };
        }
    }

    async fn checkpoint(
        &self,
        call: &Call,
        lease: &Lease,
        now: DateTime<Utc>,
        step: Step,
        progress: &Progress,
    ) -> Result<()> {
        let data = serde_json::to_value(progress).map_err(|_| Error::Invalid("unserialisable checkpoint"))?;
        self.store
            .checkpoint(call.tenant_id, call.id, lease, now, step.as_str(), Some(data))
            .await?;
        tracing::debug!(call = %call.id, step = step.as_str(), "checkpoint");
        Ok(())
    }

    /// Downloads the recording and stores it encrypted; records the storage key on the call.
    async fn fetch_and_store(&self, call: &Call) -> Result<(AudioInput, String, String)> {
        let recording = call
            .recording
            .as_ref()
            .ok_or(Error::Invalid("the call has no recording"))?;
        let sid = RecordingSid::new(recording.provider_recording_id.clone());
        let media = self.telephony.download_recording(&sid, AudioFormat::Wav).await?;
        let key = recording_key(call)?;
        self.recordings
            .put_bytes(
                &key,
                RecordingOptions::new(media.content_type.clone()),
                media.bytes.clone(),
            )
            .await?;
        let canonical = key.canonical();
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
        let audio = AudioInput::from_bytes(media.bytes)?;
        Ok((audio, canonical, media.content_type))
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

    /// Transcribes, redacts and saves the redacted transcript (the unredacted text is never stored).
    async fn transcribe(&self, call: &Call, audio: &AudioInput, now: DateTime<Utc>) -> Result<()> {
        let transcript = self
            .transcriber
            .transcribe(audio, &TranscribeOptions::new())
            .await?;
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
                    created_at: now,
                },
            )
            .await?;
        Ok(())
    }

    /// Extracts from the saved transcript and saves the extraction.
    async fn extract(
        &self,
        call: &Call,
        tenant: &callbook_jobs::Tenant,
        now: DateTime<Utc>,
    ) -> Result<Extraction> {
        let stored = self
            .store
            .get_transcript(call.tenant_id, call.id)
            .await?
            .ok_or(Error::Invalid("the checkpointed transcript is missing"))?;
        let transcript: callbook_transcribe::Transcript = serde_json::from_value(stored.document)
            .map_err(|_| Error::Invalid("the stored transcript is unreadable"))?;
        let input = mapping::transcript_for_extraction(&transcript);
        let context = mapping::call_context(call, tenant);
        let extraction = self.extractor.extract(&input, &context).await?;
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
                    created_at: now,
                },
            )
            .await?;
        Ok(extraction)
    }

    /// The final state an extraction leads to.
    fn decide(&self, extraction: &Extraction) -> CallState {
        if !extraction.has_appointment() {
            CallState::NoAppointment
        } else if extraction.confidence < self.config.review_threshold
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
    async fn book(&self, call: &Call, tenant: &callbook_jobs::Tenant) -> Result<Vec<JobId>> {
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
