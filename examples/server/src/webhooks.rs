//! Twilio webhooks (DESIGN.md §5): `POST /webhooks/twilio/{voice,status,recording,record-done}`.
//!
//! Every handler, in this order:
//! 1. **verifies the signature** against `CALLBOOK_PUBLIC_URL` + the raw path and query (both port variants,
//!    by `callbook_telephony::signature`) — a bad or missing signature is 403 and nothing is read or written;
//! 2. parses the form — a malformed body is 400 and nothing is written;
//! 3. finds the tenant from the `To` number (`route_phone_line`) or, failing that, the `AccountSid` of the
//!    bootstrap tenant, whose numbers become its phone lines on first sight;
//! 4. deduplicates status and recording callbacks on `I-Twilio-Idempotency-Token` and on
//!    `(CallSid, SequenceNumber)` / `(RecordingSid, RecordingStatus)` (the job store's `first_delivery`): a
//!    repeat is answered 204 without writing once an earlier delivery of it finished;
//! 5. writes, and answers at once: no provider call happens in a handler (the worker downloads later).
//!
//! Out-of-order callbacks converge: a status or recording callback for a call the voice webhook has not
//! created yet creates it (`record_call` is idempotent per `CallSid`), so recording-before-status and
//! status-before-voice still end with one call, queued once its recording is complete.
//!
//! **Call filtering** (issue 8, the tenant's `filtering` settings, see [`crate::api::settings`]): the voice
//! webhook answers `<Reject/>` to a blocked caller, a caller outside a non-empty allow list, a withheld
//! number (`reject_anonymous`) or a failed STIR/SHAKEN verification (`StirVerstat: TN-Validation-Failed-*`,
//! `reject_failed_attestation`); the call is listed with status `filtered:<reason>`, nothing is recorded,
//! announced or sent to a provider, and no job is made. A completed recording shorter than
//! `min_call_seconds` (`RecordingDuration`) is not queued for transcription (`filtered:too_short`) and the
//! provider's copy is deleted.
//!
//! Logs carry call and tenant ids, never phone numbers or form values.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use callbook_jobs::{
    Call, NewCall, NewPhoneLine, PhoneLine, PhoneNumber, RecordingRef, TenantId, WebhookMode,
};
use callbook_telephony::events::{
    CallDetails, CallStatusEvent, IncomingCall, MalformedWebhook, RecordActionEvent, RecordingStatusEvent,
};
use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{
    IDEMPOTENCY_TOKEN_HEADER, SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, WebhookRequest, public_request_url,
};
use callbook_telephony::telephony::RecordingStatus;
use callbook_telephony::twiml::{
    self, Dial, DialRecording, Method, Record, RecordingCallbackEvent, Say, Trim, VoiceResponse,
};
use chrono::Utc;
use serde_json::Value;

use crate::api::settings::CallFilter;
use crate::app::{AppState, PROVIDER, default_settings};

/// Path of the voice webhook.
pub const VOICE_PATH: &str = "/webhooks/twilio/voice";
/// Path of the call status callback.
pub const STATUS_PATH: &str = "/webhooks/twilio/status";
/// Path of the recording status callback.
pub const RECORDING_PATH: &str = "/webhooks/twilio/recording";
/// Path of the `<Record action>`.
pub const RECORD_DONE_PATH: &str = "/webhooks/twilio/record-done";

/// Why a webhook was not acted on.
#[derive(Debug)]
enum Rejected {
    Forbidden,
    Malformed(MalformedWebhook),
    UnknownTenant,
    Store(callbook_jobs::Error),
}

impl From<callbook_jobs::Error> for Rejected {
    fn from(e: callbook_jobs::Error) -> Self {
        Self::Store(e)
    }
}

impl From<MalformedWebhook> for Rejected {
    fn from(e: MalformedWebhook) -> Self {
        Self::Malformed(e)
    }
}

