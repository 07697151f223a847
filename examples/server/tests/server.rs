//! The server end to end: signed Twilio webhooks over a real socket (and in-process with `oneshot`), the
//! Twilio REST part served by `MockTwilioApi` (recording download), the worker running, the rules extractor
//! and the demo transcriber (a transcript file named after the audio's SHA-256).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use callbook_jobs::{CallState, JobFilter, JobStore, Page, Stage};
use callbook_server::app::{self, AppState};
use callbook_server::config::Config;
use callbook_server::ops::Metrics;
use callbook_server::serve::serve_on;
use callbook_telephony::fake::{FAKE_ACCOUNT_SID, FakeTelephony};
use callbook_telephony::simulator::{CallSimulator, SimulatedRequest};
use callbook_telephony::telephony::CallStatus;
use callbook_telephony::testing::twilio_api::MockTwilioApi;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123";
const CALLER: &str = "+19145552177";
const LINE: &str = "+14155550100";

/// A voicemail the rules extractor books (the caller alone speaks on a `<Record>` voicemail).
const BOOKING: &str = "Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet. \
     Could you come tomorrow between 3 and 5? I'm at 42 Oak Street, Apt 3B, Yonkers. \
     My number is 914-555-2177. Thanks.";

/// A mono 8 kHz 16-bit PCM WAV whose content depends on `seed` (distinct hashes).
fn wav(seed: u8, samples: u32) -> Bytes {
    let pcm = (0..samples)
        .map(|i| ((i as i32 * (seed as i32 + 1)) % 2000 - 1000) as f32 / 32767.0)
        .collect();
    callbook_transcribe::audio::encode_wav_pcm16(&[pcm], 8000).unwrap()
}

/// Writes the demo transcript for `audio`.
fn script(dir: &Path, audio: &Bytes, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let hash = callbook_transcribe::audio::sha256_hex(audio);
    std::fs::write(dir.join(format!("{hash}.txt")), text).unwrap();
}

