//! The long-running loop and the worker's bookkeeping: concurrency, per-provider limits, lease heartbeats,
//! graceful shutdown, usage metering, deleting the provider's copy, per-tenant thresholds, reconciliation
//! and metrics — over the real in-memory backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU32;

use callbook_jobs::ActivityStore;
use callbook_pipeline::usage;
use callbook_pipeline::{ProviderLimits, ReconcileReport};
use callbook_telephony::simulator::CallSimulator;
use callbook_telephony::telephony::CallStatus;
use support::*;

/// Delegates to the scripted transcriber after `delay` (or never, when `hang`), recording how many
/// transcriptions ran at once.
#[derive(Debug)]
struct SlowTranscriber {
    inner: ScriptedTranscriber,
    delay: Duration,
    hang: bool,
    current: AtomicUsize,
    max: AtomicUsize,
    started: AtomicU32,
}

impl SlowTranscriber {
    fn new(inner: ScriptedTranscriber, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner,
            delay,
            hang: false,
            current: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
            started: AtomicU32::new(0),
        })
    }

    fn hanging(inner: ScriptedTranscriber) -> Arc<Self> {
        Arc::new(Self {
            inner,
            delay: Duration::ZERO,
            hang: true,
            current: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
            started: AtomicU32::new(0),
        })
    }
}

/// Decrements the in-flight count even when the future is dropped (cancelled).
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Transcriber for SlowTranscriber {
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
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = Running(&self.current);
        self.max.fetch_max(now, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.delay).await;
        self.inner.transcribe(audio, options).await
    }
}

/// `n` queued calls, each with distinct audio scripted to the booking transcript.
async fn queued_calls(h: &Harness, n: u8) -> Vec<Call> {
    let mut calls = Vec::new();
    for i in 0..n {
        let audio = wav(i.wrapping_add(100), 8000);
        h.transcriber
            .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
        calls.push(h.queued_call(i.wrapping_add(100), audio).await.0);
    }
    calls
}

