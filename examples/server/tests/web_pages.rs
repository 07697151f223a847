//! The dashboard's shell, login, home and notifications (issue 9, foundation): redirects without a session,
//! the login page, home's numbers for seeded data, tenant isolation of pages and the notifications API,
//! embedded assets (content types, hashed-URL caching, ETags) and the page CSP with no inline code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, Session};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use callbook_jobs::{
    Actor, Call, CallState, NewCall, PhoneNumber, RecordingRef, Role, Stage, Tenant, TenantId, UserId,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const PASSWORD: &str = "a long enough password 123";

fn app(env: &Env) -> Router {
    callbook_server::api::router(env.state.clone()).merge(callbook_server::web::router(env.state.clone()))
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    session: Option<&Session>,
    headers: &[(&str, &str)],
) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(s) = session {
        request = request.header("cookie", &s.cookie);
        if method != "GET" {
            request = request.header("x-csrf-token", &s.csrf);
        }
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// GET a page as `session`: status and body.
async fn page(app: &Router, path: &str, session: &Session) -> (u16, String) {
    let response = send(app, "GET", path, Some(session), &[]).await;
    let status = response.status().as_u16();
    (status, text(response).await)
}

async fn json_of(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = text(response).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// The text of the `.stat-value` inside the element with `id`.
fn stat(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let v = rest.find("class=\"stat-value\">").unwrap() + "class=\"stat-value\">".len();
    rest[v..v + rest[v..].find('<').unwrap()].to_owned()
}

/// The text of the stage-count badge of `stage` on home.
fn stage_count(html: &str, stage: &str) -> String {
    let at = html.find(&format!("data-stage=\"{stage}\"")).unwrap();
    let rest = &html[at..];
    let v = rest.find("data-count=").unwrap();
    let rest = &rest[v..];
    let gt = rest.find('>').unwrap() + 1;
    rest[gt..gt + rest[gt..].find('<').unwrap()].to_owned()
}

/// Records a call started at `started_at` and finishes it as `outcome` the way the worker does (with a booked
/// job named `name` for `Done`).
async fn call_in_state(
    env: &Env,
    tenant: &Tenant,
    sid: &str,
    started_at: DateTime<Utc>,
    outcome: CallState,
    name: &str,
) -> Call {
    let t = tenant.id;
    let (call, _) = env
        .store
        .record_call(
            t,
            NewCall {
                provider: "twilio".into(),
                provider_call_id: sid.into(),
                phone_line_id: None,
                from: Some(PhoneNumber::parse("+19145552177").unwrap()),
                to: Some(PhoneNumber::parse("+19145550100").unwrap()),
                started_at,
                provider_status: "completed".into(),
            },
        )
        .await
        .unwrap();
    env.store
        .set_recording(
            t,
            call.id,
            RecordingRef {
                provider_recording_id: format!("RE{sid}"),
                duration_seconds: Some(30),
                storage_key: None,
            },
        )
        .await
        .unwrap();
    if outcome == CallState::Done {
        let mut doc = api_common::extraction_doc();
        doc["appointments"][0]["customer_name"]["value"] = json!(name);
        let booking = env
            .transcribe_extract_and_book(tenant, &call, "a call".into(), doc)
            .await;
        env.store
            .link_call_customer(t, call.id, booking.job.customer_id.unwrap())
            .await
            .unwrap();
    }
    let now = callbook_jobs::now();
    let claimed = env
        .store
        .claim_calls("test", now, std::time::Duration::from_secs(60), 10, 8)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "one call at a time");
    let lease = claimed[0].lease().unwrap();
    if outcome == CallState::Dead {
        env.store
            .kill_call(t, call.id, &lease, now, "transcriber unavailable")
            .await
            .unwrap()
    } else {
        env.store
            .finish_call(t, call.id, &lease, now, outcome)
            .await
            .unwrap()
    }
}

async fn user_session(env: &Env, tenant: TenantId, login: &str) -> (Session, UserId) {
    let user = env.add_user(tenant, login, Role::Staff, PASSWORD).await;
    (env.login(login, PASSWORD).await, user.id)
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_login_with_next() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    for (path, next) in [
        ("/app", "/app"),
        (
            "/app/notifications?unread=true",
            "/app/notifications%3Funread%3Dtrue",
        ),
    ] {
        let response = send(&app, "GET", path, None, &[]).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(
            response.headers()["location"],
            format!("/app/login?next={next}").as_str(),
            "{path}"
        );
    }
    // a path no page has: the login first, then an HTML 404
    let response = send(&app, "GET", "/app/no-such-page", None, &[]).await;
    assert_eq!(response.status(), 303);
    let env_session = env.add_user(env.tenant.id, "zoe", Role::Staff, PASSWORD).await;
    assert_eq!(env_session.login, "zoe");
    let zoe = env.login("zoe", PASSWORD).await;
    let response = send(&app, "GET", "/app/no-such-page", Some(&zoe), &[]).await;
    assert_eq!(response.status(), 404);
    assert!(text(response).await.contains("<h1>Not found</h1>"));
    // an expired or forged cookie is no session either
    let response = send(
        &app,
        "GET",
        "/app",
        None,
        &[("cookie", "callbook_session=forged")],
    )
    .await;
    assert_eq!(response.status(), 303);
    // the site root goes to the dashboard
    for root in ["/", "/app/"] {
        let response = send(&app, "GET", root, None, &[]).await;
        assert_eq!(response.headers()["location"], "/app", "{root}");
    }
}

#[tokio::test]
async fn login_page_renders_the_form_and_a_session_skips_it() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let response = send(&app, "GET", "/app/login?next=/app/notifications", None, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = text(response).await;
    for needle in [
        "<form class=\"stack\" id=\"login-form\"",
        "<label for=\"login\">Login</label>",
        "<input id=\"login\" name=\"login\"",
        "<label for=\"password\">Password</label>",
        "type=\"password\" autocomplete=\"current-password\"",
        // the Business choice (radio buttons from the answer's `tenants`), hidden until the API answers
        // tenant_required; the business ID by hand only when the answer has no list
        "id=\"tenant-field\" hidden",
        "<legend>Business</legend>",
        "<div class=\"stack\" id=\"tenant-options\"></div>",
        "<label for=\"tenant\">Business ID</label>",
        ">Sign in</button>",
        "data-next=\"/app/notifications\"",
        "/app/assets/login.js?v=",
    ] {
        assert!(html.contains(needle), "{needle} missing in {html}");
    }
    // no open redirect through next
    for bad in [
        "//evil.example/app",
        "https://evil.example",
        "/\\evil.example",
        "/apps",
    ] {
        let html = text(send(&app, "GET", &format!("/app/login?next={bad}"), None, &[]).await).await;
        assert!(html.contains("data-next=\"/app\""), "{bad}: {html}");
    }
    // signed in: straight to next (or /app)
    let (session, _) = user_session(&env, env.tenant.id, "alice").await;
    let response = send(
        &app,
        "GET",
        "/app/login?next=/app/notifications",
        Some(&session),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/app/notifications");
    let response = send(&app, "GET", "/app/login?next=//evil.example", Some(&session), &[]).await;
    assert_eq!(response.headers()["location"], "/app");
    // the API the login script posts to
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"login": "alice", "password": "wrong password"}).to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    let (status, problem) = json_of(response).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
}

