//! The worker's metrics, emitted through the [`metrics`] facade.
//!
//! The crate only records; the application installs a recorder (the reference server exports them as
//! Prometheus text at `/metrics`) and may call [`describe`] once to attach help texts and units. Without a
//! recorder every call is a no-op. No label ever carries personal data: labels are step names, outcomes,
//! provider names and states.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `callbook_pipeline_step_seconds` | histogram | `step` | wall time of one step (`stored`, `transcribed`, `extracted`, `booked`, `notified`) |
//! | `callbook_pipeline_processing_seconds` | histogram | — | one attempt, claim to end |
//! | `callbook_pipeline_call_to_job_seconds` | histogram | — | end of the call (or its start) to its first job booked: the product promise is < 2 min |
//! | `callbook_pipeline_calls_total` | counter | `outcome` | `done`, `no_appointment`, `needs_review`, `retried`, `dead`, `lease_lost`, `released` |
//! | `callbook_pipeline_attempts` | histogram | — | the attempt number a call finished or died at |
//! | `callbook_pipeline_provider_errors_total` | counter | `provider`, `retryable` | failures by the crate that raised them |
//! | `callbook_pipeline_extraction_confidence` | histogram | — | overall confidence of each extraction |
//! | `callbook_pipeline_notify_errors_total` | counter | — | notifications that could not be delivered |
//! | `callbook_pipeline_reconciled_total` | counter | `action` | `recording_found`, `status_updated` |
//! | `callbook_pipeline_in_flight` | gauge | — | calls this process is working on |
//! | `callbook_pipeline_queue_calls` | gauge | `state` | calls per processing state, all tenants |
//! | `callbook_pipeline_queue_due` | gauge | — | calls a worker could claim now |
//! | `callbook_pipeline_queue_oldest_due_seconds` | gauge | — | how long the oldest due call has waited |

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Step wall time.
pub const STEP_SECONDS: &str = "callbook_pipeline_step_seconds";
/// One attempt, claim to end.
pub const PROCESSING_SECONDS: &str = "callbook_pipeline_processing_seconds";
/// Call end to first job.
pub const CALL_TO_JOB_SECONDS: &str = "callbook_pipeline_call_to_job_seconds";
/// Calls by outcome.
pub const CALLS_TOTAL: &str = "callbook_pipeline_calls_total";
/// Attempt number at the end.
pub const ATTEMPTS: &str = "callbook_pipeline_attempts";
/// Failures by provider.
pub const PROVIDER_ERRORS_TOTAL: &str = "callbook_pipeline_provider_errors_total";
/// Extraction confidence.
pub const EXTRACTION_CONFIDENCE: &str = "callbook_pipeline_extraction_confidence";
/// Undeliverable notifications.
pub const NOTIFY_ERRORS_TOTAL: &str = "callbook_pipeline_notify_errors_total";
/// Reconciliation actions.
pub const RECONCILED_TOTAL: &str = "callbook_pipeline_reconciled_total";
/// Calls in flight in this process.
pub const IN_FLIGHT: &str = "callbook_pipeline_in_flight";
/// Calls per state.
pub const QUEUE_CALLS: &str = "callbook_pipeline_queue_calls";
/// Claimable calls.
pub const QUEUE_DUE: &str = "callbook_pipeline_queue_due";
/// Age of the oldest claimable call.
pub const QUEUE_OLDEST_DUE_SECONDS: &str = "callbook_pipeline_queue_oldest_due_seconds";

/// Registers help texts and units with the installed recorder (call once, after installing it).
pub fn describe() {
    describe_histogram!(STEP_SECONDS, Unit::Seconds, "Wall time of one pipeline step.");
    describe_histogram!(
        PROCESSING_SECONDS,
        Unit::Seconds,
        "One processing attempt, claim to end."
    );
    describe_histogram!(
        CALL_TO_JOB_SECONDS,
        Unit::Seconds,
        "From the end of the call to its first job on the board."
    );
    describe_counter!(CALLS_TOTAL, "Processing attempts by outcome.");
    describe_histogram!(ATTEMPTS, "The attempt number a call finished or died at.");
    describe_counter!(
        PROVIDER_ERRORS_TOTAL,
        "Step failures by the provider that raised them."
    );
    describe_histogram!(EXTRACTION_CONFIDENCE, "Overall confidence of each extraction.");
    describe_counter!(NOTIFY_ERRORS_TOTAL, "Notifications that could not be delivered.");
    describe_counter!(RECONCILED_TOTAL, "Calls repaired by the reconciliation pass.");
    describe_gauge!(IN_FLIGHT, "Calls this process is working on.");
    describe_gauge!(QUEUE_CALLS, "Calls per processing state, all tenants.");
    describe_gauge!(QUEUE_DUE, "Calls a worker could claim now.");
    describe_gauge!(
        QUEUE_OLDEST_DUE_SECONDS,
        Unit::Seconds,
        "How long the oldest claimable call has waited."
    );
}

pub(crate) fn step(step: &'static str, seconds: f64) {
    histogram!(STEP_SECONDS, "step" => step).record(seconds);
}

pub(crate) fn outcome(outcome: &'static str) {
    counter!(CALLS_TOTAL, "outcome" => outcome).increment(1);
}

pub(crate) fn attempts(attempts: i32) {
    histogram!(ATTEMPTS).record(f64::from(attempts));
}

pub(crate) fn processing(seconds: f64) {
    histogram!(PROCESSING_SECONDS).record(seconds);
}

pub(crate) fn call_to_job(seconds: f64) {
    histogram!(CALL_TO_JOB_SECONDS).record(seconds.max(0.0));
}

pub(crate) fn provider_error(provider: &'static str, retryable: bool) {
    counter!(PROVIDER_ERRORS_TOTAL, "provider" => provider, "retryable" => if retryable { "true" } else { "false" })
        .increment(1);
}

pub(crate) fn extraction_confidence(confidence: f64) {
    histogram!(EXTRACTION_CONFIDENCE).record(confidence);
}

pub(crate) fn notify_error() {
    counter!(NOTIFY_ERRORS_TOTAL).increment(1);
}

pub(crate) fn reconciled(action: &'static str) {
    counter!(RECONCILED_TOTAL, "action" => action).increment(1);
}

pub(crate) fn in_flight(n: usize) {
    gauge!(IN_FLIGHT).set(n as f64);
}

pub(crate) fn queue_calls(state: String, n: u64) {
    gauge!(QUEUE_CALLS, "state" => state).set(n as f64);
}

pub(crate) fn queue_due(n: u64, oldest_seconds: f64) {
    gauge!(QUEUE_DUE).set(n as f64);
    gauge!(QUEUE_OLDEST_DUE_SECONDS).set(oldest_seconds.max(0.0));
}
