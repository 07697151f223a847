//! Postgres `LISTEN/NOTIFY` fan-out between two "processes" (two `PgFanout`s, each with its own hub), against
//! the server in `CALLBOOK_TEST_DATABASE_URL`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::time::Duration;

use callbook_jobs::TenantId;
use callbook_pipeline::notify::{
    Event, EventKind, LiveHub, MAX_PAYLOAD_BYTES, Notifier, PgFanout, pg_payload,
};
use chrono::Utc;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::TryRecvError;

fn database_url() -> Option<String> {
    match std::env::var("CALLBOOK_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("CALLBOOK_TEST_DATABASE_URL not set: skipping the Postgres fan-out test");
            None
        }
    }
}

async fn next(r: &mut broadcast::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(10), r.recv())
        .await
        .expect("an event within 10 s")
        .expect("the channel is open")
}

/// Waits a moment and checks that nothing more arrived.
async fn nothing_more(r: &mut broadcast::Receiver<Event>) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(r.try_recv(), Err(TryRecvError::Empty)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_on_one_instance_reaches_both_hubs_once() {
    let Some(url) = database_url() else { return };
    let (hub_a, hub_b) = (LiveHub::new(), LiveHub::new());
    let a = PgFanout::connect(&url, hub_a.clone()).await.unwrap();
    let b = PgFanout::connect(&url, hub_b.clone()).await.unwrap();
    assert!(a.is_listening() && b.is_listening());
    let tenant = TenantId::new();
    let other = TenantId::new();
    let (mut ra, mut rb) = (hub_a.subscribe(tenant), hub_b.subscribe(tenant));
    let mut r_other = hub_b.subscribe(other);

    let event = Event::new(tenant, EventKind::JobCreated, Utc::now())
        .with_data(json!({"stage": "quote_requested"}))
        .with_dedupe_key("job.created:x");
    a.notify(&event).await.unwrap();
    assert_eq!(next(&mut ra).await, event);
    assert_eq!(next(&mut rb).await, event);
    // Delivered again (a retried notify): the hubs drop the duplicate id.
    a.notify(&event).await.unwrap();
    let second = Event::new(tenant, EventKind::JobMoved, Utc::now());
    b.notify(&second).await.unwrap();
    assert_eq!(next(&mut ra).await, second);
    assert_eq!(next(&mut rb).await, second);
    nothing_more(&mut ra).await;
    nothing_more(&mut rb).await;
    assert!(
        matches!(r_other.try_recv(), Err(TryRecvError::Empty)),
        "other tenants hear nothing"
    );
    assert_eq!(hub_a.replay_after(tenant, event.id).unwrap(), vec![second]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_event_travels_without_its_data() {
    let Some(url) = database_url() else { return };
    let hub = LiveHub::new();
    let fanout = PgFanout::connect(&url, hub.clone()).await.unwrap();
    let tenant = TenantId::new();
    let mut r = hub.subscribe(tenant);
    let big =
        Event::new(tenant, EventKind::CallStep, Utc::now()).with_data(json!({"blob": "x".repeat(10_000)}));
    assert!(pg_payload(&big).unwrap().len() <= MAX_PAYLOAD_BYTES);
    fanout.notify(&big).await.unwrap();
    let got = next(&mut r).await;
    assert_eq!(got.id, big.id);
    assert_eq!(got.kind, EventKind::CallStep);
    assert_eq!(got.data, serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_fanout_stops_its_listener() {
    let Some(url) = database_url() else { return };
    let hub = LiveHub::new();
    let sender = PgFanout::connect(&url, LiveHub::new()).await.unwrap();
    let listening = PgFanout::connect(&url, hub.clone()).await.unwrap();
    let tenant = TenantId::new();
    let mut r = hub.subscribe(tenant);
    drop(listening);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sender
        .notify(&Event::new(tenant, EventKind::CallStep, Utc::now()))
        .await
        .unwrap();
    nothing_more(&mut r).await;
}

#[test]
fn payloads_shrink_to_fit() {
    let tenant = TenantId::new();
    let small = Event::new(tenant, EventKind::JobUpdated, Utc::now()).with_data(json!({"stage": "done"}));
    assert_eq!(
        serde_json::from_str::<Event>(&pg_payload(&small).unwrap()).unwrap(),
        small
    );
    let key = "k".repeat(9_000);
    let huge = small.clone().with_dedupe_key(key);
    let shrunk: Event = serde_json::from_str(&pg_payload(&huge).unwrap()).unwrap();
    assert_eq!(
        (shrunk.id, shrunk.data, shrunk.dedupe_key),
        (small.id, serde_json::Value::Null, None)
    );
}
