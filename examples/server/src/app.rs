//! The application state built from a [`Config`], and the router.
//!
//! [`build`] opens (and migrates) the job store, opens the encrypted recording store, picks telephony,
//! transcriber and extractor, and finds or creates the bootstrap tenant. [`router`] is the axum app over it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use callbook_extract::Extractor;
use callbook_jobs::{JobStore, NewPhoneLine, NewTenant, PhoneNumber, Tenant, WebhookMode};
use callbook_pipeline::notify::{Fanout, InboxNotifier, LiveHub, Notifier};
use callbook_pipeline::{Worker, WorkerConfig, WorkerHandle};
use callbook_storage::{EncryptedStore, Keyring, MasterKey};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::signature::WebhookVerifier;
use callbook_telephony::telephony::Telephony;
use callbook_telephony::twilio::TwilioTelephonyBuilder;
use callbook_transcribe::Transcriber;
use callbook_transcribe::fake::SidecarTranscriber;
use serde_json::json;

use crate::config::{Config, Secret, TranscriberKind};
use crate::ops::{self, Metrics};
use crate::webhooks;

/// The provider name of Twilio phone lines and calls in the job store.
pub const PROVIDER: &str = "twilio";

/// The provider name of the bootstrap marker line (see [`bootstrap_tenant`]).
const BOOTSTRAP_PROVIDER: &str = "callbook-bootstrap";
/// The number of the bootstrap marker line: not a dialable number, only a durable key in the job store.
const BOOTSTRAP_NUMBER: &str = "+10000000000";

/// Everything the handlers need. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The job store (tenants, lines, calls, jobs …).
    pub store: Arc<dyn JobStore>,
    /// The encrypted recording store.
    pub recordings: EncryptedStore,
    /// Telephony: Twilio REST, or the fake.
    pub telephony: Arc<dyn Telephony>,
    /// The fake telephony when no Twilio account is configured (the demo plays calls into it).
    pub fake_telephony: Option<FakeTelephony>,
    /// Verifies `X-Twilio-Signature`.
    pub verifier: WebhookVerifier,
    /// The auth token webhooks are signed with: `TWILIO_AUTH_TOKEN`, or a random per-process token when no
    /// Twilio account is configured (only in-process simulated calls can sign with it).
    pub webhook_token: Secret,
    /// `CALLBOOK_PUBLIC_URL`, no trailing slash.
    pub public_url: String,
    /// The bootstrap tenant.
    pub tenant: Tenant,
    /// The Twilio account the bootstrap tenant owns (`TWILIO_ACCOUNT_SID`, or the fake's account).
    pub account_sid: String,
    /// Metrics recorder handle.
    pub metrics: Metrics,
    /// `sqlite://` database file, checked by `/readyz`.
    pub sqlite_file: Option<PathBuf>,
    /// `file://` recordings directory, checked by `/readyz`.
    pub storage_dir: Option<PathBuf>,
    /// This process's live events (SSE clients subscribe here; fed by the notifier, across processes
    /// through Postgres `LISTEN/NOTIFY` when the database is Postgres).
    pub live: LiveHub,
    /// Where events go: the live hub (or the Postgres fan-out), the in-app inbox and e-mail when configured.
    pub notifier: Arc<dyn Notifier>,
    /// Wakes the worker when a recording callback queued a call.
    pub worker: WorkerHandle,
    /// The REST API's state (`/api/v1`).
    pub api: crate::api::ApiState,
    /// `CALLBOOK_DEMO_TRANSCRIPTS` when the demo transcriber is used (the simulator writes transcripts there).
    pub demo_transcripts_dir: Option<PathBuf>,
    // ---- issue 8 (hardening)
    /// Rate limiters and the hardening settings ([`crate::hardening`]).
    pub hardening: Arc<crate::hardening::Hardening>,
    // ---- end issue 8
}

