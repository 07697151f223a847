//! The REST API under `/api/v1` (DESIGN.md §5): an independent axum router the application merges.
//!
//! ```
//! use std::sync::Arc;
//!
//! use callbook_jobs::{InMemoryJobStore, NewTenant, TenantStore, TimeZone};
//! use callbook_server::api::{self, AdminToken, ApiState, FeedTokens};
//! use callbook_storage::{EncryptedStore, Keyring, MasterKey, PlaybackSigner};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(InMemoryJobStore::new());
//! let tenant = store.create_tenant(NewTenant::new("Acme Plumbing", TimeZone::UTC)).await?;
//! let master = MasterKey::generate(None)?; // CALLBOOK_MASTER_KEY in the server
//! let playback = PlaybackSigner::from_master_key(&master);
//! let feeds = FeedTokens::from_master_key(&master);
//! let recordings = Arc::new(EncryptedStore::in_memory(Keyring::new(master)));
//! let auth = AdminToken::new("the CALLBOOK_ADMIN_TOKEN value", tenant.id).expect("16 bytes or more");
//! let state = ApiState::new(store, recordings, playback, Arc::new(auth), feeds)
//!     .with_public_url("https://callbook.example.com");
//! // In the server also: .with_retry(Arc::new(worker.clone())) to wake the worker after a manual retry,
//! // .with_notifier(fanout) for job events made through the API, .with_live(hub) for GET /api/v1/events.
//! let app: axum::Router = axum::Router::new().merge(api::router(state)); // + webhooks, health, metrics
//! # let _ = app;
//! # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! * **Auth** ([`auth`], [`accounts`]): `Authorization: Bearer cb_…` API tokens, the bootstrap token through an
//!   [`Authenticator`], or the `callbook_session` cookie of `POST /auth/login` (writes need `X-CSRF-Token`); each
//!   resolves to a [`Principal`] of one tenant, and every store call is scoped to that tenant, so another tenant's
//!   ids are `404`, exactly like ids that do not exist. Two routes
//!   take no bearer token because the URL is the credential: the signed audio link
//!   (`/calls/{id}/audio?t=…&sig=…`, a [`PlaybackSigner`] token bound to tenant, recording and expiry) and the
//!   calendar feed (`/calendar/{token}.ics`, see [`feed`]).
//! * **Errors** are RFC 9457 problem documents with a stable `code` ([`problem`]).
//! * **Concurrency**: a job's `version` is its ETag (`"3"`); `PATCH` and `move` need `If-Match` (or a
//!   `version` field): stale is `409 version_conflict`, missing is `428 precondition_required`.
//! * **OpenAPI**: generated from the handlers with utoipa and served at `/api/v1/openapi.json`. The routes are
//!   mounted through `utoipa-axum`'s `OpenApiRouter`, so a route cannot be mounted without being documented.
//! * **Photos** are sniffed from their magic bytes (`infer`), limited to [`jobs::MAX_PHOTO_BYTES`], and stored
//!   encrypted in the [`RecordingStore`]. The storage crate has no artefact kind for photos yet, so a photo of
//!   job `J` lives at `{tenant}/job-{J}/extraction/photo-{photo id}` (the `extraction` kind is kept until
//!   deleted by the default retention policy and is shredded with the tenant); the job's photo record keeps
//!   that key.
//! * **Live events**: `GET /events` streams the tenant's events from a [`LiveHub`] as Server-Sent Events with
//!   `Last-Event-ID` replay ([`events`]); changes made through the API are published to the
//!   [`ApiState::notifier`] as `job.created`, `job.updated` and `job.moved`.
//! * **Confidence calibration**: [`quality::calibrate`] turns corrections into a per-(extractor, field)
//!   correction rate and an adjusted confidence, served at `/quality`.
//!
//! Crates: axum (the workspace's server), `utoipa` + `utoipa-axum` (OpenAPI from code, no UI), `infer`
//! (magic-byte sniffing), `hmac`/`sha2`/`subtle`/`hkdf` (feed tokens, constant-time token compare).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::routing::{any, get};
use callbook_jobs::{Call, CallId, Job, JobStore, TenantId};
use callbook_pipeline::notify::{Event, EventKind, LiveHub, Notifier};
use callbook_storage::{PlaybackSigner, RecordingStore};
use chrono::Utc;
use utoipa::OpenApi;
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod accounts;
pub mod auth;
pub mod auth_secrets;
// ---- issue 8 billing
pub mod billing;
// ---- end issue 8 billing
pub mod calls;
pub mod customers;
pub mod events;
pub mod feed;
pub mod jobs;
pub mod lines;
// ---- issue 9 notifications
pub mod notifications;
// ---- end issue 9 notifications
// ---- issue 8 privacy/settings
pub mod privacy;
pub mod settings;
// ---- end issue 8 privacy/settings
pub mod problem;
pub mod quality;

