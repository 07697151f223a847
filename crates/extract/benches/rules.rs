//! Rules extractor throughput over the dev transcripts (single thread), against a same-run baseline: a plain
//! lower-case + whitespace-tokenise pass over the same text.
//!
//! `cargo bench -p callbook-extract --bench rules` (reads `/work/shared/eval/*.jsonl` or `CALLBOOK_EVAL_DIR`; falls
//! back to a built-in sample when the sets are absent).

use std::hint::black_box;
use std::time::{Duration, Instant};

use callbook_extract::{CallContext, RulesExtractor, Transcript};
use criterion::{Criterion, Throughput};

fn load() -> Vec<(Transcript, CallContext)> {
    let dir = std::env::var("CALLBOOK_EVAL_DIR").unwrap_or_else(|_| "/work/shared/eval".to_owned());
    let mut out = Vec::new();
    for name in [
        "fieldcalls_dev.jsonl",
        "sgd_services_homes_dev.jsonl",
        "star_scheduling_dev.jsonl",
    ] {
        let Ok(text) = std::fs::read_to_string(format!("{dir}/{name}")) else {
            continue;
        };
        for line in text.lines().take(1000) {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let started = record["call_started_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map_or_else(
                    || chrono::DateTime::from_timestamp(1_551_456_000, 0).unwrap_or_default(),
                    |d| d.to_utc(),
                );
            let zone = record["timezone"]
                .as_str()
                .and_then(|z| z.parse().ok())
                .unwrap_or(chrono_tz::America::Los_Angeles);
            let transcript = Transcript::new(record["transcript"].as_str().unwrap_or(""));
            out.push((transcript, CallContext::new(started, zone)));
        }
    }
    if out.is_empty() {
        eprintln!("eval sets not found in {dir}; benchmarking the built-in sample");
        let (t, c) = sample();
        out = vec![(t, c); 200];
    }
    out
}

fn sample() -> (Transcript, CallContext) {
    let transcript = Transcript::new(
        "Agent: Rivera and Sons Plumbing, this is Dana.\nCaller: Hi, this is Maria Lopez. My kitchen sink is leaking.\n\
         Agent: We can come tomorrow between 3 and 5. The service call is $89.\nCaller: Tomorrow between 3 and 5 works.\n\
         Agent: Address?\nCaller: 42 Oak Street, Apt 3B, Yonkers, 10701.\nAgent: Phone?\nCaller: 914-555-2177.",
    );
    let started = chrono::DateTime::from_timestamp(1_773_165_900, 0).unwrap_or_default();
    (
        transcript,
        CallContext::new(started, chrono_tz::America::New_York),
    )
}

fn baseline(calls: &[(Transcript, CallContext)]) -> usize {
    calls
        .iter()
        .map(|(t, _)| t.text.to_lowercase().split_whitespace().count())
        .sum()
}

fn rules(extractor: &RulesExtractor, calls: &[(Transcript, CallContext)]) -> usize {
    calls
        .iter()
        .map(|(t, c)| extractor.extract_sync(t, c).appointments.len())
        .sum()
}

fn time(mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_secs(3) {
        f();
        runs += 1;
    }
    start.elapsed() / runs.max(1)
}

fn main() {
    let calls = load();
    let extractor = RulesExtractor::new();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    let mut group = criterion.benchmark_group("extract");
    group.throughput(Throughput::Elements(calls.len() as u64));
    group.bench_function("baseline_lowercase_tokenise", |b| {
        b.iter(|| black_box(baseline(black_box(&calls))))
    });
    group.bench_function("rules", |b| {
        b.iter(|| black_box(rules(&extractor, black_box(&calls))))
    });
    group.finish();

    let base = time(|| {
        black_box(baseline(&calls));
    });
    let full = time(|| {
        black_box(rules(&extractor, &calls));
    });
    let per_sec = calls.len() as f64 / full.as_secs_f64();
    println!(
        "\n{} transcripts: rules {:.0} transcripts/s ({:.1} µs each); baseline lower-case+tokenise {:.0} transcripts/s; rules is {:.0}x the baseline's time",
        calls.len(),
        per_sec,
        full.as_secs_f64() * 1e6 / calls.len() as f64,
        calls.len() as f64 / base.as_secs_f64(),
        full.as_secs_f64() / base.as_secs_f64(),
    );
}