#[tokio::test]
async fn home_shows_todays_numbers_for_the_tenant() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let tenant = env.tenant.clone();
    let now = Utc::now();
    // today (in the tenant's zone): two booked calls, one needing review, one dead
    let booked1 = call_in_state(
        &env,
        &tenant,
        "T1",
        now - TimeDelta::minutes(5),
        CallState::Done,
        "Tessa Today",
    )
    .await;
    call_in_state(
        &env,
        &tenant,
        "T2",
        now - TimeDelta::minutes(5),
        CallState::Done,
        "Zed <img src=x onerror=alert(1)>",
    )
    .await;
    let review = call_in_state(
        &env,
        &tenant,
        "T3",
        now - TimeDelta::minutes(1),
        CallState::NeedsReview,
        "",
    )
    .await;
    call_in_state(
        &env,
        &tenant,
        "T4",
        now - TimeDelta::minutes(2),
        CallState::Dead,
        "",
    )
    .await;
    // three days ago: counted in the 7-day rates, not today
    call_in_state(
        &env,
        &tenant,
        "T5",
        now - TimeDelta::days(3),
        CallState::NoAppointment,
        "",
    )
    .await;
    // long ago: in neither (seed_call starts its calls in March 2026)
    env.seed_call("OLD").await;
    // one job moved on
    let job = env
        .store
        .find_job_by_source(
            tenant.id,
            callbook_jobs::JobSource {
                call_id: booked1.id,
                appointment_index: 0,
            },
        )
        .await
        .unwrap()
        .unwrap();
    env.store
        .move_job(
            tenant.id,
            job.id,
            job.version,
            Stage::Confirmed,
            None,
            Actor::System("test".into()),
        )
        .await
        .unwrap();
    let (session, _) = user_session(&env, tenant.id, "alice").await;

    let (status, html) = page(&app, "/app", &session).await;
    assert_eq!(status, 200, "{html}");
    // (4 unless the test runs in the first minutes of a New York day)
    let (start, _) = callbook_server::web::day_bounds(&tenant.timezone, Utc::now());
    let today = [5, 5, 1, 2]
        .iter()
        .filter(|m| now - TimeDelta::minutes(**m) >= start)
        .count();
    assert_eq!(stat(&html, "calls-today"), today.to_string());
    assert_eq!(stat(&html, "needs-review"), "1");
    // 5 finished in the window, 1 dead: 80 %
    assert_eq!(stat(&html, "success-rate"), "80%");
    assert!(
        html.contains("4 of 5 calls in the last 7 days processed without failing (1 needed review)"),
        "{html}"
    );
    // both booked calls of today: 5 minutes from the call to its job (the March job is outside the window)
    assert_eq!(stat(&html, "call-to-job"), "5 min");
    // jobs: Tessa's confirmed; the other today's and the March one still quote requested
    assert_eq!(stage_count(&html, "quote_requested"), "2");
    assert_eq!(stage_count(&html, "confirmed"), "1");
    assert_eq!(stage_count(&html, "quote_sent"), "0");
    assert!(
        html.contains(&format!("href=\"/app/calls/{}\"", review.id)),
        "review link"
    );
    assert!(html.contains("Tessa Today"));
    // escaped, never markup
    assert!(html.contains("Zed &lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(!html.contains("<img src=x"));
    // the shell: tenant name, nav, sign out, notifications link with the badge, toasts
    for needle in [
        "<span class=\"tenant-name\">Acme Plumbing</span>",
        "<nav class=\"app-nav\" aria-label=\"Main\">",
        "<a href=\"/app\" aria-current=\"page\">",
        ">Board</span>",
        ">Calls</span>",
        ">Customers</span>",
        ">Calendar</span>",
        ">Settings</span>",
        "id=\"sign-out\"",
        ">Sign out</button>",
        "href=\"/app/notifications\"",
        "id=\"notification-count\"",
        "<div class=\"toasts\" id=\"toasts\" role=\"status\" aria-live=\"polite\">",
        "<meta name=\"csrf-token\" content=\"",
        &session.csrf,
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
}

#[tokio::test]
async fn another_tenants_session_sees_none_of_it() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let a = env.tenant.clone();
    let (call, job) = env.seed_call_for(&a, "CA-A", "Annabel Secretname").await;
    let note = env
        .store
        .notify(
            a.id,
            None,
            "job.created",
            json!({"job_id": job.id.to_string(), "call_id": call.id.to_string()}),
        )
        .await
        .unwrap();
    let (b_session, _) = user_session(&env, env.other.id, "bob").await;
    for path in ["/app", "/app/notifications"] {
        let (status, html) = page(&app, path, &b_session).await;
        assert_eq!(status, 200);
        for marker in [
            "Annabel Secretname",
            "Acme Plumbing",
            &call.id.to_string(),
            &job.id.to_string(),
            &note.id.to_string(),
        ] {
            assert!(!html.contains(marker), "{path} shows A's {marker}");
        }
        assert!(html.contains("Other Co"));
    }
    let (status, list) =
        json_of(send(&app, "GET", "/api/v1/notifications", Some(&b_session), &[]).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        (list["total"].as_u64(), list["unread"].as_u64()),
        (Some(0), Some(0)),
        "{list}"
    );
    let (status, problem) = json_of(
        send(
            &app,
            "POST",
            &format!("/api/v1/notifications/{}/read", note.id),
            Some(&b_session),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (_, done) = json_of(
        send(
            &app,
            "POST",
            "/api/v1/notifications/read-all",
            Some(&b_session),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(done["marked"], 0);
    // A's row is still unread
    let rows = env.store.list_notifications(a.id, None, true).await.unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn notifications_api_and_page() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let a = env.tenant.clone();
    let (call, job) = env.seed_call_for(&a, "CA-N", "Nina Notify").await;
    let (alice, alice_id) = user_session(&env, a.id, "alice").await;
    let (carol, carol_id) = user_session(&env, a.id, "carol").await;
    let event = |kind: &str| json!({"kind": kind, "job_id": job.id.to_string(), "call_id": call.id.to_string(), "data": {"stage": "quote_sent"}});
    let created = env
        .store
        .notify(a.id, None, "job.created", event("job.created"))
        .await
        .unwrap();
    let review = env
        .store
        .notify(
            a.id,
            None,
            "call.needs_review",
            json!({"call_id": call.id.to_string()}),
        )
        .await
        .unwrap();
    let moved = env
        .store
        .notify(a.id, Some(alice_id), "job.moved", event("job.moved"))
        .await
        .unwrap();
    let carols = env
        .store
        .notify(
            a.id,
            Some(carol_id),
            "call.dead",
            json!({"call_id": call.id.to_string()}),
        )
        .await
        .unwrap();

    // Alice: the two tenant-wide rows and her own, newest first; not Carol's
    let (status, list) = json_of(send(&app, "GET", "/api/v1/notifications", Some(&alice), &[]).await).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            moved.id.to_string(),
            review.id.to_string(),
            created.id.to_string()
        ]
    );
    assert_eq!(
        (list["total"].as_u64(), list["unread"].as_u64()),
        (Some(3), Some(3))
    );
    let first = &list["items"][0];
    assert_eq!(first["kind"], "job.moved");
    assert_eq!(first["job_id"], job.id.to_string());
    assert_eq!(first["data"]["stage"], "quote_sent");
    assert_eq!(first["personal"], true);
    assert_eq!(first["read_at"], Value::Null);
    // paging
    let (_, page2) = json_of(
        send(
            &app,
            "GET",
            "/api/v1/notifications?limit=2&offset=2",
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["id"], created.id.to_string());
    let (status, bad) =
        json_of(send(&app, "GET", "/api/v1/notifications?limit=0", Some(&alice), &[]).await).await;
    assert_eq!((status, bad["code"].as_str()), (422, Some("validation_failed")));

    // the page: rows with what happened and links
    let (status, html) = page(&app, "/app/notifications", &alice).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<ul class=\"list\" id=\"notification-list\">"),
        "{html}"
    );
    assert!(html.contains(&format!("data-notification-id=\"{}\"", created.id)));
    assert!(html.contains(&format!("href=\"/app/jobs/{}\"", job.id)));
    assert!(html.contains(&format!("href=\"/app/calls/{}\"", call.id)));
    assert!(html.contains("New job: "), "{html}");
    assert!(html.contains("moved to Quote sent"), "{html}");
    assert!(html.contains("Call from Nina Notify needs review"), "{html}");
    assert!(html.contains(&format!(
        "data-api=\"POST /api/v1/notifications/{}/read\"",
        review.id
    )));
    assert!(!html.contains(&carols.id.to_string()), "Carol's own row");
    // the header badge counts Alice's unread
    assert!(
        html.contains("<span class=\"badge count\" id=\"notification-count\">3</span>"),
        "{html}"
    );

    // Carol's personal row is 404 for Alice; reading one's own works and is idempotent
    let (status, _) = json_of(
        send(
            &app,
            "POST",
            &format!("/api/v1/notifications/{}/read", carols.id),
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, read) = json_of(
        send(
            &app,
            "POST",
            &format!("/api/v1/notifications/{}/read", moved.id),
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{read}");
    let read_at = read["read_at"].as_str().unwrap().to_owned();
    let (_, again) = json_of(
        send(
            &app,
            "POST",
            &format!("/api/v1/notifications/{}/read", moved.id),
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(again["read_at"].as_str(), Some(read_at.as_str()));
    // without the CSRF token a session cannot write
    let response = app
        .clone()
        .oneshot(
            Request::post(format!("/api/v1/notifications/{}/read", review.id))
                .header("cookie", &alice.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (_, unread) = json_of(
        send(
            &app,
            "GET",
            "/api/v1/notifications?unread=true",
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(
        (unread["total"].as_u64(), unread["unread"].as_u64()),
        (Some(2), Some(2))
    );
    // read-all marks the rest; Carol's stays unread, and the tenant-wide ones are read for her too
    let (_, done) =
        json_of(send(&app, "POST", "/api/v1/notifications/read-all", Some(&alice), &[]).await).await;
    assert_eq!(done["marked"], 2);
    let (_, list) = json_of(send(&app, "GET", "/api/v1/notifications", Some(&carol), &[]).await).await;
    assert_eq!(list["unread"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], carols.id.to_string());
    let (_, html) = page(&app, "/app/notifications?unread=true", &alice).await;
    assert!(html.contains("No unread notifications."), "{html}");
    assert!(
        html.contains("id=\"notification-count\" hidden>0</span>"),
        "{html}"
    );
    // a malformed id is 404, not 500
    let (status, _) = json_of(
        send(
            &app,
            "POST",
            "/api/v1/notifications/not-an-id/read",
            Some(&alice),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
}

/// `(path, query)` of the first `src`/`href` naming `asset`.
fn versioned(html: &str, asset: &str) -> String {
    let at = html.find(&format!("/app/assets/{asset}?v=")).unwrap();
    let rest = &html[at..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn assets_are_served_with_types_hash_caching_and_etags() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let login = text(send(&app, "GET", "/app/login", None, &[]).await).await;
    // app.js unversioned (one module instance), the rest with their hash
    assert!(login.contains("<script type=\"module\" src=\"/app/assets/app.js\"></script>"));
    let css = versioned(&login, "app.css");
    let js = versioned(&login, "login.js");
    for (url, kind) in [
        (css.as_str(), "text/css; charset=utf-8"),
        (js.as_str(), "text/javascript; charset=utf-8"),
    ] {
        let response = send(&app, "GET", url, None, &[]).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], kind);
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let hash = url.split("?v=").nth(1).unwrap();
        assert_eq!(etag, format!("\"{hash}\""));
        // a wrong or missing version is not cached for a year
        let path = url.split('?').next().unwrap();
        for other in [format!("{path}?v=000000000000"), path.to_owned()] {
            let response = send(&app, "GET", &other, None, &[]).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-cache", "{other}");
        }
        let response = send(&app, "GET", path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(response.status(), 304);
        assert!(text(response).await.is_empty());
    }
    let response = send(&app, "GET", "/app/assets/app.js", None, &[]).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let body = text(response).await;
    for export in [
        "export function csrfToken",
        "export class ApiProblem",
        "export async function api(",
        "export function toast(",
        "export function announce(",
        "export function onEvent(",
        "export async function refreshMain(",
        "export function enhance(",
        "export function onEnhance(",
        "export function formJson(",
        "export function escapeHtml(",
    ] {
        assert!(body.contains(export), "app.js lacks {export}");
    }
    let response = send(&app, "GET", "/app/assets/nope.js", None, &[]).await;
    assert_eq!(response.status(), 404);
    let response = send(&app, "GET", "/app/assets/../Cargo.toml", None, &[]).await;
    assert_ne!(response.status(), 200);
}

/// Every `<script>` has a `src` and no body; no `<style>`, no `style=` and no `on…=` handlers.
fn assert_no_inline_code(path: &str, html: &str) {
    let mut rest = html;
    while let Some(at) = rest.find("<script") {
        let tag_end = at + rest[at..].find('>').unwrap();
        let tag = &rest[at..=tag_end];
        assert!(tag.contains(" src=\""), "{path}: inline script {tag}");
        assert!(
            rest[tag_end + 1..].starts_with("</script>"),
            "{path}: script body after {tag}"
        );
        rest = &rest[tag_end..];
    }
    assert!(!html.contains("<style"), "{path}: <style>");
    assert!(!html.contains(" style="), "{path}: style attribute");
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " onchange=",
        " oninput=",
    ] {
        assert!(!html.contains(handler), "{path}: {handler}");
    }
}

#[tokio::test]
async fn pages_have_the_csp_and_no_inline_code() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    env.seed_call("CA-CSP").await;
    env.store
        .notify(env.tenant.id, None, "call.dead", json!({"call_id": "x"}))
        .await
        .unwrap();
    let (session, _) = user_session(&env, env.tenant.id, "alice").await;
    let login = send(&app, "GET", "/app/login", None, &[]).await;
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(csp, callbook_server::web::PAGE_CSP);
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert_no_inline_code("/app/login", &text(login).await);
    for path in [
        "/app",
        "/app/notifications",
        "/app/notifications?unread=true&page=2",
    ] {
        let response = send(&app, "GET", path, Some(&session), &[]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-security-policy"].to_str().unwrap(),
            callbook_server::web::PAGE_CSP,
            "{path}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let html = text(response).await;
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
        assert_no_inline_code(path, &html);
    }
}

#[tokio::test]
async fn error_pages_are_html_without_inline_code() {
    use axum::response::IntoResponse as _;
    let response =
        callbook_server::web::WebError::Api(callbook_server::api::ApiError::not_found("job")).into_response();
    assert_eq!(response.status(), 404);
    let html = text(response).await;
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    assert_no_inline_code("404", &html);
}

#[test]
fn helpers_format_for_people() {
    use callbook_jobs::{Money, TimeZone, Urgency};
    use callbook_server::web::{
        confidence_class, day_bounds, format_duration, format_money, stage_label, urgency_label,
    };
    use chrono::TimeZone as _;
    assert_eq!(stage_label(Stage::QuoteRequested), "Quote requested");
    assert_eq!(stage_label(Stage::InProgress), "In progress");
    assert_eq!(urgency_label(Urgency::Emergency), "Emergency");
    assert_eq!(
        (
            confidence_class(0.85),
            confidence_class(0.6),
            confidence_class(0.59)
        ),
        ("high", "mid", "low")
    );
    assert_eq!(format_money(&Money::new(8900, "USD")), "$89.00");
    assert_eq!(format_money(&Money::new(12_345_678, "EUR")), "€123,456.78");
    assert_eq!(format_money(&Money::new(1500, "JPY")), "JPY 1,500");
    assert_eq!(format_money(&Money::new(5, "CHF")), "CHF 0.05");
    assert_eq!(format_duration(TimeDelta::seconds(42)), "42 s");
    assert_eq!(format_duration(TimeDelta::minutes(90)), "1 h 30 min");
    assert_eq!(format_duration(TimeDelta::hours(50)), "2 d 2 h");
    // the day a New York clock springs forward has 23 hours
    let ny = TimeZone::parse("America/New_York").unwrap();
    let (start, end) = day_bounds(&ny, Utc.with_ymd_and_hms(2026, 3, 8, 15, 0, 0).unwrap());
    assert_eq!(start, Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap());
    assert_eq!(end - start, TimeDelta::hours(23));
    // late evening in New York is still "today" there though it is tomorrow in UTC
    let (start, _) = day_bounds(&ny, Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap());
    assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap());
}
