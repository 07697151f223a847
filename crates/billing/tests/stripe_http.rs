//! The Stripe backend over real HTTP against `MockStripe`: request shapes, idempotency keys on retries,
//! `Retry-After` and `Stripe-Should-Retry`, error mapping per status, configuration and redaction.
#![cfg(all(feature = "stripe", feature = "testing"))]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use callbook_billing::stripe::{StripeBilling, StripeBillingBuilder};
use callbook_billing::testing::mock_stripe::{Fault, MockStripe, RecordedRequest};
use callbook_billing::{
    BillingProvider, BillingProviderExt, CancelMode, Error, NewCustomer, SubscribeRequest, TenantId,
    UsageReport,
};
use serde_json::json;

const KEY: &str = "sk_test_httpsuite0000abcd";
const PRICE: &str = "price_callbook_standard";

async fn mock() -> MockStripe {
    let mock = MockStripe::start(KEY).await.unwrap();
    mock.add_price(PRICE);
    mock
}

fn builder(mock: &MockStripe) -> StripeBillingBuilder {
    StripeBilling::builder()
        .with_secret_key(KEY)
        .with_webhook_secret("whsec_http")
        .with_base_url(mock.base_url())
        .with_meter("calls", "callbook_calls")
        .with_retries(3, Duration::from_millis(5), Duration::from_millis(50))
}

fn client(mock: &MockStripe) -> StripeBilling {
    builder(mock).build().unwrap()
}

fn posts<'a>(requests: &'a [RecordedRequest], path: &str) -> Vec<&'a RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .collect()
}

async fn customer(stripe: &StripeBilling, tenant: &str) -> TenantId {
    let tenant = TenantId::new(tenant);
    stripe
        .ensure_customer(&NewCustomer::new(tenant.clone(), "Acme Plumbing"))
        .await
        .unwrap();
    tenant
}

#[tokio::test]
async fn requests_have_stripes_shape() {
    let mock = mock().await;
    let stripe = client(&mock);
    let tenant = TenantId::new("tenant-'quoted'");
    let account = stripe
        .ensure_customer(&NewCustomer::new(tenant.clone(), "Acme").with_email("owner@acme.example"))
        .await
        .unwrap();
    assert!(account.customer_id.as_str().starts_with("cus_"));
    stripe
        .subscribe(&tenant, &SubscribeRequest::new(PRICE))
        .await
        .unwrap();
    let at_seconds = chrono::Utc::now().timestamp() - 3600;
    let at = chrono::DateTime::from_timestamp(at_seconds, 0).unwrap();
    let at_text = at_seconds.to_string();
    let report = UsageReport::period_total(tenant.clone(), "calls", "2026-11", 42, at);
    let recorded = stripe.report_usage(&report).await.unwrap();
    assert_eq!(
        (recorded.event_name.as_str(), recorded.quantity),
        ("callbook_calls", 42)
    );
    assert_eq!(recorded.timestamp, at);

    let requests = mock.requests();
    let search = &requests[0];
    assert_eq!(
        (search.method.as_str(), search.path.as_str()),
        ("GET", "/v1/customers/search")
    );
    assert_eq!(
        search.query[0],
        (
            "query".to_owned(),
            r"metadata['callbook_tenant_id']:'tenant-\'quoted\''".to_owned()
        )
    );
    let create = posts(&requests, "/v1/customers")[0];
    assert_eq!(create.param("name"), Some("Acme"));
    assert_eq!(create.param("email"), Some("owner@acme.example"));
    assert_eq!(
        create.param("metadata[callbook_tenant_id]"),
        Some("tenant-'quoted'")
    );
    assert!(
        create
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with("cb_customer_")
    );

    let sub = posts(&requests, "/v1/subscriptions")[0];
    assert_eq!(sub.param("customer"), Some(account.customer_id.as_str()));
    assert_eq!(sub.param("items[0][price]"), Some(PRICE));
    assert_eq!(sub.param("metadata[callbook_tenant_id]"), Some("tenant-'quoted'"));
    let list = requests
        .iter()
        .find(|r| r.method == "GET" && r.path == "/v1/subscriptions")
        .unwrap();
    assert!(
        list.query.contains(&("status".into(), "all".into())),
        "canceled ones are listed too"
    );

    let meter = posts(&requests, "/v1/billing/meter_events")[0];
    let expected = [
        ("event_name", "callbook_calls"),
        ("payload[stripe_customer_id]", account.customer_id.as_str()),
        ("payload[value]", "42"),
        ("identifier", report.identifier.as_str()),
        ("timestamp", at_text.as_str()),
    ];
    let params: Vec<(&str, &str)> = meter
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(params, expected);
    assert!(meter.idempotency_key.is_some());
    assert!(
        requests
            .iter()
            .all(|r| r.authorized && r.stripe_version.as_deref() == Some("2025-03-31.basil"))
    );
    assert_eq!(
        mock.meter_total(account.customer_id.as_str(), "callbook_calls"),
        42
    );
}

