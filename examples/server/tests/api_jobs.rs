//! REST API: jobs (create, read, optimistic concurrency, move, notes, history), photos (type and size limits,
//! encrypted storage) and calendars (.ics validity with icalendar's parser and libical) — on memory and SQLite.
// The scenario functions run through `on_every_backend!`, outside `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use api_common::{Env, OTHER_TOKEN, TOKEN};
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

async fn create_read_patch_with_versions(env: Env) {
    let (status, job) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(json!({"title": "Fix the boiler", "description": "no hot water", "urgency": "urgent",
                "scheduled_start": "2026-03-11T14:00:00Z", "scheduled_end": "2026-03-11T15:00:00Z",
                "price": {"minor": 8900, "currency": "USD"}, "address": {"line1": "1 Main St", "city": "Yonkers"}})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["stage"], "quote_requested");
    assert_eq!(job["version"], 1);
    assert_eq!(job["urgency"], "urgent");
    assert_eq!(
        job["schedule"]["timezone"], "America/New_York",
        "the tenant's zone by default"
    );
    let id = job["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/jobs/{id}");

    let response = env.raw("GET", &path, Some(TOKEN), None, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");

    // No version → 428; stale → 409 with the current version; right version → 200 and a new ETag.
    let (status, body) = env
        .send("PATCH", &path, Some(TOKEN), Some(json!({"title": "x"})), &[])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (428, Some("precondition_required"))
    );
    let response = env
        .raw(
            "PATCH",
            &path,
            Some(TOKEN),
            Some(json!({"title": "Replace the boiler", "notes": "dog in yard"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let (status, body) = env
        .send(
            "PATCH",
            &path,
            Some(TOKEN),
            Some(json!({"title": "Late edit"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str(), body["current_version"].as_i64()),
        (409, Some("version_conflict"), Some(2))
    );
    // The version may come in the body; `null` clears an optional field, absent keeps it.
    let (status, body) = env
        .send(
            "PATCH",
            &path,
            Some(TOKEN),
            Some(json!({"version": 2, "price": null, "schedule": null})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], Value::Null);
    assert_eq!(body["schedule"], Value::Null);
    assert_eq!(body["title"], "Replace the boiler");
    assert_eq!(body["notes"], "dog in yard");
    assert_eq!(body["version"], 3);

    // Validation: every bad field listed, nothing written.
    let (status, body) = env
        .send("POST", "/api/v1/jobs", Some(TOKEN),
            Some(json!({"title": "", "scheduled_start": "2026-03-11T15:00:00Z", "scheduled_end": "2026-03-11T14:00:00Z"})), &[])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed")),
        "{body}"
    );
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"scheduled_end"),
        "{fields:?}"
    );
    let (status, body) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(json!({"title": "x", "urgency": "asap"})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
    let response = env
        .request(
            Request::post("/api/v1/jobs")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = env
        .request(
            Request::post("/api/v1/jobs")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "text/plain")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 415);
    let (_, list) = env.get("/api/v1/jobs").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn list_filters_move_notes_history(env: Env) {
    let (_, seeded) = env.seed_call("CA1").await;
    let (_, other) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(json!({"title": "Install thermostat"})),
            &[],
        )
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();

    let (_, list) = env.get("/api/v1/jobs?q=SINK").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![seeded.id.to_string().as_str()]);
    let (_, list) = env
        .get("/api/v1/jobs?from=2026-03-11T00:00:00Z&to=2026-03-12T00:00:00Z")
        .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the scheduled job overlaps"
    );
    let (_, list) = env.get("/api/v1/jobs?from=2026-04-01T00:00:00Z").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (status, _) = env.get("/api/v1/jobs?stage=done").await;
    assert_eq!(status, 422);
    let (_, list) = env
        .get(&format!(
            "/api/v1/jobs?customer_id={}",
            seeded.customer_id.unwrap()
        ))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Move the new job to Confirmed, then reorder the seeded one before it.
    let (status, moved) = env
        .send(
            "POST",
            &format!("/api/v1/jobs/{other_id}/move"),
            Some(TOKEN),
            Some(json!({"stage": "confirmed"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (moved["stage"].as_str(), moved["version"].as_i64()),
        (Some("confirmed"), Some(2))
    );
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/jobs/{other_id}/move"),
            Some(TOKEN),
            Some(json!({"stage": "completed"})),
            &[],
        )
        .await;
    assert_eq!(status, 428);
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/jobs/{other_id}/move"),
            Some(TOKEN),
            Some(json!({"stage": "completed", "version": 1})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("version_conflict")));
    let (status, moved) = env
        .send(
            "POST",
            &format!("/api/v1/jobs/{}/move", seeded.id),
            Some(TOKEN),
            Some(json!({"stage": "confirmed", "position": 0, "version": seeded.version})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let (_, column) = env.get("/api/v1/jobs?stage=confirmed").await;
    let order: Vec<&str> = column["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec![seeded.id.to_string().as_str(), other_id.as_str()]);

    let (status, history) = env.get(&format!("/api/v1/jobs/{other_id}/history")).await;
    assert_eq!(status, 200);
    let stages: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        stages,
        vec![
            (Value::Null, json!("quote_requested")),
            (json!("quote_requested"), json!("confirmed"))
        ]
    );
    assert_eq!(history[1]["actor"], "system:admin");

    let notes = format!("/api/v1/jobs/{other_id}/notes");
    let (status, note) = env
        .send(
            "POST",
            &notes,
            Some(TOKEN),
            Some(json!({"body": "Bring the ladder"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{note}");
    let (status, body) = env
        .send("POST", &notes, Some(TOKEN), Some(json!({"body": ""})), &[])
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
    let (_, list) = env.get(&notes).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["body"], "Bring the ladder");
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend_from_slice(&[0u8; 64]);
    b
}

async fn photo_request(
    env: &Env,
    path: &str,
    token: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (u16, Value) {
    let response = env
        .request(
            Request::post(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn photos_are_sniffed_limited_and_encrypted(env: Env) {
    let (_, job) = env.seed_call("CA1").await;
    let path = format!("/api/v1/jobs/{}/photos", job.id);
    let (status, photo) = photo_request(
        &env,
        &format!("{path}?caption=Under%20the%20sink"),
        TOKEN,
        png(),
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 201, "{photo}");
    assert_eq!(
        photo["content_type"], "image/png",
        "sniffed, not taken from the header"
    );
    assert_eq!(photo["size_bytes"], png().len());
    assert_eq!(photo["caption"], "Under the sink");

    // 415: not an image (whatever the header says); 413: over 10 MiB, nothing stored.
    let (status, body) =
        photo_request(&env, &path, TOKEN, b"<svg onload=alert(1)>".to_vec(), "image/png").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let mut big = png();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, body) = photo_request(&env, &path, TOKEN, big, "image/png").await;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")));
    // Without Content-Length (a stream) the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..11).map(|_| Ok(vec![0u8; 1024 * 1024])).collect();
    let response = env
        .request(
            Request::post(&path)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 413);

    let (status, list) = env.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let blob_key = list[0]["blob_key"].as_str().unwrap();
    assert_eq!(
        blob_key,
        format!(
            "{}/job-{}/extraction/{}",
            env.tenant.id,
            job.id,
            blob_key.rsplit('/').next().unwrap()
        )
    );

    // The bytes come back decrypted, and are not stored in the clear.
    let response = env
        .raw(
            "GET",
            &format!("{path}/{}", list[0]["id"].as_str().unwrap()),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.to_vec(), png());
    use futures_util::TryStreamExt as _;
    use object_store::ObjectStoreExt as _;
    let objects: Vec<_> = env
        .recordings
        .object_store()
        .list(None)
        .try_collect()
        .await
        .unwrap();
    let mut found = false;
    for meta in objects {
        let raw = env
            .recordings
            .object_store()
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            !raw.windows(8).any(|w| w == &png()[..8]),
            "plaintext PNG in {}",
            meta.location
        );
        found |= meta.location.as_ref().contains(&format!("job-{}", job.id));
    }
    assert!(found, "the photo blob is in the object store");

    // Another tenant: 404 on every photo route, nothing stored.
    let (status, _) = photo_request(&env, &path, OTHER_TOKEN, png(), "image/png").await;
    assert_eq!(status, 404);
    let (status, _) = env.send("GET", &path, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);
    let (status, _) = env
        .send(
            "GET",
            &format!("{path}/{}", list[0]["id"].as_str().unwrap()),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = env.get(&path).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn cross_tenant_job_routes_are_404(env: Env) {
    let (_, job) = env.seed_call("CA1").await;
    let id = job.id;
    for (method, path, body) in [
        ("GET", format!("/api/v1/jobs/{id}"), None),
        (
            "PATCH",
            format!("/api/v1/jobs/{id}"),
            Some(json!({"version": 1, "title": "mine now"})),
        ),
        (
            "POST",
            format!("/api/v1/jobs/{id}/move"),
            Some(json!({"stage": "cancelled", "version": 1})),
        ),
        ("GET", format!("/api/v1/jobs/{id}/notes"), None),
        (
            "POST",
            format!("/api/v1/jobs/{id}/notes"),
            Some(json!({"body": "hello"})),
        ),
        ("GET", format!("/api/v1/jobs/{id}/history"), None),
        ("GET", format!("/api/v1/jobs/{id}/calendar.ics"), None),
    ] {
        let (status, problem) = env
            .send(method, &path, Some(OTHER_TOKEN), body.clone(), &[])
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
        let (status, _) = env.send(method, &path, None, body, &[]).await;
        assert_eq!(status, 401, "{method} {path}");
    }
    // A customer of another tenant cannot be attached either.
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(OTHER_TOKEN),
            Some(json!({"title": "x", "customer_id": job.customer_id})),
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let unchanged = env.get(&format!("/api/v1/jobs/{id}")).await.1;
    assert_eq!(
        (unchanged["version"].as_i64(), unchanged["stage"].as_str()),
        (Some(1), Some("quote_requested"))
    );
}

/// The libical checker (see crates/jobs/tests/ical): `CALLBOOK_ICALCHECK`, else built here when libical-dev
/// is installed, else `None` with a message.
fn icalcheck() -> Option<PathBuf> {
    static CHECKER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    CHECKER
        .get_or_init(|| {
            if let Ok(path) = std::env::var("CALLBOOK_ICALCHECK")
                && !path.is_empty()
            {
                return Some(PathBuf::from(path));
            }
            let flags = Command::new("pkg-config")
                .args(["--cflags", "--libs", "libical"])
                .output()
                .ok();
            let Some(flags) = flags.filter(|o| o.status.success()) else {
                eprintln!(
                    "skipping the libical check: libical-dev is not installed (see .ci/setup.d/50-jobs.sh)"
                );
                return None;
            };
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-icalcheck");
            let source =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/jobs/tests/ical/icalcheck.c");
            let ok = Command::new("gcc")
                .args(["-O1", "-o"])
                .arg(&out)
                .arg(&source)
                .args(String::from_utf8_lossy(&flags.stdout).split_whitespace())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("skipping the libical check: could not compile icalcheck.c");
            }
            ok.then_some(out)
        })
        .clone()
}

fn libical_report(ics: &str) -> Option<String> {
    let checker = icalcheck()?;
    let mut child = Command::new(checker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "libical rejected:\n{report}\n{ics}");
    Some(report)
}

/// The VEVENTs of a calendar as parsed by the icalendar crate: (UID, SUMMARY).
fn parsed_events(ics: &str) -> Vec<(String, String)> {
    let unfolded = icalendar::parser::unfold(ics);
    let calendar = icalendar::parser::read_calendar(&unfolded).unwrap();
    calendar
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .map(|c| {
            let prop = |name: &str| {
                c.properties
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.val.to_string())
                    .unwrap_or_default()
            };
            (prop("UID"), prop("SUMMARY"))
        })
        .collect()
}

async fn calendars_are_valid_ics(env: Env) {
    let (_, job) = env.seed_call("CA1").await;
    let response = env
        .raw(
            "GET",
            &format!("/api/v1/jobs/{}/calendar.ics", job.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(
        ics.contains("DTSTART;TZID=America/New_York:20260311T150000"),
        "{ics}"
    );
    let uid = format!("job-{}@callbook", job.id);
    assert_eq!(
        parsed_events(&ics),
        vec![(uid.clone(), "kitchen sink leaking under the cabinet".to_owned())]
    );
    if let Some(report) = libical_report(&ics) {
        let s = job.schedule.as_ref().unwrap();
        let line = format!("EVENT {uid} {} {}", s.start.timestamp(), s.end.timestamp());
        assert!(
            report.lines().any(|l| l == line),
            "libical read other times:\n{report}"
        );
    }

    // The tenant feed: URL from the API, no bearer token, wrong token 404.
    let (_, unscheduled) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(json!({"title": "Unscheduled"})),
            &[],
        )
        .await;
    assert_eq!(unscheduled["schedule"], Value::Null);
    let (_, later) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(
                json!({"title": "Annual service, boiler; \"B\"", "scheduled_start": "2026-11-01T13:00:00Z",
                "scheduled_end": "2026-11-01T14:00:00Z", "recurrence": "FREQ=YEARLY;COUNT=3"}),
            ),
            &[],
        )
        .await;
    let (status, feed) = env.get("/api/v1/calendar-feed").await;
    assert_eq!(status, 200);
    let url = feed["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/api/v1/calendar/") && url.ends_with(".ics"),
        "{url}"
    );
    let response = env.raw("GET", &url, None, None, &[]).await;
    assert_eq!(response.status(), 200);
    let ics = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let events = parsed_events(&ics);
    assert_eq!(events.len(), 2, "unscheduled jobs are not in the feed:\n{ics}");
    assert!(events.contains(&(
        format!("job-{}@callbook", later["id"].as_str().unwrap()),
        "Annual service, boiler; \"B\"".to_owned()
    )));
    assert!(ics.contains("RRULE:FREQ=YEARLY;COUNT=3"));
    libical_report(&ics);

    let (_, other_feed) = env
        .send("GET", "/api/v1/calendar-feed", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_ne!(other_feed["url"], feed["url"]);
    let response = env
        .raw("GET", other_feed["url"].as_str().unwrap(), None, None, &[])
        .await;
    let other_ics = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        parsed_events(&other_ics).is_empty(),
        "the other tenant's feed holds none of these jobs"
    );
    let token = url
        .trim_start_matches("/api/v1/calendar/")
        .trim_end_matches(".ics");
    let mut forged = token.to_owned();
    forged.replace_range(40..41, if &token[40..41] == "0" { "1" } else { "0" });
    for bad in [
        format!("/api/v1/calendar/{forged}.ics"),
        format!("/api/v1/calendar/{token}"),
        "/api/v1/calendar/x.ics".to_owned(),
    ] {
        let (status, body) = env.send("GET", &bad, None, None, &[]).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{bad}");
    }
}

async fn job_changes_are_published(env: Env) {
    let (call, job) = env.seed_call("CA1").await;
    let (env, events) = env.recording_events();
    let (_, created) = env
        .send(
            "POST",
            "/api/v1/jobs",
            Some(TOKEN),
            Some(json!({"title": "New"})),
            &[],
        )
        .await;
    let created: callbook_jobs::JobId = created["id"].as_str().unwrap().parse().unwrap();
    env.send(
        "PATCH",
        &format!("/api/v1/jobs/{created}"),
        Some(TOKEN),
        Some(json!({"version": 1, "title": "Newer"})),
        &[],
    )
    .await;
    env.send(
        "POST",
        &format!("/api/v1/jobs/{created}/move"),
        Some(TOKEN),
        Some(json!({"version": 2, "stage": "quote_sent"})),
        &[],
    )
    .await;
    // A rejected change publishes nothing.
    env.send(
        "POST",
        &format!("/api/v1/jobs/{created}/move"),
        Some(TOKEN),
        Some(json!({"version": 1, "stage": "confirmed"})),
        &[],
    )
    .await;
    env.send(
        "POST",
        &format!("/api/v1/calls/{}/corrections", call.id),
        Some(TOKEN),
        Some(json!({"field": "appointments[0].urgency", "value": "emergency"})),
        &[],
    )
    .await;
    let seen = events.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("job.created".to_owned(), Some(created)),
            ("job.updated".to_owned(), Some(created)),
            ("job.moved".to_owned(), Some(created)),
            ("job.updated".to_owned(), Some(job.id)),
        ]
    );
}

on_every_backend!(
    job_changes_are_published,
    create_read_patch_with_versions,
    list_filters_move_notes_history,
    photos_are_sniffed_limited_and_encrypted,
    cross_tenant_job_routes_are_404,
    calendars_are_valid_ics,
);
