//! Dashboard pages for calls and customers (issue 9): the call list with state and confidence badges, the
//! review page (evidence marks, confidences, the signed audio link that plays, escaping, corrections that show
//! on the job), customer search fragments, profiles with history and merge diffs, and tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, Person, Session, audio, extraction_doc};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use callbook_jobs::{Call, CallState, CustomerInput, NewCall, PhoneNumber, RecordingRef, Role, Tenant};
use callbook_storage::{RecordingKey, RecordingOptions, RecordingStoreExt};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

/// Runs each scenario on the in-memory store and on SQLite (the pages make the same store calls as the API).
macro_rules! on_memory_and_sqlite {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Memory).await;
            })+
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await;
            })+
        }
    };
}

on_memory_and_sqlite!(
    call_list_shows_calls_with_state_and_confidence_badges,
    review_page_marks_evidence_shows_confidences_and_plays_the_audio,
    corrections_show_on_the_review_page_and_the_job,
    a_dead_call_offers_retry_and_says_why,
    customer_search_returns_matches_of_this_tenant_only,
    profile_shows_history_and_a_merge_diff_then_the_merge,
    another_tenants_ids_are_not_found_pages_and_no_session_goes_to_login,
    // ---- issue 9 review
    marking_a_call_reviewed_empties_the_needs_review_tab,
    // ---- end issue 9 review
);

struct Web {
    env: Env,
    app: Router,
    session: Session,
    other_session: Session,
}

async fn web(backend: Backend) -> Web {
    let env = Env::new(backend).await;
    env.add_user(env.tenant.id, "owner", Role::Owner, PASSWORD).await;
    env.add_user(env.other.id, "rival", Role::Owner, PASSWORD).await;
    let session = env.login("owner", PASSWORD).await;
    let other_session = env.login("rival", PASSWORD).await;
    let app = callbook_server::api::router(env.state.clone())
        .merge(callbook_server::web::router(env.state.clone()));
    Web {
        env,
        app,
        session,
        other_session,
    }
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: String,
    bytes: Vec<u8>,
}

impl Web {
    async fn send(&self, method: &str, path: &str, session: Option<&Session>, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(s) = session {
            builder = builder
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&b).unwrap()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    /// A page as the signed-in owner of the first tenant; panics unless it is 200.
    async fn page(&self, path: &str) -> String {
        let reply = self.send("GET", path, Some(&self.session), None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.body
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let reply = self.send(method, path, Some(&self.session), body).await;
        let value = serde_json::from_slice(&reply.bytes).unwrap_or(Value::Null);
        (reply.status, value)
    }
}

/// A transcript holding every seeded field's evidence, and markup that must come out escaped.
const TRANSCRIPT: &str = "Hi, THIS is   Maria Lopez. My number is 914-555-2177 and I'm at 42 Oak Street. \
    The kitchen sink is leaking, can you come tomorrow between 3 and 5? You said 89 dollars. Please come \
    soon, the gate code is 1234. <script>alert('transcript')</script>";

/// A call of `tenant` recorded and stored (audio), claimed and finished in `outcome` — with a transcript and
/// extraction (and its booked job) unless the outcome is `Dead`.
async fn seed(env: &Env, tenant: &Tenant, sid: &str, outcome: CallState, minute: u32) -> Call {
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
                started_at: Utc.with_ymd_and_hms(2026, 3, 10, 14, minute, 0).unwrap(),
                provider_status: "completed".into(),
            },
        )
        .await
        .unwrap();
    let key = RecordingKey::audio(&t.to_string(), &call.id.to_string(), "RE1").unwrap();
    env.recordings
        .put_bytes(&key, RecordingOptions::new("audio/wav"), audio())
        .await
        .unwrap();
    env.store
        .set_recording(
            t,
            call.id,
            RecordingRef {
                provider_recording_id: "RE1".into(),
                duration_seconds: Some(75),
                storage_key: Some(key.canonical()),
            },
        )
        .await
        .unwrap();
    if outcome != CallState::Dead {
        let mut doc = extraction_doc();
        doc["appointments"][0]["customer_phone"]["evidence"] = json!("914 555 2177");
        doc["appointments"][0]["notes"]["value"] =
            json!("gate code 1234 </script><script>alert('notes')</script>");
        env.transcribe_extract_and_book(tenant, &call, TRANSCRIPT.into(), doc)
            .await;
    }
    let now = callbook_jobs::now();
    let claimed = env
        .store
        .claim_calls("test", now, std::time::Duration::from_secs(60), 10, 8)
        .await
        .unwrap();
    let lease = claimed
        .into_iter()
        .find(|c| c.id == call.id)
        .unwrap()
        .lease()
        .unwrap();
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

/// The text inside the `<mark data-field="field" …>` of the page.
fn mark_text<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let start = html.find(&format!("<mark data-field=\"{field}\""))?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</mark>")?;
    Some(&html[open_end..close])
}