impl Rejected {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Forbidden => "forbidden",
            Self::Malformed(_) => "malformed",
            Self::UnknownTenant => "unknown_tenant",
            Self::Store(_) => "error",
        }
    }

    fn into_response(self) -> Response {
        match self {
            Self::Forbidden => {
                (StatusCode::FORBIDDEN, "invalid or missing X-Twilio-Signature\n").into_response()
            }
            // The field name and problem only: never the value.
            Self::Malformed(e) => {
                (StatusCode::BAD_REQUEST, format!("malformed webhook: {e}\n")).into_response()
            }
            Self::UnknownTenant => {
                (StatusCode::NOT_FOUND, "no tenant for this number or account\n").into_response()
            }
            Self::Store(e) => {
                tracing::error!(error = %e, "webhook: job store failed");
                let status = if e.is_retryable() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                (status, "temporarily unable to record this webhook\n").into_response()
            }
        }
    }
}

/// What a handler answers when it acted.
enum Answer {
    TwiMl(String),
    Accepted,
    Duplicate,
}

impl Answer {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            _ => "ok",
        }
    }

    fn into_response(self) -> Response {
        match self {
            Self::TwiMl(xml) => ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response(),
            Self::Accepted | Self::Duplicate => StatusCode::NO_CONTENT.into_response(),
        }
    }
}

async fn finish(
    state: &AppState,
    path: &'static str,
    started: Instant,
    result: Result<Answer, Rejected>,
) -> Response {
    let (outcome, response) = match result {
        Ok(answer) => (answer.outcome(), answer.into_response()),
        Err(rejected) => {
            tracing::info!(outcome = rejected.outcome(), "webhook rejected");
            (rejected.outcome(), rejected.into_response())
        }
    };
    state.metrics.record_webhook(path, outcome, started.elapsed());
    response
}

