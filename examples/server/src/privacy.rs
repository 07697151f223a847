//! GDPR: export everything about a customer or a whole tenant as a streamed zip, and erase it completely.
//!
//! **Export** ([`write_export`]) writes a zip of JSON documents — the same records the REST API shows —
//! plus the decrypted audio and photos, and last a `manifest.json` with counts and the size and SHA-256 of
//! every other file. The archive is written entry by entry into any `AsyncWrite` (the API streams it into
//! the response body through a pipe), so memory stays bounded by the largest JSON document plus one
//! segment of audio. Layout:
//!
//! | path | content |
//! |---|---|
//! | `customers/{id}.json` | the customer (merged ones too) |
//! | `calls/{id}.json` | `{call, transcript, extraction, corrections}` as `GET /calls/{id}` shows them |
//! | `calls/{id}/{kind}/{name}` | the call's stored artefacts (audio), decrypted |
//! | `jobs/{id}.json` | `{job, notes, history, photos}` |
//! | `jobs/{id}/photos/{photo id}` | the photo, decrypted |
//! | `tenant.json`, `users.json`, `api_tokens.json`, `phone_lines.json`, `usage.json`, `audit.json`, `legal_holds.json` | whole-tenant export only; users without password hashes, tokens without hashes, lines without credentials |
//! | `manifest.json` | scope, ids, counts, and `files: [{path, size, sha256}]` |
//!
//! Crate: [`async_zip`] — the maintained async zip writer with a tokio adapter; it writes entries as streams
//! (data descriptors, no seeking), which is what a response body needs. Audio is stored (it does not
//! compress), JSON is deflated.
//!
//! **Erasure** ([`erase_customer`], [`erase_tenant`]): blobs first (the storage crate's crypto-shred of the
//! customer key, then every listed artefact of their calls and the photos of their jobs, since the pipeline
//! stores call audio under the tenant key), then the provider's copies of the recordings
//! (`Telephony::delete_recording`; a provider failure stops the erasure with an error *before* any row is
//! deleted, so a retry finds everything again), then the rows (`PrivacyStore::erase_customer` /
//! `erase_call` / `AccountStore::delete_tenant`); a tenant's keys are shredded (`shred_tenant`) right before its
//! rows go, so every retryable step runs while the tenant can still be named. A legal
//! hold on the tenant or on one of the calls refuses the erasure ([`PrivacyError::LegalHold`]).

use std::collections::BTreeMap;

use async_zip::tokio::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use callbook_jobs::{
    Actor, AuditEntry, Call, CallId, CustomerId, Job, JobFilter, JobId, JobStore, Page, PhoneLine, TenantId,
};
use callbook_storage::{LegalHold, RecordingKey, RecordingStore};
use callbook_telephony::telephony::Telephony;
use chrono::{DateTime, Utc};
use futures_util::AsyncWriteExt as _;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The page size used when walking a tenant's records.
const PAGE: u32 = 500;

/// Why an export or erasure failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivacyError {
    /// The job store failed (or the record does not exist: `NotFound`).
    #[error(transparent)]
    Store(#[from] callbook_jobs::Error),
    /// The recording store failed.
    #[error(transparent)]
    Storage(#[from] callbook_storage::Error),
    /// A legal hold covers the tenant or one of the calls: nothing was deleted.
    #[error("a legal hold covers {0}")]
    LegalHold(String),
    /// The telephony provider could not delete its copy of a recording: the rows are still there, retry.
    #[error("the provider could not delete recording copies ({failed} failed); retry the deletion")]
    Provider {
        /// How many recordings could not be deleted at the provider.
        failed: usize,
        /// Whether the provider said retrying may help.
        retryable: bool,
    },
    /// Writing the archive failed (the client went away, or the zip writer failed).
    #[error("writing the archive failed: {0}")]
    Write(String),
}

impl From<async_zip::error::ZipError> for PrivacyError {
    fn from(e: async_zip::error::ZipError) -> Self {
        PrivacyError::Write(e.to_string())
    }
}

impl From<std::io::Error> for PrivacyError {
    fn from(e: std::io::Error) -> Self {
        PrivacyError::Write(e.to_string())
    }
}

/// What an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    /// One customer (with every customer merged into it), their calls and jobs.
    Customer(CustomerId),
    /// Everything of the tenant.
    Tenant,
}

