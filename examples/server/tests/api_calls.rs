//! REST API: calls, signed audio, retry, corrections, override, quality and usage — on the in-memory store and
//! on SQLite.
// The scenario functions run through `on_every_backend!`, outside `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Env, OTHER_TOKEN, TOKEN, audio};
use serde_json::{Value, json};

async fn calls_list_and_detail(env: Env) {
    let (call, job) = env.seed_call("CA1").await;
    let (status, body) = env.get("/api/v1/calls").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["id"], call.id.to_string());
    assert_eq!(body["items"][0]["processing"]["state"], "done");

    let (status, body) = env.get("/api/v1/calls?state=dead").await;
    assert_eq!((status, body["items"].as_array().unwrap().len()), (200, 0));
    let (status, body) = env.get("/api/v1/calls?state=exploded").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));

    let (status, body) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["call"]["processing"]["state"], "done");
    assert_eq!(body["call"]["processing"]["last_error"], Value::Null);
    assert_eq!(
        (body["state"].as_str(), &body["last_error"]),
        (Some("done"), &Value::Null)
    );
    assert_eq!(
        body["transcript"]["text"],
        "Hi, this is Maria Lopez, card [REDACTED]"
    );
    assert_eq!(
        body["extraction"]["appointments"][0]["customer_name"]["value"],
        "Maria Lopez"
    );
    assert_eq!(body["corrections"], json!([]));
    let url = body["playback"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "/api/v1/calls/{}/audio?t={}&sig=v1.",
            call.id, env.tenant.id
        )),
        "{url}"
    );

    // The signed link streams the audio without a bearer token.
    let response = env.raw("GET", url, None, None, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(response.headers()["content-length"], "10000");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes, audio());

    // Range → 206 with exactly those bytes.
    let response = env
        .raw("GET", url, None, None, &[("range", "bytes=100-199")])
        .await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 100-199/10000");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &audio()[100..200]);
    let response = env.raw("GET", url, None, None, &[("range", "bytes=-10")]).await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 9990-9999/10000");
    // Beyond the end → 416 with the size.
    let response = env
        .raw("GET", url, None, None, &[("range", "bytes=10000-")])
        .await;
    assert_eq!(response.status(), 416);
    assert_eq!(response.headers()["content-range"], "bytes */10000");
    assert_eq!(response.headers()["content-type"], "application/problem+json");

    // A tampered signature, a missing one, or the link under another call id → 403.
    let tampered = format!("{}x", url);
    let (status, body) = env.send("GET", &tampered, None, None, &[]).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("bad_signature")));
    let (status, _) = env
        .send(
            "GET",
            &format!("/api/v1/calls/{}/audio", call.id),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(status, 403);
    let moved = url.replace(&call.id.to_string(), &job.id.to_string());
    let (status, _) = env.send("GET", &moved, None, None, &[]).await;
    assert_eq!(status, 403);
    // The link names the tenant; presenting it as another tenant's fails the signature check.
    let other_tenant = url.replace(&env.tenant.id.to_string(), &env.other.id.to_string());
    let (status, _) = env.send("GET", &other_tenant, None, None, &[]).await;
    assert_eq!(status, 403);
}

