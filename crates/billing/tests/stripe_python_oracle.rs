//! Cross-checks webhook verification against Stripe's official Python library (`stripe` 16.1.0,
//! `WebhookSignature.verify_header`): for generated payloads, secrets and headers — valid, tampered, old,
//! malformed — both must accept or reject, and for the same reason. External truth, not self-agreement.
//! Needs `CALLBOOK_TEST_STRIPE_PYTHON` (a python with `stripe` installed; `.ci/setup.d/80-billing.sh` makes
//! one) and skips, saying so on stderr, without it.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use callbook_billing::webhook::{WebhookRejected, WebhookVerifier};
use chrono::Utc;

const ORACLE: &str = r#"
import json, sys, stripe
for line in sys.stdin:
    case = json.loads(line)
    try:
        stripe.WebhookSignature.verify_header(case["payload"], case["header"], case["secret"], tolerance=300)
        print("ok")
    except stripe.SignatureVerificationError as e:
        print("error: " + str(e.user_message or e))
"#;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, max: u64) -> String {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "\"id\":",
            "\"evt_1\"",
            ",",
            "a",
            "Z",
            "0",
            " ",
            "\n",
            "\\\"",
            "é",
            "配管",
            "😀",
            "=",
            ".",
            "t=",
            "v1",
        ];
        let len = self.next() % max;
        (0..len)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

/// Stripe's reason for a rejection, as this crate names it.
fn ours(result: Result<(), WebhookRejected>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(WebhookRejected::MissingHeader) => "missing header",
        Err(WebhookRejected::BadTimestamp) => "unparsable header",
        Err(WebhookRejected::NoV1Signature) => "no v1",
        Err(WebhookRejected::Mismatch) => "mismatch",
        Err(WebhookRejected::TooOld { .. }) => "too old",
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn theirs(line: &str) -> &'static str {
    match line {
        "ok" => "ok",
        l if l.contains("No Stripe-Signature header") => "missing header",
        l if l.contains("Unable to extract timestamp") => "unparsable header",
        l if l.contains("No signatures found with expected scheme") => "no v1",
        l if l.contains("No signatures found matching") => "mismatch",
        l if l.contains("Timestamp outside the tolerance zone") => "too old",
        other => panic!("unexpected answer from stripe-python: {other}"),
    }
}

#[test]
fn decisions_match_stripe_python() {
    let Some(python) = std::env::var_os("CALLBOOK_TEST_STRIPE_PYTHON") else {
        eprintln!(
            "skipping decisions_match_stripe_python: CALLBOOK_TEST_STRIPE_PYTHON is not set (.ci/setup.d/80-billing.sh)"
        );
        return;
    };
    let now = Utc::now();
    let t = now.timestamp();
    let mut g = Gen(0x05ee_db11_11e5_u64);
    let mut cases: Vec<(String, String, String)> = Vec::new();
    for i in 0..40 {
        let payload = g.text(60);
        let secret = format!("whsec_{}", g.next() % 1_000_000);
        let v = WebhookVerifier::new(secret.clone());
        let good = |ts: i64| v.sign(payload.as_bytes(), ts);
        let sig = |ts: i64| good(ts).split_once(",v1=").unwrap().1.to_owned();
        let s = sig(t);
        let headers = vec![
            good(t),
            good(t - 100),
            good(t + 100),
            good(t - 310),
            good(t - 5000),
            format!("t={t},v1={},v1={s},v0={s}", "0".repeat(64)),
            format!("t={t},v0={s}"),
            format!("v1={s}"),
            format!("t=abc,v1={s}"),
            format!("t={t}, v1={s}"),
            format!(" t={t},v1={s}"),
            format!("t={t},v1={}", s.to_uppercase()),
            format!("t={t},v1={s}=x"),
            format!("t={t},t={},v1={s}", t - 100),
            format!("t={},t={t},v1={s}", t - 100),
            format!("t=+{t},v1={s}"),
            format!("t={t},v1={s},extra"),
            format!("t,t={t},v1={s}"),
            format!("t={t},v1={}", &s[..63]),
            String::new(),
            ",,,".to_owned(),
            WebhookVerifier::new(format!("{secret}x")).sign(payload.as_bytes(), t),
        ];
        for header in headers {
            cases.push((payload.clone(), header, secret.clone()));
        }
        // Tampered: the header is for another payload.
        let other = format!("{payload}{i}");
        cases.push((other, good(t), secret.clone()));
    }

    let mut child = Command::new(&python)
        .args(["-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (payload, header, secret) in &cases {
            let line = serde_json::json!({"payload": payload, "header": header, "secret": secret});
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the oracle failed");
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), cases.len());

    let mut accepted = 0;
    for ((payload, header, secret), answer) in cases.iter().zip(&answers) {
        let v = WebhookVerifier::new(secret.clone());
        let header_opt = Some(header.as_str());
        let mine = ours(v.verify_signature(payload.as_bytes(), header_opt, now));
        let stripe = theirs(answer);
        assert_eq!(
            mine, stripe,
            "payload {payload:?}, header {header:?}: stripe-python says {answer}"
        );
        accepted += usize::from(mine == "ok");
    }
    assert!(
        accepted >= 40 * 4,
        "too few accepted cases ({accepted}) to mean anything"
    );
}

