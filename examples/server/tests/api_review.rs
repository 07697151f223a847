//! Issue 9 review follow-up: `POST /calls/{id}/review` (finishing a person's review: `needs_review` → `done` or
//! `no_appointment`, `409 invalid_state` from any other state, staff and up, audited, live event, tenant
//! isolation) and `GET /customers/{id}/merges` (the merges into a customer that can still be undone).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Backend, Env, OTHER_TOKEN, TOKEN};
use callbook_jobs::{Call, CallState, CustomerInput, Page, PhoneNumber, Role, Tenant};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

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
    review_moves_a_needs_review_call_to_done_once,
    review_of_a_call_marked_not_an_appointment_ends_as_no_appointment,
    review_is_refused_outside_needs_review_and_for_bad_bodies,
    review_is_for_staff_and_up_with_a_session_and_csrf,
    review_of_another_tenants_call_is_not_found,
    merges_lists_undoable_merges_newest_first,
);

/// A call of `tenant` with audio, transcript, extraction and a booked job, finished by the worker as
/// `needs_review`.
async fn needs_review(env: &Env, tenant: &Tenant, sid: &str) -> Call {
    let (call, _) = env.seed_call_for(tenant, sid, "Maria Lopez").await;
    env.store.requeue_call(tenant.id, call.id).await.unwrap();
    let now = callbook_jobs::now();
    let lease = env
        .store
        .claim_calls("test", now, std::time::Duration::from_secs(60), 10, 8)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == call.id)
        .unwrap()
        .lease()
        .unwrap();
    env.store
        .finish_call(tenant.id, call.id, &lease, now, CallState::NeedsReview)
        .await
        .unwrap()
}

async fn review(env: &Env, token: &str, call: &Call, body: Value) -> (u16, Value) {
    env.send(
        "POST",
        &format!("/api/v1/calls/{}/review", call.id),
        Some(token),
        Some(body),
        &[],
    )
    .await
}

async fn state_of(env: &Env, tenant: &Tenant, call: &Call) -> CallState {
    env.store
        .get_call(tenant.id, call.id)
        .await
        .unwrap()
        .processing
        .state
}

async fn review_moves_a_needs_review_call_to_done_once(backend: Backend) {
    let (env, events) = Env::new(backend).await.recording_events();
    let tenant = env.tenant.clone();
    let call = needs_review(&env, &tenant, "CA-R1").await;
    let (_, listed) = env.get("/api/v1/calls?state=needs_review").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let (status, result) = review(&env, TOKEN, &call, json!({"outcome": "approved"})).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["call"]["id"], json!(call.id.to_string()));
    assert_eq!(result["call"]["processing"]["state"], json!("done"));
    assert_eq!(result["correction"]["field"], json!("review"));
    assert_eq!(result["correction"]["before"], json!("needs_review"));
    assert_eq!(result["correction"]["after"], json!("done"));
    assert_eq!(state_of(&env, &tenant, &call).await, CallState::Done);

    // The Needs-review list is empty; the detail shows the new state and the correction.
    let (_, listed) = env.get("/api/v1/calls?state=needs_review").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    let (_, detail) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(detail["state"], json!("done"));
    assert_eq!(
        detail["corrections"].as_array().unwrap().last().unwrap()["field"],
        json!("review")
    );

    // Audited (ids only) and published live.
    let audit = env.store.list_audit(tenant.id, Page::default()).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "call.reviewed")
        .expect("an audit entry");
    assert_eq!(entry.entity, "call");
    assert_eq!(entry.entity_id, call.id.to_string());
    assert_eq!(entry.details, json!({"state": "done"}));
    assert_eq!(
        events
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, _)| kind == "call.finished")
            .count(),
        1
    );

    // A second review is a conflict and writes nothing more.
    let (status, problem) = review(&env, TOKEN, &call, json!({"outcome": "approved"})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], json!("invalid_state"));
    let corrections = env.store.list_corrections(tenant.id, call.id).await.unwrap();
    assert_eq!(corrections.iter().filter(|c| c.field == "review").count(), 1);
}

