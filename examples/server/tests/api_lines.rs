//! Phone lines through the REST API: numbers bought get exactly Callbook's webhook URLs, route the tenant's
//! calls, and fail with defined problems — against the in-memory fake and, over real HTTP, against the Twilio
//! REST client talking to the local Twilio mock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::sync::Arc;

use api_common::{Backend, Env, OTHER_TOKEN, TOKEN};
use callbook_jobs::{NewPhoneLine, PhoneNumber, WebhookMode};
use callbook_server::api;
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::{HttpMethod, OwnedNumber, Telephony, TelephonyExt, WebhookConfig};
use callbook_telephony::testing::twilio_api::{Fault, MockTwilioApi};
use callbook_telephony::twilio::TwilioTelephonyBuilder;
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://hooks.example.com";
const NUMBER: &str = "+14155550100";
const AUTH_TOKEN: &str = "mock-twilio-auth-token-0123456789";

/// The environment's API with `telephony` and the public URL `public_url`.
fn with_telephony(env: Env, telephony: Arc<dyn Telephony>, public_url: &str) -> Env {
    let state = env
        .state
        .clone()
        .with_telephony(telephony)
        .with_public_url(public_url);
    let app = api::router(state.clone());
    Env { app, state, ..env }
}

async fn owned(telephony: &dyn Telephony, number: &str) -> Option<OwnedNumber> {
    telephony
        .find_owned_number(&number.parse().unwrap())
        .await
        .unwrap()
}

fn assert_callbook_webhooks(webhooks: &WebhookConfig, base: &str) {
    assert_eq!(
        webhooks.voice_url.as_deref(),
        Some(format!("{base}/webhooks/twilio/voice").as_str())
    );
    assert_eq!(webhooks.voice_method, HttpMethod::Post);
    assert_eq!(
        webhooks.status_callback.as_deref(),
        Some(format!("{base}/webhooks/twilio/status").as_str())
    );
    assert_eq!(webhooks.status_callback_method, HttpMethod::Post);
}

async fn buy(env: &Env, body: Value) -> (u16, Value) {
    env.send("POST", "/api/v1/phone-lines", Some(TOKEN), Some(body), &[])
        .await
}

// ------------------------------------------------------------------------------------------- every backend

async fn buying_configures_the_webhooks_and_routes_the_tenant(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);

    let (status, found) = env
        .get("/api/v1/phone-lines/available?country=US&area_code=415&contains=0100")
        .await;
    assert_eq!(status, 200, "{found}");
    let numbers: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["phone_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [NUMBER]);
    assert_eq!(found[0]["locality"], "San Francisco");

    let (status, line) = buy(&env, json!({"phone_number": NUMBER})).await;
    assert_eq!(status, 201, "{line}");
    assert_eq!(line["phone_number"], NUMBER);
    assert_eq!(line["mode"], "record");
    assert_eq!(
        line["webhooks"]["voice_url"],
        format!("{PUBLIC_URL}/webhooks/twilio/voice")
    );
    assert_eq!(
        line["webhooks"]["status_callback"],
        format!("{PUBLIC_URL}/webhooks/twilio/status")
    );

    let at_provider = owned(&fake, NUMBER).await.expect("the number was bought");
    assert_callbook_webhooks(&at_provider.webhooks, PUBLIC_URL);
    assert_eq!(line["provider_number_id"], at_provider.sid.as_str());

    let routed = env
        .store
        .route_phone_line("twilio", &PhoneNumber::parse(NUMBER).unwrap())
        .await
        .unwrap()
        .expect("the line routes");
    assert_eq!(routed.tenant_id, env.tenant.id);
    assert_eq!(routed.provider_account_id, fake.account_sid().as_str());
    assert_eq!(
        routed.provider_number_id.as_deref(),
        Some(at_provider.sid.as_str())
    );
    assert_eq!(routed.webhook_mode, WebhookMode::Record);
    assert_eq!(line["id"], routed.id.to_string());

    let (status, list) = env.get("/api/v1/phone-lines").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], line["id"]);
    assert!(list[0].get("webhooks").is_none());
}

