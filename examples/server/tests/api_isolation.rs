//! The tenant-isolation matrix, driven by the served OpenAPI document: for **every** documented route and method,
//! tenant A's credentials (the bootstrap admin token, an API token, a browser session) sent with tenant B's ids in
//! every path parameter get `404` and never B's data; routes without parameters never show B's marker strings;
//! and afterwards B's records are exactly as they were. A documented route with a path parameter the matrix does
//! not know how to fill fails the test — add its tenant object below when you add the route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Env, OTHER_TOKEN, TOKEN};
use axum::body::Body;
use axum::http::Request;
use callbook_jobs::{Actor, CustomerInput, NewPhoneLine, PhoneNumber, Role, WebhookMode};
use serde_json::{Value, json};

const PASSWORD: &str = "alice's long password";
/// A 1×1 PNG (magic bytes are what the photo upload checks).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0,
    0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0,
    1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Tenant B's records and the strings that must never reach A.
struct TenantB {
    call: String,
    job: String,
    customer: String,
    customer2: String,
    photo: String,
    suggestion: String,
    merge: String,
    line: String,
    user: String,
    token: String,
    token_secret: String,
    forged_feed: String,
    markers: Vec<String>,
    // ---- issue 9 notifications
    notification: String,
    // ---- end issue 9 notifications
}

