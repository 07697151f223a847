//! Calls: list, detail (transcript, extraction, corrections, signed playback link), the signed audio stream,
//! manual retry, and the corrections a person makes to an extraction.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use callbook_extract as ex;
use callbook_jobs::{
    Actor, Call, CallId, CallState, Correction, Job, JobPatch, JobSource, JobStoreExt, NewCorrection, Page,
    Schedule, Stage, StoredExtraction, TenantId,
};
use callbook_storage::{LinkError, LinkPurpose, MAX_RANGE_LEN, RecordingKey};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use callbook_pipeline::notify::EventKind;

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};

/// How long a playback link in a call's detail stays valid.
pub const PLAYBACK_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The appointment fields a correction may name (`appointments[N].<field>`).
pub const APPOINTMENT_FIELDS: [&str; 8] = [
    "customer_name",
    "customer_phone",
    "service_address",
    "when",
    "job_description",
    "price",
    "urgency",
    "notes",
];

/// Query of `GET /calls`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallListQuery {
    /// Only calls in this processing state (`received`, `queued`, `processing`, `done`, `no_appointment`,
    /// `needs_review`, `dead` …).
    pub state: Option<String>,
    /// Items to skip.
    pub offset: Option<u32>,
    /// Page size (1–500, default 50).
    pub limit: Option<u32>,
}

/// A page of calls, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallList {
    /// The calls (with processing state and `last_error`).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Call>,
    /// The offset of this page.
    pub offset: u32,
    /// The page size used.
    pub limit: u32,
}

/// A signed, short-lived link to a call's audio.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybackLink {
    /// `GET` this URL (no bearer token needed); it honours `Range`.
    pub url: String,
    /// When the link stops working (RFC 3339).
    #[schema(value_type = String)]
    pub expires_at: chrono::DateTime<Utc>,
}

/// Everything about one call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    /// The call: provider status, recording reference, customer, `processing` (state, step, attempts,
    /// `last_error`).
    #[schema(value_type = Object)]
    pub call: Call,
    /// The processing state (`queued`, `processing`, `done`, `needs_review`, `dead` …), as in `call.processing`.
    #[schema(value_type = String)]
    pub state: CallState,
    /// Why the last attempt failed (a short message without personal data), as in `call.processing`.
    pub last_error: Option<String>,
    /// The last finished pipeline step (`stored`, `transcribed`, `extracted`, `booked`).
    pub step: Option<String>,
    /// The PII-redacted transcript document (text, segments, language, confidence), when transcribed.
    #[schema(value_type = Option<Object>)]
    pub transcript: Option<Value>,
    /// The extraction document (DESIGN.md §5 shape), when extracted.
    #[schema(value_type = Option<Object>)]
    pub extraction: Option<Value>,
    /// Corrections of the extraction, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub corrections: Vec<Correction>,
    /// A signed playback link, when the audio is stored.
    pub playback: Option<PlaybackLink>,
}

fn page(offset: Option<u32>, limit: Option<u32>) -> Page {
    Page {
        offset: offset.unwrap_or(0),
        limit: limit.unwrap_or(50).clamp(1, 500),
    }
}

fn parse_call_id(id: &str) -> ApiResult<CallId> {
    id.parse().map_err(|_| ApiError::not_found("call"))
}

/// Lists the tenant's calls, newest first.
#[utoipa::path(get, path = "/calls", tag = "calls", params(CallListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CallList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_calls(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<CallListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<CallList>> {
    let Query(query) = query?;
    let filter = query
        .state
        .as_deref()
        .map(|s| s.parse::<CallState>())
        .transpose()
        .map_err(|_| ApiError::invalid("state", "not a call state"))?;
    let page = page(query.offset, query.limit);
    let items = state.store.list_calls(principal.tenant, filter, page).await?;
    Ok(Json(CallList {
        items,
        offset: page.offset,
        limit: page.limit,
    }))
}