/// Checks `X-Twilio-Signature` over the public URL of this request and its raw body.
fn verify(state: &AppState, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejected> {
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = public_request_url(&state.public_url, path_and_query);
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut request = WebhookRequest::form(&url, body);
    if let Some(signature) = header_str(SIGNATURE_HEADER) {
        request = request.with_signature(signature);
    }
    if let Some(settings) = header_str(SIGNATURE_SETTINGS_HEADER) {
        request = request.with_signature_settings(settings);
    }
    state.verifier.verify(&request).map_err(|why| {
        tracing::warn!(reason = ?why, "webhook signature rejected");
        Rejected::Forbidden
    })
}

/// The tenant (and line) a webhook belongs to: by the `To` number, else by the bootstrap tenant's account
/// (registering the number as its line on first sight).
async fn resolve(
    state: &AppState,
    account_sid: &str,
    to: Option<&str>,
) -> Result<(TenantId, Option<PhoneLine>), Rejected> {
    let number = to.and_then(|t| PhoneNumber::parse(t).ok());
    if let Some(number) = &number
        && let Some(line) = state.store.route_phone_line(PROVIDER, number).await?
    {
        // The signature proves the sender holds our auth token; the account must still be the line's.
        if line.provider_account_id != account_sid && account_sid != state.account_sid {
            return Err(Rejected::UnknownTenant);
        }
        return Ok((line.tenant_id, Some(line)));
    }
    if account_sid != state.account_sid {
        return Err(Rejected::UnknownTenant);
    }
    let tenant = state.tenant.id;
    let Some(number) = number else {
        return Ok((tenant, None));
    };
    let new = NewPhoneLine {
        provider: PROVIDER.to_owned(),
        number: number.clone(),
        provider_account_id: account_sid.to_owned(),
        provider_number_id: None,
        credentials: None,
        webhook_mode: WebhookMode::Record,
    };
    match state.store.add_phone_line(tenant, new).await {
        Ok(line) => {
            tracing::info!(tenant = %tenant, line = %line.id, "new phone line registered on first sight");
            Ok((tenant, Some(line)))
        }
        // A concurrent webhook registered it first.
        Err(callbook_jobs::Error::AlreadyExists { .. }) => {
            let line = state.store.route_phone_line(PROVIDER, &number).await?;
            Ok((line.as_ref().map_or(tenant, |l| l.tenant_id), line))
        }
        Err(e) => Err(e.into()),
    }
}

/// One callback's idempotency keys: the content key (`(CallSid, SequenceNumber)` or `(RecordingSid,
/// RecordingStatus)`) and, when present, `I-Twilio-Idempotency-Token`.
///
/// Each key is recorded twice with the job store's atomic `first_delivery`: `seen:` when a delivery starts
/// and `done:` once its writes succeeded. A repeat is skipped only when an earlier delivery **finished**; a
/// retry of a delivery that failed half-way (database hiccup → 503) is processed again instead of being
/// acknowledged as a duplicate and lost. (The job store cannot forget a key, hence the two marks.) A repeat
/// racing the first delivery may run the writes twice, which the store makes harmless: `record_call` is
/// idempotent per `CallSid`, `set_recording` keeps a later state, a final status is never downgraded.
struct Delivery {
    keys: Vec<String>,
}

impl Delivery {
    /// `None` when an earlier delivery of the same callback finished: answer "duplicate" and write nothing.
    async fn begin(
        state: &AppState,
        tenant: TenantId,
        headers: &HeaderMap,
        key: String,
    ) -> Result<Option<Self>, Rejected> {
        let mut keys = vec![key];
        if let Some(token) = headers
            .get(IDEMPOTENCY_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
        {
            keys.push(format!("twilio:token:{token}"));
        }
        let mut fresh = true;
        for key in &keys {
            fresh &= state.store.first_delivery(tenant, &format!("seen:{key}")).await?;
        }
        if !fresh {
            let mut finished = false;
            for key in &keys {
                finished |= !state.store.first_delivery(tenant, &format!("done:{key}")).await?;
            }
            if finished {
                return Ok(None);
            }
        }
        Ok(Some(Self { keys }))
    }

    /// Marks the delivery finished (after its writes succeeded).
    async fn finish(self, state: &AppState, tenant: TenantId) -> Result<(), Rejected> {
        for key in &self.keys {
            state.store.first_delivery(tenant, &format!("done:{key}")).await?;
        }
        Ok(())
    }
}

fn new_call(details: &CallDetails, line: Option<&PhoneLine>, status: &str) -> NewCall {
    NewCall {
        provider: PROVIDER.to_owned(),
        provider_call_id: details.call_sid.as_str().to_owned(),
        phone_line_id: line.map(|l| l.id),
        from: details.from.as_deref().and_then(|n| PhoneNumber::parse(n).ok()),
        to: details.to.as_deref().and_then(|n| PhoneNumber::parse(n).ok()),
        started_at: Utc::now(),
        provider_status: status.to_owned(),
    }
}

/// `POST /webhooks/twilio/voice`: stores the call (`received`) and answers the greeting TwiML.
pub async fn voice(State(state): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = voice_inner(&state, &uri, &headers, &body).await;
    finish(&state, VOICE_PATH, started, result).await
}

async fn voice_inner(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, Rejected> {
    verify(state, uri, headers, body)?;
    let incoming = IncomingCall::parse(body)?;
    let details = &incoming.call;
    let (tenant_id, line) = resolve(state, details.account_sid.as_str(), details.to.as_deref()).await?;
    let status = details.call_status.as_ref().map_or("ringing", |s| s.as_str());
    let (call, created) = state
        .store
        .record_call(tenant_id, new_call(details, line.as_ref(), status))
        .await?;
    tracing::info!(tenant = %tenant_id, call = %call.id, created, "call received");
    // Read fresh: staff may have changed the greeting since start-up.
    let tenant = state.store.get_tenant(tenant_id).await?;
    // ---- issue 8: call filtering
    let filter = CallFilter::from_settings(&tenant.settings);
    if let Some(reason) = filter.refuse(details.from.as_deref(), details.stir_verstat.as_deref()) {
        // Rejected before answering: no recording, nothing sent to providers, no job, no notification. The
        // call stays in the list with the filter's outcome as its status (later status callbacks do not
        // overwrite it).
        if !call.provider_status.starts_with(FILTERED_PREFIX) {
            state
                .store
                .update_call_status(
                    tenant_id,
                    call.id,
                    &format!("{FILTERED_PREFIX}{reason}"),
                    Some(Utc::now()),
                )
                .await?;
        }
        metrics::counter!("callbook_calls_filtered_total", "reason" => reason).increment(1);
        tracing::info!(tenant = %tenant_id, call = %call.id, reason, "call filtered");
        return Ok(Answer::TwiMl(
            VoiceResponse::new().reject(twiml::Reject::new()).to_xml(),
        ));
    }
    // ---- end issue 8: call filtering
    // Filtered calls are not announced (spam must not ring anyone's notifications).
    if created {
        announce_call_received(state, tenant_id, call.id);
    }
    let xml = voice_twiml(&tenant.settings, &tenant.name, line.as_ref(), &state.public_url);
    Ok(Answer::TwiMl(xml))
}

// ---- issue 8: call filtering
/// The status prefix of filtered calls: `filtered:blocked`, `filtered:not_allowed`, `filtered:anonymous`,
/// `filtered:failed_attestation` (rejected in the voice webhook) and `filtered:too_short` (a recording shorter
/// than `filtering.min_call_seconds`, not transcribed; the provider's copy is deleted).
pub const FILTERED_PREFIX: &str = "filtered:";
// ---- end issue 8: call filtering

/// A voice setting: the line's override, else the tenant's value, else the default.
fn setting(settings: &Value, line: Option<&str>, key: &str) -> Value {
    let voice = &settings["voice"];
    if let Some(number) = line {
        let v = &voice["lines"][number][key];
        if !v.is_null() {
            return v.clone();
        }
    }
    if !voice[key].is_null() {
        return voice[key].clone();
    }
    default_settings()["voice"][key].clone()
}

fn text(settings: &Value, line: Option<&str>, key: &str) -> String {
    setting(settings, line, key)
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The answer to an incoming call: greeting with the recording announcement and the AI disclosure, then
/// `<Dial record>` to the line's `forward_to` number when one is set, else voicemail with `<Record>`.
pub fn voice_twiml(settings: &Value, business: &str, line: Option<&PhoneLine>, public_url: &str) -> String {
    let number = line.map(|l| l.number.as_str());
    let base = public_url.trim_end_matches('/');
    let recording_cb = format!("{base}{RECORDING_PATH}");
    let say = |s: String| {
        let mut say = Say::new(s);
        let voice = text(settings, number, "say_voice");
        if !voice.is_empty() {
            say = say.with_voice(voice);
        }
        let language = text(settings, number, "language");
        if !language.is_empty() {
            say = say.with_language(language);
        }
        say
    };
    let intro = [
        text(settings, number, "greeting").replace("{business}", business),
        text(settings, number, "recording_notice"),
        text(settings, number, "ai_disclosure"),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ");

    let forward_to = setting(settings, number, "forward_to")
        .as_str()
        .and_then(|n| PhoneNumber::parse(n.trim()).ok());
    if let Some(forward_to) = forward_to {
        let dial = Dial::to(forward_to.as_str())
            .with_record(DialRecording::RecordFromAnswerDual)
            .with_trim(Trim::TrimSilence)
            .with_recording_status_callback(recording_cb)
            .with_recording_status_callback_method(Method::Post)
            .with_recording_status_callback_event([
                RecordingCallbackEvent::Completed,
                RecordingCallbackEvent::Absent,
            ]);
        return VoiceResponse::new().say(say(intro)).dial(dial).to_xml();
    }
    let max_length = setting(settings, number, "max_message_seconds")
        .as_u64()
        .map_or(300, |s| s.clamp(10, 3600) as u32);
    let prompt = text(settings, number, "voicemail_prompt");
    let record = Record::new()
        .with_action(format!("{base}{RECORD_DONE_PATH}"))
        .with_method(Method::Post)
        .with_max_length(max_length)
        .with_timeout(5)
        .with_finish_on_key("#")
        .with_play_beep(true)
        .with_trim(Trim::TrimSilence)
        .with_recording_status_callback(recording_cb)
        .with_recording_status_callback_method(Method::Post)
        .with_recording_status_callback_event([
            RecordingCallbackEvent::InProgress,
            RecordingCallbackEvent::Completed,
            RecordingCallbackEvent::Absent,
        ]);
    VoiceResponse::new()
        .say(say(format!("{intro} {prompt}").trim().to_owned()))
        .record(record)
        .say(say(text(settings, number, "no_message")))
        .hangup()
        .to_xml()
}

/// Finds the call, or creates it when this callback overtook the voice webhook.
async fn find_or_create_call(
    state: &AppState,
    tenant: TenantId,
    call_sid: &str,
    create: impl FnOnce() -> NewCall,
) -> Result<Call, Rejected> {
    if let Some(call) = state
        .store
        .find_call_by_provider_id(tenant, PROVIDER, call_sid)
        .await?
    {
        return Ok(call);
    }
    let (call, created) = state.store.record_call(tenant, create()).await?;
    if created {
        tracing::info!(tenant = %tenant, call = %call.id, "call created by a callback that overtook the voice webhook");
    }
    Ok(call)
}

const FINAL_STATUSES: [&str; 5] = ["completed", "busy", "failed", "no-answer", "canceled"];

/// `POST /webhooks/twilio/status`: records the provider's call status (`completed` ⇒ awaiting recording).
pub async fn status(State(state): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = status_inner(&state, &uri, &headers, &body).await;
    finish(&state, STATUS_PATH, started, result).await
}

async fn status_inner(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, Rejected> {
    verify(state, uri, headers, body)?;
    let event = CallStatusEvent::parse(body)?;
    let details = &event.call;
    let (tenant, line) = resolve(state, details.account_sid.as_str(), details.to.as_deref()).await?;
    let key = match event.dedup_key() {
        Some((sid, sequence)) => format!("twilio:call-status:{sid}:{sequence}"),
        None => format!(
            "twilio:call-status:{}:{}",
            details.call_sid,
            event.status.as_str()
        ),
    };
    let Some(delivery) = Delivery::begin(state, tenant, headers, key).await? else {
        return Ok(Answer::Duplicate);
    };
    apply_status(state, tenant, line.as_ref(), &event).await?;
    delivery.finish(state, tenant).await?;
    Ok(Answer::Accepted)
}

async fn apply_status(
    state: &AppState,
    tenant: TenantId,
    line: Option<&PhoneLine>,
    event: &CallStatusEvent,
) -> Result<(), Rejected> {
    let details = &event.call;
    let new_status = event.status.as_str().to_owned();
    let call = find_or_create_call(state, tenant, details.call_sid.as_str(), || {
        new_call(details, line, &new_status)
    })
    .await?;
    // A filtered call keeps its outcome (issue 8).
    if call.provider_status.starts_with(FILTERED_PREFIX) {
        return Ok(());
    }
    // Callbacks may arrive out of order: once the call has a final status, a late non-final one is ignored.
    let was_final = FINAL_STATUSES.contains(&call.provider_status.as_str());
    if was_final && !event.status.is_final() {
        tracing::info!(tenant = %tenant, call = %call.id, "late non-final status ignored");
        return Ok(());
    }
    let ended_at = event
        .status
        .is_final()
        .then(|| event.timestamp.unwrap_or_else(Utc::now));
    let call = state
        .store
        .update_call_status(tenant, call.id, &new_status, ended_at)
        .await?;
    tracing::info!(tenant = %tenant, call = %call.id, state = %call.processing.state, "call status recorded");
    Ok(())
}

/// `POST /webhooks/twilio/recording`: a `completed` recording queues the call for the worker.
pub async fn recording(State(state): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = recording_inner(&state, &uri, &headers, &body).await;
    finish(&state, RECORDING_PATH, started, result).await
}

async fn recording_inner(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, Rejected> {
    verify(state, uri, headers, body)?;
    let event = RecordingStatusEvent::from_params(&recording_params(body))?;
    // A recording callback names no number: only the account tells the tenant.
    let (tenant, _) = resolve(state, event.account_sid.as_str(), None).await?;
    let (sid, status) = event.dedup_key();
    let key = format!("twilio:recording:{sid}:{status}");
    let Some(delivery) = Delivery::begin(state, tenant, headers, key).await? else {
        return Ok(Answer::Duplicate);
    };
    apply_recording(state, tenant, &event).await?;
    delivery.finish(state, tenant).await?;
    Ok(Answer::Accepted)
}

async fn apply_recording(
    state: &AppState,
    tenant: TenantId,
    event: &RecordingStatusEvent,
) -> Result<(), Rejected> {
    if event.status != RecordingStatus::Completed {
        tracing::info!(
            tenant = %tenant,
            status = %event.status.as_str(),
            error_code = ?event.error_code,
            "recording status noted"
        );
        return Ok(());
    }
    let call = find_or_create_call(state, tenant, event.call_sid.as_str(), || NewCall {
        provider: PROVIDER.to_owned(),
        provider_call_id: event.call_sid.as_str().to_owned(),
        phone_line_id: None,
        from: None,
        to: None,
        started_at: event.started_at.unwrap_or_else(Utc::now),
        provider_status: "in-progress".to_owned(),
    })
    .await?;
    // ---- issue 8: minimum call length
    if call.provider_status.starts_with(FILTERED_PREFIX) {
        return Ok(());
    }
    let settings = state.store.get_tenant(tenant).await?.settings;
    let min = CallFilter::from_settings(&settings).min_call_seconds;
    if min > 0 && event.duration_seconds.is_some_and(|d| d < min) {
        // Too short to hold a message: not stored, not transcribed, no job; the provider's copy is deleted
        // in the background (a failure is logged; retention at the provider catches the rest).
        state
            .store
            .update_call_status(tenant, call.id, &format!("{FILTERED_PREFIX}too_short"), None)
            .await?;
        metrics::counter!("callbook_calls_filtered_total", "reason" => "too_short").increment(1);
        tracing::info!(tenant = %tenant, call = %call.id, "recording shorter than the minimum: not transcribed");
        let telephony = state.telephony.clone();
        let sid = callbook_telephony::telephony::RecordingSid::new(event.recording_sid.as_str());
        tokio::spawn(async move {
            match telephony.delete_recording(&sid).await {
                Ok(()) | Err(callbook_telephony::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(
                    retryable = e.is_retryable(),
                    "could not delete a too-short recording at the provider"
                ),
            }
        });
        return Ok(());
    }
    // ---- end issue 8: minimum call length
    let call = state
        .store
        .set_recording(
            tenant,
            call.id,
            RecordingRef {
                provider_recording_id: event.recording_sid.as_str().to_owned(),
                duration_seconds: event.duration_seconds.map(i64::from),
                storage_key: None,
            },
        )
        .await?;
    tracing::info!(tenant = %tenant, call = %call.id, state = %call.processing.state, "recording completed");
    if call.processing.state == callbook_jobs::CallState::Queued {
        state.worker.wake();
    }
    Ok(())
}

/// Publishes `call.received` in the background: the answer to Twilio never waits for the inbox or the
/// Postgres fan-out.
fn announce_call_received(state: &AppState, tenant: callbook_jobs::TenantId, call: callbook_jobs::CallId) {
    use callbook_pipeline::notify::{Event, EventKind};
    let event = Event::new(tenant, EventKind::CallReceived, chrono::Utc::now())
        .with_call(call)
        .with_dedupe_key(format!("call.received:{call}"));
    let notifier = state.notifier.clone();
    tokio::spawn(async move {
        if let Err(e) = notifier.notify(&event).await {
            tracing::warn!(error = %e, "call.received not delivered");
        }
    });
}

/// The recording callback's form, with `RecordingDuration=-1` dropped: Twilio (and the telephony crate's own
/// simulator) send `-1` while a recording is `in-progress`, which `RecordingStatusEvent::parse` rejects as
/// "not a number".
fn recording_params(body: &[u8]) -> FormParams {
    let params = FormParams::parse(body);
    FormParams::from_pairs(
        params
            .pairs()
            .iter()
            .filter(|(k, v)| !(k == "RecordingDuration" && v.trim() == "-1"))
            .cloned(),
    )
}

/// `POST /webhooks/twilio/record-done`: the `<Record action>`; says goodbye. Work starts from the recording
/// callback, not from here (the file may not exist yet when this fires).
pub async fn record_done(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let result = record_done_inner(&state, &uri, &headers, &body).await;
    finish(&state, RECORD_DONE_PATH, started, result).await
}

async fn record_done_inner(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, Rejected> {
    verify(state, uri, headers, body)?;
    let event = RecordActionEvent::parse(body)?;
    if event.caller_hung_up() {
        // Twilio ignores the TwiML of an action after a hang-up.
        return Ok(Answer::TwiMl(VoiceResponse::new().to_xml()));
    }
    let (tenant_id, line) = resolve(state, event.call.account_sid.as_str(), event.call.to.as_deref()).await?;
    let settings = state.store.get_tenant(tenant_id).await?.settings;
    let number = line.as_ref().map(|l| l.number.as_str());
    let mut say = Say::new(text(&settings, number, "goodbye"));
    let voice = text(&settings, number, "say_voice");
    if !voice.is_empty() {
        say = say.with_voice(voice);
    }
    Ok(Answer::TwiMl(VoiceResponse::new().say(say).hangup().to_xml()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(number: &str) -> PhoneLine {
        PhoneLine {
            id: callbook_jobs::PhoneLineId::new(),
            tenant_id: TenantId::new(),
            provider: PROVIDER.into(),
            number: PhoneNumber::parse(number).unwrap(),
            provider_account_id: "AC1".into(),
            provider_number_id: None,
            credentials: None,
            webhook_mode: WebhookMode::Record,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn voicemail_twiml_has_greeting_notice_disclosure_and_record() {
        let xml = voice_twiml(&default_settings(), "Acme", None, "https://hooks.example.com/");
        assert!(xml.contains("Thanks for calling Acme."), "{xml}");
        assert!(xml.contains("This call is recorded."), "{xml}");
        assert!(xml.contains("An automated assistant"), "{xml}");
        assert!(
            xml.contains(r#"action="https://hooks.example.com/webhooks/twilio/record-done""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"recordingStatusCallback="https://hooks.example.com/webhooks/twilio/recording""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"recordingStatusCallbackEvent="in-progress completed absent""#),
            "{xml}"
        );
        assert!(xml.contains("<Hangup"), "{xml}");
        assert!(!xml.contains("<Dial"), "{xml}");
    }

    #[test]
    fn settings_are_data_with_per_line_overrides() {
        let settings = json!({"voice": {
            "greeting": "Hi, this is {business} & sons.",
            "lines": {"+14155550100": {"forward_to": "+14155550199", "ai_disclosure": "A robot listens."}}
        }});
        let l = line("+14155550100");
        let xml = voice_twiml(&settings, "Acme", Some(&l), "https://h.example");
        assert!(xml.contains("Hi, this is Acme &amp; sons."), "{xml}");
        assert!(xml.contains("A robot listens."), "{xml}");
        assert!(xml.contains("This call is recorded."), "default kept: {xml}");
        assert!(xml.contains("<Dial"), "{xml}");
        assert!(xml.contains(r#"record="record-from-answer-dual""#), "{xml}");
        assert!(xml.contains("+14155550199"), "{xml}");
        assert!(!xml.contains("<Record "), "{xml}");

        // Another line of the same tenant keeps voicemail.
        let other = line("+14155550101");
        let xml = voice_twiml(&settings, "Acme", Some(&other), "https://h.example");
        assert!(xml.contains("<Record"), "{xml}");
        assert!(xml.contains("An automated assistant"), "{xml}");
    }
}
