//! `callbook serve` (the default subcommand) and `callbook migrate`.

use std::future::Future;
use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::watch;

use crate::app::{self, App};
use crate::config::Config;
use crate::ops::Metrics;
use crate::worker::spawn_worker;

/// Structured JSON logs on stderr; the level comes from `RUST_LOG` (`tracing` target syntax, default `info`).
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr),
        )
        .with(filter)
        .try_init();
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Serves `config` until `shutdown` resolves: HTTP on `CALLBOOK_LISTEN` and the worker, then a graceful stop
/// (in-flight requests finish, the worker finishes its current pass).
pub async fn serve_until(
    config: Config,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let built = app::build(&config, metrics).await?;
    for line in &built.report {
        eprintln!("callbook: {line}");
    }
    let dashboard =
        crate::cli_accounts::first_owner(&config, built.state.store.as_ref(), &built.state.tenant).await?;
    eprintln!("callbook: {dashboard}");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("CALLBOOK_LISTEN: cannot listen on {}", config.listen))?;
    serve_on(listener, built, shutdown).await
}

/// Serves a built app on a bound listener, with the worker beside it, until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    built: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener.local_addr().context("listener address")?;
    eprintln!("callbook: ready on http://{local}");
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = spawn_worker(built.worker, stop_rx.clone());
    let mut state = built.state;
    state.api = state.api.with_shutdown(stop_rx);
    tracing::info!(listen = %local, "serving");
    // On shutdown: the worker starts draining and event streams end at once, while HTTP finishes the
    // requests in flight.
    let stopping = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    // The peer address feeds the client IP of rate limits (crate::hardening).
    let app = app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stopping)
        .await
        .context("serving HTTP");
    worker.await.context("worker task")?;
    served?;
    eprintln!("callbook: stopped");
    Ok(())
}

/// `callbook serve`.
pub async fn run() -> anyhow::Result<ExitCode> {
    init_logging();
    // Error reporting when SENTRY_DSN is set; the guard flushes queued events when `run` returns.
    #[cfg(feature = "sentry")]
    let _sentry = crate::sentry::init_from_env()?;
    let config = Config::from_env()?;
    let metrics = Metrics::install_global()?;
    serve_until(config, metrics, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `callbook migrate`: opens the database named by `CALLBOOK_DATABASE_URL`, applies pending migrations,
/// exits.
pub async fn migrate() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    app::open_store(&config).await?;
    eprintln!(
        "callbook: {} is migrated",
        crate::config::redact_url(config.database_url.expose())
    );
    Ok(ExitCode::SUCCESS)
}
