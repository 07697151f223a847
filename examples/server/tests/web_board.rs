//! The pipeline board page (`/app/board`) and its card fragment (`/app/board/cards/{id}`): columns and counts
//! from seeded jobs, board order, filters, escaping, tenant isolation and the login redirect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, Session};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use callbook_jobs::{Actor, CustomerInput, Job, Money, NewJob, Role, Stage, TenantId, Urgency};
use chrono::{TimeZone as _, Utc};
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

struct Board {
    env: Env,
    app: Router,
    session: Session,
}

async fn board() -> Board {
    board_on(Backend::Memory).await
}

async fn board_on(backend: Backend) -> Board {
    let env = Env::new(backend).await;
    env.add_user(env.tenant.id, "owner", Role::Owner, PASSWORD).await;
    let session = env.login("owner", PASSWORD).await;
    let app = callbook_server::api::router(env.state.clone())
        .merge(callbook_server::web::router(env.state.clone()));
    Board { env, app, session }
}

impl Board {
    async fn get(&self, path: &str, cookie: bool) -> (u16, String, Option<String>) {
        let mut request = Request::builder().uri(path);
        if cookie {
            request = request.header("cookie", &self.session.cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), location)
    }

    async fn page(&self, path: &str) -> String {
        let (status, body, _) = self.get(path, true).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn job(&self, tenant: TenantId, title: &str, setup: impl FnOnce(&mut NewJob)) -> Job {
        let mut job = NewJob::titled(title);
        setup(&mut job);
        self.env
            .store
            .create_job(tenant, job, Actor::pipeline())
            .await
            .unwrap()
    }

    async fn move_to(&self, job: &Job, stage: Stage, position: Option<i64>) -> Job {
        self.env
            .store
            .move_job(
                job.tenant_id,
                job.id,
                job.version,
                stage,
                position,
                Actor::pipeline(),
            )
            .await
            .unwrap()
    }
}

/// The text of the `<section class="column" data-stage="…">` element (up to its closing tag).
fn column<'a>(html: &'a str, stage: &str) -> &'a str {
    let start = html
        .find(&format!("<section class=\"column\" data-stage=\"{stage}\""))
        .unwrap_or_else(|| panic!("no column {stage}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

/// The job ids of a column's cards, in page order.
fn card_ids(column: &str) -> Vec<String> {
    column
        .split("data-job-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

fn count(column: &str) -> usize {
    let at = column.find("class=\"count\"").unwrap();
    let rest = &column[at..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find('<').unwrap();
    rest[open..close].parse().unwrap()
}

#[tokio::test]
async fn columns_hold_the_seeded_jobs_in_board_order_with_counts() {
    let b = board().await;
    let t = b.env.tenant.id;
    let customer = b
        .env
        .store
        .create_customer(
            t,
            CustomerInput {
                name: Some("Maria Lopez".into()),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    let start = Utc.with_ymd_and_hms(2026, 3, 11, 19, 0, 0).unwrap();
    let first = b
        .job(t, "Leaking sink", |j| {
            j.customer_id = Some(customer.id);
            j.scheduled_start = Some(start);
            j.scheduled_end = Some(start + chrono::TimeDelta::hours(2));
            j.price = Some(Money::new(8900, "USD"));
            j.urgency = Urgency::Emergency;
        })
        .await;
    let second = b.job(t, "Boiler service", |_| {}).await;
    let third = b.job(t, "New radiator", |_| {}).await;
    let done = b.job(t, "Gutter clean", |_| {}).await;
    let dropped = b.job(t, "Fence repair", |_| {}).await;
    // `third` goes to the top of Quote Requested; `done` to Completed; `dropped` is cancelled
    let third = b
        .move_to(&third, Stage::QuoteRequested, Some(first.position - 1024))
        .await;
    b.move_to(&done, Stage::Completed, None).await;
    b.move_to(&dropped, Stage::Cancelled, None).await;
    // another tenant's job never shows
    b.job(b.env.other.id, "Other tenant's job", |_| {}).await;

    let html = b.page("/app/board").await;
    assert!(html.contains("<h1>Board</h1>"));
    let requested = column(&html, "quote_requested");
    assert_eq!(
        card_ids(requested),
        vec![third.id.to_string(), first.id.to_string(), second.id.to_string()]
    );
    assert_eq!(count(requested), 3);
    assert!(requested.contains("Quote Requested"));
    for (stage, n) in [
        ("quote_sent", 0),
        ("confirmed", 0),
        ("in_progress", 0),
        ("completed", 1),
        ("cancelled", 1),
    ] {
        assert_eq!(card_ids(column(&html, stage)).len(), n, "{stage}");
        assert_eq!(count(column(&html, stage)), n, "{stage}");
    }
    assert!(column(&html, "completed").contains("Gutter clean"));
    assert!(html.contains("<details class=\"drawer\""));
    assert!(html.contains("Cancelled (<span class=\"count\" data-count-for=\"cancelled\">1</span>)"));
    assert!(!html.contains("Other tenant"));

    // the card: link, customer, title, local time (New York), urgency badge, price, version and stage
    let card = &requested[requested.find(&first.id.to_string()).unwrap()..];
    let card = &card[..card.find("</li>").unwrap()];
    assert!(card.contains(&format!("href=\"/app/jobs/{}\"", first.id)));
    assert!(card.contains("Maria Lopez"));
    assert!(card.contains("Leaking sink"));
    assert!(
        card.contains("Wed 11 Mar 15:00"),
        "19:00 UTC is 15:00 in New York: {card}"
    );
    assert!(card.contains("Emergency"));
    assert!(card.contains("USD 89.00"));
    assert!(html.contains(&format!(
        "data-job-id=\"{}\" data-version=\"1\" data-stage=\"quote_requested\"",
        first.id
    )));
    assert!(html.contains("tabindex=\"0\""));
    // assets and the filter form
    assert!(html.contains("/app/assets/board.js?v="));
    assert!(html.contains("/app/assets/board.css?v="));
    assert!(html.contains("<form class=\"toolbar board-filters\" id=\"board-filters\""));
    for label in ["From", "To", "Urgency", "Search"] {
        assert!(html.contains(&format!(">{label}</label>")), "{label}");
    }
}

#[tokio::test]
async fn filters_change_what_is_rendered() {
    let b = board().await;
    let t = b.env.tenant.id;
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap();
    let customer = b
        .env
        .store
        .create_customer(
            t,
            CustomerInput {
                name: Some("Zed Quinn".into()),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap();
    let early = b
        .job(t, "Early visit", |j| {
            j.scheduled_start = Some(day(2, 15));
            j.scheduled_end = Some(day(2, 16));
            j.urgency = Urgency::Urgent;
        })
        .await;
    let late = b
        .job(t, "Late visit", |j| {
            j.scheduled_start = Some(day(20, 15));
            j.scheduled_end = Some(day(20, 16));
            j.customer_id = Some(customer.id);
        })
        .await;
    // 03:00 UTC on the 21st is still the 20th in New York (23:00)
    let evening = b
        .job(t, "Evening call-out", |j| {
            j.scheduled_start = Some(day(21, 3));
            j.scheduled_end = Some(day(21, 4));
            j.notes = Some("bring the long ladder".into());
        })
        .await;
    let unscheduled = b.job(t, "Unscheduled quote", |_| {}).await;
    let ids = |html: &str| card_ids(column(html, "quote_requested"));
    let id = |j: &Job| j.id.to_string();

    let all = b.page("/app/board").await;
    assert_eq!(ids(&all).len(), 4);

    let html = b.page("/app/board?urgency=urgent").await;
    assert_eq!(ids(&html), vec![id(&early)]);
    assert!(html.contains("<option value=\"urgent\" selected>Urgent</option>"));
    assert_eq!(count(column(&html, "quote_requested")), 1);

    // text in the title, the notes, or the customer's name; case-insensitive
    assert_eq!(
        ids(&b.page("/app/board?q=VISIT").await),
        vec![id(&early), id(&late)]
    );
    assert_eq!(ids(&b.page("/app/board?q=ladder").await), vec![id(&evening)]);
    let html = b.page("/app/board?q=quinn").await;
    assert_eq!(ids(&html), vec![id(&late)]);
    assert!(html.contains("value=\"quinn\""));

    // whole days in the business's zone
    let html = b.page("/app/board?from=2026-03-20&to=2026-03-20").await;
    assert_eq!(ids(&html), vec![id(&late), id(&evening)]);
    assert!(!ids(&html).contains(&id(&unscheduled)));
    assert_eq!(
        ids(&b.page("/app/board?from=2026-03-01&to=2026-03-05").await),
        vec![id(&early)]
    );
    assert_eq!(
        ids(&b.page("/app/board?from=2026-03-21").await),
        Vec::<String>::new()
    );
    // combined, and empty fields are no filter
    assert_eq!(
        ids(&b.page("/app/board?from=&to=2026-03-31&urgency=&q=late").await),
        vec![id(&late)]
    );

    // bad values are reported next to the field, and the rest of the board still shows
    let html = b.page("/app/board?from=soon&urgency=asap").await;
    assert!(html.contains("data-error-for=\"from\""));
    assert!(html.contains("data-error-for=\"urgency\""));
    assert_eq!(ids(&html).len(), 4);
    let html = b.page("/app/board?from=2026-03-10&to=2026-03-01").await;
    assert!(html.contains("The end date is before the start date."));
}

#[tokio::test]
async fn titles_are_escaped() {
    let b = board().await;
    let job = b
        .job(b.env.tenant.id, "<script>alert(1)</script> & \"quotes\"", |_| {})
        .await;
    let html = b.page("/app/board").await;
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    let fragment = b.page(&format!("/app/board/cards/{}", job.id)).await;
    assert!(!fragment.contains("<script>alert(1)"));
    assert!(fragment.contains("&lt;script&gt;alert(1)"));
}

#[tokio::test]
async fn card_fragment_is_one_card_of_this_tenant() {
    let b = board().await;
    let job = b
        .job(b.env.tenant.id, "Tap washer", |j| j.urgency = Urgency::Flexible)
        .await;
    let moved = b.move_to(&job, Stage::Confirmed, Some(4096)).await;
    let fragment = b.page(&format!("/app/board/cards/{}", job.id)).await;
    assert!(fragment.starts_with("<li class=\"job-card\""), "{fragment}");
    assert!(fragment.ends_with("</li>"));
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(fragment.contains(&format!(
        "data-job-id=\"{}\" data-version=\"{}\" data-stage=\"confirmed\" data-position=\"4096\"",
        job.id, moved.version
    )));
    assert!(fragment.contains("Tap washer"));
    // the same template as the page renders
    let html = b.page("/app/board").await;
    assert!(html.contains(&fragment));

    // filtered out: 204, so the script removes the card
    let (status, body, _) = b
        .get(&format!("/app/board/cards/{}?urgency=emergency", job.id), true)
        .await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, _, _) = b
        .get(
            &format!("/app/board/cards/{}?urgency=flexible&q=washer", job.id),
            true,
        )
        .await;
    assert_eq!(status, 200);

    // another tenant's job, an unknown id and a malformed id are all 404
    let foreign = b.job(b.env.other.id, "Foreign", |_| {}).await;
    for path in [
        format!("/app/board/cards/{}", foreign.id),
        format!("/app/board/cards/{}", callbook_jobs::JobId::new()),
        "/app/board/cards/not-an-id".to_owned(),
    ] {
        let (status, body, _) = b.get(&path, true).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("Foreign"));
    }
}

#[tokio::test]
async fn no_session_redirects_to_login() {
    let b = board().await;
    let (status, _, location) = b.get("/app/board?q=x", false).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/app/login?next=/app/board%3Fq%3Dx"));
    let (status, _, location) = b
        .get(
            &format!("/app/board/cards/{}", callbook_jobs::JobId::new()),
            false,
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("/app/login?next="));
}

#[tokio::test]
async fn a_thousand_jobs_are_all_read_on_sqlite() {
    let b = board_on(Backend::Sqlite).await;
    let t = b.env.tenant.id;
    for i in 0..1001 {
        b.job(t, &format!("Job {i}"), |_| {}).await;
    }
    let html = b.page("/app/board").await;
    let ids = card_ids(column(&html, "quote_requested"));
    assert_eq!(ids.len(), 1001, "every page of the store is read");
    assert_eq!(count(column(&html, "quote_requested")), 1001);
    assert!(html.contains(">Job 1000</p>"));
}