/// The recording key a call's `storage_key` (the canonical `tenant/call/kind/name`) names, if it is the tenant's.
fn recording_key(call: &Call) -> Option<RecordingKey> {
    let canonical = call.recording.as_ref()?.storage_key.as_deref()?;
    let mut parts = canonical.split('/');
    let (tenant, call_part, kind, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || tenant != call.tenant_id.to_string() {
        return None;
    }
    Some(RecordingKey::new(
        tenant.parse().ok()?,
        call_part.parse().ok()?,
        callbook_storage::ArtefactKind::parse(kind)?,
        name.parse().ok()?,
    ))
}

/// One call with its transcript, extraction, corrections and a signed playback link.
#[utoipa::path(get, path = "/calls/{id}", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    security(("bearer" = [])),
    responses((status = 200, body = CallDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_call(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CallDetail>> {
    let id = parse_call_id(&id)?;
    let tenant = principal.tenant;
    let call = state.store.get_call(tenant, id).await?;
    let transcript = state.store.get_transcript(tenant, id).await?;
    let extraction = state.store.get_extraction(tenant, id).await?;
    let corrections = state.store.list_corrections(tenant, id).await?;
    let playback = match recording_key(&call) {
        Some(key) => {
            let now = Utc::now();
            let token = state
                .playback
                .sign_for(&key, LinkPurpose::Playback, now, PLAYBACK_TTL)
                .map_err(|_| ApiError::internal())?;
            Some(PlaybackLink {
                url: state.url(&format!("/calls/{id}/audio?t={tenant}&sig={token}")),
                expires_at: now + PLAYBACK_TTL,
            })
        }
        None => None,
    };
    Ok(Json(CallDetail {
        state: call.processing.state,
        last_error: call.processing.last_error.clone(),
        step: call.processing.step.clone(),
        call,
        transcript: transcript.map(|t| t.document),
        extraction: extraction.map(|e| e.document),
        corrections,
        playback,
    }))
}

/// Query of the signed audio link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AudioQuery {
    /// The tenant id the link was issued for.
    pub t: Option<String>,
    /// The playback token.
    pub sig: Option<String>,
}

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range (absent, malformed or several ranges): send everything with `200`.
    Full,
    /// Bytes `start..end` (end exclusive, already clamped to [`MAX_RANGE_LEN`]): `206`.
    Partial(u64, u64),
    /// Nothing of the body is in the range: `416`.
    Unsatisfiable,
}

/// Parses a single-range `Range: bytes=…` header (RFC 9110 §14.1.2) against a body of `size` bytes. Open and
/// long ranges are clamped to [`MAX_RANGE_LEN`] (players ask for the rest); multiple ranges are ignored (`Full`),
/// which the RFC allows.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = if first.is_empty() {
        // Suffix range: the last N bytes.
        let Ok(n) = last.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if n == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        (size.saturating_sub(n), size)
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return RangeRequest::Full;
        };
        let end = if last.is_empty() {
            size
        } else {
            match last.parse::<u64>() {
                Ok(l) if l >= start => l.saturating_add(1).min(size),
                _ => return RangeRequest::Full,
            }
        };
        if start >= size {
            return RangeRequest::Unsatisfiable;
        }
        (start, end)
    };
    RangeRequest::Partial(start, end.min(start + MAX_RANGE_LEN))
}

fn link_error(e: LinkError) -> ApiError {
    match e {
        LinkError::Expired { .. } => ApiError::forbidden("link_expired", "the playback link has expired"),
        _ => ApiError::forbidden("bad_signature", "the playback link is not valid"),
    }
}

/// Streams a call's audio through a signed link (no bearer token): decrypted on the fly, `Range` answered with
/// `206` (at most 4 MiB per part) or `416`.
#[utoipa::path(get, path = "/calls/{id}/audio", tag = "calls",
    params(("id" = String, Path, description = "Call id"), AudioQuery,
        ("Range" = Option<String>, Header, description = "`bytes=start-end`, one range")),
    responses(
        (status = 200, description = "The whole recording", content_type = "audio/*"),
        (status = 206, description = "Part of the recording", content_type = "audio/*"),
        (status = 403, body = Problem, description = "Bad or expired signature"),
        (status = 404, body = Problem), (status = 416, body = Problem)))]