const CLIENT: &str = r#"
import json, sys, stripe
stripe.api_base = sys.argv[1]
stripe.api_key = sys.argv[2]
stripe.max_network_retries = 0
out = {}
c = stripe.Customer.create(name="Acme", email="owner@example.com",
                           metadata={"callbook_tenant_id": "tenant-py"}, idempotency_key="py-customer-1")
out["customer"] = {"id": c.id, "object": c.object, "tenant": c.metadata["callbook_tenant_id"], "name": c.name}
again = stripe.Customer.create(name="Acme", email="owner@example.com",
                               metadata={"callbook_tenant_id": "tenant-py"}, idempotency_key="py-customer-1")
out["replayed_same_id"] = again.id == c.id
try:
    stripe.Customer.create(name="Other", idempotency_key="py-customer-1")
except stripe.IdempotencyError as e:
    out["idempotency_error"] = e.http_status
found = stripe.Customer.search(query="metadata['callbook_tenant_id']:'tenant-py'")
out["search"] = {"object": found.object, "ids": [x.id for x in found.data]}
try:
    stripe.Subscription.create(customer=c.id, items=[{"price": "price_py"}])
except stripe.CardError as e:
    out["card_error"] = {"status": e.http_status, "code": e.code, "decline_code": e.error.decline_code}
try:
    stripe.Subscription.create(customer="cus_missing", items=[{"price": "price_py"}])
except stripe.InvalidRequestError as e:
    out["missing_customer"] = {"status": e.http_status, "code": e.code, "param": e.param}
s = stripe.Subscription.create(customer=c.id, items=[{"price": "price_py"}],
                               metadata={"callbook_tenant_id": "tenant-py"})
out["subscription"] = {"status": s.status, "price": s["items"]["data"][0]["price"]["id"],
                       "period_end": s["items"]["data"][0]["current_period_end"]}
out["listed"] = [x.id for x in stripe.Subscription.list(customer=c.id, status="all").auto_paging_iter()]
ev = stripe.billing.MeterEvent.create(event_name="callbook_calls",
                                      payload={"stripe_customer_id": c.id, "value": "7"}, identifier="py-1")
out["meter_event"] = {"object": ev.object, "identifier": ev.identifier, "value": ev.payload["value"]}
out["canceled"] = stripe.Subscription.cancel(s.id).status
out["invoices"] = [[i.id, i.amount_due, i.status] for i in stripe.Invoice.list(customer="cus_pre", limit=2).data]
try:
    stripe.Customer.retrieve("cus_nope")
