//! Redaction throughput on transcript-sized text, with a same-run baseline.
//!
//! Run: `cargo bench -p callbook-transcribe --bench redact`. Prints MB/s for redacting call transcripts
//! (~1.5 KB each, a third of them holding a card number, CVV and expiry) and for two baselines measured in
//! the same run on the same text: a plain byte scan counting digits, and `str::to_lowercase` (a pass that
//! allocates and writes the whole text, as redaction does). The ratios are what to compare across machines.

use std::hint::black_box;
use std::time::{Duration, Instant};

use callbook_transcribe::redact::{RedactionOptions, redact};

const CALLS: [&str; 3] = [
    "Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet and there's water all over the floor. \
     Can someone come out tomorrow between three and five? The address is 42 Oak Street, apartment 3B, in Yonkers. \
     My number is 914 555 2177. The gate code is 1234, just ring the bell twice. How much would a visit cost? \
     Okay, eighty nine dollars for the call-out is fine. Thanks so much, see you tomorrow. ",
    "Yeah hello, I need someone to look at my furnace, it stopped working last night and it's freezing in here. \
     I'm at 1187 North Main Street, that's near the gas station. You can reach me on five five five, two oh one, \
     seven seven eight eight. Is Tuesday morning okay? Around nine? Great. And do you take cards? Sure, it's a Visa, \
     4111 1111 1111 1111, expires 12/27, and the security code is 123. Perfect, thank you. ",
    "Hi, I'm calling about the quote you sent for the bathroom remodel. We'd like to go ahead with the tile option \
     but not the new vanity. Could you send an updated estimate? Also my neighbour at number 16 wants an electrician \
     to check a GFCI outlet that keeps tripping, maybe you can do both on the same day next week. Thank you. ",
];

fn corpus(target_bytes: usize) -> Vec<String> {
    let mut calls = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while total < target_bytes {
        // Four turns per call, mixing the three speakers' styles.
        let text: String = (0..4).map(|k| CALLS[(i + k) % 3]).collect();
        total += text.len();
        calls.push(text);
        i += 1;
    }
    calls
}

fn measure(label: &str, bytes: usize, budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    // Warm up, then run whole passes until the budget is spent.
    black_box(f());
    let start = Instant::now();
    let mut passes = 0u32;
    let mut sink = 0usize;
    while start.elapsed() < budget {
        sink = sink.wrapping_add(f());
        passes += 1;
    }
    black_box(sink);
    let secs = start.elapsed().as_secs_f64();
    let mbps = bytes as f64 * f64::from(passes) / secs / 1e6;
    println!(
        "{label:<40} {mbps:>10.1} MB/s  ({passes} passes over {:.1} MB)",
        bytes as f64 / 1e6
    );
    mbps
}

fn main() {
    let calls = corpus(8 * 1024 * 1024);
    let bytes: usize = calls.iter().map(String::len).sum();
    let options = RedactionOptions::default();
    let budget = Duration::from_secs(3);
    println!(
        "redaction throughput: {} transcripts, {:.1} KB each on average",
        calls.len(),
        bytes as f64 / calls.len() as f64 / 1024.0
    );
    let scan = measure("baseline: byte scan (count digits)", bytes, budget, || {
        calls
            .iter()
            .map(|c| c.bytes().filter(u8::is_ascii_digit).count())
            .sum()
    });
    let lower = measure("baseline: str::to_lowercase", bytes, budget, || {
        calls.iter().map(|c| c.to_lowercase().len()).sum()
    });
    let red = measure("redact (cards, CVV, expiry, SSN)", bytes, budget, || {
        calls.iter().map(|c| redact(c, &options).spans.len()).sum()
    });
    let all = measure("redact (… and e-mail)", bytes, budget, || {
        calls
            .iter()
            .map(|c| redact(c, &RedactionOptions::all()).spans.len())
            .sum()
    });
    println!("ratio redact / byte scan      = {:.3}", red / scan);
    println!("ratio redact / to_lowercase   = {:.3}", red / lower);
    println!("ratio redact+email / redact   = {:.3}", all / red);
    println!("goal >= 50 MB/s: {}", if red >= 50.0 { "met" } else { "NOT met" });
}
