//! Hardening of the whole application (`app::router`): security headers, body limits, rate limits per client
//! IP (with and without trusted proxies), login lockout, timeouts, panics as problem documents, and secrets never
//! in the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::routing::get;
use callbook_jobs::Role;
use callbook_server::api::auth_secrets::PasswordHashing;
use callbook_server::app::{self, AppState};
use callbook_server::config::Config;
use callbook_server::hardening::{self, Hardening, HardeningConfig};
use callbook_server::ops::Metrics;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const ADMIN: &str = "hardening-admin-token-0123456789";
const PASSWORD: &str = "the right password, long enough";

async fn app_with(extra: &[(&str, &str)]) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut env: HashMap<String, String> = [
        ("CALLBOOK_DATA_DIR", dir.path().display().to_string()),
        ("CALLBOOK_DATABASE_URL", "memory://".to_owned()),
        ("CALLBOOK_STORAGE_URL", "memory://".to_owned()),
        ("CALLBOOK_ADMIN_TOKEN", ADMIN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let mut state = app::build(&config, Metrics::local()).await.unwrap().state;
    state.api = state.api.clone().with_accounts(
        state
            .api
            .accounts
            .clone()
            .with_hashing(PasswordHashing::insecure_fast_for_tests()),
    );
    (state, dir)
}

async fn add_user(state: &AppState, login: &str, role: Role) {
    let phc = state.api.accounts.hashing.hash(PASSWORD).unwrap();
    state
        .store
        .create_user(state.tenant.id, login, role, Some(phc))
        .await
        .unwrap();
}

fn from(peer: &str, request: axum::http::request::Builder) -> axum::http::request::Builder {
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extension(ConnectInfo(addr))
}

fn login_request(peer: &str, login: &str, password: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder =
        from(peer, Request::post("/api/v1/auth/login")).header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Body::from(
            json!({"login": login, "password": password}).to_string(),
        ))
        .unwrap()
}

async fn json_of(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (state, _dir) = app_with(&[]).await;
    let router = app::router(state);
    let health = router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let h = health.headers();
    assert_eq!(h["content-security-policy"], hardening::CSP);
    assert!(hardening::CSP.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h.get("strict-transport-security").is_none(),
        "plain http: no HSTS"
    );

    for (path, token) in [
        ("/api/v1/jobs", Some(ADMIN)),
        ("/api/v1/jobs", None),
        ("/api/v1/nope", Some(ADMIN)),
    ] {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = response.headers();
        assert_eq!(h["content-security-policy"], hardening::API_CSP, "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }

    let (state, _dir) = app_with(&[("CALLBOOK_PUBLIC_URL", "https://callbook.example.com")]).await;
    let response = app::router(state)
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_problem_documents() {
    let (state, _dir) = app_with(&[]).await;
    let router = app::router(state.clone());
    let big_form = "a".repeat(hardening::WEBHOOK_BODY_LIMIT + 1);
    let big_json = json!({"title": "x".repeat(callbook_server::api::problem::JSON_LIMIT)}).to_string();
    for (path, body, kind) in [
        (
            "/webhooks/twilio/voice",
            big_form.clone(),
            "application/x-www-form-urlencoded",
        ),
        ("/api/v1/jobs", big_json, "application/json"),
    ] {
        let response = router
            .clone()
            .oneshot(
                Request::post(path)
                    .header("authorization", format!("Bearer {ADMIN}"))
                    .header("content-type", kind)
                    .header("content-length", body.len())
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem = json_of(response).await;
        assert_eq!(problem["code"], "payload_too_large", "{path}");
    }
    // A chunked body (no Content-Length) is cut off at the limit while it is read.
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; 8 * 1024]))),
    );
    let response = router
        .clone()
        .oneshot(
            Request::post("/webhooks/twilio/voice")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from_stream(chunks))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json_of(response).await["code"], "payload_too_large");
    let calls = state
        .store
        .list_calls(state.tenant.id, None, callbook_jobs::Page::first(10))
        .await
        .unwrap();
    assert!(calls.is_empty());
}

