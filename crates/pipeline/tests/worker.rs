//! The worker over the real in-memory backends: InMemoryJobStore, FakeTelephony, the `memory://` encrypted
//! RecordingStore, ScriptedTranscriber and RulesExtractor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use callbook_extract::{
    CallContext, Extraction, Extractor, ExtractorInfo, RulesExtractor, Transcript as ExTranscript,
};
use callbook_jobs::{
    Call, CallState, CallStore, CustomerStore, InMemoryJobStore, JobBoard, JobFilter, NewCall, NewTenant,
    Page, PhoneNumber, RecordingRef, Stage, TenantId, TenantStore, TimeZone, WorkQueue,
};
use callbook_pipeline::{Outcome, Worker, WorkerConfig};
use callbook_storage::{EncryptedStore, Keyring, MasterKey, RecordingStore, RecordingStoreExt};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::{CallSid, RecordingSid, Telephony};
use callbook_transcribe::fake::ScriptedTranscriber;
use callbook_transcribe::{AudioInput, Capabilities, TranscribeOptions, Transcriber};
use chrono::{DateTime, TimeDelta, Utc};

const BOOKING: &str = "Agent: Rivera and Sons Plumbing, this is Dana.\n\
     Caller: Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
     Agent: We can come tomorrow between 3 and 5.\n\
     Caller: Tomorrow between 3 and 5 works. I'm at 42 Oak Street, Apt 3B, Yonkers.\n\
     Agent: Phone?\n\
     Caller: 914-555-2177.";

/// A mono 8 kHz 16-bit PCM WAV of `samples` samples whose content depends on `seed` (distinct hashes).
fn wav(seed: u8, samples: u32) -> Bytes {
    let data_len = samples * 2;
    let mut v = Vec::with_capacity(44 + data_len as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let s = ((i as i32 * (seed as i32 + 1)) % 2000 - 1000) as i16;
        v.extend_from_slice(&s.to_le_bytes());
    }
    Bytes::from(v)
}

/// Delegates to the scripted transcriber but panics on the first call (a worker crash mid-step).
#[derive(Debug)]
struct PanicsOnce {
    inner: ScriptedTranscriber,
    panicked: AtomicBool,
}

#[async_trait]
impl Transcriber for PanicsOnce {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn transcribe(
        &self,
        audio: &AudioInput,
        options: &TranscribeOptions,
    ) -> callbook_transcribe::Result<callbook_transcribe::Transcript> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("simulated worker crash");
        }
        self.inner.transcribe(audio, options).await
    }
}

/// Counts recording downloads, delegating everything to the fake.
#[derive(Debug)]
struct CountingTelephony {
    inner: FakeTelephony,
    downloads: AtomicUsize,
}