async fn forward_mode_is_stored_where_the_voice_webhook_reads_it(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    let (status, line) = buy(
        &env,
        json!({"phone_number": NUMBER, "mode": "forward", "forward_to": "+14155550199"}),
    )
    .await;
    assert_eq!(status, 201, "{line}");
    assert_eq!(
        (line["mode"].as_str(), line["forward_to"].as_str()),
        (Some("forward"), Some("+14155550199"))
    );

    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    assert_eq!(
        tenant.settings["voice"]["lines"][NUMBER]["forward_to"],
        "+14155550199"
    );
    let routed = env
        .store
        .route_phone_line("twilio", &PhoneNumber::parse(NUMBER).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(routed.webhook_mode, WebhookMode::DialRecord);
    let twiml =
        callbook_server::webhooks::voice_twiml(&tenant.settings, &tenant.name, Some(&routed), PUBLIC_URL);
    assert!(
        twiml.contains("<Dial") && twiml.contains("+14155550199"),
        "{twiml}"
    );

    // A record line of the same tenant answers with voicemail even though forwarding exists elsewhere.
    let (status, _) = buy(&env, json!({"phone_number": "+14155550101", "mode": "record"})).await;
    assert_eq!(status, 201);
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    let record_line = env
        .store
        .route_phone_line("twilio", &PhoneNumber::parse("+14155550101").unwrap())
        .await
        .unwrap()
        .unwrap();
    let twiml = callbook_server::webhooks::voice_twiml(
        &tenant.settings,
        &tenant.name,
        Some(&record_line),
        PUBLIC_URL,
    );
    assert!(twiml.contains("<Record") && !twiml.contains("<Dial"), "{twiml}");
    // The forward line kept its setting.
    assert_eq!(
        tenant.settings["voice"]["lines"][NUMBER]["forward_to"],
        "+14155550199"
    );
}

async fn an_unavailable_number_is_409_and_nothing_is_stored(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    let (status, problem) = buy(&env, json!({"phone_number": "+14155559999"})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "number_unavailable");
    assert!(
        !problem.to_string().contains("5559999"),
        "no number echoed: {problem}"
    );
    assert!(
        env.store
            .list_phone_lines(env.tenant.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Bought once, the same number is gone for the other tenant too (and not bought twice).
    assert_eq!(buy(&env, json!({"phone_number": NUMBER})).await.0, 201);
    let (status, problem) = env
        .send(
            "POST",
            "/api/v1/phone-lines",
            Some(OTHER_TOKEN),
            Some(json!({"phone_number": NUMBER})),
            &[],
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("number_unavailable"))
    );
    assert_eq!(fake.list_all_numbers().await.unwrap().len(), 1);
}

async fn another_tenants_line_is_404(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    let (_, line) = buy(&env, json!({"phone_number": NUMBER})).await;
    let id = line["id"].as_str().unwrap();
    for (method, path) in [
        ("POST", format!("/api/v1/phone-lines/{id}/reconfigure")),
        ("DELETE", format!("/api/v1/phone-lines/{id}")),
    ] {
        let (status, problem) = env.send(method, &path, Some(OTHER_TOKEN), None, &[]).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    let (status, list) = env
        .send("GET", "/api/v1/phone-lines", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!((status, list), (200, json!([])));
    assert!(owned(&fake, NUMBER).await.is_some(), "still owned");
    let (status, _) = env
        .send("DELETE", "/api/v1/phone-lines/not-an-id", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 404);
}

async fn reconfigure_applies_the_current_public_url(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    let (_, line) = buy(&env, json!({"phone_number": NUMBER})).await;
    let id = line["id"].as_str().unwrap().to_owned();

    // CALLBOOK_PUBLIC_URL changed (a new tunnel, a new domain).
    let moved = "https://new.example.org/";
    let env = with_telephony(env, Arc::new(fake.clone()), moved);
    let (status, again) = env
        .send(
            "POST",
            &format!("/api/v1/phone-lines/{id}/reconfigure"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["webhooks"]["voice_url"],
        "https://new.example.org/webhooks/twilio/voice"
    );
    assert_callbook_webhooks(
        &owned(&fake, NUMBER).await.unwrap().webhooks,
        "https://new.example.org",
    );

    // A line registered on first sight (no provider id stored) is found at the provider by its number.
    let seen = fake.add_owned_number("+14155550142".parse().unwrap(), WebhookConfig::default());
    let line = env
        .store
        .add_phone_line(
            env.tenant.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: PhoneNumber::parse("+14155550142").unwrap(),
                provider_account_id: fake.account_sid().as_str().to_owned(),
                provider_number_id: None,
                credentials: None,
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/phone-lines/{}/reconfigure", line.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider_number_id"], seen.sid.as_str());
    assert_callbook_webhooks(
        &owned(&fake, "+14155550142").await.unwrap().webhooks,
        "https://new.example.org",
    );
}

async fn release_gives_the_number_back_and_hides_the_line(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    let (_, line) = buy(
        &env,
        json!({"phone_number": NUMBER, "mode": "forward", "forward_to": "+14155550199"}),
    )
    .await;
    let id = line["id"].as_str().unwrap().to_owned();

    let (status, body) = env
        .send(
            "DELETE",
            &format!("/api/v1/phone-lines/{id}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert!(owned(&fake, NUMBER).await.is_none(), "released at the provider");
    assert_eq!(env.get("/api/v1/phone-lines").await.1, json!([]));
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/phone-lines/{id}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404, "a released line is gone");
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    assert!(tenant.settings["phone_lines"]["released"][&id].is_string());
    // The line's row and its voice overrides are gone (issue 8: `remove_phone_line`).
    assert!(tenant.settings["voice"]["lines"][NUMBER].is_null());
    assert!(
        env.store
            .route_phone_line("twilio", &PhoneNumber::parse(NUMBER).unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // The same tenant can buy it back: a new line, the webhooks set again.
    let (status, again) = buy(&env, json!({"phone_number": NUMBER})).await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["id"], json!(id));
    assert_callbook_webhooks(&owned(&fake, NUMBER).await.unwrap().webhooks, PUBLIC_URL);
    assert_eq!(
        env.get("/api/v1/phone-lines").await.1.as_array().unwrap().len(),
        1
    );
    // Released again (the new line).
    let new_id = again["id"].as_str().unwrap().to_owned();
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/phone-lines/{new_id}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        owned(&fake, NUMBER).await.is_none(),
        "released at the provider again"
    );
}

async fn the_bootstrap_marker_line_is_hidden(env: Env) {
    let env = with_telephony(env, Arc::new(FakeTelephony::new()), PUBLIC_URL);
    let marker = env
        .store
        .add_phone_line(
            env.tenant.id,
            NewPhoneLine {
                provider: "callbook-bootstrap".into(),
                number: PhoneNumber::parse("+10000000000").unwrap(),
                provider_account_id: "AC0".into(),
                provider_number_id: None,
                credentials: None,
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    assert_eq!(env.get("/api/v1/phone-lines").await.1, json!([]));
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/phone-lines/{}", marker.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);
}

async fn bad_requests_are_422_and_buy_nothing(env: Env) {
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), PUBLIC_URL);
    for (body, field) in [
        (json!({"phone_number": "4155550100"}), "phone_number"),
        (json!({"phone_number": NUMBER, "mode": "forward"}), "forward_to"),
        (
            json!({"phone_number": NUMBER, "mode": "forward", "forward_to": "call me"}),
            "forward_to",
        ),
        (
            json!({"phone_number": NUMBER, "forward_to": "+14155550199"}),
            "forward_to",
        ),
    ] {
        let (status, problem) = buy(&env, body.clone()).await;
        assert_eq!(status, 422, "{body} → {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, problem) = buy(&env, json!({"phone_number": NUMBER, "mode": "ring"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );
    for query in ["kind=landline", "country=USA", "area_code=12", "contains=5%25"] {
        let (status, problem) = env.get(&format!("/api/v1/phone-lines/available?{query}")).await;
        assert_eq!(status, 422, "{query} → {problem}");
    }
    assert!(fake.list_all_numbers().await.unwrap().is_empty());
    assert!(
        env.store
            .list_phone_lines(env.tenant.id)
            .await
            .unwrap()
            .is_empty()
    );
}

on_every_backend!(
    buying_configures_the_webhooks_and_routes_the_tenant,
    forward_mode_is_stored_where_the_voice_webhook_reads_it,
    an_unavailable_number_is_409_and_nothing_is_stored,
    another_tenants_line_is_404,
    reconfigure_applies_the_current_public_url,
    release_gives_the_number_back_and_hides_the_line,
    the_bootstrap_marker_line_is_hidden,
    bad_requests_are_422_and_buy_nothing,
);

// ------------------------------------------------------------------------------------------ other cases

#[tokio::test]
async fn without_a_token_every_line_route_is_401() {
    let env = with_telephony(
        Env::new(Backend::Memory).await,
        Arc::new(FakeTelephony::new()),
        PUBLIC_URL,
    );
    for (method, path) in [
        ("GET", "/api/v1/phone-lines"),
        ("GET", "/api/v1/phone-lines/available"),
        ("POST", "/api/v1/phone-lines"),
        ("POST", "/api/v1/phone-lines/x/reconfigure"),
        ("DELETE", "/api/v1/phone-lines/x"),
    ] {
        let (status, problem) = env
            .send(method, path, None, Some(json!({"phone_number": NUMBER})), &[])
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (401, Some("unauthorized")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn without_telephony_the_provider_routes_are_503_and_listing_works() {
    let env = Env::new(Backend::Memory).await;
    let (status, problem) = env.get("/api/v1/phone-lines/available").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("telephony_unavailable"))
    );
    let (status, problem) = buy(&env, json!({"phone_number": NUMBER})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("telephony_unavailable"))
    );
    assert_eq!(env.get("/api/v1/phone-lines").await, (200, json!([])));

    // Telephony but no absolute public URL: nothing is bought with webhooks pointing nowhere.
    let fake = FakeTelephony::new();
    let env = with_telephony(env, Arc::new(fake.clone()), "");
    let (status, problem) = buy(&env, json!({"phone_number": NUMBER})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("public_url_missing"))
    );
    assert!(fake.list_all_numbers().await.unwrap().is_empty());
}

#[tokio::test]
async fn openapi_lists_the_phone_line_paths() {
    let env = Env::new(Backend::Memory).await;
    let (status, doc) = env.send("GET", "/api/v1/openapi.json", None, None, &[]).await;
    assert_eq!(status, 200);
    for (method, path) in [
        ("get", "/api/v1/phone-lines"),
        ("post", "/api/v1/phone-lines"),
        ("get", "/api/v1/phone-lines/available"),
        ("post", "/api/v1/phone-lines/{id}/reconfigure"),
        ("delete", "/api/v1/phone-lines/{id}"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["security"][0]["bearer"], json!([]), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["BuyLine"].is_object());
    assert!(doc["components"]["schemas"]["LineView"].is_object());
}

// --------------------------------------------------------------------------------- Twilio over real HTTP

async fn twilio(mock: &MockTwilioApi) -> Arc<dyn Telephony> {
    Arc::new(
        TwilioTelephonyBuilder::new()
            .with_account_sid(mock.fake().account_sid().as_str())
            .with_auth_token(AUTH_TOKEN)
            .with_base_url(mock.base_url())
            .with_max_rate_limit_retries(0)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn twilio_purchase_sends_the_webhooks_in_the_one_purchase_request() {
    let mock = MockTwilioApi::start(FakeTelephony::new(), AUTH_TOKEN)
        .await
        .unwrap();
    let env = with_telephony(Env::new(Backend::Sqlite).await, twilio(&mock).await, PUBLIC_URL);

    let (status, found) = env
        .get("/api/v1/phone-lines/available?area_code=212&limit=3")
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 3);
    assert!(found[0]["phone_number"].as_str().unwrap().starts_with("+1212"));
    let number = found[0]["phone_number"].as_str().unwrap().to_owned();

    let before = mock.requests().len();
    let (status, line) = buy(&env, json!({"phone_number": number})).await;
    assert_eq!(status, 201, "{line}");
    let sent: Vec<_> = mock.requests()[before..]
        .iter()
        .map(|r| (r.method.clone(), r.path_and_query.clone(), r.authenticated))
        .collect();
    let account = mock.fake().account_sid();
    assert_eq!(
        sent,
        [(
            "POST".to_owned(),
            format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json"),
            true
        )],
        "exactly one purchase request, webhooks included"
    );
    let at_provider = owned(mock.fake(), &number).await.unwrap();
    assert_callbook_webhooks(&at_provider.webhooks, PUBLIC_URL);
    assert_eq!(line["provider_number_id"], at_provider.sid.as_str());
    let routed = env
        .store
        .route_phone_line("twilio", &PhoneNumber::parse(&number).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(routed.tenant_id, env.tenant.id);

    // Reconfigure posts to the number's own resource; release deletes it.
    let id = line["id"].as_str().unwrap().to_owned();
    let env = with_telephony(env, twilio(&mock).await, "https://moved.example.com");
    let before = mock.requests().len();
    let (status, _) = env
        .send(
            "POST",
            &format!("/api/v1/phone-lines/{id}/reconfigure"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let sid = at_provider.sid.as_str();
    assert_eq!(
        mock.requests()[before..]
            .iter()
            .map(|r| (r.method.as_str(), r.path_and_query.as_str()))
            .collect::<Vec<_>>(),
        [(
            "POST",
            format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{sid}.json").as_str()
        )]
    );
    assert_callbook_webhooks(
        &owned(mock.fake(), &number).await.unwrap().webhooks,
        "https://moved.example.com",
    );
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/phone-lines/{id}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert!(owned(mock.fake(), &number).await.is_none());
}

#[tokio::test]
async fn twilio_errors_become_problems() {
    let mock = MockTwilioApi::start(FakeTelephony::new(), AUTH_TOKEN)
        .await
        .unwrap();
    let env = with_telephony(Env::new(Backend::Memory).await, twilio(&mock).await, PUBLIC_URL);

    // Twilio 21422 (not available) from the real client.
    let (status, problem) = buy(&env, json!({"phone_number": "+14155559999"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("number_unavailable")),
        "{problem}"
    );

    // A load balancer's HTML 502 in front of Twilio.
    for _ in 0..4 {
        mock.push_fault(Fault::html_bad_gateway());
    }
    let (status, problem) = buy(&env, json!({"phone_number": NUMBER})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (502, Some("provider_unavailable")),
        "{problem}"
    );
    assert!(
        env.store
            .list_phone_lines(env.tenant.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Wrong credentials: a provider error, not an outage.
    let bad: Arc<dyn Telephony> = Arc::new(
        TwilioTelephonyBuilder::new()
            .with_account_sid(mock.fake().account_sid().as_str())
            .with_auth_token("not-the-token-0123456789")
            .with_base_url(mock.base_url())
            .build()
            .unwrap(),
    );
    let env = with_telephony(env, bad, PUBLIC_URL);
    let (status, problem) = env.get("/api/v1/phone-lines/available").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (502, Some("provider_error")),
        "{problem}"
    );
}