async fn auth_and_tenant_isolation(env: Env) {
    let (call, _) = env.seed_call("CA1").await;
    for path in ["/api/v1/calls".to_owned(), format!("/api/v1/calls/{}", call.id)] {
        let (status, body) = env.send("GET", &path, None, None, &[]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unauthorized")),
            "{path}"
        );
        let (status, _) = env
            .send("GET", &path, Some("wrong-token-wrong-token"), None, &[])
            .await;
        assert_eq!(status, 401, "{path}");
    }
    let response = env.raw("GET", "/api/v1/calls", Some("nope"), None, &[]).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(response.headers()["content-type"], "application/problem+json");

    // The other tenant sees nothing of this tenant's call: every {id} route is 404.
    let (status, body) = env
        .send("GET", "/api/v1/calls", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!((status, body["items"].as_array().unwrap().len()), (200, 0));
    for (method, path, body) in [
        ("GET", format!("/api/v1/calls/{}", call.id), None),
        ("POST", format!("/api/v1/calls/{}/retry", call.id), None),
        (
            "POST",
            format!("/api/v1/calls/{}/corrections", call.id),
            Some(json!({"field": "appointments[0].notes", "value": "x"})),
        ),
        (
            "POST",
            format!("/api/v1/calls/{}/override", call.id),
            Some(api_common::extraction_doc()),
        ),
        (
            "POST",
            format!("/api/v1/calls/{}/not-an-appointment", call.id),
            None,
        ),
    ] {
        let (status, problem) = env.send(method, &path, Some(OTHER_TOKEN), body, &[]).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    // Nothing was written by those attempts.
    assert!(
        env.store
            .list_corrections(env.tenant.id, call.id)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = env.get("/api/v1/calls/not-a-uuid").await;
    assert_eq!(status, 404);
}

async fn retry_requeues_final_calls_only(env: Env) {
    let (call, _) = env.seed_call("CA1").await;
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/retry", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["processing"]["state"], "queued");
    assert_eq!(body["processing"]["attempts"], 0);
    // Queued is not final: a second retry conflicts.
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/retry", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")));
}

async fn dead_calls_show_their_error_and_can_be_retried(env: Env) {
    let t = env.tenant.id;
    let (call, _) = env
        .store
        .record_call(
            t,
            callbook_jobs::NewCall {
                provider: "twilio".into(),
                provider_call_id: "CA-dead".into(),
                phone_line_id: None,
                from: None,
                to: None,
                started_at: chrono::Utc::now(),
                provider_status: "completed".into(),
            },
        )
        .await
        .unwrap();
    env.store
        .set_recording(
            t,
            call.id,
            callbook_jobs::RecordingRef {
                provider_recording_id: "RE9".into(),
                duration_seconds: None,
                storage_key: None,
            },
        )
        .await
        .unwrap();
    let now = callbook_jobs::now();
    let claimed = env
        .store
        .claim_calls("test", now, std::time::Duration::from_secs(60), 10, 8)
        .await
        .unwrap();
    let lease = claimed[0].lease().unwrap();
    env.store
        .kill_call(t, call.id, &lease, now, "transcription provider unavailable")
        .await
        .unwrap();
    let (_, dead) = env.get("/api/v1/calls?state=dead").await;
    assert_eq!(dead["items"][0]["id"], call.id.to_string());
    let (status, detail) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["state"], "dead");
    assert_eq!(detail["last_error"], "transcription provider unavailable");
    assert_eq!(detail["playback"], Value::Null, "no audio stored, no link");
    assert_eq!(
        (detail["transcript"].clone(), detail["extraction"].clone()),
        (Value::Null, Value::Null)
    );
    let (status, retried) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/retry", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(retried["processing"]["state"], "queued");
    assert_eq!(retried["processing"]["last_error"], Value::Null);
}