pub async fn call_audio(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<AudioQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (Some(tenant), Some(sig)) = (query.t.as_deref(), query.sig.as_deref()) else {
        return Err(ApiError::forbidden("bad_signature", "the link has no signature"));
    };
    let tenant = callbook_storage::TenantId::new(tenant)
        .map_err(|_| ApiError::forbidden("bad_signature", "the playback link is not valid"))?;
    let grant = state
        .playback
        .verify(sig, &tenant, LinkPurpose::Playback, Utc::now())
        .map_err(link_error)?;
    if grant.key.call.as_str() != id {
        return Err(ApiError::forbidden(
            "bad_signature",
            "the link is for another call",
        ));
    }
    let meta = state.recordings.head_recording(&grant.key).await?;
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        meta.size,
    );
    let mut response = match range {
        RangeRequest::Unsatisfiable => {
            let mut r = ApiError::range_not_satisfiable(meta.size).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", meta.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        RangeRequest::Partial(start, end) => {
            let bytes = state
                .recordings
                .get_recording_range(&grant.key, start..end)
                .await?;
            let mut r = (StatusCode::PARTIAL_CONTENT, bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{}", end - 1, meta.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        RangeRequest::Full => {
            let stream = state.recordings.get_recording(&grant.key).await?;
            let size = stream.size();
            let mut r = Body::from_stream(stream).into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            r
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// Puts a finished or dead call back in the queue (from its last checkpoint's natural keys: no second
/// download, no second job). `409 invalid_state` when the call is not final.
#[utoipa::path(post, path = "/calls/{id}/retry", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    security(("bearer" = [])),
    responses((status = 202, description = "Queued again", body = Object), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_call(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Call>)> {
    let id = parse_call_id(&id)?;
    let call = match &state.retry {
        Some(retry) => retry.retry_call(principal.tenant, id).await?,
        None => state.store.requeue_call(principal.tenant, id).await?,
    };
    Ok((StatusCode::ACCEPTED, Json(call)))
}

/// A correction of one extracted field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// `appointments[N].<field>` with field one of `customer_name`, `customer_phone`, `service_address`,
    /// `when`, `job_description`, `price`, `urgency`, `notes`.
    pub field: String,
    /// The corrected value in the extraction's shape (a string; an address object; a `when` object; a price
    /// `{"amount": "89.00", "currency": "USD", "kind": "quote"}`; an urgency), or `null` for "not said".
    #[schema(value_type = Object)]
    pub value: Value,
}

/// What a correction changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionResult {
    /// The saved correction.
    #[schema(value_type = Object)]
    pub correction: Correction,
    /// The job booked from that appointment, after the change (when the field maps to a job field).
    #[schema(value_type = Option<Object>)]
    pub job: Option<Job>,
}

/// Parses `appointments[N].field`.
pub fn parse_field_path(path: &str) -> Option<(usize, &str)> {
    let rest = path.strip_prefix("appointments[")?;
    let (index, rest) = rest.split_once("].")?;
    let index: usize = index.parse().ok()?;
    APPOINTMENT_FIELDS
        .iter()
        .find(|f| **f == rest)
        .map(|f| (index, *f))
}

/// The job-side change a corrected appointment field implies, validating `value` against the field's shape
/// first. `None` when the field is not on the job (name, phone) or there is no job.
fn job_patch(
    field: &str,
    value: &Value,
    job: Option<&Job>,
    tenant_zone: callbook_jobs::TimeZone,
    visit: chrono::TimeDelta,
) -> ApiResult<Option<JobPatch>> {
    fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> ApiResult<Option<T>> {
        if value.is_null() {
            return Ok(None);
        }
        serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| ApiError::invalid("value", e.to_string()))
    }
    let mut patch = JobPatch::default();
    match field {
        "customer_name" | "customer_phone" => {
            parse::<String>(value)?;
            return Ok(None);
        }
        "service_address" => {
            let address = parse::<ex::Address>(value)?;
            patch.address = Some(
                address
                    .map(|a| callbook_pipeline::mapping::address(&a))
                    .unwrap_or_default(),
            );
        }
        "when" => {
            let schedule = parse::<ex::When>(value)?.and_then(|w| {
                let start = w.start?.with_timezone(&Utc);
                let end = w.end.map(|e| e.with_timezone(&Utc)).filter(|e| *e > start);
                Some(Schedule {
                    start,
                    end: end.unwrap_or(start + visit),
                    timezone: job
                        .and_then(|j| j.schedule.as_ref())
                        .map(|s| s.timezone)
                        .unwrap_or(tenant_zone),
                })
            });
            patch.schedule = Some(schedule);
        }
        "job_description" => {
            let text = parse::<String>(value)?.unwrap_or_default().trim().to_owned();
            // The pipeline titles a job with its description; keep a title a person wrote.
            if let Some(job) = job
                && job.description.starts_with(&job.title)
                && !text.is_empty()
            {
                patch.title = Some(text.chars().take(200).collect());
            }
            patch.description = Some(text);
        }
        "price" => {
            let price = parse::<ex::Price>(value)?;
            patch.price = Some(price.map(|p| callbook_pipeline::mapping::money(&p)));
        }
        "urgency" => {
            let urgency = parse::<ex::Urgency>(value)?;
            patch.urgency = Some(
                urgency
                    .map(callbook_pipeline::mapping::urgency)
                    .unwrap_or(callbook_jobs::Urgency::Normal),
            );
        }
        "notes" => patch.notes = Some(parse::<String>(value)?),
        _ => return Ok(None),
    }
    Ok(job.is_some().then_some(patch))
}

async fn stored_extraction(state: &ApiState, tenant: TenantId, id: CallId) -> ApiResult<StoredExtraction> {
    state
        .store
        .get_extraction(tenant, id)
        .await?
        .ok_or_else(|| ApiError::conflict("invalid_state", "the call has no extraction yet"))
}

fn user_of(actor: &Actor) -> Option<callbook_jobs::UserId> {
    match actor {
        Actor::User(id) => Some(*id),
        Actor::System(_) => None,
    }
}

/// Corrects one extracted field: the correction is saved (audit trail and confidence calibration) and the job
/// booked from that appointment is updated when the field maps to a job field (address, when, description,
/// price, urgency, notes).
#[utoipa::path(post, path = "/calls/{id}/corrections", tag = "corrections",
    params(("id" = String, Path, description = "Call id")),
    request_body = CorrectionRequest,
    security(("bearer" = [])),
    responses((status = 201, body = CorrectionResult), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_correction(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<CorrectionRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<CorrectionResult>)> {
    let id = parse_call_id(&id)?;
    let Json(request) = body?;
    let tenant = principal.tenant;
    state.store.get_call(tenant, id).await?;
    let (index, field) = parse_field_path(&request.field).ok_or_else(|| {
        ApiError::invalid(
            "field",
            "must be appointments[N].<field> with a known appointment field",
        )
    })?;
    let extraction = stored_extraction(&state, tenant, id).await?;
    let appointments = extraction
        .document
        .get("appointments")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if index >= appointments {
        return Err(ApiError::invalid(
            "field",
            "the extraction has no such appointment",
        ));
    }
    let before = extraction
        .document
        .pointer(&format!("/appointments/{index}/{field}/value"))
        .cloned()
        .unwrap_or(Value::Null);
    let tenant_record = state.store.get_tenant(tenant).await?;
    let job = state
        .store
        .find_job_by_source(
            tenant,
            JobSource {
                call_id: id,
                appointment_index: i32::try_from(index).unwrap_or(i32::MAX),
            },
        )
        .await?;
    // Validates the value against the field's shape before anything is written.
    let patch = job_patch(
        field,
        &request.value,
        job.as_ref(),
        tenant_record.timezone,
        state.default_visit,
    )?;
    let updated = match (job, patch) {
        (Some(job), Some(patch)) => {
            let job = state
                .store
                .update_job(tenant, job.id, job.version, patch, principal.actor.clone())
                .await?;
            state.job_event(EventKind::JobUpdated, &job).await;
            Some(job)
        }
        (job, _) => job,
    };
    let correction = state
        .store
        .add_correction(
            tenant,
            NewCorrection {
                call_id: id,
                job_id: updated.as_ref().map(|j| j.id),
                field: format!("appointments[{index}].{field}"),
                before,
                after: request.value,
                user_id: user_of(&principal.actor),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CorrectionResult {
            correction,
            job: updated,
        }),
    ))
}

/// What an override or a "not an appointment" did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebookResult {
    /// The correction recorded for the audit trail.
    #[schema(value_type = Object)]
    pub correction: Correction,
    /// Jobs created or updated from the new extraction, by appointment index.
    #[schema(value_type = Vec<Object>)]
    pub jobs: Vec<Job>,
    /// Jobs moved to Cancelled because their appointment no longer exists.
    #[schema(value_type = Vec<Object>)]
    pub cancelled: Vec<Job>,
}