/// One file of an archive, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    /// Path inside the zip.
    pub path: String,
    /// Size in bytes (uncompressed).
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// What an export wrote (no personal data: ids and counts only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Records per kind (`customers`, `calls`, `jobs`, `audio`, `photos` …).
    pub counts: BTreeMap<String, u64>,
    /// Files written, except the manifest.
    pub files: Vec<ManifestFile>,
}

/// The archive being written: the zip writer plus the manifest so far.
struct Archive<W: tokio::io::AsyncWrite + Unpin> {
    zip: ZipFileWriter<W>,
    summary: ExportSummary,
}

impl<W: tokio::io::AsyncWrite + Unpin> Archive<W> {
    fn count(&mut self, kind: &str, n: u64) {
        *self.summary.counts.entry(kind.to_owned()).or_default() += n;
    }

    async fn json(&mut self, path: String, value: &impl Serialize) -> Result<(), PrivacyError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| PrivacyError::Write(e.to_string()))?;
        self.summary.files.push(ManifestFile {
            path: path.clone(),
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
        });
        let entry = ZipEntryBuilder::new(path.into(), Compression::Deflate);
        self.zip.write_entry_whole(entry, &bytes).await?;
        Ok(())
    }

    /// Streams a decrypted artefact into the archive, hashing it on the way.
    async fn blob(
        &mut self,
        path: String,
        recordings: &dyn RecordingStore,
        key: &RecordingKey,
    ) -> Result<bool, PrivacyError> {
        let mut stream = match recordings.get_recording(key).await {
            Ok(s) => s,
            // Gone (retention) or shredded: the JSON still says it existed.
            Err(callbook_storage::Error::NotFound { .. } | callbook_storage::Error::KeyShredded { .. }) => {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let entry = ZipEntryBuilder::new(path.clone().into(), Compression::Stored);
        let mut writer = self.zip.write_entry_stream(entry).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            writer.write_all(&chunk).await?;
        }
        writer.close().await?;
        self.summary.files.push(ManifestFile {
            path,
            size,
            sha256: hex(&hasher.finalize()),
        });
        Ok(true)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The recording key a canonical `tenant/call/kind/name` string names, if it is the tenant's.
pub fn key_from_canonical(tenant: TenantId, canonical: &str) -> Option<RecordingKey> {
    let mut parts = canonical.split('/');
    let (t, call, kind, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || t != tenant.to_string() {
        return None;
    }
    Some(RecordingKey::new(
        t.parse().ok()?,
        call.parse().ok()?,
        callbook_storage::ArtefactKind::parse(kind)?,
        name.parse().ok()?,
    ))
}

fn storage_tenant(tenant: TenantId) -> Result<callbook_storage::TenantId, PrivacyError> {
    Ok(callbook_storage::TenantId::new(tenant.to_string())?)
}

fn storage_call(id: &str) -> Result<callbook_storage::CallId, PrivacyError> {
    Ok(callbook_storage::CallId::new(id)?)
}

/// The storage "call" a job's photos live under (`job-{id}`, see the API's photo upload).
fn job_scope(job: JobId) -> String {
    format!("job-{job}")
}

/// A phone line as exported: everything except the (encrypted) credentials.
#[derive(Debug, Serialize)]
struct LineExport<'a> {
    id: String,
    provider: &'a str,
    number: String,
    provider_account_id: &'a str,
    provider_number_id: Option<&'a str>,
    webhook_mode: String,
    credentials_configured: bool,
    created_at: DateTime<Utc>,
}

impl<'a> LineExport<'a> {
    fn of(line: &'a PhoneLine) -> Self {
        Self {
            id: line.id.to_string(),
            provider: &line.provider,
            number: line.number.to_string(),
            provider_account_id: &line.provider_account_id,
            provider_number_id: line.provider_number_id.as_deref(),
            webhook_mode: line.webhook_mode.as_str().to_owned(),
            credentials_configured: line.credentials.is_some(),
            created_at: line.created_at,
        }
    }
}

/// Every page of a paged listing.
macro_rules! all_pages {
    ($fetch:expr) => {{
        let mut out = Vec::new();
        let mut offset = 0u32;
        loop {
            let page = Page { offset, limit: PAGE };
            #[allow(clippy::redundant_closure_call)]
            let batch = ($fetch)(page).await?;
            let n = batch.len() as u32;
            out.extend(batch);
            if n < PAGE {
                break;
            }
            offset += n;
        }
        out
    }};
}

/// Writes the export of `scope` as a zip into `out` and returns what it wrote. `out` is closed at the end.
pub async fn write_export<W>(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    tenant: TenantId,
    scope: ExportScope,
    out: W,
) -> Result<ExportSummary, PrivacyError>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut archive = Archive {
        zip: ZipFileWriter::with_tokio(out),
        summary: ExportSummary::default(),
    };
    let (customers, calls, jobs) = match scope {
        ExportScope::Customer(id) => {
            let footprint = store.customer_footprint(tenant, id).await?;
            let mut customers = Vec::new();
            for c in &footprint.customers {
                customers.push(store.get_customer(tenant, *c).await?);
            }
            (customers, footprint.calls, footprint.jobs)
        }
        ExportScope::Tenant => {
            let customers = all_pages!(|p| store.list_customers(tenant, p));
            let calls = all_pages!(|p| store.list_calls(tenant, None, p));
            let filter = JobFilter::default();
            let jobs = all_pages!(|p| store.list_jobs(tenant, &filter, p));
            (customers, calls, jobs)
        }
    };
    for customer in &customers {
        archive
            .json(format!("customers/{}.json", customer.id), customer)
            .await?;
    }
    archive.count("customers", customers.len() as u64);
    export_calls(&mut archive, store, recordings, tenant, &calls).await?;
    export_jobs(&mut archive, store, recordings, tenant, &jobs).await?;

    if scope == ExportScope::Tenant {
        let t = store.get_tenant(tenant).await?;
        archive.json("tenant.json".into(), &t).await?;
        let users: Vec<Value> = store
            .list_users(tenant)
            .await?
            .into_iter()
            .map(|u| json!({"id": u.id, "login": u.login, "role": u.role, "created_at": u.created_at}))
            .collect();
        archive.count("users", users.len() as u64);
        archive.json("users.json".into(), &users).await?;
        // API tokens hold no credential (only their hash, which the model does not carry).
        let tokens = store.list_api_tokens(tenant).await?;
        archive.count("api_tokens", tokens.len() as u64);
        archive.json("api_tokens.json".into(), &tokens).await?;
        let lines = store.list_phone_lines(tenant).await?;
        let views: Vec<LineExport<'_>> = lines.iter().map(LineExport::of).collect();
        archive.count("phone_lines", views.len() as u64);
        archive.json("phone_lines.json".into(), &views).await?;
        let mut usage = BTreeMap::new();
        for period in months(t.created_at, Utc::now(), &t) {
            let totals = store.list_usage(tenant, &period).await?;
            if !totals.is_empty() {
                usage.insert(period, totals);
            }
        }
        archive.json("usage.json".into(), &usage).await?;
        let audit: Vec<AuditEntry> = all_pages!(|p| store.list_audit(tenant, p));
        archive.count("audit", audit.len() as u64);
        archive.json("audit.json".into(), &audit).await?;
        let holds: Vec<Value> = recordings
            .legal_holds(&storage_tenant(tenant)?)
            .await?
            .iter()
            .map(hold_json)
            .collect();
        archive.json("legal_holds.json".into(), &holds).await?;
    }

    let manifest = json!({
        "format": "callbook-export/1",
        "scope": match scope { ExportScope::Customer(_) => "customer", ExportScope::Tenant => "tenant" },
        "tenant_id": tenant,
        "customer_id": match scope { ExportScope::Customer(id) => Some(id), ExportScope::Tenant => None },
        "generated_at": Utc::now(),
        "counts": archive.summary.counts,
        "files": archive.summary.files,
    });
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| PrivacyError::Write(e.to_string()))?;
    archive
        .zip
        .write_entry_whole(
            ZipEntryBuilder::new("manifest.json".into(), Compression::Deflate),
            &bytes,
        )
        .await?;
    let mut inner = archive.zip.close().await?.into_inner();
    tokio::io::AsyncWriteExt::shutdown(&mut inner).await?;
    Ok(archive.summary)
}

