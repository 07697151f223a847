//! Usage metering: what the worker counts per tenant and month, the basis for billing.
//!
//! Counters live in the job store ([`callbook_jobs::ActivityStore::record_usage`] and `list_usage`), keyed by
//! tenant, metric and period. The period is the calendar month (`YYYY-MM`) of the call's start **in the
//! tenant's time zone**, so a call at 23:30 on 31 March in New York is March's. Each step meters under the key
//! `call:{call_id}:{step}` in the same transaction as the counters, so a step repeated after a crash (or a
//! call re-queued for reprocessing) is never counted twice.
//!
//! | metric | unit | when |
//! |---|---|---|
//! | [`CALLS`] | calls | the recording is stored |
//! | [`STORAGE_BYTES`] | bytes of audio stored (plaintext size) | the recording is stored |
//! | [`AUDIO_SECONDS`] | seconds of audio, rounded up per call | transcribed |
//! | [`TRANSCRIPTION_SECONDS`] | seconds the transcription provider bills (duration-billed models) | transcribed |
//! | [`TRANSCRIPTION_TOKENS`] | tokens the transcription provider bills (gpt-4o family) | transcribed |
//! | [`EXTRACTIONS`] | extractions | extracted |
//! | [`LLM_PROMPT_TOKENS`], [`LLM_COMPLETION_TOKENS`] | model tokens of the extraction (incl. a repair attempt) | extracted |
//!
//! ```
//! use callbook_jobs::{ActivityStore, InMemoryJobStore, NewTenant, TenantStore, TimeZone};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = InMemoryJobStore::new();
//! let tenant = store
//!     .create_tenant(NewTenant::new("Acme Plumbing", TimeZone::parse("America/New_York")?))
//!     .await?;
//! store
//!     .record_usage(tenant.id, "call:1:stored", "2026-11", &[(callbook_pipeline::usage::CALLS, 1)])
//!     .await?;
//! // What the settings page shows: this month's counters.
//! let totals = store.list_usage(tenant.id, "2026-11").await?;
//! assert_eq!((totals[0].metric.as_str(), totals[0].total), ("calls", 1));
//! # Ok::<_, callbook_jobs::Error>(()) }).unwrap();
//! ```

use callbook_jobs::Tenant;
use chrono::{DateTime, Utc};

/// Calls whose recording was stored.
pub const CALLS: &str = "calls";
/// Plaintext bytes of audio stored.
pub const STORAGE_BYTES: &str = "storage_bytes";
/// Seconds of call audio (each call rounded up).
pub const AUDIO_SECONDS: &str = "audio_seconds";
/// Seconds billed by a duration-billed transcription provider.
pub const TRANSCRIPTION_SECONDS: &str = "transcription_seconds";
/// Tokens billed by a token-billed transcription provider.
pub const TRANSCRIPTION_TOKENS: &str = "transcription_tokens";
/// Extractions run.
pub const EXTRACTIONS: &str = "extractions";
/// Model prompt tokens used by extraction.
pub const LLM_PROMPT_TOKENS: &str = "llm_prompt_tokens";
/// Model completion tokens used by extraction.
pub const LLM_COMPLETION_TOKENS: &str = "llm_completion_tokens";

/// The billing period (`YYYY-MM`) of a call that started at `started_at`, in the tenant's zone.
///
/// ```
/// use callbook_jobs::{InMemoryJobStore, NewTenant, TenantStore, TimeZone};
/// use chrono::TimeZone as _;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = InMemoryJobStore::new();
/// let tenant = store
///     .create_tenant(NewTenant::new("Acme", TimeZone::parse("America/New_York")?))
///     .await?;
/// // 03:30 UTC on 1 April is still 31 March in New York.
/// let at = chrono::Utc.with_ymd_and_hms(2026, 4, 1, 3, 30, 0).unwrap();
/// assert_eq!(callbook_pipeline::usage::period(at, &tenant), "2026-03");
/// # Ok::<_, callbook_jobs::Error>(()) }).unwrap();
/// ```
pub fn period(started_at: DateTime<Utc>, tenant: &Tenant) -> String {
    started_at
        .with_timezone(&tenant.timezone.tz())
        .format("%Y-%m")
        .to_string()
}