/// The built application: its state, the worker to run beside it, and the start-up report.
#[derive(Debug)]
pub struct App {
    /// Shared state.
    pub state: AppState,
    /// The pipeline worker over the same backends.
    pub worker: Worker,
    /// What is used for each part, one line each, without secrets.
    pub report: Vec<String>,
}

/// The axum router: webhooks, `/healthz`, `/readyz`, `/metrics` and the REST API under `/api/v1`, inside the
/// layers of [`crate::hardening`] and the request-id span.
pub fn router(state: AppState) -> Router {
    let api = crate::api::router(state.api.clone());
    let billing_api = state.api.clone();
    let web = crate::web::router(state.api.clone()); // issue 9: the dashboard under /app
    let simulator = crate::simulator::router(&state);
    let hardening = state.hardening.clone(); // issue 8
    let router = Router::new()
        .route("/webhooks/twilio/voice", post(webhooks::voice))
        .route("/webhooks/twilio/status", post(webhooks::status))
        .route("/webhooks/twilio/recording", post(webhooks::recording))
        .route("/webhooks/twilio/record-done", post(webhooks::record_done))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
        .merge(api)
        // issue 8 billing: Stripe's webhooks, beside Twilio's (same body and rate limits, no cookie auth)
        .merge(crate::billing_webhook::router(billing_api))
        .merge(simulator)
        .merge(web);
    // ---- issue 8 (hardening): security headers, panics, client IP, body and rate limits, timeouts
    let router = crate::hardening::apply(router, hardening);
    // ---- end issue 8
    router.layer(axum::middleware::from_fn(ops::request_id))
}

/// Opens the job store named by the config and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn JobStore>> {
    if let Some(path) = sqlite_file(config.database_url.expose())
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    callbook_jobs::open(config.database_url.expose())
        .await
        .with_context(|| {
            format!(
                "CALLBOOK_DATABASE_URL: cannot open {}",
                crate::config::redact_url(config.database_url.expose())
            )
        })
}

