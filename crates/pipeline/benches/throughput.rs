//! Throughput: calls per second end to end through [`callbook_pipeline::Worker::run`] with instant fakes
//! (FakeTelephony, `memory://` encrypted storage, ScriptedTranscriber, RulesExtractor), on the in-memory,
//! SQLite and Postgres job stores (Postgres when `CALLBOOK_TEST_DATABASE_URL` is set or local binaries
//! exist). Goal: ≥ 200 calls/s on SQLite on 2 cores.
//!
//! Baseline, measured in the same run on the same store: the store operations alone for the same number of
//! calls, with the same concurrency (claim in batches, four checkpoints, finish), so `worker ÷ store-only`
//! shows what the worker adds (download, encryption, transcription and extraction fakes, redaction,
//! booking, usage metering) on top of the queue's own cost.
//!
//! `cargo bench -p callbook-pipeline --bench throughput` (`CALLBOOK_BENCH_CALLS` overrides the 500 calls).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callbook_extract::RulesExtractor;
use callbook_jobs::{CallState, JobStore};
use chrono::Utc;
use common::{Backend, Seeded, all_calls, queue_empty, seed, worker};

const CONCURRENCY: usize = 16;

/// The worker's run over the seeded calls: (seconds, calls done).
async fn worker_run(seeded: &Seeded) -> (f64, usize) {
    let worker = worker(
        seeded,
        CONCURRENCY,
        Arc::new(seeded.transcriber.clone()),
        Arc::new(RulesExtractor::new()),
    );
    let started = Utc::now();
    let report = worker.run(queue_empty(seeded.store.clone())).await.unwrap();
    let calls = all_calls(seeded.store.as_ref(), &seeded.tenant).await;
    // Up to the last call's finish, not the (polled) end of the run.
    let secs = common::ms(started, common::last_finish(&calls)) / 1000.0;
    let done = calls
        .iter()
        .filter(|c| c.processing.state == CallState::Done)
        .count();
    assert_eq!(report.done, done, "the report matches the store");
    (secs, done)
}

/// The store operations alone: `CONCURRENCY` tasks claim in batches and checkpoint each call four times
/// before finishing it `done`. Returns (seconds, calls finished).
async fn store_only(store: Arc<dyn JobStore>) -> (f64, usize) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let store = store.clone();
        tasks.spawn(async move {
            let owner = format!("baseline-{t}");
            let mut finished = 0;
            loop {
                let calls = store
                    .claim_calls(&owner, Utc::now(), Duration::from_secs(300), 1, 8)
                    .await
                    .unwrap();
                if calls.is_empty() {
                    return finished;
                }
                for call in calls {
                    let lease = call.lease().unwrap();
                    for step in ["stored", "transcribed", "extracted", "booked"] {
                        store
                            .checkpoint(
                                call.tenant_id,
                                call.id,
                                &lease,
                                Utc::now(),
                                step,
                                Some(serde_json::json!({ "step": step })),
                            )
                            .await
                            .unwrap();
                    }
                    store
                        .finish_call(call.tenant_id, call.id, &lease, Utc::now(), CallState::Done)
                        .await
                        .unwrap();
                    finished += 1;
                }
            }
        });
    }
    let mut finished = 0;
    while let Some(n) = tasks.join_next().await {
        finished += n.unwrap();
    }
    (started.elapsed().as_secs_f64(), finished)
}

fn main() {
    let calls: usize = std::env::var("CALLBOOK_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    println!("pipeline throughput: {calls} calls, concurrency {CONCURRENCY}, instant fakes");
    println!("machine: {}", common::machine());
    println!();
    println!(
        "| store | worker calls/s | store-only calls/s (baseline) | worker ÷ store-only time | worker ms/call |"
    );
    println!("|---|---:|---:|---:|---:|");
    rt.block_on(async {
        for backend in Backend::ALL {
            let Some(store) = backend.open(dir.path()).await else {
                println!("| {} | skipped (no Postgres) | | | |", backend.name());
                continue;
            };
            let seeded = seed(store, calls).await;
            let (worker_secs, done) = worker_run(&seeded).await;
            assert_eq!(done, calls, "{}: every call done", backend.name());

            let Some(baseline) = backend.open(dir.path()).await else {
                continue;
            };
            let baseline = seed(baseline, calls).await;
            let (base_secs, finished) = store_only(baseline.store.clone()).await;
            assert_eq!(finished, calls);
            println!(
                "| {} | {:.0} | {:.0} | {:.2}× | {:.2} |",
                backend.name(),
                calls as f64 / worker_secs,
                calls as f64 / base_secs,
                worker_secs / base_secs,
                worker_secs * 1000.0 / calls as f64,
            );
        }
    });
    println!();
    println!("machine after the run: {}", common::machine());
}
