//! Runs the pipeline worker beside the server.
//!
//! [`Worker::run`]: N calls at once (`CALLBOOK_WORKER_CONCURRENCY`), lease heartbeats, reconciliation of lost
//! callbacks, and on shutdown in-flight calls finish within the grace period or are released for another
//! worker. The webhooks wake it when a recording callback queues a call.

use std::time::Duration;

use callbook_pipeline::Worker;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the idle loop waits for a wake-up before it looks for due calls again (retries become due by
/// time, not by a callback).
pub const IDLE_SLEEP: Duration = Duration::from_millis(250);

/// Starts [`Worker::run`] on the runtime; it stops claiming when `shutdown` becomes `true` (or its sender is
/// dropped), lets in-flight calls finish within the worker's grace period and releases the rest.
pub fn spawn_worker(worker: Worker, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        match worker.run(stop).await {
            Ok(report) => tracing::info!(
                claimed = report.claimed,
                done = report.done,
                released = report.released,
                "worker stopped"
            ),
            Err(e) => tracing::error!(error = %e, "worker failed"),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use callbook_pipeline::WorkerConfig;

    use super::*;

    #[tokio::test]
    async fn the_loop_idles_and_stops_on_shutdown() {
        let recordings = callbook_storage::EncryptedStore::in_memory(callbook_storage::Keyring::new(
            callbook_storage::MasterKey::generate(Some("k1")).unwrap(),
        ));
        let worker = Worker::new(
            WorkerConfig::new("test"),
            Arc::new(callbook_jobs::InMemoryJobStore::new()),
            Arc::new(callbook_telephony::fake::FakeTelephony::new()),
            Arc::new(recordings),
            Arc::new(callbook_transcribe::fake::ScriptedTranscriber::new()),
            Arc::new(callbook_extract::RulesExtractor::new()),
        );
        let (tx, rx) = watch::channel(false);
        let task = spawn_worker(worker, rx);
        tokio::time::sleep(IDLE_SLEEP * 2).await;
        assert!(!task.is_finished(), "idles while the queue is empty");
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops promptly")
            .unwrap();
    }
}