/// The file of a `sqlite://path` URL (not `sqlite::memory:`).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// Writes `contents` to a new file readable only by the owner (mode 0600 on Unix).
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// The master keyring: `CALLBOOK_MASTER_KEY`, else `DATA_DIR/master.key`, generated on first start.
pub fn keyring(config: &Config) -> anyhow::Result<(Keyring, &'static str)> {
    if let Some(keyring) = &config.master_key {
        return Ok((keyring.clone(), "CALLBOOK_MASTER_KEY"));
    }
    let path = config.data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(spec) => {
            let keyring = Keyring::parse(spec.trim())
                .with_context(|| format!("{} is not a valid master key", path.display()))?;
            Ok((keyring, "reused"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate(Some("k1")).context("generating a master key")?;
            write_private(&path, &format!("{}\n", key.export()))?;
            Ok((Keyring::new(key), "generated"))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The admin token: `CALLBOOK_ADMIN_TOKEN`, else `DATA_DIR/admin.token`, generated on first start. The
/// string says where it is, for the start-up hint (never the token itself).
pub fn admin_token(config: &Config) -> anyhow::Result<(Secret, String)> {
    if let Some(token) = &config.admin_token {
        return Ok((token.clone(), "the value of CALLBOOK_ADMIN_TOKEN".to_owned()));
    }
    let path = config.data_dir.join("admin.token");
    let hint = format!("the token in {} (`cat` it)", path.display());
    match std::fs::read_to_string(&path) {
        Ok(token) if token.trim().len() >= 16 => Ok((Secret::new(token.trim()), hint)),
        Ok(_) => anyhow::bail!(
            "{} holds no usable token: delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_token();
            write_private(&path, &format!("{token}\n"))?;
            Ok((Secret::new(token), hint))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The webhook signing token of the fake telephony (no Twilio account configured): `DATA_DIR/simulator.token`,
/// generated on first start, so `callbook simulate-call` on the same machine can sign calls for this server.
pub fn simulator_token(config: &Config) -> anyhow::Result<Secret> {
    let path = config.data_dir.join("simulator.token");
    match std::fs::read_to_string(&path) {
        Ok(token) if token.trim().len() >= 16 => Ok(Secret::new(token.trim())),
        Ok(_) => anyhow::bail!(
            "{} holds no usable token: delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_token();
            write_private(&path, &format!("{token}\n"))?;
            Ok(Secret::new(token))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens the encrypted recording store.
pub fn recording_store(config: &Config, keyring: Keyring) -> anyhow::Result<EncryptedStore> {
    let mut builder = EncryptedStore::builder()
        .with_url(config.storage_url.clone())
        .with_keyring(keyring);
    if config.storage_url.starts_with("s3://") {
        if let Some(endpoint) = &config.s3.endpoint {
            builder = builder.with_s3_endpoint(endpoint);
        }
        if let Some(region) = &config.s3.region {
            builder = builder.with_s3_region(region);
        }
        if let Some((id, secret)) = &config.s3.credentials {
            builder = builder.with_s3_credentials(id, secret.expose());
        }
        builder = builder.with_s3_allow_http(config.s3.allow_http);
    }
    builder
        .build()
        .with_context(|| format!("CALLBOOK_STORAGE_URL: cannot open {}", config.storage_url))
}

/// The transcriber the config selects.
pub fn transcriber(config: &Config) -> anyhow::Result<Arc<dyn Transcriber>> {
    use crate::transcribe::Choice;
    match config.transcriber {
        TranscriberKind::Demo => Ok(Arc::new(
            SidecarTranscriber::new().with_dir(&config.demo_transcripts_dir),
        )),
        TranscriberKind::OpenAi => crate::transcribe::transcriber(Choice::OpenAi),
        TranscriberKind::WhisperLocal => crate::transcribe::transcriber(Choice::WhisperLocal),
    }
}

/// The extractor the config selects.
pub fn extractor(config: &Config) -> anyhow::Result<Arc<dyn Extractor>> {
    callbook_extract::batch::extractor_from_name(config.extractor.name())
        .with_context(|| format!("CALLBOOK_EXTRACTOR={}", config.extractor.name()))
}

/// The master key signing links and feed tokens: the keyring's primary key (a copy).
fn keyring_primary(keyring: &Keyring) -> MasterKey {
    keyring.primary().clone()
}

/// The notifier for live events: on Postgres (feature `postgres`) a `LISTEN/NOTIFY` fan-out into `live`, so
/// every server process's SSE clients hear events produced anywhere; otherwise the hub itself.
async fn live_notifier(config: &Config, live: &LiveHub) -> anyhow::Result<(Arc<dyn Notifier>, String)> {
    let url = config.database_url.expose();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let fanout = callbook_pipeline::notify::PgFanout::connect(url, live.clone())
                .await
                .context("CALLBOOK_DATABASE_URL: cannot listen for events")?;
            return Ok((
                Arc::new(fanout),
                "Postgres LISTEN/NOTIFY fan-out (all server processes)".to_owned(),
            ));
        }
    }
    Ok((Arc::new(live.clone()), "in-process hub (this process)".to_owned()))
}

/// Finds the bootstrap tenant again, or creates it (with the default voice settings) on first start.
///
/// The job store has no "find tenant by name" (and names are not unique), so the tenant is remembered by a
/// marker phone line of provider `callbook-bootstrap` in the same database: durable, shared by every server
/// process on one Postgres, and never routed to by a real webhook (their provider is `twilio`).
pub async fn bootstrap_tenant(
    store: &dyn JobStore,
    name: &str,
    timezone: callbook_jobs::TimeZone,
    account_sid: &str,
) -> anyhow::Result<(Tenant, bool)> {
    let marker = PhoneNumber::parse(BOOTSTRAP_NUMBER).context("bootstrap marker number")?;
    if let Some(line) = store.route_phone_line(BOOTSTRAP_PROVIDER, &marker).await? {
        return Ok((store.get_tenant(line.tenant_id).await?, false));
    }
    let mut new = NewTenant::new(name, timezone);
    new.settings = default_settings();
    let tenant = store.create_tenant(new).await.context("creating the tenant")?;
    let line = NewPhoneLine {
        provider: BOOTSTRAP_PROVIDER.to_owned(),
        number: marker.clone(),
        provider_account_id: account_sid.to_owned(),
        provider_number_id: None,
        credentials: None,
        webhook_mode: WebhookMode::Record,
    };
    match store.add_phone_line(tenant.id, line).await {
        Ok(_) => Ok((tenant, true)),
        // Another process created it at the same moment: use theirs.
        Err(callbook_jobs::Error::AlreadyExists { .. }) => {
            let line = store
                .route_phone_line(BOOTSTRAP_PROVIDER, &marker)
                .await?
                .context("bootstrap marker vanished")?;
            Ok((store.get_tenant(line.tenant_id).await?, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// The settings a new tenant starts with: what callers hear. Staff change them later (per tenant, and per
/// line under `voice.lines["+1…"]`, where `forward_to` turns on `<Dial record>` forwarding). `{business}` in
/// the greeting is replaced by the tenant's name.
pub fn default_settings() -> serde_json::Value {
    json!({
        "voice": {
            "greeting": "Thanks for calling {business}.",
            "recording_notice": "This call is recorded.",
            "ai_disclosure": "An automated assistant transcribes your message so we can book your visit.",
            "voicemail_prompt": "After the beep, please tell us your name, your address, what you need and when.",
            "goodbye": "Thank you. We will get back to you shortly. Goodbye.",
            "no_message": "We did not catch a message. Goodbye.",
            "say_voice": "Polly.Joanna",
            "language": "en-US",
            "max_message_seconds": 300,
            "lines": {}
        },
        // issue 8: call filtering and retention, so a new tenant's settings document shows them
        "filtering": {"block": [], "allow": [], "min_call_seconds": 0,
            "reject_anonymous": false, "reject_failed_attestation": false},
        "retention": {"audio_days": callbook_storage::retention::DEFAULT_AUDIO_RETENTION_DAYS,
            "transcript_days": null, "extraction_days": null}
    })
}

/// Builds the application from the config: store, recordings, providers, bootstrap tenant, worker.
pub async fn build(config: &Config, metrics: Metrics) -> anyhow::Result<App> {
    let store = open_store(config).await?;
    let (keyring, key_source) = keyring(config)?;
    let recordings_keyring = keyring.clone();
    let recordings = recording_store(config, keyring)?;
    let (telephony, fake_telephony, account_sid, webhook_token): (Arc<dyn Telephony>, _, _, _) =
        if config.twilio.uses_rest() {
            let account_sid = config.twilio.account_sid.clone().unwrap_or_default();
            let token = config
                .twilio
                .auth_token
                .clone()
                .context("TWILIO_AUTH_TOKEN: missing")?;
            let mut builder = TwilioTelephonyBuilder::new()
                .with_account_sid(&account_sid)
                .with_auth_token(token.expose())
                .with_base_url(&config.twilio.api_base_url);
            if let Some((key, secret)) = &config.twilio.api_key {
                builder = builder.with_api_key(key, secret.expose());
            }
            let twilio = builder
                .build()
                .context("TWILIO_*: cannot set up the Twilio client")?;
            (Arc::new(twilio), None, account_sid, token)
        } else {
            let fake = FakeTelephony::new();
            let sid = fake.account_sid().as_str().to_owned();
            (Arc::new(fake.clone()), Some(fake), sid, simulator_token(config)?)
        };
    let verifier = WebhookVerifier::new(webhook_token.expose());
    let transcriber = transcriber(config)?;
    let extractor = extractor(config)?;
    let (tenant, created) =
        bootstrap_tenant(store.as_ref(), &config.tenant_name, config.timezone, &account_sid).await?;
    let (admin, admin_hint) = admin_token(config)?;

    let live = LiveHub::new();
    let (live_notifier, live_source) = live_notifier(config, &live).await?;
    let mut notifiers: Vec<Arc<dyn Notifier>> =
        vec![live_notifier, Arc::new(InboxNotifier::new(store.clone()))];
    let mut mail = "off (set CALLBOOK_SMTP_URL and CALLBOOK_SMTP_FROM)".to_owned();
    if let Some(url) = &config.smtp_url {
        let from = std::env::var("CALLBOOK_SMTP_FROM")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .context("CALLBOOK_SMTP_FROM: missing while CALLBOOK_SMTP_URL is set (the sender address)")?;
        let email = callbook_pipeline::notify::EmailNotifier::builder(store.clone())
            .with_url(url.expose())
            .with_from(&from)
            .with_public_url(&config.public_url)
            .build()
            .context("CALLBOOK_SMTP_URL: cannot set up e-mail")?;
        notifiers.push(Arc::new(email));
        mail = format!("SMTP {}", crate::config::redact_url(url.expose()));
    }
    let notifier: Arc<dyn Notifier> = Arc::new(Fanout::new(notifiers));

    let mut worker_config = WorkerConfig::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    if std::env::var("CALLBOOK_WORKER_ID").is_err() {
        // Unique even for several server processes in one container (same host name and pid 1).
        worker_config = worker_config.with_owner(format!(
            "callbook-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
    }
    let worker = Worker::new(
        worker_config,
        store.clone(),
        telephony.clone(),
        Arc::new(recordings.clone()),
        transcriber.clone(),
        extractor,
    )
    .with_notifier(notifier.clone());

    let master = keyring_primary(&recordings_keyring);
    let auth = crate::api::AdminToken::new(admin.expose(), tenant.id)
        .context("the admin token is shorter than 16 characters")?;
    let api = crate::api::ApiState::new(
        store.clone(),
        Arc::new(recordings.clone()),
        callbook_storage::PlaybackSigner::from_master_key(&master),
        Arc::new(auth),
        crate::api::FeedTokens::from_master_key(&master),
    )
    .with_retry(Arc::new(worker.clone()))
    .with_notifier(notifier.clone())
    .with_live(live.clone())
    .with_telephony(telephony.clone())
    .with_public_url(&config.public_url)
    // ---- issue 8 (accounts): CSRF key from the master key, login limits, Secure cookies under https
    .with_accounts(
        crate::api::Accounts::new(crate::api::auth_secrets::CsrfKey::from_master_key(&master))
            .with_login_rate(config.hardening.login_rate)
            .with_api_rate(config.hardening.api_rate)
            .with_secure_cookies(config.hardening.https),
    )
    // issue 8: phone-line credentials sealed under a key derived from the master key
    .with_credentials_key(&master);
    // ---- issue 8 billing: Stripe when STRIPE_SECRET_KEY is set, else the offline fake
    let (billing, billing_source) = crate::billing::provider_from_lookup(|k| std::env::var(k).ok())?;
    let billing_interval = crate::billing::interval_from_lookup(|k| std::env::var(k).ok())?;
    let api = api.with_billing(billing.clone());
    // ---- end issue 8 billing

    let mut report = config.describe();
    report.push(format!("master key     {key_source}"));
    report.push(format!(
        "tenant id      {} ({})",
        tenant.id,
        if created { "created" } else { "found again" }
    ));
    report.push(format!("transcriber    provider {}", transcriber.provider()));
    if fake_telephony.is_some() {
        report.push(
            "webhooks       no Twilio account: fake telephony; `callbook simulate-call` signs calls with DATA_DIR/simulator.token"
                .to_owned(),
        );
    }
    report.push(format!("live events    {live_source}"));
    report.push(format!("e-mail         {mail}"));
    report.push(format!(
        "admin token    use {admin_hint} as `Authorization: Bearer …` on {}/api/v1 (OpenAPI at /api/v1/openapi.json)",
        config.public_url
    ));

    report.push(
        "accounts       log in with POST /api/v1/auth/login; `callbook user add --login L --role R` makes users"
            .to_owned(),
    );
    // ---- issue 8 privacy/settings: retention on a schedule beside the worker
    match config.retention_interval {
        Some(every) => {
            crate::retention::spawn(api.store.clone(), api.recordings.clone(), every, None);
            report.push(format!(
                "retention      every {}s (CALLBOOK_RETENTION_INTERVAL)",
                every.as_secs()
            ));
        }
        None => report.push("retention      off (CALLBOOK_RETENTION_INTERVAL=off)".to_owned()),
    }
    // ---- issue 8 billing: usage reports on a schedule beside retention
    report.push(format!("billing        {billing_source}"));
    match billing_interval {
        Some(every) => {
            crate::billing::spawn(api.store.clone(), billing, every, None);
            report.push(format!(
                "billing usage  reported every {}s (CALLBOOK_BILLING_REPORT_INTERVAL)",
                every.as_secs()
            ));
        }
        None => report.push("billing usage  not reported (CALLBOOK_BILLING_REPORT_INTERVAL=off)".to_owned()),
    }
    // ---- end issue 8 billing
    // ---- end issue 8 privacy/settings

    let storage_dir = config.storage_url.strip_prefix("file://").map(PathBuf::from);
    let state = AppState {
        store,
        recordings,
        telephony,
        fake_telephony,
        verifier,
        webhook_token,
        public_url: config.public_url.clone(),
        tenant,
        account_sid,
        metrics,
        sqlite_file: sqlite_file(config.database_url.expose()),
        storage_dir,
        live,
        notifier,
        worker: worker.handle(),
        api,
        demo_transcripts_dir: (config.transcriber == TranscriberKind::Demo)
            .then(|| config.demo_transcripts_dir.clone()),
        hardening: Arc::new(crate::hardening::Hardening::new(config.hardening.clone())),
    };
    Ok(App {
        state,
        worker,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_of_a_url() {
        assert_eq!(
            sqlite_file("sqlite://./d/cb.db"),
            Some(PathBuf::from("./d/cb.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///abs/cb.db?mode=rwc"),
            Some(PathBuf::from("/abs/cb.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x"), None);
    }

    #[test]
    fn master_key_is_generated_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config =
            Config::from_lookup(|k| (k == "CALLBOOK_DATA_DIR").then(|| data.display().to_string())).unwrap();
        let (first, source) = keyring(&config).unwrap();
        assert_eq!(source, "generated");
        let path = data.join("master.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = keyring(&config).unwrap();
        assert_eq!(source, "reused");
        assert_eq!(first.primary().export(), again.primary().export());

        std::fs::write(&path, "garbage").unwrap();
        let e = keyring(&config).unwrap_err();
        assert!(format!("{e:#}").contains("master.key"), "{e:#}");
    }

    #[test]
    fn admin_token_is_generated_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            Config::from_lookup(|k| (k == "CALLBOOK_DATA_DIR").then(|| dir.path().display().to_string()))
                .unwrap();
        let (a, hint) = admin_token(&config).unwrap();
        assert!(hint.contains("admin.token"));
        assert!(!hint.contains(a.expose()));
        let (b, _) = admin_token(&config).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose().len(), 48);
    }

    #[tokio::test]
    async fn bootstrap_tenant_is_found_again_not_duplicated() {
        let store: Arc<dyn JobStore> = Arc::new(callbook_jobs::InMemoryJobStore::new());
        let tz = callbook_jobs::TimeZone::parse("Europe/Paris").unwrap();
        let (a, created) = bootstrap_tenant(store.as_ref(), "Acme", tz, "AC1").await.unwrap();
        assert!(created);
        assert_eq!(a.name, "Acme");
        assert_eq!(a.timezone.name(), "Europe/Paris");
        assert_eq!(a.settings["voice"]["recording_notice"], "This call is recorded.");
        let (b, created) = bootstrap_tenant(store.as_ref(), "Acme", tz, "AC1").await.unwrap();
        assert!(!created);
        assert_eq!(a.id, b.id);
    }
}
