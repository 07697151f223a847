//! Dashboard pages: the job page (`/app/jobs/{id}`) and the calendar (`/app/calendar`), rendered from seeded data
//! through the real routers with a session cookie.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, Session};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use callbook_jobs::{
    Actor, Address, CustomerInput, Job, JobPatch, Money, NewJob, NewPhoto, NewTenant, Role, Stage, Tenant,
    TimeZone, Urgency,
};
use chrono::{DateTime, TimeZone as _, Utc};
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

fn app(env: &Env) -> Router {
    callbook_server::api::router(env.state.clone()).merge(callbook_server::web::router(env.state.clone()))
}

struct Reply {
    status: u16,
    location: Option<String>,
    content_type: String,
    body: String,
}

async fn get(app: &Router, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (location, content_type) = (header("location"), header("content-type").unwrap_or_default());
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        location,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn owner(env: &Env, tenant: &Tenant, login: &str) -> Session {
    env.add_user(tenant.id, login, Role::Owner, PASSWORD).await;
    env.login(login, PASSWORD).await
}

fn at(zone: &str, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    TimeZone::parse(zone)
        .unwrap()
        .tz()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

async fn job(
    env: &Env,
    tenant: &Tenant,
    title: &str,
    start: DateTime<Utc>,
    minutes: i64,
    recurrence: Option<&str>,
) -> Job {
    let mut new = NewJob::titled(title);
    new.scheduled_start = Some(start);
    new.scheduled_end = Some(start + chrono::Duration::minutes(minutes));
    new.recurrence = recurrence.map(str::to_owned);
    env.store
        .create_job(tenant.id, new, Actor::System("test".into()))
        .await
        .unwrap()
}

/// The days (`data-date` of `li.cal-day` / `li.cal-cell`) whose markup holds an event of `job`, in page order.
fn days_with(html: &str, job: &Job) -> Vec<String> {
    let needle = format!("data-job-id=\"{}\"", job.id);
    let calendar = &html[html.find("id=\"calendar\"").expect("the calendar")..];
    let calendar = &calendar[..calendar.find("id=\"cal-agenda\"").unwrap_or(calendar.len())];
    calendar
        .split("<li class=\"cal-")
        .skip(1)
        .filter(|part| part.contains(&needle))
        .filter_map(|part| {
            let at = part.find("data-date=\"")? + "data-date=\"".len();
            Some(part[at..at + 10].to_owned())
        })
        .collect()
}

/// The `data-start-min` of the first event of `job` on `day`.
fn start_min(html: &str, job: &Job, day: &str) -> Option<u32> {
    let cell = &html[html.find(&format!("data-date=\"{day}\""))?..];
    let cell = &cell[..cell[1..].find("data-date=\"").map_or(cell.len(), |i| i + 1)];
    let event = &cell[cell.find(&format!("data-job-id=\"{}\"", job.id))?..];
    let at = event.find("data-start-min=\"")? + "data-start-min=\"".len();
    event[at..].split('"').next()?.parse().ok()
}

// ------------------------------------------------------------------------------------------------ job page

#[tokio::test]
async fn the_job_page_shows_every_field_escaped_with_history_notes_photos_and_source() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let (call, booked) = env.seed_call("CA-job-page").await;
    let customer = env
        .store
        .create_customer(
            env.tenant.id,
            CustomerInput {
                name: Some("Zoë <b>O'Brien</b>".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // 14:30–16:00 in New York (the tenant's zone) = 19:30Z
    let start = at("America/New_York", 2026, 11, 24, 14, 30);
    let job = env
        .store
        .update_job(
            env.tenant.id,
            booked.id,
            booked.version,
            JobPatch {
                title: Some("<script>alert(1)</script> Boiler & \"pipes\"".into()),
                description: Some("Leaks <under> the sink".into()),
                address: Some(Address {
                    line1: Some("12 Elm St & Co".into()),
                    line2: Some("Apt 4".into()),
                    city: Some("Springfield".into()),
                    region: Some("IL".into()),
                    postal_code: Some("62701".into()),
                    country: Some("US".into()),
                }),
                schedule: Some(Some(callbook_jobs::Schedule {
                    start,
                    end: start + chrono::Duration::minutes(90),
                    timezone: TimeZone::parse("America/New_York").unwrap(),
                })),
                recurrence: Some(Some("FREQ=MONTHLY;COUNT=12".into())),
                price: Some(Some(Money::new(8950, "USD"))),
                urgency: Some(Urgency::Urgent),
                notes: Some(Some("Gate code <1234>".into())),
                customer_id: Some(Some(customer.id)),
                reject_double_booking: false,
            },
            Actor::System("test".into()),
        )
        .await
        .unwrap();
    let job = env
        .store
        .move_job(
            env.tenant.id,
            job.id,
            job.version,
            Stage::Confirmed,
            None,
            Actor::System("test".into()),
        )
        .await
        .unwrap();
    env.store
        .add_note(
            env.tenant.id,
            job.id,
            Actor::System("test".into()),
            "Bring the <big> wrench",
        )
        .await
        .unwrap();
    let photo = env
        .store
        .add_photo(
            env.tenant.id,
            job.id,
            Actor::System("test".into()),
            NewPhoto {
                blob_key: "k".into(),
                content_type: "image/png".into(),
                size_bytes: 10,
                caption: Some("Before & after".into()),
            },
        )
        .await
        .unwrap();

    let page = get(&app, &format!("/app/jobs/{}", job.id), Some(&session.cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.content_type.starts_with("text/html"));
    let html = &page.body;
    // escaped, never raw
    assert!(!html.contains("<script>alert"), "the title is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Boiler &amp; &quot;pipes&quot;"));
    assert!(html.contains("Leaks &lt;under&gt; the sink"));
    assert!(html.contains("Zoë &lt;b&gt;O'Brien&lt;/b&gt;"));
    assert!(!html.contains("<b>O'Brien</b>"));
    // every field with its stored value
    assert!(html.contains(r#"id="job-form""#));
    for (label, name) in [
        ("Summary", "title"),
        ("Description", "description"),
        ("Address", "address.line1"),
        ("Start", "start"),
        ("End", "end"),
        ("Urgency", "urgency"),
        ("Price", "price"),
        ("Notes", "notes"),
        ("Repeat", "repeat"),
    ] {
        assert!(html.contains(&format!(">{label}</label>")), "label {label}");
        assert!(html.contains(&format!("name=\"{name}\"")), "field {name}");
    }
    assert!(html.contains(r#"value="12 Elm St &amp; Co""#));
    assert!(html.contains(r#"value="Apt 4""#) && html.contains(r#"value="Springfield""#));
    assert!(
        html.contains(r#"value="IL""#) && html.contains(r#"value="62701""#) && html.contains(r#"value="US""#)
    );
    assert!(
        html.contains(r#"name="start" value="2026-11-24T14:30""#),
        "start in the tenant's zone"
    );
    assert!(html.contains(r#"name="end" value="2026-11-24T16:00""#));
    assert!(html.contains(r#"<option value="urgent" selected>Urgent</option>"#));
    assert!(html.contains(r#"value="89.50""#) && html.contains(r#"value="USD""#));
    assert!(html.contains("Gate code &lt;1234&gt;</textarea>"));
    assert!(
        html.contains(r#"<option value="monthly" selected>"#),
        "the picker shows the rule"
    );
    assert!(html.contains("Monthly, 12 times"), "the rule in words");
    assert!(html.contains(r#"<option value="count" selected>"#) && html.contains(r#"value="12""#));
    assert!(html.contains(r#"<option value="confirmed" selected>Confirmed</option>"#));
    assert!(html.contains(&format!(r#"href="/app/customers/{}""#, customer.id)));
    assert!(html.contains(&format!(r#"data-version="{}""#, job.version)));
    assert!(html.contains(r#"content="America/New_York""#));
    // history, notes, photos, source call, calendar link
    let history = &html[html.find(r#"id="job-history""#).unwrap()..];
    assert!(
        history.contains("Quote requested → Confirmed"),
        "the move is in the history"
    );
    assert!(history.contains("Created in Quote requested"));
    let notes = &html[html.find(r#"id="job-notes""#).unwrap()..];
    assert!(notes.contains("Bring the &lt;big&gt; wrench"));
    assert!(notes.contains(">Add note</button>"));
    let photos = &html[html.find(r#"id="job-photos""#).unwrap()..];
    assert!(photos.contains(&format!(r#"src="/api/v1/jobs/{}/photos/{}""#, job.id, photo.id)));
    assert!(photos.contains(r#"alt="Before &amp; after""#));
    assert!(photos.contains(r#"type="file" accept="image/*" capture="environment""#));
    assert!(photos.contains(&format!(
        r#"data-max-bytes="{}""#,
        callbook_server::api::jobs::MAX_PHOTO_BYTES
    )));
    assert!(
        html.contains(&format!(r#"href="/app/calls/{}""#, call.id)),
        "the source call"
    );
    assert!(html.contains(&format!(r#"href="/api/v1/jobs/{}/calendar.ics""#, job.id)));
    assert!(html.contains(">Add to calendar</a>"));
    assert!(html.contains("/app/assets/job.js?v="));
    assert!(!html.contains(" style="), "no inline styles");
}

#[tokio::test]
async fn another_tenants_job_is_the_not_found_page_and_no_session_goes_to_login() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let theirs = job(&env, &env.other, "Their job", Utc::now(), 60, None).await;
    let page = get(&app, &format!("/app/jobs/{}", theirs.id), Some(&session.cookie)).await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Not found"));
    assert!(!page.body.contains("Their job"));
    let page = get(&app, "/app/jobs/not-a-job-id", Some(&session.cookie)).await;
    assert_eq!(page.status, 404);

    let ours = job(&env, &env.tenant, "Our job", Utc::now(), 60, None).await;
    let page = get(&app, &format!("/app/jobs/{}", ours.id), None).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/app/login?next=/app/jobs/{}", ours.id).as_str())
    );
    let page = get(&app, "/app/calendar?view=month", None).await;
    assert_eq!(page.status, 303);
}

#[tokio::test]
async fn add_to_calendar_downloads_with_the_session_cookie() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let ours = job(
        &env,
        &env.tenant,
        "Fix the boiler",
        at("America/New_York", 2026, 11, 24, 9, 0),
        60,
        None,
    )
    .await;
    let ics = get(
        &app,
        &format!("/api/v1/jobs/{}/calendar.ics", ours.id),
        Some(&session.cookie),
    )
    .await;
    assert_eq!(ics.status, 200, "a browser download sends only the cookie");
    assert!(ics.content_type.starts_with("text/calendar"));
    assert!(ics.body.contains("SUMMARY:Fix the boiler"));
    assert!(ics.body.contains("DTSTART;TZID=America/New_York:20261124T090000"));
}

#[tokio::test]
async fn a_job_without_schedule_or_extras_renders_empty_fields() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let bare = env
        .store
        .create_job(
            env.tenant.id,
            NewJob::titled("Bare"),
            Actor::System("test".into()),
        )
        .await
        .unwrap();
    let page = get(&app, &format!("/app/jobs/{}", bare.id), Some(&session.cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"name="start" value="""#));
    assert!(
        page.body
            .contains(r#"<option value="none" selected>Does not repeat</option>"#)
    );
    assert!(page.body.contains("No customer"));
    assert!(page.body.contains("No notes yet.") && page.body.contains("No photos yet."));
    assert!(!page.body.contains(r#"id="job-source""#), "no source call");
    assert!(
        !page.body.contains("Add to calendar"),
        "nothing to add while unscheduled"
    );
    // an unusual rule is kept as a custom rule and described
    let ruled = job(
        &env,
        &env.tenant,
        "Ruled",
        at("America/New_York", 2026, 11, 24, 9, 0),
        60,
        Some("FREQ=WEEKLY;BYDAY=TU,TH"),
    )
    .await;
    let page = get(&app, &format!("/app/jobs/{}", ruled.id), Some(&session.cookie)).await;
    assert!(page.body.contains(r#"<option value="custom" selected>"#));
    assert!(page.body.contains("Weekly on Tuesday, Thursday"));
}

// ------------------------------------------------------------------------------------------------ calendar

async fn la_tenant(env: &Env) -> (Tenant, Session) {
    let tenant = env
        .store
        .create_tenant(NewTenant::new(
            "LA Drains",
            TimeZone::parse("America/Los_Angeles").unwrap(),
        ))
        .await
        .unwrap();
    let session = owner(env, &tenant, "la-owner").await;
    (tenant, session)
}

#[tokio::test]
async fn a_late_evening_job_is_on_its_local_day_in_week_and_month() {
    let env = Env::new(Backend::Memory).await;
    let (tenant, session) = la_tenant(&env).await;
    let app = app(&env);
    // Tue 24 Nov 23:30 in Los Angeles is Wed 25 Nov 07:30 UTC
    let late = job(
        &env,
        &tenant,
        "Late <drain>",
        at("America/Los_Angeles", 2026, 11, 24, 23, 30),
        30,
        None,
    )
    .await;
    assert_eq!(
        late.schedule.as_ref().unwrap().start.to_rfc3339(),
        "2026-11-25T07:30:00+00:00"
    );
    // 22:00–02:00: on the grid it continues into Wednesday, in the month only on Tuesday
    let spanning = job(
        &env,
        &tenant,
        "Night shift",
        at("America/Los_Angeles", 2026, 11, 24, 22, 0),
        240,
        None,
    )
    .await;
    let other = job(
        &env,
        &env.other,
        "Not ours",
        at("America/Los_Angeles", 2026, 11, 24, 10, 0),
        30,
        None,
    )
    .await;

    let week = get(
        &app,
        "/app/calendar?view=week&date=2026-11-24",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(week.status, 200, "{}", week.body);
    assert!(
        week.body
            .contains(r#"<div class="calendar cal-week" id="calendar" data-view="week""#)
    );
    assert_eq!(days_with(&week.body, &late), vec!["2026-11-24"]);
    assert_eq!(start_min(&week.body, &late, "2026-11-24"), Some(23 * 60 + 30));
    assert!(week.body.contains("23:30–00:00"));
    assert!(week.body.contains("Late &lt;drain&gt;") && !week.body.contains("Late <drain>"));
    assert!(week.body.contains(&format!(r#"href="/app/jobs/{}""#, late.id)));
    assert!(
        days_with(&week.body, &other).is_empty(),
        "another tenant's jobs never show"
    );
    assert_eq!(days_with(&week.body, &spanning), vec!["2026-11-24", "2026-11-25"]);
    assert_eq!(start_min(&week.body, &spanning, "2026-11-25"), Some(0));
    assert!(week.body.contains("22:00–02:00") && week.body.contains("until 02:00"));
    // week starts on Monday 23 Nov
    assert!(
        week.body.contains(r#"data-date="2026-11-23""#) && week.body.contains(r#"data-date="2026-11-29""#)
    );
    assert!(!week.body.contains(r#"data-date="2026-11-30""#));
    for link in [
        ">Previous</a>",
        ">Next</a>",
        ">Today</a>",
        ">Week</a>",
        ">Month</a>",
    ] {
        assert!(week.body.contains(link), "{link}");
    }
    assert!(
        week.body.contains("view=week&amp;date=2026-11-17"),
        "previous week"
    );
    assert!(week.body.contains("view=week&amp;date=2026-12-01"), "next week");
    assert!(!week.body.contains(" style="), "no inline styles");

    let month = get(
        &app,
        "/app/calendar?view=month&date=2026-11-24",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(month.status, 200);
    assert!(month.body.contains(r#"data-view="month""#));
    assert_eq!(days_with(&month.body, &late), vec!["2026-11-24"]);
    assert_eq!(days_with(&month.body, &spanning), vec!["2026-11-24"]);
    // the selected day's agenda lists it too
    let agenda = &month.body[month.body.find(r#"id="cal-agenda""#).unwrap()..];
    assert!(agenda.contains(&format!(r#"data-job-id="{}""#, late.id)));
    assert!(
        month.body.contains("view=month&amp;date=2026-10-01")
            && month.body.contains("view=month&amp;date=2026-12-01")
    );
}

#[tokio::test]
async fn a_weekly_job_shows_in_every_week_of_the_month() {
    let env = Env::new(Backend::Memory).await;
    let (tenant, session) = la_tenant(&env).await;
    let app = app(&env);
    // Wednesdays 08:00 from 7 Oct (before the month), no end
    let weekly = job(
        &env,
        &tenant,
        "Pool service",
        at("America/Los_Angeles", 2026, 10, 7, 8, 0),
        60,
        Some("FREQ=WEEKLY"),
    )
    .await;
    // every other week, 5 visits from 4 Nov: 4, 18 Nov, 2, 16, 30 Dec
    let fortnightly = job(
        &env,
        &tenant,
        "Filter",
        at("America/Los_Angeles", 2026, 11, 4, 13, 0),
        60,
        Some("FREQ=WEEKLY;INTERVAL=2;COUNT=5"),
    )
    .await;
    let month = get(
        &app,
        "/app/calendar?view=month&date=2026-11-10",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(month.status, 200);
    // the grid runs Mon 26 Oct – Sun 6 Dec: six weeks, a Wednesday in each
    assert_eq!(
        days_with(&month.body, &weekly),
        vec![
            "2026-10-28",
            "2026-11-04",
            "2026-11-11",
            "2026-11-18",
            "2026-11-25",
            "2026-12-02"
        ]
    );
    assert_eq!(month.body.matches(r#"<li class="cal-row""#).count(), 6);
    // 08:00 on both sides of the 1 Nov DST change
    assert_eq!(start_min(&month.body, &weekly, "2026-10-28"), Some(8 * 60));
    assert_eq!(start_min(&month.body, &weekly, "2026-11-04"), Some(8 * 60));
    assert_eq!(
        days_with(&month.body, &fortnightly),
        vec!["2026-11-04", "2026-11-18", "2026-12-02"]
    );
    let december = get(
        &app,
        "/app/calendar?view=month&date=2026-12-01",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(
        days_with(&december.body, &fortnightly),
        vec!["2026-12-02", "2026-12-16", "2026-12-30"],
        "COUNT=5 ends the series"
    );
    // January's grid starts on Mon 28 Dec, so it shows the last visit of 30 Dec and nothing after
    let january = get(
        &app,
        "/app/calendar?view=month&date=2027-01-15",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(days_with(&january.body, &fortnightly), vec!["2026-12-30"]);
    // a recurring event in week view links to the job and says it repeats
    let week = get(
        &app,
        "/app/calendar?view=week&date=2026-11-25",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(days_with(&week.body, &weekly), vec!["2026-11-25"]);
    assert!(week.body.contains("Weekly"));
}

#[tokio::test]
async fn the_dst_week_places_events_by_local_wall_clock() {
    let env = Env::new(Backend::Memory).await;
    // the default tenant is in New York; clocks go back on Sun 1 Nov 2026 at 02:00
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let daily = job(
        &env,
        &env.tenant,
        "Daily check",
        at("America/New_York", 2026, 10, 30, 9, 0),
        60,
        Some("FREQ=DAILY;COUNT=4"),
    )
    .await;
    // 23:30 on Sunday 1 Nov (EST) = 04:30Z on Monday: still Sunday, in the 25-hour day
    let sunday_late = job(
        &env,
        &env.tenant,
        "Sunday late",
        at("America/New_York", 2026, 11, 1, 23, 30),
        20,
        None,
    )
    .await;
    // 01:30 happens twice on 1 Nov; `at` is strict, so build the second (EST) one by hand: 06:30Z
    let repeated = job(
        &env,
        &env.tenant,
        "Second 01:30",
        Utc.with_ymd_and_hms(2026, 11, 1, 6, 30, 0).unwrap(),
        30,
        None,
    )
    .await;
    let week = get(
        &app,
        "/app/calendar?view=week&date=2026-10-28",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(week.status, 200);
    assert_eq!(
        days_with(&week.body, &daily),
        vec!["2026-10-30", "2026-10-31", "2026-11-01"]
    );
    for day in ["2026-10-30", "2026-10-31", "2026-11-01"] {
        assert_eq!(
            start_min(&week.body, &daily, day),
            Some(9 * 60),
            "09:00 local on {day}"
        );
    }
    assert_eq!(days_with(&week.body, &sunday_late), vec!["2026-11-01"]);
    assert_eq!(
        start_min(&week.body, &sunday_late, "2026-11-01"),
        Some(23 * 60 + 30)
    );
    assert_eq!(days_with(&week.body, &repeated), vec!["2026-11-01"]);
    assert_eq!(start_min(&week.body, &repeated, "2026-11-01"), Some(90));
    let next = get(
        &app,
        "/app/calendar?view=week&date=2026-11-02",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(
        days_with(&next.body, &daily),
        vec!["2026-11-02"],
        "the fourth occurrence"
    );
    assert_eq!(start_min(&next.body, &daily, "2026-11-02"), Some(9 * 60));
    assert!(days_with(&next.body, &sunday_late).is_empty());
}

#[tokio::test]
async fn closed_jobs_are_muted_or_hidden_by_the_toggle() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let open = job(
        &env,
        &env.tenant,
        "Open one",
        at("America/New_York", 2026, 11, 24, 9, 0),
        60,
        None,
    )
    .await;
    let done = job(
        &env,
        &env.tenant,
        "Done one",
        at("America/New_York", 2026, 11, 24, 11, 0),
        60,
        None,
    )
    .await;
    env.store
        .move_job(
            env.tenant.id,
            done.id,
            done.version,
            Stage::Completed,
            None,
            Actor::System("t".into()),
        )
        .await
        .unwrap();
    let cancelled = job(
        &env,
        &env.tenant,
        "Off",
        at("America/New_York", 2026, 11, 25, 9, 0),
        60,
        None,
    )
    .await;
    env.store
        .move_job(
            env.tenant.id,
            cancelled.id,
            cancelled.version,
            Stage::Cancelled,
            None,
            Actor::System("t".into()),
        )
        .await
        .unwrap();
    let unscheduled = env
        .store
        .create_job(
            env.tenant.id,
            NewJob::titled("No date"),
            Actor::System("t".into()),
        )
        .await
        .unwrap();

    let week = get(
        &app,
        "/app/calendar?view=week&date=2026-11-24",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(days_with(&week.body, &open), vec!["2026-11-24"]);
    assert_eq!(days_with(&week.body, &done), vec!["2026-11-24"]);
    assert_eq!(days_with(&week.body, &cancelled), vec!["2026-11-25"]);
    assert!(days_with(&week.body, &unscheduled).is_empty());
    let class_of = |html: &str, job: &Job| {
        let at = html.find(&format!("data-job-id=\"{}\"", job.id)).unwrap();
        let start = html[..at].rfind("<a class=\"").unwrap();
        html[start + 10..at].split('"').next().unwrap().to_owned()
    };
    assert_eq!(class_of(&week.body, &open), "cal-event");
    assert_eq!(class_of(&week.body, &done), "cal-event closed");
    assert_eq!(class_of(&week.body, &cancelled), "cal-event closed cancelled");
    assert!(week.body.contains(">Hide completed and cancelled</a>"));

    let hidden = get(
        &app,
        "/app/calendar?view=week&date=2026-11-24&closed=hide",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(days_with(&hidden.body, &open), vec!["2026-11-24"]);
    assert!(days_with(&hidden.body, &done).is_empty());
    assert!(days_with(&hidden.body, &cancelled).is_empty());
    assert!(hidden.body.contains(">Show completed and cancelled</a>"));
    assert!(
        hidden
            .body
            .contains("view=week&amp;date=2026-12-01&amp;closed=hide"),
        "navigation keeps the toggle"
    );
}

#[tokio::test]
async fn the_subscription_link_is_the_tenants_working_feed() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    job(
        &env,
        &env.tenant,
        "In the feed",
        at("America/New_York", 2026, 11, 24, 9, 0),
        60,
        None,
    )
    .await;
    let page = get(&app, "/app/calendar", Some(&session.cookie)).await;
    assert_eq!(page.status, 200);
    let section = &page.body[page
        .body
        .find(r#"id="calendar-subscribe""#)
        .expect("the subscribe section")..];
    let at = section.find(r#"id="feed-url""#).unwrap();
    let input = &section[at..section[at..].find('>').unwrap() + at];
    assert!(input.contains("readonly"));
    let url = input.split("value=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(
        url.starts_with("/api/v1/calendar/") && url.ends_with(".ics"),
        "{url}"
    );
    assert!(section.contains(">Copy</button>"));
    assert!(section.contains("Google Calendar") && section.contains("Apple Calendar"));
    let feed = get(&app, url, None).await;
    assert_eq!(feed.status, 200);
    assert!(feed.body.contains("SUMMARY:In the feed"));
    // unreadable queries fall back to this week rather than failing
    let page = get(
        &app,
        "/app/calendar?view=year&date=yesterday",
        Some(&session.cookie),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"data-view="week""#));
}

#[tokio::test]
async fn a_long_running_daily_series_is_expanded_into_a_far_month() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    // daily for years before the month shown: the expansion must reach it
    let daily = job(
        &env,
        &env.tenant,
        "Daily",
        at("America/New_York", 2020, 1, 1, 7, 0),
        30,
        Some("FREQ=DAILY"),
    )
    .await;
    let month = get(
        &app,
        "/app/calendar?view=month&date=2026-02-01",
        Some(&session.cookie),
    )
    .await;
    // Feb 2026: grid Mon 26 Jan – Sun 1 Mar, 35 days
    assert_eq!(days_with(&month.body, &daily).len(), 35);
}

/// Dates far from today are not expanded (every recurring job would walk its rule for centuries, and date maths
/// would overflow): the calendar shows today's month instead, with the series in it.
#[tokio::test]
async fn far_away_dates_fall_back_to_today() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let daily = job(
        &env,
        &env.tenant,
        "Daily",
        at("America/New_York", 2020, 1, 1, 7, 0),
        30,
        Some("FREQ=DAILY"),
    )
    .await;
    for date in ["9999-01-01", "+262143-12-31", "1200-05-05"] {
        let page = get(
            &app,
            &format!("/app/calendar?view=month&date={date}"),
            Some(&session.cookie),
        )
        .await;
        assert_eq!(page.status, 200, "{date}");
        let today = chrono::Utc::now().format("%Y").to_string();
        assert!(page.body.contains(&today), "{date}: shows the current year");
        assert!(
            days_with(&page.body, &daily).len() >= 28,
            "{date}: the daily series fills the month"
        );
    }
}

/// The API contract `job.js` relies on: session writes with the CSRF token and `If-Match`, field names of `422`
/// problems (each has an error slot on the page), `409` on a stale version, and an `UNTIL` rule as the picker
/// writes it (end of the chosen local day, in UTC) shown back as that day.
#[tokio::test]
async fn the_page_script_contract_holds() {
    let env = Env::new(Backend::Memory).await;
    let session = owner(&env, &env.tenant, "owner").await;
    let app = app(&env);
    let ours = job(
        &env,
        &env.tenant,
        "Gutters",
        at("America/New_York", 2026, 11, 24, 9, 0),
        60,
        None,
    )
    .await;
    let path = format!("/api/v1/jobs/{}", ours.id);
    let patch = |body: serde_json::Value, version: i64| {
        let (cookie, csrf, app, path) = (
            session.cookie.clone(),
            session.csrf.clone(),
            app.clone(),
            path.clone(),
        );
        async move {
            let request = Request::builder()
                .method("PATCH")
                .uri(&path)
                .header("cookie", cookie)
                .header("x-csrf-token", csrf)
                .header("if-match", format!("\"{version}\""))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    // the picker's "weekly until 31 Dec" in New York: 23:59:59 local = 04:59:59Z on 1 Jan
    let (status, saved) = patch(
        serde_json::json!({"recurrence": "FREQ=WEEKLY;UNTIL=20270101T045959Z", "price": {"minor": 12050, "currency": "USD"}}),
        ours.version,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let version = saved["version"].as_i64().unwrap();
    let page = get(&app, &format!("/app/jobs/{}", ours.id), Some(&session.cookie)).await;
    assert!(page.body.contains("Weekly, until 2026-12-31"));
    assert!(page.body.contains(r#"<option value="until" selected>"#));
    assert!(page.body.contains(r#"name="repeat_until" value="2026-12-31""#));
    assert!(page.body.contains(r#"value="120.50""#));

    let slots = |field: &str| page.body.contains(&format!("data-error-for=\"{field}\""));
    let (status, problem) = patch(serde_json::json!({"title": "  "}), version).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "title");
    assert!(slots("title"));
    let (status, problem) = patch(
        serde_json::json!({"schedule": {"start": "2026-11-24T15:00:00Z", "end": "2026-11-24T14:00:00Z"}}),
        version,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "scheduled_end");
    assert!(slots("scheduled_end"));
    let (status, problem) = patch(serde_json::json!({"recurrence": "FREQ=SOMETIMES"}), version).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "recurrence");
    assert!(slots("recurrence"));
    let (status, problem) = patch(
        serde_json::json!({"price": {"minor": 1, "currency": "usd"}}),
        version,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "price");
    assert!(slots("price"));
    let (status, problem) = patch(serde_json::json!({"notes": "stale"}), version - 1).await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "version_conflict");
}
