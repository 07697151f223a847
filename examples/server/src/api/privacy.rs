//! GDPR endpoints: exports (streamed zips), erasure of a customer or the whole tenant, legal holds and the
//! audit log. The work is done by [`crate::privacy`]; these handlers check roles, map errors and audit.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /customers/{id}/export` | admin | zip of everything about the customer |
//! | `GET /export` | admin | zip of everything of the tenant |
//! | `DELETE /customers/{id}` | admin | erases the customer, their calls and jobs (blobs, provider copies, rows) |
//! | `DELETE /calls/{id}` | admin | erases one call and what was derived from it |
//! | `DELETE /tenant` | owner | erases the tenant; body `{"confirm": "<tenant name>"}` |
//! | `GET/POST /legal-holds`, `DELETE /legal-holds/{target}` | admin | holds on the tenant or a call |
//! | `GET /audit` | admin | the audit log, newest first |
//!
//! A legal hold refuses erasure with `409 legal_hold`; a provider that cannot delete its copy of a
//! recording is `502 provider_error` (nothing was deleted from the database: retry).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use callbook_jobs::{AuditEntry, CallId, CustomerId, Page, Role};
use callbook_storage::LegalHold;
use chrono::Utc;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Principal;
use super::lines::LineError;
use super::problem::{ApiError, Problem};
use crate::privacy::{self, ErasureReceipt, ExportScope, PrivacyError};

impl From<PrivacyError> for LineError {
    fn from(e: PrivacyError) -> Self {
        match e {
            PrivacyError::Store(e) => ApiError::from(e).into(),
            PrivacyError::Storage(e) => ApiError::from(e).into(),
            PrivacyError::LegalHold(what) => LineError::new(
                StatusCode::CONFLICT,
                "legal_hold",
                "Legal hold",
                format!("a legal hold covers {what}; release it first"),
            ),
            PrivacyError::Provider { failed, .. } => LineError::new(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                "Provider error",
                format!(
                    "the telephony provider could not delete {failed} recording(s); nothing was deleted from the \
                     database, retry the deletion"
                ),
            ),
            PrivacyError::Write(_) => ApiError::internal().into(),
        }
    }
}

type PrivacyResult<T> = Result<T, LineError>;

fn storage_tenant(principal: &Principal) -> PrivacyResult<callbook_storage::TenantId> {
    callbook_storage::TenantId::new(principal.tenant.to_string()).map_err(|e| ApiError::from(e).into())
}

/// Streams the export of `scope` as the response body; audits it when it is complete.
fn stream_export(state: ApiState, principal: Principal, scope: ExportScope, file: String) -> Response {
    let (reader, writer) = tokio::io::duplex(64 * 1024);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
    tokio::spawn(async move {
        let result = privacy::write_export(
            state.store.as_ref(),
            state.recordings.as_ref(),
            principal.tenant,
            scope,
            writer,
        )
        .await;
        let ok = match result {
            Ok(summary) => {
                let (action, entity, id) = match scope {
                    ExportScope::Customer(id) => ("customer.exported", "customer", id.to_string()),
                    ExportScope::Tenant => ("tenant.exported", "tenant", principal.tenant.to_string()),
                };
                let details = json!({"counts": summary.counts, "files": summary.files.len()});
                audit(&state, &principal, action, entity, id, details).await;
                metrics::counter!("callbook_exports_total", "scope" => entity).increment(1);
                true
            }
            Err(e) => {
                let kind = match e {
                    PrivacyError::Write(_) => "write",
                    PrivacyError::Store(_) => "store",
                    PrivacyError::Storage(_) => "storage",
                    _ => "other",
                };
                tracing::warn!(kind, "export failed");
                false
            }
        };
        let _ = done_tx.send(ok);
    });
    // When the archive failed half-way the body ends with an error, so the client sees a broken transfer
    // instead of a truncated zip that looks complete.
    let tail = futures_util::stream::once(async move {
        match done_rx.await {
            Ok(true) => None,
            _ => Some(Err(std::io::Error::other("export failed"))),
        }
    })
    .filter_map(|x| async move { x });
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader).chain(tail));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn parse_customer(id: &str) -> Result<CustomerId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("customer"))
}

/// Exports everything about one customer (and every customer merged into it) as a zip: JSON of the
/// customer, their calls (transcript, extraction, corrections), jobs (notes, history, photos), the decrypted
/// audio and photos, and a manifest with counts and SHA-256 per file. Streamed. Needs the admin role.
#[utoipa::path(get, path = "/customers/{id}/export", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_customer(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> PrivacyResult<Response> {
    principal.require(Role::Admin)?;
    let id = parse_customer(&id)?;
    // Unknown ids are a 404 before any byte of the zip is sent.
    state.store.get_customer(principal.tenant, id).await?;
    Ok(stream_export(
        state,
        principal,
        ExportScope::Customer(id),
        format!("customer-{id}.zip"),
    ))
}

