//! Shared set-up of the REST API tests: a store (in-memory or SQLite in a temp file), an encrypted in-memory
//! recording store, two tenants with their own tokens, and seeded calls, customers and jobs.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use callbook_jobs::{
    Actor, Call, CallState, InMemoryJobStore, Job, JobStore, JobStoreExt, NewCall, NewTenant, PhoneNumber,
    RecordingRef, SqliteJobStore, StoredExtraction, StoredTranscript, Tenant, TimeZone,
};
use callbook_server::api::{self, AdminToken, ApiState, Authenticator, FeedTokens, Principal};
use callbook_storage::{
    EncryptedStore, Keyring, MasterKey, PlaybackSigner, RecordingKey, RecordingOptions, RecordingStoreExt,
};
use chrono::{TimeZone as _, Utc};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const TOKEN: &str = "test-admin-token-tenant-a-0123456789";
pub const OTHER_TOKEN: &str = "test-admin-token-tenant-b-0123456789";

/// Two admin tokens, one per tenant.
#[derive(Debug)]
pub struct Tokens(pub Vec<AdminToken>);

#[async_trait]
impl Authenticator for Tokens {
    async fn authenticate(&self, token: &str) -> Option<Principal> {
        for t in &self.0 {
            if let Some(p) = t.authenticate(token).await {
                return Some(p);
            }
        }
        None
    }
}

#[path = "../../../../crates/jobs/tests/support/pg.rs"]
mod pg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    /// A fresh database in `CALLBOOK_TEST_DATABASE_URL`'s server (or a throwaway cluster); skipped when absent.
    Postgres,
}

pub struct Env {
    pub store: Arc<dyn JobStore>,
    pub recordings: Arc<EncryptedStore>,
    pub state: ApiState,
    pub app: Router,
    pub tenant: Tenant,
    pub other: Tenant,
    pub _dir: Option<tempfile::TempDir>,
    /// The database URL (SQLite file or Postgres), for tests that scan the database itself (issue 8).
    pub db_url: Option<String>,
}

