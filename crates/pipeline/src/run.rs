//! The long-running loop: N calls at once, lease heartbeats, queue gauges, reconciliation and graceful
//! shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use callbook_jobs::{Call, CallId, Lease, TenantId};
use chrono::Utc;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use crate::error::Result;
use crate::metrics;
use crate::worker::{Clock, Outcome, RunReport, Worker};

/// A call a task of the loop is working on.
struct InFlight {
    tenant: TenantId,
    call: CallId,
    lease: Lease,
}

impl Worker {
    /// Runs until `shutdown` completes, working on up to [`crate::WorkerConfig::concurrency`] calls at once.
    ///
    /// - Claims as many due calls as there are free slots (at most the batch size per query), at once again
    ///   when a call finishes or [`crate::WorkerHandle::wake`] is called, else every poll interval.
    /// - While a call is worked on, its lease is extended every third of the lease; if the lease is lost
    ///   (another worker took the call over after an expiry), the call's work is dropped without writing.
    /// - Refreshes the queue gauges every stats interval and runs [`Worker::reconcile`] on its schedule.
    /// - On shutdown it stops claiming, lets in-flight calls finish within the grace period, then cancels
    ///   the rest and **releases** their leases (state `queued`, due now, the attempt not counted), so
    ///   another worker resumes them from their checkpoints at once instead of after the lease expires.
    ///
    /// Returns the counts of everything it did. Errors of the claim query are logged and retried at the next
    /// poll; the loop only ends on shutdown.
    pub async fn run<F>(&self, shutdown: F) -> Result<RunReport>
    where
        F: Future<Output = ()> + Send,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tasks: JoinSet<Outcome> = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
        let mut report = RunReport::default();
        let (reconcile_every, _, _) = self.config().reconciliation();
        let mut next_stats = Instant::now();
        let mut next_reconcile = reconcile_every.map(|every| Instant::now() + every);
        let concurrency = self.config().concurrency();
        loop {
            // Claim while there is room; a full batch means there may be more.
            let mut drained = false;
            while tasks.len() < concurrency {
                let room = (concurrency - tasks.len()).min(self.config().batch_size() as usize);
                let calls = match self.claim(room as u32).await {
                    Ok(calls) => calls,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming calls failed");
                        drained = true;
                        break;
                    }
                };
                let got = calls.len();
                report.claimed += got;
                for call in calls {
                    self.spawn_call(&mut tasks, &mut in_flight, call);
                }
                if got < room {
                    drained = true;
                    break;
                }
            }
            metrics::in_flight(tasks.len());
            if Instant::now() >= next_stats {
                self.refresh_gauges().await;
                next_stats = Instant::now() + self.config().stats_every();
            }
            if let (Some(at), Some(every)) = (next_reconcile, reconcile_every)
                && Instant::now() >= at
            {
                match self.reconcile(Utc::now()).await {
                    Ok(r) if r.recordings_found + r.statuses_updated > 0 => {
                        tracing::info!(
                            recordings_found = r.recordings_found,
                            statuses_updated = r.statuses_updated,
                            "reconciled calls"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
                }
                next_reconcile = Some(Instant::now() + every);
            }
            let idle_wait = if drained {
                self.config().poll_interval()
            } else {
                // Full: wait for a slot (or shutdown); the poll only refreshes gauges.
                self.config().stats_every()
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    Self::settle(joined, &mut in_flight, &mut report);
                }
                () = self.wake_signal().notified() => {}
                () = sleep(idle_wait) => {}
            }
        }
        self.drain(tasks, in_flight, &mut report).await;
        metrics::in_flight(0);
        Ok(report)
    }

    async fn claim(&self, limit: u32) -> Result<Vec<Call>> {
        let config = self.config();
        Ok(self
            .store()
            .claim_calls(
                config.owner(),
                Utc::now(),
                config.lease(),
                limit,
                config.retry_policy().max_attempts,
            )
            .await?)
    }

    fn spawn_call(
        &self,
        tasks: &mut JoinSet<Outcome>,
        in_flight: &mut HashMap<tokio::task::Id, InFlight>,
        call: Call,
    ) {
        let Some(lease) = call.lease() else {
            return;
        };
        let worker = self.clone();
        let entry = InFlight {
            tenant: call.tenant_id,
            call: call.id,
            lease: lease.clone(),
        };
        let handle = tasks.spawn(async move {
            tokio::select! {
                outcome = worker.process(&call, Clock::System) => outcome,
                () = worker.heartbeat(&call, &lease) => Outcome::LeaseLost,
            }
        });
        in_flight.insert(handle.id(), entry);
    }

    /// Extends the lease every third of its length; returns only when the lease is lost.
    async fn heartbeat(&self, call: &Call, lease: &Lease) {
        let length = self.config().lease();
        let every = (length / 3).max(Duration::from_millis(100));
        loop {
            sleep(every).await;
            match self
                .store()
                .extend_lease(call.tenant_id, call.id, lease, Utc::now(), length)
                .await
            {
                Ok(_) => {}
                Err(callbook_jobs::Error::LeaseLost) => {
                    tracing::warn!(call = %call.id, "lease lost while working; dropping the call's work");
                    return;
                }
                // A transient store error: try again at the next beat (the lease has two more thirds).
                Err(e) => tracing::warn!(call = %call.id, error = %e, "extending the lease failed"),
            }
        }
    }

    fn settle(
        joined: std::result::Result<(tokio::task::Id, Outcome), tokio::task::JoinError>,
        in_flight: &mut HashMap<tokio::task::Id, InFlight>,
        report: &mut RunReport,
    ) {
        match joined {
            Ok((id, outcome)) => {
                in_flight.remove(&id);
                report.count(&outcome);
            }
            Err(e) => {
                // A panic inside a step: the lease expires and the call is retried (and ends dead after the
                // attempts limit), so nothing is lost.
                in_flight.remove(&e.id());
                tracing::error!(error = %e, "a call's task failed");
                report.lease_lost += 1;
            }
        }
    }

    /// Shutdown: wait up to the grace period, then cancel and release.
    async fn drain(
        &self,
        mut tasks: JoinSet<Outcome>,
        mut in_flight: HashMap<tokio::task::Id, InFlight>,
        report: &mut RunReport,
    ) {
        let deadline = Instant::now() + self.config().shutdown_grace();
        while !tasks.is_empty() {
            tokio::select! {
                Some(joined) = tasks.join_next_with_id() => Self::settle(joined, &mut in_flight, report),
                () = sleep_until(deadline) => break,
            }
        }
        // Cancel what is left and wait until the tasks are gone, so none writes after its release.
        tasks.shutdown().await;
        for (_, held) in in_flight {
            match self
                .store()
                .release_call(held.tenant, held.call, &held.lease, Utc::now())
                .await
            {
                Ok(_) => {
                    report.released += 1;
                    metrics::outcome("released");
                }
                Err(e) => tracing::warn!(call = %held.call, error = %e, "could not release the lease"),
            }
        }
    }

    /// Sets the queue gauges from one statistics query.
    async fn refresh_gauges(&self) {
        let now = Utc::now();
        match self.store().queue_stats(now).await {
            Ok(stats) => {
                for (state, count) in &stats.counts {
                    metrics::queue_calls(state.as_str().to_owned(), *count);
                }
                let oldest = stats
                    .oldest_due_since
                    .map_or(0.0, |since| (now - since).as_seconds_f64());
                metrics::queue_due(stats.due, oldest);
            }
            Err(e) => tracing::warn!(error = %e, "queue statistics failed"),
        }
    }
}
