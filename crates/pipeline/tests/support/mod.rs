//! Shared harness: the worker over the real in-memory backends (InMemoryJobStore, FakeTelephony, the
//! `memory://` encrypted RecordingStore, ScriptedTranscriber and RulesExtractor).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    unreachable_pub,
    unused_imports
)] // helpers outside #[test] fns

pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
pub use std::time::Duration;

pub use async_trait::async_trait;
pub use bytes::Bytes;
pub use callbook_extract::{
    CallContext, Extraction, Extractor, ExtractorInfo, RulesExtractor, Transcript as ExTranscript,
};
pub use callbook_jobs::{
    Call, CallState, CallStore, CustomerStore, InMemoryJobStore, JobBoard, JobFilter, JobStore, NewCall,
    NewTenant, Page, PhoneNumber, RecordingRef, Stage, TenantId, TenantStore, TimeZone, WorkQueue,
};
pub use callbook_pipeline::{Outcome, Worker, WorkerConfig};
pub use callbook_storage::{EncryptedStore, Keyring, MasterKey, RecordingStore, RecordingStoreExt};
pub use callbook_telephony::fake::FakeTelephony;
pub use callbook_telephony::telephony::{CallSid, RecordingSid, Telephony};
pub use callbook_transcribe::fake::ScriptedTranscriber;
pub use callbook_transcribe::{AudioInput, Capabilities, TranscribeOptions, Transcriber};
pub use chrono::{DateTime, TimeDelta, Utc};

pub const BOOKING: &str = "Agent: Rivera and Sons Plumbing, this is Dana.\n\
     Caller: Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
     Agent: We can come tomorrow between 3 and 5.\n\
     Caller: Tomorrow between 3 and 5 works. I'm at 42 Oak Street, Apt 3B, Yonkers.\n\
     Agent: Phone?\n\
     Caller: 914-555-2177.";

/// A mono 8 kHz 16-bit PCM WAV of `samples` samples whose content depends on `seed` (distinct hashes).
pub fn wav(seed: u8, samples: u32) -> Bytes {
    let pcm = (0..samples)
        .map(|i| ((i as i32 * (seed as i32 + 1)) % 2000 - 1000) as f32 / 32767.0)
        .collect();
    callbook_transcribe::audio::encode_wav_pcm16(&[pcm], 8000).unwrap()
}

/// Delegates to the scripted transcriber but panics on the first call (a worker crash mid-step).
#[derive(Debug)]
pub struct PanicsOnce {
    pub inner: ScriptedTranscriber,
    pub panicked: AtomicBool,
}

#[async_trait]
impl Transcriber for PanicsOnce {
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
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("simulated worker crash");
        }
        self.inner.transcribe(audio, options).await
    }
}

/// Counts recording downloads, delegating everything to the fake.
#[derive(Debug)]
pub struct CountingTelephony {
    pub inner: FakeTelephony,
    pub downloads: AtomicUsize,
}

