//! Store benchmarks, run with `cargo bench -p callbook-jobs --all-features --bench store`.
//!
//! * Board query: one tenant with 10,000 jobs spread over the six stages; one page (50) of one column,
//!   p50/p99 over 300 queries, on the in-memory store, SQLite (file, WAL) and Postgres.
//! * Claim throughput: 4 concurrent claimers drain 2,000 queued calls: claiming one call at a time and
//!   finishing it (the worker loop), claiming one at a time, and claiming in batches of 10.
//!
//! Every figure is printed with its ratio to the in-memory store measured in the same run, because the
//! machine is shared (other builds run at the same time) and absolute numbers move. Postgres is
//! `CALLBOOK_TEST_DATABASE_URL` or a throwaway cluster started from the Debian binaries; without either its
//! rows are skipped with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/pg.rs"]
mod pg;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callbook_jobs::*;
use chrono::Utc;

const JOBS: usize = 10_000;
const QUERIES: usize = 300;
const CALLS: usize = 2_000;
const CLAIMERS: usize = 4;

async fn seed_board(store: &dyn JobStore) -> TenantId {
    let tenant = store
        .create_tenant(NewTenant::new(
            "Bench",
            TimeZone::parse("America/New_York").unwrap(),
        ))
        .await
        .unwrap();
    for i in 0..JOBS {
        let start = Utc::now() + chrono::Duration::hours(i as i64);
        let job = store
            .create_job(
                tenant.id,
                NewJob {
                    description: format!("job number {i}: kitchen sink leaking under the cabinet"),
                    scheduled_start: Some(start),
                    scheduled_end: Some(start + chrono::Duration::hours(1)),
                    price: Some(Money::new(8900, "USD")),
                    ..NewJob::titled(format!("Job {i}"))
                },
                Actor::pipeline(),
            )
            .await
            .unwrap();
        let stage = Stage::ALL[i % Stage::ALL.len()];
        if stage != Stage::QuoteRequested {
            store
                .move_job(tenant.id, job.id, 1, stage, None, Actor::pipeline())
                .await
                .unwrap();
        }
    }
    tenant.id
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn board(store: &dyn JobStore, tenant: TenantId) -> (Duration, Duration) {
    let filter = JobFilter {
        stage: Some(Stage::Confirmed),
        ..JobFilter::default()
    };
    let mut times = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES + 20 {
        let page = Page {
            offset: (i % 10) as u32 * 50,
            limit: 50,
        };
        let t = Instant::now();
        let jobs = store.list_jobs(tenant, &filter, page).await.unwrap();
        let elapsed = t.elapsed();
        assert_eq!(jobs.len(), 50);
        if i >= 20 {
            times.push(elapsed);
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn claims(store: Arc<dyn JobStore>, batch: u32, finish: bool) -> f64 {
    let tenant = store
        .create_tenant(NewTenant::new("Claims", TimeZone::UTC))
        .await
        .unwrap();
    for i in 0..CALLS {
        let (call, _) = store
            .record_call(tenant.id, testing::new_call(&format!("CB{batch}-{i}")))
            .await
            .unwrap();
        store
            .set_recording(
                tenant.id,
                call.id,
                RecordingRef {
                    provider_recording_id: "RE".into(),
                    duration_seconds: None,
                    storage_key: None,
                },
            )
            .await
            .unwrap();
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..CLAIMERS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("bench-{w}");
            let mut n = 0usize;
            loop {
                let now = Utc::now();
                let got = store
                    .claim_calls(&owner, now, Duration::from_secs(300), batch, 5)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                if finish {
                    for c in &got {
                        store
                            .finish_call(c.tenant_id, c.id, &c.lease().unwrap(), now, CallState::Done)
                            .await
                            .unwrap();
                    }
                }
                n += got.len();
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, CALLS, "every call claimed exactly once");
    total as f64 / start.elapsed().as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("store: bench");
        return;
    }
    let dir = std::env::temp_dir().join(format!("callbook-jobs-bench-{}", std::process::id()));
    let mut backends: Vec<(&str, Arc<dyn JobStore>)> = vec![
        ("memory", Arc::new(InMemoryJobStore::new())),
        (
            "sqlite",
            open(&format!("sqlite://{}/bench.db", dir.display()))
                .await
                .unwrap(),
        ),
    ];
    match pg::fresh_database("benchmarks").await {
        Some(url) => backends.push(("postgres", open(&url).await.unwrap())),
        None => eprintln!("postgres rows skipped"),
    }

    println!("board query: {JOBS} jobs in one tenant, one page of 50 in one stage, {QUERIES} queries");
    let mut base = None;
    for (name, store) in &backends {
        let seed = Instant::now();
        let tenant = seed_board(store.as_ref()).await;
        let seeded = seed.elapsed();
        let (p50, p99) = board(store.as_ref(), tenant).await;
        let (b50, b99) = *base.get_or_insert((p50, p99));
        println!(
            "  {name:<8} p50 {:>10} ({:>6.1}x memory)  p99 {:>10} ({:>6.1}x memory)  [seeded in {:.1} s]",
            ms(p50),
            p50.as_secs_f64() / b50.as_secs_f64(),
            ms(p99),
            p99.as_secs_f64() / b99.as_secs_f64(),
            seeded.as_secs_f64()
        );
    }

    for (batch, finish) in [(1u32, true), (1, false), (10, false)] {
        let what = if finish {
            "claim + finish (the worker loop)"
        } else {
            "claim only"
        };
        println!("claim throughput: {CLAIMERS} concurrent claimers, {CALLS} calls, batch {batch}, {what}");
        let mut base = None;
        for (name, store) in &backends {
            let rate = claims(store.clone(), batch, finish).await;
            let b = *base.get_or_insert(rate);
            println!("  {name:<8} {rate:>10.0} claims/s ({:>6.3}x memory)", rate / b);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
