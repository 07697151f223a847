//! `callbook demo --exit`: the embedded calls go through the server over its socket and end as expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use callbook_jobs::{CallState, JobFilter, Page};

#[tokio::test]
async fn demo_plays_the_embedded_calls_into_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command.current_dir(dir.path()).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    let output = command
        .args(["demo", "--exit"])
        .env("CALLBOOK_LISTEN", "127.0.0.1:0")
        .env("CALLBOOK_DATA_DIR", &data)
        .env("CALLBOOK_TIMEZONE", "America/New_York")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    for label in [
        "plumbing booking",
        "HVAC emergency",
        "electrician",
        "price shopping",
        "wrong number",
    ] {
        assert!(stdout.contains(label), "{label}: {stdout}");
    }
    assert!(stdout.contains("admin.token)\" http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("America/New_York"), "{stdout}");

    // The store agrees: 5 calls, 3 booked, 2 without an appointment, one job per booked call.
    let store = callbook_jobs::open(&format!("sqlite://{}", data.join("callbook.db").display()))
        .await
        .unwrap();
    let tz = callbook_jobs::TimeZone::parse("America/New_York").unwrap();
    let (tenant, created) = callbook_server::app::bootstrap_tenant(
        store.as_ref(),
        "unused",
        tz,
        callbook_telephony::fake::FAKE_ACCOUNT_SID,
    )
    .await
    .unwrap();
    assert!(!created);
    let page = Page {
        offset: 0,
        limit: 100,
    };
    let calls = store.list_calls(tenant.id, None, page).await.unwrap();
    assert_eq!(calls.len(), 5);
    let done = calls
        .iter()
        .filter(|c| c.processing.state == CallState::Done)
        .count();
    let none = calls
        .iter()
        .filter(|c| c.processing.state == CallState::NoAppointment)
        .count();
    assert_eq!((done, none), (3, 2), "{calls:?}");
    let jobs = store
        .list_jobs(tenant.id, &JobFilter::default(), page)
        .await
        .unwrap();
    let mut titles: Vec<&str> = jobs.iter().map(|j| j.title.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("kitchen sink")), "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("furnace")), "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("breaker panel")), "{titles:?}");
    assert!(
        jobs.iter()
            .all(|j| j.customer_id.is_some() && j.schedule.is_some())
    );
}
