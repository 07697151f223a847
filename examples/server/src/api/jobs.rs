//! Jobs on the pipeline board: list, create, read, edit with optimistic concurrency, move, notes, stage history,
//! photos, and calendars (one job's `.ics` and the tenant's tokenised feed).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use callbook_jobs::{
    Address, CustomerId, Job, JobFilter, JobId, JobNote, JobPatch, JobPhoto, Money, NewJob, NewPhoto, Page,
    PhotoId, Schedule, Stage, StageChange, TenantId, TimeZone, Urgency,
};
use callbook_storage::{ArtefactKind, RecordingKey, RecordingOptions, RecordingStoreExt};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use callbook_pipeline::notify::EventKind;

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};

/// The largest photo accepted (10 MiB); larger uploads are `413 payload_too_large`.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// Photo types accepted, as sniffed from the bytes (the `Content-Type` header is not trusted). HEIC photos
/// are reported as `image/heif`.
pub const PHOTO_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/heif"];

const CALENDAR: &str = "text/calendar; charset=utf-8";

fn parse_job_id(id: &str) -> ApiResult<JobId> {
    id.parse().map_err(|_| ApiError::not_found("job"))
}

fn etag(job: &Job) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", job.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// A job with its version as `ETag`.
fn with_etag(status: StatusCode, job: Job) -> Response {
    let tag = etag(&job);
    let mut response = (status, Json(job)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

/// The version a write is based on: `If-Match: "<version>"` (strong or weak), else the body's `version`;
/// neither is `428`.
pub fn expected_version(headers: &HeaderMap, body_version: Option<i64>) -> ApiResult<i64> {
    match headers.get(header::IF_MATCH) {
        Some(value) => {
            let text = value.to_str().unwrap_or("").trim();
            let text = text.strip_prefix("W/").unwrap_or(text);
            text.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| ApiError::invalid("If-Match", "must be a quoted version such as \"3\""))
        }
        None => body_version.ok_or_else(ApiError::precondition_required),
    }
}

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only this stage (`quote_requested`, `quote_sent`, `confirmed`, `in_progress`, `completed`, `cancelled`).
    pub stage: Option<String>,
    /// Only jobs scheduled to overlap `[from, to)` (RFC 3339).
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// See `from`.
    #[param(value_type = Option<String>)]
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive text in title, description or notes.
    pub q: Option<String>,
    /// Only this customer's jobs.
    pub customer_id: Option<String>,
    /// Items to skip.
    pub offset: Option<u32>,
    /// Page size (1–500, default 50).
    pub limit: Option<u32>,
}

/// A page of jobs in board order (position, then id).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// The jobs.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Job>,
    /// The offset of this page.
    pub offset: u32,
    /// The page size used.
    pub limit: u32,
}

