//! Retention (issue 8): with a controlled `now`, exactly the expired artefacts are purged (audio blobs by
//! age, stored transcripts and extractions by call start), held ones are kept, everything else is untouched;
//! a dry run deletes nothing and counts the same; a second run finds nothing; runs are audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Env, Person};
use callbook_jobs::{Call, JobStore};
use callbook_server::retention::{self, RetentionReport};
use callbook_storage::{LegalHold, RecordingStore, RecordingStoreExt};
use chrono::{TimeDelta, Utc};
use serde_json::json;

const P: Person = Person {
    name: "Ada Byron",
    phone: "+14155550111",
    address: "1 Analytical Way",
    marker: "ADA-AUDIO",
};

fn key(call: &Call) -> callbook_storage::RecordingKey {
    callbook_server::privacy::key_from_canonical(
        call.tenant_id,
        call.recording.as_ref().unwrap().storage_key.as_deref().unwrap(),
    )
    .unwrap()
}

async fn has_audio(env: &Env, call: &Call) -> bool {
    env.recordings.get_bytes(&key(call)).await.is_ok()
}

async fn has_transcript(env: &Env, call: &Call) -> bool {
    env.store
        .get_transcript(call.tenant_id, call.id)
        .await
        .unwrap()
        .is_some()
}

async fn has_extraction(env: &Env, call: &Call) -> bool {
    env.store
        .get_extraction(call.tenant_id, call.id)
        .await
        .unwrap()
        .is_some()
}

async fn purges_exactly_what_expired(env: Env) {
    let real_now = Utc::now();
    // Blobs are written now; `now` of the run is 91 days later, so 90-day audio has expired.
    let now = real_now + TimeDelta::days(91);
    let tenant = env.tenant.clone();
    let mut settings = tenant.settings.clone();
    settings["retention"] = json!({"audio_days": 90, "transcript_days": 100, "extraction_days": 200});
    env.store
        .update_tenant_settings(tenant.id, settings)
        .await
        .unwrap();
    // transcript cut-off = real_now - 9 days, extraction cut-off = real_now - 109 days.
    let (old, _) = env
        .seed_person(&tenant, "CA1", "RE1", &P, real_now - TimeDelta::days(300))
        .await;
    let (mid, _) = env
        .seed_person(&tenant, "CA2", "RE2", &P, real_now - TimeDelta::days(50))
        .await;
    let (new, _) = env
        .seed_person(&tenant, "CA3", "RE3", &P, real_now - TimeDelta::days(1))
        .await;
    let (held, _) = env
        .seed_person(&tenant, "CA4", "RE4", &P, real_now - TimeDelta::days(300))
        .await;
    // The other tenant keeps audio forever and has no other policy: untouched.
    let other = env.other.clone();
    let mut settings = other.settings.clone();
    settings["retention"] = json!({"audio_days": null});
    env.store
        .update_tenant_settings(other.id, settings)
        .await
        .unwrap();
    let (theirs, _) = env
        .seed_person(&other, "CA5", "RE5", &P, real_now - TimeDelta::days(300))
        .await;

    let st = callbook_storage::TenantId::new(tenant.id.to_string()).unwrap();
    let hold = LegalHold::Call(st, callbook_storage::CallId::new(held.id.to_string()).unwrap());
    env.recordings.place_legal_hold(&hold).await.unwrap();

    let expected = RetentionReport {
        tenants: 2,
        tenants_held: 0,
        blobs_deleted: 3,
        blobs_held: 1,
        transcripts_purged: 2,
        extractions_purged: 1,
        failures: vec![],
    };
    let store: &dyn JobStore = env.store.as_ref();
    let recordings: &dyn RecordingStore = env.recordings.as_ref();
    let dry = retention::run_once(store, recordings, now, true).await.unwrap();
    assert_eq!(dry, expected);
    for call in [&old, &mid, &new, &held, &theirs] {
        assert!(
            has_audio(&env, call).await
                && has_transcript(&env, call).await
                && has_extraction(&env, call).await
        );
    }

    let report = retention::run_once(store, recordings, now, false).await.unwrap();
    assert_eq!(report, expected);
    // Audio: every unheld blob of the tenant is gone; the held one and the other tenant's stay.
    assert!(!has_audio(&env, &old).await && !has_audio(&env, &mid).await && !has_audio(&env, &new).await);
    assert!(has_audio(&env, &held).await && has_audio(&env, &theirs).await);
    // Transcripts: calls started before real_now - 9 days.
    assert!(!has_transcript(&env, &old).await && !has_transcript(&env, &mid).await);
    assert!(
        has_transcript(&env, &new).await
            && has_transcript(&env, &held).await
            && has_transcript(&env, &theirs).await
    );
    // Extractions: calls started before real_now - 109 days.
    assert!(!has_extraction(&env, &old).await);
    assert!(has_extraction(&env, &mid).await && has_extraction(&env, &new).await);
    assert!(has_extraction(&env, &held).await && has_extraction(&env, &theirs).await);
    // The calls themselves (and their jobs) stay.
    assert!(env.store.get_call(tenant.id, old.id).await.is_ok());

    // Audited with counts.
    let audit = env
        .store
        .list_audit(tenant.id, callbook_jobs::Page::first(50))
        .await
        .unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "retention.purged")
        .expect("audited");
    assert_eq!(entry.details["blobs_deleted"], 3);
    assert_eq!(entry.details["transcripts"], 2);
    assert_eq!(entry.details["extractions"], 1);

    // A second run finds nothing more.
    let again = retention::run_once(store, recordings, now, false).await.unwrap();
    assert_eq!(
        again,
        RetentionReport {
            tenants: 2,
            blobs_held: 1,
            ..RetentionReport::default()
        }
    );

    // A tenant-wide hold skips the tenant entirely, even much later.
    let st = callbook_storage::TenantId::new(tenant.id.to_string()).unwrap();
    env.recordings
        .place_legal_hold(&LegalHold::Tenant(st))
        .await
        .unwrap();
    let later = retention::run_once(store, recordings, now + TimeDelta::days(10_000), false)
        .await
        .unwrap();
    assert_eq!(later.tenants_held, 1);
    assert!(has_transcript(&env, &new).await && has_audio(&env, &held).await);
}

