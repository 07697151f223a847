//! Dashboard: the new job page (`/app/jobs/new`), the "New job" entries on home and the board, and the JSON the
//! page's script posts to `POST /api/v1/jobs` with the session cookie and CSRF token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, Session};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use callbook_jobs::{CustomerInput, Role, Tenant};
use serde_json::json;
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

fn app(env: &Env) -> Router {
    callbook_server::api::router(env.state.clone()).merge(callbook_server::web::router(env.state.clone()))
}

async fn get(app: &Router, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, location, String::from_utf8_lossy(&bytes).into_owned())
}

async fn owner(env: &Env, tenant: &Tenant, login: &str) -> Session {
    env.add_user(tenant.id, login, Role::Owner, PASSWORD).await;
    env.login(login, PASSWORD).await
}

/// The `for` of the label whose text is `text`, proving the control is labelled.
fn label_for(html: &str, text: &str) -> String {
    let end = html
        .find(&format!("\">{text}</label>"))
        .unwrap_or_else(|| panic!("no label {text:?}"));
    let start = html[..end].rfind("for=\"").unwrap() + "for=\"".len();
    let id = html[start..end].to_owned();
    assert!(
        html.contains(&format!("id=\"{id}\"")),
        "label {text:?} points at a missing #{id}"
    );
    id
}

#[tokio::test]
async fn the_new_job_page_renders_a_labelled_form_for_a_session() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let (status, _, html) = get(&app, "/app/jobs/new", Some(&session.cookie)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>New job</h1>"));
    assert!(html.contains("id=\"new-job-form\""));
    assert!(html.contains("data-endpoint=\"/api/v1/jobs\""));
    // times are entered in the business's zone
    let zone = env.tenant.timezone.name();
    assert!(html.contains(&format!("data-zone=\"{zone}\"")), "{zone}");
    assert!(html.contains(&format!("<meta name=\"tenant-zone\" content=\"{zone}\">")));
    for label in [
        "Summary",
        "Description",
        "Find a customer",
        "Address",
        "City",
        "Start",
        "End",
        "Repeat",
        "Urgency",
        "Price",
        "Currency",
        "Notes",
    ] {
        label_for(&html, label);
    }
    // every field the API can name in a 422 has a slot next to it
    for field in [
        "title",
        "description",
        "customer_id",
        "address",
        "scheduled_start",
        "scheduled_end",
        "recurrence",
        "urgency",
        "price",
        "notes",
    ] {
        assert!(
            html.contains(&format!("data-error-for=\"{field}\"")),
            "no error slot for {field}"
        );
    }
    // the recurrence picker is the job page's; normal urgency preselected; the script and a way back
    assert!(html.contains("id=\"recurrence\""));
    assert!(html.contains("<option value=\"monthly\">Every month</option>"));
    assert!(html.contains("<option value=\"normal\" selected>Normal</option>"));
    assert!(html.contains("/app/assets/job-new.js?v="));
    assert!(html.contains(">Create job</button>"));
    assert!(html.contains("href=\"/app/board\">Cancel</a>"));
    // CSP: no inline code
    assert!(!html.contains("style=\""));
    assert!(!html.contains("<script>"));
    // the board is the current section of the navigation
    assert!(html.contains("href=\"/app/board\" aria-current=\"page\""));
}