#[async_trait]
impl Telephony for CountingTelephony {
    fn capabilities(&self) -> callbook_telephony::telephony::Capabilities {
        self.inner.capabilities()
    }
    async fn search_available_numbers(
        &self,
        search: &callbook_telephony::telephony::NumberSearch,
    ) -> callbook_telephony::Result<Vec<callbook_telephony::telephony::AvailableNumber>> {
        self.inner.search_available_numbers(search).await
    }
    async fn purchase_number(
        &self,
        request: &callbook_telephony::telephony::PurchaseRequest,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.purchase_number(request).await
    }
    async fn fetch_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.fetch_number(sid).await
    }
    async fn configure_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
        webhooks: &callbook_telephony::telephony::WebhookConfig,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::OwnedNumber> {
        self.inner.configure_number(sid, webhooks).await
    }
    async fn list_numbers(
        &self,
        page: &callbook_telephony::telephony::PageRequest,
    ) -> callbook_telephony::Result<
        callbook_telephony::telephony::Page<callbook_telephony::telephony::OwnedNumber>,
    > {
        self.inner.list_numbers(page).await
    }
    async fn release_number(
        &self,
        sid: &callbook_telephony::telephony::NumberSid,
    ) -> callbook_telephony::Result<()> {
        self.inner.release_number(sid).await
    }
    async fn fetch_recording(
        &self,
        sid: &RecordingSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::RecordingInfo> {
        self.inner.fetch_recording(sid).await
    }
    async fn list_recordings(
        &self,
        filter: &callbook_telephony::telephony::RecordingFilter,
        page: &callbook_telephony::telephony::PageRequest,
    ) -> callbook_telephony::Result<
        callbook_telephony::telephony::Page<callbook_telephony::telephony::RecordingInfo>,
    > {
        self.inner.list_recordings(filter, page).await
    }
    async fn download_recording(
        &self,
        sid: &RecordingSid,
        format: callbook_telephony::telephony::AudioFormat,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::RecordingMedia> {
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.inner.download_recording(sid, format).await
    }
    async fn delete_recording(&self, sid: &RecordingSid) -> callbook_telephony::Result<()> {
        self.inner.delete_recording(sid).await
    }
    async fn fetch_call(
        &self,
        sid: &CallSid,
    ) -> callbook_telephony::Result<callbook_telephony::telephony::CallInfo> {
        self.inner.fetch_call(sid).await
    }
}

#[path = "../../../jobs/tests/support/pg.rs"]
mod pg;

pub struct Harness {
    pub store: Arc<dyn JobStore>,
    /// Keeps a SQLite database's directory alive.
    pub dir: Option<Arc<tempfile::TempDir>>,
    pub telephony: Arc<CountingTelephony>,
    pub recordings: Arc<EncryptedStore>,
    pub transcriber: ScriptedTranscriber,
    pub tenant: TenantId,
    pub t0: DateTime<Utc>,
}

impl Harness {
    /// On the in-memory store.
    pub async fn new() -> Self {
        Self::with_store(Arc::new(InMemoryJobStore::new()), None).await
    }

    /// On a SQLite file in a fresh temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/callbook.db", dir.path().display());
        let store = callbook_jobs::open(&url).await.unwrap();
        Self::with_store(store, Some(Arc::new(dir))).await
    }

    /// On a fresh Postgres database, when one is available (else `None`, said on stderr).
    pub async fn postgres() -> Option<Self> {
        let url = pg::fresh_database("pipeline worker tests").await?;
        let store = callbook_jobs::open(&url).await.unwrap();
        Some(Self::with_store(store, None).await)
    }

    pub async fn with_store(store: Arc<dyn JobStore>, dir: Option<Arc<tempfile::TempDir>>) -> Self {
        let tenant = store
            .create_tenant(NewTenant::new(
                "Rivera and Sons Plumbing",
                TimeZone::parse("America/New_York").unwrap(),
            ))
            .await
            .unwrap()
            .id;
        let recordings = Arc::new(
            EncryptedStore::builder()
                .with_url("memory://")
                .with_keyring(Keyring::new(MasterKey::generate(Some("k1")).unwrap()))
                .build()
                .unwrap(),
        );
        Self {
            store,
            dir,
            telephony: Arc::new(CountingTelephony {
                inner: FakeTelephony::new(),
                downloads: AtomicUsize::new(0),
            }),
            recordings,
            transcriber: ScriptedTranscriber::new(),
            tenant,
            t0: "2026-03-10T18:05:00Z".parse().unwrap(),
        }
    }

    pub fn worker_with(&self, transcriber: Arc<dyn Transcriber>) -> Worker {
        Worker::new(
            WorkerConfig::new("worker-1")
                .with_lease(Duration::from_secs(60))
                .with_batch_size(10)
                .with_max_attempts(3)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(600)),
            self.store.clone(),
            self.telephony.clone(),
            self.recordings.clone(),
            transcriber,
            Arc::new(RulesExtractor::new()),
        )
    }

    pub fn worker(&self) -> Worker {
        self.worker_with(Arc::new(self.transcriber.clone()))
    }

    /// A queued call with a completed recording at the provider whose audio is `audio`.
    pub async fn queued_call(&self, n: u8, audio: Bytes) -> (Call, RecordingSid) {
        let call_sid = CallSid::new(format!("CA{n:032x}"));
        let rec = self
            .telephony
            .inner
            .add_completed_recording(&call_sid, "audio/wav", audio, 30, 1);
        let (call, _) = self
            .store
            .record_call(
                self.tenant,
                NewCall {
                    provider: "twilio".into(),
                    provider_call_id: call_sid.as_str().to_owned(),
                    phone_line_id: None,
                    from: Some(PhoneNumber::parse("+19145552177").unwrap()),
                    to: Some(PhoneNumber::parse("+12125550100").unwrap()),
                    started_at: self.t0,
                    provider_status: "completed".into(),
                },
            )
            .await
            .unwrap();
        let call = self
            .store
            .set_recording(
                self.tenant,
                call.id,
                RecordingRef {
                    provider_recording_id: rec.sid.as_str().to_owned(),
                    duration_seconds: Some(30),
                    storage_key: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(call.processing.state, CallState::Queued);
        (call, rec.sid)
    }

    pub async fn call(&self, call: &Call) -> Call {
        self.store.get_call(self.tenant, call.id).await.unwrap()
    }

    pub async fn job_count(&self) -> usize {
        self.store
            .list_jobs(self.tenant, &JobFilter::default(), Page::first(100))
            .await
            .unwrap()
            .len()
    }

    pub fn downloads(&self) -> usize {
        self.telephony.downloads.load(Ordering::SeqCst)
    }
}

/// Runs each named `async fn(Harness)` test on the in-memory store, on SQLite, and on Postgres when one is
/// available (CI provides it; else the Postgres variants say so on stderr and pass).
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Harness::new().await).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Harness::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(h) = $crate::support::Harness::postgres().await {
                        super::$name(h).await
                    }
                }
            )*
        }
    };
}
