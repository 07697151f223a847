//! The conformance suite (feature `testing`): written once, run against every backend (and through
//! `Arc<dyn JobStore>`). Each `check_*` function creates its own tenants, so the checks can share one store and
//! run in any order. They panic with a message on the first violation. Not a stable API.

// This module is test code compiled into the library (feature `testing`): a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::json;

use crate::error::Error;
use crate::ids::*;
use crate::model::*;
use crate::store::*;

/// Runs every check.
pub async fn check_all(store: Arc<dyn JobStore>) {
    check_tenants(store.as_ref()).await;
    check_calls(store.as_ref()).await;
    check_claiming(store.as_ref()).await;
    check_claim_limit(store.as_ref()).await;
    check_customers(store.as_ref()).await;
    check_jobs(store.as_ref()).await;
    check_booking(store.as_ref()).await;
    check_activity(store.as_ref()).await;
    check_tenant_isolation(store.as_ref()).await;
    check_nul_rejected(store.as_ref()).await;
    check_rebooking(store.as_ref()).await;
    check_usage(store.as_ref()).await;
    check_queue_stats(store.as_ref()).await;
    check_stale_calls(store.as_ref()).await;
    check_sessions(store.as_ref()).await;
    check_api_tokens(store.as_ref()).await;
    check_user_admin(store.as_ref()).await;
    check_tenant_admin(store.as_ref()).await;
    check_phone_line_changes(store.as_ref()).await;
    check_customer_footprint(store.as_ref()).await;
    check_erase_customer(store.as_ref()).await;
    check_erase_call(store.as_ref()).await;
    check_delete_tenant(store.as_ref()).await;
    check_purge_call_artefacts(store.as_ref()).await;
    check_erase_among_many_notifications(store.as_ref()).await;
    // ---- issue 9 review
    check_finish_review(store.as_ref()).await;
    check_list_merges(store.as_ref()).await;
    // ---- end issue 9 review
    check_concurrent_usage(store.clone(), 8).await;
    check_concurrent_claims(store.clone(), 4, 40).await;
    check_concurrent_edits(store.clone(), 8).await;
    check_concurrent_customers(store.clone(), 8).await;
    check_concurrent_owner_changes(store.clone(), 8).await;
}

/// A tenant in `America/New_York` with a unique name.
pub async fn new_tenant(store: &dyn JobStore, name: &str) -> Tenant {
    store
        .create_tenant(NewTenant::new(name, TimeZone::parse("America/New_York").unwrap()))
        .await
        .unwrap()
}

/// The claim limit the checks pass to [`WorkQueue::claim_calls`].
const MAX_ATTEMPTS: i32 = 5;

/// A fixed instant: 2026-03-10 14:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, 0).unwrap()
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

/// A new call with a provider id.
pub fn new_call(sid: &str) -> NewCall {
    NewCall {
        provider: "twilio".into(),
        provider_call_id: sid.into(),
        phone_line_id: None,
        from: Some(phone("+19145552177")),
        to: Some(phone("+14155550100")),
        started_at: t0(),
        provider_status: "ringing".into(),
    }
}

/// A call recorded and queued (recording set).
pub async fn queued_call(store: &dyn JobStore, tenant: TenantId, sid: &str) -> Call {
    let (call, _) = store.record_call(tenant, new_call(sid)).await.unwrap();
    store
        .set_recording(
            tenant,
            call.id,
            RecordingRef {
                provider_recording_id: format!("RE{sid}"),
                duration_seconds: Some(30),
                storage_key: None,
            },
        )
        .await
        .unwrap()
}

/// Tenants, users, phone lines.
pub async fn check_tenants(store: &dyn JobStore) {
    let t = new_tenant(store, "Acme Plumbing").await;
    assert_eq!(store.get_tenant(t.id).await.unwrap(), t);
    assert_eq!(t.settings, json!({}));
    assert!(matches!(
        store.create_tenant(NewTenant::new("  ", TimeZone::UTC)).await,
        Err(Error::InvalidInput(_))
    ));
    let t2 = store
        .update_tenant_settings(t.id, json!({"notify": {"email": true}}))
        .await
        .unwrap();
    assert_eq!(t2.settings["notify"]["email"], json!(true));
    assert!(matches!(
        store.get_tenant(TenantId::new()).await,
        Err(Error::NotFound { .. })
    ));

    let u = store
        .create_user(t.id, "Ana@Acme.test", Role::Owner, Some("$argon2id$x".into()))
        .await
        .unwrap();
    assert!(matches!(
        store.create_user(t.id, "ana@acme.test", Role::Staff, None).await,
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(
        store.find_user_by_login(t.id, "ANA@acme.test").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(store.find_user_by_login(t.id, "bob").await.unwrap(), None);
    store.create_user(t.id, "bob", Role::Staff, None).await.unwrap();
    let logins: Vec<String> = store
        .list_users(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, ["Ana@Acme.test", "bob"]);

    let number = phone(&format!("+1415555{:04}", rand_digits()));
    let line = store
        .add_phone_line(
            t.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: number.clone(),
                provider_account_id: "AC1".into(),
                provider_number_id: Some("PN1".into()),
                credentials: Some(vec![1, 2, 3]),
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    assert_eq!(line.credentials, Some(vec![1, 2, 3]));
    assert_eq!(
        store.route_phone_line("twilio", &number).await.unwrap(),
        Some(line.clone())
    );
    assert_eq!(store.route_phone_line("telnyx", &number).await.unwrap(), None);
    let other = new_tenant(store, "Other").await;
    let dup = NewPhoneLine {
        provider: "twilio".into(),
        number: number.clone(),
        provider_account_id: "AC2".into(),
        provider_number_id: None,
        credentials: None,
        webhook_mode: WebhookMode::DialRecord,
    };
    assert!(
        matches!(
            store.add_phone_line(other.id, dup).await,
            Err(Error::AlreadyExists { .. })
        ),
        "a number belongs to one tenant"
    );
    assert_eq!(store.list_phone_lines(t.id).await.unwrap(), vec![line]);
    assert!(store.list_phone_lines(other.id).await.unwrap().is_empty());
}

fn rand_digits() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u16
}

/// Calls: idempotent recording, status, recording, transcripts, extractions, corrections.
pub async fn check_calls(store: &dyn JobStore) {
    let t = new_tenant(store, "Calls").await;
    let (call, created) = store.record_call(t.id, new_call("CA1")).await.unwrap();
    assert!(created);
    assert_eq!(call.processing.state, CallState::Received);
    assert_eq!(call.started_at, t0());
    let (again, created) = store.record_call(t.id, new_call("CA1")).await.unwrap();
    assert!(!created, "the same CallSid is recorded once");
    assert_eq!(again.id, call.id);
    assert_eq!(store.get_call(t.id, call.id).await.unwrap(), call);
    assert_eq!(
        store
            .find_call_by_provider_id(t.id, "twilio", "CA1")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(call.id)
    );
    assert!(matches!(
        store.record_call(t.id, new_call("")).await,
        Err(Error::InvalidInput(_))
    ));

    let ended = t0() + chrono::Duration::seconds(95);
    let c = store
        .update_call_status(t.id, call.id, "completed", Some(ended))
        .await
        .unwrap();
    assert_eq!(c.processing.state, CallState::AwaitingRecording);
    assert_eq!(c.ended_at, Some(ended));
    let rec = RecordingRef {
        provider_recording_id: "RE1".into(),
        duration_seconds: Some(90),
        storage_key: Some("t/c/rec".into()),
    };
    let c = store.set_recording(t.id, call.id, rec.clone()).await.unwrap();
    assert_eq!(c.processing.state, CallState::Queued);
    assert_eq!(c.recording, Some(rec.clone()));
    // A duplicate provider callback carries no storage key (nor, sometimes, a duration): it keeps both.
    let duplicate = RecordingRef {
        provider_recording_id: "RE1".into(),
        duration_seconds: None,
        storage_key: None,
    };
    let c = store.set_recording(t.id, call.id, duplicate).await.unwrap();
    assert_eq!(
        c.recording,
        Some(rec.clone()),
        "a duplicate callback keeps the stored key"
    );
    assert_eq!(store.get_call(t.id, call.id).await.unwrap().recording, Some(rec));
    let c = store
        .update_call_status(t.id, call.id, "completed", None)
        .await
        .unwrap();
    assert_eq!(
        c.processing.state,
        CallState::Queued,
        "a late status does not move a queued call back"
    );
    assert_eq!(c.ended_at, Some(ended));

    assert!(matches!(
        store.requeue_call(t.id, call.id).await,
        Err(Error::InvalidState(_))
    ));

    assert_eq!(store.get_transcript(t.id, call.id).await.unwrap(), None);
    let transcript = StoredTranscript {
        call_id: call.id,
        tenant_id: t.id,
        document: json!({"text": "hello", "segments": []}),
        language: Some("en".into()),
        confidence: Some(0.875),
        provider: "demo".into(),
        model: None,
        created_at: t0(),
    };
    store.put_transcript(t.id, transcript.clone()).await.unwrap();
    let got = store.get_transcript(t.id, call.id).await.unwrap().unwrap();
    assert_eq!(got.document, transcript.document);
    assert_eq!(got.confidence, Some(0.875));
    let extraction = StoredExtraction {
        call_id: call.id,
        tenant_id: t.id,
        document: json!({"call_kind": "live", "appointments": [{}], "confidence": 0.5}),
        call_kind: "live".into(),
        appointment_count: 1,
        confidence: Some(0.5),
        extractor: "rules".into(),
        model: None,
        created_at: t0(),
    };
    store.put_extraction(t.id, extraction.clone()).await.unwrap();
    let mut replaced = extraction.clone();
    replaced.call_kind = "voicemail".into();
    store.put_extraction(t.id, replaced).await.unwrap();
    assert_eq!(
        store
            .get_extraction(t.id, call.id)
            .await
            .unwrap()
            .unwrap()
            .call_kind,
        "voicemail",
        "put replaces"
    );
    let corr = store
        .add_correction(
            t.id,
            NewCorrection {
                call_id: call.id,
                job_id: None,
                field: "appointments[0].when".into(),
                before: json!("tomorrow"),
                after: json!("2026-03-11"),
                user_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.list_corrections(t.id, call.id).await.unwrap(), vec![corr]);

    for i in 0..3 {
        let mut n = new_call(&format!("CAL{i}"));
        n.started_at = t0() + chrono::Duration::minutes(i);
        store.record_call(t.id, n).await.unwrap();
    }
    let listed = store
        .list_calls(t.id, Some(CallState::Received), Page::first(2))
        .await
        .unwrap();
    let sids: Vec<&str> = listed.iter().map(|c| c.provider_call_id.as_str()).collect();
    assert_eq!(sids, ["CAL2", "CAL1"], "newest first, paged");
    let page2 = store
        .list_calls(t.id, Some(CallState::Received), Page { offset: 2, limit: 2 })
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
}

/// NUL characters (which Postgres cannot store) are [`Error::InvalidInput`] naming the field on every backend,
/// and nothing is written.
pub async fn check_nul_rejected(store: &dyn JobStore) {
    fn field_of(r: Result<impl std::fmt::Debug, Error>) -> &'static str {
        match r {
            Err(Error::InvalidInput(errors)) => errors[0].field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(
        field_of(
            store
                .create_tenant(NewTenant::new("Nul\0Co", TimeZone::UTC))
                .await
        ),
        "name"
    );
    let t = new_tenant(store, "Nul checks").await;
    assert_eq!(
        field_of(store.update_tenant_settings(t.id, json!({"a": "x\u{0}y"})).await),
        "settings"
    );
    let customer = CustomerInput {
        name: Some("Ana\0".into()),
        ..CustomerInput::default()
    };
    assert_eq!(
        field_of(store.find_or_create_customer(t.id, customer.clone()).await),
        "name"
    );
    assert_eq!(field_of(store.create_customer(t.id, customer).await), "name");
    let customer = CustomerInput {
        name: Some("Ana".into()),
        address: addr("1 Elm\0", "10701"),
        ..CustomerInput::default()
    };
    assert_eq!(
        field_of(store.find_or_create_customer(t.id, customer).await),
        "address"
    );
    assert!(
        store.search_customers(t.id, "", 10).await.unwrap().is_empty(),
        "nothing written"
    );
    assert_eq!(
        field_of(
            store
                .create_job(t.id, NewJob::titled("Sink\0"), Actor::pipeline())
                .await
        ),
        "title"
    );
    let mut job = NewJob::titled("Sink");
    job.notes = Some("gate\0".into());
    assert_eq!(
        field_of(store.create_job(t.id, job, Actor::pipeline()).await),
        "notes"
    );
    let job = store
        .create_job(t.id, NewJob::titled("Sink"), Actor::pipeline())
        .await
        .unwrap();
    let patch = JobPatch {
        description: Some("a\0b".into()),
        ..JobPatch::default()
    };
    assert_eq!(
        field_of(
            store
                .update_job(t.id, job.id, job.version, patch, Actor::pipeline())
                .await
        ),
        "description"
    );
    assert_eq!(
        field_of(store.add_note(t.id, job.id, Actor::pipeline(), "x\0").await),
        "body"
    );
    let call = queued_call(store, t.id, "CA-NUL").await;
    let transcript = StoredTranscript {
        call_id: call.id,
        tenant_id: t.id,
        document: json!({"text": "hello\u{0}"}),
        language: None,
        confidence: None,
        provider: "fake".into(),
        model: None,
        created_at: t0(),
    };
    assert_eq!(field_of(store.put_transcript(t.id, transcript).await), "document");
    assert_eq!(store.get_transcript(t.id, call.id).await.unwrap(), None);
    // An error reason is not input to reject: its NUL is replaced, and recording it never fails.
    let now = t0() + chrono::Duration::days(7400);
    let claimed = claim_one(store, t.id, call.id, "nul", now).await;
    let retried = store
        .retry_call(t.id, call.id, &claimed.lease().unwrap(), now, "bad\0byte", now)
        .await
        .unwrap();
    assert_eq!(retried.processing.last_error.as_deref(), Some("bad\u{fffd}byte"));
}

/// `update_job` with `reject_double_booking` refuses a schedule that overlaps another open job (not the job
/// itself), and writes nothing; without the flag an overlap is allowed.
pub async fn check_rebooking(store: &dyn JobStore) {
    let t = new_tenant(store, "Rebooking").await;
    let at = |h: i64| t0() + chrono::Duration::hours(h);
    let slot = |start: i64, title: &str| NewJob {
        scheduled_start: Some(at(start)),
        scheduled_end: Some(at(start + 1)),
        ..NewJob::titled(title)
    };
    let a = store
        .create_job(t.id, slot(1, "A"), Actor::pipeline())
        .await
        .unwrap();
    let b = store
        .create_job(t.id, slot(3, "B"), Actor::pipeline())
        .await
        .unwrap();
    let onto_a = JobPatch {
        schedule: Some(Some(Schedule {
            start: at(1),
            end: at(2),
            timezone: TimeZone::UTC,
        })),
        reject_double_booking: true,
        ..JobPatch::default()
    };
    match store
        .update_job(t.id, b.id, b.version, onto_a.clone(), Actor::pipeline())
        .await
    {
        Err(Error::DoubleBooked { conflicting }) => assert_eq!(conflicting, vec![a.id]),
        other => panic!("expected DoubleBooked, got {other:?}"),
    }
    assert_eq!(store.get_job(t.id, b.id).await.unwrap(), b, "nothing written");
    let renamed = store
        .update_job(
            t.id,
            b.id,
            b.version,
            JobPatch {
                title: Some("B2".into()),
                reject_double_booking: true,
                ..JobPatch::default()
            },
            Actor::pipeline(),
        )
        .await
        .unwrap();
    let overbooked = store
        .update_job(
            t.id,
            b.id,
            renamed.version,
            JobPatch {
                reject_double_booking: false,
                ..onto_a
            },
            Actor::pipeline(),
        )
        .await
        .unwrap();
    assert_eq!(overbooked.schedule.unwrap().start, at(1));
}

/// A call whose worker dies every time (its lease expires) is claimed `max_attempts` times, then buried as
/// dead instead of being claimed forever.
pub async fn check_claim_limit(store: &dyn JobStore) {
    let t = new_tenant(store, "Crashing").await;
    let call = queued_call(store, t.id, "CQ-CRASH").await;
    let lease = Duration::from_secs(60);
    assert!(matches!(
        store.claim_calls("w", t0(), lease, 1, 0).await,
        Err(Error::InvalidInput(_))
    ));
    // Later than every other check's instants, so this call is the due one of this tenant.
    let start = t0() + chrono::Duration::days(7300);
    let mut attempts_seen = Vec::new();
    for round in 0..4 {
        let now = start + chrono::Duration::minutes(2 * round);
        loop {
            let claimed = store.claim_calls("crashy", now, lease, 50, 3).await.unwrap();
            if claimed.is_empty() {
                break;
            }
            attempts_seen.extend(
                claimed
                    .iter()
                    .filter(|c| c.id == call.id)
                    .map(|c| c.processing.attempts),
            );
        }
        // The worker "crashes": nothing is released, the lease just runs out before the next round.
    }
    assert_eq!(attempts_seen, [1, 2, 3], "claimed exactly max_attempts times");
    let dead = store.get_call(t.id, call.id).await.unwrap();
    assert_eq!(dead.processing.state, CallState::Dead);
    assert_eq!(
        dead.processing.last_error.as_deref(),
        Some("lease expired 3 times")
    );
    assert_eq!(dead.processing.lease_owner, None);
    // A person can still requeue it.
    let again = store.requeue_call(t.id, call.id).await.unwrap();
    assert_eq!(again.processing.state, CallState::Queued);
    assert_eq!(again.processing.attempts, 0);
}

/// Claiming, leases, checkpoints, retries, dead calls.
pub async fn check_claiming(store: &dyn JobStore) {
    let t = new_tenant(store, "Queue").await;
    let lease = Duration::from_secs(60);
    // Other checks sharing the store may have queued calls too: claims are filtered to this tenant.
    let a = queued_call(store, t.id, "CQ-A").await;
    let received = store.record_call(t.id, new_call("CQ-R")).await.unwrap().0;
    let now = t0() + chrono::Duration::days(3650);
    let mut mine = Vec::new();
    loop {
        let claimed = store
            .claim_calls("w1", now, lease, 50, MAX_ATTEMPTS)
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        mine.extend(claimed.into_iter().filter(|c| c.tenant_id == t.id));
    }
    assert_eq!(
        mine.len(),
        1,
        "only the queued call is due, the received one is not"
    );
    let c = &mine[0];
    let w1 = c.lease().unwrap();
    assert_eq!(w1, Lease::new("w1", 1));
    assert_eq!(c.id, a.id);
    assert_eq!(c.processing.state, CallState::Processing);
    assert_eq!(c.processing.lease_owner.as_deref(), Some("w1"));
    assert_eq!(c.processing.attempts, 1);
    assert_eq!(
        c.processing.lease_until,
        Some(to_micros(now + chrono::Duration::seconds(60)))
    );
    assert!(
        store
            .claim_calls("w2", now, lease, 50, MAX_ATTEMPTS)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != a.id)
    );
    let _ = received;

    let c = store
        .checkpoint(t.id, a.id, &w1, now, "transcribed", Some(json!({"chars": 120})))
        .await
        .unwrap();
    assert_eq!(c.processing.step.as_deref(), Some("transcribed"));
    assert_eq!(c.processing.checkpoint, Some(json!({"chars": 120})));
    assert!(matches!(
        store
            .checkpoint(t.id, a.id, &Lease::new("w2", 1), now, "x", None)
            .await,
        Err(Error::LeaseLost)
    ));

    // The lease expires: another worker reclaims; the first worker has lost it.
    let later = now + chrono::Duration::seconds(61);
    let re: Vec<Call> = store
        .claim_calls("w2", later, lease, 100, MAX_ATTEMPTS)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.tenant_id == t.id)
        .collect();
    assert_eq!(re.len(), 1);
    assert_eq!(re[0].processing.attempts, 2);
    let w2 = re[0].lease().unwrap();
    assert!(
        matches!(
            store
                .checkpoint(t.id, a.id, &Lease::new("w2", 1), later, "x", None)
                .await,
            Err(Error::LeaseLost)
        ),
        "an older claim by the same owner has lost the lease"
    );
    assert_eq!(
        re[0].processing.step.as_deref(),
        Some("transcribed"),
        "checkpoint survives a reclaim"
    );
    assert!(matches!(
        store.finish_call(t.id, a.id, &w1, later, CallState::Done).await,
        Err(Error::LeaseLost)
    ));
    let c = store
        .extend_lease(t.id, a.id, &w2, later, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        c.processing.lease_until,
        Some(to_micros(later + chrono::Duration::seconds(600)))
    );

    // Retry later: not due before next_attempt_at.
    let next = later + chrono::Duration::seconds(30);
    let c = store
        .retry_call(t.id, a.id, &w2, later, "transcriber timed out", next)
        .await
        .unwrap();
    assert_eq!(c.processing.state, CallState::Queued);
    assert_eq!(c.processing.last_error.as_deref(), Some("transcriber timed out"));
    assert_eq!(c.processing.lease_owner, None);
    let early = store
        .claim_calls(
            "w3",
            later + chrono::Duration::seconds(29),
            lease,
            100,
            MAX_ATTEMPTS,
        )
        .await
        .unwrap();
    assert!(early.iter().all(|c| c.id != a.id), "not due yet");
    let c = store
        .claim_calls("w3", next, lease, 100, MAX_ATTEMPTS)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == a.id)
        .expect("due at next_attempt_at");
    assert_eq!(c.processing.attempts, 3);

    // Release does not count as an attempt.
    let c = store
        .release_call(t.id, a.id, &c.lease().unwrap(), next)
        .await
        .unwrap();
    assert_eq!(c.processing.attempts, 2);
    assert_eq!(c.processing.state, CallState::Queued);

    // fail_call kills after max attempts.
    let policy = RetryPolicy {
        base: Duration::from_secs(10),
        max_delay: Duration::from_secs(100),
        max_attempts: 3,
    };
    let c = claim_one(store, t.id, a.id, "w4", next).await;
    assert_eq!(c.processing.attempts, 3);
    let dead = store
        .fail_call(&c, &c.lease().unwrap(), next, "provider said 400", true, &policy)
        .await
        .unwrap();
    assert_eq!(dead.processing.state, CallState::Dead);
    assert_eq!(dead.processing.last_error.as_deref(), Some("provider said 400"));
    assert!(matches!(
        store
            .finish_call(t.id, a.id, &Lease::new("w4", 3), next, CallState::Done)
            .await,
        Err(Error::LeaseLost)
    ));
    let c = store.requeue_call(t.id, a.id).await.unwrap();
    assert_eq!(
        (c.processing.state, c.processing.attempts),
        (CallState::Queued, 0)
    );
    let c = claim_one(store, t.id, a.id, "w5", next).await;
    let retried = store
        .fail_call(&c, &c.lease().unwrap(), next, "flaky", true, &policy)
        .await
        .unwrap();
    assert_eq!(retried.processing.state, CallState::Queued);
    let delay = retried.processing.next_attempt_at.unwrap() - next;
    assert!(
        delay >= chrono::Duration::seconds(5) && delay <= chrono::Duration::seconds(10),
        "{delay}"
    );
    let w6 = claim_one(store, t.id, a.id, "w6", next + chrono::Duration::seconds(10))
        .await
        .lease()
        .unwrap();
    assert!(matches!(
        store.finish_call(t.id, a.id, &w6, next, CallState::Queued).await,
        Err(Error::InvalidInput(_))
    ));
    let done = store
        .finish_call(
            t.id,
            a.id,
            &w6,
            next + chrono::Duration::seconds(10),
            CallState::NeedsReview,
        )
        .await
        .unwrap();
    assert_eq!(done.processing.state, CallState::NeedsReview);
    assert_eq!(done.processing.lease_until, None);
}

async fn claim_one(
    store: &dyn JobStore,
    tenant: TenantId,
    id: CallId,
    owner: &str,
    now: DateTime<Utc>,
) -> Call {
    for _ in 0..1000 {
        let claimed = store
            .claim_calls(owner, now, Duration::from_secs(60), 100, MAX_ATTEMPTS)
            .await
            .unwrap();
        if let Some(c) = claimed.iter().find(|c| c.id == id) {
            assert_eq!(c.tenant_id, tenant);
            return c.clone();
        }
        assert!(!claimed.is_empty(), "call {id} was not claimable");
    }
    panic!("call {id} never claimed");
}

/// N concurrent claimers over M calls: every call is claimed exactly once per lease.
pub async fn check_concurrent_claims(store: Arc<dyn JobStore>, claimers: usize, calls: usize) {
    let t = new_tenant(store.as_ref(), "Concurrent").await;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..calls {
        ids.insert(queued_call(store.as_ref(), t.id, &format!("CC{i}")).await.id);
    }
    let now = t0() + chrono::Duration::days(7300);
    let mut handles = Vec::new();
    for w in 0..claimers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim_calls(&owner, now, Duration::from_secs(300), 3, MAX_ATTEMPTS)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in &batch {
                    assert_eq!(c.processing.lease_owner.as_deref(), Some(owner.as_str()));
                }
                got.extend(batch.into_iter().map(|c| c.id));
                tokio::task::yield_now().await;
            }
            got
        }));
    }
    let mut seen = Vec::new();
    for h in handles {
        seen.extend(h.await.unwrap());
    }
    let mine: Vec<CallId> = seen.into_iter().filter(|id| ids.contains(id)).collect();
    let unique: std::collections::BTreeSet<CallId> = mine.iter().copied().collect();
    assert_eq!(
        mine.len(),
        unique.len(),
        "a call was claimed twice within one lease"
    );
    assert_eq!(unique, ids, "every call was claimed");
}