/// The part of the page from `<div class="field-row" data-field="field"` to its "Fix" form.
fn field_row<'a>(html: &'a str, field: &str) -> &'a str {
    let start = html
        .find(&format!("class=\"field-row\" data-field=\"{field}\""))
        .unwrap_or_else(|| panic!("no row for {field}"));
    let end = start + html[start..].find("<form").unwrap();
    &html[start..end]
}

fn attr<'a>(html: &'a str, element: &str, name: &str) -> &'a str {
    let start = html.find(element).unwrap_or_else(|| panic!("no {element}"));
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    &tag[at..at + tag[at..].find('"').unwrap()]
}

async fn call_list_shows_calls_with_state_and_confidence_badges(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let done = seed(env, &env.tenant, "CA-done", CallState::Done, 1).await;
    let review = seed(env, &env.tenant, "CA-review", CallState::NeedsReview, 2).await;
    let dead = seed(env, &env.tenant, "CA-dead", CallState::Dead, 3).await;
    let theirs = seed(env, &env.other, "CA-theirs", CallState::Done, 4).await;

    // A call the filter rejected is listed as filtered, with the reason.
    let (filtered, _) = env
        .store
        .record_call(
            env.tenant.id,
            NewCall {
                provider: "twilio".into(),
                provider_call_id: "CA-blocked".into(),
                phone_line_id: None,
                from: Some(PhoneNumber::parse("+19145550199").unwrap()),
                to: None,
                started_at: Utc.with_ymd_and_hms(2026, 3, 10, 13, 0, 0).unwrap(),
                provider_status: "filtered:blocked".into(),
            },
        )
        .await
        .unwrap();

    let html = web.page("/app/calls").await;
    assert!(html.contains("id=\"call-list\""));
    let row = &html[html.find(&format!("data-call-id=\"{}\"", filtered.id)).unwrap()..];
    assert!(
        row[..row.find("</li>").unwrap()]
            .contains("data-state=\"filtered\" title=\"Filtered: blocked\">Filtered · blocked<")
    );
    for (call, state) in [(&done, "done"), (&review, "needs_review"), (&dead, "dead")] {
        let row = html
            .find(&format!("data-call-id=\"{}\"", call.id))
            .unwrap_or_else(|| panic!("no row for the {state} call"));
        let row = &html[row..row + html[row..].find("</li>").unwrap()];
        assert!(row.contains(&format!("data-state=\"{state}\"")), "{row}");
        assert!(row.contains(&format!("href=\"/app/calls/{}\"", call.id)), "{row}");
        assert!(row.contains("1 min 15 s"), "duration in {row}");
        // 10:0x UTC in New York (EDT from 8 March 2026).
        assert!(row.contains("Tue 10 Mar 10:0"), "tenant-zone time in {row}");
        if state == "dead" {
            assert!(row.contains("Failed") && !row.contains("class=\"conf"), "{row}");
        } else {
            assert!(row.contains("Maria Lopez"), "customer name in {row}");
            assert!(
                row.contains("class=\"conf high\"") && row.contains("85%"),
                "{row}"
            );
        }
    }
    // Newest first; the full number is never on the list, only its ends.
    let position = |id: &callbook_jobs::CallId| html.find(&format!("data-call-id=\"{id}\"")).unwrap();
    assert!(position(&dead.id) < position(&review.id) && position(&review.id) < position(&done.id));
    assert!(!html.contains("+19145552177") && html.contains("+1914•••2177"));
    assert!(
        !html.contains(&theirs.id.to_string()),
        "another tenant's call is listed"
    );
    assert!(html.contains("src=\"/app/assets/calls.js?v="));

    // The "Needs review" tab lists that call only, and says which tab is current.
    let html = web.page("/app/calls?state=needs_review").await;
    assert!(html.contains(&review.id.to_string()));
    assert!(!html.contains(&done.id.to_string()) && !html.contains(&dead.id.to_string()));
    assert!(html.contains("href=\"/app/calls?state=needs_review\" aria-current=\"page\">Needs review <span class=\"badge count\">1</span>"));
    assert!(html.contains("href=\"/app/calls?state=dead\">Failed <span class=\"badge count\">1</span>"));
    let reply = web
        .send("GET", "/app/calls?state=sleeping", Some(&web.session), None)
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);

    // Paging: two pages of 50 after 55 more calls.
    for i in 0..55 {
        env.store
            .record_call(
                env.tenant.id,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: format!("CA-bulk-{i}"),
                    phone_line_id: None,
                    from: None,
                    to: None,
                    started_at: Utc.with_ymd_and_hms(2026, 3, 11, 9, i, 0).unwrap(),
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
    }
    let first = web.page("/app/calls").await;
    assert_eq!(first.matches("data-call-id=").count(), 50);
    assert!(first.contains("href=\"/app/calls?offset=50\" rel=\"next\""));
    assert!(first.contains("Unknown caller") && first.contains("data-state=\"received\""));
    let second = web.page("/app/calls?offset=50").await;
    assert_eq!(second.matches("data-call-id=").count(), 9);
    assert!(second.contains(&done.id.to_string()) && second.contains("rel=\"prev\""));
    assert!(!second.contains("rel=\"next\""));

    // ---- issue 9 review: a correction alone does not finish the review (`POST …/review` does; see
    // `marking_a_call_reviewed_empties_the_needs_review_tab`).
    assert!(
        !web.page(&format!("/app/calls/rows/{}", review.id))
            .await
            .contains("Reviewed")
    );
    let (status, _) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/corrections", review.id),
            Some(json!({"field": "appointments[0].urgency", "value": "normal"})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        !web.page(&format!("/app/calls/rows/{}", review.id))
            .await
            .contains(">Reviewed<")
    );
    // ---- end issue 9 review

    // The row fragment for live updates, tenant-scoped.
    let row = web.page(&format!("/app/calls/rows/{}", review.id)).await;
    assert!(
        row.starts_with("<li class=\"call-row\"") && row.contains("data-state=\"needs_review\""),
        "{row}"
    );
    assert!(!row.contains("<html"));
    let reply = web
        .send(
            "GET",
            &format!("/app/calls/rows/{}", theirs.id),
            Some(&web.session),
            None,
        )
        .await;
    assert_eq!(reply.status, 404);
}

