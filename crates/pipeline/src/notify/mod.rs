//! Notifications: pipeline and board events delivered live (in-process broadcast, Postgres `LISTEN/NOTIFY`
//! between processes), to the in-app inbox and by e-mail with the job's `.ics` attached.
//!
//! Every delivery path implements [`Notifier`]; [`Fanout`] combines several. The worker and the server publish
//! an [`Event`] and do not care who listens. See the crate README's "Notifications" section for the
//! preferences schema and the delivery guarantees of each channel.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use callbook_jobs::{CallId, JobId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "email")]
mod email;
mod error;
mod fanout;
mod inbox;
mod live;
#[cfg(feature = "postgres")]
mod pg;
mod prefs;

#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub use email::{EmailNotifier, EmailNotifierBuilder, publish_ics};
pub use error::NotifyError;
pub use fanout::Fanout;
pub use inbox::InboxNotifier;
pub use live::{DEFAULT_CHANNEL_CAPACITY, DEFAULT_REPLAY_CAPACITY, LiveHub};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg::{CHANNEL as PG_CHANNEL, MAX_PAYLOAD_BYTES, PgFanout, payload as pg_payload};
pub use prefs::{Channel, NotificationPreferences, UserPreferences};

/// An event's id: a UUID v7, so ids sort by the time they were made (used by SSE `Last-Event-ID` replay).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    /// Wraps an existing UUID.
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}

impl FromStr for EventId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What happened. Serialized as its dotted name ([`EventKind::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// A call was recorded (`call.received`).
    CallReceived,
    /// The worker finished a step of a call (`call.step`); live only by default.
    CallStep,
    /// A call was processed to its end (`call.finished`).
    CallFinished,
    /// A call needs a person to decide (`call.needs_review`).
    CallNeedsReview,
    /// A call failed for good (`call.dead`).
    CallDead,
    /// A job was created (`job.created`).
    JobCreated,
    /// A job moved to another stage (`job.moved`).
    JobMoved,
    /// A job's details changed (`job.updated`).
    JobUpdated,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 8] = [
        EventKind::CallReceived,
        EventKind::CallStep,
        EventKind::CallFinished,
        EventKind::CallNeedsReview,
        EventKind::CallDead,
        EventKind::JobCreated,
        EventKind::JobMoved,
        EventKind::JobUpdated,
    ];

    /// The dotted name, e.g. `job.created`.
    pub const fn as_str(&self) -> &'static str {
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

    /// The kind with this dotted name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        EventKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind `{name}`")))
    }
}

/// One notification event. Small and free of personal data: ids, a kind and a few words of `data`
/// (`{"step":"transcribed"}`, `{"state":"done"}`, `{"stage":"quote_requested"}`) — never transcript text,
/// phone numbers or addresses. Receivers load details through the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Id (time-ordered).
    pub id: EventId,
    /// Owning tenant: events never cross tenants.
    pub tenant_id: TenantId,
    /// What happened.
    pub kind: EventKind,
    /// The call concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    /// The job concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// A small JSON detail (`null` when none).
    #[serde(default)]
    pub data: serde_json::Value,
    /// Deterministic key for events that may be produced again (a retried pipeline step), e.g.
    /// `job.created:{job_id}`: e-mail is sent at most once per key and recipient. `None` for one-off events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_key: Option<String>,
}

impl Event {
    /// An event with a fresh id and no call, job, data or dedupe key.
    pub fn new(tenant: TenantId, kind: EventKind, at: DateTime<Utc>) -> Self {
        Self {
            id: EventId::new(),
            tenant_id: tenant,
            kind,
            call_id: None,
            job_id: None,
            at,
            data: serde_json::Value::Null,
            dedupe_key: None,
        }
    }
    /// Sets the call.
    pub fn with_call(mut self, call: CallId) -> Self {
        self.call_id = Some(call);
        self
    }
    /// Sets the job.
    pub fn with_job(mut self, job: JobId) -> Self {
        self.job_id = Some(job);
        self
    }
    /// Sets the data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
    /// Sets the dedupe key.
    pub fn with_dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// `job.created` for a job booked from a call (`{"stage": "quote_requested"}`), dedupe key
    /// `job.created:{job}`.
    pub fn job_created(tenant: TenantId, call: Option<CallId>, job: JobId, at: DateTime<Utc>) -> Self {
        let event = Self::new(tenant, EventKind::JobCreated, at)
            .with_job(job)
            .with_data(serde_json::json!({"stage": "quote_requested"}))
            .with_dedupe_key(format!("job.created:{job}"));
        match call {
            Some(call) => event.with_call(call),
            None => event,
        }
    }

    /// `call.step` after a pipeline step (`{"step": step}`), dedupe key `call.step:{call}:{step}`.
    pub fn call_step(tenant: TenantId, call: CallId, step: &str, at: DateTime<Utc>) -> Self {
        Self::new(tenant, EventKind::CallStep, at)
            .with_call(call)
            .with_data(serde_json::json!({"step": step}))
            .with_dedupe_key(format!("call.step:{call}:{step}"))
    }

    /// The event for a call's end state: `call.finished` (`{"state": state}`, e.g. `done`, `no_appointment`),
    /// `call.needs_review` or `call.dead` by `kind`; dedupe key `{kind}:{call}`.
    pub fn call_outcome(
        tenant: TenantId,
        call: CallId,
        kind: EventKind,
        state: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self::new(tenant, kind, at)
            .with_call(call)
            .with_data(serde_json::json!({"state": state}))
            .with_dedupe_key(format!("{}:{call}", kind.as_str()))
    }
}

/// A delivery path for events.
///
/// `notify` returns once the event is handed over (published, written or sent). A notifier that has nothing to
/// do for an event (a kind nobody wants on its channel) returns `Ok(())`.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// Delivers one event.
    async fn notify(&self, event: &Event) -> Result<(), NotifyError>;
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        (**self).notify(event).await
    }
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Box<T> {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        (**self).notify(event).await
    }
}

// Compile-time check that the trait stays object-safe.
const _: Option<&dyn Notifier> = None;
