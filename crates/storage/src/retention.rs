//! Retention policies per artefact kind, legal holds, and the purge report.
//!
//! A purge lists every blob, and deletes those whose age (the object store's last-modified time, i.e. when the
//! artefact was last written) exceeds its kind's retention, unless a legal hold covers its tenant or call.
//! Holds are small marker objects (`holds/{tenant}/tenant.hold`, `holds/{tenant}/calls/{call}.hold`) in the
//! same object store, so every instance sees them; a purge re-checks the holds of each candidate right
//! before deleting it, so a hold placed during a purge run is honoured.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::ids::{ArtefactKind, CallId, TenantId};

/// How long each kind of artefact is kept. `None` keeps it until deleted or shredded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    per_kind: BTreeMap<ArtefactKind, Option<TimeDelta>>,
}

/// The default retention of audio, in days.
pub const DEFAULT_AUDIO_RETENTION_DAYS: i64 = 90;

impl Default for RetentionPolicy {
    /// Audio for [`DEFAULT_AUDIO_RETENTION_DAYS`]; transcripts and extractions until deleted.
    fn default() -> Self {
        Self::keep_everything().with_retention(
            ArtefactKind::Audio,
            Some(TimeDelta::days(DEFAULT_AUDIO_RETENTION_DAYS)),
        )
    }
}

impl RetentionPolicy {
    /// A policy that keeps every kind forever.
    pub fn keep_everything() -> Self {
        Self {
            per_kind: ArtefactKind::ALL.into_iter().map(|k| (k, None)).collect(),
        }
    }

    /// Sets one kind's retention (`None`: keep). Negative durations count as zero.
    pub fn with_retention(mut self, kind: ArtefactKind, retention: Option<TimeDelta>) -> Self {
        self.per_kind
            .insert(kind, retention.map(|d| d.max(TimeDelta::zero())));
        self
    }

    /// A kind's retention.
    pub fn retention(&self, kind: ArtefactKind) -> Option<TimeDelta> {
        self.per_kind.get(&kind).copied().flatten()
    }
}

/// A legal hold: exempts a whole tenant or one call from purging and shredding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegalHold {
    /// Everything of the tenant.
    Tenant(TenantId),
    /// Every artefact of one call.
    Call(TenantId, CallId),
}

impl LegalHold {
    /// The held tenant.
    pub fn tenant(&self) -> &TenantId {
        match self {
            LegalHold::Tenant(t) | LegalHold::Call(t, _) => t,
        }
    }

    pub(crate) fn object_path(&self) -> String {
        match self {
            LegalHold::Tenant(t) => format!("holds/{t}/tenant.hold"),
            LegalHold::Call(t, c) => format!("holds/{t}/calls/{c}.hold"),
        }
    }

    pub(crate) fn from_object_path(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["holds", t, "tenant.hold"] => Some(LegalHold::Tenant(TenantId::new(*t).ok()?)),
            ["holds", t, "calls", file] => Some(LegalHold::Call(
                TenantId::new(*t).ok()?,
                CallId::new(file.strip_suffix(".hold")?).ok()?,
            )),
            _ => None,
        }
    }
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Blobs looked at.
    pub examined: u64,
    /// Blobs past retention and deleted by this run. Where the store reports deleting a missing object
    /// as success (S3, memory), a blob a concurrent purge deleted between this run's check and its delete
    /// is counted by both runs (an overcount); the local file system reports it, and it is not counted.
    pub deleted: u64,
    /// Encrypted bytes deleted.
    pub bytes_deleted: u64,
    /// Blobs past retention but kept because of a legal hold.
    pub held: u64,
    /// Blobs still within retention (or of a kind kept forever), or re-put since they were listed.
    pub retained: u64,
    /// Blobs that could not be deleted (storage path, reason); a later run retries them.
    pub failures: Vec<(String, String)>,
}
