//! The in-app notification inbox of the signed-in user: `GET /notifications`, `POST /notifications/{id}/read`,
//! `POST /notifications/read-all`.
//!
//! Rows are written by callbook-pipeline's inbox notifier (one tenant-wide row when every user wants the kind
//! in-app, else one per user who does). A principal sees the tenant-wide rows and their own; a tenant-wide
//! token (no user) sees the tenant-wide rows only. A row's read flag is the row's: reading a tenant-wide
//! notification marks it read for everyone in the business (an office of a few people shares one inbox). The
//! payload is the event (ids, kind, time, a few words of `data`), never personal data: clients fetch what they
//! show through the calls and jobs endpoints.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use callbook_jobs::{Notification, NotificationId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};

/// Query of `GET /notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread notifications.
    pub unread: Option<bool>,
    /// Items to skip (default 0).
    pub offset: Option<u32>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
}

/// One notification as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationView {
    /// Id.
    #[schema(value_type = String)]
    pub id: NotificationId,
    /// The event kind: `job.created`, `call.needs_review`, `call.dead`, `call.finished`, `job.moved` …
    pub kind: String,
    /// The call concerned, if any.
    pub call_id: Option<String>,
    /// The job concerned, if any.
    pub job_id: Option<String>,
    /// The event's small detail (`{"state": "done"}`, `{"stage": "quote_sent"}`), `null` when none.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Whether it is addressed to this user only (else to the whole business).
    pub personal: bool,
    /// When it was created (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// When it was read, if it was (RFC 3339).
    #[schema(value_type = Option<String>)]
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        let id = |key: &str| n.payload.get(key).and_then(Value::as_str).map(str::to_owned);
        NotificationView {
            id: n.id,
            kind: n.kind.clone(),
            call_id: id("call_id"),
            job_id: id("job_id"),
            data: n.payload.get("data").cloned().unwrap_or(Value::Null),
            personal: n.user_id.is_some(),
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// The notifications of this page.
    pub items: Vec<NotificationView>,
    /// How many of this principal's notifications are unread (all pages).
    pub unread: usize,
    /// How many match the query (all pages).
    pub total: usize,
    /// The offset of this page.
    pub offset: u32,
    /// The page size used.
    pub limit: u32,
}

/// Result of `POST /notifications/read-all`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadAll {
    /// How many notifications were unread and are read now.
    pub marked: usize,
}

async fn visible(state: &ApiState, principal: &Principal, unread_only: bool) -> ApiResult<Vec<Notification>> {
    Ok(state
        .store
        .list_notifications(principal.tenant, principal.user, unread_only)
        .await?)
}

/// The signed-in user's notifications (their own and the business's), newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(NotificationQuery),
    security(("bearer" = [])),
    responses((status = 200, body = NotificationList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_notifications(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<NotificationQuery>, QueryRejection>,
) -> ApiResult<Json<NotificationList>> {
    let Query(query) = query?;
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 200"));
    }
    let all = visible(&state, &principal, false).await?;
    let unread = all.iter().filter(|n| n.read_at.is_none()).count();
    let matching: Vec<&Notification> = all
        .iter()
        .filter(|n| !query.unread.unwrap_or(false) || n.read_at.is_none())
        .collect();
    let items = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|n| NotificationView::from(*n))
        .collect();
    Ok(Json(NotificationList {
        items,
        unread,
        total: matching.len(),
        offset,
        limit,
    }))
}

/// Marks one notification read (idempotent: the first read time stays). Another user's personal notification
/// or another tenant's is `404`.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path, description = "Notification id")),
    security(("bearer" = [])),
    responses((status = 200, body = NotificationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationView>> {
    let id: NotificationId = id.parse().map_err(|_| ApiError::not_found("notification"))?;
    // only what this principal can see: not another user's personal row
    if !visible(&state, &principal, false)
        .await?
        .iter()
        .any(|n| n.id == id)
    {
        return Err(ApiError::not_found("notification"));
    }
    let n = state.store.mark_notification_read(principal.tenant, id).await?;
    Ok(Json(NotificationView::from(&n)))
}

/// Marks every notification this principal sees read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = ReadAll), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn mark_all_read(State(state): State<ApiState>, principal: Principal) -> ApiResult<Json<ReadAll>> {
    let unread = visible(&state, &principal, true).await?;
    for n in &unread {
        state.store.mark_notification_read(principal.tenant, n.id).await?;
    }
    Ok(Json(ReadAll { marked: unread.len() }))
}
