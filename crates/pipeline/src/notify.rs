//! TEMPORARY shim with the agreed notify API, replaced by the notify module branch at merge time.
#![allow(missing_docs)]

use std::fmt::Debug;

use async_trait::async_trait;
use callbook_jobs::{CallId, JobId, TenantId};
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    CallReceived,
    CallStep,
    CallFinished,
    CallNeedsReview,
    CallDead,
    JobCreated,
    JobMoved,
    JobUpdated,
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::CallReceived => "call.received",
            EventKind::CallStep => "call.step",
            EventKind::CallFinished => "call.finished",
            EventKind::CallNeedsReview => "call.needs_review",
            EventKind::CallDead => "call.dead",
            EventKind::JobCreated => "job.created",
            EventKind::JobMoved => "job.moved",
            EventKind::JobUpdated => "job.updated",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub tenant_id: TenantId,
    pub kind: EventKind,
    pub call_id: Option<CallId>,
    pub job_id: Option<JobId>,
    pub at: DateTime<Utc>,
    pub data: Value,
    pub dedupe_key: Option<String>,
}

impl Event {
    pub fn new(tenant_id: TenantId, kind: EventKind, at: DateTime<Utc>) -> Self {
        Self {
            tenant_id,
            kind,
            call_id: None,
            job_id: None,
            at,
            data: Value::Null,
            dedupe_key: None,
        }
    }
    pub fn with_call(mut self, id: CallId) -> Self {
        self.call_id = Some(id);
        self
    }
    pub fn with_job(mut self, id: JobId) -> Self {
        self.job_id = Some(id);
        self
    }
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
    pub fn with_dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("unavailable")]
    Unavailable,
}

#[async_trait]
pub trait Notifier: Send + Sync + Debug + 'static {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError>;
}
