//! The Postgres listener survives its connection being killed (own test binary: it terminates every
//! `LISTEN callbook_events` backend on the server).
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::time::Duration;

use callbook_jobs::TenantId;
use callbook_pipeline::notify::{Event, EventKind, LiveHub, Notifier, PgFanout};
use chrono::Utc;
use sqlx::Connection as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_is_killed() {
    let Ok(url) = std::env::var("CALLBOOK_TEST_DATABASE_URL") else {
        eprintln!("CALLBOOK_TEST_DATABASE_URL not set: skipping the Postgres reconnect test");
        return;
    };
    let hub = LiveHub::new();
    let fanout = PgFanout::connect(&url, hub.clone()).await.unwrap();
    let tenant = TenantId::new();
    let mut live = hub.subscribe(tenant);
    let before = Event::new(tenant, EventKind::CallStep, Utc::now());
    fanout.notify(&before).await.unwrap();
    assert_eq!(live.recv().await.unwrap(), before);

    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query ILIKE 'LISTEN%callbook_events%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the listening backend was found");

    // Events sent during the outage may be lost; once reconnected, events arrive again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let probe = Event::new(tenant, EventKind::CallStep, Utc::now());
        fanout.notify(&probe).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), live.recv()).await {
            Ok(Ok(got)) if got == probe => break,
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("hub channel: {e}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no event after the listener's connection was killed"
        );
    }
    assert!(fanout.is_listening());
}
