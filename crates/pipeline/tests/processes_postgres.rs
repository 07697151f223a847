//! Two separate worker **processes** sharing 500 calls on one Postgres database, every call processed
//! exactly once (issue 7's "done when").
//!
//! The test process is the parent: it seeds a fresh database with one tenant and 500 queued calls whose
//! completed recordings (distinct WAVs) are served by a [`MockTwilioApi`] running here, writes each
//! recording's booking transcript as a `<sha256>.transcript.json` sidecar, then re-executes this test binary twice with
//! `CALLBOOK_PIPELINE_CHILD` set. Each child runs [`Worker::run`] (concurrency 8) with the Postgres store,
//! the Twilio REST client against the mock, a `file://` encrypted store in a shared directory (same master
//! key), the sidecar transcriber and the rules extractor, until nothing is queued or processing, and prints
//! its run report as one JSON line. The parent then checks the database, the mock's request log and the
//! usage counters.
//!
//! Without Postgres (no `CALLBOOK_TEST_DATABASE_URL` and no local binaries) the test skips with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The benchmarks' seeding (calls, distinct WAVs, booking transcripts) and the jobs crate's Postgres helper.
#[path = "../benches/common/mod.rs"]
mod common;

use common::{Callers, all_calls, pg};

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callbook_extract::RulesExtractor;
use callbook_jobs::{CallState, JobFilter, Page};
use callbook_pipeline::{ProviderLimits, Worker, WorkerConfig, usage};
use callbook_storage::{EncryptedStore, Keyring, MasterKey};
use callbook_telephony::testing::twilio_api::MockTwilioApi;
use callbook_telephony::twilio::TwilioTelephony;
use callbook_transcribe::fake::SidecarTranscriber;
use callbook_transcribe::{TranscribeOptions, Transcriber};
use chrono::Utc;

/// This test's name, for re-executing the binary with `--exact`.
const TEST_NAME: &str = "two_worker_processes_share_500_calls_exactly_once";
const CALLS: usize = 500;
const CHILDREN: usize = 2;
const TOKEN: &str = "mock-auth-token";
/// Generous: on a loaded 2-core machine the two children usually finish 500 calls in seconds.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Marks the child's report line on stdout (libtest prints its own lines around it).
const REPORT_PREFIX: &str = "CALLBOOK_CHILD_REPORT ";

const ENV_CHILD: &str = "CALLBOOK_PIPELINE_CHILD";
const ENV_DB: &str = "CALLBOOK_PIPELINE_CHILD_DATABASE_URL";
const ENV_TWILIO: &str = "CALLBOOK_PIPELINE_CHILD_TWILIO_URL";
const ENV_ACCOUNT: &str = "CALLBOOK_PIPELINE_CHILD_ACCOUNT_SID";
const ENV_STORAGE: &str = "CALLBOOK_PIPELINE_CHILD_STORAGE_DIR";
const ENV_KEY: &str = "CALLBOOK_PIPELINE_CHILD_MASTER_KEY";
const ENV_SIDECARS: &str = "CALLBOOK_PIPELINE_CHILD_SIDECAR_DIR";
const ENV_SYNC: &str = "CALLBOOK_PIPELINE_CHILD_SYNC_DIR";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set for the child"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_500_calls_exactly_once() {
    if let Ok(role) = std::env::var(ENV_CHILD) {
        child(&role).await;
        return;
    }
    parent().await;
}

// ------------------------------------------------------------------------------------------------ child