/// `YYYY-MM` periods (in the tenant's zone) from `from` to `to`, at most 120.
fn months(from: DateTime<Utc>, to: DateTime<Utc>, tenant: &callbook_jobs::Tenant) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = from;
    while at <= to && out.len() < 120 {
        let p = callbook_pipeline::usage::period(at, tenant);
        if out.last() != Some(&p) {
            out.push(p);
        }
        at += chrono::TimeDelta::days(27);
    }
    let last = callbook_pipeline::usage::period(to, tenant);
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// A legal hold as the API shows it.
pub fn hold_json(hold: &LegalHold) -> Value {
    match hold {
        LegalHold::Tenant(_) => json!({"scope": "tenant"}),
        LegalHold::Call(_, call) => json!({"scope": "call", "call_id": call.to_string()}),
    }
}

async fn export_calls<W: tokio::io::AsyncWrite + Unpin>(
    archive: &mut Archive<W>,
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    tenant: TenantId,
    calls: &[Call],
) -> Result<(), PrivacyError> {
    let st = storage_tenant(tenant)?;
    let mut blobs = 0;
    for call in calls {
        let transcript = store.get_transcript(tenant, call.id).await?;
        let extraction = store.get_extraction(tenant, call.id).await?;
        let corrections = store.list_corrections(tenant, call.id).await?;
        archive
            .json(
                format!("calls/{}.json", call.id),
                &json!({
                    "call": call,
                    "transcript": transcript.map(|t| t.document),
                    "extraction": extraction.map(|e| e.document),
                    "corrections": corrections,
                }),
            )
            .await?;
        let sc = storage_call(&call.id.to_string())?;
        for object in recordings.list_recordings(&st, Some(&sc)).await? {
            let path = format!("calls/{}/{}/{}", call.id, object.key.kind, object.key.name);
            if archive.blob(path, recordings, &object.key).await? {
                blobs += 1;
            }
        }
    }
    archive.count("calls", calls.len() as u64);
    archive.count("call_files", blobs);
    Ok(())
}