async fn seed_b(env: &Env) -> TenantB {
    let b = env.other.clone();
    let (call, job) = env.seed_call_for(&b, "CA-B-1", "Bartholomew Quux").await;
    let customer = job.customer_id.unwrap();
    let phone = PhoneNumber::parse("+19145552177").unwrap();
    let second = env
        .store
        .find_or_create_customer(
            b.id,
            CustomerInput {
                name: Some("Quentin Zorro".into()),
                phone: Some(phone.clone()),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap()
        .customer
        .id;
    let third = env
        .store
        .find_or_create_customer(
            b.id,
            CustomerInput {
                name: Some("Xavier Quux".into()),
                phone: Some(phone),
                ..CustomerInput::default()
            },
        )
        .await
        .unwrap()
        .customer
        .id;
    let merge = env
        .store
        .merge_customers(b.id, customer, third, Actor::System("test".into()))
        .await
        .unwrap();
    let suggestion = env
        .store
        .list_merge_suggestions(b.id, Some(callbook_jobs::SuggestionStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("an open merge suggestion in B");
    env.store
        .add_note(b.id, job.id, Actor::System("test".into()), "B-secret-note-quux")
        .await
        .unwrap();
    let upload = env
        .request(
            Request::post(format!("/api/v1/jobs/{}/photos", job.id))
                .header("authorization", format!("Bearer {OTHER_TOKEN}"))
                .header("content-type", "image/png")
                .body(Body::from(PNG))
                .unwrap(),
        )
        .await;
    assert_eq!(upload.status(), 201);
    let photo: Value = serde_json::from_slice(
        &axum::body::to_bytes(upload.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    let line = env
        .store
        .add_phone_line(
            b.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: PhoneNumber::parse("+15555550199").unwrap(),
                provider_account_id: "ACb".into(),
                provider_number_id: Some("PNb0000".into()),
                credentials: None,
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    let user = env.add_user(b.id, "b-only-login", Role::Staff, PASSWORD).await;
    let (token_secret, token) = env.api_token(OTHER_TOKEN, "b-token-name", Some("staff")).await;
    // B's tenant id with A's feed MAC: a forged feed URL.
    let a_feed = env.state.feeds.token(env.tenant.id);
    let forged_feed = format!("{}{}.ics", b.id.as_uuid().simple(), &a_feed[32..]);
    // ---- issue 9 notifications: a tenant-wide inbox row of B's
    let notification = env
        .store
        .notify(
            b.id,
            None,
            "job.created",
            json!({"kind": "job.created", "job_id": job.id.to_string(), "data": {"stage": "quote_requested"}}),
        )
        .await
        .unwrap()
        .id
        .to_string();
    // ---- end issue 9 notifications
    let markers = vec![
        "Bartholomew Quux".to_owned(),
        "Quentin Zorro".to_owned(),
        "Xavier Quux".to_owned(),
        "B-secret-note-quux".to_owned(),
        "b-only-login".to_owned(),
        "b-token-name".to_owned(),
        "Other Co".to_owned(),
        "PNb0000".to_owned(),
        call.id.to_string(),
        job.id.to_string(),
        customer.to_string(),
        second.to_string(),
        line.id.to_string(),
        user.id.to_string(),
        token_secret[3..].to_owned(),
    ];
    TenantB {
        call: call.id.to_string(),
        job: job.id.to_string(),
        customer: customer.to_string(),
        customer2: second.to_string(),
        photo: photo["id"].as_str().unwrap().to_owned(),
        suggestion: suggestion.id.to_string(),
        merge: merge.id.to_string(),
        line: line.id.to_string(),
        user: user.id.to_string(),
        token: token["id"].as_str().unwrap().to_owned(),
        token_secret,
        forged_feed,
        // ---- issue 9 notifications
        markers: markers.into_iter().chain([notification.clone()]).collect(),
        notification,
        // ---- end issue 9 notifications
    }
}

/// Tenant B's value for one path parameter, by the literal segment before it.
fn fill(method: &str, path: &str, b: &TenantB) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push((*segment).to_owned());
            continue;
        };
        let before = if i > 0 { segments[i - 1] } else { "" };
        let value = match (before, name) {
            ("calls", "id") => &b.call,
            ("jobs", "id") => &b.job,
            ("photos", "photo_id") => &b.photo,
            ("customers", "id") => &b.customer,
            ("merge-suggestions", "id") => &b.suggestion,
            ("merges", "id") => &b.merge,
            ("phone-lines", "id") => &b.line,
            ("users", "id") => &b.user,
            ("tokens", "id") => &b.token,
            ("calendar", "file") => &b.forged_feed,
            // ---- issue 9 notifications
            ("notifications", "id") => &b.notification,
            // ---- end issue 9 notifications
            // A hold on B's call (the other target, `tenant`, is always the caller's own tenant).
            ("legal-holds", "target") => &b.call,
            _ => panic!(
                "{method} {path}: the isolation matrix does not know how to fill {{{name}}} after /{before}/ — \
                 add the route's tenant object to tests/api_isolation.rs"
            ),
        };
        out.push(value.clone());
    }
    out.join("/")
}

/// A body that gets past validation, so the handler reaches the tenant check (ids in bodies are B's).
fn body_for(method: &str, path: &str, b: &TenantB) -> Option<Value> {
    let body = match (method, path) {
        ("post", "/api/v1/jobs") => json!({"title": "hijack", "customer_id": b.customer}),
        ("patch", "/api/v1/jobs/{id}") => json!({"title": "hijack", "version": 1}),
        ("post", "/api/v1/jobs/{id}/move") => json!({"stage": "completed", "version": 1}),
        ("post", "/api/v1/jobs/{id}/notes") => json!({"body": "hijack"}),
        ("post", "/api/v1/calls/{id}/corrections") => json!({"field": "appointments[0].notes", "value": "x"}),
        ("post", "/api/v1/calls/{id}/override") => api_common::extraction_doc(),
        // ---- issue 9 review
        ("post", "/api/v1/calls/{id}/review") => json!({"outcome": "approved"}),
        // ---- end issue 9 review
        ("post", "/api/v1/customers/merge") => json!({"survivor_id": b.customer, "merged_id": b.customer2}),
        ("post", "/api/v1/phone-lines") => json!({"phone_number": "+15555550199"}),
        ("post", "/api/v1/users") => json!({"login": "matrix-user", "role": "staff"}),
        ("patch", "/api/v1/users/{id}") => json!({"role": "admin"}),
        ("post", "/api/v1/users/{id}/password") => json!({"password": "matrix password 123"}),
        ("post", "/api/v1/tokens") => json!({"name": "matrix token"}),
        ("put", "/api/v1/phone-lines/{id}/credentials") => {
            json!({"account_sid": "AC00000000000000000000000000000000", "auth_token": "matrix-auth-token"})
        }
        ("post", "/api/v1/legal-holds") => json!({"scope": "call", "call_id": b.call}),
        ("post", "/api/v1/settings/filtering/block") => json!({"call_id": b.call}),
        ("post", "/api/v1/auth/login") => json!({"login": "b-only-login", "password": "not B's password"}),
        (m, _) if m != "get" => json!({}),
        _ => return None,
    };
    Some(body)
}

#[derive(Debug, Clone, Copy)]
enum Credential {
    Bootstrap,
    ApiToken,
    Session,
}

async fn matrix(env: Env) {
    // Tenant A has data too, so "empty" is not how the routes pass.
    let (a_call, _) = env.seed_call("CA-A-1").await;
    let mut b = seed_b(&env).await;
    // ---- issue 8 billing: B has a billing customer, a subscription and an invoice; A never sees them.
    let billing = callbook_billing::fake::FakeBilling::new().with_default_price("price_matrix");
    let env = env.with_billing(std::sync::Arc::new(billing.clone()));
    let (status, sub) = env
        .send(
            "POST",
            "/api/v1/billing/subscription",
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{sub}");
    let b_tenant = callbook_billing::TenantId::new(env.other.id.to_string());
    let invoice = billing.add_invoice(&b_tenant, 4321);
    let (_, b_page) = env
        .send("GET", "/api/v1/billing", Some(OTHER_TOKEN), None, &[])
        .await;
    let b_customer = b_page["customer_id"].as_str().unwrap().to_owned();
    b.markers.extend([
        b_customer,
        sub["id"].as_str().unwrap().to_owned(),
        invoice.to_string(),
    ]);
    // ---- end issue 8 billing
    env.add_user(env.tenant.id, "alice", Role::Owner, PASSWORD).await;
    let session = env.login("alice", PASSWORD).await;
    let (a_token, _) = env.api_token(TOKEN, "a-matrix", None).await;

    let (status, doc) = env.send("GET", "/api/v1/openapi.json", None, None, &[]).await;
    assert_eq!(status, 200);
    let mut operations: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_owned(), path.clone()));
            }
        }
    }
    // Destructive and session-ending operations last.
    operations.sort_by_key(|(m, p)| (p.ends_with("/logout"), m == "delete", p.clone(), m.clone()));
    assert!(operations.len() >= 40, "{operations:?}");

    let mut checked = 0;
    for credential in [Credential::Bootstrap, Credential::ApiToken, Credential::Session] {
        for (method, template) in &operations {
            let path = fill(method, template, &b);
            let body = body_for(method, template, &b);
            let mut headers: Vec<(&str, &str)> = Vec::new();
            let token = match credential {
                Credential::Bootstrap => Some(TOKEN),
                Credential::ApiToken => Some(a_token.as_str()),
                Credential::Session => {
                    headers.push(("cookie", &session.cookie));
                    headers.push(("x-csrf-token", &session.csrf));
                    None
                }
            };
            if template == "/api/v1/jobs/{id}" && method == "patch" {
                headers.push(("if-match", "\"1\""));
            }
            let (status, response) = if template.ends_with("/photos") && method == "post" {
                let mut request = Request::post(&path).header("content-type", "image/png");
                if let Some(token) = token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                for (k, v) in &headers {
                    request = request.header(*k, *v);
                }
                let response = env.request(request.body(Body::from(PNG)).unwrap()).await;
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
                (status, value)
            } else {
                env.send(&method.to_uppercase(), &path, token, body, &headers)
                    .await
            };
            let text = response.to_string();
            for marker in &b.markers {
                assert!(
                    !text.contains(marker.as_str()),
                    "{credential:?} {method} {template} leaked B's {marker:?}: {text}"
                );
            }
            if template.contains('{') {
                let credential_in_url =
                    template.ends_with("/audio") || template.starts_with("/api/v1/calendar/");
                if credential_in_url {
                    assert!(
                        matches!(status, 403 | 404),
                        "{credential:?} {method} {template}: {status} {text}"
                    );
                } else {
                    assert_eq!(
                        (status, response["code"].as_str()),
                        (404, Some("not_found")),
                        "{credential:?} {method} {template}: {text}"
                    );
                }
            } else {
                assert!(
                    status < 500 || status == 503,
                    "{credential:?} {method} {template}: {status} {text}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, operations.len() * 3);

    // A mixed merge (A's survivor, B's customer) is refused too.
    let a_customer = env
        .store
        .get_call(env.tenant.id, a_call.id)
        .await
        .unwrap()
        .customer_id
        .unwrap_or_else(callbook_jobs::CustomerId::new);
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/customers/merge",
            Some(TOKEN),
            Some(json!({"survivor_id": a_customer, "merged_id": b.customer})),
            &[],
        )
        .await;
    assert_eq!(status, 404);

    // A sees its own data through the same routes (the matrix is not passing on empty answers).
    let (status, calls) = env.get("/api/v1/calls").await;
    assert_eq!(status, 200);
    assert!(calls.to_string().contains(&a_call.id.to_string()), "{calls}");

    // B is untouched.
    // ---- issue 9 notifications: A's read and read-all did not mark B's notification read
    let (status, inbox) = env
        .send("GET", "/api/v1/notifications", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(inbox["unread"], 1, "{inbox}");
    assert_eq!(inbox["items"][0]["id"], b.notification.as_str(), "{inbox}");
    // ---- end issue 9 notifications
    let (status, job) = env
        .send(
            "GET",
            &format!("/api/v1/jobs/{}", b.job),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (job["version"].as_i64(), job["title"] == "hijack"),
        (Some(1), false),
        "{job}"
    );
    let (_, notes) = env
        .send(
            "GET",
            &format!("/api/v1/jobs/{}/notes", b.job),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(notes.as_array().unwrap().len(), 1, "{notes}");
    let (_, photos) = env
        .send(
            "GET",
            &format!("/api/v1/jobs/{}/photos", b.job),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(photos.as_array().unwrap().len(), 1, "{photos}");
    let (_, call) = env
        .send(
            "GET",
            &format!("/api/v1/calls/{}", b.call),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(call["corrections"], json!([]), "{call}");
    let (_, customer2) = env
        .send(
            "GET",
            &format!("/api/v1/customers/{}", b.customer2),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(customer2["customer"]["merged_into"], Value::Null, "{customer2}");
    let (_, suggestions) = env
        .send(
            "GET",
            "/api/v1/customers/merge-suggestions",
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert!(suggestions.to_string().contains(&b.suggestion), "{suggestions}");
    let (status, _) = env
        .send("GET", "/api/v1/jobs", Some(&b.token_secret), None, &[])
        .await;
    assert_eq!(status, 200, "B's token still works");
    let (_, users) = env
        .send("GET", "/api/v1/users", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(users[0]["login"], "b-only-login");
    assert_eq!(users[0]["role"], "staff");
    let (status, holds) = env
        .send("GET", "/api/v1/legal-holds", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(
        (status, holds.clone()),
        (200, json!([])),
        "A placed no hold on B's call"
    );
    // Routes that take B's ids in the body (not the path) refuse them the same way.
    for (path, body) in [
        ("/api/v1/settings/filtering/block", json!({"call_id": b.call})),
        ("/api/v1/legal-holds", json!({"scope": "call", "call_id": b.call})),
    ] {
        let (status, response) = env.send("POST", path, Some(TOKEN), Some(body), &[]).await;
        assert_eq!(status, 404, "{path}: {response}");
    }
    let lines = env.store.list_phone_lines(env.other.id).await.unwrap();
    assert_eq!(lines.len(), 1);
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "b-only-login", "password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "B's password was not changed");
}

on_every_backend!(matrix);