/// One worker process: waits until its sibling is ready too, runs the worker until the queue is empty and
/// prints its report.
async fn child(role: &str) {
    let store = callbook_jobs::open(&env(ENV_DB))
        .await
        .expect("child opens Postgres");
    let telephony = TwilioTelephony::builder()
        .with_account_sid(env(ENV_ACCOUNT))
        .with_auth_token(TOKEN)
        .with_base_url(env(ENV_TWILIO))
        .build()
        .expect("Twilio client");
    let recordings = EncryptedStore::builder()
        .with_url(format!("file://{}", env(ENV_STORAGE)))
        .with_keyring(Keyring::parse(&env(ENV_KEY)).expect("master key"))
        .build()
        .expect("file:// encrypted store");
    let transcriber = SidecarTranscriber::new().with_dir(env(ENV_SIDECARS));
    let config = WorkerConfig::new(format!("child-{role}:{}", std::process::id()))
        .with_concurrency(8)
        .with_batch_size(8)
        .with_lease(Duration::from_secs(120))
        .with_poll_interval(Duration::from_millis(20))
        .with_provider_limits(ProviderLimits {
            download: 8,
            transcribe: 8,
            extract: 8,
        })
        .with_reconciliation(None, Duration::from_secs(600), Duration::from_secs(86_400));
    let worker = Worker::new(
        config,
        store.clone(),
        Arc::new(telephony),
        Arc::new(recordings),
        Arc::new(transcriber),
        Arc::new(RulesExtractor::new()),
    );

    // Start together, so neither process drains the queue before the other has connected.
    let sync = PathBuf::from(env(ENV_SYNC));
    std::fs::write(sync.join(format!("ready-{role}")), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sync.join("go").exists() {
        assert!(
            Instant::now() < deadline,
            "child {role}: the parent never said go"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let watcher = store.clone();
    let shutdown = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let stats = watcher.queue_stats(Utc::now()).await.expect("queue stats");
            if stats.count(CallState::Queued) == 0 && stats.count(CallState::Processing) == 0 {
                return;
            }
        }
    };
    let report = worker.run(shutdown).await.expect("worker run");
    println!(
        "{REPORT_PREFIX}{}",
        serde_json::json!({
            "role": role,
            "claimed": report.claimed,
            "done": report.done,
            "no_appointment": report.no_appointment,
            "needs_review": report.needs_review,
            "retried": report.retried,
            "dead": report.dead,
            "lease_lost": report.lease_lost,
            "released": report.released,
        })
    );
}

// ------------------------------------------------------------------------------------------------ parent

struct Running {
    role: String,
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out);
        out
    })
}

