//! Shared set-up of the pipeline benchmarks: stores, seeded calls, instant and slow provider fakes, and
//! percentile/table helpers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use callbook_extract::{CallContext, Extraction, Extractor, ExtractorInfo, RulesExtractor};
use callbook_jobs::{
    Call, CallState, JobStore, NewCall, NewTenant, Page, PhoneNumber, RecordingRef, Tenant, TimeZone,
};
use callbook_pipeline::{ProviderLimits, Worker, WorkerConfig};
use callbook_storage::{EncryptedStore, Keyring, MasterKey};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::CallSid;
use callbook_transcribe::fake::ScriptedTranscriber;
use callbook_transcribe::{AudioInput, Capabilities, TranscribeOptions, Transcriber};
use chrono::{DateTime, Utc};

#[path = "../../../jobs/tests/support/pg.rs"]
pub mod pg;

pub const BOOKING: &str = "Agent: Rivera and Sons Plumbing, this is Dana.\n\
     Caller: Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
     Agent: We can come tomorrow between 3 and 5.\n\
     Caller: Tomorrow between 3 and 5 works. I'm at 42 Oak Street, Apt 3B, Yonkers.\n\
     Agent: Phone?\n\
     Caller: 914-555-2177.";

const FIRST: [&str; 10] = [
    "Maria", "James", "Linda", "Robert", "Susan", "David", "Karen", "Michael", "Nancy", "Thomas",
];
const LAST: [&str; 10] = [
    "Lopez", "Smith", "Chen", "Patel", "Garcia", "Brown", "Nguyen", "Kim", "Miller", "Davis",
];

/// A mono 8 kHz 16-bit PCM WAV (0.5 s and a bit), distinct for every `n`.
pub fn wav(n: u32) -> Bytes {
    let pcm = (0..4000 + n)
        .map(|i| ((i as i64 * (n as i64 % 97 + 1)) % 2000 - 1000) as f32 / 32767.0)
        .collect();
    callbook_transcribe::audio::encode_wav_pcm16(&[pcm], 8000).expect("a mono 8 kHz WAV")
}

/// Which job store a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Memory, Backend::Sqlite, Backend::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "in-memory",
            Backend::Sqlite => "SQLite (file)",
            Backend::Postgres => "Postgres",
        }
    }

    /// A fresh, empty store, or `None` when Postgres is unavailable (pg.rs says why on stderr).
    pub async fn open(self, dir: &std::path::Path) -> Option<Arc<dyn JobStore>> {
        let url = match self {
            Backend::Memory => "memory://".to_owned(),
            Backend::Sqlite => format!(
                "sqlite://{}/jobs-{}.db",
                dir.display(),
                uuid::Uuid::new_v4().simple()
            ),
            Backend::Postgres => pg::fresh_database("pipeline benchmark on Postgres").await?,
        };
        Some(callbook_jobs::open(&url).await.expect("open the job store"))
    }
}

/// A store seeded with one tenant and due calls with completed recordings at a [`FakeTelephony`], and the
/// instant fakes that process them.
pub struct Seeded {
    pub store: Arc<dyn JobStore>,
    pub tenant: Tenant,
    pub telephony: FakeTelephony,
    pub transcriber: ScriptedTranscriber,
    /// Each call's audio, in seeding order.
    pub audio: Vec<AudioInput>,
    /// Each call's provider recording id, in seeding order.
    pub recording_sids: Vec<String>,
    pub started_at: DateTime<Utc>,
}

/// Who calls: the caller mix of a seeded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// A different caller on every call (people calling at once, not one person again and again): their
    /// own number, address and (mostly) name.
    Distinct,
    /// The same caller every time — Maria Lopez, 42 Oak Street, 914-555-2177 — one customer, many jobs.
    One,
    /// Every caller named Maria Lopez at 42 Oak Street, each with their own number.
    Lookalike,
}

impl Callers {
    /// `CALLBOOK_BENCH_CALLERS`: `one`, `lookalike`, else distinct.
    pub fn from_env() -> Self {
        match std::env::var("CALLBOOK_BENCH_CALLERS").as_deref() {
            Ok("one") => Callers::One,
            Ok("lookalike") => Callers::Lookalike,
            _ => Callers::Distinct,
        }
    }
}

/// [`seed_with`] the caller mix `CALLBOOK_BENCH_CALLERS` names.
pub async fn seed(store: Arc<dyn JobStore>, n: usize) -> Seeded {
    seed_with(store, n, Callers::from_env()).await
}