/// The audio every seeded call has: 10,000 bytes of a recognisable pattern.
pub fn audio() -> Bytes {
    Bytes::from((0..10_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>())
}

pub fn extraction_doc() -> Value {
    json!({
        "call_kind": "live",
        "appointments": [{
            "customer_name": {"value": "Maria Lopez", "confidence": 0.93, "evidence": "this is Maria Lopez"},
            "customer_phone": {"value": "+19145552177", "confidence": 0.9, "evidence": "914 555 2177"},
            "service_address": {"value": {"line1": "42 Oak Street", "line2": "Apt 3B", "city": "Yonkers",
                "region": null, "postal_code": "10701", "country": null}, "confidence": 0.8, "evidence": "42 Oak Street"},
            "when": {"value": {"date": "2026-03-11", "time": "15:00", "start": "2026-03-11T15:00:00-04:00",
                "end": "2026-03-11T17:00:00-04:00", "flexible": false, "ambiguous": false},
                "phrase": "tomorrow between 3 and 5", "confidence": 0.9, "evidence": "tomorrow between 3 and 5"},
            "job_description": {"value": "kitchen sink leaking under the cabinet", "confidence": 0.8, "evidence": "sink"},
            "price": {"value": {"amount": "89.00", "currency": "USD", "kind": "quote"}, "confidence": 0.9, "evidence": "89"},
            "urgency": {"value": "urgent", "confidence": 0.7, "evidence": "soon"},
            "notes": {"value": "gate code 1234", "confidence": 0.6, "evidence": "gate code"}
        }],
        "confidence": 0.85,
        "extractor": {"name": "rules", "model": null, "version": "0.1.0"}
    })
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Self::try_new(backend).await.expect("this backend is available")
    }

    /// The environment, or `None` when the backend's service is absent (said on stderr).
    pub async fn try_new(backend: Backend) -> Option<Env> {
        Self::try_new_with(backend, None).await
    }

    /// The master key every environment's recording store and signers use.
    pub fn master_key() -> MasterKey {
        MasterKey::from_bytes(Some("k1"), &mut [42u8; 32]).unwrap()
    }

    /// Like [`Env::try_new`], with the given recording store (built over [`Env::master_key`]) instead of
    /// an in-memory one.
    pub async fn try_new_with(backend: Backend, recordings: Option<Arc<EncryptedStore>>) -> Option<Env> {
        let mut db_url = None;
        let (store, dir): (Arc<dyn JobStore>, _) = match backend {
            Backend::Memory => (Arc::new(InMemoryJobStore::new()), None),
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("api.db").display());
                db_url = Some(url.clone());
                (Arc::new(SqliteJobStore::open(&url).await.unwrap()), Some(dir))
            }
            Backend::Postgres => {
                let url = pg::fresh_database("REST API tests").await?;
                db_url = Some(url.clone());
                match callbook_jobs::open(&url).await {
                    Ok(store) => (store, None),
                    // Built without callbook-server's `postgres` feature.
                    Err(callbook_jobs::Error::Config(message)) => {
                        eprintln!("skipping Postgres: {message}");
                        return None;
                    }
                    Err(e) => panic!("cannot open the test database: {e}"),
                }
            }
        };
        let tenant = store
            .create_tenant(NewTenant::new(
                "Acme Plumbing",
                TimeZone::parse("America/New_York").unwrap(),
            ))
            .await
            .unwrap();
        let other = store
            .create_tenant(NewTenant::new("Other Co", TimeZone::UTC))
            .await
            .unwrap();
        let master = Self::master_key();
        let playback = PlaybackSigner::from_master_key(&master);
        let feeds = FeedTokens::from_master_key(&master);
        let recordings =
            recordings.unwrap_or_else(|| Arc::new(EncryptedStore::in_memory(Keyring::new(master))));
        let auth = Tokens(vec![
            AdminToken::new(TOKEN, tenant.id).unwrap(),
            AdminToken::new(OTHER_TOKEN, other.id).unwrap(),
        ]);
        let state = ApiState::new(store.clone(), recordings.clone(), playback, Arc::new(auth), feeds)
            // issue 8: cheap argon2 parameters (tests hash hundreds of passwords) and a fixed CSRF key.
            .with_accounts(
                api::Accounts::new(api::auth_secrets::CsrfKey::new([7u8; 32]))
                    .with_hashing(api::auth_secrets::PasswordHashing::insecure_fast_for_tests()),
            )
            .with_credentials_key(&Self::master_key());
        let app = api::router(state.clone());
        Some(Env {
            store,
            recordings,
            state,
            app,
            tenant,
            other,
            _dir: dir,
            db_url,
        })
    }

    /// A finished (`done`) call with stored audio, transcript, extraction and the job booked from it.
    pub async fn seed_call(&self, sid: &str) -> (Call, Job) {
        let tenant = self.tenant.clone();
        self.seed_call_for(&tenant, sid, "Maria Lopez").await
    }

    /// [`Env::seed_call`] for any tenant, with the caller's name in the extraction (a marker string).
    pub async fn seed_call_for(&self, tenant: &Tenant, sid: &str, name: &str) -> (Call, Job) {
        let t = tenant.id;
        let (call, _) = self
            .store
            .record_call(
                t,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: sid.into(),
                    phone_line_id: None,
                    from: Some(PhoneNumber::parse("+19145552177").unwrap()),
                    to: Some(PhoneNumber::parse("+19145550100").unwrap()),
                    started_at: Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, 0).unwrap(),
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
        let key = RecordingKey::audio(&t.to_string(), &call.id.to_string(), "RE1").unwrap();
        self.recordings
            .put_bytes(&key, RecordingOptions::new("audio/wav"), audio())
            .await
            .unwrap();
        self.store
            .set_recording(
                t,
                call.id,
                RecordingRef {
                    provider_recording_id: "RE1".into(),
                    duration_seconds: Some(12),
                    storage_key: Some(key.canonical()),
                },
            )
            .await
            .unwrap();
        let mut doc = extraction_doc();
        doc["appointments"][0]["customer_name"]["value"] = json!(name);
        let booking = self
            .transcribe_extract_and_book(
                tenant,
                &call,
                "Hi, this is Maria Lopez, card [REDACTED]".into(),
                doc,
            )
            .await;
        // Finish the call the way the worker does: claim, then finish.
        let now = callbook_jobs::now();
        let claimed = self
            .store
            .claim_calls("test", now, std::time::Duration::from_secs(60), 10, 8)
            .await
            .unwrap();
        let claimed = claimed.into_iter().find(|c| c.id == call.id).unwrap();
        let lease = claimed.lease().unwrap();
        let call = self
            .store
            .finish_call(t, call.id, &lease, now, CallState::Done)
            .await
            .unwrap();
        (call, booking.job)
    }

    /// Stores a transcript (`text`) and an extraction (`doc`) for `call` and books its first appointment the
    /// way the worker does (`mapping::booking_input` + `book_appointment`).
    pub async fn transcribe_extract_and_book(
        &self,
        tenant: &Tenant,
        call: &Call,
        text: String,
        doc: Value,
    ) -> callbook_jobs::Booking {
        let t = tenant.id;
        self.store
            .put_transcript(
                t,
                StoredTranscript {
                    call_id: call.id,
                    tenant_id: t,
                    document: json!({"text": text, "segments": []}),
                    language: Some("en".into()),
                    confidence: Some(0.9),
                    provider: "demo".into(),
                    model: None,
                    created_at: callbook_jobs::now(),
                },
            )
            .await
            .unwrap();
        self.store
            .put_extraction(
                t,
                StoredExtraction {
                    call_id: call.id,
                    tenant_id: t,
                    document: doc.clone(),
                    call_kind: "live".into(),
                    appointment_count: 1,
                    confidence: Some(0.85),
                    extractor: "rules".into(),
                    model: None,
                    created_at: callbook_jobs::now(),
                },
            )
            .await
            .unwrap();
        let extraction: callbook_extract::Extraction = serde_json::from_value(doc).unwrap();
        let (customer, job) = callbook_pipeline::mapping::booking_input(
            call,
            tenant,
            0,
            &extraction.appointments[0],
            chrono::TimeDelta::hours(1),
        );
        self.store
            .book_appointment(t, customer, job, Actor::pipeline())
            .await
            .unwrap()
    }

    /// The environment with `billing` as its billing provider and `POST /webhooks/stripe` mounted (issue 8).
    pub fn with_billing(self, billing: Arc<dyn callbook_billing::BillingProvider>) -> Env {
        let state = self.state.clone().with_billing(billing);
        let app = api::router(state.clone()).merge(callbook_server::billing_webhook::router(state.clone()));
        Env { app, state, ..self }
    }

    pub async fn request(&self, request: Request<Body>) -> Response<Body> {
        self.app.clone().oneshot(request).await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, Some(TOKEN), None, &[]).await
    }

    /// Sends a JSON request (or none) with an optional bearer token and extra headers; returns status and JSON.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let response = self.raw(method, path, token, body, headers).await;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.request(request).await
    }
}