/// Exports everything of the tenant as a zip (also users without password hashes, lines without
/// credentials, settings, usage, audit log and legal holds). Streamed. Needs the admin role.
#[utoipa::path(get, path = "/export", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn export_tenant(State(state): State<ApiState>, principal: Principal) -> PrivacyResult<Response> {
    principal.require(Role::Admin)?;
    let file = format!("tenant-{}.zip", principal.tenant);
    Ok(stream_export(state, principal, ExportScope::Tenant, file))
}

/// Erases a customer completely: their stored audio and photos (crypto-shredded and deleted), the
/// provider's copies of their recordings, then every row (customer, merged customers, calls, transcripts,
/// extractions, corrections, jobs, notes, photos, history). Returns the deletion receipt. Needs admin.
#[utoipa::path(delete, path = "/customers/{id}", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn delete_customer(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> PrivacyResult<Json<ErasureReceipt>> {
    principal.require(Role::Admin)?;
    let id = parse_customer(&id)?;
    let (store, recordings, telephony) = detached_parts(&state);
    let (tenant, actor) = (principal.tenant, principal.actor.clone());
    let receipt = run_detached(async move {
        privacy::erase_customer(
            store.as_ref(),
            recordings.as_ref(),
            telephony.as_deref(),
            tenant,
            id,
            actor,
        )
        .await
    })
    .await??;
    metrics::counter!("callbook_erasures_total", "scope" => "customer").increment(1);
    Ok(Json(receipt))
}

/// Erases one call (e.g. a voicemail of a caller who never became a customer): its audio, the provider's
/// copy, transcript, extraction, corrections and the jobs booked from it. Needs admin. To erase a customer's
/// calls, erase the customer.
#[utoipa::path(delete, path = "/calls/{id}", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Call id")),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn delete_call(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> PrivacyResult<Json<ErasureReceipt>> {
    principal.require(Role::Admin)?;
    let id: CallId = id.parse().map_err(|_| ApiError::not_found("call"))?;
    let (store, recordings, telephony) = detached_parts(&state);
    let (tenant, actor) = (principal.tenant, principal.actor.clone());
    let receipt = run_detached(async move {
        privacy::erase_call(
            store.as_ref(),
            recordings.as_ref(),
            telephony.as_deref(),
            tenant,
            id,
            actor,
        )
        .await
    })
    .await??;
    metrics::counter!("callbook_erasures_total", "scope" => "call").increment(1);
    Ok(Json(receipt))
}

type ErasureParts = (
    Arc<dyn callbook_jobs::JobStore>,
    Arc<dyn callbook_storage::RecordingStore>,
    Option<Arc<dyn callbook_telephony::telephony::Telephony>>,
);

fn detached_parts(state: &ApiState) -> ErasureParts {
    (
        state.store.clone(),
        state.recordings.clone(),
        state.telephony.clone(),
    )
}

/// Runs an erasure as its own task: a request timeout or a client that hangs up drops the handler, and an
/// erasure cut off between deleting the blobs and the rows (or before its audit entry) must not happen.
async fn run_detached<T: Send + 'static>(
    erasure: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, LineError> {
    tokio::spawn(erasure)
        .await
        .map_err(|_| ApiError::internal().into())
}

/// Cancels the tenant's subscription at once (no subscription is fine), so a deleted business is not charged.
async fn stop_billing(state: &ApiState, tenant: callbook_jobs::TenantId) -> PrivacyResult<()> {
    let Some(billing) = &state.billing else {
        return Ok(());
    };
    let id = callbook_billing::TenantId::new(tenant.to_string());
    match billing
        .cancel(&id, callbook_billing::CancelMode::Immediately)
        .await
    {
        Ok(_) | Err(callbook_billing::Error::NotFound { .. }) => Ok(()),
        Err(_) => Err(LineError::new(
            StatusCode::BAD_GATEWAY,
            "billing_unavailable",
            "Billing provider unavailable",
            "the subscription could not be cancelled; nothing was deleted — retry",
        )),
    }
}

/// Body of `DELETE /tenant`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantDeletion {
    /// The tenant's name, exactly: a guard against deleting the wrong account.
    pub confirm: String,
}

/// Erases the whole tenant: every blob, the provider's copies of every recording, every row (users,
/// sessions, tokens, lines, calls, customers, jobs, audit …), then its encryption keys. The receipt is
/// returned and logged as a structured event (the tenant's own audit log is gone with it). Needs the owner
/// role and `{"confirm": "<tenant name>"}`.
#[utoipa::path(delete, path = "/tenant", tag = "privacy", security(("bearer" = [])), request_body = TenantDeletion,
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn delete_tenant(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<TenantDeletion>, JsonRejection>,
) -> PrivacyResult<Json<ErasureReceipt>> {
    principal.require(Role::Owner)?;
    let Json(body) = body?;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    if body.confirm != tenant.name {
        return Err(ApiError::invalid("confirm", "must be the tenant's name, exactly").into());
    }
    // Stop what the tenant pays for before its rows go: a failure here deletes nothing and can be retried.
    stop_billing(&state, principal.tenant).await?;
    super::lines::release_all_lines(&state, principal.tenant).await?;
    let (store, recordings, telephony) = detached_parts(&state);
    let tenant = principal.tenant;
    let receipt = run_detached(async move {
        privacy::erase_tenant(store.as_ref(), recordings.as_ref(), telephony.as_deref(), tenant).await
    })
    .await??;
    metrics::counter!("callbook_erasures_total", "scope" => "tenant").increment(1);
    Ok(Json(receipt))
}