async fn parent() {
    let Some(db) = pg::fresh_database("two worker processes sharing 500 calls").await else {
        eprintln!("skipping {TEST_NAME}: no Postgres (set CALLBOOK_TEST_DATABASE_URL)");
        return;
    };
    let started = Instant::now();
    let store = callbook_jobs::open(&db)
        .await
        .expect("open Postgres (runs migrations)");
    let dir = tempfile::tempdir().unwrap();
    let (storage, sidecars, sync) = (
        dir.path().join("recordings"),
        dir.path().join("sidecars"),
        dir.path().join("sync"),
    );
    for d in [&storage, &sidecars, &sync] {
        std::fs::create_dir_all(d).unwrap();
    }

    // 500 queued calls from one caller, each with its own completed recording at the (mock) provider and
    // the booking conversation as a `<sha256>.transcript.json` sidecar for that audio.
    let common::Seeded {
        tenant,
        telephony: fake,
        transcriber,
        audio,
        recording_sids,
        started_at: t0,
        ..
    } = common::seed_with(store.clone(), CALLS, Callers::One).await;
    for input in &audio {
        let transcript = transcriber
            .transcribe(input, &TranscribeOptions::default())
            .await
            .unwrap();
        std::fs::write(
            sidecars.join(format!("{}.transcript.json", input.sha256_hex())),
            serde_json::to_vec(&transcript).unwrap(),
        )
        .unwrap();
    }
    let recording_sids: HashSet<String> = recording_sids.into_iter().collect();
    assert_eq!(recording_sids.len(), CALLS);
    let queued = store.queue_stats(Utc::now()).await.unwrap();
    assert_eq!(
        (queued.count(CallState::Queued), queued.due),
        (CALLS as u64, CALLS as u64)
    );
    let account = fake.account_sid().as_str().to_owned();
    let mock = MockTwilioApi::start(fake, TOKEN).await.unwrap();
    let seeded = started.elapsed();

    // Two worker processes: this binary, re-executed.
    let exe = std::env::current_exe().unwrap();
    let master_key = MasterKey::generate(Some("k1")).unwrap().export();
    let mut running: Vec<Running> = (1..=CHILDREN)
        .map(|n| {
            let mut child = Command::new(&exe)
                .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
                .env(ENV_CHILD, n.to_string())
                .env(ENV_DB, &db)
                .env(ENV_TWILIO, mock.base_url())
                .env(ENV_ACCOUNT, &account)
                .env(ENV_STORAGE, &storage)
                .env(ENV_KEY, &master_key)
                .env(ENV_SIDECARS, &sidecars)
                .env(ENV_SYNC, &sync)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a worker process");
            let stdout = drain(child.stdout.take().unwrap());
            let stderr = drain(child.stderr.take().unwrap());
            Running {
                role: n.to_string(),
                child,
                stdout,
                stderr,
            }
        })
        .collect();

    let deadline = Instant::now() + TIMEOUT;
    let mut said_go = false;
    let mut statuses = vec![None; CHILDREN];
    while statuses.iter().any(Option::is_none) {
        if !said_go && (1..=CHILDREN).all(|n| sync.join(format!("ready-{n}")).exists()) {
            std::fs::write(sync.join("go"), b"").unwrap();
            said_go = true;
        }
        for (r, status) in running.iter_mut().zip(statuses.iter_mut()) {
            if status.is_none() {
                *status = r.child.try_wait().unwrap();
            }
        }
        // A process that failed fails the test at once (its sibling is stopped; both outputs are shown).
        if statuses.iter().flatten().any(|s| !s.success()) {
            for (r, status) in running.iter_mut().zip(statuses.iter_mut()) {
                if status.is_none() {
                    let _ = r.child.kill();
                    *status = Some(r.child.wait().unwrap());
                }
            }
            break;
        }
        if Instant::now() > deadline {
            for r in &mut running {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            let logs = collect(running);
            panic!("the worker processes did not finish within {TIMEOUT:?}; their output:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let processed_in = started.elapsed() - seeded;

    let mut reports = BTreeMap::new();
    let mut failures = Vec::new();
    let statuses: Vec<_> = statuses.into_iter().map(Option::unwrap).collect();
    let outputs: Vec<(String, String, String)> = running
        .into_iter()
        .map(|r| (r.role, r.stdout.join().unwrap(), r.stderr.join().unwrap()))
        .collect();
    for ((role, stdout, stderr), status) in outputs.iter().zip(&statuses) {
        if !status.success() {
            failures.push(format!(
                "worker process {role} exited with {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            ));
            continue;
        }
        let line = stdout
            .lines()
            .find_map(|l| l.split_once(REPORT_PREFIX).map(|(_, report)| report))
            .unwrap_or_else(|| panic!("worker process {role} printed no report:\n{stdout}\n{stderr}"));
        let report: serde_json::Value = serde_json::from_str(line).unwrap();
        reports.insert(role.clone(), report);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("seeded {CALLS} calls in {seeded:?}; two worker processes processed them in {processed_in:?}");
    for report in reports.values() {
        eprintln!("worker report: {report}");
    }

    // Each process claimed some, and the claims add up to exactly the 500 calls: none claimed twice.
    let claimed: Vec<u64> = reports.values().map(|r| r["claimed"].as_u64().unwrap()).collect();
    assert_eq!(claimed.len(), CHILDREN);
    assert!(
        claimed.iter().all(|&c| c > 0),
        "both processes claimed calls: {claimed:?}"
    );
    assert_eq!(claimed.iter().sum::<u64>(), CALLS as u64, "claims: {claimed:?}");
    let done: u64 = reports.values().map(|r| r["done"].as_u64().unwrap()).sum();
    assert_eq!(done, CALLS as u64);
    for key in [
        "retried",
        "dead",
        "lease_lost",
        "released",
        "needs_review",
        "no_appointment",
    ] {
        let n: u64 = reports.values().map(|r| r[key].as_u64().unwrap()).sum();
        assert_eq!(n, 0, "{key} across the processes");
    }

    // Every call done on its first attempt.
    let calls = all_calls(store.as_ref(), &tenant).await;
    assert_eq!(calls.len(), CALLS);
    for call in &calls {
        assert_eq!(
            call.processing.state,
            CallState::Done,
            "call {} {:?}",
            call.id,
            call.processing
        );
        assert_eq!(call.processing.attempts, 1, "call {} attempts", call.id);
        assert!(
            call.recording
                .as_ref()
                .and_then(|r| r.storage_key.as_ref())
                .is_some(),
            "call {} has its recording stored",
            call.id
        );
    }
    let stats = store.queue_stats(Utc::now()).await.unwrap();
    assert_eq!(stats.count(CallState::Done), CALLS as u64);
    assert_eq!(stats.due, 0);

    // Exactly one job per call.
    let mut jobs = Vec::new();
    let mut offset = 0;
    loop {
        let page = store
            .list_jobs(tenant.id, &JobFilter::default(), Page { offset, limit: 500 })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        offset += page.len() as u32;
        jobs.extend(page);
    }
    assert_eq!(jobs.len(), CALLS, "one job per call");
    let sources: HashSet<_> = jobs
        .iter()
        .map(|j| {
            j.source
                .as_ref()
                .expect("a booked job has its call as source")
                .call_id
        })
        .collect();
    assert_eq!(sources.len(), CALLS, "jobs come from distinct calls");
    let call_ids: HashSet<_> = calls.iter().map(|c| c.id).collect();
    assert_eq!(sources, call_ids);

    // One caller: both processes found or created the same single customer, and every job is theirs.
    let customers = store
        .search_customers(tenant.id, "Maria Lopez", 50)
        .await
        .unwrap();
    assert_eq!(
        customers.len(),
        1,
        "one customer for the one caller across both processes"
    );
    assert!(
        jobs.iter().all(|j| j.customer_id == Some(customers[0].id)),
        "every job belongs to that customer"
    );
    assert!(calls.iter().all(|c| c.customer_id == Some(customers[0].id)));

    // The provider served each recording's media exactly once (a GET of `Recordings/{sid}.wav|.mp3`).
    let mut media_gets: BTreeMap<String, usize> = BTreeMap::new();
    for r in mock.requests() {
        assert!(
            r.authenticated,
            "{} {} without valid credentials",
            r.method, r.path_and_query
        );
        let path = r.path_and_query.split('?').next().unwrap_or_default();
        if r.method == "GET"
            && let Some((_, file)) = path.rsplit_once("/Recordings/")
            && let Some((sid, ext)) = file.rsplit_once('.')
            && ext != "json"
        {
            *media_gets.entry(sid.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(media_gets.len(), CALLS, "every recording was downloaded");
    assert!(
        media_gets
            .iter()
            .all(|(sid, &n)| n == 1 && recording_sids.contains(sid)),
        "each recording downloaded exactly once: {:?}",
        media_gets.iter().filter(|(_, n)| **n != 1).collect::<Vec<_>>()
    );

    // Billed once per call.
    let period = usage::period(t0, &tenant);
    assert_eq!(
        store.usage(tenant.id, usage::CALLS, &period).await.unwrap(),
        CALLS as i64
    );
    assert_eq!(
        store.usage(tenant.id, usage::EXTRACTIONS, &period).await.unwrap(),
        CALLS as i64
    );

    // Every stored recording is a file in the shared directory, readable with the shared key.
    assert!(count_files(&storage) >= CALLS, "encrypted recordings on disk");
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { count_files(&path) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn collect(running: Vec<Running>) -> String {
    running
        .into_iter()
        .map(|r| {
            format!(
                "--- process {} stdout\n{}\n--- process {} stderr\n{}",
                r.role,
                r.stdout.join().unwrap_or_default(),
                r.role,
                r.stderr.join().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