/// Runs `$test(env)` once per backend as two `#[tokio::test]`s.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::api_common::Env::new($crate::api_common::Backend::Memory).await).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::api_common::Env::new($crate::api_common::Backend::Sqlite).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(env) = $crate::api_common::Env::try_new($crate::api_common::Backend::Postgres).await {
                        super::$name(env).await;
                    }
                }
            )+
        }
    };
}

/// A notifier that remembers the (kind, job) of every event.
#[derive(Debug, Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<(String, Option<callbook_jobs::JobId>)>>);

#[async_trait]
impl callbook_pipeline::notify::Notifier for Recorder {
    async fn notify(
        &self,
        event: &callbook_pipeline::notify::Event,
    ) -> Result<(), callbook_pipeline::notify::NotifyError> {
        self.0
            .lock()
            .unwrap()
            .push((event.kind.as_str().to_owned(), event.job_id));
        Ok(())
    }
}

impl Env {
    /// The same environment whose API publishes job events to a [`Recorder`].
    pub fn recording_events(self) -> (Env, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let app = api::router(self.state.clone().with_notifier(recorder.clone()));
        (Env { app, ..self }, recorder)
    }
}

// ---- issue 8 (accounts): users, sessions, API tokens

/// A logged-in browser session: the cookie pair to send and the CSRF token of writes.
#[derive(Debug, Clone)]
pub struct Session {
    /// `callbook_session=…`.
    pub cookie: String,
    /// The value for `X-CSRF-Token`.
    pub csrf: String,
    /// The whole `Set-Cookie` header of the login.
    pub set_cookie: String,
}

impl Env {
    /// The same environment with a login limit too high to matter (tests that log in many times).
    pub fn relaxed_logins(self) -> Env {
        let state = self.state.clone().with_accounts(
            self.state
                .accounts
                .clone()
                .with_login_rate(callbook_server::hardening::Rate::parse("1000/min")),
        );
        Env {
            app: api::router(state.clone()),
            state,
            ..self
        }
    }