#[tokio::test]
async fn the_new_job_page_redirects_without_a_session() {
    let env = Env::new(Backend::Memory).await;
    let app = app(&env);
    let (status, location, _) = get(&app, "/app/jobs/new", None).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/app/login?next=/app/jobs/new"));
    // a stale cookie is no session either
    let (status, _, _) = get(&app, "/app/jobs/new", Some("callbook_session=nope")).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_json_the_page_posts_creates_the_job_with_session_and_csrf() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let customer = env
        .store
        .create_customer(
            env.tenant.id,
            CustomerInput {
                name: Some("Walk-in <Wanda>".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // exactly what job-new.js sends for a filled form (times converted from the business's zone)
    let body = json!({
        "title": "Fix the gate",
        "description": "Hinge broken",
        "customer_id": customer.id.to_string(),
        "address": {"line1": "12 Elm St", "city": "Springfield"},
        "scheduled_start": "2026-12-01T14:00:00.000Z",
        "scheduled_end": "2026-12-01T15:30:00.000Z",
        "recurrence": "FREQ=MONTHLY;COUNT=3",
        "urgency": "urgent",
        "price": {"minor": 8950, "currency": "USD"},
        "notes": "Came into the shop",
    });
    // without the CSRF token a cookie write is refused
    let (status, problem) = env
        .as_session(&session, "POST", "/api/v1/jobs", Some(body.clone()), false)
        .await;
    assert_eq!(status, 403, "{problem}");
    let (status, job) = env
        .as_session(&session, "POST", "/api/v1/jobs", Some(body), true)
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["stage"], "quote_requested");
    assert_eq!(job["customer_id"], customer.id.to_string());
    assert_eq!(job["urgency"], "urgent");
    assert_eq!(job["recurrence"], "FREQ=MONTHLY;COUNT=3");
    assert_eq!(job["price"]["minor"], 8950);
    // where the page navigates next: the job page shows it, with the customer's name escaped
    let id = job["id"].as_str().unwrap();
    let (status, _, html) = get(&app, &format!("/app/jobs/{id}"), Some(&session.cookie)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Fix the gate"));
    assert!(html.contains("Walk-in &lt;Wanda&gt;"));
    assert!(html.contains("value=\"12 Elm St\""));
    assert!(html.contains("Monthly, 3 times"));
    // and it is on the board
    let (_, _, board) = get(&app, "/app/board", Some(&session.cookie)).await;
    assert!(board.contains(&format!("data-job-id=\"{id}\"")));

    // a job with just a summary (no customer yet: linked later)
    let (status, job) = env
        .as_session(
            &session,
            "POST",
            "/api/v1/jobs",
            Some(json!({"title": "Quote for a fence", "description": "", "urgency": "normal"})),
            true,
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert!(job["customer_id"].is_null());
}

#[tokio::test]
async fn api_errors_name_fields_the_page_has_slots_for() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let (_, _, html) = get(&app, "/app/jobs/new", Some(&session.cookie)).await;
    let (status, problem) = env
        .as_session(
            &session,
            "POST",
            "/api/v1/jobs",
            Some(json!({
                "title": "",
                "scheduled_start": "2026-12-01T15:00:00Z",
                "scheduled_end": "2026-12-01T14:00:00Z",
            })),
            true,
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let errors = problem["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        let field = error["field"].as_str().unwrap();
        let slot = field.split('.').next().unwrap();
        assert!(
            html.contains(&format!("data-error-for=\"{slot}\"")),
            "the API names {field}, the page has no slot for it"
        );
    }
    // another tenant's customer is not found, and no job is made
    let theirs = env
        .store
        .create_customer(
            env.other.id,
            CustomerInput {
                name: Some("Someone else's".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _) = env
        .as_session(
            &session,
            "POST",
            "/api/v1/jobs",
            Some(json!({"title": "Sneaky", "customer_id": theirs.id.to_string()})),
            true,
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = env.as_session(&session, "GET", "/api/v1/jobs", None, false).await;
    assert!(!list.to_string().contains("Sneaky"));
}

#[tokio::test]
async fn home_and_the_board_offer_a_new_job() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let (status, _, home) = get(&app, "/app", Some(&session.cookie)).await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/app/jobs/new\">New job</a>"), "home");
    let (status, _, board) = get(&app, "/app/board", Some(&session.cookie)).await;
    assert_eq!(status, 200);
    assert!(board.contains("href=\"/app/jobs/new\">New job</a>"), "board");
}

#[tokio::test]
async fn the_board_folds_its_filters_and_anchors_its_columns() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let (_, _, board) = get(&app, "/app/board", Some(&session.cookie)).await;
    // home links to /app/board#stage-<stage>: every column has that id
    for stage in [
        "quote_requested",
        "quote_sent",
        "confirmed",
        "in_progress",
        "completed",
        "cancelled",
    ] {
        assert!(
            board.contains(&format!("data-stage=\"{stage}\" id=\"stage-{stage}\"")),
            "{stage}"
        );
    }
    // no filter: the drawer is closed, its summary has no count; the form and its labels are kept
    assert!(board.contains("<details class=\"filters-drawer\" id=\"board-filters-drawer\">"));
    assert!(board.contains("<summary class=\"filters-summary\">Filters</summary>"));
    assert!(board.contains("id=\"board-filters\""));
    for label in ["From", "To", "Urgency", "Search"] {
        label_for(&board, label);
    }
    // two filters: open, with the count
    let (_, _, filtered) = get(&app, "/app/board?urgency=urgent&q=gate", Some(&session.cookie)).await;
    assert!(filtered.contains("<details class=\"filters-drawer\" id=\"board-filters-drawer\" open>"));
    assert!(filtered.contains("aria-label=\"2 active\">2</span>"));
    // a wrong filter opens it too, so the error is seen
    let (_, _, wrong) = get(&app, "/app/board?from=yesterday", Some(&session.cookie)).await;
    assert!(wrong.contains("id=\"board-filters-drawer\" open>"));
}

#[tokio::test]
async fn pages_name_the_svg_favicon_and_favicon_ico_redirects_to_it() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    for (path, cookie) in [
        ("/app/jobs/new", Some(session.cookie.as_str())),
        ("/app/login", None),
        (
            "/app/jobs/00000000-0000-0000-0000-000000000000",
            Some(session.cookie.as_str()),
        ),
    ] {
        let (_, _, html) = get(&app, path, cookie).await;
        assert!(
            html.contains("<link rel=\"icon\" type=\"image/svg+xml\" href=\"/app/assets/favicon.svg?v="),
            "{path}"
        );
    }
    let (status, location, _) = get(&app, "/favicon.ico", None).await;
    assert_eq!(status, 308);
    assert_eq!(location.as_deref(), Some("/app/assets/favicon.svg"));
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/app/assets/favicon.svg")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
}