async fn corrections_update_the_job(env: Env) {
    let (call, job) = env.seed_call("CA1").await;
    assert_eq!(job.notes.as_deref(), Some("gate code 1234"));
    let path = format!("/api/v1/calls/{}/corrections", call.id);
    let (status, body) = env
        .send(
            "POST",
            &path,
            Some(TOKEN),
            Some(json!({"field": "appointments[0].notes", "value": "gate code 9999"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["correction"]["before"], "gate code 1234");
    assert_eq!(body["correction"]["after"], "gate code 9999");
    assert_eq!(body["correction"]["job_id"], job.id.to_string());
    assert_eq!(body["job"]["notes"], "gate code 9999");
    assert_eq!(body["job"]["version"], 2);

    // A new time moves the job's schedule (kept in the job's zone).
    let (status, body) = env
        .send(
            "POST",
            &path,
            Some(TOKEN),
            Some(json!({"field": "appointments[0].when", "value": {"date": "2026-03-12", "time": "09:00",
                "start": "2026-03-12T09:00:00-04:00", "end": "2026-03-12T10:30:00-04:00", "flexible": false, "ambiguous": false}})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["job"]["schedule"]["start"], "2026-03-12T13:00:00Z");
    assert_eq!(body["job"]["schedule"]["end"], "2026-03-12T14:30:00Z");
    assert_eq!(body["job"]["schedule"]["timezone"], "America/New_York");

    // A price in the extraction's shape becomes minor units.
    let (status, body) = env
        .send("POST", &path, Some(TOKEN),
            Some(json!({"field": "appointments[0].price", "value": {"amount": "120.50", "currency": "usd", "kind": "quote"}})), &[])
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["job"]["price"], json!({"minor": 12050, "currency": "USD"}));

    // A name is not a job field: saved, job unchanged.
    let (status, body) = env
        .send(
            "POST",
            &path,
            Some(TOKEN),
            Some(json!({"field": "appointments[0].customer_name", "value": "Mara Lopez"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["job"]["version"], 4);

    // Bad inputs: unknown field, missing appointment, wrong shape → 422, nothing saved.
    for bad in [
        json!({"field": "appointments[0].colour", "value": "red"}),
        json!({"field": "appointments[3].notes", "value": "x"}),
        json!({"field": "appointments[0].when", "value": "tomorrow"}),
        json!({"field": "appointments[0].urgency", "value": "whenever"}),
    ] {
        let (status, body) = env.send("POST", &path, Some(TOKEN), Some(bad.clone()), &[]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation_failed")),
            "{bad}: {body}"
        );
    }
    let (status, _) = env
        .send("POST", &path, Some(TOKEN), Some(json!({"nope": 1})), &[])
        .await;
    assert_eq!(status, 422);
    let saved = env.store.list_corrections(env.tenant.id, call.id).await.unwrap();
    assert_eq!(saved.len(), 4);

    let (_, detail) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(detail["corrections"].as_array().unwrap().len(), 4);

    // Quality: 4 of the 8 extracted fields of the one `rules` extraction were corrected.
    let (status, quality) = env.get("/api/v1/quality").await;
    assert_eq!(status, 200, "{quality}");
    assert_eq!(quality["extractions"], 1);
    let field = |name: &str| {
        quality["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name && f["extractor"] == "rules")
            .cloned()
            .unwrap()
    };
    assert_eq!(field("notes")["corrected"], 1);
    assert_eq!(field("job_description")["corrected"], 0);
    // (1 + 1) / (1 + 10)
    let smoothed = field("notes")["smoothed_error_rate"].as_f64().unwrap();
    assert!((smoothed - 2.0 / 11.0).abs() < 1e-9, "{smoothed}");
    let adjusted = field("notes")["adjusted_confidence"].as_f64().unwrap();
    assert!((adjusted - 0.6 * (1.0 - 2.0 / 11.0)).abs() < 1e-9, "{adjusted}");
}

async fn override_rebooks_and_not_an_appointment_cancels(env: Env) {
    let (call, job) = env.seed_call("CA1").await;
    let mut doc = api_common::extraction_doc();
    doc["appointments"][0]["job_description"]["value"] = json!("replace the water heater");
    let second = doc["appointments"][0].clone();
    doc["appointments"].as_array_mut().unwrap().push(second);
    doc["appointments"][1]["when"] = Value::Null;
    doc["appointments"][1]["job_description"]["value"] = json!("check the boiler");
    let path = format!("/api/v1/calls/{}/override", call.id);
    let (status, body) = env.send("POST", &path, Some(TOKEN), Some(doc), &[]).await;
    assert_eq!(status, 200, "{body}");
    let jobs = body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["id"], job.id.to_string(), "appointment 0 keeps its job");
    assert_eq!(jobs[0]["description"], "replace the water heater");
    assert_eq!(jobs[1]["description"], "check the boiler");
    assert_eq!(jobs[1]["schedule"], Value::Null);
    assert_eq!(body["correction"]["field"], "extraction");
    let (_, detail) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(detail["extraction"]["appointments"].as_array().unwrap().len(), 2);

    // An extraction breaking the contract (bad phone, confidence > 1) → 422 naming the fields, nothing changes.
    let mut bad = api_common::extraction_doc();
    bad["appointments"][0]["customer_phone"]["value"] = json!("call me");
    bad["confidence"] = json!(1.5);
    let (status, body) = env.send("POST", &path, Some(TOKEN), Some(bad), &[]).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["confidence", "appointments[0].customer_phone"]);
    assert!(!body.to_string().contains("call me"), "values are not echoed");
    // Not an extraction → 422, nothing changes.
    let (status, body) = env
        .send(
            "POST",
            &path,
            Some(TOKEN),
            Some(json!({"call_kind": "live"})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));

    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/not-an-appointment", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let cancelled = body["cancelled"].as_array().unwrap();
    assert_eq!(cancelled.len(), 2);
    assert!(cancelled.iter().all(|j| j["stage"] == "cancelled"));
    assert_eq!(body["correction"]["field"], "call_kind");
    assert_eq!(body["correction"]["after"], "not_an_appointment");
}

async fn usage_defaults_to_this_month(env: Env) {
    let now = chrono::Utc::now();
    let this_month = callbook_pipeline::usage::period(now, &env.tenant);
    env.store
        .record_usage(
            env.tenant.id,
            "call:x:stored",
            &this_month,
            &[("calls", 3), ("storage_bytes", 1000)],
        )
        .await
        .unwrap();
    env.store
        .record_usage(env.tenant.id, "call:y:stored", "2026-01", &[("calls", 1)])
        .await
        .unwrap();
    let (status, body) = env.get("/api/v1/usage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["period"], this_month);
    assert_eq!(
        body["totals"],
        json!([{"metric": "calls", "total": 3}, {"metric": "storage_bytes", "total": 1000}])
    );
    let (_, body) = env.get("/api/v1/usage?period=2026-01").await;
    assert_eq!(body["totals"], json!([{"metric": "calls", "total": 1}]));
    let (status, body) = env.get("/api/v1/usage?period=January").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
    let (_, body) = env
        .send(
            "GET",
            "/api/v1/usage?period=2026-01",
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(body["totals"], json!([]));
}

async fn retry_through_the_worker_wakes_it(env: Env) {
    use std::sync::Arc;
    let (call, _) = env.seed_call("CA1").await;
    let worker = callbook_pipeline::Worker::new(
        callbook_pipeline::WorkerConfig::new("api-test"),
        env.store.clone(),
        Arc::new(callbook_telephony::fake::FakeTelephony::new()),
        env.recordings.clone(),
        Arc::new(callbook_transcribe::fake::ScriptedTranscriber::new()),
        Arc::new(callbook_extract::RulesExtractor::new()),
    );
    let app = callbook_server::api::router(env.state.clone().with_retry(Arc::new(worker)));
    let env = Env { app, ..env };
    let path = format!("/api/v1/calls/{}/retry", call.id);
    let (status, body) = env.send("POST", &path, Some(TOKEN), None, &[]).await;
    assert_eq!(
        (status, body["processing"]["state"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let (status, body) = env.send("POST", &path, Some(TOKEN), None, &[]).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")));
    let (status, _) = env.send("POST", &path, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);
}

async fn oversized_json_is_413(env: Env) {
    let (call, _) = env.seed_call("CA1").await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/corrections", call.id),
            Some(TOKEN),
            Some(json!({"field": "appointments[0].notes", "value": huge})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")));
}

on_every_backend!(
    dead_calls_show_their_error_and_can_be_retried,
    retry_through_the_worker_wakes_it,
    oversized_json_is_413,
    calls_list_and_detail,
    auth_and_tenant_isolation,
    retry_requeues_final_calls_only,
    corrections_update_the_job,
    override_rebooks_and_not_an_appointment_cancels,
    usage_defaults_to_this_month,
);
