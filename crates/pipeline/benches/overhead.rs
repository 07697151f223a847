//! Overhead with simulated provider latency: transcription takes 3 s and extraction 2 s (the instant fakes
//! behind sleeping decorators), 50 calls at once (concurrency 50, every provider limit 50). Per call, the
//! end-to-end time (from the start of [`callbook_pipeline::Worker::run`], when all 50 are due, to the call's
//! `done` timestamp in the store) minus the providers' own 5 s is the worker's overhead: claiming,
//! download, encryption, checkpoints, redaction, booking, usage metering. Goal: p99 < 50 ms.
//!
//! Baseline, measured in the same run: 50 tasks calling the same slow transcriber and extractor directly
//! (no worker, no store), whose time beyond 5 s is the timers' and scheduler's own slack; the table shows
//! both and the ratio of the p99 end-to-end times.
//!
//! `cargo bench -p callbook-pipeline --bench overhead`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callbook_extract::{Extractor, RulesExtractor};
use callbook_jobs::CallState;
use callbook_pipeline::mapping;
use callbook_transcribe::fake::ScriptedTranscriber;
use callbook_transcribe::{TranscribeOptions, Transcriber};
use chrono::Utc;
use common::{Backend, Seeded, SlowExtractor, SlowTranscriber, all_calls, percentile, queue_empty, seed};

const CALLS: usize = 50;
const CONCURRENCY: usize = 50;
const TRANSCRIBE: Duration = Duration::from_secs(3);
const EXTRACT: Duration = Duration::from_secs(2);

type Slow = (Arc<SlowTranscriber<ScriptedTranscriber>>, Arc<dyn Extractor>);

/// The instant fakes behind decorators that take `transcribe` and `extract`.
fn slow(seeded: &Seeded, transcribe: Duration, extract: Duration) -> Slow {
    (
        Arc::new(SlowTranscriber::new(seeded.transcriber.clone(), transcribe)),
        Arc::new(SlowExtractor {
            inner: RulesExtractor::new(),
            delay: extract,
        }),
    )
}

/// Through the worker, per call (each sorted): end-to-end ms beyond the providers' 5 s, and ms from the
/// start until its transcription started (claim, download, encryption, checkpoint).
async fn through_worker(seeded: &Seeded) -> (Vec<f64>, Vec<f64>) {
    let (transcriber, extractor) = slow(seeded, TRANSCRIBE, EXTRACT);
    let worker = common::worker(seeded, CONCURRENCY, transcriber.clone(), extractor);
    let started = Utc::now();
    let report = worker.run(queue_empty(seeded.store.clone())).await.unwrap();
    assert_eq!(report.done, CALLS, "every call done");
    let providers = (TRANSCRIBE + EXTRACT).as_secs_f64() * 1000.0;
    let mut overhead: Vec<f64> = all_calls(seeded.store.as_ref(), &seeded.tenant)
        .await
        .iter()
        .map(|c| {
            assert_eq!(c.processing.state, CallState::Done);
            common::ms(started, c.updated_at) - providers
        })
        .collect();
    overhead.sort_by(f64::total_cmp);
    let mut before: Vec<f64> = transcriber
        .started
        .lock()
        .unwrap()
        .iter()
        .map(|at| common::ms(started, *at))
        .collect();
    before.sort_by(f64::total_cmp);
    (overhead, before)
}

/// Per call (sorted): ms beyond `transcribe + extract` when 50 tasks call the slow providers directly.
async fn providers_only(seeded: &Seeded, transcribe: Duration, extract: Duration) -> Vec<f64> {
    let (transcriber, extractor) = slow(seeded, transcribe, extract);
    let calls = all_calls(seeded.store.as_ref(), &seeded.tenant).await;
    let tenant = seeded.tenant.clone();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (call, audio) in calls.into_iter().zip(seeded.audio.iter().cloned()) {
        let (transcriber, extractor, tenant) = (transcriber.clone(), extractor.clone(), tenant.clone());
        tasks.spawn(async move {
            let transcript = transcriber
                .transcribe(&audio, &TranscribeOptions::default())
                .await
                .unwrap();
            let context = mapping::call_context(&call, &tenant);
            extractor
                .extract(&mapping::transcript_for_extraction(&transcript), &context)
                .await
                .unwrap();
            started.elapsed()
        });
    }
    let providers = (transcribe + extract).as_secs_f64() * 1000.0;
    let mut overhead = Vec::with_capacity(CALLS);
    while let Some(elapsed) = tasks.join_next().await {
        overhead.push(elapsed.unwrap().as_secs_f64() * 1000.0 - providers);
    }
    overhead.sort_by(f64::total_cmp);
    overhead
}

fn main() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "pipeline overhead: {CALLS} calls at once, transcription {TRANSCRIBE:?} + extraction {EXTRACT:?} per call"
    );
    println!("machine: {}", common::machine());
    println!();
    println!(
        "| store | overhead p50 ms | p95 ms | p99 ms | max ms | of which before transcription p50 / p99 ms | providers-only p99 ms (baseline) | e2e p99 ÷ baseline e2e p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    rt.block_on(async {
        for backend in Backend::ALL {
            let Some(store) = backend.open(dir.path()).await else {
                println!("| {} | skipped (no Postgres) | | | | | | |", backend.name());
                continue;
            };
            let seeded = seed(store, CALLS).await;
            // Warm-up (lazily built extraction rules, timers), then the baseline, then the worker.
            providers_only(&seeded, Duration::ZERO, Duration::ZERO).await;
            let baseline = providers_only(&seeded, TRANSCRIBE, EXTRACT).await;
            let (overhead, before) = through_worker(&seeded).await;
            let providers = (TRANSCRIBE + EXTRACT).as_secs_f64() * 1000.0;
            let p99 = percentile(&overhead, 99.0);
            let base99 = percentile(&baseline, 99.0);
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.1} | {:.4}× |",
                backend.name(),
                percentile(&overhead, 50.0),
                percentile(&overhead, 95.0),
                p99,
                overhead.last().copied().unwrap_or(f64::NAN),
                percentile(&before, 50.0),
                percentile(&before, 99.0),
                base99,
                (providers + p99) / (providers + base99),
            );
            // The store's rows are read back once more so an unfinished call cannot hide.
            let left = seeded
                .store
                .list_calls(
                    seeded.tenant.id,
                    Some(CallState::Queued),
                    callbook_jobs::Page::first(10),
                )
                .await
                .unwrap();
            assert!(left.is_empty(), "{}: calls left queued", backend.name());
        }
    });
    println!();
    println!("machine after the run: {}", common::machine());
}