except stripe.InvalidRequestError as e:
    out["not_found"] = {"status": e.http_status, "code": e.code}
print(json.dumps(out))
"#;

/// Stripe's own Python client, pointed at `MockStripe`, creates, searches, lists, cancels and fails exactly
/// as it would against Stripe: the mock's JSON, envelopes and error bodies are what the official client
/// expects, and the official client's form encoding of nested parameters is what `StripeBilling` sends.
#[tokio::test(flavor = "multi_thread")]
async fn the_official_client_accepts_the_mock() {
    use callbook_billing::testing::mock_stripe::{Fault, MockStripe};

    let Some(python) = std::env::var_os("CALLBOOK_TEST_STRIPE_PYTHON") else {
        eprintln!(
            "skipping the_official_client_accepts_the_mock: CALLBOOK_TEST_STRIPE_PYTHON is not set (.ci/setup.d/80-billing.sh)"
        );
        return;
    };
    const KEY: &str = "sk_test_python0000abcd";
    let mock = MockStripe::start(KEY).await.unwrap();
    mock.add_price("price_py");
    let first_invoice = mock.add_invoice("cus_pre", 1500, true);
    let second_invoice = mock.add_invoice("cus_pre", 2500, false);
    mock.push_fault(Fault::card_declined("insufficient_funds").on("POST", "/v1/subscriptions"));
    let base = mock.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", CLIENT, &base, KEY])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "stripe-python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(out["customer"]["object"], "customer");
    assert_eq!(out["customer"]["tenant"], "tenant-py");
    assert_eq!(out["replayed_same_id"], true);
    assert_eq!(out["idempotency_error"], 400);
    let customer = out["customer"]["id"].as_str().unwrap();
    assert_eq!(out["search"]["object"], "search_result");
    assert_eq!(out["search"]["ids"], serde_json::json!([customer]));
    assert_eq!(
        out["card_error"],
        serde_json::json!({"status": 402, "code": "card_declined", "decline_code": "insufficient_funds"})
    );
    assert_eq!(
        out["missing_customer"],
        serde_json::json!({"status": 400, "code": "resource_missing", "param": "customer"})
    );
    assert_eq!(out["subscription"]["status"], "active");
    assert_eq!(out["subscription"]["price"], "price_py");
    assert!(out["subscription"]["period_end"].as_i64().unwrap() > 0);
    assert_eq!(out["listed"].as_array().unwrap().len(), 1);
    assert_eq!(out["meter_event"]["object"], "billing.meter_event");
    assert_eq!(out["meter_event"]["identifier"], "py-1");
    assert_eq!(out["canceled"], "canceled");
    assert_eq!(
        out["invoices"],
        serde_json::json!([[second_invoice, 2500, "open"], [first_invoice, 1500, "paid"]])
    );
    assert_eq!(
        out["not_found"],
        serde_json::json!({"status": 404, "code": "resource_missing"})
    );
    assert_eq!(mock.meter_total(customer, "callbook_calls"), 7);
    assert_eq!(
        mock.customer_count(),
        1,
        "the replayed create made no second customer"
    );

    // The official client encodes nested parameters exactly as StripeBilling does.
    let requests = mock.requests();
    let sub = requests
        .iter()
        .rfind(|r| r.method == "POST" && r.path == "/v1/subscriptions")
        .unwrap();
    assert_eq!(sub.param("items[0][price]"), Some("price_py"));
    assert_eq!(sub.param("metadata[callbook_tenant_id]"), Some("tenant-py"));
    let meter = requests
        .iter()
        .find(|r| r.path == "/v1/billing/meter_events")
        .unwrap();
    assert_eq!(meter.param("payload[stripe_customer_id]"), Some(customer));
    assert_eq!(meter.param("payload[value]"), Some("7"));
    assert!(
        requests.iter().all(|r| r.authorized),
        "Bearer auth as Stripe's client sends it"
    );
}