/// Lists jobs, filtered by stage, schedule window, text and customer.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobListQuery), security(("bearer" = [])),
    responses((status = 200, body = JobList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_jobs(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<JobListQuery>, QueryRejection>,
) -> ApiResult<Json<JobList>> {
    let Query(query) = query?;
    let filter = JobFilter {
        stage: query
            .stage
            .as_deref()
            .map(str::parse::<Stage>)
            .transpose()
            .map_err(|_| ApiError::invalid("stage", "not a stage"))?,
        customer_id: query
            .customer_id
            .as_deref()
            .map(str::parse::<CustomerId>)
            .transpose()
            .map_err(|_| ApiError::invalid("customer_id", "not a customer id"))?,
        scheduled_from: query.from,
        scheduled_to: query.to,
        text: query.q.filter(|q| !q.trim().is_empty()),
    };
    let page = Page {
        offset: query.offset.unwrap_or(0),
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    };
    let items = state.store.list_jobs(principal.tenant, &filter, page).await?;
    Ok(Json(JobList {
        items,
        offset: page.offset,
        limit: page.limit,
    }))
}

/// A new job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobCreate {
    /// Title, 1–200 characters.
    pub title: String,
    /// What to do.
    #[serde(default)]
    pub description: String,
    /// The customer (of this tenant).
    #[schema(value_type = Option<String>)]
    pub customer_id: Option<CustomerId>,
    /// Service address (`line1`, `line2`, `city`, `region`, `postal_code`, `country`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub address: Address,
    /// Start (RFC 3339); needs `scheduled_end`.
    #[schema(value_type = Option<String>)]
    pub scheduled_start: Option<DateTime<Utc>>,
    /// End (RFC 3339), after the start.
    #[schema(value_type = Option<String>)]
    pub scheduled_end: Option<DateTime<Utc>>,
    /// IANA zone of the schedule; the tenant's when absent.
    #[schema(value_type = Option<String>)]
    pub timezone: Option<TimeZone>,
    /// RFC 5545 RRULE value (`FREQ=MONTHLY;COUNT=12`).
    pub recurrence: Option<String>,
    /// Price: `{"minor": 8900, "currency": "USD"}`.
    #[schema(value_type = Option<Object>)]
    pub price: Option<Money>,
    /// `emergency`, `urgent`, `normal` (default), `flexible`.
    #[schema(value_type = Option<String>)]
    pub urgency: Option<Urgency>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Reject with `409 double_booked` when the slot overlaps another open job.
    #[serde(default)]
    pub reject_double_booking: bool,
}

/// Creates a job in Quote Requested at the end of the column (version 1).
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobCreate, security(("bearer" = [])),
    responses((status = 201, body = Object, description = "The job; `ETag` is its version"),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_job(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<JobCreate>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(input) = body?;
    let mut job = NewJob::titled(input.title);
    job.description = input.description;
    job.customer_id = input.customer_id;
    job.address = input.address;
    job.scheduled_start = input.scheduled_start;
    job.scheduled_end = input.scheduled_end;
    job.timezone = input.timezone;
    job.recurrence = input.recurrence;
    job.price = input.price;
    job.urgency = input.urgency.unwrap_or(Urgency::Normal);
    job.notes = input.notes;
    job.reject_double_booking = input.reject_double_booking;
    let job = state
        .store
        .create_job(principal.tenant, job, principal.actor)
        .await?;
    state.job_event(EventKind::JobCreated, &job).await;
    let location = HeaderValue::from_str(&state.url(&format!("/jobs/{}", job.id)));
    let mut response = with_etag(StatusCode::CREATED, job);
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One job; `ETag` is its version.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_job(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.store.get_job(principal.tenant, parse_job_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, job))
}

fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A schedule in a patch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Start (RFC 3339).
    #[schema(value_type = String)]
    pub start: DateTime<Utc>,
    /// End (RFC 3339), after the start.
    #[schema(value_type = String)]
    pub end: DateTime<Utc>,
    /// IANA zone; the job's current one (or the tenant's) when absent.
    #[schema(value_type = Option<String>)]
    pub timezone: Option<TimeZone>,
}

/// An edit: absent fields stay, `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobUpdate {
    /// The version edited (alternative to `If-Match`).
    pub version: Option<i64>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Address.
    #[schema(value_type = Option<Object>)]
    pub address: Option<Address>,
    /// Schedule (`null` unschedules).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ScheduleInput>)]
    pub schedule: Option<Option<ScheduleInput>>,
    /// Recurrence (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub recurrence: Option<Option<String>>,
    /// Price (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub price: Option<Option<Money>>,
    /// Urgency.
    #[schema(value_type = Option<String>)]
    pub urgency: Option<Urgency>,
    /// Notes (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Customer (`null` detaches).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub customer_id: Option<Option<CustomerId>>,
    /// Reject with `409 double_booked` when the new schedule overlaps another open job.
    #[serde(default)]
    pub reject_double_booking: bool,
}