pub use accounts::Accounts;
pub use auth::{AdminToken, Authenticator, Principal};
pub use feed::FeedTokens;
pub use problem::{ApiError, ApiResult, Problem};

/// The prefix every API route lives under.
pub const PREFIX: &str = "/api/v1";

/// Puts a finished or dead call back in the queue and wakes whatever processes it.
///
/// Implemented for [`callbook_pipeline::Worker`] (its `retry_call` re-queues and wakes the running loop). Without
/// one, the API re-queues through the store and the worker picks the call up at its next poll.
#[async_trait]
pub trait CallRetrier: Send + Sync + fmt::Debug + 'static {
    /// Re-queues the call; a call that is not final is [`callbook_jobs::Error::InvalidState`] (→ `409`).
    async fn retry_call(&self, tenant: TenantId, id: CallId) -> Result<Call, ApiError>;
}

#[async_trait]
impl CallRetrier for callbook_pipeline::Worker {
    async fn retry_call(&self, tenant: TenantId, id: CallId) -> Result<Call, ApiError> {
        callbook_pipeline::Worker::retry_call(self, tenant, id)
            .await
            .map_err(|e| match e {
                callbook_pipeline::Error::Jobs(e) => ApiError::from(e),
                _ => ApiError::internal(),
            })
    }
}

/// Everything the API needs. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// Tenants, calls, customers, jobs.
    pub store: Arc<dyn JobStore>,
    /// Encrypted recordings and photos.
    pub recordings: Arc<dyn RecordingStore>,
    /// Signs and checks playback links (share its secret across instances, e.g. `from_master_key`).
    pub playback: PlaybackSigner,
    /// Bearer token → tenant.
    pub auth: Arc<dyn Authenticator>,
    /// Calendar feed tokens.
    pub feeds: FeedTokens,
    /// Wakes the worker after a manual retry; `None` re-queues through the store only.
    pub retry: Option<Arc<dyn CallRetrier>>,
    /// The externally visible base URL (`CALLBOOK_PUBLIC_URL`, no trailing slash) for absolute links;
    /// empty gives links relative to the host.
    pub public_url: String,
    /// The length of a visit when an appointment names only a start (re-booking after an override).
    pub default_visit: chrono::TimeDelta,
    /// Where job events made through the API go (`job.created`, `job.updated`, `job.moved`): the same
    /// notifier (fan-out) the worker uses. `None` publishes nothing.
    pub notifier: Option<Arc<dyn Notifier>>,
    /// The live hub `GET /events` subscribes to (fed by the worker's notifier, and by `PgFanout` across
    /// processes). `None` answers `/events` with `503`.
    pub live: Option<LiveHub>,
    /// How often an idle event stream sends a keep-alive comment ([`events::KEEP_ALIVE`] by default).
    pub keep_alive: std::time::Duration,
    /// Turns `true` when the server shuts down: open event streams end (see [`ApiState::with_shutdown`]).
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    /// The telephony provider the phone-line endpoints search, buy, configure and release numbers with
    /// ([`lines`]). `None` answers them with `503 telephony_unavailable` (listing still works).
    pub telephony: Option<Arc<dyn callbook_telephony::telephony::Telephony>>,
    // ---- issue 8 (accounts)
    /// Sessions, CSRF, password hashing and login limits ([`accounts`]).
    pub accounts: Accounts,
    // ---- end issue 8
    // ---- issue 8 privacy/settings
    /// Seals phone-line provider credentials (`PUT /phone-lines/{id}/credentials`); `None` answers `503`.
    pub credentials: Option<lines::credentials::CredentialCipher>,
    // ---- end issue 8 privacy/settings
    // ---- issue 8 billing
    /// The billing provider (`GET /billing`, the subscription, `POST /webhooks/stripe`); `None` answers the
    /// writes with `503` and the page with `billing_unavailable`.
    pub billing: Option<Arc<dyn callbook_billing::BillingProvider>>,
    // ---- end issue 8 billing
}

