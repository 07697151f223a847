//! [`InboxNotifier`]: in-app notification rows in the job store.

use std::sync::Arc;

use async_trait::async_trait;
use callbook_jobs::{JobStore, UserId};

use super::{Channel, Event, EventKind, NotificationPreferences, Notifier, NotifyError};

/// Writes in-app notifications with [`ActivityStore::notify`](callbook_jobs::ActivityStore::notify).
///
/// `call.step` is never written. When every user of the tenant wants the kind in-app (the default) one
/// tenant-wide row (`user = None`) is written; otherwise one row per user who wants it. The row's `kind` is the
/// event kind and its payload the event's JSON (ids, kind, time, `data`). Events with a `dedupe_key` are
/// written at most once per key (`ActivityStore::first_delivery` with `in_app:{key}`).
#[derive(Debug, Clone)]
pub struct InboxNotifier {
    store: Arc<dyn JobStore>,
}

impl InboxNotifier {
    /// An inbox writer on this store.
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Notifier for InboxNotifier {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        if event.kind == EventKind::CallStep {
            return Ok(());
        }
        let tenant = self.store.get_tenant(event.tenant_id).await?;
        let users = self.store.list_users(event.tenant_id).await?;
        let prefs = NotificationPreferences::from_settings(&tenant.settings);
        let wanting: Vec<UserId> = users
            .iter()
            .map(|u| u.id)
            .filter(|id| prefs.wants(*id, event.kind, Channel::InApp))
            .collect();
        if wanting.is_empty() {
            return Ok(());
        }
        if let Some(key) = &event.dedupe_key
            && !self
                .store
                .first_delivery(event.tenant_id, &format!("in_app:{key}"))
                .await?
        {
            return Ok(());
        }
        let payload =
            serde_json::to_value(event).map_err(|e| NotifyError::Message(format!("event payload: {e}")))?;
        if wanting.len() == users.len() {
            self.store
                .notify(event.tenant_id, None, event.kind.as_str(), payload)
                .await?;
        } else {
            for user in wanting {
                self.store
                    .notify(event.tenant_id, Some(user), event.kind.as_str(), payload.clone())
                    .await?;
            }
        }
        Ok(())
    }
}
