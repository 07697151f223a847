//! Runs the pipeline worker beside the server.
//!
//! Interim body: the lead replaces it with `Worker::run(shutdown)` (N concurrent calls, graceful shutdown)
//! once the pipeline crate has it. Until then this loops [`Worker::run_once`] with `Utc::now()`, sleeps
//! [`IDLE_SLEEP`] when nothing was claimed, and stops when `shutdown` turns `true` (a call in progress is
//! finished first: `run_once` is not interrupted).

use std::time::Duration;

use callbook_pipeline::Worker;
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the loop waits when the queue was empty.
pub const IDLE_SLEEP: Duration = Duration::from_millis(250);
/// How long the loop waits after the claim itself failed (database unreachable).
pub const ERROR_SLEEP: Duration = Duration::from_secs(2);

/// Starts the worker loop on the runtime; it ends when `shutdown` becomes `true` (or its sender is dropped).
pub fn spawn_worker(worker: Worker, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match worker.run_once(Utc::now()).await {
                Ok(report) if report.claimed > 0 => {
                    tracing::info!(?report, "worker pass");
                    continue;
                }
                Ok(_) => IDLE_SLEEP,
                Err(e) => {
                    tracing::warn!(error = %e, "worker: claiming calls failed");
                    ERROR_SLEEP
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!("worker stopped");
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