/// A server on a real socket with the worker, Twilio REST mocked, and a simulator signing for it.
struct Running {
    base: String,
    state: AppState,
    sim: CallSimulator,
    config: Config,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    mock: MockTwilioApi,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(extra: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeTelephony::new();
        let mock = MockTwilioApi::start(fake.clone(), TOKEN).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut env: HashMap<String, String> = [
            ("CALLBOOK_DATA_DIR", dir.path().display().to_string()),
            ("CALLBOOK_PUBLIC_URL", base.clone()),
            ("CALLBOOK_TENANT_NAME", "Rivera and Sons Plumbing".to_owned()),
            ("CALLBOOK_TIMEZONE", "America/New_York".to_owned()),
            ("TWILIO_ACCOUNT_SID", FAKE_ACCOUNT_SID.to_owned()),
            ("TWILIO_AUTH_TOKEN", TOKEN.to_owned()),
            ("TWILIO_API_BASE_URL", mock.base_url()),
            ("CALLBOOK_TRANSCRIBER", "demo".to_owned()),
            ("CALLBOOK_EXTRACTOR", "rules".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            env.insert((*k).to_owned(), v.clone());
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let built = app::build(&config, Metrics::local()).await.unwrap();
        let state = built.state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(listener, built, async {
            let _ = stopped.await;
        }));
        let sim = CallSimulator::new(fake, TOKEN, &base);
        Self {
            base,
            state,
            sim,
            config,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            mock,
            _dir: dir,
        }
    }

    async fn send(&self, request: &SimulatedRequest) -> reqwest::Response {
        let mut builder = self
            .http
            .post(format!("{}{}", self.base, request.path_and_query()))
            .body(request.body.clone());
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        builder.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    fn store(&self) -> &dyn JobStore {
        self.state.store.as_ref()
    }

    async fn calls(&self) -> Vec<callbook_jobs::Call> {
        self.store()
            .list_calls(self.state.tenant.id, None, Page::first(100))
            .await
            .unwrap()
    }

    async fn jobs(&self) -> Vec<callbook_jobs::Job> {
        self.store()
            .list_jobs(self.state.tenant.id, &JobFilter::default(), Page::first(100))
            .await
            .unwrap()
    }

    /// Waits until every call is finished (or fails after 30 s).
    async fn wait_until_processed(&self, expected_calls: usize) -> Vec<callbook_jobs::Call> {
        for _ in 0..300 {
            let calls = self.calls().await;
            if calls.len() == expected_calls && calls.iter().all(|c| c.processing.state.is_final()) {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("calls not processed in time: {:?}", self.calls().await);
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("graceful shutdown in time")
                .unwrap()
                .unwrap();
        }
    }
}

async fn assert_one_booked_call(server: &Running) {
    let calls = server.wait_until_processed(1).await;
    let call = &calls[0];
    if call.processing.state != CallState::Done {
        let t = server
            .store()
            .get_transcript(call.tenant_id, call.id)
            .await
            .unwrap();
        let e = server
            .store()
            .get_extraction(call.tenant_id, call.id)
            .await
            .unwrap();
        panic!(
            "not done: {call:?}\ntranscript {:?}\nextraction {:?}",
            t.map(|t| t.document),
            e.map(|e| e.document)
        );
    }
    assert_eq!(call.provider_status, "completed");
    let recording = call.recording.as_ref().expect("recording set");
    assert!(recording.provider_recording_id.starts_with("RE"));
    assert!(recording.storage_key.is_some(), "audio stored encrypted");
    let jobs = server.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].stage, Stage::QuoteRequested);
    assert_eq!(jobs[0].source.as_ref().map(|s| s.call_id), Some(call.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_voicemail_lifecycle_over_a_socket_books_a_job() {
    let server = Running::start(&[]).await;
    let audio = wav(1, 240_000);
    script(&server.config.demo_transcripts_dir, &audio, BOOKING);
    let call = server.sim.place_call(CALLER, LINE);
    let requests = server.sim.voicemail_lifecycle(&call, audio, 14);

    // The brief's order: voice, then the call's completed status, then the completed recording.
    let voice = server.send(&requests[0]).await;
    assert_eq!(voice.status(), StatusCode::OK);
    assert_eq!(voice.headers()["content-type"], "text/xml");
    assert!(voice.headers().contains_key("x-request-id"));
    let twiml = voice.text().await.unwrap();
    assert!(twiml.contains("This call is recorded."), "{twiml}");
    assert!(
        twiml.contains(&format!(
            r#"action="{}/webhooks/twilio/record-done""#,
            server.base
        )),
        "{twiml}"
    );
    let calls = server.calls().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].processing.state, CallState::Received);
    assert_eq!(calls[0].from.as_ref().map(|n| n.as_str()), Some(CALLER));

    let status = server.send(&requests[4]).await;
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.calls().await[0].processing.state,
        CallState::AwaitingRecording
    );
    for r in &requests[1..4] {
        let response = server.send(r).await;
        assert!(response.status().is_success(), "{r:?}: {}", response.status());
    }
    assert_one_booked_call(&server).await;

    // The number became the bootstrap tenant's phone line on first sight.
    let lines = server
        .store()
        .list_phone_lines(server.state.tenant.id)
        .await
        .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.provider == "twilio" && l.number.as_str() == LINE)
    );
    // The recording came from the Twilio REST mock.
    assert!(
        server
            .mock
            .requests()
            .iter()
            .any(|r| r.authenticated && r.path_and_query.contains("/Recordings/")),
        "no recording download"
    );

    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"callbook_webhooks_total{path="/webhooks/twilio/voice",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("callbook_webhook_duration_seconds_bucket"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_out_of_order_callbacks_make_one_call_and_one_job() {
    let server = Running::start(&[]).await;
    let audio = wav(2, 240_000);
    script(&server.config.demo_transcripts_dir, &audio, BOOKING);
    let call = server.sim.place_call(CALLER, LINE);
    let requests = server.sim.voicemail_lifecycle(&call, audio, 14);
    // Reverse order (recording before status, status before voice), each delivered twice.
    for r in requests.iter().rev() {
        for _ in 0..2 {
            let response = server.send(&CallSimulator::retry_of(r)).await;
            assert!(response.status().is_success(), "{r:?}: {}", response.status());
        }
    }
    assert_one_booked_call(&server).await;
    // Late duplicates after processing change nothing.
    for r in &requests {
        assert!(server.send(r).await.status().is_success());
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.calls().await.len(), 1);
    assert_eq!(server.jobs().await.len(), 1);
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"callbook_webhooks_total{path="/webhooks/twilio/recording",outcome="duplicate"}"#),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_ringing_status_does_not_undo_completed() {
    let server = Running::start(&[]).await;
    let mut call = server.sim.place_call(CALLER, LINE);
    let ringing = server.sim.call_status(&mut call, CallStatus::Ringing, None);
    let completed = server.sim.call_status(&mut call, CallStatus::Completed, Some(20));
    assert_eq!(server.send(&completed).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.send(&ringing).await.status(), StatusCode::NO_CONTENT);
    let calls = server.calls().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].provider_status, "completed");
    assert_eq!(calls[0].processing.state, CallState::AwaitingRecording);
    assert!(calls[0].ended_at.is_some());
    server.stop().await;
}

