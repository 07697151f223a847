//! Billing in the server (issue 8): `GET /billing`, the owner's subscription, `POST /webhooks/stripe` and the
//! periodic usage report, end to end against both providers — the real Stripe backend talking HTTP to
//! `MockStripe` (Stripe's JSON, errors and idempotency rules) and the in-memory `FakeBilling` — on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::sync::Arc;

use api_common::{Backend, Env, OTHER_TOKEN, TOKEN};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use callbook_billing::fake::FakeBilling;
use callbook_billing::testing::mock_stripe::{Fault, MockStripe};
use callbook_billing::{BillingProvider, SubscriptionStatus, WebhookVerifier, report_usage_totals};
use callbook_jobs::{Actor, Page, Role};
use callbook_server::api::{self, Authenticator, Principal};
use chrono::Utc;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const STAFF: &str = "test-staff-token-0123456789abcdef";
const ADMIN: &str = "test-adminrole-token-0123456789ab";
const SECRET_KEY: &str = "sk_test_callbook_server_0123456789";
const WEBHOOK_SECRET: &str = "whsec_callbook_server_test_secret";
const PRICE: &str = "price_callbook_test";
const EVENT_NAME: &str = "callbook_calls";

/// The api_common tokens plus a staff and an admin (not owner) token of the first tenant.
#[derive(Debug)]
struct Tokens {
    inner: Arc<dyn Authenticator>,
    tenant: callbook_jobs::TenantId,
}

#[async_trait]
impl Authenticator for Tokens {
    async fn authenticate(&self, token: &str) -> Option<Principal> {
        let principal = |role| Principal {
            tenant: self.tenant,
            actor: Actor::System("test".into()),
            role,
            user: None,
        };
        match token {
            STAFF => Some(principal(Role::Staff)),
            ADMIN => Some(principal(Role::Admin)),
            _ => self.inner.authenticate(token).await,
        }
    }
}

/// The provider under test, with the handles to look behind it.
enum Kind {
    Fake(FakeBilling),
    Stripe(MockStripe),
}

struct Billing {
    provider: Arc<dyn BillingProvider>,
    kind: Kind,
}

impl Billing {
    async fn fake() -> Billing {
        let fake = FakeBilling::new()
            .with_default_price(PRICE)
            .with_meter("calls", EVENT_NAME);
        Billing {
            provider: Arc::new(fake.clone()),
            kind: Kind::Fake(fake),
        }
    }

    /// The server's own provider selection, pointed at the mock.
    async fn stripe() -> Billing {
        let mock = MockStripe::start(SECRET_KEY).await.unwrap();
        mock.add_price(PRICE);
        let base = mock.base_url();
        let (provider, line) = callbook_server::billing::provider_from_lookup(|k| match k {
            "STRIPE_SECRET_KEY" => Some(SECRET_KEY.into()),
            "STRIPE_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.into()),
            "STRIPE_API_BASE" => Some(base.clone()),
            "STRIPE_PRICE_ID" => Some(PRICE.into()),
            "STRIPE_METER_EVENT_NAME" => Some(format!("calls={EVENT_NAME}")),
            _ => None,
        })
        .unwrap();
        assert!(line.starts_with("stripe (price price_callbook_test"), "{line}");
        Billing {
            provider,
            kind: Kind::Stripe(mock),
        }
    }

    /// Units of `calls` the provider has counted for the tenant.
    fn billed_calls(&self, tenant: &str, customer: &str, period: &str) -> u64 {
        match &self.kind {
            Kind::Fake(f) => f.usage(&callbook_billing::TenantId::new(tenant), "calls", period),
            Kind::Stripe(m) => m.meter_total(customer, EVENT_NAME),
        }
    }

    fn set_status(&self, tenant: &str, subscription: &str, status: &str) {
        match &self.kind {
            Kind::Fake(f) => {
                f.set_subscription_status(
                    &callbook_billing::TenantId::new(tenant),
                    SubscriptionStatus::parse(status),
                )
                .unwrap();
            }
            Kind::Stripe(m) => m.set_subscription_status(subscription, status),
        }
    }

    /// Adds an invoice; returns its id.
    fn add_invoice(&self, tenant: &str, customer: &str, amount: i64) -> String {
        match &self.kind {
            Kind::Fake(f) => f
                .add_invoice(&callbook_billing::TenantId::new(tenant), amount)
                .to_string(),
            Kind::Stripe(m) => m.add_invoice(customer, amount, false),
        }
    }

