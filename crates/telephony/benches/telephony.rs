//! Benchmarks: verifying a realistic 25-parameter inbound-call webhook, and rendering the inbound-call TwiML.
//!
//! After criterion's groups, a same-run comparison times the Rust verifier and Twilio's official Python
//! validator (`twilio` 9.13.0, `RequestValidator.validate`) on the identical request and prints the ratio.
//! Run: `cargo bench -p callbook-telephony --bench telephony`.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{WebhookRequest, WebhookVerifier};
use callbook_telephony::twiml;
use criterion::{Criterion, criterion_group};

const TOKEN: &str = "12345";
const URL: &str = "https://example.com/twilio/voice";
const SIGNATURE: &str = "LyvnaEbgTZXb/bxtKas+d4k+JWE=";

/// twilio.md §1.8 R1: the realistic inbound-call webhook, 25 parameters.
fn r1_body() -> String {
    let pairs = [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA00000000000000000000000000000002"),
        ("CallStatus", "ringing"),
        ("Called", "+15005550006"),
        ("CalledCity", ""),
        ("CalledCountry", "US"),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", "+14155551234"),
        ("CallerCity", "SAN FRANCISCO"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94103"),
        ("Direction", "inbound"),
        ("From", "+14155551234"),
        ("FromCity", "SAN FRANCISCO"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94103"),
        ("To", "+15005550006"),
        ("ToCity", ""),
        ("ToCountry", "US"),
        ("ToState", ""),
        ("ToZip", ""),
    ];
    FormParams::from_pairs(pairs).encode()
}

fn verify_once(verifier: &WebhookVerifier, body: &[u8]) -> bool {
    let request = WebhookRequest::form(URL, body).with_signature(SIGNATURE);
    verifier.verify(&request).is_ok()
}

/// The recommended inbound flow of twilio.md §3.5.
fn render_inbound_twiml() -> String {
    use twiml::{Method, Record, RecordingCallbackEvent, Say, Trim, VoiceResponse};
    VoiceResponse::new()
        .say(
            Say::new("Thanks for calling Acme Plumbing. After the beep, tell us your name, address and when you need us.")
                .with_voice("Polly.Joanna"),
        )
        .record(
            Record::new()
                .with_action("https://hooks.example.com/twilio/record-done?job=7f3c")
                .with_method(Method::Post)
                .with_max_length(300)
                .with_timeout(5)
                .with_finish_on_key("#")
                .with_play_beep(true)
                .with_trim(Trim::TrimSilence)
                .with_recording_status_callback("https://hooks.example.com/twilio/recording?job=7f3c")
                .with_recording_status_callback_method(Method::Post)
                .with_recording_status_callback_event([
                    RecordingCallbackEvent::InProgress,
                    RecordingCallbackEvent::Completed,
                    RecordingCallbackEvent::Absent,
                ]),
        )
        .say("We did not catch that. Goodbye.")
        .hangup()
        .to_xml()
}

fn benches(c: &mut Criterion) {
    let body = r1_body();
    let verifier = WebhookVerifier::new(TOKEN);
    assert!(
        verify_once(&verifier, body.as_bytes()),
        "the benchmark request must verify"
    );
    c.bench_function("verify_inbound_call_25_params", |b| {
        b.iter(|| verify_once(black_box(&verifier), black_box(body.as_bytes())))
    });
    c.bench_function("render_inbound_twiml", |b| {
        b.iter(|| black_box(render_inbound_twiml()))
    });
}

criterion_group!(group, benches);

/// Nanoseconds per verification in Rust: best of 5 runs of 20k iterations.
fn rust_ns_per_verify(body: &str) -> f64 {
    let verifier = WebhookVerifier::new(TOKEN);
    let n = 20_000;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(verify_once(black_box(&verifier), black_box(body.as_bytes())));
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Nanoseconds per `RequestValidator.validate` in CPython, best of 5 (None when python/twilio are absent).
fn python_ns_per_verify(body: &str) -> Option<f64> {
    let script = format!(
        r#"
import timeit, urllib.parse
from twilio.request_validator import RequestValidator
v = RequestValidator("{TOKEN}")
params = dict(urllib.parse.parse_qsl("{body}", keep_blank_values=True))
assert v.validate("{URL}", params, "{SIGNATURE}")
n = 5000
best = min(timeit.repeat(lambda: v.validate("{URL}", params, "{SIGNATURE}"), number=n, repeat=5))
print(best / n * 1e9)
"#
    );
    let out = Command::new("python3").arg("-c").arg(script).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "python oracle unavailable: {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();

    let body = r1_body();
    let rust = rust_ns_per_verify(&body);
    println!("\nsame-run comparison, 25-parameter inbound-call webhook (best of 5):");
    println!("  callbook-telephony WebhookVerifier::verify : {:>9.0} ns", rust);
    match python_ns_per_verify(&body) {
        Some(py) => {
            println!("  twilio-python 9.13.0 RequestValidator     : {:>9.0} ns", py);
            println!(
                "  ratio python / rust                        : {:>9.1}x",
                py / rust
            );
        }
        None => println!("  twilio-python not installed (pip install twilio==9.13.0) — no ratio"),
    }
}
