//! Retention: deletes what each tenant's policy says has expired, on a schedule, honouring legal holds.
//!
//! The policy lives in the tenant's settings (`retention`, edited through `PATCH /api/v1/settings`):
//!
//! ```json
//! {"retention": {"audio_days": 90, "transcript_days": null, "extraction_days": 365}}
//! ```
//!
//! `null` keeps that kind until it is deleted; a missing section means the storage crate's default (audio 90
//! days, everything else kept). One run ([`run_once`]) walks every tenant (`list_tenants`) and
//!
//! * purges **blobs** with the storage crate's `purge_expired` (audio by `audio_days`, transcript blobs by
//!   `transcript_days`; age = when the blob was written). Extraction *blobs* are always kept: job photos are
//!   stored under the extraction kind (see the API's photo upload) and are not a retention artefact;
//! * purges **stored transcripts and extractions** (database rows) of calls that started before
//!   `now - days` with `PrivacyStore::purge_call_artefacts`, passing the calls under a legal hold as `keep`;
//!   a tenant-wide hold skips the tenant;
//! * audits what it deleted (`retention.purged`, counts only) and counts it in the metrics
//!   `callbook_retention_purged_total{kind}` and `callbook_retention_runs_total`.
//!
//! The server runs it every `CALLBOOK_RETENTION_INTERVAL` (default `1h`; `off` disables it), first one interval
//! after start; `callbook retention run [--dry-run]` runs it once from the command line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use callbook_jobs::{Actor, AuditEntry, CallId, JobStore, Page, PurgeKind, Tenant, TenantId};
use callbook_storage::{ArtefactKind, LegalHold, RecordingStore, RetentionPolicy};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The default interval between runs.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// The longest retention accepted, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// A tenant's retention settings: days per artefact kind, `None` = keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSettings {
    /// Call audio.
    pub audio_days: Option<u32>,
    /// Transcripts (the stored document and any transcript blob).
    pub transcript_days: Option<u32>,
    /// Extractions (the stored document).
    pub extraction_days: Option<u32>,
}

impl Default for RetentionSettings {
    /// Audio for the storage crate's default (90 days); transcripts and extractions kept.
    fn default() -> Self {
        Self {
            audio_days: Some(callbook_storage::retention::DEFAULT_AUDIO_RETENTION_DAYS as u32),
            transcript_days: None,
            extraction_days: None,
        }
    }
}

impl RetentionSettings {
    /// The policy in `settings["retention"]`; missing fields take the default, invalid ones too (the
    /// settings API refuses invalid values, so this only meets hand-edited rows).
    pub fn from_settings(settings: &Value) -> Self {
        let defaults = Self::default();
        let section = &settings["retention"];
        let field = |name: &str, default: Option<u32>| match section.get(name) {
            None => default,
            Some(Value::Null) => None,
            Some(v) => v
                .as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d <= MAX_DAYS)
                .or(default),
        };
        Self {
            audio_days: field("audio_days", defaults.audio_days),
            transcript_days: field("transcript_days", defaults.transcript_days),
            extraction_days: field("extraction_days", defaults.extraction_days),
        }
    }

    /// The storage crate's blob policy (extraction blobs kept: photos live there).
    pub fn blob_policy(&self) -> RetentionPolicy {
        let days = |d: Option<u32>| d.map(|d| TimeDelta::days(i64::from(d)));
        RetentionPolicy::keep_everything()
            .with_retention(ArtefactKind::Audio, days(self.audio_days))
            .with_retention(ArtefactKind::Transcript, days(self.transcript_days))
            .with_retention(ArtefactKind::Extraction, None)
    }
}

/// Parses `CALLBOOK_RETENTION_INTERVAL`: `off`, or a number with unit `s`, `m`, `h` or `d` (`90m`, `1h`,
/// `1d`); a bare number is seconds. `None` = off. At least one minute.
pub fn parse_interval(value: &str) -> Result<Option<Duration>, String> {
    let v = value.trim().to_ascii_lowercase();
    if v == "off" || v == "0" || v == "never" {
        return Ok(None);
    }
    let (number, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not `off` or a duration such as 30m, 1h, 1d"))?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{value:?}: the unit must be s, m, h or d")),
    };
    if secs < 60 {
        return Err(format!("{value:?} is shorter than one minute"));
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// What one run did (or, dry, would do), summed over tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Tenants looked at.
    pub tenants: u64,
    /// Tenants skipped because a tenant-wide legal hold covers them.
    pub tenants_held: u64,
    /// Blobs deleted (dry run: that would be deleted).
    pub blobs_deleted: u64,
    /// Expired blobs kept because of a legal hold.
    pub blobs_held: u64,
    /// Stored transcripts deleted.
    pub transcripts_purged: u64,
    /// Stored extractions deleted.
    pub extractions_purged: u64,
    /// Failures (tenant id and kind of failure, no personal data); the next run retries.
    pub failures: Vec<String>,
}