/// Edits a job. Needs `If-Match: "<version>"` (or `version`): stale is `409 version_conflict`, missing `428`.
#[utoipa::path(patch, path = "/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id"),
        ("If-Match" = Option<String>, Header, description = "The version edited, e.g. `\"3\"`")),
    request_body = JobUpdate, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn patch_job(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<JobUpdate>, JsonRejection>,
) -> ApiResult<Response> {
    let id = parse_job_id(&id)?;
    let Json(update) = body?;
    let expected = expected_version(&headers, update.version)?;
    let schedule = match update.schedule {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => {
            let timezone = match s.timezone {
                Some(tz) => tz,
                None => {
                    let job = state.store.get_job(principal.tenant, id).await?;
                    match job.schedule {
                        Some(current) => current.timezone,
                        None => state.store.get_tenant(principal.tenant).await?.timezone,
                    }
                }
            };
            Some(Some(Schedule {
                start: s.start,
                end: s.end,
                timezone,
            }))
        }
    };
    let patch = JobPatch {
        title: update.title,
        description: update.description,
        address: update.address,
        schedule,
        recurrence: update.recurrence,
        price: update.price,
        urgency: update.urgency,
        notes: update.notes,
        customer_id: update.customer_id,
        reject_double_booking: update.reject_double_booking,
    };
    let job = state
        .store
        .update_job(principal.tenant, id, expected, patch, principal.actor)
        .await?;
    state.job_event(EventKind::JobUpdated, &job).await;
    Ok(with_etag(StatusCode::OK, job))
}

/// A move on the board.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobMove {
    /// The target stage.
    #[schema(value_type = String)]
    pub stage: Stage,
    /// Position within the column (ascending); absent = end of the column.
    pub position: Option<i64>,
    /// The version moved (alternative to `If-Match`).
    pub version: Option<i64>,
}

/// Moves a job to a stage and position (reorders within a column too). Same version rules as `PATCH`.
#[utoipa::path(post, path = "/jobs/{id}/move", tag = "jobs", params(("id" = String, Path, description = "Job id"),
        ("If-Match" = Option<String>, Header, description = "The version moved")),
    request_body = JobMove, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 428, body = Problem)))]
pub async fn move_job(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<JobMove>, JsonRejection>,
) -> ApiResult<Response> {
    let id = parse_job_id(&id)?;
    let Json(request) = body?;
    let expected = expected_version(&headers, request.version)?;
    let job = state
        .store
        .move_job(
            principal.tenant,
            id,
            expected,
            request.stage,
            request.position,
            principal.actor,
        )
        .await?;
    state.job_event(EventKind::JobMoved, &job).await;
    Ok(with_etag(StatusCode::OK, job))
}

/// The job's notes, oldest first.
#[utoipa::path(get, path = "/jobs/{id}/notes", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_notes(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<JobNote>>> {
    let id = parse_job_id(&id)?;
    state.store.get_job(principal.tenant, id).await?;
    Ok(Json(state.store.list_notes(principal.tenant, id).await?))
}

/// A new note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteCreate {
    /// The text (non-empty).
    pub body: String,
}

/// Adds a note to a job.
#[utoipa::path(post, path = "/jobs/{id}/notes", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    request_body = NoteCreate, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_note(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<NoteCreate>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<JobNote>)> {
    let id = parse_job_id(&id)?;
    let Json(note) = body?;
    let note = state
        .store
        .add_note(principal.tenant, id, principal.actor, &note.body)
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// The job's stage changes, oldest first.
#[utoipa::path(get, path = "/jobs/{id}/history", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn job_history(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StageChange>>> {
    let id = parse_job_id(&id)?;
    state.store.get_job(principal.tenant, id).await?;
    Ok(Json(state.store.stage_history(principal.tenant, id).await?))
}