async fn review_of_a_call_marked_not_an_appointment_ends_as_no_appointment(backend: Backend) {
    let env = Env::new(backend).await;
    let tenant = env.tenant.clone();
    let call = needs_review(&env, &tenant, "CA-R2").await;
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/not-an-appointment", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    // Marking it does not end the review by itself.
    assert_eq!(state_of(&env, &tenant, &call).await, CallState::NeedsReview);
    let (status, result) = review(&env, TOKEN, &call, json!({"outcome": "approved"})).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["call"]["processing"]["state"], json!("no_appointment"));
    assert_eq!(state_of(&env, &tenant, &call).await, CallState::NoAppointment);

    // An override after "not an appointment" wins: the call is done.
    let second = needs_review(&env, &tenant, "CA-R3").await;
    for path in ["not-an-appointment", "override"] {
        let body = (path == "override").then(api_common::extraction_doc);
        let (status, out) = env
            .send(
                "POST",
                &format!("/api/v1/calls/{}/{path}", second.id),
                Some(TOKEN),
                body,
                &[],
            )
            .await;
        assert_eq!(status, 200, "{path}: {out}");
    }
    let (status, result) = review(&env, TOKEN, &second, json!({"outcome": "approved"})).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["call"]["processing"]["state"], json!("done"));

    // An explicit `no_appointment` outcome.
    let third = needs_review(&env, &tenant, "CA-R4").await;
    let (status, result) = review(&env, TOKEN, &third, json!({"outcome": "no_appointment"})).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["call"]["processing"]["state"], json!("no_appointment"));
    assert_eq!(result["correction"]["after"], json!("no_appointment"));
}

async fn review_is_refused_outside_needs_review_and_for_bad_bodies(backend: Backend) {
    let env = Env::new(backend).await;
    let tenant = env.tenant.clone();
    // Done (the worker finished it), queued (requeued), dead.
    let (done, _) = env.seed_call("CA-D1").await;
    let (status, problem) = review(&env, TOKEN, &done, json!({"outcome": "approved"})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], json!("invalid_state"));
    assert!(problem["detail"].as_str().unwrap().contains("done"), "{problem}");
    let (queued, _) = env.seed_call("CA-Q1").await;
    env.store.requeue_call(tenant.id, queued.id).await.unwrap();
    let (status, _) = review(&env, TOKEN, &queued, json!({"outcome": "approved"})).await;
    assert_eq!(status, 409);
    assert_eq!(state_of(&env, &tenant, &queued).await, CallState::Queued);

    // Bad bodies change nothing.
    let call = needs_review(&env, &tenant, "CA-B1").await;
    for body in [
        json!({"outcome": "done"}),
        json!({"outcome": "approved", "extra": 1}),
        json!({}),
    ] {
        let (status, problem) = review(&env, TOKEN, &call, body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
    }
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/review", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 415);
    assert_eq!(state_of(&env, &tenant, &call).await, CallState::NeedsReview);
    // Unknown and malformed ids are 404.
    for id in ["not-a-call", &callbook_jobs::CallId::new().to_string()] {
        let (status, _) = env
            .send(
                "POST",
                &format!("/api/v1/calls/{id}/review"),
                Some(TOKEN),
                Some(json!({"outcome": "approved"})),
                &[],
            )
            .await;
        assert_eq!(status, 404, "{id}");
    }
    // No credential: 401.
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/calls/{}/review", call.id),
            None,
            Some(json!({"outcome": "approved"})),
            &[],
        )
        .await;
    assert_eq!(status, 401);
}

async fn review_is_for_staff_and_up_with_a_session_and_csrf(backend: Backend) {
    let env = Env::new(backend).await.relaxed_logins();
    let tenant = env.tenant.clone();
    env.add_user(tenant.id, "sam", Role::Staff, PASSWORD).await;
    let staff = env.login("sam", PASSWORD).await;
    let call = needs_review(&env, &tenant, "CA-S1").await;
    let path = format!("/api/v1/calls/{}/review", call.id);
    // A session write without the CSRF token is refused and changes nothing.
    let (status, _) = env
        .as_session(&staff, "POST", &path, Some(json!({"outcome": "approved"})), false)
        .await;
    assert_eq!(status, 403);
    assert_eq!(state_of(&env, &tenant, &call).await, CallState::NeedsReview);
    let (status, result) = env
        .as_session(&staff, "POST", &path, Some(json!({"outcome": "approved"})), true)
        .await;
    assert_eq!(status, 200, "{result}");
    let corrections = env.store.list_corrections(tenant.id, call.id).await.unwrap();
    let user = env
        .store
        .find_user_by_login(tenant.id, "sam")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(corrections.last().unwrap().user_id, Some(user.id));
    // A staff API token works too.
    let (token, _) = env.api_token(TOKEN, "staff-token", Some("staff")).await;
    let next = needs_review(&env, &tenant, "CA-S2").await;
    let (status, _) = review(&env, &token, &next, json!({"outcome": "approved"})).await;
    assert_eq!(status, 200);
}