/// Runs retention once for every tenant at `now`. With `dry_run` nothing is deleted and the report counts
/// what would be.
pub async fn run_once(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let mut offset = 0;
    loop {
        let tenants = store.list_tenants(Page { offset, limit: 100 }).await?;
        let n = tenants.len() as u32;
        for tenant in &tenants {
            report.tenants += 1;
            if let Err(e) = run_tenant(store, recordings, tenant, now, dry_run, &mut report).await {
                tracing::warn!(tenant = %tenant.id, error = %e, "retention failed for a tenant");
                report
                    .failures
                    .push(format!("{}: {}", tenant.id, failure_kind(&e)));
            }
        }
        if n < 100 {
            break;
        }
        offset += n;
    }
    metrics::counter!("callbook_retention_runs_total").increment(1);
    if !dry_run {
        metrics::counter!("callbook_retention_purged_total", "kind" => "blob")
            .increment(report.blobs_deleted);
        metrics::counter!("callbook_retention_purged_total", "kind" => "transcript")
            .increment(report.transcripts_purged);
        metrics::counter!("callbook_retention_purged_total", "kind" => "extraction")
            .increment(report.extractions_purged);
    }
    tracing::info!(
        tenants = report.tenants,
        blobs = report.blobs_deleted,
        held = report.blobs_held,
        transcripts = report.transcripts_purged,
        extractions = report.extractions_purged,
        failures = report.failures.len(),
        dry_run,
        "retention run"
    );
    Ok(report)
}

fn failure_kind(e: &anyhow::Error) -> &'static str {
    if e.downcast_ref::<callbook_jobs::Error>().is_some() {
        "store"
    } else if e.downcast_ref::<callbook_storage::Error>().is_some() {
        "storage"
    } else {
        "other"
    }
}

async fn run_tenant(
    store: &dyn JobStore,
    recordings: &dyn RecordingStore,
    tenant: &Tenant,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut RetentionReport,
) -> anyhow::Result<()> {
    let settings = RetentionSettings::from_settings(&tenant.settings);
    let st = callbook_storage::TenantId::new(tenant.id.to_string())?;
    let holds = recordings.legal_holds(&st).await?;
    if holds.iter().any(|h| matches!(h, LegalHold::Tenant(_))) {
        report.tenants_held += 1;
        return Ok(());
    }
    let held_calls: Vec<String> = holds
        .iter()
        .filter_map(|h| match h {
            LegalHold::Call(_, c) => Some(c.to_string()),
            LegalHold::Tenant(_) => None,
        })
        .collect();
    let keep: Vec<CallId> = held_calls.iter().filter_map(|c| c.parse().ok()).collect();
    let policy = settings.blob_policy();

    let (blobs_deleted, blobs_held) = if dry_run {
        let mut deleted = 0;
        let mut held = 0;
        for object in recordings.list_recordings(&st, None).await? {
            let expired = policy.retention(object.key.kind).is_some_and(|keep| {
                object
                    .last_modified
                    .checked_add_signed(keep)
                    .is_some_and(|expiry| expiry <= now)
            });
            if expired {
                if held_calls.iter().any(|c| c == object.key.call.as_str()) {
                    held += 1;
                } else {
                    deleted += 1;
                }
            }
        }
        (deleted, held)
    } else {
        let purge = recordings.purge_expired(&policy, now, Some(&st)).await?;
        for (path, _) in &purge.failures {
            // Storage paths hold ids only.
            report.failures.push(format!("{}: blob {path}", tenant.id));
        }
        (purge.deleted, purge.held)
    };
    report.blobs_deleted += blobs_deleted;
    report.blobs_held += blobs_held;

    let mut purged = BTreeMap::new();
    for (kind, days, name) in [
        (PurgeKind::Transcript, settings.transcript_days, "transcripts"),
        (PurgeKind::Extraction, settings.extraction_days, "extractions"),
    ] {
        let Some(days) = days else { continue };
        let before = now - TimeDelta::days(i64::from(days));
        let n = if dry_run {
            count_purgeable(store, tenant.id, kind, before, &keep).await?
        } else {
            store
                .purge_call_artefacts(tenant.id, kind, before, &keep)
                .await?
                .len() as u64
        };
        purged.insert(name, n);
    }
    let transcripts = purged.get("transcripts").copied().unwrap_or(0);
    let extractions = purged.get("extractions").copied().unwrap_or(0);
    report.transcripts_purged += transcripts;
    report.extractions_purged += extractions;

    if !dry_run && blobs_deleted + transcripts + extractions > 0 {
        store
            .append_audit(AuditEntry {
                tenant_id: tenant.id,
                actor: Actor::System("retention".into()),
                action: "retention.purged".into(),
                entity: "tenant".into(),
                entity_id: tenant.id.to_string(),
                details: json!({
                    "blobs_deleted": blobs_deleted,
                    "blobs_held": blobs_held,
                    "transcripts": transcripts,
                    "extractions": extractions,
                    "policy": settings,
                }),
                at: now,
            })
            .await?;
    }
    Ok(())
}