/// Variants of a valid request that must all be refused.
fn forged(sim: &CallSimulator, request: &SimulatedRequest) -> Vec<(&'static str, SimulatedRequest)> {
    let _ = sim;
    let mut out = Vec::new();
    let mut missing = request.clone();
    missing
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("X-Twilio-Signature"));
    out.push(("missing signature", missing));
    let mut wrong = request.clone();
    for (k, v) in &mut wrong.headers {
        if k.eq_ignore_ascii_case("X-Twilio-Signature") {
            *v = "bm90IHRoZSByaWdodCBzaWduYXR1cmU=".to_owned();
        }
    }
    out.push(("wrong signature", wrong));
    let mut tampered = request.clone();
    tampered.body = tampered
        .body
        .replace("CallSid=CA", "CallSid=CB")
        .replace("%2B1914", "%2B1915");
    tampered.body.push_str("&Extra=1");
    out.push(("tampered body", tampered));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_missing_signatures_are_403_and_store_nothing() {
    let server = Running::start(&[]).await;
    let audio = wav(3, 8000);
    let call = server.sim.place_call(CALLER, LINE);
    let requests = server.sim.voicemail_lifecycle(&call, audio, 5);
    for request in &requests {
        for (what, forged) in forged(&server.sim, request) {
            let response = server.send(&forged).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{what} on {:?}",
                request.kind
            );
        }
        // Signed by another account's token.
        let other = CallSimulator::new(server.sim.fake().clone(), "another-token", &server.base);
        let mut c = other.place_call(CALLER, LINE);
        let foreign = other.call_status(&mut c, CallStatus::Completed, Some(3));
        assert_eq!(server.send(&foreign).await.status(), StatusCode::FORBIDDEN);
    }
    // Signed for another public URL (a proxy rewriting the host is caught too).
    let elsewhere = CallSimulator::new(server.sim.fake().clone(), TOKEN, "https://other.example.com");
    let c = elsewhere.place_call(CALLER, LINE);
    assert_eq!(
        server.send(&elsewhere.incoming_call(&c)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(server.calls().await.is_empty());
    let lines = server
        .store()
        .list_phone_lines(server.state.tenant.id)
        .await
        .unwrap();
    assert!(lines.iter().all(|l| l.provider != "twilio"), "{lines:?}");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"outcome="forbidden""#), "{metrics}");
    server.stop().await;
}

/// Signs an arbitrary body for a path, as Twilio would.
fn signed(state: &AppState, path: &str, body: &str) -> Request<Body> {
    let url = format!("{}{path}", state.public_url);
    let params = callbook_telephony::form::FormParams::parse(body.as_bytes());
    let signature = state.verifier.sign(&url, &params);
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn in_process() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<&str, String> = [
        ("CALLBOOK_DATA_DIR", dir.path().display().to_string()),
        ("CALLBOOK_PUBLIC_URL", "https://hooks.example.com".to_owned()),
        ("TWILIO_ACCOUNT_SID", FAKE_ACCOUNT_SID.to_owned()),
        ("TWILIO_AUTH_TOKEN", TOKEN.to_owned()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let built = app::build(&config, Metrics::local()).await.unwrap();
    (built.state, dir)
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

const ACCOUNT: &str = "AccountSid=AC00000000000000000000000000000001";

#[tokio::test]
async fn malformed_bodies_are_400_and_store_nothing() {
    let (state, _dir) = in_process().await;
    let cases = [
        (
            "/webhooks/twilio/voice",
            format!("{ACCOUNT}&From=%2B19145552177&To=%2B14155550100"),
        ),
        (
            "/webhooks/twilio/voice",
            format!("{ACCOUNT}&CallSid=XX123&To=%2B14155550100"),
        ),
        (
            "/webhooks/twilio/status",
            format!("{ACCOUNT}&CallSid=CA1&CallStatus=completed&SequenceNumber=x"),
        ),
        (
            "/webhooks/twilio/status",
            format!("{ACCOUNT}&To=%2B14155550100&CallStatus=completed"),
        ),
        (
            "/webhooks/twilio/recording",
            format!("{ACCOUNT}&CallSid=CA1&RecordingStatus=completed"),
        ),
        (
            "/webhooks/twilio/recording",
            format!(
                "{ACCOUNT}&CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed&RecordingDuration=long"
            ),
        ),
        ("/webhooks/twilio/record-done", "CallSid=CA1".to_owned()),
    ];
    for (path, body) in &cases {
        let response = app::router(state.clone())
            .oneshot(signed(&state, path, body))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        let text = body_text(response).await;
        assert!(text.contains("field"), "{text}");
        assert!(!text.contains("+1914"), "no values echoed: {text}");
    }
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert!(calls.is_empty(), "{calls:?}");
    let lines = state.store.list_phone_lines(state.tenant.id).await.unwrap();
    assert!(lines.iter().all(|l| l.provider != "twilio"));
}

#[tokio::test]
async fn an_unknown_account_is_refused_and_nothing_is_stored() {
    let (state, _dir) = in_process().await;
    let body = "AccountSid=AC99999999999999999999999999999999&CallSid=CA1&From=%2B19145552177&To=%2B14155550100\
                &CallStatus=ringing";
    let response = app::router(state.clone())
        .oneshot(signed(&state, "/webhooks/twilio/voice", body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert!(calls.is_empty());
}

#[tokio::test]
async fn a_line_with_forward_to_answers_with_dial_record() {
    let (state, _dir) = in_process().await;
    let mut settings = state.tenant.settings.clone();
    settings["voice"]["greeting"] = "Thanks for calling {business}.".into();
    settings["voice"]["lines"][LINE] = serde_json::json!({"forward_to": "+14155550199"});
    state
        .store
        .update_tenant_settings(state.tenant.id, settings)
        .await
        .unwrap();
    let body = format!("{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=ringing");
    // The line is registered on first sight; a second call on it reads the settings from the store.
    for sid in ["CA1", "CA2"] {
        let body = body.replace("CA1", sid);
        let response = app::router(state.clone())
            .oneshot(signed(&state, "/webhooks/twilio/voice", &body))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let xml = body_text(response).await;
        assert!(xml.contains("<Dial"), "{xml}");
        assert!(xml.contains(r#"record="record-from-answer-dual""#), "{xml}");
        assert!(
            xml.contains(r#"recordingStatusCallback="https://hooks.example.com/webhooks/twilio/recording""#),
            "{xml}"
        );
        assert!(xml.contains("This call is recorded."), "{xml}");
    }
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.len(), 2);
}

#[tokio::test]
async fn record_done_says_goodbye_and_writes_nothing() {
    let (state, _dir) = in_process().await;
    let body = format!(
        "{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=in-progress&Digits=%23\
         &RecordingSid=RE1&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Fx&RecordingDuration=9"
    );
    let response = app::router(state.clone())
        .oneshot(signed(&state, "/webhooks/twilio/record-done", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xml = body_text(response).await;
    assert!(xml.contains("Goodbye") && xml.contains("<Hangup"), "{xml}");
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert!(calls.is_empty());
}

#[tokio::test]
async fn healthz_is_up() {
    let (state, _dir) = in_process().await;
    let response = app::router(state)
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
}

async fn readyz(state: &AppState) -> (StatusCode, serde_json::Value) {
    let response = app::router(state.clone())
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (status, serde_json::from_str(&body_text(response).await).unwrap())
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let (state, dir) = in_process().await;
    let (status, body) = readyz(&state).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("callbook.db{suffix}")));
    }
    let (status, body) = readyz(&state).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
    assert_ne!(body["database"], "ok", "{body}");
    assert_eq!(body["storage"], "ok", "{body}");
}

#[tokio::test]
async fn readyz_is_503_when_the_recordings_directory_is_gone() {
    let (state, dir) = in_process().await;
    std::fs::remove_dir_all(dir.path().join("recordings")).unwrap();
    let (status, body) = readyz(&state).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "ok", "{body}");
    assert_ne!(body["storage"], "ok", "{body}");
}

#[tokio::test]
async fn restarting_finds_the_same_tenant_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let env = |k: &str| (k == "CALLBOOK_DATA_DIR").then(|| dir.path().display().to_string());
    let config = Config::from_lookup(env).unwrap();
    let first = app::build(&config, Metrics::local()).await.unwrap();
    let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    drop(first.state.clone());
    let second = app::build(&config, Metrics::local()).await.unwrap();
    assert_eq!(first.state.tenant.id, second.state.tenant.id);
    assert_eq!(
        key,
        std::fs::read_to_string(dir.path().join("master.key")).unwrap()
    );
    assert!(
        second.report.iter().any(|l| l.contains("found again")),
        "{:?}",
        second.report
    );
    assert!(
        first.report.iter().any(|l| l.contains("fake telephony")),
        "{:?}",
        first.report
    );
}

// ------------------------------------------------------------------------------------------ Postgres + S3

/// A fresh database: `(admin URL, database name, URL of the new database)`.
async fn fresh_postgres() -> Option<(String, String, String)> {
    let Ok(admin) = std::env::var("CALLBOOK_TEST_DATABASE_URL") else {
        eprintln!(
            "skipping the Postgres + S3 lifecycle: CALLBOOK_TEST_DATABASE_URL is not set (.ci/run sets it)"
        );
        return None;
    };
    let name = format!("cbserver_{}", uuid::Uuid::now_v7().simple());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("connect to the test Postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create a test database");
    pool.close().await;
    let base = admin.split('?').next().unwrap_or(&admin);
    let cut = base.rfind('/').expect("database URL has a path");
    let url = format!("{}/{}", &base[..cut], name);
    Some((admin, name, url))
}

fn s3_env() -> Option<Vec<(&'static str, String)>> {
    let Ok(endpoint) = std::env::var("CALLBOOK_TEST_S3_ENDPOINT") else {
        eprintln!(
            "skipping the Postgres + S3 lifecycle: CALLBOOK_TEST_S3_ENDPOINT is not set (.ci/run sets it)"
        );
        return None;
    };
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    // Short: s3s-fs names a metadata file after the base64 of the whole key, and file names stop at 255 bytes.
    let prefix = format!("s{:08x}", rand::random::<u32>());
    Some(vec![
        (
            "CALLBOOK_STORAGE_URL",
            format!(
                "s3://{}/{prefix}",
                var("CALLBOOK_TEST_S3_BUCKET", "callbook-test")
            ),
        ),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        (
            "AWS_ACCESS_KEY_ID",
            var("CALLBOOK_TEST_S3_ACCESS_KEY_ID", "callbook"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            var("CALLBOOK_TEST_S3_SECRET_ACCESS_KEY", "callbook-secret"),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_on_postgres_and_s3() {
    let Some(s3) = s3_env() else { return };
    let Some((admin, name, database)) = fresh_postgres().await else {
        return;
    };
    let mut extra = s3;
    extra.push(("CALLBOOK_DATABASE_URL", database));
    let server = Running::start(&extra).await;
    assert!(server.state.sqlite_file.is_none());
    let audio = wav(4, 240_000);
    script(&server.config.demo_transcripts_dir, &audio, BOOKING);
    let call = server.sim.place_call(CALLER, LINE);
    for r in server.sim.voicemail_lifecycle(&call, audio, 14) {
        assert!(server.send(&r).await.status().is_success());
        assert!(
            server
                .send(&CallSimulator::retry_of(&r))
                .await
                .status()
                .is_success()
        );
    }
    assert_one_booked_call(&server).await;
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);

    // The database goes away: not ready, and the JSON says which part.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_ne!(body["database"], "ok", "{body}");
    assert_eq!(body["storage"], "ok", "{body}");
    server.stop().await;
}

/// Signs `body` for `signed_url` but sends it to `path` (what a proxy or Twilio's port handling produces).
fn signed_for(state: &AppState, signed_url: &str, path: &str, body: &str) -> Request<Body> {
    let params = callbook_telephony::form::FormParams::parse(body.as_bytes());
    let signature = state.verifier.sign(signed_url, &params);
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn the_signature_covers_the_public_url_with_either_port_form_and_the_query() {
    let (state, _dir) = in_process().await;
    let body = format!("{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=ringing");
    let router = || app::router(state.clone());
    // Twilio sometimes signs with the default port spelled out.
    let with_port = "https://hooks.example.com:443/webhooks/twilio/voice";
    let response = router()
        .oneshot(signed_for(&state, with_port, "/webhooks/twilio/voice", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The query is part of what was signed.
    let with_query = "https://hooks.example.com/webhooks/twilio/voice?line=main";
    let response = router()
        .oneshot(signed_for(
            &state,
            with_query,
            "/webhooks/twilio/voice?line=main",
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = router()
        .oneshot(signed_for(
            &state,
            with_query,
            "/webhooks/twilio/voice?line=other",
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The right path signed under another scheme (a proxy that terminates TLS is configured by
    // CALLBOOK_PUBLIC_URL, not guessed).
    let http = "http://hooks.example.com/webhooks/twilio/voice";
    let response = router()
        .oneshot(signed_for(&state, http, "/webhooks/twilio/voice", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "CA1 once, however often it was accepted");
}

#[tokio::test]
async fn an_absent_recording_queues_nothing_and_a_hang_up_gets_an_empty_answer() {
    let (state, _dir) = in_process().await;
    let router = || app::router(state.clone());
    let body = format!(
        "{ACCOUNT}&CallSid=CA1&RecordingSid=RE1&RecordingStatus=absent&RecordingDuration=-1&ErrorCode=16101"
    );
    let response = router()
        .oneshot(signed(&state, "/webhooks/twilio/recording", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert!(calls.is_empty(), "{calls:?}");

    let body = format!(
        "{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=completed&Digits=hangup"
    );
    let response = router()
        .oneshot(signed(&state, "/webhooks/twilio/record-done", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xml = body_text(response).await;
    assert!(!xml.contains("<Say"), "{xml}");
}

#[tokio::test]
async fn an_in_progress_recording_with_duration_minus_one_is_accepted() {
    let (state, _dir) = in_process().await;
    let body =
        format!("{ACCOUNT}&CallSid=CA1&RecordingSid=RE1&RecordingStatus=in-progress&RecordingDuration=-1");
    let response = app::router(state.clone())
        .oneshot(signed(&state, "/webhooks/twilio/recording", &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_idempotency_token_alone_dedupes_a_retry() {
    let (state, _dir) = in_process().await;
    let body = format!(
        "{ACCOUNT}&CallSid=CA1&To=%2B14155550100&CallStatus=completed&SequenceNumber=3&CallDuration=9"
    );
    let send = |token: &'static str| {
        let mut request = signed(&state, "/webhooks/twilio/status", &body);
        request
            .headers_mut()
            .insert("I-Twilio-Idempotency-Token", token.parse().unwrap());
        app::router(state.clone()).oneshot(request)
    };
    assert_eq!(send("tok-1").await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(send("tok-1").await.unwrap().status(), StatusCode::NO_CONTENT);
    let rendered = state.metrics.render();
    assert!(
        rendered.contains(r#"callbook_webhooks_total{path="/webhooks/twilio/status",outcome="duplicate"} 1"#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#"callbook_webhooks_total{path="/webhooks/twilio/status",outcome="ok"} 1"#),
        "{rendered}"
    );
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].processing.state, CallState::AwaitingRecording);
}

/// Collects what the JSON log layer writes.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_carry_request_ids_and_no_phone_numbers() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone()),
    );
    // Global, not a thread-local default: tracing caches per-callsite interest process-wide, so a
    // thread-local subscriber misses events whose callsites another test thread registered first (flaky).
    // Other tests' logs land in the buffer too, and must be PII-free as well.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (state, _dir) = in_process().await;
    let router = || app::router(state.clone());
    let voice = format!("{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=ringing");
    let status = format!(
        "{ACCOUNT}&CallSid=CA1&From=%2B19145552177&To=%2B14155550100&CallStatus=completed&SequenceNumber=0"
    );
    let recording =
        format!("{ACCOUNT}&CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed&RecordingDuration=12");
    for (path, body) in [
        ("/webhooks/twilio/voice", &voice),
        ("/webhooks/twilio/status", &status),
        ("/webhooks/twilio/recording", &recording),
    ] {
        let response = router().oneshot(signed(&state, path, body)).await.unwrap();
        assert!(response.status().is_success());
    }
    // Rejected ones are logged too.
    let mut forged = signed(&state, "/webhooks/twilio/voice", &voice);
    forged
        .headers_mut()
        .insert("X-Twilio-Signature", "Zm9yZ2Vk".parse().unwrap());
    assert_eq!(
        router().oneshot(forged).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let malformed = voice.replace("CallSid=CA1&", "");
    assert_eq!(
        router()
            .oneshot(signed(&state, "/webhooks/twilio/voice", &malformed))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request_id"), "{logs}");
    assert!(logs.contains("call received"), "{logs}");
    assert!(logs.contains("recording completed"), "{logs}");
    assert!(logs.contains("webhook signature rejected"), "{logs}");
    for pii in ["19145552177", "914555", "4155550100", "%2B1"] {
        assert!(!logs.contains(pii), "{pii} in logs:\n{logs}");
    }
}

#[tokio::test]
async fn a_retry_of_a_delivery_that_failed_half_way_is_processed_not_dropped() {
    let (state, _dir) = in_process().await;
    let body =
        format!("{ACCOUNT}&CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed&RecordingDuration=12");
    // An earlier delivery got as far as recording its keys, then the database failed (the handler answered
    // 503 and wrote nothing else).
    let tenant = state.tenant.id;
    for key in ["seen:twilio:recording:RE1:completed", "seen:twilio:token:tok-9"] {
        assert!(state.store.first_delivery(tenant, key).await.unwrap());
    }
    let send = || {
        let mut request = signed(&state, "/webhooks/twilio/recording", &body);
        request
            .headers_mut()
            .insert("I-Twilio-Idempotency-Token", "tok-9".parse().unwrap());
        app::router(state.clone()).oneshot(request)
    };
    assert_eq!(send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let calls = state
        .store
        .list_calls(tenant, None, Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "the retry was processed");
    assert_eq!(calls[0].processing.state, CallState::Queued);
    // Now that one finished, the next repeat is a duplicate.
    assert_eq!(send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let rendered = state.metrics.render();
    assert!(
        rendered
            .contains(r#"callbook_webhooks_total{path="/webhooks/twilio/recording",outcome="duplicate"} 1"#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#"callbook_webhooks_total{path="/webhooks/twilio/recording",outcome="ok"} 1"#),
        "{rendered}"
    );
}

/// The whole product path on one running server: signed webhooks → worker → the job in the REST API, its
/// `.ics` valid, and the staff's live stream told `call.received`, every step and `job.created`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_shows_up_live_over_sse_and_in_the_api_with_a_valid_ics() {
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt as _;
    let server = Running::start(&[]).await;
    let admin = std::fs::read_to_string(server.config.data_dir.join("admin.token")).unwrap();
    let admin = admin.trim();

    let events = server
        .http
        .get(format!("{}/api/v1/events", server.base))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut stream = Box::pin(events.bytes_stream().eventsource());

    let audio = wav(9, 240_000);
    script(&server.config.demo_transcripts_dir, &audio, BOOKING);
    let call = server.sim.place_call(CALLER, LINE);
    let requests = server.sim.voicemail_lifecycle(&call, audio, 14);
    for r in [
        &requests[0],
        &requests[4],
        &requests[1],
        &requests[2],
        &requests[3],
    ] {
        let response = server.send(r).await;
        assert!(response.status().is_success(), "{r:?}: {}", response.status());
    }

    let mut kinds = Vec::new();
    let mut job_id = None;
    while job_id.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("an event within 30 s")
            .expect("the stream stays open")
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["tenant_id"], server.state.tenant.id.to_string());
        if event.event == "job.created" {
            job_id = data["job_id"].as_str().map(str::to_owned);
        }
        kinds.push(event.event);
    }
    assert_eq!(
        kinds,
        [
            "call.received",
            "call.step",
            "call.step",
            "call.step",
            "call.step",
            "job.created"
        ],
        "in order, nothing else"
    );
    let job_id = job_id.unwrap();

    let jobs: serde_json::Value = server
        .http
        .get(format!("{}/api/v1/jobs", server.base))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = jobs["items"].as_array().or(jobs.as_array()).expect("a job list");
    assert_eq!(listed.len(), 1, "{jobs}");
    assert_eq!(listed[0]["id"], job_id);
    assert_eq!(listed[0]["stage"], "quote_requested");

    let ics = server
        .http
        .get(format!("{}/api/v1/jobs/{job_id}/calendar.ics", server.base))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(ics.status(), StatusCode::OK);
    assert!(
        ics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = ics.text().await.unwrap();
    let calendar: icalendar::Calendar = text.parse().unwrap();
    let event = calendar
        .components
        .iter()
        .find_map(|c| c.as_event())
        .expect("a VEVENT");
    use icalendar::Component as _;
    // "tomorrow between 3 and 5" in New York, resolved against the call's start.
    assert!(event.property_value("DTSTART").is_some(), "{text}");
    assert!(event.get_summary().is_some(), "{text}");
    server.stop().await;
}