    /// Signs `body` at `timestamp` with the webhook secret the server verifies with.
    fn sign(&self, body: &[u8], timestamp: i64) -> String {
        match &self.kind {
            Kind::Fake(f) => f.webhook_verifier().sign(body, timestamp),
            Kind::Stripe(_) => WebhookVerifier::new(WEBHOOK_SECRET).sign(body, timestamp),
        }
    }

    /// A Stripe event wrapping `object`, with a fresh id, created `now`.
    fn event(event_type: &str, object: Value) -> Vec<u8> {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        json!({"id": id, "object": "event", "api_version": callbook_billing::STRIPE_API_VERSION,
            "created": Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
            "type": event_type, "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    /// A signed delivery of the tenant's subscription as it is now.
    async fn subscription_event(
        &self,
        tenant: &str,
        subscription: &str,
        event_type: &str,
    ) -> (Vec<u8>, String) {
        match &self.kind {
            Kind::Fake(f) => f
                .subscription_event(&callbook_billing::TenantId::new(tenant), event_type, Utc::now())
                .unwrap(),
            Kind::Stripe(m) => {
                let object = stripe_get(m, &format!("/v1/subscriptions/{subscription}")).await;
                let body = Self::event(event_type, object);
                let sig = self.sign(&body, Utc::now().timestamp());
                (body, sig)
            }
        }
    }

    /// A signed delivery of an invoice.
    async fn invoice_event(&self, customer: &str, invoice: &str, event_type: &str) -> (Vec<u8>, String) {
        match &self.kind {
            Kind::Fake(f) => f
                .invoice_event(&callbook_billing::InvoiceId::new(invoice), event_type, Utc::now())
                .unwrap(),
            Kind::Stripe(m) => {
                let list = stripe_get(m, &format!("/v1/invoices?customer={customer}&limit=100")).await;
                let object = list["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["id"] == invoice)
                    .cloned()
                    .unwrap();
                let body = Self::event(event_type, object);
                let sig = self.sign(&body, Utc::now().timestamp());
                (body, sig)
            }
        }
    }
}

async fn stripe_get(mock: &MockStripe, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", mock.base_url()))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The environment with the billing provider, the extra tokens and the webhook route mounted.
fn with_billing(env: Env, billing: &Billing) -> Env {
    let mut state = env.state.clone().with_billing(billing.provider.clone());
    state.auth = Arc::new(Tokens {
        inner: state.auth.clone(),
        tenant: env.tenant.id,
    });
    let app = api::router(state.clone()).merge(callbook_server::billing_webhook::router(state.clone()));
    Env { app, state, ..env }
}

async fn deliver(env: &Env, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri("/webhooks/stripe")
        .header("content-type", "application/json");
    if let Some(sig) = signature {
        request = request.header("stripe-signature", sig);
    }
    let response = env
        .app
        .clone()
        .oneshot(request.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn period(env: &Env) -> String {
    callbook_pipeline::usage::period(Utc::now(), &env.tenant)
}

async fn audit_actions(env: &Env) -> Vec<String> {
    env.store
        .list_audit(env.tenant.id, Page::first(500))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect()
}

async fn billing_section(env: &Env) -> Value {
    env.store.get_tenant(env.tenant.id).await.unwrap().settings["billing"].clone()
}

/// Subscribes through the API; returns (customer id, subscription id).
async fn subscribe(env: &Env) -> (String, String) {
    let (status, sub) = env
        .send("POST", "/api/v1/billing/subscription", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 200, "{sub}");
    let customer = billing_section(env).await["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (customer, sub["id"].as_str().unwrap().to_owned())
}

// ------------------------------------------------------------------------------------------------- tests

async fn page_shows_subscription_usage_and_invoices(env: Env, billing: Billing) {
    let env = with_billing(env, &billing);
    let tenant = env.tenant.id.to_string();

    // Before subscribing: usage, no subscription, available.
    env.store
        .add_usage(env.tenant.id, "calls", &period(&env), 7)
        .await
        .unwrap();
    env.store
        .add_usage(env.tenant.id, "audio_seconds", &period(&env), 420)
        .await
        .unwrap();
    let (status, page) = env.get("/api/v1/billing").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["billing_unavailable"], false);
    assert_eq!(page["subscription"], Value::Null);
    assert_eq!(page["default_price"], PRICE);

    // Staff may not see it; an admin may, but only the owner subscribes.
    let (status, body) = env.send("GET", "/api/v1/billing", Some(STAFF), None, &[]).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("insufficient_role")));
    let (status, _) = env
        .send("POST", "/api/v1/billing/subscription", Some(ADMIN), None, &[])
        .await;
    assert_eq!(status, 403);
    let (status, _) = env.send("GET", "/api/v1/billing", Some(ADMIN), None, &[]).await;
    assert_eq!(status, 200);

    let (customer, subscription) = subscribe(&env).await;
    let invoice = billing.add_invoice(&tenant, &customer, 4900);

    let (status, page) = env.get("/api/v1/billing").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["billing_unavailable"], false);
    assert_eq!(page["customer_id"], customer.as_str());
    assert_eq!(page["subscription"]["id"], subscription.as_str());
    assert_eq!(page["subscription"]["price"], PRICE);
    assert_eq!(page["subscription"]["entitled"], true);
    assert!(page["subscription"]["current_period_end"].is_string(), "{page}");
    assert_eq!(page["usage"]["period"], period(&env));
    assert_eq!(
        page["usage"]["totals"],
        json!([{"metric": "audio_seconds", "total": 420, "billed": false},
               {"metric": "calls", "total": 7, "billed": true}])
    );
    let invoices = page["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{page}");
    assert_eq!(invoices[0]["id"], invoice.as_str());
    assert_eq!(invoices[0]["amount_due"], 4900);
    assert!(
        audit_actions(&env)
            .await
            .contains(&"billing.subscribed".to_owned())
    );

    // The owner cancels at period end; audited.
    let (status, sub) = env
        .send("DELETE", "/api/v1/billing/subscription", Some(STAFF), None, &[])
        .await;
    assert_eq!(status, 403, "{sub}");
    let (status, sub) = env
        .send("DELETE", "/api/v1/billing/subscription", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["cancel_at_period_end"], true);
    assert!(
        audit_actions(&env)
            .await
            .contains(&"billing.cancelled".to_owned())
    );

    // The other tenant sees none of it.
    let (status, page) = env
        .send("GET", "/api/v1/billing", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["subscription"], Value::Null);
    assert_eq!(page["customer_id"], Value::Null);
    assert!(!page.to_string().contains(&customer));
}

async fn subscribing_twice_makes_one_subscription(env: Env, billing: Billing) {
    let env = with_billing(env, &billing);
    let (customer, first) = subscribe(&env).await;
    let (customer2, second) = subscribe(&env).await;
    assert_eq!((customer, first), (customer2, second));
    if let Kind::Stripe(mock) = &billing.kind {
        assert_eq!(mock.customer_count(), 1);
        assert_eq!(mock.subscription_count(), 1);
        let creates: Vec<_> = mock
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/subscriptions")
            .collect();
        assert!(!creates.is_empty());
        assert!(creates.iter().all(|r| r.idempotency_key.is_some()));
    }
}

async fn signed_webhooks_update_settings_once(env: Env, billing: Billing) {
    let env = with_billing(env, &billing);
    let tenant = env.tenant.id.to_string();
    let (customer, subscription) = subscribe(&env).await;
    billing.set_status(&tenant, &subscription, "past_due");
    let (body, sig) = billing
        .subscription_event(&tenant, &subscription, "customer.subscription.updated")
        .await;

    // Forged (another body with that signature), unsigned, old: 400 and nothing written.
    let before = billing_section(&env).await;
    let audits = audit_actions(&env).await.len();
    let forged = String::from_utf8(body.clone())
        .unwrap()
        .replace("past_due", "active");
    let (status, problem) = deliver(&env, forged.as_bytes(), Some(&sig)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_signature"))
    );
    let (status, _) = deliver(&env, &body, None).await;
    assert_eq!(status, 400);
    let old = billing.sign(&body, Utc::now().timestamp() - 3600);
    let (status, _) = deliver(&env, &body, Some(&old)).await;
    assert_eq!(status, 400);
    let garbage = b"not json";
    let (status, _) = deliver(
        &env,
        garbage,
        Some(&billing.sign(garbage, Utc::now().timestamp())),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(billing_section(&env).await, before);
    assert_eq!(audit_actions(&env).await.len(), audits);

    // Signed: applied and audited.
    let (status, answer) = deliver(&env, &body, Some(&sig)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let section = billing_section(&env).await;
    assert_eq!(section["status"], "past_due");
    assert_eq!(section["subscription_id"], subscription.as_str());
    assert_eq!(section["customer_id"], customer.as_str());
    assert!(section["current_period_end"].is_string(), "{section}");
    let audits = audit_actions(&env).await;
    assert_eq!(audits.iter().filter(|a| *a == "billing.webhook").count(), 1);

    // Replayed: nothing changes.
    let (status, answer) = deliver(&env, &body, Some(&sig)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("duplicate")));
    assert_eq!(billing_section(&env).await, section);
    assert_eq!(audit_actions(&env).await, audits);

    // The section is the server's: settings patches cannot write it, and other sections still save beside it.
    let response = env.raw("GET", "/api/v1/settings", Some(TOKEN), None, &[]).await;
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (status, _) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(json!({"billing": {"status": "active"}})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(json!({"filtering": {"min_call_seconds": 3}})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(billing_section(&env).await, section);

    // The page shows the webhook's view too.
    let (_, page) = env.get("/api/v1/billing").await;
    assert_eq!(page["last_known"]["status"], "past_due");

    // A failed payment lands in the tenant's inbox, once.
    let invoice = billing.add_invoice(&tenant, &customer, 4900);
    let (body, sig) = billing
        .invoice_event(&customer, &invoice, "invoice.payment_failed")
        .await;
    for _ in 0..2 {
        let (status, _) = deliver(&env, &body, Some(&sig)).await;
        assert_eq!(status, 200);
    }
    let inbox = env
        .store
        .list_notifications(env.tenant.id, None, false)
        .await
        .unwrap();
    let failed: Vec<_> = inbox
        .iter()
        .filter(|n| n.kind == "billing.payment_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{inbox:?}");
    let section = billing_section(&env).await;
    assert_eq!(section["last_invoice"]["id"], invoice.as_str());
    assert_eq!(section["last_invoice"]["payment_failed"], true);

    // Another tenant's customer, unknown objects: 200, nothing written.
    let object = json!({"id": "sub_unknown", "object": "subscription", "customer": "cus_nobody",
        "status": "active", "metadata": {}, "items": {"object": "list", "data": []},
        "cancel_at_period_end": false, "created": 1});
    let body = Billing::event("customer.subscription.updated", object);
    let (status, answer) = deliver(&env, &body, Some(&billing.sign(&body, Utc::now().timestamp()))).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unknown_tenant")),
        "{answer}"
    );
    let body = Billing::event("charge.succeeded", json!({"id": "ch_1", "object": "charge"}));
    let (status, answer) = deliver(&env, &body, Some(&billing.sign(&body, Utc::now().timestamp()))).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    let other = env.store.get_tenant(env.other.id).await.unwrap();
    assert!(other.settings.get("billing").is_none());
}

async fn usage_report_sends_exactly_the_delta(env: Env, billing: Billing) {
    let env = with_billing(env, &billing);
    let tenant = env.tenant.id.to_string();
    let p = period(&env);
    let store = env.store.as_ref();
    let provider = billing.provider.as_ref();

    // Without a customer, nothing is reported.
    env.store.add_usage(env.tenant.id, "calls", &p, 5).await.unwrap();
    let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
        .await
        .unwrap();
    assert_eq!((run.tenants, run.reported.len()), (0, 0));

    let (customer, _) = subscribe(&env).await;
    env.store
        .add_usage(env.tenant.id, "audio_seconds", &p, 99)
        .await
        .unwrap();
    let dry = callbook_server::billing::run_once(store, provider, Utc::now(), true)
        .await
        .unwrap();
    assert_eq!(dry.reported.len(), 1);
    assert_eq!((dry.reported[0].quantity, dry.reported[0].total), (5, 5));
    assert_eq!(
        billing.billed_calls(&tenant, &customer, &p),
        0,
        "dry run sends nothing"
    );

    let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
        .await
        .unwrap();
    assert_eq!(run.tenants, 1);
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    assert_eq!(run.reported.len(), 1, "audio_seconds is not billed");
    assert_eq!(billing.billed_calls(&tenant, &customer, &p), 5);

    env.store.add_usage(env.tenant.id, "calls", &p, 3).await.unwrap();
    let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
        .await
        .unwrap();
    assert_eq!(run.reported[0].quantity, 3);
    assert_eq!(billing.billed_calls(&tenant, &customer, &p), 8);

    // Unchanged counters send nothing.
    let events = match &billing.kind {
        Kind::Stripe(m) => m.meter_event_count(),
        Kind::Fake(_) => 0,
    };
    let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
        .await
        .unwrap();
    assert!(run.reported.is_empty());
    if let Kind::Stripe(m) = &billing.kind {
        assert_eq!(m.meter_event_count(), events);
    }

    // A crash between sending and saving the watermark (the run had set its pending mark to 12 and sent
    // 8 → 12), and 3 more calls before the next run: it re-sends the lost report (same identifier, counted
    // once) and then 12 → 15. Billed: exactly the total, never more.
    env.store.add_usage(env.tenant.id, "calls", &p, 4).await.unwrap();
    env.store
        .add_usage(env.tenant.id, "billing.pending.calls", &p, 4)
        .await
        .unwrap();
    let lost = report_usage_totals(
        provider,
        &callbook_billing::TenantId::new(tenant.clone()),
        &p,
        [("calls", 12)],
        |_| 8,
        Utc::now(),
    )
    .await;
    assert_eq!(lost.reported.len(), 1);
    assert_eq!(billing.billed_calls(&tenant, &customer, &p), 12);
    env.store.add_usage(env.tenant.id, "calls", &p, 3).await.unwrap();
    let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
        .await
        .unwrap();
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    let sent: Vec<(i64, i64)> = run.reported.iter().map(|r| (r.quantity, r.total)).collect();
    assert_eq!(sent, [(4, 12), (3, 15)]);
    assert_eq!(
        billing.billed_calls(&tenant, &customer, &p),
        15,
        "never more than the total"
    );
    // And a crash with unchanged counters: the same report again, counted once.
    env.store
        .add_usage(env.tenant.id, "billing.pending.calls", &p, 0)
        .await
        .unwrap();
    let again = report_usage_totals(
        provider,
        &callbook_billing::TenantId::new(tenant.clone()),
        &p,
        [("calls", 15)],
        |_| 12,
        Utc::now(),
    )
    .await;
    assert_eq!(again.reported.len(), 1);
    assert_eq!(billing.billed_calls(&tenant, &customer, &p), 15);

    // The watermarks are bookkeeping: hidden from the usage lists.
    let (_, usage) = env.get("/api/v1/usage").await;
    assert!(!usage.to_string().contains("billing."), "{usage}");
    let (_, page) = env.get("/api/v1/billing").await;
    assert!(!page["usage"].to_string().contains("billing."), "{page}");
    assert_eq!(
        page["usage"]["totals"][1],
        json!({"metric": "calls", "total": 15, "billed": true})
    );

    // A provider failure is reported, the watermark stays, the next run catches up.
    if let Kind::Stripe(mock) = &billing.kind {
        env.store.add_usage(env.tenant.id, "calls", &p, 1).await.unwrap();
        mock.push_fault(Fault::server_error_do_not_retry().on_path("/v1/billing/meter_events"));
        let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
            .await
            .unwrap();
        assert_eq!(run.failed.len(), 1, "{run:?}");
        assert_eq!(billing.billed_calls(&tenant, &customer, &p), 15);
        let run = callbook_server::billing::run_once(store, provider, Utc::now(), false)
            .await
            .unwrap();
        assert!(run.failed.is_empty(), "{run:?}");
        assert_eq!(run.reported[0].quantity, 1);
        assert_eq!(billing.billed_calls(&tenant, &customer, &p), 16);
    }
}

async fn provider_outage_still_shows_usage(env: Env, billing: Billing) {
    let env = with_billing(env, &billing);
    let Kind::Stripe(mock) = &billing.kind else {
        return;
    };
    subscribe(&env).await;
    env.store
        .add_usage(env.tenant.id, "calls", &period(&env), 3)
        .await
        .unwrap();
    for _ in 0..5 {
        mock.push_fault(Fault::server_error_do_not_retry());
    }
    let (status, page) = env.get("/api/v1/billing").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["billing_unavailable"], true);
    assert_eq!(page["subscription"], Value::Null);
    assert_eq!(
        page["usage"]["totals"],
        json!([{"metric": "calls", "total": 3, "billed": true}])
    );
    assert!(page["customer_id"].is_string(), "{page}");
    // Writes during the outage: 503, not 500.
    let (status, body) = env
        .send("POST", "/api/v1/billing/subscription", Some(TOKEN), None, &[])
        .await;
    assert!(status == 503 || status == 200, "{status} {body}");
}

async fn no_provider_answers_unavailable(env: Env) {
    let (status, page) = env.get("/api/v1/billing").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["billing_unavailable"], true);
    let (status, _) = env
        .send("POST", "/api/v1/billing/subscription", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 503);
}

macro_rules! on_every_backend_and_provider {
    ($($name:ident),+ $(,)?) => {
        mod fake {
            mod memory { $( #[tokio::test] async fn $name() {
                super::super::$name(super::super::Env::new(super::super::Backend::Memory).await, super::super::Billing::fake().await).await;
            } )+ }
            mod sqlite { $( #[tokio::test] async fn $name() {
                super::super::$name(super::super::Env::new(super::super::Backend::Sqlite).await, super::super::Billing::fake().await).await;
            } )+ }
            mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                if let Some(env) = super::super::Env::try_new(super::super::Backend::Postgres).await {
                    super::super::$name(env, super::super::Billing::fake().await).await;
                }
            } )+ }
        }
        mod stripe {
            mod memory { $( #[tokio::test] async fn $name() {
                super::super::$name(super::super::Env::new(super::super::Backend::Memory).await, super::super::Billing::stripe().await).await;
            } )+ }
            mod sqlite { $( #[tokio::test] async fn $name() {
                super::super::$name(super::super::Env::new(super::super::Backend::Sqlite).await, super::super::Billing::stripe().await).await;
            } )+ }
            mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                if let Some(env) = super::super::Env::try_new(super::super::Backend::Postgres).await {
                    super::super::$name(env, super::super::Billing::stripe().await).await;
                }
            } )+ }
        }
    };
}

