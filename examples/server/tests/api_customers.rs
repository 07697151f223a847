//! REST API: customer search, profile with history, merge suggestions, merge and undo — on memory and SQLite.
// The scenario functions run through `on_every_backend!`, outside `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Env, OTHER_TOKEN, TOKEN};
use callbook_jobs::{CustomerInput, PhoneNumber};
use serde_json::json;

async fn search_profile_merge_undo(env: Env) {
    let (call, job) = env.seed_call("CA1").await;
    let maria = job.customer_id.unwrap();
    // Same phone, a different name: a new customer and an open merge suggestion, never a silent merge.
    let found = env
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
        .unwrap();
    let robert = found.customer.id;
    assert_ne!(robert, maria);

    let (status, list) = env.get("/api/v1/customers?q=maria").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Maria Lopez");
    let (_, list) = env.get("/api/v1/customers?q=5552177").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, list) = env.get("/api/v1/customers").await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (status, profile) = env.get(&format!("/api/v1/customers/{maria}")).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["customer"]["phones"], json!(["+19145552177"]));
    assert_eq!(profile["history"]["calls"][0]["id"], call.id.to_string());
    assert_eq!(profile["history"]["jobs"][0]["id"], job.id.to_string());

    let (status, suggestions) = env.get("/api/v1/customers/merge-suggestions").await;
    assert_eq!(status, 200, "{suggestions}");
    assert_eq!(suggestions.as_array().unwrap().len(), 1);
    assert_eq!(suggestions[0]["customer_id"], robert.to_string());
    assert_eq!(suggestions[0]["candidate_id"], maria.to_string());
    assert_eq!(suggestions[0]["reason"]["same_phone"], true);

    let (status, merge) = env
        .send(
            "POST",
            "/api/v1/customers/merge",
            Some(TOKEN),
            Some(json!({"survivor_id": maria, "merged_id": robert})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{merge}");
    assert_eq!(merge["actor"], "system:admin");
    let (_, open) = env.get("/api/v1/customers/merge-suggestions").await;
    assert_eq!(open.as_array().unwrap().len(), 0);
    let (_, accepted) = env
        .get("/api/v1/customers/merge-suggestions?status=accepted")
        .await;
    assert_eq!(accepted.as_array().unwrap().len(), 1);
    let (status, _) = env.get("/api/v1/customers/merge-suggestions?status=maybe").await;
    assert_eq!(status, 422);
    let (_, merged) = env.get(&format!("/api/v1/customers/{robert}")).await;
    assert_eq!(merged["customer"]["merged_into"], maria.to_string());
    let (_, list) = env.get("/api/v1/customers").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "merged customers are not listed"
    );
    // Merging again is an invalid state.
    let (status, body) = env
        .send(
            "POST",
            "/api/v1/customers/merge",
            Some(TOKEN),
            Some(json!({"survivor_id": maria, "merged_id": robert})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")));

    let undo = format!("/api/v1/customers/merges/{}/undo", merge["id"].as_str().unwrap());
    // Another tenant cannot undo it, see the customers, or merge them.
    let (status, _) = env.send("POST", &undo, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);
    for path in [
        format!("/api/v1/customers/{maria}"),
        format!("/api/v1/customers/{robert}"),
    ] {
        let (status, body) = env.send("GET", &path, Some(OTHER_TOKEN), None, &[]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/customers/merge",
            Some(OTHER_TOKEN),
            Some(json!({"survivor_id": robert, "merged_id": maria})),
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = env
        .send("GET", "/api/v1/customers", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    let (_, list) = env
        .send(
            "GET",
            "/api/v1/customers/merge-suggestions?status=all",
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 0);

    let (status, undone) = env.send("POST", &undo, Some(TOKEN), None, &[]).await;
    assert_eq!(status, 200, "{undone}");
    assert!(undone["undone_at"].is_string());
    let (_, again) = env.get(&format!("/api/v1/customers/{robert}")).await;
    assert_eq!(again["customer"]["merged_into"], serde_json::Value::Null);
    let (status, body) = env.send("POST", &undo, Some(TOKEN), None, &[]).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")));
    // The undo reopened the suggestion; dismissing it closes it (not for another tenant).
    let (_, open) = env.get("/api/v1/customers/merge-suggestions").await;
    let dismiss = format!(
        "/api/v1/customers/merge-suggestions/{}/dismiss",
        open[0]["id"].as_str().unwrap()
    );
    let (status, _) = env.send("POST", &dismiss, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);
    let (status, dismissed) = env.send("POST", &dismiss, Some(TOKEN), None, &[]).await;
    assert_eq!((status, dismissed["status"].as_str()), (200, Some("dismissed")));
    let (_, open) = env.get("/api/v1/customers/merge-suggestions").await;
    assert_eq!(open.as_array().unwrap().len(), 0);
    for path in ["/api/v1/customers", "/api/v1/customers/merge-suggestions"] {
        let (status, _) = env.send("GET", path, None, None, &[]).await;
        assert_eq!(status, 401);
    }
}

on_every_backend!(search_profile_merge_undo);
