//! REST API: live events over Server-Sent Events, read by a real SSE client (eventsource-stream over reqwest)
//! on a real socket — per-tenant streams, `Last-Event-ID` replay, reload on a lost position, keep-alives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::sync::Arc;
use std::time::Duration;

use api_common::{Backend, Env, OTHER_TOKEN, TOKEN};
use callbook_pipeline::notify::{Event, EventKind, LiveHub};
use eventsource_stream::{Event as Sse, Eventsource};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

struct Server {
    env: Env,
    hub: LiveHub,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(keep_alive: Duration) -> Server {
    let env = Env::new(Backend::Memory).await;
    let hub = LiveHub::new();
    let state = env
        .state
        .clone()
        .with_live(hub.clone())
        .with_notifier(Arc::new(hub.clone()))
        .with_keep_alive(keep_alive);
    let app = callbook_server::api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let env = Env {
        app: axum::Router::new(),
        ..env
    };
    Server { env, hub, base, task }
}

async fn connect(
    server: &Server,
    token: &str,
    last_event_id: Option<&str>,
) -> impl Stream<Item = Sse> + Unpin + use<> {
    let mut request = reqwest::Client::new()
        .get(format!("{}/api/v1/events", server.base))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The handler subscribes before it returns the response, so once the headers are here nothing published
    // from now on can be missed.
    Box::pin(response.bytes_stream().eventsource().map(|e| e.unwrap()))
}

async fn next(stream: &mut (impl Stream<Item = Sse> + Unpin)) -> Sse {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream stays open")
}

#[tokio::test]
async fn tenants_get_their_own_events_and_replay_after_reconnecting() {
    let server = serve(Duration::from_secs(15)).await;
    let (a, b) = (server.env.tenant.id, server.env.other.id);
    let mut stream_a = connect(&server, TOKEN, None).await;
    let mut stream_b = connect(&server, OTHER_TOKEN, None).await;

    // A job created through the API reaches tenant A's stream as `job.created`.
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/api/v1/jobs", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"title": "Fix the boiler"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = next(&mut stream_a).await;
    assert_eq!(first.event, "job.created");
    let data: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(data["job_id"], created["id"]);
    assert_eq!(data["tenant_id"], a.to_string());
    assert_eq!(data["id"], first.id);

    // The worker's events (published to the same hub) follow, in order.
    let step = Event::call_step(a, callbook_jobs::CallId::new(), "transcribed", chrono::Utc::now());
    server.hub.publish(step.clone());
    let second = next(&mut stream_a).await;
    assert_eq!(
        (second.event.as_str(), second.id.clone()),
        ("call.step", step.id.to_string())
    );

    // Tenant B saw none of that: its first event is its own.
    let own = Event::new(b, EventKind::CallReceived, chrono::Utc::now());
    server.hub.publish(own.clone());
    let b_first = next(&mut stream_b).await;
    assert_eq!(
        (b_first.event.as_str(), b_first.id.clone()),
        ("call.received", own.id.to_string())
    );

    // Reconnecting with Last-Event-ID replays exactly what came after it, then continues live.
    drop(stream_a);
    let mut again = connect(&server, TOKEN, Some(&first.id)).await;
    let replayed = next(&mut again).await;
    assert_eq!(
        (replayed.event.as_str(), replayed.id.clone()),
        ("call.step", step.id.to_string())
    );
    let live = Event::new(a, EventKind::JobMoved, chrono::Utc::now());
    server.hub.publish(live.clone());
    assert_eq!(next(&mut again).await.id, live.id.to_string());

    // A position the ring no longer holds (or never held) → `reload`, then live events.
    let mut lost = connect(
        &server,
        TOKEN,
        Some(&callbook_pipeline::notify::EventId::new().to_string()),
    )
    .await;
    let reload = next(&mut lost).await;
    assert_eq!(reload.event, "reload");
    assert_eq!(
        serde_json::from_str::<Value>(&reload.data).unwrap(),
        json!({"reason": "missed_events"})
    );
    let after = Event::new(a, EventKind::JobUpdated, chrono::Utc::now());
    server.hub.publish(after.clone());
    assert_eq!(next(&mut lost).await.id, after.id.to_string());
    let mut garbage = connect(&server, TOKEN, Some("not-an-id")).await;
    assert_eq!(next(&mut garbage).await.event, "reload");
    server.task.abort();
}

#[tokio::test]
async fn idle_streams_send_keep_alives_and_need_a_token() {
    let server = serve(Duration::from_millis(100)).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let mut bytes = response.bytes_stream();
    let chunk = tokio::time::timeout(Duration::from_secs(5), bytes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b": keep-alive\n\n");

    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/events", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.task.abort();

    // Without a hub the route answers 503 with a problem document.
    let env = Env::new(Backend::Memory).await;
    let (status, body) = env.get("/api/v1/events").await;
    assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));
}