async fn export_jobs<W: tokio::io::AsyncWrite + Unpin>(
    archive: &mut Archive<W>,
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    tenant: TenantId,
    jobs: &[Job],
) -> Result<(), PrivacyError> {
    let mut photos_written = 0;
    for job in jobs {
        let notes = store.list_notes(tenant, job.id).await?;
        let history = store.stage_history(tenant, job.id).await?;
        let photos = store.list_photos(tenant, job.id).await?;
        archive
            .json(
                format!("jobs/{}.json", job.id),
                &json!({"job": job, "notes": notes, "history": history, "photos": photos}),
            )
            .await?;
        for photo in &photos {
            if let Some(key) = key_from_canonical(tenant, &photo.blob_key)
                && archive
                    .blob(format!("jobs/{}/photos/{}", job.id, photo.id), recordings, &key)
                    .await?
            {
                photos_written += 1;
            }
        }
    }
    archive.count("jobs", jobs.len() as u64);
    archive.count("photos", photos_written);
    Ok(())
}

/// What an erasure deleted (ids and counts, no personal data). Returned to the client as the deletion
/// receipt and written to the audit log (or, for a tenant, logged as a structured event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReceipt {
    /// `customer` or `tenant`.
    pub scope: String,
    /// The tenant.
    pub tenant_id: String,
    /// The customer, for a customer erasure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Calls erased.
    pub calls: u64,
    /// Jobs erased.
    pub jobs: u64,
    /// Encrypted blobs deleted (audio, photos …).
    pub blobs_deleted: u64,
    /// Data keys destroyed (crypto-shredding).
    pub keys_destroyed: u64,
    /// Recordings deleted at the telephony provider.
    pub provider_recordings_deleted: u64,
    /// Recordings the provider no longer had.
    pub provider_recordings_already_gone: u64,
    /// Rows deleted per table.
    pub rows: BTreeMap<String, u64>,
    /// When the erasure finished.
    pub erased_at: DateTime<Utc>,
}

/// Refuses when a legal hold covers the tenant or one of `calls`.
async fn check_holds(
    recordings: &dyn RecordingStore,
    tenant: TenantId,
    calls: &[Call],
) -> Result<(), PrivacyError> {
    for hold in recordings.legal_holds(&storage_tenant(tenant)?).await? {
        match &hold {
            LegalHold::Tenant(_) => return Err(PrivacyError::LegalHold("the tenant".into())),
            LegalHold::Call(_, call) => {
                if calls.iter().any(|c| c.id.to_string() == call.as_str()) {
                    return Err(PrivacyError::LegalHold(format!("call {call}")));
                }
            }
        }
    }
    Ok(())
}

/// Deletes every stored artefact of the calls and the photos of the jobs.
async fn delete_blobs(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    tenant: TenantId,
    calls: &[Call],
    jobs: &[Job],
    receipt: &mut ErasureReceipt,
) -> Result<(), PrivacyError> {
    let st = storage_tenant(tenant)?;
    let mut scopes: Vec<String> = calls.iter().map(|c| c.id.to_string()).collect();
    scopes.extend(jobs.iter().map(|j| job_scope(j.id)));
    for scope in scopes {
        let sc = storage_call(&scope)?;
        for object in recordings.list_recordings(&st, Some(&sc)).await? {
            recordings.delete_recording(&object.key).await?;
            receipt.blobs_deleted += 1;
        }
    }
    // Photos whose key is not under `job-{id}` (older layouts): delete by the stored key.
    for job in jobs {
        for photo in store.list_photos(tenant, job.id).await? {
            if let Some(key) = key_from_canonical(tenant, &photo.blob_key) {
                recordings.delete_recording(&key).await?;
            }
        }
    }
    Ok(())
}

