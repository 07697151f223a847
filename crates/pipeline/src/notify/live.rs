//! [`LiveHub`]: in-process broadcast of events per tenant, with a replay ring for reconnecting SSE clients.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use callbook_jobs::TenantId;
use tokio::sync::broadcast;

use super::{Event, EventId, Notifier, NotifyError};

/// Events kept per tenant for [`LiveHub::replay_after`] unless configured otherwise.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000;
/// Events a subscriber may fall behind before it gets `RecvError::Lagged`, unless configured otherwise.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 256;

/// In-process live events: one [`tokio::sync::broadcast`] channel per tenant (created by the first
/// subscriber, dropped at the next publish after the last subscriber left) and a bounded replay ring per
/// tenant.
///
/// Cloning is cheap and every clone is the same hub. Publishing is idempotent per [`EventId`]: an event whose
/// id is still in the tenant's ring is not delivered again (so a hub fed both locally and by
/// [`PgFanout`](crate::notify::PgFanout)'s listener delivers each event once).
///
/// A subscriber that falls more than the channel capacity behind gets
/// [`broadcast::error::RecvError::Lagged`] with the number of events it missed, and continues with the oldest
/// event still buffered; an SSE server should then resync with [`LiveHub::replay_after`] or tell the client to
/// reload.
#[derive(Debug, Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    replay_capacity: usize,
    channel_capacity: usize,
    tenants: Mutex<HashMap<TenantId, TenantState>>,
}

#[derive(Debug, Default)]
struct TenantState {
    sender: Option<broadcast::Sender<Event>>,
    ring: VecDeque<Event>,
    ids: HashSet<EventId>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    /// A hub keeping [`DEFAULT_REPLAY_CAPACITY`] events per tenant, channels of [`DEFAULT_CHANNEL_CAPACITY`].
    pub fn new() -> Self {
        Self::with_capacities(DEFAULT_REPLAY_CAPACITY, DEFAULT_CHANNEL_CAPACITY)
    }

    /// A hub keeping `replay` events per tenant (0 disables replay) and letting subscribers fall `channel`
    /// events behind (at least 1).
    pub fn with_capacities(replay: usize, channel: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                replay_capacity: replay,
                channel_capacity: channel.max(1),
                tenants: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, TenantState>> {
        // A panic while holding the lock leaves consistent data (every mutation is a single push/pop).
        self.inner
            .tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sender(&self, state: &mut TenantState) -> broadcast::Sender<Event> {
        state
            .sender
            .get_or_insert_with(|| broadcast::channel(self.inner.channel_capacity).0)
            .clone()
    }

    /// Live events of one tenant from now on.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<Event> {
        let mut tenants = self.lock();
        let state = tenants.entry(tenant).or_default();
        self.sender(state).subscribe()
    }

    /// Subscribes and, atomically with it, returns the events after `last` (see [`LiveHub::replay_after`]),
    /// so that nothing falls between the replay and the live stream and nothing is in both.
    pub fn subscribe_after(
        &self,
        tenant: TenantId,
        last: EventId,
    ) -> (broadcast::Receiver<Event>, Option<Vec<Event>>) {
        let mut tenants = self.lock();
        let state = tenants.entry(tenant).or_default();
        let receiver = self.sender(state).subscribe();
        (receiver, replay(state, last))
    }

    /// The tenant's events published after `last`, oldest first; `None` when `last` is not in the replay ring
    /// (older than the ring, or unknown): the client has missed events and must reload.
    pub fn replay_after(&self, tenant: TenantId, last: EventId) -> Option<Vec<Event>> {
        let tenants = self.lock();
        tenants.get(&tenant).and_then(|state| replay(state, last))
    }

    /// Publishes an event to its tenant's subscribers and ring. Returns `false` (and delivers nothing) when an
    /// event with the same id is still in the ring.
    pub fn publish(&self, event: Event) -> bool {
        let mut tenants = self.lock();
        let state = tenants.entry(event.tenant_id).or_default();
        if state.ids.contains(&event.id) {
            return false;
        }
        if self.inner.replay_capacity > 0 {
            if state.ring.len() == self.inner.replay_capacity
                && let Some(old) = state.ring.pop_front()
            {
                state.ids.remove(&old.id);
            }
            state.ids.insert(event.id);
            state.ring.push_back(event.clone());
        }
        if let Some(sender) = &state.sender {
            if sender.receiver_count() == 0 {
                state.sender = None;
            } else {
                // Err only when every receiver is gone in between; nothing to do then.
                let _ = sender.send(event);
            }
        }
        true
    }

    /// How many receivers the tenant's channel has.
    pub fn subscriber_count(&self, tenant: TenantId) -> usize {
        self.lock()
            .get(&tenant)
            .and_then(|s| s.sender.as_ref())
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// How many tenants have an open channel (a channel is dropped at the first publish after its last
    /// subscriber left, or by [`LiveHub::prune`]).
    pub fn open_channels(&self) -> usize {
        self.lock().values().filter(|s| s.sender.is_some()).count()
    }

    /// Drops the channels that have no subscriber left.
    pub fn prune(&self) {
        for state in self.lock().values_mut() {
            if state.sender.as_ref().is_some_and(|s| s.receiver_count() == 0) {
                state.sender = None;
            }
        }
    }
}

fn replay(state: &TenantState, last: EventId) -> Option<Vec<Event>> {
    if !state.ids.contains(&last) {
        return None;
    }
    let at = state.ring.iter().position(|e| e.id == last)?;
    Some(state.ring.iter().skip(at + 1).cloned().collect())
}

#[async_trait]
impl Notifier for LiveHub {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        self.publish(event.clone());
        Ok(())
    }
}