impl fmt::Debug for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiState")
            .field("store", &self.store)
            .field("recordings", &self.recordings)
            .field("auth", &self.auth)
            .field("retry", &self.retry.is_some())
            .field("public_url", &self.public_url)
            .field("notifier", &self.notifier.is_some())
            .field("live", &self.live.is_some())
            .field("telephony", &self.telephony.is_some())
            .field("accounts", &self.accounts)
            .field("billing", &self.billing)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// The state with no retrier, relative links and one-hour visits.
    pub fn new(
        store: Arc<dyn JobStore>,
        recordings: Arc<dyn RecordingStore>,
        playback: PlaybackSigner,
        auth: Arc<dyn Authenticator>,
        feeds: FeedTokens,
    ) -> Self {
        Self {
            store,
            recordings,
            playback,
            auth,
            feeds,
            retry: None,
            public_url: String::new(),
            default_visit: chrono::TimeDelta::hours(1),
            notifier: None,
            live: None,
            keep_alive: events::KEEP_ALIVE,
            shutdown: None,
            telephony: None,
            // A per-process CSRF key until `with_accounts` sets the server's (derived from the master key).
            accounts: Accounts::new(auth_secrets::CsrfKey::random()),
            credentials: None,
            billing: None,
        }
    }

    // ---- issue 8 billing
    /// Shows and changes the tenant's plan through `billing`, and accepts its webhooks.
    pub fn with_billing(mut self, billing: Arc<dyn callbook_billing::BillingProvider>) -> Self {
        self.billing = Some(billing);
        self
    }
    // ---- end issue 8 billing

    /// Sets the account settings (CSRF key, hashing, login limits, cookie flags).
    pub fn with_accounts(mut self, accounts: Accounts) -> Self {
        self.accounts = accounts;
        self
    }

    // ---- issue 8 privacy/settings
    /// Seals phone-line credentials with a key derived from `master` (HKDF, its own info string).
    pub fn with_credentials_key(mut self, master: &callbook_storage::MasterKey) -> Self {
        self.credentials = Some(lines::credentials::CredentialCipher::from_master_key(master));
        self
    }
    // ---- end issue 8 privacy/settings

    /// Ends open event streams when `shutdown` turns `true`, so a graceful shutdown is not held up by SSE
    /// clients (they reconnect to another instance with `Last-Event-ID`).
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Buys, configures and releases numbers through `telephony` (`/phone-lines`).
    pub fn with_telephony(mut self, telephony: Arc<dyn callbook_telephony::telephony::Telephony>) -> Self {
        self.telephony = Some(telephony);
        self
    }

    /// Sets the keep-alive interval of event streams.
    pub fn with_keep_alive(mut self, every: std::time::Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// Serves `GET /events` from `hub`.
    pub fn with_live(mut self, hub: LiveHub) -> Self {
        self.live = Some(hub);
        self
    }

    /// Publishes job events made through the API to `notifier` (e.g. the fan-out to the live hub).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Tells the notifier about a job change; a failed delivery is logged, never fails the request.
    pub(crate) async fn job_event(&self, kind: EventKind, job: &Job) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let mut event = Event::new(job.tenant_id, kind, Utc::now())
            .with_job(job.id)
            .with_data(serde_json::json!({"stage": job.stage.as_str(), "version": job.version}));
        if let Some(source) = job.source {
            event = event.with_call(source.call_id);
        }
        if notifier.notify(&event).await.is_err() {
            tracing::warn!(kind = kind.as_str(), "could not deliver a job event");
        }
    }

    /// Wakes `retry` after a manual retry (pass the pipeline's `Worker`).
    pub fn with_retry(mut self, retry: Arc<dyn CallRetrier>) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The public base URL for absolute links (playback, calendar feed).
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// An absolute (or host-relative) URL of an API path below [`PREFIX`].
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{PREFIX}{path}", self.public_url)
    }
}

/// The OpenAPI document's fixed parts; paths come from the mounted handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Callbook API",
        description = "Calls, jobs, customers, corrections and usage of one tenant. Errors are RFC 9457 problem \
                       documents (`application/problem+json`) with a stable `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, problem::FieldProblem))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // issue 8: browser sessions (writes also need `X-CSRF-Token`).
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(auth_secrets::SESSION_COOKIE),
            )),
        );
    }
}