/// Deletes the provider's copies of the calls' recordings. `NotFound` counts as already gone; any other
/// failure is retried (3 attempts for retryable errors) and then reported as [`PrivacyError::Provider`].
async fn delete_provider_copies(
    telephony: Option<&dyn Telephony>,
    calls: &[Call],
    receipt: &mut ErasureReceipt,
) -> Result<(), PrivacyError> {
    let sids: Vec<&str> = calls
        .iter()
        .filter_map(|c| c.recording.as_ref())
        .map(|r| r.provider_recording_id.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    if sids.is_empty() {
        return Ok(());
    }
    let Some(telephony) = telephony else {
        tracing::warn!(
            recordings = sids.len(),
            "no telephony configured: provider copies not deleted"
        );
        return Err(PrivacyError::Provider {
            failed: sids.len(),
            retryable: false,
        });
    };
    let mut failed = 0;
    let mut retryable = true;
    for sid in sids {
        let sid = callbook_telephony::telephony::RecordingSid::new(sid);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match telephony.delete_recording(&sid).await {
                Ok(()) => {
                    receipt.provider_recordings_deleted += 1;
                    break;
                }
                Err(callbook_telephony::Error::NotFound { .. }) => {
                    receipt.provider_recordings_already_gone += 1;
                    break;
                }
                Err(e) if e.is_retryable() && attempt < 3 => {
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    tracing::warn!(
                        retryable = e.is_retryable(),
                        "provider could not delete a recording"
                    );
                    retryable &= e.is_retryable();
                    failed += 1;
                    break;
                }
            }
        }
    }
    if failed > 0 {
        return Err(PrivacyError::Provider { failed, retryable });
    }
    Ok(())
}

fn merge_rows(receipt: &mut ErasureReceipt, rows: &BTreeMap<String, u64>) {
    for (k, v) in rows {
        *receipt.rows.entry(k.clone()).or_default() += v;
    }
}

/// Erases a customer completely: blobs (crypto-shred + listed artefacts and photos), the provider's copies of
/// the recordings, then the rows. Audited as `customer.erased` (ids and counts only).
pub async fn erase_customer(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    telephony: Option<&dyn Telephony>,
    tenant: TenantId,
    customer: CustomerId,
    actor: Actor,
) -> Result<ErasureReceipt, PrivacyError> {
    let footprint = store.customer_footprint(tenant, customer).await?;
    check_holds(recordings, tenant, &footprint.calls).await?;
    let mut receipt = ErasureReceipt {
        scope: "customer".into(),
        tenant_id: tenant.to_string(),
        customer_id: Some(customer.to_string()),
        calls: footprint.calls.len() as u64,
        jobs: footprint.jobs.len() as u64,
        ..ErasureReceipt::default()
    };
    let st = storage_tenant(tenant)?;
    for c in &footprint.customers {
        let sc = callbook_storage::CustomerId::new(c.to_string())?;
        let report = recordings.shred_customer(&st, &sc).await?;
        receipt.keys_destroyed += report.keys_destroyed;
        receipt.blobs_deleted += report.blobs_deleted;
    }
    delete_blobs(
        store,
        recordings,
        tenant,
        &footprint.calls,
        &footprint.jobs,
        &mut receipt,
    )
    .await?;
    delete_provider_copies(telephony, &footprint.calls, &mut receipt).await?;
    let report = store.erase_customer(tenant, customer).await?;
    merge_rows(&mut receipt, &report.rows);
    receipt.erased_at = Utc::now();
    store
        .append_audit(AuditEntry {
            tenant_id: tenant,
            actor,
            action: "customer.erased".into(),
            entity: "customer".into(),
            entity_id: customer.to_string(),
            details: json!({
                "customers": footprint.customers.len(),
                "calls": receipt.calls,
                "jobs": receipt.jobs,
                "blobs_deleted": receipt.blobs_deleted,
                "keys_destroyed": receipt.keys_destroyed,
                "provider_recordings_deleted": receipt.provider_recordings_deleted,
                "rows": receipt.rows,
            }),
            at: receipt.erased_at,
        })
        .await?;
    tracing::info!(tenant = %tenant, customer = %customer, calls = receipt.calls, jobs = receipt.jobs,
        blobs = receipt.blobs_deleted, "customer erased");
    Ok(receipt)
}

