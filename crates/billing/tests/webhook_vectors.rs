//! Stripe webhook verification against signatures computed independently of this crate: a fixed vector
//! made with Python's `hmac` module, and (when `python3` is on PATH) the same computation run live on
//! generated payloads. Then tamper tests: every change to body, timestamp, signature or secret fails.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use callbook_billing::webhook::{WebhookRejected, WebhookVerifier};
use callbook_billing::{BillingEventKind, Error};
use chrono::{DateTime, Utc};

const SECRET: &str = "whsec_test_secret";
const PAYLOAD: &str = r#"{"id":"evt_test_webhook","object":"event","type":"invoice.paid","created":1700000000,"livemode":false,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","status":"paid","amount_due":1200,"amount_paid":1200,"currency":"usd"}}}"#;
const T: i64 = 1_700_000_000;
/// `hmac.new(b"whsec_test_secret", f"{T}.{PAYLOAD}".encode(), hashlib.sha256).hexdigest()` in Python 3.11.
const PYTHON_V1: &str = "eeba4a41dfcf1957dc9a50a67df19f04d5045ef1c8e311c77ec97db6e235d02e";

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap()
}

#[test]
fn python_hmac_vector_verifies_and_parses() {
    let v = WebhookVerifier::new(SECRET);
    let header = format!("t={T},v1={PYTHON_V1}");
    assert_eq!(
        v.sign(PAYLOAD.as_bytes(), T),
        header,
        "our signer agrees with Python"
    );
    let event = v.verify(PAYLOAD.as_bytes(), Some(&header), at(T + 10)).unwrap();
    assert_eq!(event.id, "evt_test_webhook");
    assert_eq!(event.event_type, "invoice.paid");
    match event.kind {
        BillingEventKind::InvoicePaid(inv) => {
            assert_eq!(inv.id.as_str(), "in_1");
            assert_eq!(inv.amount_paid.minor_units(), 1200);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stripes_header_layout_is_accepted() {
    // As Stripe sends it while a secret is rolled: two v1 (old and new secret) and a v0.
    let v = WebhookVerifier::new(SECRET);
    let header = format!(
        "t={T},v1={},v1={PYTHON_V1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
        "0".repeat(64)
    );
    assert!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&header), at(T))
            .is_ok()
    );
    // stripe-python splits each item with `split("=", 2)`: anything after a second `=` is ignored.
    let trailing = format!("t={T},v1={PYTHON_V1}=ignored");
    assert!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&trailing), at(T))
            .is_ok()
    );
    // …and keys are exact: a space after the comma hides the signature.
    let spaced = format!("t={T}, v1={PYTHON_V1}");
    assert_eq!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&spaced), at(T)),
        Err(WebhookRejected::NoV1Signature)
    );
}

#[test]
fn tampering_is_rejected() {
    let v = WebhookVerifier::new(SECRET);
    let header = format!("t={T},v1={PYTHON_V1}");
    let now = at(T);
    let reject = |payload: &str, header: &str| v.verify_signature(payload.as_bytes(), Some(header), now);
    assert_eq!(
        reject(&PAYLOAD.replace("1200", "1201"), &header),
        Err(WebhookRejected::Mismatch)
    );
    assert_eq!(
        reject(&format!("{PAYLOAD} "), &header),
        Err(WebhookRejected::Mismatch),
        "trailing space"
    );
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(PAYLOAD).unwrap()).unwrap();
    assert_eq!(
        reject(&pretty, &header),
        Err(WebhookRejected::Mismatch),
        "re-serialised JSON"
    );
    assert_eq!(
        reject(PAYLOAD, &format!("t={},v1={PYTHON_V1}", T + 1)),
        Err(WebhookRejected::Mismatch),
        "another timestamp"
    );
    let mut flipped = PYTHON_V1.to_owned();
    flipped.replace_range(0..1, "f");
    assert_eq!(
        reject(PAYLOAD, &format!("t={T},v1={flipped}")),
        Err(WebhookRejected::Mismatch)
    );
    assert_eq!(
        reject(PAYLOAD, &format!("t={T},v1={}", &PYTHON_V1[..63])),
        Err(WebhookRejected::Mismatch)
    );
    assert_eq!(
        reject(PAYLOAD, &format!("t={T},v1={}", PYTHON_V1.to_uppercase())),
        Err(WebhookRejected::Mismatch),
        "Stripe sends lower-case hex"
    );
    assert_eq!(
        reject(PAYLOAD, &format!("t={T},v0={PYTHON_V1}")),
        Err(WebhookRejected::NoV1Signature)
    );
    let other_secret = WebhookVerifier::new("whsec_other");
    assert_eq!(
        other_secret.verify_signature(PAYLOAD.as_bytes(), Some(&header), now),
        Err(WebhookRejected::Mismatch)
    );
    // The `whsec_` prefix is part of the key, not stripped.
    let stripped = WebhookVerifier::new("test_secret");
    assert_eq!(
        stripped.verify_signature(PAYLOAD.as_bytes(), Some(&header), now),
        Err(WebhookRejected::Mismatch)
    );
}