async fn review_of_another_tenants_call_is_not_found(backend: Backend) {
    let env = Env::new(backend).await;
    let other = env.other.clone();
    let theirs = needs_review(&env, &other, "CB-1").await;
    let (status, problem) = review(&env, TOKEN, &theirs, json!({"outcome": "approved"})).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(state_of(&env, &other, &theirs).await, CallState::NeedsReview);
    assert!(
        env.store
            .list_corrections(other.id, theirs.id)
            .await
            .unwrap()
            .iter()
            .all(|c| c.field != "review")
    );
    // Their own token works.
    let (status, _) = review(&env, OTHER_TOKEN, &theirs, json!({"outcome": "approved"})).await;
    assert_eq!(status, 200);
}

async fn merges_lists_undoable_merges_newest_first(backend: Backend) {
    let env = Env::new(backend).await.relaxed_logins();
    let t = env.tenant.id;
    let named = |name: &str, phone: &str| CustomerInput {
        name: Some(name.into()),
        phone: Some(PhoneNumber::parse(phone).unwrap()),
        ..CustomerInput::default()
    };
    let maria = env
        .store
        .create_customer(t, named("Maria Lopez", "+19145552177"))
        .await
        .unwrap();
    let robert = env
        .store
        .create_customer(t, named("Robert <b>Smith</b>", "+19145552178"))
        .await
        .unwrap();
    let anna = env
        .store
        .create_customer(t, named("Anna Lopez", "+19145552179"))
        .await
        .unwrap();
    let path = format!("/api/v1/customers/{}/merges", maria.id);
    let (status, listed) = env.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!([]));

    // One merge by a signed-in user, one by the admin token.
    env.add_user(t, "olga", Role::Staff, PASSWORD).await;
    let olga = env.login("olga", PASSWORD).await;
    let (status, first) = env
        .as_session(
            &olga,
            "POST",
            "/api/v1/customers/merge",
            Some(json!({"survivor_id": maria.id, "merged_id": robert.id})),
            true,
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = env
        .send(
            "POST",
            "/api/v1/customers/merge",
            Some(TOKEN),
            Some(json!({"survivor_id": maria.id, "merged_id": anna.id})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{second}");

    let (status, listed) = env.get(&path).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    // Newest first (ties by id, descending).
    let ids: Vec<&str> = listed.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let mut expected = [first.clone(), second.clone()];
    expected.sort_by(|a, b| {
        (b["created_at"].as_str(), b["id"].as_str()).cmp(&(a["created_at"].as_str(), a["id"].as_str()))
    });
    assert_eq!(
        ids,
        expected
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    let by_olga = listed.iter().find(|m| m["id"] == first["id"]).unwrap();
    assert_eq!(by_olga["merged_id"], json!(robert.id.to_string()));
    assert_eq!(by_olga["merged_name"], json!("Robert <b>Smith</b>"));
    assert_eq!(by_olga["actor_login"], json!("olga"));
    assert!(by_olga["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(by_olga["created_at"], first["created_at"]);
    let by_token = listed.iter().find(|m| m["id"] == second["id"]).unwrap();
    assert_eq!(by_token["merged_name"], json!("Anna Lopez"));
    assert_eq!(by_token["actor_login"], Value::Null);

    // The merged customer has nothing merged into it; an undone merge drops out.
    let (status, listed) = env.get(&format!("/api/v1/customers/{}/merges", robert.id)).await;
    assert_eq!((status, listed), (200, json!([])));
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/customers/merges/{}/undo", first["id"].as_str().unwrap()),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let (_, listed) = env.get(&path).await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect::<Vec<_>>(),
        vec![second["id"].clone()]
    );

    // Another tenant's customer, an unknown id and a malformed one are 404; staff may list.
    let (status, _) = env.send("GET", &path, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);
    for id in ["nope".to_owned(), callbook_jobs::CustomerId::new().to_string()] {
        let (status, _) = env.get(&format!("/api/v1/customers/{id}/merges")).await;
        assert_eq!(status, 404, "{id}");
    }
    let (status, listed) = env.as_session(&olga, "GET", &path, None, false).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