    /// A user of `tenant` with this password (hashed like the server does).
    pub async fn add_user(
        &self,
        tenant: callbook_jobs::TenantId,
        login: &str,
        role: callbook_jobs::Role,
        password: &str,
    ) -> callbook_jobs::User {
        let phc = self.state.accounts.hashing.hash(password).unwrap();
        self.store
            .create_user(tenant, login, role, Some(phc))
            .await
            .unwrap()
    }

    /// Logs in (`POST /auth/login`); panics unless it succeeds.
    pub async fn login(&self, login: &str, password: &str) -> Session {
        let response = self
            .raw(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"login": login, "password": password})),
                &[],
            )
            .await;
        assert_eq!(response.status(), 200, "login of {login} failed");
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let me: Value = serde_json::from_slice(&bytes).unwrap();
        Session {
            cookie,
            csrf: me["csrf_token"].as_str().unwrap().to_owned(),
            set_cookie,
        }
    }

    /// Sends a request authenticated by the session cookie, with the CSRF token when `csrf` is true.
    pub async fn as_session(
        &self,
        session: &Session,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> (u16, Value) {
        let mut headers = vec![("cookie", session.cookie.as_str())];
        if csrf {
            headers.push(("x-csrf-token", session.csrf.as_str()));
        }
        self.send(method, path, None, body, &headers).await
    }

    /// An API token made through `POST /tokens` with `creator`'s bearer token.
    pub async fn api_token(&self, creator: &str, name: &str, role: Option<&str>) -> (String, Value) {
        let mut body = json!({"name": name});
        if let Some(role) = role {
            body["role"] = json!(role);
        }
        let (status, created) = self
            .send("POST", "/api/v1/tokens", Some(creator), Some(body), &[])
            .await;
        assert_eq!(status, 201, "{created}");
        (created["token"].as_str().unwrap().to_owned(), created)
    }
}
// ---- end issue 8
// ---- issue 8 privacy/settings: seeding people with their own name, phone, address and audio
/// A caller with recognisable personal data, for the erasure scans.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: &'static str,
    pub phone: &'static str,
    pub address: &'static str,
    /// A marker the plaintext audio starts with (found nowhere after erasure).
    pub marker: &'static str,
}

impl Person {
    pub fn audio(&self) -> Bytes {
        let mut bytes = self.marker.as_bytes().to_vec();
        bytes.extend((0..5_000u32).map(|i| (i % 251) as u8));
        bytes.extend_from_slice(self.marker.as_bytes());
        Bytes::from(bytes)
    }
}

impl Env {
    /// A finished call of `person` to `tenant` started at `started_at`, with stored audio (provider recording
    /// `recording_sid`), a transcript and extraction naming them, and the job booked from it.
    pub async fn seed_person(
        &self,
        tenant: &Tenant,
        call_sid: &str,
        recording_sid: &str,
        person: &Person,
        started_at: chrono::DateTime<Utc>,
    ) -> (Call, Job) {
        let t = tenant.id;
        let (call, _) = self
            .store
            .record_call(
                t,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: call_sid.into(),
                    phone_line_id: None,
                    from: Some(PhoneNumber::parse(person.phone).unwrap()),
                    to: Some(PhoneNumber::parse("+19145550100").unwrap()),
                    started_at,
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
        let key = RecordingKey::audio(&t.to_string(), &call.id.to_string(), recording_sid).unwrap();
        self.recordings
            .put_bytes(&key, RecordingOptions::new("audio/wav"), person.audio())
            .await
            .unwrap();
        self.store
            .set_recording(
                t,
                call.id,
                RecordingRef {
                    provider_recording_id: recording_sid.into(),
                    duration_seconds: Some(12),
                    storage_key: Some(key.canonical()),
                },
            )
            .await
            .unwrap();
        let mut doc = extraction_doc();
        let a = &mut doc["appointments"][0];
        a["customer_name"]["value"] = json!(person.name);
        a["customer_name"]["evidence"] = json!(format!("this is {}", person.name));
        a["customer_phone"]["value"] = json!(person.phone);
        a["customer_phone"]["evidence"] = json!(person.phone);
        a["service_address"]["value"]["line1"] = json!(person.address);
        a["service_address"]["evidence"] = json!(person.address);
        let text = format!("Hi, this is {}, I live at {}", person.name, person.address);
        let booking = self.transcribe_extract_and_book(tenant, &call, text, doc).await;
        let call = self
            .store
            .link_call_customer(t, call.id, booking.job.customer_id.unwrap())
            .await
            .unwrap();
        (call, booking.job)
    }
}
// ---- end issue 8 privacy/settings