/// A legal hold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    /// `tenant` (everything) or `call` (one call).
    pub scope: String,
    /// The held call, for `call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// The tenant's legal holds. Held data is never purged by retention and refuses erasure. Needs admin.
#[utoipa::path(get, path = "/legal-holds", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, body = Vec<HoldView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_holds(
    State(state): State<ApiState>,
    principal: Principal,
) -> PrivacyResult<Json<Vec<Value>>> {
    principal.require(Role::Admin)?;
    let holds = state
        .recordings
        .legal_holds(&storage_tenant(&principal)?)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(holds.iter().map(privacy::hold_json).collect()))
}

async fn hold_of(
    state: &ApiState,
    principal: &Principal,
    scope: &str,
    call: Option<&str>,
) -> PrivacyResult<LegalHold> {
    let tenant = storage_tenant(principal)?;
    match (scope, call) {
        ("tenant", None) => Ok(LegalHold::Tenant(tenant)),
        ("call", Some(call)) => {
            let id: CallId = call.parse().map_err(|_| ApiError::not_found("call"))?;
            state.store.get_call(principal.tenant, id).await?;
            let call = callbook_storage::CallId::new(id.to_string()).map_err(ApiError::from)?;
            Ok(LegalHold::Call(tenant, call))
        }
        _ => Err(ApiError::invalid("scope", "`tenant` (without call_id) or `call` with a call_id").into()),
    }
}

/// Appends an audit entry for what `principal` did (ids and counts only, never personal data). A failure is
/// logged, never fails the request: the change itself happened.
pub(crate) async fn audit(
    state: &ApiState,
    principal: &Principal,
    action: &str,
    entity: &str,
    entity_id: String,
    details: Value,
) {
    let entry = AuditEntry {
        tenant_id: principal.tenant,
        actor: principal.actor.clone(),
        action: action.into(),
        entity: entity.into(),
        entity_id,
        details,
        at: Utc::now(),
    };
    if state.store.append_audit(entry).await.is_err() {
        tracing::error!(action, "could not write an audit entry");
    }
}

async fn audit_hold(state: &ApiState, principal: &Principal, action: &str, hold: &LegalHold) {
    let (entity, id) = match hold {
        LegalHold::Tenant(t) => ("tenant", t.to_string()),
        LegalHold::Call(_, c) => ("call", c.to_string()),
    };
    audit(state, principal, action, entity, id, json!({})).await;
}

/// Places a legal hold on the tenant (`{"scope": "tenant"}`) or a call (`{"scope": "call", "call_id": …}`).
/// Idempotent. Audited. Needs admin.
#[utoipa::path(post, path = "/legal-holds", tag = "privacy", security(("bearer" = [])), request_body = HoldView,
    responses((status = 201, body = HoldView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn place_hold(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<HoldView>, JsonRejection>,
) -> PrivacyResult<(StatusCode, Json<Value>)> {
    principal.require(Role::Admin)?;
    let Json(body) = body?;
    let hold = hold_of(&state, &principal, &body.scope, body.call_id.as_deref()).await?;
    state
        .recordings
        .place_legal_hold(&hold)
        .await
        .map_err(ApiError::from)?;
    audit_hold(&state, &principal, "legal_hold.placed", &hold).await;
    Ok((StatusCode::CREATED, Json(privacy::hold_json(&hold))))
}

/// Releases a legal hold: `target` is `tenant` or a call id. Idempotent. Audited. Needs admin.
#[utoipa::path(delete, path = "/legal-holds/{target}", tag = "privacy", security(("bearer" = [])),
    params(("target" = String, Path, description = "`tenant` or a call id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn release_hold(
    State(state): State<ApiState>,
    principal: Principal,
    Path(target): Path<String>,
) -> PrivacyResult<StatusCode> {
    principal.require(Role::Admin)?;
    let hold = if target == "tenant" {
        hold_of(&state, &principal, "tenant", None).await?
    } else {
        hold_of(&state, &principal, "call", Some(&target)).await?
    };
    state
        .recordings
        .release_legal_hold(&hold)
        .await
        .map_err(ApiError::from)?;
    audit_hold(&state, &principal, "legal_hold.released", &hold).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Skip this many.
    pub offset: Option<u32>,
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

/// The tenant's audit log (exports, erasures, holds, retention runs, job changes …). Needs admin.
#[utoipa::path(get, path = "/audit", tag = "privacy", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> PrivacyResult<Json<Vec<AuditEntry>>> {
    principal.require(Role::Admin)?;
    let Query(query) = query?;
    let page = Page {
        offset: query.offset.unwrap_or(0),
        limit: query.limit.unwrap_or(100).clamp(1, 500),
    };
    Ok(Json(state.store.list_audit(principal.tenant, page).await?))
}