/// Moves the call's jobs from appointment `from_index` on to Cancelled.
async fn cancel_jobs_from(
    state: &ApiState,
    principal: &Principal,
    call: CallId,
    from_index: usize,
    known: usize,
) -> ApiResult<Vec<Job>> {
    let mut cancelled = Vec::new();
    // Jobs exist for at most the appointments of the previous extraction; look a little further for safety.
    for index in from_index..known.max(from_index) + 4 {
        let source = JobSource {
            call_id: call,
            appointment_index: i32::try_from(index).unwrap_or(i32::MAX),
        };
        if let Some(job) = state.store.find_job_by_source(principal.tenant, source).await?
            && job.stage != Stage::Cancelled
        {
            let job = state
                .store
                .move_job(
                    principal.tenant,
                    job.id,
                    job.version,
                    Stage::Cancelled,
                    None,
                    principal.actor.clone(),
                )
                .await?;
            state.job_event(EventKind::JobMoved, &job).await;
            cancelled.push(job);
        }
    }
    Ok(cancelled)
}

/// Replaces the call's whole extraction with a person's version (DESIGN.md §5 shape) and re-books: jobs of
/// existing appointments are updated, new appointments are booked, jobs of removed ones are cancelled.
#[utoipa::path(post, path = "/calls/{id}/override", tag = "corrections",
    params(("id" = String, Path, description = "Call id")),
    request_body(content = Object, description = "An extraction document (DESIGN.md §5)"),
    security(("bearer" = [])),
    responses((status = 200, body = RebookResult), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn override_extraction(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<RebookResult>> {
    let id = parse_call_id(&id)?;
    let Json(document) = body?;
    let tenant = principal.tenant;
    let call = state.store.get_call(tenant, id).await?;
    let extraction: ex::Extraction =
        serde_json::from_value(document).map_err(|e| ApiError::invalid("extraction", e.to_string()))?;
    // The extractor contract's checks (confidences, E.164 phones, consistent dates, prices).
    let problems = ex::validate::check(&extraction);
    if !problems.is_empty() {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|p| super::problem::FieldProblem {
                    field: match p.appointment {
                        Some(i) => format!("appointments[{i}].{}", p.field),
                        None => p.field.to_owned(),
                    },
                    message: p.message,
                })
                .collect(),
        ));
    }
    let tenant_record = state.store.get_tenant(tenant).await?;
    let previous = state.store.get_extraction(tenant, id).await?;
    let previous_count = previous
        .as_ref()
        .map(|p| usize::try_from(p.appointment_count).unwrap_or(0))
        .unwrap_or(0);
    let document = serde_json::to_value(&extraction).map_err(|_| ApiError::internal())?;
    let call_kind = document
        .get("call_kind")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    state
        .store
        .put_extraction(
            tenant,
            StoredExtraction {
                call_id: id,
                tenant_id: tenant,
                document: document.clone(),
                call_kind,
                appointment_count: i32::try_from(extraction.appointments.len()).unwrap_or(i32::MAX),
                confidence: Some(extraction.confidence),
                extractor: extraction.extractor.name.clone(),
                model: extraction.extractor.model.clone(),
                created_at: callbook_jobs::now(),
            },
        )
        .await?;
    let mut jobs = Vec::new();
    for (index, appointment) in extraction.appointments.iter().enumerate() {
        let (customer, new_job) = callbook_pipeline::mapping::booking_input(
            &call,
            &tenant_record,
            index,
            appointment,
            state.default_visit,
        );
        let source = new_job.source;
        let existing = match source {
            Some(source) => state.store.find_job_by_source(tenant, source).await?,
            None => None,
        };
        let job = match existing {
            Some(job) => {
                let schedule = match (new_job.scheduled_start, new_job.scheduled_end) {
                    (Some(start), Some(end)) => Some(Schedule {
                        start,
                        end,
                        timezone: new_job.timezone.unwrap_or(tenant_record.timezone),
                    }),
                    _ => None,
                };
                let mut patch = JobPatch {
                    title: Some(new_job.title),
                    description: Some(new_job.description),
                    address: Some(new_job.address),
                    schedule: Some(schedule),
                    price: Some(new_job.price),
                    urgency: Some(new_job.urgency),
                    notes: Some(new_job.notes),
                    ..JobPatch::default()
                };
                if job.schedule.is_none() && patch.schedule == Some(None) {
                    patch.schedule = None;
                }
                let job = state
                    .store
                    .update_job(tenant, job.id, job.version, patch, principal.actor.clone())
                    .await?;
                state.job_event(EventKind::JobUpdated, &job).await;
                job
            }
            None => {
                let job = state
                    .store
                    .book_appointment(tenant, customer, new_job, principal.actor.clone())
                    .await?
                    .job;
                state.job_event(EventKind::JobCreated, &job).await;
                job
            }
        };
        jobs.push(job);
    }
    let cancelled = cancel_jobs_from(
        &state,
        &principal,
        id,
        extraction.appointments.len(),
        previous_count,
    )
    .await?;
    let correction = state
        .store
        .add_correction(
            tenant,
            NewCorrection {
                call_id: id,
                job_id: None,
                field: "extraction".into(),
                before: previous.map(|p| p.document).unwrap_or(Value::Null),
                after: document,
                user_id: user_of(&principal.actor),
            },
        )
        .await?;
    Ok(Json(RebookResult {
        correction,
        jobs,
        cancelled,
    }))
}

