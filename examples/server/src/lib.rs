//! The Callbook reference server as a library: configuration, application state, the Twilio webhooks,
//! health/readiness/metrics endpoints and the background worker. The binary `callbook` (`src/main.rs`) is a
//! thin CLI over it; tests drive the same [`app::router`] in-process and over a real socket.
//!
//! | module | what it holds |
//! |---|---|
//! | [`api`] | the REST API under `/api/v1` as an independent axum router ([`api::router`]): calls, jobs, customers, corrections, calendars, usage, live events, OpenAPI |
//! | [`config`] | every DESIGN.md §5 variable parsed into [`config::Config`]; errors name the variable; secrets redacted |
//! | [`app`] | [`app::build`] (store + migrations, encrypted recordings, telephony, transcriber, extractor, bootstrap tenant, worker) and [`app::router`] |
//! | [`webhooks`] | `POST /webhooks/twilio/{voice,status,recording,record-done}`: verify → parse → route → dedupe → write → answer |
//! | [`hardening`] | client IPs behind trusted proxies, rate limits, body limits, timeouts, security headers, panics → 500 |
//! | [`ops`] | request ids, `/healthz`, `/readyz`, `/metrics` ([`ops::Metrics`]) |
//! | [`worker`] | [`worker::spawn_worker`], the interim worker loop beside the server |
//! | [`privacy`] | GDPR: streamed zip exports of a customer or tenant, complete erasure (blobs, provider copies, rows, keys) |
//! | [`retention`] | per-tenant retention of audio, transcripts and extractions on a schedule, with legal holds |
//! | [`serve`] | `callbook serve` / `callbook migrate`; [`serve::serve_on`] serves a built app on a bound listener |
//! | [`simulator`] | `POST /simulator/recordings`, `PUT /simulator/transcripts/{sha256}`: audio and transcripts for simulated calls (fake telephony only) |
//! | [`simulate`], [`demo`] | `callbook simulate-call` (plays Twilio's part against a server) and `callbook demo` |
//! | [`cli_accounts`] | `callbook tenant create` and `callbook user add` (one-time passwords) |
//! | [`web`] | the dashboard under `/app`: server-rendered pages (maud) and small JavaScript modules over the API |
//! | [`transcribe`], [`extract`] | the `callbook transcribe` and `callbook extract` subcommands |
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use callbook_server::{app, config::Config, ops::Metrics, serve};
//! let config = Config::from_env()?;              // a bad value names its variable
//! let built = app::build(&config, Metrics::local()).await?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! serve::serve_on(listener, built, serve::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod app;
pub mod backup;
pub mod billing;
pub mod billing_webhook;
pub mod cli_accounts;
pub mod config;
pub mod demo;
pub mod extract;
pub mod hardening;
pub mod ops;
// ---- issue 8 privacy/settings
pub mod privacy;
pub mod retention;
// ---- end issue 8 privacy/settings
#[cfg(feature = "sentry")]
pub mod sentry;
pub mod serve;
pub mod simulate;
pub mod simulator;
pub mod transcribe;
pub mod web;
pub mod webhooks;
pub mod worker;