/// One tenant and `n` queued calls started at 2026-03-10T18:05Z, each with its own completed recording
/// (a distinct WAV) at the fake provider and a booking conversation scripted for that audio.
pub async fn seed_with(store: Arc<dyn JobStore>, n: usize, callers: Callers) -> Seeded {
    let tenant = store
        .create_tenant(NewTenant::new(
            "Rivera and Sons Plumbing",
            TimeZone::parse("America/New_York").unwrap(),
        ))
        .await
        .unwrap();
    let telephony = FakeTelephony::new();
    let transcriber = ScriptedTranscriber::new();
    let started_at: DateTime<Utc> = "2026-03-10T18:05:00Z".parse().unwrap();
    let mut audio = Vec::with_capacity(n);
    let mut recording_sids = Vec::with_capacity(n);
    let one_caller = callers == Callers::One;
    let lookalike = callers == Callers::Lookalike;
    for i in 0..n as u32 {
        let bytes = wav(i);
        let input = AudioInput::from_bytes(bytes.clone()).unwrap();
        let caller = if one_caller { 1177 } else { i };
        let phone = format!("914-555-{:04}", 1000 + caller % 9000);
        let name = if lookalike || one_caller {
            "Maria Lopez".to_owned()
        } else {
            format!(
                "{} {}",
                FIRST[caller as usize % FIRST.len()],
                LAST[(caller as usize / FIRST.len()) % LAST.len()]
            )
        };
        let text = BOOKING
            .replace("914-555-2177", &phone)
            .replace("Maria Lopez", &name)
            .replace(
                "42 Oak Street",
                &format!(
                    "{} Oak Street",
                    if lookalike || one_caller { 42 } else { 10 + caller }
                ),
            );
        transcriber.script_text(&input, &text);
        let call_sid = CallSid::new(format!("CA{i:032x}"));
        let rec = telephony.add_completed_recording(&call_sid, "audio/wav", bytes, 1, 1);
        let (call, _) = store
            .record_call(
                tenant.id,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: call_sid.as_str().to_owned(),
                    phone_line_id: None,
                    from: Some(PhoneNumber::parse(&format!("+1{}", phone.replace('-', ""))).unwrap()),
                    to: Some(PhoneNumber::parse("+12125550100").unwrap()),
                    started_at,
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
        store
            .set_recording(
                tenant.id,
                call.id,
                RecordingRef {
                    provider_recording_id: rec.sid.as_str().to_owned(),
                    duration_seconds: Some(1),
                    storage_key: None,
                },
            )
            .await
            .unwrap();
        audio.push(input);
        recording_sids.push(rec.sid.as_str().to_owned());
    }
    Seeded {
        store,
        tenant,
        telephony,
        transcriber,
        audio,
        recording_sids,
        started_at,
    }
}

pub fn memory_recordings() -> Arc<EncryptedStore> {
    Arc::new(
        EncryptedStore::builder()
            .with_url("memory://")
            .with_keyring(Keyring::new(MasterKey::generate(Some("k1")).unwrap()))
            .build()
            .unwrap(),
    )
}

/// The worker settings of the benchmarks: `concurrency` calls at once, claims in batches of that size,
/// every provider limit at least `concurrency`, no reconciliation.
pub fn config(concurrency: usize) -> WorkerConfig {
    WorkerConfig::new(format!("bench:{}", std::process::id()))
        .with_concurrency(concurrency)
        .with_batch_size(concurrency as u32)
        .with_lease(Duration::from_secs(300))
        .with_poll_interval(Duration::from_millis(5))
        .with_provider_limits(ProviderLimits {
            download: concurrency,
            transcribe: concurrency,
            extract: concurrency,
        })
        .with_reconciliation(None, Duration::from_secs(600), Duration::from_secs(86_400))
}

pub fn worker(
    seeded: &Seeded,
    concurrency: usize,
    transcriber: Arc<dyn Transcriber>,
    extractor: Arc<dyn Extractor>,
) -> Worker {
    Worker::new(
        config(concurrency),
        seeded.store.clone(),
        Arc::new(seeded.telephony.clone()),
        memory_recordings(),
        transcriber,
        extractor,
    )
}

/// Completes once nothing is queued or processing (checked every 25 ms, so the check itself hardly loads
/// the store; the figures use the calls' own finish times, not this).
pub async fn queue_empty(store: Arc<dyn JobStore>) {
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let stats = store.queue_stats(Utc::now()).await.unwrap();
        if stats.count(CallState::Queued) == 0 && stats.count(CallState::Processing) == 0 {
            return;
        }
    }
}

/// Every call of the tenant.
pub async fn all_calls(store: &dyn JobStore, tenant: &Tenant) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut offset = 0;
    loop {
        let page = store
            .list_calls(tenant.id, None, Page { offset, limit: 500 })
            .await
            .unwrap();
        if page.is_empty() {
            return calls;
        }
        offset += page.len() as u32;
        calls.extend(page);
    }
}

/// Sleeps `delay`, then transcribes with the inner fake (a provider that takes that long). Records when
/// each transcription started.
#[derive(Debug)]
pub struct SlowTranscriber<T> {
    pub inner: T,
    pub delay: Duration,
    pub started: std::sync::Mutex<Vec<DateTime<Utc>>>,
}

impl<T> SlowTranscriber<T> {
    pub fn new(inner: T, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            started: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl<T: Transcriber> Transcriber for SlowTranscriber<T> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn transcribe(
        &self,
        audio: &AudioInput,
        options: &TranscribeOptions,
    ) -> callbook_transcribe::Result<callbook_transcribe::Transcript> {
        self.started.lock().unwrap().push(Utc::now());
        tokio::time::sleep(self.delay).await;
        self.inner.transcribe(audio, options).await
    }
}

/// Sleeps `delay`, then extracts with the rules extractor (a model that takes that long).
#[derive(Debug)]
pub struct SlowExtractor {
    pub inner: RulesExtractor,
    pub delay: Duration,
}

#[async_trait]
impl Extractor for SlowExtractor {
    fn info(&self) -> ExtractorInfo {
        self.inner.info()
    }
    async fn extract(
        &self,
        transcript: &callbook_extract::Transcript,
        context: &CallContext,
    ) -> callbook_extract::Result<Extraction> {
        tokio::time::sleep(self.delay).await;
        self.inner.extract(transcript, context).await
    }
}

/// The `p`-th percentile (0..=100, nearest rank) of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `nproc` and the load average, to print with the figures (other builders share the machine).
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores, load average {}", load.join(" "))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// When the last call finished (its `updated_at` once `done`).
pub fn last_finish(calls: &[Call]) -> DateTime<Utc> {
    calls.iter().map(|c| c.updated_at).max().unwrap()
}

/// Milliseconds from `from` to `to`.
pub fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap() as f64 / 1000.0
}
