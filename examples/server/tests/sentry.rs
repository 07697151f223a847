//! Sentry reporting (feature `sentry`): an error and a panic reach a local Sentry-speaking HTTP server as
//! envelopes, with no phone number, e-mail, transcript text, IP address or secret header in them.
#![cfg(feature = "sentry")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use callbook_server::sentry as reporting;
use sentry::protocol::{Breadcrumb, Context, Map, Request, User, Value};

const PHONE: &str = "+14155550123";
const PHONE_DIGITS: &str = "5550123";
const TRANSCRIPT: &str = "my kitchen sink is leaking under the cabinet";
const EMAIL: &str = "maria.lopez@example.com";
const SECRET: &str = "Bearer secret-admin-token";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String)>>>);

async fn envelope(
    State(received): State<Received>,
    Path(project): Path<String>,
    body: Bytes,
) -> &'static str {
    received
        .0
        .lock()
        .unwrap()
        .push((project, String::from_utf8_lossy(&body).into_owned()));
    "{}"
}

async fn start_sentry() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/api/{project}/envelope/", post(envelope))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://publickey@{addr}/42"), received)
}

#[derive(Debug)]
struct CallFailed;

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not reach caller {PHONE} (reply to {EMAIL})")
    }
}

impl std::error::Error for CallFailed {}

fn wait_for(received: &Received, count: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        let got = received.0.lock().unwrap().clone();
        if got.len() >= count {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    received.0.lock().unwrap().clone()
}

fn assert_clean(envelope: &str) {
    for secret in [
        PHONE,
        PHONE_DIGITS,
        TRANSCRIPT,
        "kitchen sink",
        EMAIL,
        SECRET,
        "203.0.113.7",
        "gate code",
    ] {
        assert!(!envelope.contains(secret), "{secret:?} leaked into {envelope}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_panics_arrive_without_personal_data() {
    let (dsn, received) = start_sentry().await;
    // All on one thread: the client is bound to this thread's hub, the panic hook reports through it.
    let handle = tokio::task::spawn_blocking(move || {
        let guard = reporting::init(&dsn, "test").unwrap();
        sentry::with_scope(
            |scope| {
                scope.set_extra("transcript", Value::from(TRANSCRIPT));
                scope.set_extra("attempt", Value::from(3));
                let mut caller = Map::new();
                caller.insert("from".into(), Value::from(PHONE));
                caller.insert("notes".into(), Value::from("gate code 1234"));
                scope.set_context("caller", Context::Other(caller));
                scope.set_tag("to", PHONE);
                scope.set_tag("step", "transcribe");
                scope.set_user(Some(User {
                    id: Some("tenant-1".into()),
                    email: Some(EMAIL.into()),
                    ip_address: Some("203.0.113.7".parse().unwrap()),
                    username: Some("Maria Lopez".into()),
                    ..Default::default()
                }));
                scope.add_event_processor(|mut event| {
                    let mut headers = Map::new();
                    headers.insert("Authorization".into(), SECRET.into());
                    headers.insert("X-Request-Id".into(), "req-7".into());
                    event.request = Some(Request {
                        url: Some(
                            format!("https://callbook.example.com/webhooks/twilio/voice?From={PHONE}")
                                .parse()
                                .unwrap(),
                        ),
                        method: Some("POST".into()),
                        data: Some(format!("From={PHONE}&SpeechResult={TRANSCRIPT}")),
                        headers,
                        ..Default::default()
                    });
                    Some(event)
                });
                sentry::add_breadcrumb(Breadcrumb {
                    message: Some(format!("caller said: {TRANSCRIPT}")),
                    category: Some("pipeline".into()),
                    ..Default::default()
                });
            },
            || sentry::capture_error(&CallFailed),
        );
        let panicked = std::panic::catch_unwind(|| {
            panic!("extractor crashed on {PHONE}: {TRANSCRIPT}");
        });
        assert!(panicked.is_err());
        assert!(
            sentry::Hub::current()
                .client()
                .unwrap()
                .flush(Some(Duration::from_secs(5)))
        );
        drop(guard);
    });
    handle.await.unwrap();

    let got = wait_for(&received, 2);
    assert_eq!(got.len(), 2, "one error and one panic: {got:?}");
    for (project, envelope) in &got {
        assert_eq!(project, "42");
        assert_clean(envelope);
        assert!(envelope.contains("\"environment\":\"test\""), "{envelope}");
        assert!(envelope.contains("callbook-server@"), "{envelope}");
    }
    let error = got
        .iter()
        .map(|(_, e)| e)
        .find(|e| e.contains("CallFailed"))
        .expect("the error arrived");
    assert!(error.contains("could not reach caller [redacted]"), "{error}");
    assert!(error.contains("\"attempt\":3"), "numbers in extra stay: {error}");
    assert!(error.contains("transcribe"), "safe tags stay: {error}");
    assert!(
        error.contains("req-7") && error.contains("/webhooks/twilio/voice"),
        "{error}"
    );
    assert!(error.contains("tenant-1"), "the opaque user id stays: {error}");
    let panic = got
        .iter()
        .map(|(_, e)| e)
        .find(|e| e.contains("extractor crashed"))
        .expect("the panic arrived");
    assert!(panic.contains("\"panic\""), "{panic}");
    assert!(panic.contains("extractor crashed on [redacted]: …"), "{panic}");
}

#[test]
fn no_dsn_is_a_no_op() {
    if std::env::var_os("SENTRY_DSN").is_some() {
        eprintln!("skipping: SENTRY_DSN is set in this environment");
        return;
    }
    assert!(reporting::init_from_env().unwrap().is_none());
    assert!(reporting::init("not a dsn", "test").is_err());
}