#[tokio::test]
async fn login_brute_force_from_one_address_is_locked_out() {
    let (state, _dir) = app_with(&[("CALLBOOK_RATE_LIMIT_LOGIN", "5/min")]).await;
    add_user(&state, "maria", Role::Staff).await;
    let router = app::router(state);
    let attacker = "198.51.100.7";
    // Five guesses at five different logins from one address …
    for i in 0..5 {
        let response = router
            .clone()
            .oneshot(login_request(attacker, &format!("user{i}"), "guess", &[]))
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {i}");
    }
    // … lock the address out, even with a right login and password.
    let response = router
        .clone()
        .oneshot(login_request(attacker, "maria", PASSWORD, &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(json_of(response).await["code"], "rate_limited");
    // An untrusted peer cannot escape by inventing X-Forwarded-For addresses.
    let response = router
        .clone()
        .oneshot(login_request(
            attacker,
            "maria",
            PASSWORD,
            &[("x-forwarded-for", "203.0.113.99")],
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    // Maria herself, from her own address, still logs in.
    let response = router
        .clone()
        .oneshot(login_request("192.0.2.10", "maria", PASSWORD, &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn trusted_proxies_give_each_client_its_own_limit() {
    let (state, _dir) = app_with(&[
        ("CALLBOOK_RATE_LIMIT_LOGIN", "2/min"),
        ("CALLBOOK_TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    add_user(&state, "maria", Role::Staff).await;
    let router = app::router(state);
    let proxy = "10.0.0.1";
    for i in 0..2 {
        let response = router
            .clone()
            .oneshot(login_request(
                proxy,
                &format!("a{i}"),
                "x",
                &[("x-forwarded-for", "203.0.113.1")],
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let locked = router
        .clone()
        .oneshot(login_request(
            proxy,
            "b0",
            "x",
            &[("x-forwarded-for", "203.0.113.1")],
        ))
        .await
        .unwrap();
    assert_eq!(locked.status(), 429, "client 203.0.113.1 is out of attempts");
    // Another client behind the same proxy has its own budget; a spoofed left-most entry does not matter.
    let response = router
        .clone()
        .oneshot(login_request(
            proxy,
            "maria",
            PASSWORD,
            &[("x-forwarded-for", "203.0.113.1, 203.0.113.2")],
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn webhooks_and_the_api_are_rate_limited_per_client() {
    let (state, _dir) = app_with(&[
        ("CALLBOOK_RATE_LIMIT_WEBHOOKS", "3/min"),
        ("CALLBOOK_RATE_LIMIT_API", "4/min"),
    ])
    .await;
    let router = app::router(state);
    let webhook = |peer: &str| {
        from(peer, Request::post("/webhooks/twilio/voice"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("CallSid=CA1"))
            .unwrap()
    };
    for _ in 0..3 {
        // Unsigned: refused by the signature check, but counted.
        let response = router.clone().oneshot(webhook("198.51.100.1")).await.unwrap();
        assert_eq!(response.status(), 403);
    }
    let response = router.clone().oneshot(webhook("198.51.100.1")).await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(
        router
            .clone()
            .oneshot(webhook("198.51.100.2"))
            .await
            .unwrap()
            .status(),
        403
    );

    let api = |peer: &str| {
        from(peer, Request::get("/api/v1/jobs"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .body(Body::empty())
            .unwrap()
    };
    for _ in 0..4 {
        assert_eq!(
            router
                .clone()
                .oneshot(api("198.51.100.3"))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let response = router.clone().oneshot(api("198.51.100.3")).await.unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15).contains(&retry), "one request per 15 s: {retry}");
    // The same token from a fresh address: the principal's own budget is spent too.
    let response = router.clone().oneshot(api("198.51.100.4")).await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(json_of(response).await["code"], "rate_limited");
    // Health checks are not rate limited.
    for _ in 0..10 {
        let health = from("198.51.100.3", Request::get("/healthz"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(router.clone().oneshot(health).await.unwrap().status(), 200);
    }
}

async fn boom() -> &'static str {
    panic!("SELECT password_hash FROM users WHERE login = 'maria'")
}

#[tokio::test]
async fn panics_become_500_problems_without_details() {
    let router = hardening::apply(
        Router::new().route("/api/v1/boom", get(boom)),
        Arc::new(Hardening::default()),
    );
    let response = router
        .oneshot(Request::get("/api/v1/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let problem = json_of(response).await;
    assert_eq!(problem["code"], "internal");
    let text = problem.to_string();
    for leak in ["SELECT", "password_hash", "maria", "panicked", ".rs:"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}

#[tokio::test]
async fn slow_requests_time_out_but_event_streams_and_uploads_do_not() {
    let config = HardeningConfig {
        request_timeout: Duration::from_millis(200),
        ..HardeningConfig::default()
    };
    let slow = || async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        "late"
    };
    let router = hardening::apply(
        Router::new()
            .route("/api/v1/slow", get(slow))
            .route("/api/v1/events", get(slow))
            .route("/api/v1/jobs/j1/photos", axum::routing::post(slow)),
        Arc::new(Hardening::new(config)),
    );
    let response = router
        .clone()
        .oneshot(Request::get("/api/v1/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(json_of(response).await["code"], "timeout");
    let response = router
        .clone()
        .oneshot(Request::get("/api/v1/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = router
        .oneshot(
            Request::post("/api/v1/jobs/j1/photos")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "uploads may be slow");
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

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
async fn passwords_tokens_cookies_and_csrf_tokens_never_reach_the_logs() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone()),
    );
    // Global (see tests/server.rs): other tests' logs land here too, and must be secret-free as well.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (state, _dir) = app_with(&[]).await;
    add_user(&state, "maria", Role::Admin).await;
    let router = app::router(state);
    let send = |request: Request<Body>| router.clone().oneshot(request);
    let wrong = "wrong-password-hunter2-xyz";
    assert_eq!(
        send(login_request("192.0.2.1", "maria", wrong, &[]))
            .await
            .unwrap()
            .status(),
        401
    );
    let response = send(login_request("192.0.2.1", "maria", PASSWORD, &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookie_secret = cookie.split_once('=').unwrap().1.to_owned();
    let me = json_of(response).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let user = me["user"]["id"].as_str().unwrap().to_owned();

    let response = send(
        Request::post("/api/v1/tokens")
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(Body::from(json!({"name": "ci"}).to_string()))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let token = json_of(response).await["token"].as_str().unwrap().to_owned();
    let response = send(
        Request::get("/api/v1/jobs")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let new_password = "new-password-correct-horse-42";
    let response = send(
        Request::post(format!("/api/v1/users/{user}/password"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"password": new_password, "current_password": PASSWORD}).to_string(),
            ))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let response = send(
        Request::post("/api/v1/users")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Body::from(json!({"login": "sam", "role": "staff"}).to_string()))
            .unwrap(),
    )
    .await
    .unwrap();
    let one_time = json_of(response).await["password"].as_str().unwrap().to_owned();

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("login failed"), "{logs}");
    assert!(logs.contains("logged in"), "{logs}");
    assert!(logs.contains("API token created"), "{logs}");
    for secret in [
        PASSWORD,
        wrong,
        new_password,
        one_time.as_str(),
        token.as_str(),
        &token[3..],
        cookie_secret.as_str(),
        csrf.as_str(),
        ADMIN,
    ] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
}

#[test]
fn request_types_redact_secrets_in_debug() {
    let login: callbook_server::api::accounts::LoginRequest =
        serde_json::from_value(json!({"login": "maria", "password": "debug-secret-pw"})).unwrap();
    assert!(!format!("{login:?}").contains("debug-secret-pw"));
    let create: callbook_server::api::accounts::UserCreate =
        serde_json::from_value(json!({"login": "m", "role": "staff", "password": "debug-secret-pw"}))
            .unwrap();
    assert!(!format!("{create:?}").contains("debug-secret-pw"));
    let change: callbook_server::api::accounts::PasswordChange =
        serde_json::from_value(json!({"password": "debug-secret-pw", "current_password": "debug-old-pw"}))
            .unwrap();
    assert!(!format!("{change:?}").contains("debug-secret-pw"));
    assert!(!format!("{change:?}").contains("debug-old-pw"));
}
