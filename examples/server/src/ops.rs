//! Observability: request ids, `/healthz`, `/readyz`, `/metrics`.
//!
//! Metrics go through the `metrics` crate's facade (the pipeline emits its own through it too) and are rendered
//! by `metrics-exporter-prometheus` (chosen because it is the facade's reference exporter; built with
//! `default-features = false`, so no HTTP listener of its own: `/metrics` is served by our router).
//! `serve` installs the global recorder ([`Metrics::install_global`]); tests use [`Metrics::local`], a
//! recorder only this state records into, so tests running in parallel do not see each other's numbers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use object_store::ObjectStoreExt as _;
use serde_json::json;
use tracing::Instrument as _;

use crate::app::AppState;

/// The webhook latency histogram, labelled `path` and `outcome`.
pub const WEBHOOK_DURATION: &str = "callbook_webhook_duration_seconds";
/// The webhook counter, labelled `path` and `outcome`.
pub const WEBHOOKS_TOTAL: &str = "callbook_webhooks_total";

/// Where the server's metrics are recorded and rendered from.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    /// `Some` for a local recorder (tests); `None` when the global recorder is installed.
    local: Option<Arc<PrometheusRecorder>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("local", &self.local.is_some())
            .finish()
    }
}

fn builder() -> PrometheusBuilder {
    // Buckets instead of summaries: histograms aggregate across server processes.
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
    ];
    PrometheusBuilder::new()
        .set_buckets(&buckets)
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

impl Metrics {
    /// Installs the process-wide recorder (once, in `serve`): everything emitted through the `metrics`
    /// facade — the pipeline's metrics too — appears at `/metrics`.
    pub fn install_global() -> anyhow::Result<Self> {
        let handle = builder()
            .install_recorder()
            .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
        // Help texts and units of the worker's metrics (step durations, queue depth, call-to-job time …).
        callbook_pipeline::metrics::describe();
        Ok(Self { handle, local: None })
    }

    /// A recorder of its own, not installed globally (tests, embedding).
    pub fn local() -> Self {
        let recorder = builder().build_recorder();
        Self {
            handle: recorder.handle(),
            local: Some(Arc::new(recorder)),
        }
    }

    /// Runs `f` with this recorder as the current one.
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.local {
            Some(recorder) => metrics::with_local_recorder(recorder.as_ref(), f),
            None => f(),
        }
    }

    /// Records one webhook: its latency and outcome.
    pub fn record_webhook(&self, path: &'static str, outcome: &'static str, elapsed: Duration) {
        self.with(|| {
            metrics::histogram!(WEBHOOK_DURATION, "path" => path, "outcome" => outcome)
                .record(elapsed.as_secs_f64());
            metrics::counter!(WEBHOOKS_TOTAL, "path" => path, "outcome" => outcome).increment(1);
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Gives every request an id (a UUIDv7), runs it inside a `request` span carrying that id, and returns it in
/// `x-request-id`. The path is logged, never the query or body (they may hold phone numbers), and a path that
/// is itself a credential (the calendar feed's `/calendar/{token}.ics`) is logged with the token replaced.
pub async fn request_id(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %loggable_path(request.uri().path())
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request done"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The path as logged: credential segments replaced by `{token}`.
///
/// ```
/// use callbook_server::ops::loggable_path;
/// assert_eq!(loggable_path("/api/v1/calendar/abc123.ics"), "/api/v1/calendar/{token}.ics");
/// assert_eq!(loggable_path("/api/v1/jobs/42"), "/api/v1/jobs/42");
/// ```
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const FEED: &str = "/api/v1/calendar/";
    match path.strip_prefix(FEED) {
        Some(rest) if rest.ends_with(".ics") => format!("{FEED}{{token}}.ics").into(),
        _ => path.into(),
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

async fn probe_database(state: &AppState) -> Result<(), String> {
    if let Some(file) = &state.sqlite_file
        && !file.exists()
    {
        // The process would go on writing into an unlinked file and lose it all at restart.
        return Err("the SQLite database file is missing".to_owned());
    }
    match tokio::time::timeout(PROBE_TIMEOUT, state.store.get_tenant(state.tenant.id)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            Err(if e.is_retryable() {
                "unreachable".to_owned()
            } else {
                "error".to_owned()
            })
        }
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn probe_storage(state: &AppState) -> Result<(), String> {
    if let Some(dir) = &state.storage_dir
        && !dir.is_dir()
    {
        return Err("the recordings directory is missing".to_owned());
    }
    let path = object_store::path::Path::from("callbook-readiness-probe");
    match tokio::time::timeout(PROBE_TIMEOUT, state.recordings.object_store().head(&path)).await {
        Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: storage check failed");
            Err("unreachable".to_owned())
        }
        Err(_) => Err("timed out".to_owned()),
    }
}

/// `GET /readyz`: 200 when the database and the recording storage answer, else 503; the JSON says which.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (database, storage) = tokio::join!(probe_database(&state), probe_storage(&state));
    let ready = database.is_ok() && storage.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(why) => why.clone(),
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": show(&database),
        "storage": show(&storage),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}