async fn defaults_keep_documents_and_expire_audio_after_90_days(env: Env) {
    let tenant = env.tenant.clone();
    let now = Utc::now();
    let (call, _) = env
        .seed_person(&tenant, "CA9", "RE9", &P, now - TimeDelta::days(1000))
        .await;
    let store: &dyn JobStore = env.store.as_ref();
    let recordings: &dyn RecordingStore = env.recordings.as_ref();
    let r = retention::run_once(store, recordings, now + TimeDelta::days(89), false)
        .await
        .unwrap();
    assert_eq!(r.blobs_deleted, 0);
    assert!(has_audio(&env, &call).await);
    let r = retention::run_once(store, recordings, now + TimeDelta::days(91), false)
        .await
        .unwrap();
    assert_eq!(
        (r.blobs_deleted, r.transcripts_purged, r.extractions_purged),
        (1, 0, 0)
    );
    assert!(!has_audio(&env, &call).await);
    assert!(has_transcript(&env, &call).await && has_extraction(&env, &call).await);
}

on_every_backend!(
    purges_exactly_what_expired,
    defaults_keep_documents_and_expire_audio_after_90_days
);

#[test]
fn the_cli_runs_retention_once_and_reports_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callbook"))
        .args(["retention", "run", "--dry-run"])
        .env_clear()
        .env("CALLBOOK_DATA_DIR", dir.path())
        .env("CALLBOOK_DATABASE_URL", "memory:")
        .env(
            "CALLBOOK_STORAGE_URL",
            format!("file://{}", dir.path().join("rec").display()),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["report"]["tenants"], 0);
    assert_eq!(report["report"]["failures"], json!([]));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_callbook"))
        .args(["retention", "run"])
        .env_clear()
        .env("CALLBOOK_DATA_DIR", dir.path())
        .env("CALLBOOK_RETENTION_INTERVAL", "5s")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("CALLBOOK_RETENTION_INTERVAL"));
}