/// The job's photos (metadata), oldest first.
#[utoipa::path(get, path = "/jobs/{id}/photos", tag = "photos", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_photos(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<JobPhoto>>> {
    let id = parse_job_id(&id)?;
    state.store.get_job(principal.tenant, id).await?;
    Ok(Json(state.store.list_photos(principal.tenant, id).await?))
}

/// Query of a photo upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhotoQuery {
    /// A caption.
    pub caption: Option<String>,
}

/// The photo type of `bytes` from its magic bytes, if it is one we accept.
pub fn sniff_photo(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    let mime = kind.mime_type();
    PHOTO_TYPES.iter().find(|t| **t == mime).copied()
}

/// Reads a body of at most `limit` bytes; more is `413` (checked on `Content-Length` first, then while reading).
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the upload was interrupted"))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn photo_key(tenant: TenantId, job: JobId, name: &str) -> ApiResult<RecordingKey> {
    Ok(RecordingKey::new(
        callbook_storage::TenantId::new(tenant.to_string()).map_err(|_| ApiError::internal())?,
        callbook_storage::CallId::new(format!("job-{job}")).map_err(|_| ApiError::internal())?,
        ArtefactKind::Extraction,
        callbook_storage::ObjectName::new(name).map_err(|_| ApiError::internal())?,
    ))
}

/// Uploads a photo as the raw request body (JPEG, PNG, WebP or HEIC, sniffed from the bytes; at most 10 MiB),
/// stored encrypted. `413` when too large, `415` when not an accepted image.
#[utoipa::path(post, path = "/jobs/{id}/photos", tag = "photos",
    params(("id" = String, Path, description = "Job id"), PhotoQuery),
    request_body(content = Vec<u8>, content_type = "image/*", description = "The image bytes"),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn upload_photo(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    query: Result<Query<PhotoQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<JobPhoto>)> {
    let id = parse_job_id(&id)?;
    let Query(query) = query?;
    state.store.get_job(principal.tenant, id).await?;
    let bytes = read_limited(&headers, body, MAX_PHOTO_BYTES).await?;
    let content_type = sniff_photo(&bytes)
        .ok_or_else(|| ApiError::unsupported_media_type("photos must be JPEG, PNG, WebP or HEIC images"))?;
    let name = format!("photo-{}", PhotoId::new());
    let key = photo_key(principal.tenant, id, &name)?;
    let size = bytes.len();
    state
        .recordings
        .put_bytes(&key, RecordingOptions::new(content_type), bytes)
        .await?;
    let photo = state
        .store
        .add_photo(
            principal.tenant,
            id,
            principal.actor,
            NewPhoto {
                blob_key: key.canonical(),
                content_type: content_type.to_owned(),
                size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                caption: query.caption.filter(|c| !c.trim().is_empty()),
            },
        )
        .await;
    match photo {
        Ok(photo) => Ok((StatusCode::CREATED, Json(photo))),
        Err(e) => {
            // Do not leave an orphaned blob behind.
            let _ = state.recordings.delete_recording(&key).await;
            Err(e.into())
        }
    }
}