async fn review_page_marks_evidence_shows_confidences_and_plays_the_audio(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let call = seed(env, &env.tenant, "CA-review", CallState::NeedsReview, 0).await;
    let html = web.page(&format!("/app/calls/{}", call.id)).await;

    // Every seeded field's evidence is marked in the transcript, matched loosely, each once.
    let expected = [
        ("customer_name", "THIS is   Maria Lopez"),
        ("customer_phone", "914-555-2177"),
        ("service_address", "42 Oak Street"),
        ("when", "tomorrow between 3 and 5"),
        ("job_description", "sink"),
        ("price", "89"),
        ("urgency", "soon"),
        ("notes", "gate code"),
    ];
    let transcript = &html[html.find("id=\"transcript\"").unwrap()..html.find("id=\"extraction\"").unwrap()];
    for (field, text) in expected {
        assert_eq!(mark_text(transcript, field), Some(text), "evidence of {field}");
        assert_eq!(
            transcript
                .matches(&format!("<mark data-field=\"{field}\""))
                .count(),
            1
        );
        assert!(
            html.contains(&format!("href=\"#ev-0-{field}\"")),
            "link to the evidence of {field}"
        );
    }
    // The transcript's markup is text, and no extracted value can end the JSON block.
    assert!(transcript.contains("&lt;script&gt;alert('transcript')&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert('notes')"));
    assert!(html.contains("gate code 1234 &lt;/script&gt;&lt;script&gt;alert('notes')"));

    // Per-field confidence: value, class and number; the values in the tenant's zone.
    let name = field_row(&html, "customer_name");
    assert!(
        name.contains("Maria Lopez") && name.contains("class=\"conf high\"") && name.contains("93%"),
        "{name}"
    );
    let urgency = field_row(&html, "urgency");
    assert!(urgency.contains("Urgent") && urgency.contains("class=\"conf mid\"") && urgency.contains("70%"));
    let notes = field_row(&html, "notes");
    assert!(notes.contains("class=\"conf mid\"") && notes.contains("60%"));
    let when = field_row(&html, "when");
    assert!(when.contains("Wed 11 Mar 2026, 15:00–17:00"), "{when}");
    assert!(field_row(&html, "price").contains("$89.00 (quote)"));
    for field in ["customer_name", "when", "price"] {
        let row = field_row(&html, field);
        assert!(
            row.contains(">Accept</button>") && row.contains(">Fix</button>"),
            "{row}"
        );
    }
    assert!(
        html.contains("class=\"conf high\" data-confidence=\"0.85\""),
        "overall confidence"
    );
    assert!(html.contains("data-state=\"needs_review\""));
    // Needs review: the page counts the fields below high confidence (address, job, urgency, notes).
    assert!(
        html.contains("4 fields are uncertain: accept or fix each."),
        "review note"
    );
    assert!(field_row(&html, "urgency").contains("data-uncertain=\"true\""));
    assert!(!field_row(&html, "customer_name").contains("data-uncertain"));
    assert!(html.contains(">Override extraction</button>") && html.contains(">Not an appointment</button>"));
    assert!(!html.contains(">Retry</button>"), "retry is for dead calls");
    // The fix editors are labelled, the when editor in the tenant's zone.
    assert!(html.contains("<label for=\"fix-0-when-date\">Date</label>"));
    assert!(html.contains("id=\"fix-0-when-date\" type=\"date\" name=\"date\" value=\"2026-03-11\""));
    assert!(html.contains("id=\"fix-0-when-time\" type=\"time\" name=\"time\" value=\"15:00\""));

    // The booked job is linked with its current values.
    let job = env
        .store
        .find_job_by_source(
            env.tenant.id,
            callbook_jobs::JobSource {
                call_id: call.id,
                appointment_index: 0,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(html.contains(&format!("href=\"/app/jobs/{}\"", job.id)));
    assert!(html[html.find("id=\"jobs\"").unwrap()..].contains("$89.00"));

    // The signed audio link is same-origin and plays: whole and in ranges, without a session.
    let src = attr(&html, "<audio id=\"call-audio\"", "src").replace("&amp;", "&");
    assert!(
        src.starts_with(&format!("/api/v1/calls/{}/audio?t=", call.id)),
        "{src}"
    );
    let reply = web.send("GET", &src, None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.bytes, audio().to_vec());
    let ranged = web
        .app
        .clone()
        .oneshot(
            Request::get(&src)
                .header("range", "bytes=100-199")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    let bytes = axum::body::to_bytes(ranged.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &audio()[100..200]);
    // The page's CSP lets the same-origin player load it and runs no inline script.
    let response = web
        .app
        .clone()
        .oneshot(
            Request::get(format!("/app/calls/{}", call.id))
                .header("cookie", &web.session.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("media-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

async fn corrections_show_on_the_review_page_and_the_job(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let call = seed(env, &env.tenant, "CA-fix", CallState::NeedsReview, 0).await;
    let page = format!("/app/calls/{}", call.id);

    // Fix the price and the time the way review.js sends them.
    let (status, result) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/corrections", call.id),
            Some(json!({"field": "appointments[0].price", "value": {"amount": "120.00", "currency": "USD", "kind": "quote"}})),
        )
        .await;
    assert_eq!(status, 201, "{result}");
    let (status, result) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/corrections", call.id),
            Some(
                json!({"field": "appointments[0].when", "value": {"date": "2026-03-12", "time": "09:30",
                "start": "2026-03-12T09:30:00-04:00", "end": "2026-03-12T11:00:00-04:00",
                "flexible": false, "ambiguous": false}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{result}");
    // Accept the name: the same value, recorded as confirmed.
    let (status, _) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/corrections", call.id),
            Some(json!({"field": "appointments[0].customer_name", "value": "Maria Lopez"})),
        )
        .await;
    assert_eq!(status, 201);
    let html = web.page(&page).await;
    let price = field_row(&html, "price");
    assert!(
        price.contains("$120.00 (quote)") && price.contains(">Corrected<"),
        "{price}"
    );
    assert!(price.contains("Extracted: $89.00 (quote)"), "{price}");
    assert!(field_row(&html, "when").contains("Thu 12 Mar 2026, 09:30–11:00"));
    assert!(field_row(&html, "customer_name").contains(">Confirmed<"));
    let jobs = &html[html.find("id=\"jobs\"").unwrap()..];
    assert!(
        jobs.contains("$120.00") && jobs.contains("Thu 12 Mar 2026, 09:30–11:00"),
        "{jobs}"
    );
    assert!(html.contains("id=\"corrections\""));

    // A bad value is a 422 the page shows next to the field; nothing changes.
    let (status, problem) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/corrections", call.id),
            Some(json!({"field": "appointments[0].price", "value": {"amount": "lots", "currency": "USD", "kind": "quote"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(html.contains("data-error-for=\"value\""));

    // Not an appointment: the job is cancelled, and the page says so.
    let (status, result) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/not-an-appointment", call.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let html = web.page(&page).await;
    assert!(html.contains("Marked not an appointment"));
    let jobs = &html[html.find("id=\"jobs\"").unwrap()..];
    assert!(
        jobs.contains("data-stage=\"cancelled\"") && jobs.contains(">Cancelled<"),
        "{jobs}"
    );
    assert!(!html.contains(">Not an appointment</button>"));

    // Override with no appointments keeps the cancelled job listed; with one, it is re-booked in place.
    let mut doc = extraction_doc();
    doc["appointments"][0]["job_description"]["value"] = json!("replace the boiler");
    let (status, result) = web
        .api("POST", &format!("/api/v1/calls/{}/override", call.id), Some(doc))
        .await;
    assert_eq!(status, 200, "{result}");
    let html = web.page(&page).await;
    assert!(field_row(&html, "job_description").contains("replace the boiler"));
    // Field corrections made before the override no longer apply.
    assert!(!field_row(&html, "price").contains(">Corrected<"));
    assert!(html.contains("Extraction overridden"));
}

async fn a_dead_call_offers_retry_and_says_why(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let call = seed(env, &env.tenant, "CA-dead", CallState::Dead, 0).await;
    let html = web.page(&format!("/app/calls/{}", call.id)).await;
    assert!(html.contains(&format!("data-api=\"POST /api/v1/calls/{}/retry\"", call.id)));
    assert!(html.contains(">Retry</button>"));
    assert!(html.contains("transcriber unavailable"));
    assert!(html.contains("No transcript yet.") && html.contains("Nothing extracted yet."));
    assert!(!html.contains("Override extraction"));
    let (status, _) = web
        .api("POST", &format!("/api/v1/calls/{}/retry", call.id), None)
        .await;
    assert_eq!(status, 202);
    let html = web.page(&format!("/app/calls/{}", call.id)).await;
    assert!(!html.contains(">Retry</button>") && html.contains("data-state=\"queued\""));
}

fn person(name: &'static str, phone: &'static str, address: &'static str) -> Person {
    Person {
        name,
        phone,
        address,
        marker: "WEBCALLS",
    }
}

async fn customer_search_returns_matches_of_this_tenant_only(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let at = |m| Utc.with_ymd_and_hms(2026, 3, 10, 14, m, 0).unwrap();
    env.seed_person(
        &env.tenant,
        "CA1",
        "RE1",
        &person("Zelda Quartz", "+14155550101", "1 Elm Road"),
        at(1),
    )
    .await;
    env.seed_person(
        &env.tenant,
        "CA2",
        "RE2",
        &person("Bob Smith", "+14155550102", "2 Pine Road"),
        at(2),
    )
    .await;
    env.seed_person(
        &env.other,
        "CA3",
        "RE3",
        &person("Zelda Other", "+14155550103", "3 Ash Road"),
        at(3),
    )
    .await;

    let fragment = web.page("/app/customers/results?q=zel").await;
    assert!(fragment.contains("id=\"customer-results\"") && !fragment.contains("<html"));
    assert!(fragment.contains("<mark>Zel</mark>da Quartz</a>") && fragment.contains("1 customer matches."));
    assert!(!fragment.contains("Bob Smith") && !fragment.contains("Other"));
    let found = env
        .store
        .search_customers(env.tenant.id, "zelda", 5)
        .await
        .unwrap();
    assert!(fragment.contains(&format!("href=\"/app/customers/{}\"", found[0].id)));
    // By phone and address too, case-insensitive; nothing found says so.
    assert!(
        web.page("/app/customers/results?q=550102")
            .await
            .contains("Bob Smith")
    );
    assert!(
        web.page("/app/customers/results?q=PINE")
            .await
            .contains("Bob Smith")
    );
    let none = web.page("/app/customers/results?q=%3Cb%3Enobody").await;
    assert!(none.contains("No customer matches “&lt;b&gt;nobody”."), "{none}");

    // Without JavaScript: the page is a GET form with the labelled search box and the same results.
    let html = web.page("/app/customers?q=zelda").await;
    assert!(html.contains("<label for=\"customer-q\">Search customers</label>"));
    assert!(html.contains("id=\"customer-q\" type=\"search\" name=\"q\" value=\"zelda\""));
    assert!(html.contains("method=\"get\" action=\"/app/customers\""));
    assert!(html.contains("<mark>Zelda</mark> Quartz") && !html.contains("Bob Smith"));
    // An empty query lists recent callers, newest first, of this tenant only.
    let html = web.page("/app/customers").await;
    assert!(html.contains("Recent callers"));
    let (bob, zelda) = (
        html.find("Bob Smith").unwrap(),
        html.find("Zelda Quartz").unwrap(),
    );
    assert!(bob < zelda && !html.contains("Zelda Other"));

    // The other tenant finds theirs only.
    let reply = web
        .send(
            "GET",
            "/app/customers/results?q=zelda",
            Some(&web.other_session),
            None,
        )
        .await;
    assert!(reply.body.contains("<mark>Zelda</mark> Other") && !reply.body.contains("Quartz"));
}

async fn profile_shows_history_and_a_merge_diff_then_the_merge(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let at = Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, 0).unwrap();
    let (call, job) = env
        .seed_person(
            &env.tenant,
            "CA1",
            "RE1",
            &person("Maria Lopez", "+19145552177", "42 Oak Street"),
            at,
        )
        .await;
    let maria = job.customer_id.unwrap();
    // Same phone, another name: a new customer and a merge suggestion.
    let robert = env
        .store
        .find_or_create_customer(
            env.tenant.id,
            CustomerInput {
                name: Some("Robert Smith".into()),
                phone: Some(PhoneNumber::parse("+19145552177").unwrap()),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap()
        .customer
        .id;

    let html = web.page(&format!("/app/customers/{maria}")).await;
    assert!(html.contains("<h1>Maria Lopez</h1>") && html.contains("42 Oak Street"));
    assert!(html.contains("href=\"tel:+19145552177\""));
    let calls = &html[html.find("id=\"customer-calls\"").unwrap()..];
    assert!(calls.contains(&format!("href=\"/app/calls/{}\"", call.id)) && calls.contains("Calls (1)"));
    let jobs = &html[html.find("id=\"customer-jobs\"").unwrap()..];
    assert!(jobs.contains(&format!("href=\"/app/jobs/{}\"", job.id)) && jobs.contains("Jobs (1)"));

    // The suggestion's diff: names and addresses differ, the phone is the same.
    let section = &html[html.find("id=\"merge-suggestions\"").unwrap()..];
    assert!(section.contains(&format!("href=\"/app/customers/{robert}\"")));
    assert!(section.contains(&format!(
        "data-survivor-id=\"{maria}\" data-merged-id=\"{robert}\""
    )));
    assert!(section.contains("<tr class=\"differs\"><th scope=\"row\">Name"));
    assert!(section.contains("<td>Maria Lopez</td><td>Robert Smith</td>"));
    assert!(
        section.contains("<tr><th scope=\"row\">Phones</th><td>+19145552177</td><td>+19145552177</td></tr>")
    );
    assert!(section.contains("<tr class=\"differs\"><th scope=\"row\">Address"));
    assert!(section.contains(">Merge</button>") && section.contains(">Dismiss</button>"));
    // ---- issue 9 review: the undo box lists the server's undoable merges: none yet.
    assert!(!html.contains("id=\"merge-undo\""));
    // Admins get export and delete.
    assert!(html.contains(&format!("href=\"/api/v1/customers/{maria}/export\"")));
    assert!(html.contains("id=\"delete-dialog\"") && html.contains("data-confirm-text=\"Maria Lopez\""));
    // The other side of the suggestion shows it too.
    let html = web.page(&format!("/app/customers/{robert}")).await;
    assert!(html.contains(&format!(
        "data-survivor-id=\"{maria}\" data-merged-id=\"{robert}\""
    )));

    // Merge as customers.js does; the merged profile points to the survivor, the suggestion is gone.
    let (status, merge) = web
        .api(
            "POST",
            "/api/v1/customers/merge",
            Some(json!({"survivor_id": maria, "merged_id": robert})),
        )
        .await;
    assert_eq!(status, 201, "{merge}");
    let html = web.page(&format!("/app/customers/{robert}")).await;
    assert!(
        html.contains("This customer was merged into")
            && html.contains(&format!("href=\"/app/customers/{maria}\""))
    );
    let html = web.page(&format!("/app/customers/{maria}")).await;
    assert!(html.contains("No suggested duplicates."));
    // ---- issue 9 review: both profiles offer "Undo merge" from the server, naming who merged.
    let merge_id = merge["id"].as_str().unwrap();
    let undo = &html[html.find("id=\"merge-undo\"").expect("an undo box")..];
    let undo = &undo[..undo.find("</section>").unwrap()];
    assert!(
        undo.contains(&format!(
            "href=\"/app/customers/{robert}\">Robert Smith</a> was merged into this customer"
        )),
        "{undo}"
    );
    assert!(undo.contains(" by owner."), "{undo}");
    assert!(
        undo.contains(&format!(
            "data-action=\"undo-merge\" data-merge-id=\"{merge_id}\">Undo merge</button>"
        )),
        "{undo}"
    );
    let html = web.page(&format!("/app/customers/{robert}")).await;
    let undo = &html[html
        .find("id=\"merge-undo\"")
        .expect("an undo box on the merged profile")..];
    assert!(undo.contains("This customer was merged into another one") && undo.contains(merge_id));
    // Another tenant sees neither the profile nor its merges.
    let reply = web
        .send(
            "GET",
            &format!("/app/customers/{maria}"),
            Some(&web.other_session),
            None,
        )
        .await;
    assert_eq!(reply.status, 404);
    assert!(!reply.body.contains(merge_id));
    // ---- end issue 9 review
    // Undo brings the suggestion back.
    let (status, _) = web
        .api(
            "POST",
            &format!("/api/v1/customers/merges/{}/undo", merge["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let html = web.page(&format!("/app/customers/{maria}")).await;
    assert!(html.contains(&format!("data-merged-id=\"{robert}\"")));
    assert!(
        !html.contains("id=\"merge-undo\""),
        "an undone merge is not offered again"
    );
    assert!(
        !web.page(&format!("/app/customers/{robert}"))
            .await
            .contains("id=\"merge-undo\"")
    );

    // Staff see no export or delete.
    env.add_user(env.tenant.id, "sam", Role::Staff, PASSWORD).await;
    let staff = env.login("sam", PASSWORD).await;
    let reply = web
        .send("GET", &format!("/app/customers/{maria}"), Some(&staff), None)
        .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.body.contains("/export") && !reply.body.contains("delete-dialog"));
}

async fn another_tenants_ids_are_not_found_pages_and_no_session_goes_to_login(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let theirs = seed(env, &env.other, "CA-theirs", CallState::Done, 0).await;
    let (_, their_job) = env
        .seed_person(
            &env.other,
            "CA-p",
            "RE-p",
            &person("Zelda Other", "+14155550103", "3 Ash Road"),
            Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, 0).unwrap(),
        )
        .await;
    let their_customer = their_job.customer_id.unwrap();
    for path in [
        format!("/app/calls/{}", theirs.id),
        format!("/app/calls/rows/{}", theirs.id),
        format!("/app/customers/{their_customer}"),
        "/app/calls/not-an-id".to_owned(),
        "/app/customers/not-an-id".to_owned(),
    ] {
        let reply = web.send("GET", &path, Some(&web.session), None).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.body.contains("<h1>Not found</h1>"), "{path}");
        assert!(
            !reply.body.contains("Zelda") && !reply.body.contains("Maria"),
            "{path}"
        );
    }
    // Their own owner sees them.
    let reply = web
        .send(
            "GET",
            &format!("/app/calls/{}", theirs.id),
            Some(&web.other_session),
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    for path in [
        "/app/calls",
        "/app/calls/rows/x",
        "/app/customers",
        "/app/customers/results?q=a",
    ] {
        let reply = web.send("GET", path, None, None).await;
        assert_eq!(reply.status, 303, "{path}");
        assert!(reply.location.unwrap().starts_with("/app/login?next="), "{path}");
    }
}

// ---- issue 9 review
async fn marking_a_call_reviewed_empties_the_needs_review_tab(backend: Backend) {
    let web = web(backend).await;
    let env = &web.env;
    let call = seed(env, &env.tenant, "CA-mark", CallState::NeedsReview, 0).await;
    let other = seed(env, &env.tenant, "CA-other", CallState::NeedsReview, 1).await;
    let done = seed(env, &env.tenant, "CA-done", CallState::Done, 2).await;
    let page = format!("/app/calls/{}", call.id);

    // A needs-review call offers "Mark reviewed" (the primary action) that posts to the review route and
    // re-renders; four seeded fields are below the high band, so it asks first.
    let html = web.page(&page).await;
    let button = &html[html.find("id=\"mark-reviewed\"").expect("a Mark reviewed button") - 40..];
    let button = &button[..button.find("</button>").unwrap()];
    assert!(button.contains("class=\"button primary\""), "{button}");
    assert!(
        button.contains(&format!("data-api=\"POST /api/v1/calls/{}/review\"", call.id)),
        "{button}"
    );
    assert!(
        button.contains("data-body=\"{&quot;outcome&quot;:&quot;approved&quot;}\""),
        "{button}"
    );
    assert!(
        button.contains("data-then=\"refresh\"") && button.ends_with(">Mark reviewed"),
        "{button}"
    );
    assert!(
        button.contains("data-confirm=\"4 fields are still uncertain. Mark the call reviewed anyway?\""),
        "{button}"
    );
    // A finished call has no such button.
    assert!(
        !web.page(&format!("/app/calls/{}", done.id))
            .await
            .contains("Mark reviewed")
    );
    let tab = web.page("/app/calls?state=needs_review").await;
    assert!(tab.contains(&call.id.to_string()) && tab.contains(&other.id.to_string()));
    assert!(tab.contains("aria-current=\"page\">Needs review <span class=\"badge count\">2</span>"));

    // Click it (what app.js sends): the page re-renders as done, with the review in the corrections.
    let (status, result) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/review", call.id),
            Some(json!({"outcome": "approved"})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let html = web.page(&page).await;
    assert!(!html.contains("Mark reviewed") && !html.contains("id=\"review-note\""));
    assert!(
        html.contains(&format!("data-call-id=\"{}\" data-state=\"done\"", call.id)),
        "state on the facts"
    );
    assert!(html.contains("Review finished"));

    // The list follows: the row badge is Done with "Reviewed", and the tab holds only the other call.
    let row = web.page(&format!("/app/calls/rows/{}", call.id)).await;
    assert!(
        row.contains("data-state=\"done\"") && row.contains(">Reviewed<"),
        "{row}"
    );
    let tab = web.page("/app/calls?state=needs_review").await;
    assert!(!tab.contains(&call.id.to_string()) && tab.contains(&other.id.to_string()));
    assert!(tab.contains("aria-current=\"page\">Needs review <span class=\"badge count\">1</span>"));

    // Every field certain: no question; one field uncertain: "1 field".
    let mut doc = extraction_doc();
    for field in callbook_server::api::calls::APPOINTMENT_FIELDS {
        if doc["appointments"][0][field].is_object() {
            doc["appointments"][0][field]["confidence"] = json!(0.95);
        }
    }
    let (status, out) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/override", other.id),
            Some(doc.clone()),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let html = web.page(&format!("/app/calls/{}", other.id)).await;
    let button = &html[html.find("id=\"mark-reviewed\"").unwrap()..];
    assert!(
        !button[..button.find("</button>").unwrap()].contains("data-confirm"),
        "{button}"
    );
    doc["appointments"][0]["price"]["confidence"] = json!(0.4);
    let (status, out) = web
        .api("POST", &format!("/api/v1/calls/{}/override", other.id), Some(doc))
        .await;
    assert_eq!(status, 200, "{out}");
    let html = web.page(&format!("/app/calls/{}", other.id)).await;
    assert!(
        html.contains("data-confirm=\"1 field is still uncertain. Mark the call reviewed anyway?\""),
        "{}",
        &html[html.find("id=\"mark-reviewed\"").unwrap()..][..400]
    );
    // Marked not an appointment, then reviewed: no appointment, and the list says so.
    let (status, _) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/not-an-appointment", other.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, result) = web
        .api(
            "POST",
            &format!("/api/v1/calls/{}/review", other.id),
            Some(json!({"outcome": "approved"})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let html = web.page(&format!("/app/calls/{}", other.id)).await;
    assert!(html.contains("Review finished: no appointment") && html.contains("Marked not an appointment"));
    let tab = web.page("/app/calls?state=needs_review").await;
    assert!(!tab.contains(&other.id.to_string()));

    // Another tenant cannot finish this tenant's review: 404, nothing changes.
    let third = seed(env, &env.tenant, "CA-third", CallState::NeedsReview, 3).await;
    let reply = web
        .send(
            "POST",
            &format!("/api/v1/calls/{}/review", third.id),
            Some(&web.other_session),
            Some(json!({"outcome": "approved"})),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert!(
        web.page(&format!("/app/calls/{}", third.id))
            .await
            .contains("Mark reviewed")
    );
}
// ---- end issue 9 review