/// The API's routes with their OpenAPI document (paths include [`PREFIX`]).
pub fn openapi_router() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::<ApiState>::new()
        .routes(routes!(calls::list_calls))
        .routes(routes!(calls::get_call, privacy::delete_call))
        .routes(routes!(calls::call_audio))
        .routes(routes!(calls::retry_call))
        .routes(routes!(calls::add_correction))
        .routes(routes!(calls::override_extraction))
        .routes(routes!(calls::not_an_appointment))
        .routes(routes!(jobs::list_jobs, jobs::create_job))
        .routes(routes!(jobs::get_job, jobs::patch_job))
        .routes(routes!(jobs::move_job))
        .routes(routes!(jobs::list_notes, jobs::add_note))
        .routes(routes!(jobs::job_history))
        .routes(routes!(jobs::list_photos, jobs::upload_photo))
        .routes(routes!(jobs::get_photo))
        .routes(routes!(jobs::job_calendar))
        .routes(routes!(jobs::calendar_feed_url))
        .routes(routes!(jobs::calendar_feed))
        .routes(routes!(customers::search_customers))
        .routes(routes!(customers::merge_suggestions))
        .routes(routes!(customers::dismiss_suggestion))
        .routes(routes!(customers::get_customer, privacy::delete_customer))
        .routes(routes!(customers::merge_customers))
        .routes(routes!(customers::undo_merge))
        .routes(routes!(quality::get_quality))
        .routes(routes!(quality::get_usage))
        .routes(routes!(events::events))
        .routes(routes!(lines::list_lines, lines::buy_line))
        .routes(routes!(lines::available_numbers))
        .routes(routes!(lines::reconfigure_line))
        .routes(routes!(lines::release_line))
        // ---- issue 8 (accounts)
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::list_users, accounts::create_user))
        .routes(routes!(accounts::update_user, accounts::delete_user))
        .routes(routes!(accounts::set_password))
        .routes(routes!(accounts::list_tokens, accounts::create_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(lines::put_credentials, lines::delete_credentials))
        .routes(routes!(privacy::export_customer))
        .routes(routes!(privacy::export_tenant))
        .routes(routes!(privacy::delete_tenant))
        .routes(routes!(privacy::list_holds, privacy::place_hold))
        .routes(routes!(privacy::release_hold))
        .routes(routes!(privacy::list_audit))
        .routes(routes!(settings::get_settings, settings::patch_settings))
        .routes(routes!(settings::get_profile, settings::put_profile))
        .routes(routes!(
            settings::get_my_notifications,
            settings::put_my_notifications
        ))
        .routes(routes!(settings::block_caller))
        // ---- issue 8 billing
        .routes(routes!(billing::get_billing))
        .routes(routes!(billing::subscribe, billing::cancel))
        // ---- issue 9 notifications
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::mark_all_read))
        // ---- end issue 9 notifications
        // ---- issue 9 review
        .routes(routes!(calls::review_call))
        .routes(routes!(customers::list_merges));
    // ---- end issue 9 review
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(PREFIX, api)
        .split_for_parts();
    // ---- issue 8: every route that takes a bearer token also takes the session cookie (see `auth`).
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    let session = SecurityRequirement::new("session", Vec::<String>::new());
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for security in operations
            .into_iter()
            .flatten()
            .filter_map(|op| op.security.as_mut())
        {
            if security.contains(&bearer) && !security.contains(&session) {
                security.push(session.clone());
            }
        }
    }
    // ---- end issue 8
    (router, doc)
}

/// The REST API as a router with its state applied: merge it into the application's router.
///
/// Serves every route of [`openapi_router`] plus `GET /api/v1/openapi.json` (the document itself); any other
/// path under `/api/v1` is a `404 not_found` problem document.
pub fn router(state: ApiState) -> Router {
    let (routes, doc) = openapi_router();
    let doc = Arc::new(doc);
    routes
        .route(
            &format!("{PREFIX}/openapi.json"),
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route(
            &format!("{PREFIX}/{{*rest}}"),
            any(|| async { ApiError::not_found("route") }),
        )
        .with_state(state)
}