/// One photo's bytes, decrypted.
#[utoipa::path(get, path = "/jobs/{id}/photos/{photo_id}", tag = "photos",
    params(("id" = String, Path, description = "Job id"), ("photo_id" = String, Path, description = "Photo id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_photo(
    State(state): State<ApiState>,
    principal: Principal,
    Path((id, photo_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_job_id(&id)?;
    let photo_id: PhotoId = photo_id.parse().map_err(|_| ApiError::not_found("photo"))?;
    let photo = state
        .store
        .list_photos(principal.tenant, id)
        .await?
        .into_iter()
        .find(|p| p.id == photo_id)
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let name = photo.blob_key.rsplit('/').next().ok_or_else(ApiError::internal)?;
    let key = photo_key(principal.tenant, id, name)?;
    if key.canonical() != photo.blob_key {
        return Err(ApiError::not_found("photo"));
    }
    let bytes = state.recordings.get_bytes(&key).await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&photo.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}

fn calendar_response(text: String) -> Response {
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CALENDAR));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// The job as an RFC 5545 calendar (`text/calendar`).
#[utoipa::path(get, path = "/jobs/{id}/calendar.ics", tag = "calendar",
    params(("id" = String, Path, description = "Job id")), security(("bearer" = [])),
    responses((status = 200, description = "iCalendar", content_type = "text/calendar"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn job_calendar(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.store.get_job(principal.tenant, parse_job_id(&id)?).await?;
    Ok(calendar_response(callbook_jobs::calendar::job_ics(&job)))
}

/// The tenant's calendar feed URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedUrl {
    /// Subscribe to this URL in a calendar app (no bearer token; keep it secret).
    pub url: String,
}

/// The URL of the tenant's calendar feed, for calendar subscriptions.
#[utoipa::path(get, path = "/calendar-feed", tag = "calendar", security(("bearer" = [])),
    responses((status = 200, body = FeedUrl), (status = 401, body = Problem)))]
pub async fn calendar_feed_url(State(state): State<ApiState>, principal: Principal) -> Json<FeedUrl> {
    Json(FeedUrl {
        url: state.url(&format!("/calendar/{}.ics", state.feeds.token(principal.tenant))),
    })
}

/// At most this many jobs are read for a feed (the first ones in board order).
const FEED_MAX_JOBS: u32 = 5000;

/// The tenant's scheduled jobs as an iCalendar feed at `/calendar/{token}.ics`; the token in the URL is the
/// credential (wrong → `404`). (axum matches whole segments, hence the `{file}` parameter.)
#[utoipa::path(get, path = "/calendar/{file}", tag = "calendar",
    params(("file" = String, Path, description = "`<token>.ics`, the token from `/calendar-feed`")),
    responses((status = 200, description = "iCalendar", content_type = "text/calendar"),
        (status = 404, body = Problem)))]
pub async fn calendar_feed(State(state): State<ApiState>, Path(file): Path<String>) -> ApiResult<Response> {
    let tenant = file
        .strip_suffix(".ics")
        .and_then(|token| state.feeds.verify(token))
        .ok_or_else(|| ApiError::not_found("calendar"))?;
    let record = state.store.get_tenant(tenant).await?;
    let mut jobs = Vec::new();
    let mut offset = 0;
    while offset < FEED_MAX_JOBS {
        let page = state
            .store
            .list_jobs(tenant, &JobFilter::default(), Page { offset, limit: 500 })
            .await?;
        let n = page.len() as u32;
        jobs.extend(page.into_iter().filter(|j| j.schedule.is_some()));
        if n < 500 {
            break;
        }
        offset += n;
    }
    Ok(calendar_response(callbook_jobs::calendar::feed_ics(
        &record.name,
        &jobs,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_quoted_versions() {
        let mut h = HeaderMap::new();
        assert_eq!(expected_version(&h, Some(4)).unwrap(), 4);
        assert_eq!(
            expected_version(&h, None).unwrap_err().status(),
            StatusCode::PRECONDITION_REQUIRED
        );
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert_eq!(expected_version(&h, Some(9)).unwrap(), 3);
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"5\""));
        assert_eq!(expected_version(&h, None).unwrap(), 5);
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(
            expected_version(&h, None).unwrap_err().code(),
            "validation_failed"
        );
    }

    #[test]
    fn photos_are_sniffed_not_trusted() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff_photo(png), Some("image/png"));
        assert_eq!(sniff_photo(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Some("image/jpeg"));
        assert_eq!(sniff_photo(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff_photo(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some("image/heif")
        );
        assert_eq!(sniff_photo(b"GIF89a\x01\0\x01\0"), None, "GIF is not accepted");
        assert_eq!(sniff_photo(b"<html>hello</html>"), None);
        assert_eq!(sniff_photo(b""), None);
    }
}