/// Marks the call as holding no appointment: recorded as a correction of `call_kind` (for calibration), and the
/// jobs booked from it are cancelled.
#[utoipa::path(post, path = "/calls/{id}/not-an-appointment", tag = "corrections",
    params(("id" = String, Path, description = "Call id")),
    security(("bearer" = [])),
    responses((status = 200, body = RebookResult), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn not_an_appointment(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RebookResult>> {
    let id = parse_call_id(&id)?;
    let tenant = principal.tenant;
    state.store.get_call(tenant, id).await?;
    let extraction = state.store.get_extraction(tenant, id).await?;
    let (before, count) = match &extraction {
        Some(e) => (
            Value::String(e.call_kind.clone()),
            usize::try_from(e.appointment_count).unwrap_or(0),
        ),
        None => (Value::Null, 0),
    };
    let cancelled = cancel_jobs_from(&state, &principal, id, 0, count).await?;
    let correction = state
        .store
        .add_correction(
            tenant,
            NewCorrection {
                call_id: id,
                job_id: None,
                field: "call_kind".into(),
                before,
                after: Value::String("not_an_appointment".into()),
                user_id: user_of(&principal.actor),
            },
        )
        .await?;
    Ok(Json(RebookResult {
        correction,
        jobs: Vec::new(),
        cancelled,
    }))
}

// ---- issue 9 review
/// How a person ends the review of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The extraction (as corrected) stands: the call becomes `done`, or `no_appointment` when it was marked
    /// not an appointment (its latest call-level correction) or its extraction holds no appointment.
    Approved,
    /// The call held no appointment: `no_appointment` (mark it "not an appointment" first to cancel jobs).
    NoAppointment,
}

/// The body of `POST /calls/{id}/review`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `approved` or `no_appointment`.
    pub outcome: ReviewOutcome,
}