on_every_backend_and_provider!(
    page_shows_subscription_usage_and_invoices,
    subscribing_twice_makes_one_subscription,
    signed_webhooks_update_settings_once,
    usage_report_sends_exactly_the_delta,
    provider_outage_still_shows_usage,
);

#[tokio::test]
async fn without_a_provider_the_page_renders_and_writes_are_503() {
    no_provider_answers_unavailable(Env::new(Backend::Memory).await).await;
}

/// The real application (nothing configured): the offline fake is chosen and reported, and
/// `POST /webhooks/stripe` is mounted outside cookie auth, under the webhooks' body limit.
#[tokio::test]
async fn the_app_starts_on_the_fake_and_mounts_the_webhook() {
    if std::env::var_os("STRIPE_SECRET_KEY").is_some() {
        eprintln!("skipping: STRIPE_SECRET_KEY is set in this environment");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lookup = |k: &str| (k == "CALLBOOK_DATA_DIR").then(|| dir.path().display().to_string());
    let config = callbook_server::config::Config::from_lookup(lookup).unwrap();
    let built = callbook_server::app::build(&config, callbook_server::ops::Metrics::local())
        .await
        .unwrap();
    assert!(
        built
            .report
            .iter()
            .any(|l| l.starts_with("billing        offline fake")),
        "{:?}",
        built.report
    );
    assert!(
        built.report.iter().any(|l| l.contains("reported every 3600s")),
        "{:?}",
        built.report
    );
    let app = callbook_server::app::router(built.state.clone());
    let post = |body: Vec<u8>, sig: Option<&str>| {
        let mut request = Request::post("/webhooks/stripe").header("content-type", "application/json");
        if let Some(sig) = sig {
            request = request.header("stripe-signature", sig);
        }
        app.clone().oneshot(request.body(Body::from(body)).unwrap())
    };
    let body = Billing::event("customer.subscription.updated", json!({"id": "sub_1"}));
    // Signed with a published (not this server's) secret: refused, nothing written.
    let forged = WebhookVerifier::new("whsec_published").sign(&body, Utc::now().timestamp());
    let response = post(body.clone(), Some(&forged)).await.unwrap();
    assert_eq!(response.status(), 400);
    let response = post(vec![b' '; 200 * 1024], Some(&forged)).await.unwrap();
    assert_eq!(response.status(), 413);
    let tenant = built.state.store.get_tenant(built.state.tenant.id).await.unwrap();
    assert!(tenant.settings.get("billing").is_none());
}

/// `callbook billing report --dry-run` on a fresh data directory: the fake, no billed tenant, JSON out.
#[test]
fn the_cli_prints_a_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callbook"))
        .current_dir(dir.path())
        .env_clear()
        .env("CALLBOOK_DATA_DIR", dir.path())
        .args(["billing", "report", "--dry-run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("offline fake"), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["tenants"], 0);
    assert_eq!(report["reported"], json!([]));
}
