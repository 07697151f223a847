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