/// Erases one call (one that belongs to no customer) with its blobs and provider copy. Audited.
pub async fn erase_call(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    telephony: Option<&dyn Telephony>,
    tenant: TenantId,
    call: CallId,
    actor: Actor,
) -> Result<ErasureReceipt, PrivacyError> {
    let call = store.get_call(tenant, call).await?;
    let calls = vec![call];
    check_holds(recordings, tenant, &calls).await?;
    // The jobs booked from it go with it (their photos too).
    let filter = JobFilter::default();
    let jobs: Vec<Job> = all_pages!(|p| store.list_jobs(tenant, &filter, p))
        .into_iter()
        .filter(|j| j.source.is_some_and(|s| s.call_id == calls[0].id))
        .collect();
    let mut receipt = ErasureReceipt {
        scope: "call".into(),
        tenant_id: tenant.to_string(),
        calls: 1,
        jobs: jobs.len() as u64,
        ..ErasureReceipt::default()
    };
    delete_blobs(store, recordings, tenant, &calls, &jobs, &mut receipt).await?;
    delete_provider_copies(telephony, &calls, &mut receipt).await?;
    let report = store.erase_call(tenant, calls[0].id).await?;
    merge_rows(&mut receipt, &report.rows);
    receipt.erased_at = Utc::now();
    store
        .append_audit(AuditEntry {
            tenant_id: tenant,
            actor,
            action: "call.erased".into(),
            entity: "call".into(),
            entity_id: calls[0].id.to_string(),
            details: json!({"blobs_deleted": receipt.blobs_deleted, "rows": receipt.rows}),
            at: receipt.erased_at,
        })
        .await?;
    Ok(receipt)
}

/// Erases a whole tenant: every blob, the provider's copies of every recording, every row, then its keys.
/// The audit rows go with the tenant, so the receipt is logged as a structured event (ids and counts only)
/// and returned to the caller.
pub async fn erase_tenant(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    telephony: Option<&dyn Telephony>,
    tenant: TenantId,
) -> Result<ErasureReceipt, PrivacyError> {
    let calls: Vec<Call> = all_pages!(|p| store.list_calls(tenant, None, p));
    check_holds(recordings, tenant, &calls).await?;
    let filter = JobFilter::default();
    let jobs: Vec<Job> = all_pages!(|p| store.list_jobs(tenant, &filter, p));
    let mut receipt = ErasureReceipt {
        scope: "tenant".into(),
        tenant_id: tenant.to_string(),
        calls: calls.len() as u64,
        jobs: jobs.len() as u64,
        ..ErasureReceipt::default()
    };
    let st = storage_tenant(tenant)?;
    for object in recordings.list_recordings(&st, None).await? {
        recordings.delete_recording(&object.key).await?;
        receipt.blobs_deleted += 1;
    }
    delete_provider_copies(telephony, &calls, &mut receipt).await?;
    // Keys before rows: once the rows are gone the tenant cannot be named again to retry, so every step
    // that can fail and be retried (blobs, provider copies, keys) runs while the tenant still exists.
    let shred = recordings.shred_tenant(&st).await?;
    receipt.keys_destroyed += shred.keys_destroyed;
    receipt.blobs_deleted += shred.blobs_deleted;
    let report = store.delete_tenant(tenant).await?;
    merge_rows(&mut receipt, &report.rows);
    receipt.erased_at = Utc::now();
    tracing::info!(
        target: "callbook::audit",
        action = "tenant.erased",
        tenant = %tenant,
        calls = receipt.calls,
        jobs = receipt.jobs,
        blobs = receipt.blobs_deleted,
        keys = receipt.keys_destroyed,
        provider_recordings = receipt.provider_recordings_deleted,
        rows = report.total(),
        "tenant erased"
    );
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys_round_trip_and_stay_in_their_tenant() {
        let t = TenantId::new();
        let key = RecordingKey::audio(&t.to_string(), "c1", "RE1").unwrap();
        assert_eq!(key_from_canonical(t, &key.canonical()), Some(key.clone()));
        assert_eq!(key_from_canonical(TenantId::new(), &key.canonical()), None);
        assert_eq!(key_from_canonical(t, "a/b"), None);
    }
}