/// Dry run: calls that started before `before`, not kept, with the artefact stored.
async fn count_purgeable(
    store: &dyn JobStore,
    tenant: TenantId,
    kind: PurgeKind,
    before: DateTime<Utc>,
    keep: &[CallId],
) -> anyhow::Result<u64> {
    let mut n = 0;
    let mut offset = 0;
    loop {
        let calls = store
            .list_calls(tenant, None, Page { offset, limit: 500 })
            .await?;
        let len = calls.len() as u32;
        for call in calls {
            if call.started_at >= before || keep.contains(&call.id) {
                continue;
            }
            let present = match kind {
                PurgeKind::Transcript => store.get_transcript(tenant, call.id).await?.is_some(),
                PurgeKind::Extraction => store.get_extraction(tenant, call.id).await?.is_some(),
                #[allow(unreachable_patterns)]
                _ => false,
            };
            n += u64::from(present);
        }
        if len < 500 {
            break;
        }
        offset += len;
    }
    Ok(n)
}

/// Runs [`run_once`] every `interval` (first after one interval) until `stop` turns `true` (or forever,
/// with the runtime, when `stop` is `None`). A run interrupted by shutdown is harmless: purging is
/// idempotent and the next run finishes the work.
pub fn spawn(
    store: Arc<dyn JobStore>,
    recordings: Arc<dyn RecordingStore>,
    interval: Duration,
    mut stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stopped = async {
                match stop.as_mut() {
                    Some(rx) => {
                        while rx.changed().await.is_ok() {
                            if *rx.borrow() {
                                return;
                            }
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stopped => return,
            }
            if let Err(e) = run_once(store.as_ref(), recordings.as_ref(), Utc::now(), false).await {
                tracing::warn!(error = %e, "retention run failed");
            }
        }
    })
}

/// `callbook retention run [--dry-run]`: one run over the configured database and storage; prints the
/// report as JSON on stdout.
pub async fn run_cli(dry_run: bool) -> anyhow::Result<std::process::ExitCode> {
    let config = crate::config::Config::from_env()?;
    let store = crate::app::open_store(&config).await?;
    let (keyring, _) = crate::app::keyring(&config)?;
    let recordings = crate::app::recording_store(&config, keyring)?;
    let report = run_once(store.as_ref(), &recordings, Utc::now(), dry_run).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"dry_run": dry_run, "report": report}))?
    );
    Ok(if report.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_off() {
        assert_eq!(parse_interval("1h"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse_interval("90m"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(parse_interval("1d"), Ok(Some(Duration::from_secs(86_400))));
        assert_eq!(parse_interval("600"), Ok(Some(Duration::from_secs(600))));
        assert_eq!(parse_interval("off"), Ok(None));
        assert!(parse_interval("10s").is_err());
        assert!(parse_interval("1w").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn settings_fill_defaults_and_null_keeps() {
        assert_eq!(
            RetentionSettings::from_settings(&json!({})),
            RetentionSettings::default()
        );
        let s = RetentionSettings::from_settings(
            &json!({"retention": {"audio_days": null, "transcript_days": 30, "extraction_days": "x"}}),
        );
        assert_eq!(
            s,
            RetentionSettings {
                audio_days: None,
                transcript_days: Some(30),
                extraction_days: None
            }
        );
        let policy = s.blob_policy();
        assert_eq!(policy.retention(ArtefactKind::Audio), None);
        assert_eq!(
            policy.retention(ArtefactKind::Transcript),
            Some(TimeDelta::days(30))
        );
        assert_eq!(policy.retention(ArtefactKind::Extraction), None);
    }
}
