//! REST API: the OpenAPI document covers every mounted route (and only mounted routes), and the API works over
//! a real socket with a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, TOKEN, audio};
use serde_json::{Value, json};

/// Every route the API must serve (the list), as (method, OpenAPI path).
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/api/v1/calls"),
    ("get", "/api/v1/calls/{id}"),
    ("get", "/api/v1/calls/{id}/audio"),
    ("post", "/api/v1/calls/{id}/retry"),
    ("post", "/api/v1/calls/{id}/corrections"),
    ("post", "/api/v1/calls/{id}/override"),
    ("post", "/api/v1/calls/{id}/not-an-appointment"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("patch", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/move"),
    ("get", "/api/v1/jobs/{id}/notes"),
    ("post", "/api/v1/jobs/{id}/notes"),
    ("get", "/api/v1/jobs/{id}/history"),
    ("get", "/api/v1/jobs/{id}/photos"),
    ("post", "/api/v1/jobs/{id}/photos"),
    ("get", "/api/v1/jobs/{id}/photos/{photo_id}"),
    ("get", "/api/v1/jobs/{id}/calendar.ics"),
    ("get", "/api/v1/calendar-feed"),
    ("get", "/api/v1/calendar/{file}"),
    ("get", "/api/v1/customers"),
    ("get", "/api/v1/customers/{id}"),
    ("get", "/api/v1/customers/merge-suggestions"),
    ("post", "/api/v1/customers/merge-suggestions/{id}/dismiss"),
    ("post", "/api/v1/customers/merge"),
    ("post", "/api/v1/customers/merges/{id}/undo"),
    ("get", "/api/v1/quality"),
    ("get", "/api/v1/usage"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/phone-lines"),
    ("post", "/api/v1/phone-lines"),
    ("get", "/api/v1/phone-lines/available"),
    ("post", "/api/v1/phone-lines/{id}/reconfigure"),
    ("delete", "/api/v1/phone-lines/{id}"),
    // issue 8: accounts
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("post", "/api/v1/users/{id}/password"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    // ---- issue 8 privacy/settings
    ("put", "/api/v1/phone-lines/{id}/credentials"),
    ("delete", "/api/v1/phone-lines/{id}/credentials"),
    ("delete", "/api/v1/customers/{id}"),
    ("delete", "/api/v1/calls/{id}"),
    ("get", "/api/v1/customers/{id}/export"),
    ("get", "/api/v1/export"),
    ("delete", "/api/v1/tenant"),
    ("get", "/api/v1/legal-holds"),
    ("post", "/api/v1/legal-holds"),
    ("delete", "/api/v1/legal-holds/{target}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/settings"),
    ("patch", "/api/v1/settings"),
    ("get", "/api/v1/settings/profile"),
    ("put", "/api/v1/settings/profile"),
    ("get", "/api/v1/settings/notifications/me"),
    ("put", "/api/v1/settings/notifications/me"),
    ("post", "/api/v1/settings/filtering/block"),
    // ---- issue 8 billing
    ("get", "/api/v1/billing"),
    ("post", "/api/v1/billing/subscription"),
    ("delete", "/api/v1/billing/subscription"),
    // ---- issue 9 notifications
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/{id}/read"),
    ("post", "/api/v1/notifications/read-all"),
    // ---- end issue 9 notifications
    // ---- issue 9 review
    ("post", "/api/v1/calls/{id}/review"),
    ("get", "/api/v1/customers/{id}/merges"),
    // ---- end issue 9 review
    // ---- end issue 8 privacy/settings
];

#[tokio::test]
async fn openapi_documents_exactly_the_mounted_routes() {
    let env = Env::new(Backend::Memory).await;
    let (status, doc) = env.send("GET", "/api/v1/openapi.json", None, None, &[]).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // issue 8: browser sessions are documented as an alternative on every bearer route.
    assert_eq!(doc["components"]["securitySchemes"]["session"]["in"], "cookie");
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["name"],
        "callbook_session"
    );
    assert_eq!(
        doc["paths"]["/api/v1/jobs"]["get"]["security"],
        json!([{"bearer": []}, {"session": []}])
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    for (method, path) in EXPECTED {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert_eq!(
        documented.len(),
        EXPECTED.len(),
        "undocumented extras or missing: {documented:?}"
    );

    // Unknown paths under the prefix are problem documents too.
    let (status, body) = env
        .send("GET", "/api/v1/nothing/here", Some(TOKEN), None, &[])
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    // Every documented operation is really routed: the catch-all says `route not found`, the router's 405 has
    // no problem document.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", &uuid_like())
            .replace("{photo_id}", &uuid_like())
            .replace("{target}", &uuid_like())
            .replace("{file}", "x.ics");
        let body = (method != "get").then(|| json!({}));
        let response = env
            .raw(&method.to_uppercase(), &concrete, Some(TOKEN), body, &[])
            .await;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let unrouted = String::from_utf8_lossy(&bytes).contains("route not found");
        assert!(
            status != 405 && !unrouted,
            "{method} {path} is documented but not routed ({status})"
        );
        // Each operation declares its responses.
        let op = &paths[path.as_str()][method.as_str()];
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_bearer_route_is_401_without_a_valid_token() {
    let env = Env::new(Backend::Memory).await;
    let (_, doc) = env.send("GET", "/api/v1/openapi.json", None, None, &[]).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let bearer = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            let concrete = path
                .replace("{id}", &uuid_like())
                .replace("{photo_id}", &uuid_like())
                .replace("{target}", &uuid_like());
            let body = (method != "get").then(|| json!({}));
            for token in [None, Some("not-the-token-not-the-token")] {
                let (status, problem) = env
                    .send(&method.to_uppercase(), &concrete, token, body.clone(), &[])
                    .await;
                if bearer {
                    assert_eq!(
                        (status, problem["code"].as_str()),
                        (401, Some("unauthorized")),
                        "{method} {path}"
                    );
                } else if path == "/api/v1/auth/login" {
                    // The login is how a credential is obtained: an empty body is invalid, never a session.
                    assert!(matches!(status, 401 | 422), "{method} {path}: {status}");
                } else {
                    // The signed audio link and the calendar feed carry their credential in the URL.
                    assert!(
                        path.ends_with("/audio") || path.starts_with("/api/v1/calendar/"),
                        "{method} {path} has no bearer security"
                    );
                    assert!(matches!(status, 403 | 404), "{method} {path}: {status}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, EXPECTED.len());
}

fn uuid_like() -> String {
    callbook_jobs::JobId::new().to_string()
}

#[tokio::test]
async fn works_over_a_real_socket() {
    let env = Env::new(Backend::Sqlite).await;
    let (call, job) = env.seed_call("CA1").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = env.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let response = client.get(format!("{base}/api/v1/jobs")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/problem+json");

    let detail: Value = client
        .get(format!("{base}/api/v1/calls/{}", call.id))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{base}{}", detail["playback"]["url"].as_str().unwrap());
    let full = client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.bytes().await.unwrap(), audio());
    let part = client
        .get(&url)
        .header("range", "bytes=9000-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 9000-9999/10000");
    assert_eq!(part.bytes().await.unwrap(), audio().slice(9000..));

    let patched = client
        .patch(format!("{base}/api/v1/jobs/{}", job.id))
        .bearer_auth(TOKEN)
        .header("if-match", "\"1\"")
        .json(&json!({"urgency": "emergency"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.headers()["etag"], "\"2\"");
    let body: Value = patched.json().await.unwrap();
    assert_eq!(body["urgency"], "emergency");
    server.abort();
}