#[test]
fn tolerance_is_enforced_and_configurable() {
    let header = format!("t={T},v1={PYTHON_V1}");
    let v = WebhookVerifier::new(SECRET);
    assert!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&header), at(T + 300))
            .is_ok(),
        "exactly 300 s"
    );
    assert_eq!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&header), at(T + 301)),
        Err(WebhookRejected::TooOld {
            age_seconds: 301,
            tolerance_seconds: 300
        })
    );
    let strict = WebhookVerifier::new(SECRET).with_tolerance(Duration::from_secs(10));
    assert!(matches!(
        strict.verify_signature(PAYLOAD.as_bytes(), Some(&header), at(T + 11)),
        Err(WebhookRejected::TooOld { .. })
    ));
    let err = v
        .verify(PAYLOAD.as_bytes(), Some(&header), at(T + 3600))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidSignature(WebhookRejected::TooOld { .. })
    ));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("3600 s old"), "{err}");
}

#[test]
fn rolled_secrets_are_accepted() {
    let v = WebhookVerifier::new("whsec_new").with_additional_secret(SECRET);
    let header = format!("t={T},v1={PYTHON_V1}");
    assert!(
        v.verify_signature(PAYLOAD.as_bytes(), Some(&header), at(T))
            .is_ok()
    );
}

/// Python's `hmac` is the oracle for a range of payloads (unicode, newlines, empty body).
#[test]
fn agrees_with_python_hmac_on_generated_payloads() {
    let payloads = [
        String::new(),
        "{}".to_owned(),
        r#"{"name":"Zoë Ö'Brien — 配管"}"#.to_owned(),
        "line1\nline2\r\n\ttab".to_owned(),
        "x".repeat(10_000),
    ];
    let script = r#"
import hmac, hashlib, sys, json
for item in json.load(sys.stdin):
    print(hmac.new(item["secret"].encode(), (str(item["t"]) + "." + item["payload"]).encode(), hashlib.sha256).hexdigest())
"#;
    let input: Vec<serde_json::Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| serde_json::json!({"secret": format!("whsec_{i}x"), "t": T + i as i64, "payload": p}))
        .collect();
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipping agrees_with_python_hmac_on_generated_payloads: python3 is not on PATH");
        return;
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&input).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let expected: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(expected.len(), payloads.len());
    for (i, (payload, hex)) in payloads.iter().zip(&expected).enumerate() {
        let t = T + i as i64;
        let v = WebhookVerifier::new(format!("whsec_{i}x"));
        assert_eq!(v.sign(payload.as_bytes(), t), format!("t={t},v1={hex}"));
        assert!(
            v.verify_signature(payload.as_bytes(), Some(&format!("t={t},v1={hex}")), at(t))
                .is_ok()
        );
    }
}
