//! The worker over real backends — the in-memory store, SQLite and (when available) Postgres, with
//! FakeTelephony, the `memory://` encrypted RecordingStore, ScriptedTranscriber and RulesExtractor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

async fn a_queued_call_ends_done_with_one_job_and_a_second_run_creates_nothing(h: Harness) {
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

async fn a_retryable_transcriber_failure_is_retried_later_and_then_succeeds_without_a_second_download(
    h: Harness,
) {
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

async fn retry_after_longer_than_the_backoff_is_honoured(h: Harness) {
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

async fn a_permanent_failure_goes_dead_with_a_reason_free_of_personal_data(h: Harness) {
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

async fn a_retryable_failure_goes_dead_at_the_attempts_limit(h: Harness) {
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

async fn a_crash_after_the_store_step_resumes_there_after_the_lease_expires(h: Harness) {
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

async fn a_call_without_an_appointment_finishes_no_appointment(h: Harness) {
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

async fn an_extraction_under_the_review_threshold_needs_review_without_jobs(h: Harness) {
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

async fn a_missing_provider_recording_is_a_permanent_failure(h: Harness) {
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

async fn reprocessing_a_finished_call_from_scratch_books_no_second_job(h: Harness) {
    // As if the worker crashed after booking but before its checkpoint: the steps run again from the start,
    // and book_appointment returns the job already booked from (call, 0).
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

async fn an_unknown_checkpoint_step_is_a_permanent_failure(h: Harness) {
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

async fn a_worker_whose_lease_was_taken_over_writes_nothing(h: Harness) {
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

async fn an_ambiguous_date_needs_review_without_jobs(h: Harness) {
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

on_every_store!(
    reprocessing_a_finished_call_from_scratch_books_no_second_job,
    a_queued_call_ends_done_with_one_job_and_a_second_run_creates_nothing,
    a_retryable_transcriber_failure_is_retried_later_and_then_succeeds_without_a_second_download,
    retry_after_longer_than_the_backoff_is_honoured,
    a_permanent_failure_goes_dead_with_a_reason_free_of_personal_data,
    a_retryable_failure_goes_dead_at_the_attempts_limit,
    a_crash_after_the_store_step_resumes_there_after_the_lease_expires,
    a_call_without_an_appointment_finishes_no_appointment,
    an_extraction_under_the_review_threshold_needs_review_without_jobs,
    a_missing_provider_recording_is_a_permanent_failure,
    an_unknown_checkpoint_step_is_a_permanent_failure,
    a_worker_whose_lease_was_taken_over_writes_nothing,
    an_ambiguous_date_needs_review_without_jobs,
);