#[tokio::test]
async fn a_rate_limited_write_is_retried_with_the_same_key_and_creates_one_object() {
    let mock = mock().await;
    let stripe = client(&mock);
    mock.push_fault(Fault::rate_limited(0).on("POST", "/v1/customers"));
    mock.push_fault(Fault::server_error().on("POST", "/v1/customers"));
    let account = stripe
        .ensure_customer(&NewCustomer::new("tenant-1", "Acme"))
        .await
        .unwrap();
    let requests = mock.requests();
    let creates = posts(&requests, "/v1/customers");
    assert_eq!(creates.len(), 3, "429, 500, then success");
    let key = creates[0].idempotency_key.clone().unwrap();
    assert!(
        creates
            .iter()
            .all(|r| r.idempotency_key.as_deref() == Some(key.as_str()))
    );
    assert_eq!(mock.customer_count(), 1);
    assert_eq!(
        stripe
            .find_customer(&"tenant-1".into())
            .await
            .unwrap()
            .unwrap()
            .customer_id,
        account.customer_id
    );
}

#[tokio::test]
async fn a_timed_out_write_is_replayed_not_repeated() {
    let mock = mock().await;
    let stripe = builder(&mock)
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let tenant = customer(&stripe, "tenant-slow").await;
    // The mock records the meter event, then answers too late: the client cannot know it worked.
    mock.push_fault(Fault::slow(Duration::from_millis(600)).on("POST", "/v1/billing/meter_events"));
    let report = UsageReport::period_total(tenant, "calls", "2026-11", 5, chrono::Utc::now());
    stripe.report_usage(&report).await.unwrap();
    let requests = mock.requests();
    let sent = posts(&requests, "/v1/billing/meter_events");
    assert_eq!(sent.len(), 2, "timed out once, then retried");
    assert_eq!(sent[0].idempotency_key, sent[1].idempotency_key);
    assert!(
        !sent[0].replayed && sent[1].replayed,
        "the retry got Stripe's saved answer"
    );
    assert_eq!(mock.meter_event_count(), 1);
}