/// Concurrent edits of one job: exactly one wins per version, the others get `Conflict`.
pub async fn check_concurrent_edits(store: Arc<dyn JobStore>, writers: usize) {
    let t = new_tenant(store.as_ref(), "Edits").await;
    let job = store
        .create_job(t.id, NewJob::titled("Fix sink"), Actor::pipeline())
        .await
        .unwrap();
    let mut handles = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let (tenant, id, version) = (t.id, job.id, job.version);
        handles.push(tokio::spawn(async move {
            let patch = JobPatch {
                title: Some(format!("edit {w}")),
                ..JobPatch::default()
            };
            store
                .update_job(tenant, id, version, patch, Actor::pipeline())
                .await
        }));
    }
    let mut wins = Vec::new();
    for h in handles {
        match h.await.unwrap() {
            Ok(j) => wins.push(j),
            Err(Error::Conflict { expected, actual, .. }) => {
                assert_eq!((expected, actual), (1, 2));
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one concurrent edit wins");
    let stored = store.get_job(t.id, job.id).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.title, wins[0].title,
        "the winner's write is what is stored"
    );
}

/// Concurrent find-or-create of one new number creates one customer; concurrent bookings from one source
/// return one job (never a database error) and never report a customer that is not the job's; two opposite
/// concurrent merges never form a cycle.
pub async fn check_concurrent_customers(store: Arc<dyn JobStore>, tasks: usize) {
    let t = new_tenant(store.as_ref(), "Concurrent customers").await;
    let input = CustomerInput {
        name: Some("Rosa Diaz".into()),
        phone: Some(phone("+17185550142")),
        address: Address::default(),
        source_call: None,
    };
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (store, input) = (store.clone(), input.clone());
        handles.push(tokio::spawn(async move {
            store.find_or_create_customer(t.id, input).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for h in handles {
        ids.insert(h.await.unwrap().unwrap().customer.id);
    }
    assert_eq!(ids.len(), 1, "one new number, one customer");

    let (call, _) = store.record_call(t.id, new_call("CC1")).await.unwrap();
    let job = NewJob {
        source: Some(JobSource {
            call_id: call.id,
            appointment_index: 0,
        }),
        ..NewJob::titled("Leak")
    };
    let mut handles = Vec::new();
    for i in 0..tasks {
        let (store, job) = (store.clone(), job.clone());
        // Names only: each task that gets to find-or-create makes its own customer.
        let input = CustomerInput {
            name: Some(format!("Caller {i}")),
            phone: None,
            address: Address::default(),
            source_call: None,
        };
        handles.push(tokio::spawn(async move {
            store.book_appointment(t.id, input, job, Actor::pipeline()).await
        }));
    }
    let mut jobs = std::collections::HashSet::new();
    for h in handles {
        let booking = h.await.unwrap().unwrap();
        jobs.insert(booking.job.id);
        if let Some(found) = booking.customer {
            assert_eq!(booking.job.customer_id, Some(found.customer.id));
        }
    }
    assert_eq!(jobs.len(), 1, "one source, one job");

    let a = store.create_customer(t.id, input.clone()).await.unwrap();
    let b = store.create_customer(t.id, input).await.unwrap();
    let (s1, s2) = (store.clone(), store.clone());
    let ab = tokio::spawn(async move { s1.merge_customers(t.id, b.id, a.id, Actor::pipeline()).await });
    let ba = tokio::spawn(async move { s2.merge_customers(t.id, a.id, b.id, Actor::pipeline()).await });
    let (ab, ba) = (ab.await.unwrap(), ba.await.unwrap());
    assert_eq!(
        usize::from(ab.is_ok()) + usize::from(ba.is_ok()),
        1,
        "exactly one of two opposite merges wins: {ab:?} {ba:?}"
    );
    for r in [ab, ba] {
        if let Err(e) = r {
            assert!(matches!(e, Error::InvalidState(_)), "{e}");
        }
    }
    let (a, b) = (
        store.get_customer(t.id, a.id).await.unwrap(),
        store.get_customer(t.id, b.id).await.unwrap(),
    );
    assert!(
        a.merged_into.is_none() || b.merged_into.is_none(),
        "no merge cycle"
    );
}

fn addr(line1: &str, postal: &str) -> Address {
    Address {
        line1: Some(line1.into()),
        city: Some("Yonkers".into()),
        postal_code: Some(postal.into()),
        ..Address::default()
    }
}

/// Customers: find-or-create, suggestions, merges and undo, search, history.
pub async fn check_customers(store: &dyn JobStore) {
    let t = new_tenant(store, "Customers").await;
    let (call, _) = store.record_call(t.id, new_call("CU1")).await.unwrap();
    let maria = CustomerInput {
        name: Some("Maria Lopez".into()),
        phone: Some(phone("+19145552177")),
        address: addr("42 Oak Street", "10701"),
        source_call: Some(call.id),
    };
    let first = store.find_or_create_customer(t.id, maria.clone()).await.unwrap();
    assert_eq!(first.resolution, CustomerResolution::Created);
    assert!(first.suggestions.is_empty());
    assert_eq!(
        store.get_call(t.id, call.id).await.unwrap().customer_id,
        Some(first.customer.id)
    );

    // Same phone, name spelled differently, new second phone in a later call: confident match.
    let again = store
        .find_or_create_customer(
            t.id,
            CustomerInput {
                name: Some("maria lopes".into()),
                phone: Some(phone("+19145552177")),
                address: Address::default(),
                source_call: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(again.customer.id, first.customer.id);
    match &again.resolution {
        CustomerResolution::Matched { score, reason } => {
            assert!(reason.same_phone && !reason.same_address);
            assert!(reason.name_similarity.unwrap() >= 0.85);
            assert!(*score > 0.5);
        }
        other => panic!("expected a match, got {other:?}"),
    }
    // Same address, similar name, new phone: match, and the phone is added.
    let by_address = store
        .find_or_create_customer(
            t.id,
            CustomerInput {
                name: Some("Maria Lopez".into()),
                phone: Some(phone("+19145550001")),
                address: addr("42 oak st.", "10701"),
                source_call: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(by_address.customer.id, first.customer.id);
    assert_eq!(
        by_address.customer.phones,
        vec![phone("+19145552177"), phone("+19145550001")]
    );

    // Same address, different name: a new customer plus a suggestion, never a silent merge.
    let john = store
        .find_or_create_customer(
            t.id,
            CustomerInput {
                name: Some("John Smith".into()),
                phone: Some(phone("+19145559999")),
                address: addr("42 Oak St", "10701"),
                source_call: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(john.resolution, CustomerResolution::Created);
    assert_eq!(john.suggestions.len(), 1);
    let s = &john.suggestions[0];
    assert_eq!(
        (s.customer_id, s.candidate_id),
        (john.customer.id, first.customer.id)
    );
    assert!(s.reason.same_address && !s.reason.same_phone);
    assert_eq!(
        store
            .list_merge_suggestions(t.id, Some(SuggestionStatus::Open))
            .await
            .unwrap(),
        john.suggestions
    );
    assert!(matches!(
        store
            .find_or_create_customer(t.id, CustomerInput::default())
            .await,
        Err(Error::InvalidInput(_))
    ));

    // Search over name, phone and address.
    let found = store.search_customers(t.id, "oak", 10).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].name, "John Smith", "ordered by name");
    assert_eq!(
        store
            .search_customers(t.id, "maria 2177", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .search_customers(t.id, "maria 9999", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store.search_customers(t.id, "100%", 10).await.unwrap().is_empty(),
        "% is literal"
    );

    // A job for John, then merge John into Maria: history includes it; undo restores.
    let job = store
        .create_job(
            t.id,
            NewJob {
                customer_id: Some(john.customer.id),
                ..NewJob::titled("Leak")
            },
            Actor::pipeline(),
        )
        .await
        .unwrap();
    let merge = store
        .merge_customers(t.id, first.customer.id, john.customer.id, Actor::pipeline())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_customer(t.id, john.customer.id)
            .await
            .unwrap()
            .merged_into,
        Some(first.customer.id)
    );
    assert_eq!(
        store
            .list_merge_suggestions(t.id, Some(SuggestionStatus::Accepted))
            .await
            .unwrap()
            .len(),
        1
    );
    let history = store.customer_history(t.id, first.customer.id).await.unwrap();
    assert_eq!(
        history.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![job.id]
    );
    assert_eq!(
        history.calls.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![call.id]
    );
    assert_eq!(
        store.search_customers(t.id, "oak", 10).await.unwrap().len(),
        1,
        "merged are hidden"
    );
    // A later call from John's number resolves to the survivor.
    let via_merged = store
        .find_or_create_customer(
            t.id,
            CustomerInput {
                name: Some("John Smith".into()),
                phone: Some(phone("+19145559999")),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(via_merged.customer.id, first.customer.id);
    assert!(matches!(
        store
            .merge_customers(t.id, first.customer.id, john.customer.id, Actor::pipeline())
            .await,
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(
        store
            .merge_customers(t.id, first.customer.id, first.customer.id, Actor::pipeline())
            .await,
        Err(Error::InvalidState(_))
    ));
    let undone = store.undo_merge(t.id, merge.id).await.unwrap();
    assert!(undone.undone_at.is_some());
    assert_eq!(
        store
            .get_customer(t.id, john.customer.id)
            .await
            .unwrap()
            .merged_into,
        None
    );
    assert!(
        store
            .customer_history(t.id, first.customer.id)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert_eq!(
        store
            .list_merge_suggestions(t.id, Some(SuggestionStatus::Open))
            .await
            .unwrap()
            .len(),
        1,
        "undo reopens the suggestion"
    );
    assert!(matches!(
        store.undo_merge(t.id, merge.id).await,
        Err(Error::InvalidState(_))
    ));
    let dismissed = store.dismiss_merge_suggestion(t.id, s.id).await.unwrap();
    assert_eq!(dismissed.status, SuggestionStatus::Dismissed);
}

/// Jobs: validation, idempotent creation, stages, positions, versions, filters, notes, photos, double booking.
pub async fn check_jobs(store: &dyn JobStore) {
    let t = new_tenant(store, "Jobs").await;
    let start = Utc.with_ymd_and_hms(2026, 3, 11, 19, 0, 0).unwrap();
    let end = start + chrono::Duration::hours(2);

    let bad = NewJob {
        scheduled_start: Some(end),
        scheduled_end: Some(start),
        price: Some(Money::new(-5, "usd")),
        recurrence: Some("FREQ=SOMETIMES".into()),
        ..NewJob::titled("")
    };
    let err = store.create_job(t.id, bad, Actor::pipeline()).await.unwrap_err();
    let fields: Vec<&str> = err.field_errors().iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        ["title", "scheduled_end", "price", "price", "recurrence"],
        "{err}"
    );
    assert!(
        store
            .list_jobs(t.id, &JobFilter::default(), Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    let half = NewJob {
        scheduled_start: Some(start),
        ..NewJob::titled("x")
    };
    assert_eq!(
        store
            .create_job(t.id, half, Actor::pipeline())
            .await
            .unwrap_err()
            .field_errors()[0]
            .field,
        "scheduled_end"
    );
    let ghost = NewJob {
        customer_id: Some(CustomerId::new()),
        ..NewJob::titled("x")
    };
    assert!(matches!(
        store.create_job(t.id, ghost, Actor::pipeline()).await,
        Err(Error::NotFound { .. })
    ));

    let (call, _) = store.record_call(t.id, new_call("CJ1")).await.unwrap();
    let source = JobSource {
        call_id: call.id,
        appointment_index: 0,
    };
    let new = NewJob {
        source: Some(source),
        description: "kitchen sink leaking, under the cabinet".into(),
        address: addr("42 Oak Street", "10701"),
        scheduled_start: Some(start),
        scheduled_end: Some(end),
        recurrence: Some("FREQ=MONTHLY;COUNT=3".into()),
        price: Some(Money::new(8900, "USD")),
        urgency: Urgency::Urgent,
        notes: Some("gate code 1234".into()),
        ..NewJob::titled("Leaking sink")
    };
    let a = store
        .create_job(t.id, new.clone(), Actor::pipeline())
        .await
        .unwrap();
    assert_eq!((a.stage, a.version, a.position), (Stage::QuoteRequested, 1, 1024));
    assert_eq!(
        a.schedule.as_ref().unwrap().timezone.name(),
        "America/New_York",
        "tenant zone by default"
    );
    assert_eq!(a.price, Some(Money::new(8900, "USD")));
    assert_eq!(store.get_job(t.id, a.id).await.unwrap(), a);
    let same = store
        .create_job(t.id, new.clone(), Actor::pipeline())
        .await
        .unwrap();
    assert_eq!(same, a, "same source, same job");

    let b = store
        .create_job(t.id, NewJob::titled("Water heater"), Actor::pipeline())
        .await
        .unwrap();
    assert_eq!(b.position, 2048, "appended to the column");
    let clash = NewJob {
        scheduled_start: Some(start + chrono::Duration::hours(1)),
        scheduled_end: Some(end + chrono::Duration::hours(1)),
        reject_double_booking: true,
        ..NewJob::titled("Overlap")
    };
    match store.create_job(t.id, clash.clone(), Actor::pipeline()).await {
        Err(Error::DoubleBooked { conflicting }) => assert_eq!(conflicting, vec![a.id]),
        other => panic!("expected DoubleBooked, got {other:?}"),
    }
    let adjacent = NewJob {
        scheduled_start: Some(end),
        scheduled_end: Some(end + chrono::Duration::hours(1)),
        ..clash.clone()
    };
    let c = store.create_job(t.id, adjacent, Actor::pipeline()).await.unwrap();
    assert_eq!(
        store
            .overlapping_jobs(t.id, start, end + chrono::Duration::minutes(1), None)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![a.id, c.id]
    );
    assert!(
        store
            .overlapping_jobs(t.id, start, end, Some(a.id))
            .await
            .unwrap()
            .is_empty()
    );

    // Moves: history, versions, positions.
    let user = store.create_user(t.id, "ana", Role::Staff, None).await.unwrap();
    let moved = store
        .move_job(t.id, a.id, 1, Stage::QuoteSent, None, Actor::User(user.id))
        .await
        .unwrap();
    assert_eq!(
        (moved.stage, moved.version, moved.position),
        (Stage::QuoteSent, 2, 1024)
    );
    assert!(matches!(
        store
            .move_job(t.id, a.id, 1, Stage::Confirmed, None, Actor::pipeline())
            .await,
        Err(Error::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    let reordered = store
        .move_job(
            t.id,
            b.id,
            b.version,
            Stage::QuoteRequested,
            Some(10),
            Actor::User(user.id),
        )
        .await
        .unwrap();
    assert_eq!(reordered.position, 10);
    let history = store.stage_history(t.id, a.id).await.unwrap();
    assert_eq!(
        history.iter().map(|h| (h.from, h.to)).collect::<Vec<_>>(),
        vec![
            (None, Stage::QuoteRequested),
            (Some(Stage::QuoteRequested), Stage::QuoteSent)
        ]
    );
    assert_eq!(history[1].actor, Actor::User(user.id));
    assert_eq!(
        store.stage_history(t.id, b.id).await.unwrap().len(),
        1,
        "reorder is not a stage change"
    );
    let column = store
        .list_jobs(
            t.id,
            &JobFilter {
                stage: Some(Stage::QuoteRequested),
                ..JobFilter::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(column.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id, c.id]);

    // Edits.
    let patch = JobPatch {
        price: Some(None),
        notes: Some(Some("call before".into())),
        ..JobPatch::default()
    };
    let edited = store
        .update_job(t.id, a.id, 2, patch.clone(), Actor::pipeline())
        .await
        .unwrap();
    assert_eq!(
        (edited.version, edited.price.clone(), edited.notes.as_deref()),
        (3, None, Some("call before"))
    );
    assert!(matches!(
        store.update_job(t.id, a.id, 2, patch, Actor::pipeline()).await,
        Err(Error::Conflict { .. })
    ));
    let invalid = JobPatch {
        title: Some(" ".into()),
        ..JobPatch::default()
    };
    assert!(matches!(
        store.update_job(t.id, a.id, 3, invalid, Actor::pipeline()).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        store.get_job(t.id, a.id).await.unwrap().version,
        3,
        "nothing written"
    );

    // Filters.
    let text = JobFilter {
        text: Some("SINK".into()),
        ..JobFilter::default()
    };
    assert_eq!(
        store.list_jobs(t.id, &text, Page::default()).await.unwrap().len(),
        1
    );
    let window = JobFilter {
        scheduled_from: Some(end),
        scheduled_to: Some(end + chrono::Duration::days(1)),
        ..JobFilter::default()
    };
    assert_eq!(
        store
            .list_jobs(t.id, &window, Page::default())
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![c.id]
    );
    let paged = store
        .list_jobs(t.id, &JobFilter::default(), Page { offset: 1, limit: 1 })
        .await
        .unwrap();
    assert_eq!(paged.len(), 1);

    // Notes and photos.
    let note = store
        .add_note(t.id, a.id, Actor::User(user.id), "  bring a wrench ")
        .await
        .unwrap();
    assert_eq!(note.body, "bring a wrench");
    assert!(matches!(
        store.add_note(t.id, a.id, Actor::pipeline(), "   ").await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(store.list_notes(t.id, a.id).await.unwrap(), vec![note]);
    let photo = store
        .add_photo(
            t.id,
            a.id,
            Actor::User(user.id),
            NewPhoto {
                blob_key: "photos/1.jpg".into(),
                content_type: "image/jpeg".into(),
                size_bytes: 12345,
                caption: Some("under the sink".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.list_photos(t.id, a.id).await.unwrap(), vec![photo]);
}

/// Booking an appointment twice (a pipeline retry) gives one job and one customer.
pub async fn check_booking(store: &dyn JobStore) {
    let t = new_tenant(store, "Booking").await;
    let (call, _) = store.record_call(t.id, new_call("BK1")).await.unwrap();
    let customer = CustomerInput {
        name: Some("Ana Ruiz".into()),
        phone: Some(phone("+13125550123")),
        address: Address::default(),
        source_call: Some(call.id),
    };
    let job = NewJob {
        source: Some(JobSource {
            call_id: call.id,
            appointment_index: 0,
        }),
        ..NewJob::titled("Furnace check")
    };
    let first = store
        .book_appointment(t.id, customer.clone(), job.clone(), Actor::pipeline())
        .await
        .unwrap();
    let created = first.customer.clone().unwrap();
    assert_eq!(created.resolution, CustomerResolution::Created);
    assert_eq!(first.job.customer_id, Some(created.customer.id));
    let again = store
        .book_appointment(t.id, customer, job, Actor::pipeline())
        .await
        .unwrap();
    assert_eq!(again.job, first.job);
    assert_eq!(again.customer, None, "nothing matched or created on a retry");
    assert_eq!(store.search_customers(t.id, "", 10).await.unwrap().len(), 1);
    assert_eq!(
        store.get_call(t.id, call.id).await.unwrap().customer_id,
        Some(created.customer.id)
    );
}

/// Webhook keys, audit log, usage counters, notifications.
pub async fn check_activity(store: &dyn JobStore) {
    let t = new_tenant(store, "Activity").await;
    assert!(store.first_delivery(t.id, "CA1:completed").await.unwrap());
    assert!(!store.first_delivery(t.id, "CA1:completed").await.unwrap());
    assert!(store.first_delivery(t.id, "CA1:in-progress").await.unwrap());
    for (i, action) in ["job.created", "job.moved"].into_iter().enumerate() {
        store
            .append_audit(AuditEntry {
                tenant_id: t.id,
                actor: Actor::pipeline(),
                action: action.into(),
                entity: "job".into(),
                entity_id: "j1".into(),
                details: json!({"i": i}),
                at: t0(),
            })
            .await
            .unwrap();
    }
    let log = store.list_audit(t.id, Page::default()).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["job.moved", "job.created"]
    );
    assert_eq!(store.add_usage(t.id, "calls", "2026-03", 1).await.unwrap(), 1);
    assert_eq!(store.add_usage(t.id, "calls", "2026-03", 2).await.unwrap(), 3);
    assert_eq!(store.usage(t.id, "calls", "2026-03").await.unwrap(), 3);
    assert_eq!(store.usage(t.id, "calls", "2026-04").await.unwrap(), 0);
    let user = store.create_user(t.id, "ana", Role::Staff, None).await.unwrap();
    let all = store
        .notify(t.id, None, "job.created", json!({"job": 1}))
        .await
        .unwrap();
    let own = store
        .notify(t.id, Some(user.id), "job.moved", json!({}))
        .await
        .unwrap();
    assert_eq!(
        store
            .list_notifications(t.id, Some(user.id), true)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store.list_notifications(t.id, None, true).await.unwrap(),
        vec![all.clone()]
    );
    assert_eq!(
        store
            .count_unread_notifications(t.id, Some(user.id))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.count_unread_notifications(t.id, None).await.unwrap(), 1);
    let read = store.mark_notification_read(t.id, own.id).await.unwrap();
    assert!(read.read_at.is_some());
    assert_eq!(
        store.mark_notification_read(t.id, own.id).await.unwrap().read_at,
        read.read_at
    );
    assert_eq!(
        store.list_notifications(t.id, Some(user.id), true).await.unwrap(),
        vec![all]
    );
    assert_eq!(
        store
            .count_unread_notifications(t.id, Some(user.id))
            .await
            .unwrap(),
        1
    );
}

/// No read or write path crosses tenants.
pub async fn check_tenant_isolation(store: &dyn JobStore) {
    let a = new_tenant(store, "Tenant A").await;
    let b = new_tenant(store, "Tenant B").await;
    let (call, _) = store.record_call(a.id, new_call("ISO1")).await.unwrap();
    let customer = store
        .create_customer(
            a.id,
            CustomerInput {
                name: Some("Maria".into()),
                phone: Some(phone("+19145552177")),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    let job = store
        .create_job(a.id, NewJob::titled("A's job"), Actor::pipeline())
        .await
        .unwrap();
    let nf = |r: Result<(), Error>, what: &str| match r {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound across tenants, got {other:?}"),
    };
    let bt = b.id;
    nf(store.get_call(bt, call.id).await.map(drop), "get_call");
    nf(
        store
            .update_call_status(bt, call.id, "completed", None)
            .await
            .map(drop),
        "update_call_status",
    );
    nf(
        store
            .set_recording(
                bt,
                call.id,
                RecordingRef {
                    provider_recording_id: "RE".into(),
                    duration_seconds: None,
                    storage_key: None,
                },
            )
            .await
            .map(drop),
        "set_recording",
    );
    nf(
        store.get_transcript(bt, call.id).await.map(drop),
        "get_transcript",
    );
    nf(
        store.link_call_customer(bt, call.id, customer.id).await.map(drop),
        "link_call_customer",
    );
    nf(
        store
            .link_call_customer(a.id, call.id, CustomerId::new())
            .await
            .map(drop),
        "link foreign customer",
    );
    nf(
        store.get_customer(bt, customer.id).await.map(drop),
        "get_customer",
    );
    nf(
        store.customer_history(bt, customer.id).await.map(drop),
        "customer_history",
    );
    nf(store.get_job(bt, job.id).await.map(drop), "get_job");
    nf(
        store
            .update_job(bt, job.id, 1, JobPatch::default(), Actor::pipeline())
            .await
            .map(drop),
        "update_job",
    );
    nf(
        store
            .move_job(bt, job.id, 1, Stage::Completed, None, Actor::pipeline())
            .await
            .map(drop),
        "move_job",
    );
    nf(
        store.add_note(bt, job.id, Actor::pipeline(), "x").await.map(drop),
        "add_note",
    );
    nf(store.list_notes(bt, job.id).await.map(drop), "list_notes");
    nf(store.stage_history(bt, job.id).await.map(drop), "stage_history");
    let foreign_refs = NewJob {
        customer_id: Some(customer.id),
        ..NewJob::titled("B's job")
    };
    nf(
        store
            .create_job(bt, foreign_refs, Actor::pipeline())
            .await
            .map(drop),
        "create_job with A's customer",
    );
    let foreign_source = NewJob {
        source: Some(JobSource {
            call_id: call.id,
            appointment_index: 0,
        }),
        ..NewJob::titled("B's job")
    };
    nf(
        store
            .create_job(bt, foreign_source, Actor::pipeline())
            .await
            .map(drop),
        "create_job with A's call",
    );
    nf(
        store
            .merge_customers(bt, customer.id, customer.id, Actor::pipeline())
            .await
            .map(drop),
        "merge",
    );
    // Lists and searches never show the other tenant's rows.
    assert!(
        store
            .list_jobs(bt, &JobFilter::default(), Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_calls(bt, None, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.search_customers(bt, "", 50).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_call_by_provider_id(bt, "twilio", "ISO1")
            .await
            .unwrap(),
        None
    );
    // Matching in B never finds A's customer with the same phone.
    let m = store
        .find_or_create_customer(
            bt,
            CustomerInput {
                name: Some("Maria".into()),
                phone: Some(phone("+19145552177")),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m.resolution, CustomerResolution::Created);
    assert_ne!(m.customer.id, customer.id);
    // The same CallSid in another tenant is another call; webhook keys are per tenant.
    let (bcall, created) = store.record_call(bt, new_call("ISO1")).await.unwrap();
    assert!(created && bcall.id != call.id);
    assert!(store.first_delivery(a.id, "k").await.unwrap());
    assert!(store.first_delivery(bt, "k").await.unwrap());
    // A's data is unchanged.
    assert_eq!(store.get_job(a.id, job.id).await.unwrap(), job);
}

/// Idempotent usage metering (`record_usage`), `list_usage`, their validation and tenant isolation.
pub async fn check_usage(store: &dyn JobStore) {
    let t = new_tenant(store, "Metered").await;
    let other = new_tenant(store, "Metered too").await;
    store.add_usage(t.id, "calls", "2026-03", 2).await.unwrap();
    assert!(
        store
            .record_usage(
                t.id,
                "call:1:audio",
                "2026-03",
                &[("audio_seconds", 90), ("calls", 1), ("audio_seconds", 10)],
            )
            .await
            .unwrap(),
        "a new key counts"
    );
    assert_eq!(store.usage(t.id, "audio_seconds", "2026-03").await.unwrap(), 100);
    assert_eq!(
        store.usage(t.id, "calls", "2026-03").await.unwrap(),
        3,
        "the same counter as add_usage"
    );
    // A repeat (a restarted worker) changes nothing, whatever it carries this time.
    assert!(
        !store
            .record_usage(
                t.id,
                "call:1:audio",
                "2026-04",
                &[("audio_seconds", 90), ("llm_tokens", 5)]
            )
            .await
            .unwrap()
    );
    assert_eq!(store.usage(t.id, "audio_seconds", "2026-03").await.unwrap(), 100);
    assert_eq!(store.usage(t.id, "llm_tokens", "2026-04").await.unwrap(), 0);
    assert_eq!(store.list_usage(t.id, "2026-04").await.unwrap(), vec![]);
    // A key with no amounts is still recorded once; a zero amount creates the counter.
    assert!(
        store
            .record_usage(t.id, "call:2:none", "2026-03", &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_usage(t.id, "call:2:none", "2026-03", &[("calls", 1)])
            .await
            .unwrap()
    );
    assert!(
        store
            .record_usage(t.id, "call:3:llm", "2026-03", &[("llm_tokens", 0)])
            .await
            .unwrap()
    );
    let totals = |pairs: &[(&str, i64)]| -> Vec<UsageTotal> {
        pairs
            .iter()
            .map(|(metric, total)| UsageTotal {
                metric: (*metric).to_owned(),
                total: *total,
            })
            .collect()
    };
    assert_eq!(
        store.list_usage(t.id, "2026-03").await.unwrap(),
        totals(&[("audio_seconds", 100), ("calls", 3), ("llm_tokens", 0)]),
        "sorted by metric"
    );

    // Another tenant: the same key is its own, and neither tenant sees the other's counters.
    assert!(
        store
            .record_usage(other.id, "call:1:audio", "2026-03", &[("calls", 7)])
            .await
            .unwrap()
    );
    assert_eq!(
        store.list_usage(other.id, "2026-03").await.unwrap(),
        totals(&[("calls", 7)])
    );
    assert_eq!(
        store.list_usage(t.id, "2026-03").await.unwrap(),
        totals(&[("audio_seconds", 100), ("calls", 3), ("llm_tokens", 0)])
    );
    assert_eq!(
        store.list_usage(TenantId::new(), "2026-03").await.unwrap(),
        vec![]
    );

    // Validation lists every bad field and writes nothing.
    let long = "k".repeat(201);
    let max = "k".repeat(200);
    let err = store
        .record_usage(t.id, &long, "", &[("", 1), ("calls", -1)])
        .await
        .unwrap_err();
    let mut fields: Vec<&str> = err.field_errors().iter().map(|f| f.field).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["amount", "key", "metric", "period"], "{err}");
    for (key, period, amounts) in [
        ("", "2026-03", vec![("calls", 1)]),
        ("k\0", "2026-03", vec![("calls", 1)]),
        ("call:9", "2026-03", vec![("calls", -1)]),
        ("call:9", "2026-03", vec![("calls", 1), ("", 1)]),
        ("call:9", "2026-03", vec![("c\0", 1)]),
        ("call:9", "20\0", vec![("calls", 1)]),
    ] {
        assert!(
            matches!(
                store.record_usage(t.id, key, period, &amounts).await,
                Err(Error::InvalidInput(_))
            ),
            "{key:?} {period:?} {amounts:?}"
        );
    }
    assert!(
        store
            .record_usage(t.id, &max, "2026-03", &[("calls", 1)])
            .await
            .unwrap(),
        "200 bytes is allowed"
    );
    assert!(
        store
            .record_usage(t.id, "call:9", "2026-03", &[("calls", 1)])
            .await
            .unwrap(),
        "the refused attempts did not record the key"
    );
    assert!(matches!(
        store
            .record_usage(TenantId::new(), "call:1", "2026-03", &[("calls", 1)])
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.usage(t.id, "calls", "2026-03").await.unwrap(), 5);
    assert_eq!(
        store.list_usage(other.id, "2026-03").await.unwrap(),
        totals(&[("calls", 7)])
    );
}

/// `tasks` concurrent `record_usage` calls with one key: exactly one `true`, the amounts counted once.
pub async fn check_concurrent_usage(store: Arc<dyn JobStore>, tasks: usize) {
    let t = new_tenant(store.as_ref(), "Metered concurrently").await;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .record_usage(
                    t.id,
                    "call:42:audio",
                    "2026-03",
                    &[("audio_seconds", 30), ("calls", 1)],
                )
                .await
                .unwrap()
        }));
    }
    let mut firsts = 0;
    for h in handles {
        firsts += usize::from(h.await.unwrap());
    }
    assert_eq!(firsts, 1, "exactly one caller metered the key");
    assert_eq!(
        store.list_usage(t.id, "2026-03").await.unwrap(),
        vec![
            UsageTotal {
                metric: "audio_seconds".into(),
                total: 30
            },
            UsageTotal {
                metric: "calls".into(),
                total: 1
            },
        ]
    );
}

/// `queue_stats` across tenants: counts per state and due calls before and after claims, expired leases,
/// retries and releases. Other checks sharing the store leave calls behind, so counts are compared as
/// differences and every instant is later than theirs.
pub async fn check_queue_stats(store: &dyn JobStore) {
    let t = new_tenant(store, "Queue depth").await;
    let lease = Duration::from_secs(60);
    let now = t0() + chrono::Duration::days(20_000);
    let before = store.queue_stats(now).await.unwrap();
    assert_eq!(before.counts.len(), CallState::ALL.len(), "every state is listed");

    let a = queued_call(store, t.id, "QS-A").await;
    let b = queued_call(store, t.id, "QS-B").await;
    let c = queued_call(store, t.id, "QS-C").await;
    // Its worker will hang: its lease expires while it is still `Processing`.
    let d = queued_call(store, t.id, "QS-D").await;
    store.record_call(t.id, new_call("QS-R")).await.unwrap();
    let w = store.record_call(t.id, new_call("QS-W")).await.unwrap().0;
    store
        .update_call_status(t.id, w.id, "completed", None)
        .await
        .unwrap();

    let added = store.queue_stats(now).await.unwrap();
    for state in CallState::ALL {
        let more = match state {
            CallState::Queued => 4,
            CallState::Received | CallState::AwaitingRecording => 1,
            _ => 0,
        };
        assert_eq!(added.count(*state), before.count(*state) + more, "{state}");
    }
    assert_eq!(added.due, before.due + 4);
    assert_eq!(
        added.oldest_due_since,
        Some(before.oldest_due_since.unwrap_or(a.created_at).min(a.created_at)),
        "a queued call is due since it was created"
    );

    // Claim everything due: nothing is due any more, and the claims agree with the count.
    let mut claimed = 0;
    loop {
        let batch = store
            .claim_calls("qs", now, lease, 50, MAX_ATTEMPTS)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        claimed += batch.len() as u64;
    }
    assert!(claimed >= 4, "{claimed}");
    let drained = store.queue_stats(now).await.unwrap();
    assert_eq!((drained.due, drained.oldest_due_since), (0, None));
    assert_eq!(drained.count(CallState::Queued), 0);
    // A call buried for too many expired leases moves from Processing to Dead; none appears or vanishes.
    let unfinished = |s: &QueueStats| {
        s.count(CallState::Queued) + s.count(CallState::Processing) + s.count(CallState::Dead)
    };
    assert_eq!(unfinished(&drained), unfinished(&added));
    assert!(drained.count(CallState::Processing) >= claimed.min(added.due));
    for id in [a.id, b.id, c.id, d.id] {
        assert_eq!(
            store.get_call(t.id, id).await.unwrap().processing.state,
            CallState::Processing
        );
    }
    let processing = drained.count(CallState::Processing);

    // A retry is due at its next attempt; a released call at once (since it was created); a finished one never.
    let lease_of = |id: CallId| async move { store.get_call(t.id, id).await.unwrap().lease().unwrap() };
    let retry_at = now + chrono::Duration::seconds(30);
    store
        .retry_call(t.id, b.id, &lease_of(b.id).await, now, "busy", retry_at)
        .await
        .unwrap();
    store
        .release_call(t.id, c.id, &lease_of(c.id).await, now)
        .await
        .unwrap();
    store
        .finish_call(t.id, a.id, &lease_of(a.id).await, now, CallState::Done)
        .await
        .unwrap();
    let s = store.queue_stats(now).await.unwrap();
    assert_eq!(s.count(CallState::Queued), 2);
    assert_eq!(s.count(CallState::Processing), processing - 3);
    assert_eq!(s.count(CallState::Done), drained.count(CallState::Done) + 1);
    assert_eq!(
        (s.due, s.oldest_due_since),
        (1, Some(c.created_at)),
        "only the released call"
    );
    let s = store.queue_stats(retry_at).await.unwrap();
    assert_eq!(
        (s.due, s.oldest_due_since),
        (2, Some(c.created_at)),
        "the retry is due at its next attempt"
    );
    // Leases taken at `now` expire at `now + 60 s`: then every processing call (at least `d`) is due again.
    let expired = now + chrono::Duration::seconds(60);
    let still = store
        .queue_stats(expired - chrono::Duration::microseconds(1))
        .await
        .unwrap();
    assert_eq!(still.due, 2, "leases run until lease_until");
    let s = store.queue_stats(expired).await.unwrap();
    assert!(s.count(CallState::Processing) >= 1);
    assert_eq!(s.due, 2 + s.count(CallState::Processing));
    assert_eq!(s.count(CallState::Processing), processing - 3);
    assert!(s.oldest_due_since.is_some_and(|o| o <= c.created_at));
    // Stats only read.
    assert_eq!(store.queue_stats(expired).await.unwrap(), s);

    // Leave nothing of this tenant due for the checks that follow.
    let later = expired + chrono::Duration::seconds(1);
    for call in store
        .claim_calls("qs", later, lease, 500, MAX_ATTEMPTS)
        .await
        .unwrap()
    {
        if call.tenant_id == t.id {
            store
                .finish_call(t.id, call.id, &call.lease().unwrap(), later, CallState::Done)
                .await
                .unwrap();
        }
    }
}

/// `stale_calls` across tenants: filters by state and time (exclusive), orders by `updated_at` then id, and
/// respects the limit.
pub async fn check_stale_calls(store: &dyn JobStore) {
    let t = new_tenant(store, "Stale").await;
    let other = new_tenant(store, "Stale too").await;
    let waiting = [CallState::Received, CallState::AwaitingRecording];
    // Sleeps keep the update times apart (the clock has microseconds; memory is faster than that).
    let tick = || tokio::time::sleep(Duration::from_millis(2));
    tick().await;
    let r1 = store.record_call(t.id, new_call("ST-R1")).await.unwrap().0;
    tick().await;
    let r2 = store.record_call(other.id, new_call("ST-R2")).await.unwrap().0;
    tick().await;
    let w = store.record_call(t.id, new_call("ST-W")).await.unwrap().0;
    tick().await;
    let w = store
        .update_call_status(t.id, w.id, "completed", None)
        .await
        .unwrap();
    let q = queued_call(store, t.id, "ST-Q").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let late = store.record_call(t.id, new_call("ST-LATE")).await.unwrap().0;
    assert!(late.updated_at > w.updated_at);
    let cutoff = late.updated_at;

    let all = store
        .stale_calls(&waiting, DateTime::UNIX_EPOCH, cutoff, 500)
        .await
        .unwrap();
    for pair in all.windows(2) {
        assert!(
            (pair[0].updated_at, pair[0].id) < (pair[1].updated_at, pair[1].id),
            "oldest updated first, then id"
        );
    }
    assert!(
        all.iter()
            .all(|c| waiting.contains(&c.processing.state) && c.updated_at < cutoff)
    );
    let ids: Vec<CallId> = all.iter().map(|c| c.id).collect();
    let pos = |id: CallId| ids.iter().position(|x| *x == id);
    let (p1, p2, pw) = (pos(r1.id), pos(r2.id), pos(w.id));
    assert!(
        p1.is_some() && p2.is_some() && pw.is_some(),
        "both tenants' waiting calls"
    );
    assert!(p1 < p2 && p2 < pw, "in update order");
    assert_eq!(pos(q.id), None, "a queued call is not waiting");
    assert_eq!(pos(late.id), None, "updated_before is exclusive");
    assert_eq!(all.iter().find(|c| c.id == w.id), Some(&w));

    // One state only, and a time bound just after one call.
    let received = store
        .stale_calls(&[CallState::Received], DateTime::UNIX_EPOCH, cutoff, 500)
        .await
        .unwrap();
    assert!(received.iter().any(|c| c.id == r1.id) && received.iter().all(|c| c.id != w.id));
    let just_after = store
        .stale_calls(
            &waiting,
            DateTime::UNIX_EPOCH,
            r1.updated_at + chrono::Duration::microseconds(1),
            500,
        )
        .await
        .unwrap();
    assert_eq!(just_after.last().map(|c| c.id), Some(r1.id));
    assert!(
        store
            .stale_calls(&waiting, DateTime::UNIX_EPOCH, r1.updated_at, 500)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != r1.id)
    );

    // The lower bound is inclusive: from r2 on, r1 is out and r2 is in.
    let since_r2 = store
        .stale_calls(&waiting, r2.updated_at, cutoff, 500)
        .await
        .unwrap();
    assert!(
        since_r2
            .iter()
            .all(|c| c.id != r1.id && c.updated_at >= r2.updated_at)
    );
    assert_eq!(since_r2.first().map(|c| c.id), Some(r2.id));

    // Limits take a prefix; 0 means the default page of 50, as everywhere.
    for limit in [1u32, 2] {
        assert_eq!(
            store
                .stale_calls(&waiting, DateTime::UNIX_EPOCH, cutoff, limit)
                .await
                .unwrap(),
            all[..all.len().min(limit as usize)]
        );
    }
    assert_eq!(
        store
            .stale_calls(&waiting, DateTime::UNIX_EPOCH, cutoff, 0)
            .await
            .unwrap(),
        all[..all.len().min(50)]
    );
    assert_eq!(
        store
            .stale_calls(&[], DateTime::UNIX_EPOCH, cutoff, 500)
            .await
            .unwrap(),
        vec![]
    );
    // The queued call shows up when asked for, and a later callback makes a waiting call fresh again.
    assert!(
        store
            .stale_calls(
                &[CallState::Queued],
                DateTime::UNIX_EPOCH,
                late.updated_at + chrono::Duration::seconds(1),
                500
            )
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == q.id)
    );
    store
        .update_call_status(t.id, r1.id, "in-progress", None)
        .await
        .unwrap();
    assert!(
        store
            .stale_calls(&waiting, DateTime::UNIX_EPOCH, cutoff, 500)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != r1.id)
    );
}

// ------------------------------------------------------------------------------------------------ issue 8

/// A random 32-byte token hash.
pub fn token_hash() -> Vec<u8> {
    let mut h = uuid::Uuid::new_v4().as_bytes().to_vec();
    h.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    h
}

/// A North American number no other check uses (seven random digits).
pub fn unique_phone() -> PhoneNumber {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000;
    phone(&format!("+1646{n:07}"))
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn new_session(user: UserId, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        user_id: user,
        token_hash: token_hash(),
        expires_at,
        user_agent: Some("Mozilla/5.0 (test)".into()),
    }
}

fn new_token(name: &str, user: Option<UserId>) -> NewApiToken {
    NewApiToken {
        name: name.into(),
        user_id: user,
        role: Role::Admin,
        prefix: "cb_test1".into(),
        token_hash: token_hash(),
    }
}

fn unique_login(stem: &str) -> String {
    format!("{stem}-{}@example.test", uuid::Uuid::new_v4().simple())
}

/// Sessions: validation, expiry, touch slides, delete, purge of expired ones, password change.
pub async fn check_sessions(store: &dyn JobStore) {
    let t = new_tenant(store, "Sessions").await;
    let other = new_tenant(store, "Sessions other").await;
    let user = store
        .create_user(
            t.id,
            &unique_login("sam"),
            Role::Owner,
            Some("$argon2id$old".into()),
        )
        .await
        .unwrap();
    let stranger = store
        .create_user(other.id, &unique_login("eve"), Role::Owner, None)
        .await
        .unwrap();

    // Purge (global) first, while no other check has sessions: exactly the expired one goes.
    let base = now();
    let early = store
        .create_session(t.id, new_session(user.id, base + days(1000)))
        .await
        .unwrap();
    let late = store
        .create_session(t.id, new_session(user.id, base + days(1002)))
        .await
        .unwrap();
    assert_eq!(store.purge_expired_sessions(base + days(1001)).await.unwrap(), 1);
    assert_eq!(store.purge_expired_sessions(base + days(1001)).await.unwrap(), 0);
    assert_eq!(
        store.delete_user_sessions(t.id, user.id).await.unwrap(),
        1,
        "{late:?} {early:?}"
    );

    // Validation: hash length, expiry in the future, user of the tenant, tenant.
    let mut bad = new_session(user.id, base - days(1));
    bad.token_hash = vec![1; 31];
    let err = store.create_session(t.id, bad).await.unwrap_err();
    let fields: Vec<&str> = err.field_errors().iter().map(|e| e.field).collect();
    assert_eq!(fields, ["token_hash", "expires_at"], "{err}");
    assert!(matches!(
        store
            .create_session(t.id, new_session(stranger.id, base + days(1)))
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store
            .create_session(TenantId::new(), new_session(user.id, base + days(1)))
            .await,
        Err(Error::NotFound { .. })
    ));

    // Found until (not at) its expiry, from any tenant's point of view: the hash is the credential.
    let input = new_session(user.id, base + days(1));
    let hash = input.token_hash.clone();
    let s = store.create_session(t.id, input).await.unwrap();
    assert_eq!(s.tenant_id, t.id);
    assert_eq!(s.user_id, user.id);
    assert_eq!(s.expires_at, to_micros(base + days(1)));
    assert_eq!(s.last_seen_at, s.created_at);
    assert_eq!(s.user_agent.as_deref(), Some("Mozilla/5.0 (test)"));
    assert_eq!(store.find_session(&hash, base).await.unwrap(), Some(s.clone()));
    let just_before = s.expires_at - chrono::Duration::microseconds(1);
    assert!(store.find_session(&hash, just_before).await.unwrap().is_some());
    assert_eq!(store.find_session(&hash, s.expires_at).await.unwrap(), None);
    assert_eq!(store.find_session(&token_hash(), base).await.unwrap(), None);
    let mut dup = new_session(user.id, base + days(1));
    dup.token_hash = hash.clone();
    assert!(matches!(
        store.create_session(t.id, dup).await,
        Err(Error::AlreadyExists { .. })
    ));

    // Touch slides the expiry.
    let seen = base + chrono::Duration::hours(20);
    store.touch_session(s.id, seen, base + days(2)).await.unwrap();
    let touched = store
        .find_session(&hash, base + chrono::Duration::hours(30))
        .await
        .unwrap()
        .expect("the touched session lives on");
    assert_eq!(touched.last_seen_at, to_micros(seen));
    assert_eq!(touched.expires_at, to_micros(base + days(2)));
    assert!(matches!(
        store.touch_session(SessionId::new(), seen, base).await,
        Err(Error::NotFound { .. })
    ));

    // Logout.
    assert!(store.delete_session(&hash).await.unwrap());
    assert!(!store.delete_session(&hash).await.unwrap());
    assert_eq!(store.find_session(&hash, base).await.unwrap(), None);

    // A password change drops the user's sessions, not its API tokens nor other users' sessions.
    let a = new_session(user.id, base + days(1));
    let a_hash = a.token_hash.clone();
    store.create_session(t.id, a).await.unwrap();
    let b = new_session(stranger.id, base + days(1));
    let b_hash = b.token_hash.clone();
    store.create_session(other.id, b).await.unwrap();
    let token = new_token("CI", Some(user.id));
    let token_hash_ = token.token_hash.clone();
    store.create_api_token(t.id, token).await.unwrap();
    let changed = store
        .set_user_password(t.id, user.id, "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(store.get_user(t.id, user.id).await.unwrap(), changed);
    assert_eq!(store.find_session(&a_hash, base).await.unwrap(), None);
    assert!(store.find_session(&b_hash, base).await.unwrap().is_some());
    assert!(store.find_api_token(&token_hash_).await.unwrap().is_some());
    assert!(matches!(
        store.set_user_password(t.id, user.id, " ").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        store.set_user_password(other.id, user.id, "$argon2id$x").await,
        Err(Error::NotFound { .. })
    ));

    // delete_user_sessions counts and stays in its tenant.
    for _ in 0..2 {
        store
            .create_session(t.id, new_session(user.id, base + days(1)))
            .await
            .unwrap();
    }
    assert_eq!(store.delete_user_sessions(other.id, user.id).await.unwrap(), 0);
    assert_eq!(store.delete_user_sessions(t.id, user.id).await.unwrap(), 2);
    assert_eq!(
        store.delete_user_sessions(other.id, stranger.id).await.unwrap(),
        1
    );

    // Debug never shows the hash.
    let shown = format!("{:?}", new_session(user.id, base));
    assert!(shown.contains("token_hash: \"<redacted>\""), "{shown}");
}

/// API tokens: hash look-up, revocation, listing, validation, tenant isolation.
pub async fn check_api_tokens(store: &dyn JobStore) {
    let t = new_tenant(store, "Tokens").await;
    let other = new_tenant(store, "Tokens other").await;
    let user = store
        .create_user(t.id, &unique_login("tok"), Role::Owner, None)
        .await
        .unwrap();
    let stranger = store
        .create_user(other.id, &unique_login("tok"), Role::Owner, None)
        .await
        .unwrap();

    let first_in = new_token("  Zapier  ", Some(user.id));
    let first_hash = first_in.token_hash.clone();
    let first = store.create_api_token(t.id, first_in).await.unwrap();
    assert_eq!(first.name, "Zapier");
    assert_eq!(first.tenant_id, t.id);
    assert_eq!(first.user_id, Some(user.id));
    assert_eq!(first.role, Role::Admin);
    assert_eq!(first.prefix, "cb_test1");
    assert_eq!((first.last_used_at, first.revoked_at), (None, None));
    let second_in = new_token("Backups", None);
    let second_hash = second_in.token_hash.clone();
    let second = store.create_api_token(t.id, second_in).await.unwrap();
    let theirs = store
        .create_api_token(other.id, new_token("Theirs", Some(stranger.id)))
        .await
        .unwrap();

    assert_eq!(
        store.find_api_token(&first_hash).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.find_api_token(&token_hash()).await.unwrap(), None);
    assert_eq!(
        store.list_api_tokens(t.id).await.unwrap(),
        vec![second.clone(), first.clone()],
        "newest first"
    );
    assert_eq!(
        store.list_api_tokens(other.id).await.unwrap(),
        vec![theirs.clone()]
    );

    // Validation lists every bad field; another tenant's user is NotFound; a reused hash AlreadyExists.
    let bad = NewApiToken {
        name: " ".into(),
        user_id: None,
        role: Role::Staff,
        prefix: "x".repeat(17),
        token_hash: vec![0; 16],
    };
    let err = store.create_api_token(t.id, bad).await.unwrap_err();
    let mut fields: Vec<&str> = err.field_errors().iter().map(|e| e.field).collect();
    fields.sort();
    assert_eq!(fields, ["name", "prefix", "token_hash"], "{err}");
    assert!(matches!(
        store
            .create_api_token(t.id, new_token(&"n".repeat(101), None))
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert!(
        store
            .create_api_token(t.id, new_token(&"n".repeat(100), None))
            .await
            .is_ok()
    );
    assert!(matches!(
        store
            .create_api_token(t.id, new_token("x", Some(stranger.id)))
            .await,
        Err(Error::NotFound { .. })
    ));
    let mut dup = new_token("dup", None);
    dup.token_hash = second_hash.clone();
    assert!(matches!(
        store.create_api_token(other.id, dup).await,
        Err(Error::AlreadyExists { .. })
    ));

    // Touch records the use.
    let used = t0();
    store.touch_api_token(first.id, used).await.unwrap();
    assert_eq!(
        store
            .find_api_token(&first_hash)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(used)
    );
    assert!(matches!(
        store.touch_api_token(ApiTokenId::new(), used).await,
        Err(Error::NotFound { .. })
    ));

    // Revocation: not found any more, listed with its time, idempotent, tenant-scoped.
    assert!(matches!(
        store.revoke_api_token(other.id, first.id).await,
        Err(Error::NotFound { .. })
    ));
    let revoked = store.revoke_api_token(t.id, first.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert_eq!(store.find_api_token(&first_hash).await.unwrap(), None);
    let again = store.revoke_api_token(t.id, first.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(at), "the first revocation time stays");
    let listed = store.list_api_tokens(t.id).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.last().unwrap(), &revoked);
    assert!(store.find_api_token(&second_hash).await.unwrap().is_some());

    let shown = format!("{:?}", new_token("x", None));
    assert!(shown.contains("token_hash: \"<redacted>\""), "{shown}");
}

/// Users: cross-tenant login look-up, roles, the last owner, deletion.
pub async fn check_user_admin(store: &dyn JobStore) {
    let a = new_tenant(store, "Users A").await;
    let b = new_tenant(store, "Users B").await;
    let login = unique_login("Casey");
    let in_a = store.create_user(a.id, &login, Role::Owner, None).await.unwrap();
    let in_b = store
        .create_user(b.id, &login.to_lowercase(), Role::Staff, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_users_by_login(&format!("  {}  ", login.to_uppercase()))
            .await
            .unwrap(),
        vec![in_a.clone(), in_b.clone()],
        "any tenant, case-insensitive, oldest first"
    );
    assert!(
        store
            .find_users_by_login("nobody@example.test")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_user(a.id, in_a.id).await.unwrap(), in_a);
    assert!(matches!(
        store.get_user(a.id, in_b.id).await,
        Err(Error::NotFound { .. })
    ));

    // The last owner can be neither demoted nor deleted.
    let staff = store
        .create_user(a.id, &unique_login("staff"), Role::Staff, None)
        .await
        .unwrap();
    assert!(matches!(
        store.set_user_role(a.id, in_a.id, Role::Admin).await,
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(
        store.delete_user(a.id, in_a.id).await,
        Err(Error::InvalidState(_))
    ));
    assert_eq!(store.get_user(a.id, in_a.id).await.unwrap().role, Role::Owner);
    assert!(matches!(
        store.set_user_role(b.id, staff.id, Role::Owner).await,
        Err(Error::NotFound { .. })
    ));
    let promoted = store.set_user_role(a.id, staff.id, Role::Owner).await.unwrap();
    assert_eq!(promoted.role, Role::Owner);
    let demoted = store.set_user_role(a.id, in_a.id, Role::Staff).await.unwrap();
    assert_eq!(demoted.role, Role::Staff);
    assert!(matches!(
        store.set_user_role(a.id, staff.id, Role::Staff).await,
        Err(Error::InvalidState(_))
    ));
    // Setting an owner to owner again is fine.
    assert_eq!(
        store
            .set_user_role(a.id, staff.id, Role::Owner)
            .await
            .unwrap()
            .role,
        Role::Owner
    );

    // Deleting a user takes its sessions, API tokens and notifications; other users keep theirs.
    let session = new_session(in_a.id, now() + days(1));
    let session_hash = session.token_hash.clone();
    store.create_session(a.id, session).await.unwrap();
    let token = new_token("mine", Some(in_a.id));
    let token_hash_ = token.token_hash.clone();
    store.create_api_token(a.id, token).await.unwrap();
    let kept_token = new_token("staff's", Some(staff.id));
    let kept_hash = kept_token.token_hash.clone();
    store.create_api_token(a.id, kept_token).await.unwrap();
    store
        .notify(a.id, Some(in_a.id), "job.created", json!({}))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_user(b.id, in_a.id).await,
        Err(Error::NotFound { .. })
    ));
    store.delete_user(a.id, in_a.id).await.unwrap();
    assert!(matches!(
        store.get_user(a.id, in_a.id).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.find_session(&session_hash, now()).await.unwrap(), None);
    assert_eq!(store.find_api_token(&token_hash_).await.unwrap(), None);
    assert!(store.find_api_token(&kept_hash).await.unwrap().is_some());
    assert_eq!(store.list_api_tokens(a.id).await.unwrap().len(), 1);
    assert!(
        store
            .list_notifications(a.id, Some(in_a.id), false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.find_users_by_login(&login).await.unwrap(), vec![in_b]);
    assert!(matches!(
        store.delete_user(a.id, in_a.id).await,
        Err(Error::NotFound { .. })
    ));
}

/// Tenant profile updates and the admin's tenant list.
pub async fn check_tenant_admin(store: &dyn JobStore) {
    let t = store
        .create_tenant(NewTenant {
            settings: json!({"keep": true}),
            ..NewTenant::new("Profile", TimeZone::UTC)
        })
        .await
        .unwrap();
    let hours = vec![OpeningHours {
        weekday: 1,
        open: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        close: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
    }];
    let profile = TenantProfile {
        name: "  Profile Plumbing  ".into(),
        timezone: TimeZone::parse("Europe/Berlin").unwrap(),
        business_hours: hours.clone(),
    };
    let updated = store.update_tenant_profile(t.id, profile.clone()).await.unwrap();
    assert_eq!(updated.name, "Profile Plumbing");
    assert_eq!(updated.timezone.name(), "Europe/Berlin");
    assert_eq!(updated.business_hours, hours);
    assert_eq!(updated.settings, json!({"keep": true}));
    assert_eq!(updated.created_at, t.created_at);
    assert_eq!(store.get_tenant(t.id).await.unwrap(), updated);
    let bad = TenantProfile {
        name: " ".into(),
        business_hours: vec![OpeningHours {
            weekday: 8,
            open: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            close: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        }],
        ..profile.clone()
    };
    let err = store.update_tenant_profile(t.id, bad).await.unwrap_err();
    assert_eq!(err.field_errors().len(), 3, "{err}");
    assert_eq!(store.get_tenant(t.id).await.unwrap(), updated, "nothing written");
    assert!(matches!(
        store.update_tenant_profile(TenantId::new(), profile).await,
        Err(Error::NotFound { .. })
    ));

    // Every tenant, oldest first, in stable pages.
    let mine = [
        new_tenant(store, "List 1").await.id,
        new_tenant(store, "List 2").await.id,
        new_tenant(store, "List 3").await.id,
    ];
    let mut all = Vec::new();
    let mut page = Page { offset: 0, limit: 2 };
    loop {
        let got = store.list_tenants(page).await.unwrap();
        assert!(got.len() <= 2);
        let done = got.len() < 2;
        all.extend(got);
        if done {
            break;
        }
        page.offset += 2;
    }
    let keys: Vec<_> = all.iter().map(|t| (t.created_at, t.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "oldest first, no repeats");
    let found: Vec<TenantId> = all.iter().map(|t| t.id).filter(|id| mine.contains(id)).collect();
    assert_eq!(found, mine);
    assert!(all.iter().any(|x| x.id == t.id));
}

/// Phone lines: partial updates, removal (routing stops, calls keep their history).
pub async fn check_phone_line_changes(store: &dyn JobStore) {
    let t = new_tenant(store, "Lines").await;
    let other = new_tenant(store, "Lines other").await;
    let number = unique_phone();
    let line = store
        .add_phone_line(
            t.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: number.clone(),
                provider_account_id: "AC1".into(),
                provider_number_id: Some("PN1".into()),
                credentials: Some(vec![1, 2, 3]),
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    let mode_only = store
        .update_phone_line(
            t.id,
            line.id,
            PhoneLineUpdate {
                webhook_mode: Some(WebhookMode::DialRecord),
                ..PhoneLineUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mode_only.webhook_mode, WebhookMode::DialRecord);
    assert_eq!(mode_only.provider_number_id.as_deref(), Some("PN1"));
    assert_eq!(mode_only.credentials, Some(vec![1, 2, 3]));
    let changed = store
        .update_phone_line(
            t.id,
            line.id,
            PhoneLineUpdate {
                webhook_mode: None,
                provider_number_id: Some(None),
                credentials: Some(Some(vec![9; 40])),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.webhook_mode, WebhookMode::DialRecord);
    assert_eq!(changed.provider_number_id, None);
    assert_eq!(changed.credentials, Some(vec![9; 40]));
    assert_eq!(
        (changed.id, &changed.number, changed.created_at),
        (line.id, &line.number, line.created_at)
    );
    assert_eq!(store.list_phone_lines(t.id).await.unwrap(), vec![changed.clone()]);
    let cleared = store
        .update_phone_line(
            t.id,
            line.id,
            PhoneLineUpdate {
                credentials: Some(None),
                ..PhoneLineUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.credentials, None);
    assert!(matches!(
        store
            .update_phone_line(other.id, line.id, PhoneLineUpdate::default())
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store
            .update_phone_line(
                t.id,
                line.id,
                PhoneLineUpdate {
                    provider_number_id: Some(Some("PN\0".into())),
                    ..PhoneLineUpdate::default()
                }
            )
            .await,
        Err(Error::InvalidInput(_))
    ));
    let shown = format!(
        "{:?}",
        PhoneLineUpdate {
            credentials: Some(Some(vec![42; 3])),
            ..PhoneLineUpdate::default()
        }
    );
    assert!(!shown.contains("42"), "{shown}");

    let mut call = new_call(&format!("LINE{}", rand_digits()));
    call.phone_line_id = Some(line.id);
    let (call, _) = store.record_call(t.id, call).await.unwrap();
    assert!(matches!(
        store.remove_phone_line(other.id, line.id).await,
        Err(Error::NotFound { .. })
    ));
    let removed = store.remove_phone_line(t.id, line.id).await.unwrap();
    assert_eq!(removed, cleared);
    assert_eq!(store.route_phone_line("twilio", &number).await.unwrap(), None);
    assert!(store.list_phone_lines(t.id).await.unwrap().is_empty());
    let kept = store.get_call(t.id, call.id).await.unwrap();
    assert_eq!(kept.phone_line_id, None);
    assert_eq!(kept.provider_call_id, call.provider_call_id);
    assert!(matches!(
        store.remove_phone_line(t.id, line.id).await,
        Err(Error::NotFound { .. })
    ));
    // The number is free again (e.g. bought by another tenant).
    let again = store
        .add_phone_line(
            other.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: number.clone(),
                provider_account_id: "AC2".into(),
                provider_number_id: None,
                credentials: None,
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.route_phone_line("twilio", &number).await.unwrap(),
        Some(again)
    );
}

/// A tenant with a row in every table, around one data subject (for the erasure checks and the database
/// scans of the SQL backends' tests).
#[derive(Debug, Clone)]
pub struct Population {
    /// The tenant.
    pub tenant: Tenant,
    /// Its owner (login in `owner.login`).
    pub owner: User,
    /// A staff user with a session and an API token.
    pub staff: User,
    /// The staff user's session token hash.
    pub session_hash: Vec<u8>,
    /// The tenant's API token hash.
    pub api_token_hash: Vec<u8>,
    /// The tenant's phone line.
    pub line: PhoneLine,
    /// The data subject.
    pub subject: Customer,
    /// A customer merged into the subject (with another phone and name).
    pub merged: Customer,
    /// Another customer at the subject's address (has an open merge suggestion against the subject); stays.
    pub housemate: Customer,
    /// An unrelated customer; stays.
    pub other: Customer,
    /// The subject's calls: linked to the subject, linked to the merged customer, unlinked from the subject's
    /// phone (in this order).
    pub subject_calls: Vec<CallId>,
    /// The other customer's call; stays.
    pub other_call: CallId,
    /// The subject's jobs: booked from its first call, and the merged customer's.
    pub subject_jobs: Vec<JobId>,
    /// The other customer's job (booked from its call); stays.
    pub other_job: JobId,
}

impl Population {
    /// Texts that identify the subject (names and phones), for scans after erasure.
    pub fn subject_texts(&self) -> Vec<String> {
        let mut out = vec![self.subject.name.clone(), self.merged.name.clone()];
        out.extend(self.subject.phones.iter().map(|p| p.as_str().to_owned()));
        out.extend(self.merged.phones.iter().map(|p| p.as_str().to_owned()));
        out
    }

    /// Every id the erasure of the subject removes.
    pub fn subject_ids(&self) -> Vec<uuid::Uuid> {
        let mut out = vec![self.subject.id.as_uuid(), self.merged.id.as_uuid()];
        out.extend(self.subject_calls.iter().map(|c| c.as_uuid()));
        out.extend(self.subject_jobs.iter().map(|j| j.as_uuid()));
        out
    }
}

/// Builds a [`Population`].
pub async fn populate(store: &dyn JobStore, label: &str) -> Population {
    let tenant = new_tenant(store, label).await;
    let t = tenant.id;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let owner = store
        .create_user(t, &unique_login("owner"), Role::Owner, Some("$argon2id$o".into()))
        .await
        .unwrap();
    let staff = store
        .create_user(t, &unique_login("staff"), Role::Staff, Some("$argon2id$s".into()))
        .await
        .unwrap();
    let session = new_session(staff.id, now() + days(30));
    let session_hash = session.token_hash.clone();
    store.create_session(t, session).await.unwrap();
    let token = new_token("Zapier", Some(owner.id));
    let api_token_hash = token.token_hash.clone();
    store.create_api_token(t, token).await.unwrap();
    let line = store
        .add_phone_line(
            t,
            NewPhoneLine {
                provider: "twilio".into(),
                number: unique_phone(),
                provider_account_id: "AC1".into(),
                provider_number_id: Some("PN1".into()),
                credentials: Some(vec![7; 32]),
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    let subject_phone = unique_phone();
    let merged_phone = unique_phone();
    let other_phone = unique_phone();
    let subject_name = format!("Zephyrine Quillfeather {tag}");
    let address = addr(&format!("17 Larkspur Lane {tag}"), "10701");
    let call = |sid: &str, from: &PhoneNumber| NewCall {
        provider: "twilio".into(),
        provider_call_id: format!("{sid}-{tag}"),
        phone_line_id: Some(line.id),
        from: Some(from.clone()),
        to: Some(line.number.clone()),
        started_at: t0(),
        provider_status: "completed".into(),
    };

    // Call 1: the subject calls; the pipeline stores everything and books a job.
    let (c1, _) = store.record_call(t, call("CA1", &subject_phone)).await.unwrap();
    store
        .set_recording(
            t,
            c1.id,
            RecordingRef {
                provider_recording_id: format!("RE1-{tag}"),
                duration_seconds: Some(42),
                storage_key: Some(format!("{t}/{}.enc", c1.id)),
            },
        )
        .await
        .unwrap();
    store
        .put_transcript(
            t,
            StoredTranscript {
                call_id: c1.id,
                tenant_id: t,
                document: json!({"text": format!("Hi, this is {subject_name}, call me on {subject_phone}")}),
                language: Some("en".into()),
                confidence: Some(0.9),
                provider: "whisper".into(),
                model: None,
                created_at: now(),
            },
        )
        .await
        .unwrap();
    store
        .put_extraction(
            t,
            StoredExtraction {
                call_id: c1.id,
                tenant_id: t,
                document: json!({"appointments": [{"customer": {"name": subject_name}}]}),
                call_kind: "live".into(),
                appointment_count: 1,
                confidence: Some(0.8),
                extractor: "rules".into(),
                model: None,
                created_at: now(),
            },
        )
        .await
        .unwrap();
    let subject = store
        .find_or_create_customer(
            t,
            CustomerInput {
                name: Some(subject_name.clone()),
                phone: Some(subject_phone.clone()),
                address: address.clone(),
                source_call: Some(c1.id),
            },
        )
        .await
        .unwrap()
        .customer;
    let mut job = NewJob::titled(format!("Sink for {subject_name}"));
    job.customer_id = Some(subject.id);
    job.source = Some(JobSource {
        call_id: c1.id,
        appointment_index: 0,
    });
    job.notes = Some(format!("call {subject_phone}"));
    let j1 = store.create_job(t, job, Actor::pipeline()).await.unwrap();
    store
        .add_note(
            t,
            j1.id,
            Actor::User(staff.id),
            &format!("{subject_name} prefers mornings"),
        )
        .await
        .unwrap();
    store
        .add_photo(
            t,
            j1.id,
            Actor::User(staff.id),
            NewPhoto {
                blob_key: format!("photos/{}.jpg", j1.id),
                content_type: "image/jpeg".into(),
                size_bytes: 1000,
                caption: Some(format!("{subject_name}'s sink")),
            },
        )
        .await
        .unwrap();
    let j1 = store
        .move_job(
            t,
            j1.id,
            j1.version,
            Stage::QuoteSent,
            None,
            Actor::User(staff.id),
        )
        .await
        .unwrap();
    store
        .add_correction(
            t,
            NewCorrection {
                call_id: c1.id,
                job_id: Some(j1.id),
                field: "customer.name".into(),
                before: json!("Zefirine"),
                after: json!(subject_name),
                user_id: Some(staff.id),
            },
        )
        .await
        .unwrap();

    // The merged customer and its call and job.
    let merged = store
        .create_customer(
            t,
            CustomerInput {
                name: Some(format!("Zeph Q. {tag}")),
                phone: Some(merged_phone.clone()),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    let (c2, _) = store.record_call(t, call("CA2", &merged_phone)).await.unwrap();
    store.link_call_customer(t, c2.id, merged.id).await.unwrap();
    let mut job = NewJob::titled("Boiler service");
    job.customer_id = Some(merged.id);
    let j2 = store.create_job(t, job, Actor::pipeline()).await.unwrap();
    store
        .merge_customers(t, subject.id, merged.id, Actor::User(owner.id))
        .await
        .unwrap();
    let merged = store.get_customer(t, merged.id).await.unwrap();

    // An unlinked call from the subject's number (e.g. a hang-up).
    let (c3, _) = store.record_call(t, call("CA3", &subject_phone)).await.unwrap();

    // A housemate at the same address with another name: an open suggestion against the subject.
    let housemate = store
        .find_or_create_customer(
            t,
            CustomerInput {
                name: Some(format!("Bartholomew Oakes {tag}")),
                phone: Some(unique_phone()),
                address: address.clone(),
                source_call: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(housemate.suggestions.len(), 1, "{housemate:?}");
    let housemate = housemate.customer;

    // Someone else entirely.
    let (c4, _) = store.record_call(t, call("CA4", &other_phone)).await.unwrap();
    let other = store
        .find_or_create_customer(
            t,
            CustomerInput {
                name: Some(format!("Other Person {tag}")),
                phone: Some(other_phone.clone()),
                address: Address::default(),
                source_call: Some(c4.id),
            },
        )
        .await
        .unwrap()
        .customer;
    let mut job = NewJob::titled("Other's roof");
    job.customer_id = Some(other.id);
    job.source = Some(JobSource {
        call_id: c4.id,
        appointment_index: 0,
    });
    let j3 = store.create_job(t, job, Actor::pipeline()).await.unwrap();

    // Activity: notifications naming the subject's and the other's records, audit, usage, delivery keys.
    store
        .notify(
            t,
            None,
            "job.created",
            json!({"kind": "job.created", "job_id": j1.id, "call_id": c1.id, "data": {"title": "Sink"}}),
        )
        .await
        .unwrap();
    store
        .notify(t, None, "call.missed", json!({"call_id": c3.id}))
        .await
        .unwrap();
    store
        .notify(t, Some(staff.id), "job.created", json!({"job_id": j3.id}))
        .await
        .unwrap();
    store
        .append_audit(AuditEntry {
            tenant_id: t,
            actor: Actor::User(owner.id),
            action: "job.moved".into(),
            entity: "job".into(),
            entity_id: j3.id.to_string(),
            details: json!({"to": "quote_sent"}),
            at: t0(),
        })
        .await
        .unwrap();
    assert!(
        store
            .record_usage(
                t,
                &format!("call:{}:audio", c4.id),
                "2026-03",
                &[("calls", 1), ("audio_seconds", 30)]
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .first_delivery(t, &format!("CA4-{tag}:completed"))
            .await
            .unwrap()
    );

    Population {
        tenant,
        owner,
        staff,
        session_hash,
        api_token_hash,
        line,
        subject: store.get_customer(t, subject.id).await.unwrap(),
        merged,
        housemate,
        other,
        subject_calls: vec![c1.id, c2.id, c3.id],
        other_call: c4.id,
        subject_jobs: vec![j1.id, j2.id],
        other_job: j3.id,
    }
}

fn report(rows: &[(&str, u64)]) -> ErasureReport {
    ErasureReport {
        rows: rows.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
    }
}

/// What `customer_footprint` finds: merged customers, unlinked calls from their numbers, jobs of both.
pub async fn check_customer_footprint(store: &dyn JobStore) {
    let p = populate(store, "Footprint").await;
    let t = p.tenant.id;
    let fp = store.customer_footprint(t, p.subject.id).await.unwrap();
    assert_eq!(fp.customers, vec![p.subject.id, p.merged.id]);
    assert_eq!(fp.calls.iter().map(|c| c.id).collect::<Vec<_>>(), p.subject_calls);
    assert_eq!(fp.calls[0], store.get_call(t, p.subject_calls[0]).await.unwrap());
    assert_eq!(
        fp.calls[0].recording.as_ref().unwrap().storage_key.as_deref(),
        Some(format!("{t}/{}.enc", p.subject_calls[0]).as_str()),
        "calls carry their recording"
    );
    assert_eq!(fp.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), p.subject_jobs);
    assert_eq!(fp.jobs[0], store.get_job(t, p.subject_jobs[0]).await.unwrap());

    // The merged customer alone: only its own records.
    let fp = store.customer_footprint(t, p.merged.id).await.unwrap();
    assert_eq!(fp.customers, vec![p.merged.id]);
    assert_eq!(
        fp.calls.iter().map(|c| c.id).collect::<Vec<_>>(),
        [p.subject_calls[1]]
    );
    assert_eq!(
        fp.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [p.subject_jobs[1]]
    );

    let fp = store.customer_footprint(t, p.other.id).await.unwrap();
    assert_eq!(fp.customers, vec![p.other.id]);
    assert_eq!(fp.calls.iter().map(|c| c.id).collect::<Vec<_>>(), [p.other_call]);
    assert_eq!(fp.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [p.other_job]);

    let stranger = new_tenant(store, "Footprint other").await;
    for (tenant, id) in [(stranger.id, p.subject.id), (t, CustomerId::new())] {
        assert!(matches!(
            store.customer_footprint(tenant, id).await,
            Err(Error::NotFound { .. })
        ));
    }

    // list_customers: every customer (merged ones too), oldest first, paged.
    let all = store.list_customers(t, Page::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        [p.subject.id, p.merged.id, p.housemate.id, p.other.id]
    );
    assert_eq!(all[1], p.merged);
    let second = store
        .list_customers(t, Page { offset: 1, limit: 2 })
        .await
        .unwrap();
    assert_eq!(second, all[1..3].to_vec());
    assert!(
        store
            .list_customers(stranger.id, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// The rows erasing the [`Population`]'s subject deletes.
pub fn subject_erasure_report() -> ErasureReport {
    report(&[
        ("calls", 3),
        ("corrections", 1),
        ("customer_merges", 1),
        ("customers", 2),
        ("extractions", 1),
        ("job_notes", 1),
        ("job_photos", 1),
        ("jobs", 2),
        ("merge_suggestions", 1),
        ("notifications", 2),
        ("stage_history", 3),
        ("transcripts", 1),
    ])
}

/// `erase_customer`: every getter is NotFound/empty afterwards, other customers' rows untouched.
pub async fn check_erase_customer(store: &dyn JobStore) {
    let p = populate(store, "Erase customer").await;
    let t = p.tenant.id;
    let stranger = new_tenant(store, "Erase other").await;
    assert!(matches!(
        store.erase_customer(stranger.id, p.subject.id).await,
        Err(Error::NotFound { .. })
    ));
    let before_other = store.customer_history(t, p.other.id).await.unwrap();
    let other_notes = store
        .list_notifications(t, Some(p.staff.id), false)
        .await
        .unwrap();

    let erased = store.erase_customer(t, p.subject.id).await.unwrap();
    assert_eq!(erased, subject_erasure_report());
    assert_eq!(erased.total(), 19);

    for id in [p.subject.id, p.merged.id] {
        assert!(matches!(
            store.get_customer(t, id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            store.customer_history(t, id).await,
            Err(Error::NotFound { .. })
        ));
    }
    for &id in &p.subject_calls {
        assert!(matches!(store.get_call(t, id).await, Err(Error::NotFound { .. })));
        assert!(matches!(
            store.get_transcript(t, id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            store.list_corrections(t, id).await,
            Err(Error::NotFound { .. })
        ));
    }
    for &id in &p.subject_jobs {
        assert!(matches!(store.get_job(t, id).await, Err(Error::NotFound { .. })));
        assert!(matches!(
            store.list_notes(t, id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            store.stage_history(t, id).await,
            Err(Error::NotFound { .. })
        ));
    }
    assert!(
        store
            .search_customers(t, &p.subject.name, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_merge_suggestions(t, None).await.unwrap().is_empty());
    let calls = store.list_calls(t, None, Page::default()).await.unwrap();
    assert_eq!(calls.iter().map(|c| c.id).collect::<Vec<_>>(), [p.other_call]);
    let jobs = store
        .list_jobs(t, &JobFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [p.other_job]);
    let customers = store.list_customers(t, Page::default()).await.unwrap();
    assert_eq!(
        customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        [p.housemate.id, p.other.id]
    );
    assert_eq!(customers[0], p.housemate);
    assert_eq!(customers[1], p.other);

    // Untouched: the other customer's history, its notification, the audit log, usage, users, tokens.
    assert_eq!(store.customer_history(t, p.other.id).await.unwrap(), before_other);
    assert_eq!(
        store
            .list_notifications(t, Some(p.staff.id), false)
            .await
            .unwrap(),
        other_notes
            .into_iter()
            .filter(|n| n.payload.get("job_id") == Some(&json!(p.other_job)))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.list_audit(t, Page::default()).await.unwrap().len(), 1);
    assert_eq!(store.usage(t, "calls", "2026-03").await.unwrap(), 1);
    assert_eq!(store.list_users(t).await.unwrap().len(), 2);
    assert!(store.find_api_token(&p.api_token_hash).await.unwrap().is_some());
    assert!(
        store
            .find_session(&p.session_hash, now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.list_phone_lines(t).await.unwrap(), vec![p.line.clone()]);

    // Gone means gone.
    assert!(matches!(
        store.erase_customer(t, p.subject.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.customer_footprint(t, p.subject.id).await,
        Err(Error::NotFound { .. })
    ));
}

/// `erase_call`: one call and what was derived from it; the customer stays.
pub async fn check_erase_call(store: &dyn JobStore) {
    let p = populate(store, "Erase call").await;
    let t = p.tenant.id;
    let [c1, _c2, c3] = p.subject_calls[..] else {
        unreachable!()
    };
    let stranger = new_tenant(store, "Erase call other").await;
    assert!(matches!(
        store.erase_call(stranger.id, c3).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        store.erase_call(t, c3).await.unwrap(),
        report(&[("calls", 1), ("notifications", 1)])
    );
    assert!(matches!(store.get_call(t, c3).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        store.erase_call(t, c3).await,
        Err(Error::NotFound { .. })
    ));

    assert_eq!(
        store.erase_call(t, c1).await.unwrap(),
        report(&[
            ("calls", 1),
            ("corrections", 1),
            ("extractions", 1),
            ("job_notes", 1),
            ("job_photos", 1),
            ("jobs", 1),
            ("notifications", 1),
            ("stage_history", 2),
            ("transcripts", 1),
        ])
    );
    assert!(matches!(
        store.get_job(t, p.subject_jobs[0]).await,
        Err(Error::NotFound { .. })
    ));
    // The customer and its other records stay.
    let history = store.customer_history(t, p.subject.id).await.unwrap();
    assert_eq!(
        history.calls.iter().map(|c| c.id).collect::<Vec<_>>(),
        [p.subject_calls[1]]
    );
    assert_eq!(
        history.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [p.subject_jobs[1]]
    );
    assert_eq!(
        store
            .list_notifications(t, Some(p.staff.id), false)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The rows deleting a [`Population`]'s tenant deletes.
pub fn tenant_erasure_report() -> ErasureReport {
    report(&[
        ("api_tokens", 1),
        ("audit_log", 1),
        ("calls", 4),
        ("corrections", 1),
        ("customer_merges", 1),
        ("customers", 4),
        ("extractions", 1),
        ("job_notes", 1),
        ("job_photos", 1),
        ("jobs", 3),
        ("merge_suggestions", 1),
        ("notifications", 3),
        ("phone_lines", 1),
        ("sessions", 1),
        ("stage_history", 4),
        ("tenants", 1),
        ("transcripts", 1),
        ("usage_counters", 2),
        ("usage_events", 1),
        ("users", 2),
        ("webhook_keys", 1),
    ])
}

/// `delete_tenant`: every list of the tenant is empty afterwards, another tenant is untouched.
pub async fn check_delete_tenant(store: &dyn JobStore) {
    let a = populate(store, "Delete A").await;
    let b = populate(store, "Delete B").await;
    let snapshot = |p: &Population| {
        let t = p.tenant.id;
        let staff = p.staff.id;
        async move {
            (
                store.list_users(t).await.unwrap(),
                store.list_calls(t, None, Page::default()).await.unwrap(),
                store.list_customers(t, Page::default()).await.unwrap(),
                store
                    .list_jobs(t, &JobFilter::default(), Page::default())
                    .await
                    .unwrap(),
                store.list_notifications(t, Some(staff), false).await.unwrap(),
                store.list_api_tokens(t).await.unwrap(),
                store.list_audit(t, Page::default()).await.unwrap(),
                store.list_usage(t, "2026-03").await.unwrap(),
                store.list_phone_lines(t).await.unwrap(),
                store.list_merge_suggestions(t, None).await.unwrap(),
            )
        }
    };
    let b_before = snapshot(&b).await;

    let erased = store.delete_tenant(a.tenant.id).await.unwrap();
    assert_eq!(erased, tenant_erasure_report());

    let t = a.tenant.id;
    assert!(matches!(store.get_tenant(t).await, Err(Error::NotFound { .. })));
    let after = snapshot(&a).await;
    assert!(after.0.is_empty() && after.1.is_empty() && after.2.is_empty() && after.3.is_empty());
    assert!(after.4.is_empty() && after.5.is_empty() && after.6.is_empty() && after.7.is_empty());
    assert!(after.8.is_empty() && after.9.is_empty());
    assert_eq!(store.find_session(&a.session_hash, now()).await.unwrap(), None);
    assert_eq!(store.find_api_token(&a.api_token_hash).await.unwrap(), None);
    assert_eq!(
        store.route_phone_line("twilio", &a.line.number).await.unwrap(),
        None
    );
    assert!(
        store
            .find_users_by_login(&a.owner.login)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .list_tenants(Page::first(500))
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == t)
    );
    assert!(matches!(
        store.create_user(t, "ghost", Role::Owner, None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_tenant(t).await,
        Err(Error::NotFound { .. })
    ));

    assert_eq!(snapshot(&b).await, b_before);
    assert!(
        store
            .find_session(&b.session_hash, now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.find_api_token(&b.api_token_hash).await.unwrap().is_some());
    assert_eq!(
        store.get_customer(b.tenant.id, b.subject.id).await.unwrap(),
        b.subject
    );
    assert!(
        store
            .get_transcript(b.tenant.id, b.subject_calls[0])
            .await
            .unwrap()
            .is_some()
    );
}

/// Retention: only artefacts of calls started before the cutoff, except held calls; corrections stay.
pub async fn check_purge_call_artefacts(store: &dyn JobStore) {
    let t = new_tenant(store, "Retention").await;
    let other = new_tenant(store, "Retention other").await;
    let cutoff = t0() - days(30);
    let mut ids = Vec::new();
    for (tenant, sid, started) in [
        (t.id, "OLD1", cutoff - days(10)),
        (t.id, "OLD2", cutoff - days(10)),
        (t.id, "EDGE", cutoff),
        (t.id, "NEW", t0()),
        (t.id, "OLD3", cutoff - chrono::Duration::seconds(1)),
        (other.id, "THEIRS", cutoff - days(10)),
    ] {
        let mut call = new_call(&format!("{sid}-{}", rand_digits()));
        call.started_at = started;
        let (call, _) = store.record_call(tenant, call).await.unwrap();
        store
            .put_transcript(
                tenant,
                StoredTranscript {
                    call_id: call.id,
                    tenant_id: tenant,
                    document: json!({"text": "hello"}),
                    language: None,
                    confidence: None,
                    provider: "whisper".into(),
                    model: None,
                    created_at: now(),
                },
            )
            .await
            .unwrap();
        if sid != "OLD3" {
            store
                .put_extraction(
                    tenant,
                    StoredExtraction {
                        call_id: call.id,
                        tenant_id: tenant,
                        document: json!({"appointments": []}),
                        call_kind: "live".into(),
                        appointment_count: 0,
                        confidence: None,
                        extractor: "rules".into(),
                        model: None,
                        created_at: now(),
                    },
                )
                .await
                .unwrap();
        }
        ids.push(call.id);
    }
    let [old1, old2, edge, new, old3, theirs] = ids[..] else {
        unreachable!()
    };
    store
        .add_correction(
            t.id,
            NewCorrection {
                call_id: old1,
                job_id: None,
                field: "when".into(),
                before: json!("a"),
                after: json!("b"),
                user_id: None,
            },
        )
        .await
        .unwrap();

    let mut expected = vec![old1, old3];
    expected.sort();
    assert_eq!(
        store
            .purge_call_artefacts(t.id, PurgeKind::Transcript, cutoff, &[old2])
            .await
            .unwrap(),
        expected
    );
    for (id, kept) in [
        (old1, false),
        (old2, true),
        (edge, true),
        (new, true),
        (old3, false),
    ] {
        assert_eq!(
            store.get_transcript(t.id, id).await.unwrap().is_some(),
            kept,
            "{id}"
        );
    }
    assert!(store.get_transcript(other.id, theirs).await.unwrap().is_some());
    assert!(
        store.get_extraction(t.id, old1).await.unwrap().is_some(),
        "other kind untouched"
    );
    assert_eq!(
        store
            .purge_call_artefacts(t.id, PurgeKind::Transcript, cutoff, &[old2])
            .await
            .unwrap(),
        Vec::<CallId>::new(),
        "nothing left to purge"
    );
    let mut expected = vec![old1, old2];
    expected.sort();
    assert_eq!(
        store
            .purge_call_artefacts(t.id, PurgeKind::Extraction, cutoff, &[])
            .await
            .unwrap(),
        expected
    );
    assert!(store.get_extraction(t.id, edge).await.unwrap().is_some());
    assert!(store.get_extraction(other.id, theirs).await.unwrap().is_some());
    assert_eq!(
        store.list_corrections(t.id, old1).await.unwrap().len(),
        1,
        "corrections stay"
    );
    assert!(store.get_call(t.id, old1).await.is_ok(), "the call stays");
}

/// Something a database scan must not find after an erasure (see [`Population::tenant_needles`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    /// An id: found as its 16 bytes (SQLite blobs) or its hyphenated text (JSON, keys, Postgres text).
    Id(uuid::Uuid),
    /// Personal text: a name, a phone number, a login.
    Text(String),
    /// A credential hash: found as its bytes or (Postgres `bytea` text) its lowercase hex.
    Bytes(Vec<u8>),
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

impl Needle {
    /// Whether a raw cell (text or blob bytes) contains it.
    pub fn found_in_bytes(&self, cell: &[u8]) -> bool {
        match self {
            Needle::Id(id) => contains(cell, id.as_bytes()) || contains(cell, id.to_string().as_bytes()),
            Needle::Text(t) => contains(cell, t.as_bytes()),
            Needle::Bytes(b) => contains(cell, b),
        }
    }

    /// Whether a row's text form (Postgres `SELECT t::text FROM table t`) contains it.
    pub fn found_in_text(&self, text: &str) -> bool {
        match self {
            Needle::Id(id) => text.contains(&id.to_string()),
            Needle::Text(t) => text.contains(t.as_str()),
            Needle::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                text.contains(&hex)
            }
        }
    }
}

impl Population {
    /// Everything of the tenant a scan must not find once the tenant is deleted: its id, logins, credential
    /// hashes, its line's number and every customer's name and phones.
    pub fn tenant_needles(&self) -> Vec<Needle> {
        let mut out = vec![
            Needle::Id(self.tenant.id.as_uuid()),
            Needle::Text(self.owner.login.clone()),
            Needle::Text(self.staff.login.clone()),
            Needle::Text(self.line.number.as_str().to_owned()),
            Needle::Bytes(self.session_hash.clone()),
            Needle::Bytes(self.api_token_hash.clone()),
        ];
        for c in [&self.subject, &self.merged, &self.housemate, &self.other] {
            out.push(Needle::Text(c.name.clone()));
            out.extend(c.phones.iter().map(|p| Needle::Text(p.as_str().to_owned())));
        }
        out
    }

    /// Everything of the subject a scan must not find once the subject is erased: the ids of its customers,
    /// calls and jobs, its names and phones.
    pub fn subject_needles(&self) -> Vec<Needle> {
        let mut out: Vec<Needle> = self.subject_ids().into_iter().map(Needle::Id).collect();
        out.extend(self.subject_texts().into_iter().map(Needle::Text));
        out
    }
}

/// `tasks` owners demote or delete themselves at the same time: exactly one owner is always left.
pub async fn check_concurrent_owner_changes(store: Arc<dyn JobStore>, tasks: usize) {
    let t = new_tenant(store.as_ref(), "Owners concurrently").await;
    let mut owners = Vec::new();
    for _ in 0..tasks {
        owners.push(
            store
                .create_user(t.id, &unique_login("owner"), Role::Owner, None)
                .await
                .unwrap(),
        );
    }
    let mut handles = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        let store = store.clone();
        let id = owner.id;
        handles.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store.set_user_role(t.id, id, Role::Staff).await.map(|_| ())
            } else {
                store.delete_user(t.id, id).await
            }
        }));
    }
    let mut refused = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => {}
            Err(Error::InvalidState(_)) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(refused, 1, "exactly the last owner's change is refused");
    let left: Vec<User> = store
        .list_users(t.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.role == Role::Owner)
        .collect();
    assert_eq!(left.len(), 1);
}

/// Erasure finds notifications naming an erased id among many (the SQL backends read them in pages of 500).
pub async fn check_erase_among_many_notifications(store: &dyn JobStore) {
    let t = new_tenant(store, "Many notifications").await;
    let (call, _) = store.record_call(t.id, new_call("MANY1")).await.unwrap();
    for i in 0..1001 {
        let payload = if i % 500 == 0 {
            json!({"call_id": call.id, "i": i})
        } else {
            json!({"call_id": CallId::new(), "i": i})
        };
        store.notify(t.id, None, "call.missed", payload).await.unwrap();
    }
    let report = store.erase_call(t.id, call.id).await.unwrap();
    assert_eq!(report.count("notifications"), 3, "{report:?}");
    let left = store.list_notifications(t.id, None, false).await.unwrap();
    assert_eq!(left.len(), 998);
    assert!(left.iter().all(|n| n.payload["i"].as_i64().unwrap() % 500 != 0));
}

// ---- issue 9 review
/// A call of `tenant` claimed and finished by a worker as `outcome` (other tenants' calls claimed on the way are
/// released untouched).
async fn finished_call(store: &dyn JobStore, tenant: TenantId, sid: &str, outcome: CallState) -> Call {
    let call = queued_call(store, tenant, sid).await;
    let now = t0() + chrono::Duration::days(3650);
    loop {
        let claimed = store
            .claim_calls("reviewer", now, Duration::from_secs(60), 50, MAX_ATTEMPTS)
            .await
            .unwrap();
        assert!(!claimed.is_empty(), "the queued call is claimable");
        let mut found = None;
        for c in claimed {
            let lease = c.lease().unwrap();
            if c.id == call.id {
                found = Some(
                    store
                        .finish_call(tenant, c.id, &lease, now, outcome)
                        .await
                        .unwrap(),
                );
            } else {
                store.release_call(c.tenant_id, c.id, &lease, now).await.unwrap();
            }
        }
        if let Some(call) = found {
            return call;
        }
    }
}

/// [`CallStore::finish_review`]: only from `needs_review`, only to `done` or `no_appointment`, tenant-scoped.
pub async fn check_finish_review(store: &dyn JobStore) {
    let t = new_tenant(store, "Review").await;
    let other = new_tenant(store, "Review other").await;
    let review = finished_call(store, t.id, "RV-1", CallState::NeedsReview).await;
    assert_eq!(review.processing.state, CallState::NeedsReview);

    // Bad outcomes and other tenants change nothing.
    for bad in [CallState::Queued, CallState::NeedsReview, CallState::Dead] {
        assert!(
            matches!(
                store.finish_review(t.id, review.id, bad).await,
                Err(Error::InvalidInput(_))
            ),
            "{bad} is not a review outcome"
        );
    }
    assert!(matches!(
        store.finish_review(other.id, review.id, CallState::Done).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.finish_review(t.id, CallId::new(), CallState::Done).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        store.get_call(t.id, review.id).await.unwrap().processing.state,
        CallState::NeedsReview
    );

    let done = store
        .finish_review(t.id, review.id, CallState::Done)
        .await
        .unwrap();
    assert_eq!(done.processing.state, CallState::Done);
    assert_eq!(done.processing.attempts, review.processing.attempts);
    assert!(done.updated_at >= review.updated_at);
    assert_eq!(store.get_call(t.id, review.id).await.unwrap(), done);
    assert!(
        store
            .list_calls(t.id, Some(CallState::NeedsReview), Page::default())
            .await
            .unwrap()
            .is_empty(),
        "the call left the review list"
    );
    // Twice, or from any other state, is invalid.
    assert!(matches!(
        store.finish_review(t.id, review.id, CallState::Done).await,
        Err(Error::InvalidState(_))
    ));
    let queued = queued_call(store, t.id, "RV-2").await;
    assert!(matches!(
        store.finish_review(t.id, queued.id, CallState::Done).await,
        Err(Error::InvalidState(_))
    ));
    let received = store.record_call(t.id, new_call("RV-3")).await.unwrap().0;
    assert!(matches!(
        store
            .finish_review(t.id, received.id, CallState::NoAppointment)
            .await,
        Err(Error::InvalidState(_))
    ));

    let second = finished_call(store, t.id, "RV-4", CallState::NeedsReview).await;
    let none = store
        .finish_review(t.id, second.id, CallState::NoAppointment)
        .await
        .unwrap();
    assert_eq!(none.processing.state, CallState::NoAppointment);
}

/// [`CustomerStore::list_merges`]: the undoable merges into a customer, newest first, tenant-scoped.
pub async fn check_list_merges(store: &dyn JobStore) {
    let t = new_tenant(store, "Merges").await;
    let other = new_tenant(store, "Merges other").await;
    let named = |name: &str| CustomerInput {
        name: Some(name.into()),
        ..CustomerInput::default()
    };
    let survivor = store.create_customer(t.id, named("Ann Lee")).await.unwrap();
    let a = store.create_customer(t.id, named("Ann L")).await.unwrap();
    let b = store.create_customer(t.id, named("A. Lee")).await.unwrap();
    let c = store.create_customer(t.id, named("Bob")).await.unwrap();
    assert!(store.list_merges(t.id, survivor.id).await.unwrap().is_empty());

    let ma = store
        .merge_customers(t.id, survivor.id, a.id, Actor::pipeline())
        .await
        .unwrap();
    let mb = store
        .merge_customers(t.id, survivor.id, b.id, Actor::pipeline())
        .await
        .unwrap();
    // A merge into another customer is not listed.
    store
        .merge_customers(
            t.id,
            c.id,
            store.create_customer(t.id, named("Bobby")).await.unwrap().id,
            Actor::pipeline(),
        )
        .await
        .unwrap();
    let listed = store.list_merges(t.id, survivor.id).await.unwrap();
    let mut expected = vec![ma.clone(), mb.clone()];
    expected.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
    assert_eq!(listed, expected, "newest first, then id descending");
    assert!(listed.iter().all(|m| m.survivor_id == survivor.id));

    // Undone merges drop out; a merged customer has no merges into it.
    store.undo_merge(t.id, ma.id).await.unwrap();
    assert_eq!(
        store
            .list_merges(t.id, survivor.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![mb.id]
    );
    assert!(store.list_merges(t.id, b.id).await.unwrap().is_empty());

    // Another tenant's customer is not found.
    assert!(matches!(
        store.list_merges(other.id, survivor.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.list_merges(t.id, CustomerId::new()).await,
        Err(Error::NotFound { .. })
    ));
}
// ---- end issue 9 review