/// What finishing a review did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResult {
    /// The call in its new state (`done` or `no_appointment`).
    #[schema(value_type = Object)]
    pub call: Call,
    /// The correction recorded for the audit trail (`field` = `review`, `before` = `needs_review`, `after` =
    /// the new state).
    #[schema(value_type = Object)]
    pub correction: Correction,
}

/// The state an approved review ends in: `no_appointment` when the call's latest call-level correction marked
/// it not an appointment (an override after that wins) or its extraction holds no appointment, else `done`.
pub fn approved_state(corrections: &[Correction], extraction: Option<&StoredExtraction>) -> CallState {
    let marked_not = corrections
        .iter()
        .rev()
        .find(|c| c.field == "call_kind" || c.field == "extraction")
        .is_some_and(|c| c.field == "call_kind");
    let appointments = extraction.map(|e| e.appointment_count).unwrap_or(0);
    if marked_not || appointments == 0 {
        CallState::NoAppointment
    } else {
        CallState::Done
    }
}

/// Finishes a person's review: a call in `needs_review` becomes `done` (or `no_appointment`, see
/// [`ReviewOutcome`]) and leaves the Needs-review list. Recorded as a correction (`field` = `review`) and in the
/// audit log, published live as `call.finished`. Staff and up. `409 invalid_state` when the call is not in
/// `needs_review` (already reviewed, still processing, dead …).
#[utoipa::path(post, path = "/calls/{id}/review", tag = "corrections",
    params(("id" = String, Path, description = "Call id")),
    request_body = ReviewRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ReviewResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn review_call(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<ReviewRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ReviewResult>> {
    principal.require(callbook_jobs::Role::Staff)?;
    let id = parse_call_id(&id)?;
    let tenant = principal.tenant;
    let call = state.store.get_call(tenant, id).await?;
    let Json(request) = body?;
    if call.processing.state != CallState::NeedsReview {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "only a call that needs review can be marked reviewed (state {})",
                call.processing.state
            ),
        ));
    }
    let outcome = match request.outcome {
        ReviewOutcome::NoAppointment => CallState::NoAppointment,
        ReviewOutcome::Approved => {
            let corrections = state.store.list_corrections(tenant, id).await?;
            let extraction = state.store.get_extraction(tenant, id).await?;
            approved_state(&corrections, extraction.as_ref())
        }
    };
    // Atomic: a concurrent review loses with `409 invalid_state` and writes nothing.
    let call = state.store.finish_review(tenant, id, outcome).await?;
    let correction = state
        .store
        .add_correction(
            tenant,
            NewCorrection {
                call_id: id,
                job_id: None,
                field: "review".into(),
                before: Value::String(CallState::NeedsReview.as_str().into()),
                after: Value::String(outcome.as_str().into()),
                user_id: user_of(&principal.actor),
            },
        )
        .await?;
    super::privacy::audit(
        &state,
        &principal,
        "call.reviewed",
        "call",
        id.to_string(),
        serde_json::json!({"state": outcome.as_str()}),
    )
    .await;
    if let Some(notifier) = &state.notifier {
        let event = callbook_pipeline::notify::Event::new(tenant, EventKind::CallFinished, Utc::now())
            .with_call(id)
            .with_data(serde_json::json!({"state": outcome.as_str(), "reviewed": true}));
        if notifier.notify(&event).await.is_err() {
            tracing::warn!("could not deliver a call event");
        }
    }
    Ok(Json(ReviewResult { call, correction }))
}
// ---- end issue 9 review

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Partial(0, 10));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Partial(90, 100));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Partial(90, 100));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Partial(0, 100));
        assert_eq!(parse_range(Some("bytes=95-500"), 100), Partial(95, 100));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), Full);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), Full);
        let big = 10 * MAX_RANGE_LEN;
        assert_eq!(parse_range(Some("bytes=0-"), big), Partial(0, MAX_RANGE_LEN));
    }

    #[test]
    fn field_paths_name_an_appointment_field() {
        assert_eq!(
            parse_field_path("appointments[0].customer_name"),
            Some((0, "customer_name"))
        );
        assert_eq!(parse_field_path("appointments[12].when"), Some((12, "when")));
        assert_eq!(parse_field_path("appointments[0].colour"), None);
        assert_eq!(parse_field_path("appointments[x].when"), None);
        assert_eq!(parse_field_path("when"), None);
    }
}