#[tokio::test]
async fn a_subscription_create_retried_after_a_timeout_makes_one_subscription() {
    let mock = mock().await;
    let stripe = builder(&mock)
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let tenant = customer(&stripe, "tenant-sub-slow").await;
    mock.push_fault(Fault::slow(Duration::from_millis(600)).on("POST", "/v1/subscriptions"));
    let sub = stripe
        .subscribe(&tenant, &SubscribeRequest::new(PRICE))
        .await
        .unwrap();
    assert_eq!(mock.subscription_count(), 1);
    let again = stripe
        .subscribe(&tenant, &SubscribeRequest::new(PRICE))
        .await
        .unwrap();
    assert_eq!(again.id, sub.id);
    assert_eq!(mock.subscription_count(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mock = mock().await;
    let stripe = builder(&mock)
        .with_retries(2, Duration::from_millis(1), Duration::from_secs(5))
        .build()
        .unwrap();
    mock.push_fault(Fault::rate_limited(1));
    let started = Instant::now();
    stripe.find_customer(&"tenant-wait".into()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_end_with_the_last_error() {
    let mock = mock().await;
    let stripe = client(&mock);
    for _ in 0..4 {
        mock.push_fault(Fault::rate_limited(0));
    }
    let err = stripe.find_customer(&"tenant-x".into()).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::ZERO),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(mock.requests().len(), 4, "first attempt + 3 retries");
}

#[tokio::test]
async fn stripe_should_retry_false_stops_retries() {
    let mock = mock().await;
    let stripe = client(&mock);
    mock.push_fault(Fault::server_error_do_not_retry());
    let err = stripe.find_customer(&"tenant-x".into()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_conflict_is_retried() {
    let mock = mock().await;
    let stripe = client(&mock);
    mock.push_fault(Fault::error(
        409,
        "idempotency_error",
        None,
        "There is currently another in-progress request using this Idempotent Key.",
    ));
    let account = stripe
        .ensure_customer(&NewCustomer::new("tenant-409", "Acme"))
        .await
        .unwrap();
    assert!(account.customer_id.as_str().starts_with("cus_"));
    assert_eq!(mock.customer_count(), 1);
}

#[tokio::test]
async fn errors_map_per_status_and_are_not_retried() {
    let mock = mock().await;
    let stripe = client(&mock);
    let tenant = customer(&stripe, "tenant-errors").await;
    type Expect = fn(&Error) -> bool;
    let cases: Vec<(Fault, Expect)> = vec![
        (Fault::card_declined("insufficient_funds"), |e| {
            matches!(e, Error::PaymentFailed { code: Some(c), decline_code: Some(d), message }
                if c == "card_declined" && d == "insufficient_funds" && message == "Your card was declined.")
        }),
        (
            Fault::error(
                400,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "Invalid integer",
            ),
            |e| matches!(e, Error::InvalidInput { code: Some(c), .. } if c == "parameter_invalid_integer"),
        ),
        (
            Fault::error(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                "No such subscription: 'sub_1'",
            ),
            |e| matches!(e, Error::NotFound { message, .. } if message.contains("No such subscription")),
        ),
        (
            Fault::error(
                403,
                "invalid_request_error",
                None,
                "The provided key does not have the required permissions",
            ),
            |e| matches!(e, Error::Forbidden { .. }),
        ),
        (
            Fault::error(
                400,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters",
            ),
            |e| matches!(e, Error::IdempotencyKeyReused { .. }),
        ),
        (
            Fault::error(418, "api_error", Some("teapot"), "short and stout"),
            |e| matches!(e, Error::Provider { status: 418, code: Some(c), .. } if c == "teapot"),
        ),
    ];
    for (fault, expected) in cases {
        let before = mock.requests().len();
        mock.push_fault(fault.on("POST", "/v1/subscriptions"));
        let err = stripe
            .subscribe(&tenant, &SubscribeRequest::new(PRICE))
            .await
            .unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert!(!err.is_retryable(), "{err:?}");
        let sent = posts(&mock.requests()[before..], "/v1/subscriptions").len();
        assert_eq!(sent, 1, "{err:?} was retried");
    }
    assert_eq!(mock.subscription_count(), 0);
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated_and_not_retried() {
    let mock = mock().await;
    let stripe = builder(&mock)
        .with_secret_key("sk_test_wrong0000wxyz")
        .build()
        .unwrap();
    let err = stripe.find_customer(&"tenant-1".into()).await.unwrap_err();
    match &err {
        Error::Unauthenticated { message } => {
            assert_eq!(message, "Invalid API Key provided: sk_test_****wxyz");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.requests().len(), 1);
    assert!(!mock.requests()[0].authorized);
}

#[tokio::test]
async fn unknown_price_and_missing_customer_are_clear() {
    let mock = mock().await;
    let stripe = client(&mock);
    let tenant = customer(&stripe, "tenant-price").await;
    let err = stripe
        .subscribe(&tenant, &SubscribeRequest::new("price_nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref resource, ref message } if resource == "items[0][price]" && message == "No such price: 'price_nope'"),
        "{err:?}"
    );
    let err = stripe
        .subscribe(&"tenant-none".into(), &SubscribeRequest::new(PRICE))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref resource, .. } if resource.contains("tenant-none")),
        "{err:?}"
    );
}

#[tokio::test]
async fn customer_creation_is_keyed_on_the_tenant() {
    let mock = mock().await;
    let empty_search = json!({"object": "search_result", "data": [], "has_more": false, "next_page": null, "url": "/v1/customers/search"});
    // Two server processes (no shared cache) while Stripe's search has not caught up with the first create.
    let first = client(&mock);
    let a = first
        .ensure_customer(&NewCustomer::new("tenant-lag", "Acme"))
        .await
        .unwrap();
    mock.push_fault(Fault::ok(empty_search.clone()).on("GET", "/v1/customers/search"));
    let second = client(&mock);
    let b = second
        .ensure_customer(&NewCustomer::new("tenant-lag", "Acme"))
        .await
        .unwrap();
    assert_eq!(
        a.customer_id, b.customer_id,
        "the second create replayed the first"
    );
    assert_eq!(mock.customer_count(), 1);
    assert!(mock.requests().last().unwrap().replayed);

    // The same key with other parameters is refused by Stripe, and said so.
    mock.push_fault(Fault::ok(empty_search).on("GET", "/v1/customers/search"));
    let third = client(&mock);
    let err = third
        .ensure_customer(&NewCustomer::new("tenant-lag", "Renamed Ltd"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IdempotencyKeyReused { .. }), "{err:?}");
    assert_eq!(mock.customer_count(), 1);
}

#[tokio::test]
async fn the_mock_enforces_idempotency_like_stripe() {
    let mock = mock().await;
    let http = reqwest::Client::new();
    let post = |name: &'static str| {
        http.post(format!("{}/v1/customers", mock.base_url()))
            .bearer_auth(KEY)
            .header("Idempotency-Key", "key-1")
            .form(&[("name", name)])
            .send()
    };
    let first = post("A").await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post("A").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let other = post("B").await.unwrap();
    assert_eq!(other.status(), 400);
    let body: serde_json::Value = other.json().await.unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
    assert_eq!(mock.customer_count(), 1);
}

#[tokio::test]
async fn overview_has_plan_and_invoices() {
    let mock = mock().await;
    let stripe = client(&mock);
    let empty = stripe.overview(&"tenant-new".into(), 10).await.unwrap();
    assert!(empty.account.is_none() && empty.subscription.is_none() && empty.invoices.is_empty());
    let tenant = customer(&stripe, "tenant-overview").await;
    let sub = stripe
        .subscribe(&tenant, &SubscribeRequest::new(PRICE))
        .await
        .unwrap();
    let account = stripe.find_customer(&tenant).await.unwrap().unwrap();
    let invoice = mock.add_invoice(account.customer_id.as_str(), 1999, true);
    let overview = stripe.overview(&tenant, 10).await.unwrap();
    assert_eq!(overview.subscription.unwrap().id, sub.id);
    let listed = &overview.invoices[0];
    assert_eq!(listed.id.as_str(), invoice);
    assert_eq!(listed.subscription_id.as_ref(), Some(&sub.id));
    assert_eq!(
        listed.tenant.as_ref(),
        Some(&tenant),
        "the subscription's metadata reaches its invoices"
    );
    assert_eq!(
        (listed.amount_paid.minor_units(), listed.currency()),
        (1999, "usd")
    );
    assert!(
        listed
            .hosted_invoice_url
            .as_deref()
            .unwrap()
            .starts_with("https://invoice.stripe.com/")
    );
    assert!(listed.number.is_some() && listed.created.is_some() && listed.period_end.is_some());
    stripe.cancel(&tenant, CancelMode::AtPeriodEnd).await.unwrap();
    let status = stripe.subscription_status(&tenant).await.unwrap().unwrap();
    assert!(status.cancel_at_period_end && status.status.is_entitled());
}

#[tokio::test]
async fn configuration_errors_name_the_variable() {
    let lookup = |vars: &'static [(&'static str, &'static str)]| {
        StripeBillingBuilder::from_env_with(move |n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
        })
        .build()
        .unwrap_err()
        .to_string()
    };
    assert!(lookup(&[]).contains("STRIPE_SECRET_KEY"));
    assert!(lookup(&[("STRIPE_SECRET_KEY", "pk_live_123")]).contains("STRIPE_SECRET_KEY"));
    assert!(
        lookup(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_API_BASE", "not a url")
        ])
        .contains("STRIPE_API_BASE")
    );
    assert!(
        lookup(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "sk_oops")
        ])
        .contains("STRIPE_WEBHOOK_SECRET")
    );
    assert!(
        lookup(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_METER_EVENT_NAME", "=x")
        ])
        .contains("STRIPE_METER_EVENT_NAME")
    );
    let no_secret = StripeBilling::builder()
        .with_secret_key("sk_test_1")
        .build()
        .unwrap();
    let err = no_secret
        .verify_webhook(b"{}", Some("t=1,v1=00"), chrono::Utc::now())
        .unwrap_err();
    assert!(err.to_string().contains("STRIPE_WEBHOOK_SECRET"), "{err}");
    assert!(
        !no_secret.bills_metric("calls"),
        "nothing is billed without a meter"
    );
}

#[tokio::test]
async fn debug_never_shows_secrets() {
    let mock = mock().await;
    let b = builder(&mock);
    let stripe = b.clone().build().unwrap();
    for text in [format!("{b:?}"), format!("{stripe:?}"), format!("{stripe:#?}")] {
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("whsec_http"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

#[tokio::test]
async fn stripe_should_retry_true_retries_what_would_not_be() {
    let mock = mock().await;
    let stripe = client(&mock);
    mock.push_fault(
        Fault::error(
            400,
            "invalid_request_error",
            Some("lock_timeout"),
            "This object cannot be accessed right now",
        )
        .with_header("Stripe-Should-Retry", "true"),
    );
    assert!(stripe.find_customer(&"tenant-x".into()).await.unwrap().is_none());
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_after_retries() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stripe = StripeBilling::builder()
        .with_secret_key(KEY)
        .with_base_url(format!("http://127.0.0.1:{port}"))
        .with_retries(2, Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap();
    let err = stripe.find_customer(&"t1".into()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { status: None, .. }), "{err:?}");
    assert!(err.is_retryable());
}