/// Resolves once every call is in a final state.
async fn all_final(store: Arc<InMemoryJobStore>, tenant: TenantId, calls: Vec<Call>) {
    loop {
        let mut done = true;
        for call in &calls {
            if !store
                .get_call(tenant, call.id)
                .await
                .unwrap()
                .processing
                .state
                .is_final()
            {
                done = false;
            }
        }
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn loop_worker(h: &Harness, transcriber: Arc<dyn Transcriber>, config: WorkerConfig) -> Worker {
    Worker::new(
        config,
        h.store.clone(),
        h.telephony.clone(),
        h.recordings.clone(),
        transcriber,
        Arc::new(RulesExtractor::new()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_processes_every_call_once_within_the_provider_limit() {
    let h = Harness::new().await;
    let calls = queued_calls(&h, 12).await;
    let slow = SlowTranscriber::new(h.transcriber.clone(), Duration::from_millis(40));
    let worker = loop_worker(
        &h,
        slow.clone(),
        WorkerConfig::new("loop-1")
            .with_concurrency(8)
            .with_provider_limits(ProviderLimits {
                download: 8,
                transcribe: 3,
                extract: 8,
            })
            .with_poll_interval(Duration::from_millis(20)),
    );
    let report = worker
        .run(all_final(h.store.clone(), h.tenant, calls.clone()))
        .await
        .unwrap();
    assert_eq!(report.claimed, 12, "{report:?}");
    assert_eq!(report.done, 12, "{report:?}");
    assert_eq!(h.job_count().await, 12);
    assert_eq!(h.downloads(), 12);
    // Never more than the limit at once, and the limit was actually reached (the calls overlapped).
    assert_eq!(slow.max.load(Ordering::SeqCst), 3);
    for call in &calls {
        let c = h.call(call).await;
        assert_eq!(c.processing.state, CallState::Done);
        assert_eq!(c.processing.attempts, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_calls_still_in_flight_after_the_grace_period_and_another_worker_finishes_them() {
    let h = Harness::new().await;
    let calls = queued_calls(&h, 2).await;
    let hanging = SlowTranscriber::hanging(h.transcriber.clone());
    let worker = loop_worker(
        &h,
        hanging.clone(),
        WorkerConfig::new("leaving")
            .with_concurrency(4)
            .with_shutdown_grace(Duration::from_millis(100))
            .with_poll_interval(Duration::from_millis(10)),
    );
    let started = hanging.clone();
    let report = worker
        .run(async move {
            while started.started.load(Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    assert_eq!((report.claimed, report.released), (2, 2), "{report:?}");
    // The hanging transcriptions were cancelled (dropped), not left running.
    assert_eq!(hanging.current.load(Ordering::SeqCst), 0);
    for call in &calls {
        let c = h.call(call).await;
        assert_eq!(c.processing.state, CallState::Queued, "released, not left leased");
        assert_eq!(c.processing.attempts, 0, "a released claim is not an attempt");
        assert_eq!(c.processing.lease_owner, None);
        assert_eq!(
            c.processing.step.as_deref(),
            Some("stored"),
            "the checkpoint is kept"
        );
    }
    // Another worker takes them at once (no lease expiry to wait for) and does not download again.
    let report = h.worker().run_once(Utc::now()).await.unwrap();
    assert_eq!((report.claimed, report.done), (2, 2), "{report:?}");
    assert_eq!(h.downloads(), 2);
    assert_eq!(h.job_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_slow_call_from_being_taken_over() {
    let h = Harness::new().await;
    let calls = queued_calls(&h, 1).await;
    // The transcription takes three lease lengths; without the heartbeat the second worker would claim the
    // call after the first lease expired.
    let lease = Duration::from_millis(300);
    let slow = SlowTranscriber::new(h.transcriber.clone(), Duration::from_millis(900));
    let config = |owner: &str| {
        WorkerConfig::new(owner)
            .with_lease(lease)
            .with_poll_interval(Duration::from_millis(20))
            .with_shutdown_grace(Duration::ZERO)
    };
    let a = loop_worker(&h, slow.clone(), config("a"));
    let b = loop_worker(&h, slow.clone(), config("b"));
    let (ra, rb) = tokio::join!(
        a.run(all_final(h.store.clone(), h.tenant, calls.clone())),
        b.run(all_final(h.store.clone(), h.tenant, calls.clone())),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.claimed + rb.claimed, 1, "{ra:?} {rb:?}");
    assert_eq!(ra.done + rb.done, 1);
    assert_eq!(slow.started.load(Ordering::SeqCst), 1, "transcribed once");
    let c = h.call(&calls[0]).await;
    assert_eq!((c.processing.state, c.processing.attempts), (CallState::Done, 1));
}

#[tokio::test]
async fn usage_is_metered_once_per_step_in_the_tenants_month() {
    let h = Harness::new().await;
    let audio = wav(7, 16_000); // 2 s at 8 kHz
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(7, audio.clone()).await;
    let worker = h.worker();
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);

    let tenant = h.store.get_tenant(h.tenant).await.unwrap();
    let period = usage::period(h.t0, &tenant);
    assert_eq!(period, "2026-03");
    let totals = |list: Vec<callbook_jobs::UsageTotal>| {
        list.into_iter()
            .map(|t| (t.metric, t.total))
            .collect::<BTreeMap<_, _>>()
    };
    let first = totals(h.store.list_usage(h.tenant, &period).await.unwrap());
    assert_eq!(first.get(usage::CALLS), Some(&1));
    assert_eq!(first.get(usage::STORAGE_BYTES), Some(&(audio.len() as i64)));
    assert_eq!(first.get(usage::AUDIO_SECONDS), Some(&2));
    assert_eq!(first.get(usage::EXTRACTIONS), Some(&1));
    assert_eq!(
        first.get(usage::LLM_PROMPT_TOKENS),
        None,
        "the rules extractor uses no model"
    );

    // Reprocessing the call from scratch repeats every step but bills none of them again.
    h.store.requeue_call(h.tenant, call.id).await.unwrap();
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);
    let second = totals(h.store.list_usage(h.tenant, &period).await.unwrap());
    assert_eq!(first, second);
    assert_eq!(
        h.downloads(),
        1,
        "the stored audio was read back, not downloaded again"
    );
}

#[tokio::test]
async fn the_providers_copy_is_deleted_only_after_the_audio_is_stored() {
    let h = Harness::new().await;
    let audio = wav(8, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, sid) = h.queued_call(8, audio.clone()).await;
    let worker = loop_worker(
        &h,
        Arc::new(h.transcriber.clone()),
        WorkerConfig::new("deleter").with_delete_provider_copy(true),
    );
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);
    assert!(
        !h.telephony.inner.has_recording_media(&sid),
        "the provider's copy is gone"
    );
    let done = h.call(&call).await;
    assert_eq!(
        done.processing.checkpoint.as_ref().unwrap()["provider_deleted"],
        true
    );
    // The only copy left is ours, and it decrypts to the original audio.
    let key =
        callbook_storage::RecordingKey::audio(&h.tenant.to_string(), &call.id.to_string(), sid.as_str())
            .unwrap();
    assert_eq!(h.recordings.get_bytes(&key).await.unwrap(), audio);
    // Reprocessing needs nothing from the provider any more.
    h.store.requeue_call(h.tenant, call.id).await.unwrap();
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);
    assert_eq!(h.downloads(), 1);
}

#[tokio::test]
async fn a_tenants_review_threshold_overrides_the_workers() {
    let h = Harness::new().await;
    h.store
        .update_tenant_settings(
            h.tenant,
            serde_json::json!({"extraction": {"review_threshold": 0.99}}),
        )
        .await
        .unwrap();
    let audio = wav(9, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(9, audio).await;
    let report = h.worker().run_once(h.t0).await.unwrap();
    assert_eq!(report.needs_review, 1, "{report:?}");
    assert_eq!(h.call(&call).await.processing.state, CallState::NeedsReview);
    assert_eq!(h.job_count().await, 0);
}

#[tokio::test]
async fn reconciliation_queues_calls_whose_recording_callback_never_arrived() {
    let h = Harness::new().await;
    // Call 1 ended and its recording completed at the provider, but the recording callback was lost.
    let sid1 = CallSid::new(format!("CA{:032x}", 201));
    let audio = wav(21, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    h.telephony
        .inner
        .add_completed_recording(&sid1, "audio/wav", audio, 30, 1);
    let (lost_recording, _) = h
        .store
        .record_call(h.tenant, new_call(&sid1, h.t0))
        .await
        .unwrap();
    h.store
        .update_call_status(h.tenant, lost_recording.id, "completed", Some(h.t0))
        .await
        .unwrap();
    // Call 2: even the status callback was lost; the provider says it ended without a recording.
    let simulator = CallSimulator::new(h.telephony.inner.clone(), "token", "http://127.0.0.1:1");
    let sid2 = simulator.place_call("+19145552177", "+12125550100").call_sid;
    h.telephony
        .inner
        .set_call_status(&sid2, CallStatus::Completed, Some(40))
        .unwrap();
    let (lost_status, _) = h
        .store
        .record_call(h.tenant, new_call(&sid2, h.t0))
        .await
        .unwrap();

    let worker = h.worker();
    // Too early: the callbacks may still come.
    let report = worker.reconcile(Utc::now()).await.unwrap();
    assert_eq!(report, ReconcileReport::default());

    let later = Utc::now() + TimeDelta::minutes(30);
    let report = worker.reconcile(later).await.unwrap();
    assert_eq!(
        (report.examined, report.recordings_found, report.statuses_updated),
        (2, 1, 1),
        "{report:?}"
    );
    assert_eq!(h.call(&lost_recording).await.processing.state, CallState::Queued);
    let second = h.call(&lost_status).await;
    assert_eq!(second.processing.state, CallState::AwaitingRecording);
    assert_eq!(second.provider_status, "completed");

    // The recovered call goes through the pipeline like any other.
    let run = worker.run_once(Utc::now()).await.unwrap();
    assert_eq!(run.done, 1, "{run:?}");
    // Calls older than the window are left alone.
    let much_later = Utc::now() + TimeDelta::days(3);
    assert_eq!(worker.reconcile(much_later).await.unwrap().examined, 0);
}

fn new_call(sid: &CallSid, at: DateTime<Utc>) -> callbook_jobs::NewCall {
    callbook_jobs::NewCall {
        provider: "twilio".into(),
        provider_call_id: sid.as_str().to_owned(),
        phone_line_id: None,
        from: Some(PhoneNumber::parse("+19145552177").unwrap()),
        to: Some(PhoneNumber::parse("+12125550100").unwrap()),
        started_at: at,
        provider_status: "in-progress".into(),
    }
}

#[tokio::test]
async fn outcomes_steps_and_confidence_are_recorded_as_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let h = Harness::new().await;
    let audio = wav(10, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    h.queued_call(10, audio).await;
    assert_eq!(h.worker().run_once(h.t0).await.unwrap().done, 1);

    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, label: Option<(&str, &str)>| {
        snapshot.iter().find(|(key, ..)| {
            key.key().name() == name
                && label.is_none_or(|(k, v)| key.key().labels().any(|l| l.key() == k && l.value() == v))
        })
    };
    match find(callbook_pipeline::metrics::CALLS_TOTAL, Some(("outcome", "done"))) {
        Some((_, _, _, DebugValue::Counter(n))) => assert_eq!(*n, 1),
        other => panic!("no done counter: {other:?}"),
    }
    for step in ["stored", "transcribed", "extracted", "booked", "notified"] {
        match find(callbook_pipeline::metrics::STEP_SECONDS, Some(("step", step))) {
            Some((_, _, _, DebugValue::Histogram(v))) => assert_eq!(v.len(), 1, "{step}"),
            other => panic!("no {step} histogram: {other:?}"),
        }
    }
    match find(callbook_pipeline::metrics::EXTRACTION_CONFIDENCE, None) {
        Some((_, _, _, DebugValue::Histogram(v))) => {
            assert!(v[0].into_inner() > 0.5 && v[0].into_inner() <= 1.0, "{v:?}")
        }
        other => panic!("no confidence histogram: {other:?}"),
    }
    match find(callbook_pipeline::metrics::CALL_TO_JOB_SECONDS, None) {
        Some((_, _, _, DebugValue::Histogram(v))) => assert_eq!(v.len(), 1),
        other => panic!("no call-to-job histogram: {other:?}"),
    }
}

#[tokio::test]
async fn a_booked_call_is_announced_live_and_in_the_inbox() {
    use callbook_pipeline::notify::{EventKind, Fanout, InboxNotifier, LiveHub};
    let h = Harness::new().await;
    // Staff to tell (an inbox without users stays empty).
    h.store
        .create_user(h.tenant, "dana", callbook_jobs::Role::Owner, None)
        .await
        .unwrap();
    let hub = LiveHub::new();
    let mut live = hub.subscribe(h.tenant);
    let store: Arc<dyn callbook_jobs::JobStore> = h.store.clone();
    let worker = h.worker().with_notifier(Arc::new(Fanout::new(vec![
        Arc::new(hub.clone()),
        Arc::new(InboxNotifier::new(store)),
    ])));
    let audio = wav(30, 8000);
    h.transcriber
        .script_text(&AudioInput::from_bytes(audio.clone()).unwrap(), BOOKING);
    let (call, _) = h.queued_call(30, audio).await;
    assert_eq!(worker.run_once(h.t0).await.unwrap().done, 1);

    let mut kinds = Vec::new();
    let mut job_event = None;
    while let Ok(event) = live.try_recv() {
        assert_eq!(event.tenant_id, h.tenant);
        assert_eq!(event.call_id, Some(call.id));
        if event.kind == EventKind::JobCreated {
            job_event = Some(event.clone());
        }
        kinds.push(event.kind.as_str().to_owned());
    }
    assert_eq!(
        kinds,
        [
            "call.step",
            "call.step",
            "call.step",
            "call.step",
            "job.created",
            "call.finished"
        ]
    );
    let jobs = h
        .store
        .list_jobs(h.tenant, &JobFilter::default(), Page::first(10))
        .await
        .unwrap();
    let job_event = job_event.unwrap();
    assert_eq!(job_event.job_id, Some(jobs[0].id));
    assert_eq!(
        job_event.dedupe_key.as_deref(),
        Some(format!("job.created:{}", jobs[0].id).as_str())
    );
    // The inbox got the job (not the steps).
    let inbox = h.store.list_notifications(h.tenant, None, false).await.unwrap();
    let inbox_kinds: Vec<&str> = inbox.iter().map(|n| n.kind.as_str()).collect();
    assert!(inbox_kinds.contains(&"job.created"), "{inbox_kinds:?}");
    assert!(!inbox_kinds.contains(&"call.step"), "{inbox_kinds:?}");
}

#[tokio::test]
async fn a_dead_call_is_announced_with_its_reason() {
    use callbook_pipeline::notify::{EventKind, LiveHub};
    let h = Harness::new().await;
    let hub = LiveHub::new();
    let mut live = hub.subscribe(h.tenant);
    let worker = h.worker().with_notifier(Arc::new(hub.clone()));
    // No transcript scripted for this audio: the scripted transcriber's permanent error.
    let (call, _) = h.queued_call(31, wav(31, 8000)).await;
    assert_eq!(worker.run_once(h.t0).await.unwrap().dead, 1);
    let mut dead = None;
    while let Ok(event) = live.try_recv() {
        if event.kind == EventKind::CallDead {
            dead = Some(event);
        }
    }
    let dead = dead.expect("a call.dead event");
    assert_eq!(dead.call_id, Some(call.id));
    assert_eq!(dead.data["state"], "dead");
    assert!(
        dead.data["reason"].as_str().unwrap().starts_with("transcribe: "),
        "{}",
        dead.data
    );
}
