//! [`Fanout`]: one notifier delivering to several.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Event, Notifier, NotifyError};

/// Delivers every event to each of its notifiers, in order. Every notifier is tried even when an earlier one
/// failed; the first error is returned (the others are logged with their kind only).
#[derive(Debug, Clone, Default)]
pub struct Fanout {
    notifiers: Vec<Arc<dyn Notifier>>,
}

impl Fanout {
    /// A fan-out to these notifiers.
    pub fn new(notifiers: Vec<Arc<dyn Notifier>>) -> Self {
        Self { notifiers }
    }
    /// Adds a notifier.
    pub fn with(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }
    /// How many notifiers it delivers to.
    pub fn len(&self) -> usize {
        self.notifiers.len()
    }
    /// Whether it has no notifier.
    pub fn is_empty(&self) -> bool {
        self.notifiers.is_empty()
    }
}

#[async_trait]
impl Notifier for Fanout {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let mut first = None;
        for notifier in &self.notifiers {
            if let Err(e) = notifier.notify(event).await {
                tracing::warn!(kind = event.kind.as_str(), event = %event.id, error = %e, "notifier failed");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}
