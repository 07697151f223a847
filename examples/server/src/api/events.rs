//! Live events: `GET /api/v1/events`, a Server-Sent Events stream of the caller's tenant.
//!
//! Each event is written as `id: <event id>`, `event: <kind>` (`call.received`, `call.step`, `job.created` …)
//! and `data: <the event as JSON>` (ids, kind, time and a few words of data — never personal data). A comment
//! line `: keep-alive` goes out every [`KEEP_ALIVE`] (configurable with [`ApiState::with_keep_alive`]) so proxies keep the connection open.
//!
//! A client that reconnects sends `Last-Event-ID` (browsers' `EventSource` does so by itself; the
//! `last_event_id` query parameter works too): the events after it are replayed from the [`LiveHub`](callbook_pipeline::notify::LiveHub)'s ring,
//! atomically with subscribing, so nothing is lost or sent twice. When that id is no longer in the ring (or
//! the client fell too far behind while connected) the stream sends `event: reload` with data
//! `{"reason": "missed_events"}`: the client has missed events and must reload its view, then continues with
//! live events.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use callbook_pipeline::notify::{Event, EventId};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};

/// How often a keep-alive comment is sent on an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE event name telling the client it missed events and must reload.
pub const RELOAD: &str = "reload";

/// Query of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id (alternative to the `Last-Event-ID` header).
    pub last_event_id: Option<String>,
}

fn sse_event(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.as_str())
        .data(data)
}

fn reload() -> SseEvent {
    SseEvent::default()
        .event(RELOAD)
        .data(r#"{"reason":"missed_events"}"#)
}

struct Feed {
    pending: VecDeque<SseEvent>,
    receiver: broadcast::Receiver<Event>,
    /// Becomes `true` when the server shuts down: the stream ends so a graceful shutdown is not held up by
    /// clients that never disconnect (they reconnect elsewhere with `Last-Event-ID`).
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

fn stream(feed: Feed) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures_util::stream::unfold(feed, |mut feed| async move {
        if let Some(next) = feed.pending.pop_front() {
            return Some((Ok(next), feed));
        }
        let stopping = async {
            match feed.shutdown.as_mut() {
                Some(rx) => {
                    while !*rx.borrow_and_update() {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = stopping => None,
            received = feed.receiver.recv() => match received {
                Ok(event) => Some((Ok(sse_event(&event)), feed)),
                // Fell behind: what was dropped cannot be recovered from here.
                Err(RecvError::Lagged(_)) => Some((Ok(reload()), feed)),
                Err(RecvError::Closed) => None,
            },
        }
    })
}

/// The tenant's live events as Server-Sent Events, with `Last-Event-ID` replay and keep-alives.
#[utoipa::path(get, path = "/events", tag = "events",
    params(EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `id` = event id, `event` = kind (or `reload`), \
            `data` = the event as JSON", content_type = "text/event-stream"),
        (status = 401, body = Problem), (status = 503, body = Problem, description = "Live events are not enabled")))]
pub async fn events(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let hub = state.live.as_ref().ok_or_else(ApiError::unavailable)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id)
        .filter(|s| !s.trim().is_empty());
    let mut pending = VecDeque::new();
    let receiver = match last {
        None => hub.subscribe(principal.tenant),
        Some(last) => match last.trim().parse::<EventId>() {
            Ok(id) => {
                let (receiver, replay) = hub.subscribe_after(principal.tenant, id);
                match replay {
                    Some(events) => pending.extend(events.iter().map(sse_event)),
                    None => pending.push_back(reload()),
                }
                receiver
            }
            Err(_) => {
                pending.push_back(reload());
                hub.subscribe(principal.tenant)
            }
        },
    };
    let sse = Sse::new(stream(Feed {
        pending,
        receiver,
        shutdown: state.shutdown.clone(),
    }))
    .keep_alive(KeepAlive::new().interval(state.keep_alive).text("keep-alive"));
    let mut response = sse.into_response();
    // Reverse proxies (nginx) must not buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use callbook_jobs::TenantId;
    use callbook_pipeline::notify::EventKind;

    async fn render(feed: Feed) -> String {
        let response = Sse::new(stream(feed)).into_response();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_reload_then_continues() {
        let (sender, receiver) = broadcast::channel(1);
        let tenant = TenantId::new();
        let events: Vec<Event> = (0..3)
            .map(|_| Event::new(tenant, EventKind::JobMoved, chrono::Utc::now()))
            .collect();
        for e in &events {
            sender.send(e.clone()).unwrap();
        }
        drop(sender);
        let text = render(Feed {
            pending: VecDeque::new(),
            receiver,
            shutdown: None,
        })
        .await;
        let last = &events[2];
        let expected = format!(
            "event: reload\ndata: {{\"reason\":\"missed_events\"}}\n\nid: {}\nevent: job.moved\ndata: {}\n\n",
            last.id,
            serde_json::to_string(last).unwrap()
        );
        assert_eq!(text, expected);
    }

    #[tokio::test]
    async fn a_stream_ends_when_the_server_shuts_down() {
        let (sender, receiver) = broadcast::channel::<Event>(8);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let rendering = tokio::spawn(render(Feed {
            pending: VecDeque::new(),
            receiver,
            shutdown: Some(shutdown),
        }));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!rendering.is_finished(), "open while the server runs");
        stop.send(true).unwrap();
        let text = tokio::time::timeout(std::time::Duration::from_secs(2), rendering)
            .await
            .expect("ended on shutdown")
            .unwrap();
        assert_eq!(text, "");
        drop(sender);
    }

    #[tokio::test]
    async fn replayed_events_come_before_live_ones() {
        let (sender, receiver) = broadcast::channel(8);
        let tenant = TenantId::new();
        let old = Event::new(tenant, EventKind::CallStep, chrono::Utc::now());
        let new = Event::new(tenant, EventKind::JobCreated, chrono::Utc::now());
        sender.send(new.clone()).unwrap();
        drop(sender);
        let text = render(Feed {
            pending: VecDeque::from([sse_event(&old)]),
            receiver,
            shutdown: None,
        })
        .await;
        let ids: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
        assert_eq!(ids, vec![old.id.to_string(), new.id.to_string()]);
    }
}