#[async_trait]
impl Telephony for CountingTelephony {
    fn capabilities(&self) -> callbook_telephony::telephony::Capabilities {
        self.inner.capabilities()
    }
    async fn search_available_numbers(
        &self,
        search: &callbook_telephony::telephony::NumberSearch,
    ) -> callbook_telephony::Result<Vec<callbook_telephony::telephony::AvailableNumber>> {
        self.inner.search_available_numbers(search).await
    }
    async fn purchase_number(
        &self,
        request: &callbook_telephony::telephony::PurchaseRequest,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.purchase_number(request).await
    }
    async fn fetch_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.fetch_number(sid).await
    }
    async fn configure_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
        webhooks: &callbook_telephony::telephony::WebhookConfig,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.configure_number(sid, webhooks).await
    }
    async fn list_numbers(
        &self,
        page: &callbook_telephony::telephony::PageRequest,
    ) -> callbook_telephony::Result<
        callbook_telephony::telephony::Page<callbook_telephony::telephony::OwnedNumber>,
    > {
        self.inner.list_numbers(page).await
    }
    async fn release_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
    ) -> callbook_telephony::Result<()> {
        self.inner.release_number(sid).await
    }
    async fn fetch_recording(
        &self,
        sid: &RecordingSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::RecordingInfo> {
        self.inner.fetch_recording(sid).await
    }
    async fn list_recordings(
        &self,
        filter: &callbook_telephony::telephony::RecordingFilter,
        page: &callbook_telephony::telephony::PageRequest,
    ) -> callbook_telephony::Result<
        callbook_telephony::telephony::Page<callbook_telephony::telephony::RecordingInfo>,
    > {
        self.inner.list_recordings(filter, page).await
    }
    async fn download_recording(
        &self,
        sid: &RecordingSid,
        format: callbook_telephony::telephony::AudioFormat,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::RecordingMedia> {
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.inner.download_recording(sid, format).await
    }
    async fn delete_recording(&self, sid: &RecordingSid) -> callbook_telephony::Result<()> {
        self.inner.delete_recording(sid).await
    }
    async fn fetch_call(
        &self,
        sid: &CallSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::CallInfo> {
        self.inner.fetch_call(sid).await
    }
}

struct Harness {
    store: Arc<InMemoryJobStore>,
    telephony: Arc<CountingTelephony>,
    recordings: Arc<EncryptedStore>,
    transcriber: ScriptedTranscriber,
    tenant: TenantId,
    t0: DateTime<Utc>,
}

impl Harness {
    async fn new() -> Self {
        let store = Arc::new(InMemoryJobStore::new());
        let tenant = store
            .create_tenant(NewTenant::new(
                "Rivera and Sons Plumbing",
                TimeZone::parse("America/New_York").unwrap(),
            ))
            .await
            .unwrap()
            .id;
        let recordings = Arc::new(
            EncryptedStore::builder()
                .with_url("memory://")
                .with_keyring(Keyring::new(MasterKey::generate(Some("k1")).unwrap()))
                .build()
                .unwrap(),
        );
        Self {
            store,
            telephony: Arc::new(CountingTelephony {
                inner: FakeTelephony::new(),
                downloads: AtomicUsize::new(0),
            }),
            recordings,
            transcriber: ScriptedTranscriber::new(),
            tenant,
            t0: "2026-03-10T18:05:00Z".parse().unwrap(),
        }
    }

    fn worker_with(&self, transcriber: Arc<dyn Transcriber>) -> Worker {
        Worker::new(
            WorkerConfig::new("worker-1")
                .with_lease(Duration::from_secs(60))
                .with_batch_size(10)
                .with_max_attempts(3)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(600)),
            self.store.clone(),
            self.telephony.clone(),
            self.recordings.clone(),
            transcriber,
            Arc::new(RulesExtractor::new()),
        )
    }

    fn worker(&self) -> Worker {
        self.worker_with(Arc::new(self.transcriber.clone()))
    }

    /// A queued call with a completed recording at the provider whose audio is `audio`.
    async fn queued_call(&self, n: u8, audio: Bytes) -> (Call, RecordingSid) {
        let call_sid = CallSid::new(format!("CA{n:032x}"));
        let rec = self
            .telephony
            .inner
            .add_completed_recording(&call_sid, "audio/wav", audio, 30, 1);
        let (call, _) = self
            .store
            .record_call(
                self.tenant,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: call_sid.as_str().to_owned(),
                    phone_line_id: None,
                    from: Some(PhoneNumber::parse("+19145552177").unwrap()),
                    to: Some(PhoneNumber::parse("+12125550100").unwrap()),
                    started_at: self.t0,
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
        let call = self
            .store
            .set_recording(
                self.tenant,
                call.id,
                RecordingRef {
                    provider_recording_id: rec.sid.as_str().to_owned(),
                    duration_seconds: Some(30),
                    storage_key: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(call.processing.state, CallState::Queued);
        (call, rec.sid)
    }

    async fn call(&self, call: &Call) -> Call {
        self.store.get_call(self.tenant, call.id).await.unwrap()
    }

    async fn job_count(&self) -> usize {
        self.store
            .list_jobs(self.tenant, &JobFilter::default(), Page::first(100))
            .await
            .unwrap()
            .len()
    }

    fn downloads(&self) -> usize {
        self.telephony.downloads.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_queued_call_ends_done_with_one_job_and_a_second_run_creates_nothing() {
    let h = Harness::new().await;
    let audio = wav(1, 8000);
    let with_card = format!("{BOOKING}\nCaller: You can charge my card, 4111 1111 1111 1111.");
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), &with_card);
    let (call, _) = h.queued_call(1, audio.clone()).await;
    let worker = h.worker();

    let report = worker.run_once(h.t0).await.unwrap();
    assert_eq!((report.claimed, report.done), (1, 1), "{report:?}");

    let done = h.call(&call).await;
    assert_eq!(done.processing.state, CallState::Done);
    assert_eq!(done.processing.step.as_deref(), Some("booked"));
    let jobs = h
        .store
        .list_jobs(h.tenant, &JobFilter::default(), Page::first(100))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.stage, Stage::QuoteRequested);
    let source = job.source.unwrap();
    assert_eq!((source.call_id, source.appointment_index), (call.id, 0));
    let customer = job.customer_id.expect("the job has a customer");
    assert_eq!(
        done.customer_id,
        Some(customer),
        "the call is linked to the customer"
    );
    let c = h.store.get_customer(h.tenant, customer).await.unwrap();
    assert!(c.name.contains("Maria"), "{}", c.name);
    let schedule = job.schedule.as_ref().expect("scheduled");
    assert_eq!(schedule.start.to_rfc3339(), "2026-03-11T19:00:00+00:00");
    assert_eq!(schedule.end.to_rfc3339(), "2026-03-11T21:00:00+00:00");
    assert_eq!(schedule.timezone.name(), "America/New_York");
    assert_eq!(job.address.line1.as_deref(), Some("42 Oak Street"));

    // The audio is stored encrypted under the key the call records, and decrypts to the provider's bytes.
    let key_text = done.recording.as_ref().unwrap().storage_key.clone().unwrap();
    let key = callbook_storage::RecordingKey::audio(
        &h.tenant.to_string(),
        &call.id.to_string(),
        done.recording.as_ref().unwrap().provider_recording_id.as_str(),
    )
    .unwrap();
    assert_eq!(key.canonical(), key_text);
    assert_eq!(h.recordings.get_bytes(&key).await.unwrap(), audio);

    // The transcript and extraction are saved; the transcript is redacted (the card number is gone, the
    // phone number the booking needs is kept).
    let transcript = h.store.get_transcript(h.tenant, call.id).await.unwrap().unwrap();
    let text = transcript.document["text"].as_str().unwrap();
    assert!(!text.contains("4111 1111"), "transcript not redacted: {text}");
    assert!(text.contains("914-555-2177"));
    let extraction = h.store.get_extraction(h.tenant, call.id).await.unwrap().unwrap();
    assert_eq!(extraction.appointment_count, 1);
    assert_eq!(extraction.extractor, "rules");

    // Running again (even much later) claims nothing and creates nothing.
    let again = worker.run_once(h.t0 + TimeDelta::days(1)).await.unwrap();
    assert_eq!(again.claimed, 0);
    assert_eq!(h.job_count().await, 1);
    assert_eq!(h.downloads(), 1);
    assert_eq!(h.transcriber.calls().len(), 1);
}

#[tokio::test]
async fn a_retryable_transcriber_failure_is_retried_later_and_then_succeeds_without_a_second_download() {
    let h = Harness::new().await;
    let audio = wav(2, 8000);
    let input = AudioInput::from_bytes(audio.clone()).unwrap();
    h.transcriber
        .script_error(&input, || callbook_transcribe::Error::Unavailable {
            status: Some(503),
            retry_after: None,
            message: "overloaded".into(),
        });
    let (call, rec_sid) = h.queued_call(2, audio).await;
    let worker = h.worker();

    let report = worker.run_once(h.t0).await.unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    let waiting = h.call(&call).await;
    assert_eq!(waiting.processing.state, CallState::Queued);
    assert_eq!(
        waiting.processing.step.as_deref(),
        Some("stored"),
        "the store step is checkpointed"
    );
    assert_eq!(
        waiting.processing.last_error.as_deref(),
        Some("transcribe: Unavailable")
    );
    let next = waiting.processing.next_attempt_at.unwrap();
    // 30 s base, jittered into [15 s, 30 s].
    assert!(
        next >= h.t0 + TimeDelta::seconds(15) && next <= h.t0 + TimeDelta::seconds(30),
        "{next}"
    );

    // Not due yet: nothing claimed.
    assert_eq!(
        worker
            .run_once(h.t0 + TimeDelta::seconds(10))
            .await
            .unwrap()
            .claimed,
        0
    );

    // The provider's copy disappears: a second download would fail, so success proves none happened.
    h.telephony.inner.delete_recording(&rec_sid).await.unwrap();
    h.transcriber.script_text(&input, BOOKING);
    let report = worker.run_once(next).await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    assert_eq!(h.call(&call).await.processing.state, CallState::Done);
    assert_eq!(h.downloads(), 1);
    assert_eq!(h.transcriber.calls().len(), 2);
    assert_eq!(h.job_count().await, 1);
}

#[tokio::test]
async fn retry_after_longer_than_the_backoff_is_honoured() {
    let h = Harness::new().await;
    let audio = wav(3, 8000);
    let input = AudioInput::from_bytes(audio.clone()).unwrap();
    h.transcriber
        .script_error(&input, || callbook_transcribe::Error::RateLimited {
            retry_after: Some(Duration::from_secs(300)),
            message: "slow down".into(),
        });
    let (call, _) = h.queued_call(3, audio).await;
    let outcome = h.worker().run_once(h.t0).await.unwrap();
    assert_eq!(outcome.retried, 1);
    let next = h.call(&call).await.processing.next_attempt_at.unwrap();
    assert_eq!(next, h.t0 + TimeDelta::seconds(300));
}

#[tokio::test]
async fn a_permanent_failure_goes_dead_with_a_reason_free_of_personal_data() {
    let h = Harness::new().await;
    let audio = wav(4, 8000);
    let input = AudioInput::from_bytes(audio.clone()).unwrap();
    h.transcriber
        .script_error(&input, || callbook_transcribe::Error::InvalidRequest {
            code: None,
            message: "caller +19145552177 said something".into(),
        });
    let (call, _) = h.queued_call(4, audio).await;
    let report = h.worker().run_once(h.t0).await.unwrap();
    assert_eq!(report.dead, 1, "{report:?}");
    let dead = h.call(&call).await;
    assert_eq!(dead.processing.state, CallState::Dead);
    let reason = dead.processing.last_error.unwrap();
    assert_eq!(reason, "transcribe: InvalidRequest");
    assert!(!reason.contains("555"));
    assert_eq!(h.job_count().await, 0);
}

#[tokio::test]
async fn a_retryable_failure_goes_dead_at_the_attempts_limit() {
    let h = Harness::new().await;
    let audio = wav(5, 8000);
    let input = AudioInput::from_bytes(audio.clone()).unwrap();
    h.transcriber
        .script_error(&input, || callbook_transcribe::Error::Timeout);
    let (call, _) = h.queued_call(5, audio).await;
    let worker = h.worker(); // max 3 attempts
    let mut now = h.t0;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let report = worker.run_once(now).await.unwrap();
        outcomes.push((report.retried, report.dead));
        now += TimeDelta::hours(1);
    }
    assert_eq!(outcomes, vec![(1, 0), (1, 0), (0, 1)]);
    let dead = h.call(&call).await;
    assert_eq!(dead.processing.state, CallState::Dead);
    assert_eq!(
        dead.processing.last_error.as_deref(),
        Some("transcribe: Timeout (after 3 attempts)")
    );
    assert_eq!(
        h.downloads(),
        1,
        "the recording was fetched once over three attempts"
    );
}

#[tokio::test]
async fn a_crash_after_the_store_step_resumes_there_after_the_lease_expires() {
    let h = Harness::new().await;
    let audio = wav(6, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(6, audio).await;
    let crashing = h.worker_with(Arc::new(PanicsOnce {
        inner: h.transcriber.clone(),
        panicked: AtomicBool::new(false),
    }));

    let t0 = h.t0;
    let crashed = tokio::spawn({
        let w = crashing.clone();
        async move { w.run_once(t0).await }
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    let stuck = h.call(&call).await;
    assert_eq!(stuck.processing.state, CallState::Processing);
    assert_eq!(stuck.processing.step.as_deref(), Some("stored"));

    // While the lease holds nobody else takes the call.
    assert_eq!(
        crashing
            .run_once(t0 + TimeDelta::seconds(30))
            .await
            .unwrap()
            .claimed,
        0
    );

    // After it expires the call is claimed again and resumes at transcription: no second download.
    let report = crashing.run_once(t0 + TimeDelta::seconds(61)).await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    assert_eq!(h.downloads(), 1);
    assert_eq!(h.job_count().await, 1);
    assert_eq!(h.call(&call).await.processing.attempts, 2);
}

#[tokio::test]
async fn a_call_without_an_appointment_finishes_no_appointment() {
    let h = Harness::new().await;
    let audio = wav(7, 8000);
    h.transcriber.script_text(
        &AudioInput::from_bytes(audio.clone()).unwrap(),
        "Caller: Sorry, wrong number. Bye.",
    );
    let (call, _) = h.queued_call(7, audio).await;
    let report = h.worker().run_once(h.t0).await.unwrap();
    assert_eq!(report.no_appointment, 1, "{report:?}");
    assert_eq!(h.call(&call).await.processing.state, CallState::NoAppointment);
    assert_eq!(h.job_count().await, 0);
}

#[tokio::test]
async fn an_extraction_under_the_review_threshold_needs_review_without_jobs() {
    let h = Harness::new().await;
    let audio = wav(8, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(8, audio).await;
    let worker = Worker::new(
        WorkerConfig::new("strict").with_review_threshold(1.0),
        h.store.clone(),
        h.telephony.clone(),
        h.recordings.clone(),
        Arc::new(h.transcriber.clone()),
        Arc::new(RulesExtractor::new()),
    );
    let report = worker.run_once(h.t0).await.unwrap();
    assert_eq!(report.needs_review, 1, "{report:?}");
    assert_eq!(h.call(&call).await.processing.state, CallState::NeedsReview);
    assert_eq!(h.job_count().await, 0);
}

#[tokio::test]
async fn a_missing_provider_recording_is_a_permanent_failure() {
    let h = Harness::new().await;
    let (call, sid) = h.queued_call(9, wav(9, 800)).await;
    h.telephony.inner.delete_recording(&sid).await.unwrap();
    let outcome = {
        let claimed = h
            .store
            .claim_calls("w", h.t0, Duration::from_secs(60), 1, 3)
            .await
            .unwrap();
        h.worker().process_call(&claimed[0], h.t0).await
    };
    assert_eq!(outcome, Outcome::Dead("telephony: NotFound".into()));
    assert_eq!(h.call(&call).await.processing.state, CallState::Dead);
}

#[tokio::test]
async fn reprocessing_a_finished_call_from_scratch_books_no_second_job() {
    // As if the worker crashed after booking but before its checkpoint: the steps run again from the start,
    // and book_appointment returns the job already booked from (call, 0).
    let h = Harness::new().await;
    let audio = wav(10, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(10, audio).await;
    let worker = h.worker();
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);
    let first = h.call(&call).await;
    h.store.requeue_call(h.tenant, call.id).await.unwrap();
    assert_eq!(
        worker.run_once(h.t0 + TimeDelta::minutes(5)).await.unwrap().done,
        1
    );
    assert_eq!(h.job_count().await, 1);
    let again = h.call(&call).await;
    assert_eq!(again.customer_id, first.customer_id);
    assert_eq!(
        again.processing.checkpoint, first.processing.checkpoint,
        "same storage key and job id"
    );
}

#[tokio::test]
async fn an_unknown_checkpoint_step_is_a_permanent_failure() {
    let h = Harness::new().await;
    let (call, _) = h.queued_call(11, wav(11, 800)).await;
    let claimed = h
        .store
        .claim_calls("w", h.t0, Duration::from_secs(60), 1, 3)
        .await
        .unwrap();
    let lease = claimed[0].lease().unwrap();
    h.store
        .checkpoint(h.tenant, call.id, &lease, h.t0, "from-the-future", None)
        .await
        .unwrap();
    let current = h.call(&call).await;
    let outcome = h.worker().process_call(&current, h.t0).await;
    assert_eq!(
        outcome,
        Outcome::Dead("invalid call: unknown checkpoint step".into())
    );
    assert_eq!(h.downloads(), 0);
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_writes_nothing() {
    let h = Harness::new().await;
    let audio = wav(12, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(12, audio).await;
    let stale = h
        .store
        .claim_calls("slow", h.t0, Duration::from_secs(60), 1, 3)
        .await
        .unwrap()
        .remove(0);
    let later = h.t0 + TimeDelta::seconds(61);
    let fresh = h
        .store
        .claim_calls("fast", later, Duration::from_secs(60), 1, 3)
        .await
        .unwrap();
    assert_eq!(fresh.len(), 1);
    let outcome = h.worker().process_call(&stale, later).await;
    assert_eq!(outcome, Outcome::LeaseLost);
    let current = h.call(&call).await;
    assert_eq!(current.processing.state, CallState::Processing);
    assert_eq!(current.processing.lease_owner.as_deref(), Some("fast"));
    assert_eq!(
        current.processing.step, None,
        "the stale worker saved no checkpoint"
    );
    assert_eq!(h.job_count().await, 0);
}

/// The rules extractor, with every resolved date flagged ambiguous (as the date resolver does for
/// "3 pm or 4 pm").
#[derive(Debug)]
struct AmbiguousDates(RulesExtractor);

#[async_trait]
impl Extractor for AmbiguousDates {
    fn info(&self) -> ExtractorInfo {
        self.0.info()
    }
    async fn extract(
        &self,
        transcript: &ExTranscript,
        context: &CallContext,
    ) -> callbook_extract::Result<Extraction> {
        let mut extraction = self.0.extract(transcript, context).await?;
        for appointment in &mut extraction.appointments {
            if let Some(when) = appointment.when.as_mut() {
                when.value.ambiguous = true;
            }
        }
        Ok(extraction)
    }
}

#[tokio::test]
async fn an_ambiguous_date_needs_review_without_jobs() {
    let h = Harness::new().await;
    let audio = wav(13, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(13, audio).await;
    let worker = Worker::new(
        WorkerConfig::new("w"),
        h.store.clone(),
        h.telephony.clone(),
        h.recordings.clone(),
        Arc::new(h.transcriber.clone()),
        Arc::new(AmbiguousDates(RulesExtractor::new())),
    );
    let report = worker.run_once(h.t0).await.unwrap();
    assert_eq!(report.needs_review, 1, "{report:?}");
    assert_eq!(h.call(&call).await.processing.state, CallState::NeedsReview);
    let extraction = h.store.get_extraction(h.tenant, call.id).await.unwrap().unwrap();
    let saved: Extraction = serde_json::from_value(extraction.document).unwrap();
    assert!(saved.appointments[0].when.as_ref().unwrap().value.ambiguous);
    assert!(
        extraction.confidence.unwrap() >= 0.5,
        "review came from the date, not the threshold"
    );
    assert_eq!(h.job_count().await, 0);
}

#[allow(dead_code)]
fn _object_safe(_: &dyn RecordingStore) {}
