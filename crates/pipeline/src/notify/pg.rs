//! [`PgFanout`]: Postgres `LISTEN/NOTIFY` fan-out of events between processes.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use super::{Event, LiveHub, Notifier, NotifyError};

/// The Postgres channel events travel on.
pub const CHANNEL: &str = "callbook_events";
/// The largest payload sent: Postgres refuses `NOTIFY` payloads of 8,000 bytes or more.
pub const MAX_PAYLOAD_BYTES: usize = 7_999;

/// Publishes events with `pg_notify('callbook_events', <event JSON>)` and, in a background task, listens on the
/// same channel and publishes every event it hears — including its own — into a local [`LiveHub`]. So every
/// server process's SSE clients hear events produced by any process, each exactly once
/// ([`LiveHub::publish`] also ignores an id it already has).
///
/// * `notify` does **not** publish to the local hub itself: delivery goes through Postgres, so an event is live
///   once it is committed to the channel (a `pg_notify` outside a transaction is sent at once).
/// * A payload over [`MAX_PAYLOAD_BYTES`] is sent without its `data` (ids and kind stay; clients reload the
///   details), then without its `dedupe_key`.
/// * **Outages**: when the listening connection drops, sqlx's [`PgListener`] reconnects (the task retries
///   every second until it succeeds) and listens again. Events notified while it was disconnected are **lost**
///   for this process's live clients (Postgres does not queue notifications for absent listeners); the outage
///   is logged, and clients that reconnect with `Last-Event-ID` get `None` from
///   [`LiveHub::replay_after`] for ids they never saw and should reload. E-mail and inbox rows do not go
///   through this path and are not affected.
/// * Dropping the `PgFanout` stops the listener task and closes its connection.
#[derive(Debug)]
pub struct PgFanout {
    pool: PgPool,
    hub: LiveHub,
    listener: JoinHandle<()>,
}

impl Drop for PgFanout {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgFanout {
    /// Connects to Postgres (a small pool for `pg_notify` and one listening connection), starts listening and
    /// returns once `LISTEN` is in place, so every event notified afterwards reaches `hub`.
    pub async fn connect(url: &str, hub: LiveHub) -> Result<Self, NotifyError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .map_err(pg_error)?;
        Self::with_pool(pool, url, hub).await
    }

    /// Like [`PgFanout::connect`] with an existing pool for `pg_notify` (the listener opens its own connection
    /// from `url`).
    pub async fn with_pool(pool: PgPool, url: &str, hub: LiveHub) -> Result<Self, NotifyError> {
        let mut listener = PgListener::connect(url).await.map_err(pg_error)?;
        listener.listen(CHANNEL).await.map_err(pg_error)?;
        let task_hub = hub.clone();
        let listener = tokio::spawn(listen(listener, task_hub));
        Ok(Self { pool, hub, listener })
    }

    /// The local hub the listener publishes into.
    pub fn hub(&self) -> &LiveHub {
        &self.hub
    }

    /// Whether the listener task is still running.
    pub fn is_listening(&self) -> bool {
        !self.listener.is_finished()
    }
}

async fn listen(mut listener: PgListener, hub: LiveHub) {
    let mut connected = true;
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if !connected {
                    tracing::info!("notification listener reconnected");
                    connected = true;
                }
                match serde_json::from_str::<Event>(notification.payload()) {
                    Ok(event) => {
                        hub.publish(event);
                    }
                    Err(_) => tracing::warn!("ignored a malformed event on the notification channel"),
                }
            }
            Ok(None) => {
                // The connection was lost; the next call reconnects and listens again.
                if connected {
                    tracing::warn!(
                        "notification listener lost its connection; events are lost until it reconnects"
                    );
                }
                connected = false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "notification listener could not reconnect; retrying in 1 s");
                connected = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn pg_error(e: sqlx::Error) -> NotifyError {
    NotifyError::Postgres(e.to_string())
}

/// The `NOTIFY` payload for an event, shrunk to fit [`MAX_PAYLOAD_BYTES`].
pub fn payload(event: &Event) -> Result<String, NotifyError> {
    let encode = |e: &Event| {
        serde_json::to_string(e).map_err(|err| NotifyError::Message(format!("event payload: {err}")))
    };
    let text = encode(event)?;
    if text.len() <= MAX_PAYLOAD_BYTES {
        return Ok(text);
    }
    let mut smaller = event.clone();
    smaller.data = serde_json::Value::Null;
    let text = encode(&smaller)?;
    if text.len() <= MAX_PAYLOAD_BYTES {
        return Ok(text);
    }
    smaller.dedupe_key = None;
    let text = encode(&smaller)?;
    if text.len() <= MAX_PAYLOAD_BYTES {
        return Ok(text);
    }
    Err(NotifyError::Message("event too large for NOTIFY".into()))
}

#[async_trait]
impl Notifier for PgFanout {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let payload = payload(event)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }
}
