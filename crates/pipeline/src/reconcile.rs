//! The reconciliation pass: asks the telephony provider about calls whose callbacks never arrived.
//!
//! Twilio retries failed callbacks only a little, and a server that was down (or a proxy that answered 502)
//! loses them. A call stuck in `received` (no status callback) or `awaiting_recording` (no recording
//! callback) for longer than the configured delay is looked up at the provider: a completed recording queues
//! the call exactly as the callback would have ([`callbook_jobs::CallStore::set_recording`], idempotent), and
//! a finished call status is recorded. Calls older than the window are left alone (a call that ended without
//! a recording never gets one).

use callbook_jobs::{CallState, RecordingRef};
use callbook_telephony::telephony::{CallSid, RecordingFilter, RecordingStatus, TelephonyExt};
use chrono::{DateTime, TimeDelta, Utc};

use crate::error::Result;
use crate::metrics;
use crate::worker::Worker;

/// What one [`Worker::reconcile`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Calls looked up at the provider.
    pub examined: usize,
    /// Calls queued because the provider had a completed recording.
    pub recordings_found: usize,
    /// Calls whose final status was recorded.
    pub statuses_updated: usize,
    /// Lookups that failed (retried at the next pass).
    pub failed: usize,
}

/// At most this many calls per pass.
const BATCH: u32 = 100;

impl Worker {
    /// One reconciliation pass at `now` over calls of every tenant that waited longer than the configured
    /// delay (and less than the window) in `received` or `awaiting_recording`, asked of the worker's telephony
    /// provider (one provider account per deployment today). A lookup failure is counted and the pass goes on.
    pub async fn reconcile(&self, now: DateTime<Utc>) -> Result<ReconcileReport> {
        let (_, after, window) = self.config().reconciliation();
        let before = now - TimeDelta::from_std(after).unwrap_or(TimeDelta::minutes(10));
        let since = now - TimeDelta::from_std(window).unwrap_or(TimeDelta::days(2));
        let calls = self
            .store()
            .stale_calls(
                &[CallState::Received, CallState::AwaitingRecording],
                since,
                before,
                BATCH,
            )
            .await?;
        let mut report = ReconcileReport::default();
        for call in calls {
            report.examined += 1;
            let sid = CallSid::new(call.provider_call_id.clone());
            let mut filter = RecordingFilter::default();
            filter.call_sid = Some(sid.clone());
            let recordings = match self.telephony().list_all_recordings(&filter).await {
                Ok(r) => r,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(call = %call.id, error = %e, "reconciliation: listing recordings failed");
                    continue;
                }
            };
            if let Some(recording) = recordings.iter().find(|r| r.status == RecordingStatus::Completed) {
                let result = self
                    .store()
                    .set_recording(
                        call.tenant_id,
                        call.id,
                        RecordingRef {
                            provider_recording_id: recording.sid.as_str().to_owned(),
                            duration_seconds: recording.duration_seconds.map(i64::from),
                            storage_key: None,
                        },
                    )
                    .await;
                match result {
                    Ok(_) => {
                        report.recordings_found += 1;
                        metrics::reconciled("recording_found");
                    }
                    Err(e) => {
                        report.failed += 1;
                        tracing::warn!(call = %call.id, error = %e, "reconciliation: queueing failed");
                    }
                }
                continue;
            }
            if call.processing.state == CallState::Received {
                match self.telephony().fetch_call(&sid).await {
                    Ok(info) if info.status.is_final() => {
                        match self
                            .store()
                            .update_call_status(call.tenant_id, call.id, info.status.as_str(), info.ended_at)
                            .await
                        {
                            Ok(_) => {
                                report.statuses_updated += 1;
                                metrics::reconciled("status_updated");
                            }
                            Err(e) => {
                                report.failed += 1;
                                tracing::warn!(call = %call.id, error = %e, "reconciliation: status update failed");
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        report.failed += 1;
                        tracing::warn!(call = %call.id, error = %e, "reconciliation: fetching the call failed");
                    }
                }
            }
        }
        Ok(report)
    }
}
