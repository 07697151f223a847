//! Customers: search, profile with call and job history, merge suggestions, merge and undo.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use callbook_jobs::{
    Actor, Customer, CustomerHistory, CustomerId, CustomerMerge, MergeId, MergeSuggestion, MergeSuggestionId,
    SuggestionStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};

/// Query of `GET /customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearchQuery {
    /// Every whitespace-separated term must occur in the name, a phone or the address (case-insensitive);
    /// empty lists all.
    pub q: Option<String>,
    /// At most this many (1–500, default 50).
    pub limit: Option<u32>,
}

/// Searches the tenant's (unmerged) customers, by name then id.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerSearchQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem)))]
pub async fn search_customers(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<CustomerSearchQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Customer>>> {
    let Query(query) = query?;
    let customers = state
        .store
        .search_customers(
            principal.tenant,
            query.q.as_deref().unwrap_or(""),
            query.limit.unwrap_or(50).clamp(1, 500),
        )
        .await?;
    Ok(Json(customers))
}

/// A customer's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerProfile {
    /// The customer (`merged_into` is set when it was merged into another).
    #[schema(value_type = Object)]
    pub customer: Customer,
    /// Calls and jobs of the customer and of every customer merged into it, newest first.
    #[schema(value_type = Object)]
    pub history: CustomerHistory,
}

/// A customer with their call and job history.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")), security(("bearer" = [])),
    responses((status = 200, body = CustomerProfile), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_customer(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerProfile>> {
    let id: CustomerId = id.parse().map_err(|_| ApiError::not_found("customer"))?;
    let customer = state.store.get_customer(principal.tenant, id).await?;
    let history = state.store.customer_history(principal.tenant, id).await?;
    Ok(Json(CustomerProfile { customer, history }))
}

/// Query of `GET /customers/merge-suggestions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionQuery {
    /// `open` (default), `accepted`, `dismissed` or `all`.
    pub status: Option<String>,
}

/// "These two customers may be the same", newest first.
#[utoipa::path(get, path = "/customers/merge-suggestions", tag = "customers", params(SuggestionQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn merge_suggestions(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<SuggestionQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<MergeSuggestion>>> {
    let Query(query) = query?;
    let status = match query.status.as_deref() {
        None => Some(SuggestionStatus::Open),
        Some("all") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::invalid("status", "open, accepted, dismissed or all"))?,
        ),
    };
    Ok(Json(
        state
            .store
            .list_merge_suggestions(principal.tenant, status)
            .await?,
    ))
}

/// Dismisses a merge suggestion ("not the same customer").
#[utoipa::path(post, path = "/customers/merge-suggestions/{id}/dismiss", tag = "customers",
    params(("id" = String, Path, description = "Merge suggestion id")), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn dismiss_suggestion(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<MergeSuggestion>> {
    let id: MergeSuggestionId = id.parse().map_err(|_| ApiError::not_found("merge suggestion"))?;
    Ok(Json(
        state.store.dismiss_merge_suggestion(principal.tenant, id).await?,
    ))
}

/// A merge request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer that remains.
    #[schema(value_type = String)]
    pub survivor_id: CustomerId,
    /// The customer merged into it.
    #[schema(value_type = String)]
    pub merged_id: CustomerId,
}

/// Merges one customer into another (reversible with `/customers/merges/{id}/undo`).
#[utoipa::path(post, path = "/customers/merge", tag = "customers", request_body = MergeRequest,
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn merge_customers(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CustomerMerge>)> {
    let Json(request) = body?;
    let merge = state
        .store
        .merge_customers(
            principal.tenant,
            request.survivor_id,
            request.merged_id,
            principal.actor,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(merge)))
}

/// Undoes a merge: the merged customer stands alone again. Undoing twice is `409 invalid_state`.
#[utoipa::path(post, path = "/customers/merges/{id}/undo", tag = "customers",
    params(("id" = String, Path, description = "Merge id")), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn undo_merge(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerMerge>> {
    let id: MergeId = id.parse().map_err(|_| ApiError::not_found("merge"))?;
    Ok(Json(state.store.undo_merge(principal.tenant, id).await?))
}

// ---- issue 9 review
/// A merge into a customer that can still be undone.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeView {
    /// The merge id (undo with `POST /customers/merges/{id}/undo`).
    #[schema(value_type = String)]
    pub id: MergeId,
    /// The customer merged into this one.
    #[schema(value_type = String)]
    pub merged_id: CustomerId,
    /// That customer's name (empty when unknown).
    pub merged_name: String,
    /// When it was merged (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Who merged: `user:<id>` or `system:<name>`.
    pub actor: String,
    /// The merging user's login, when a user of the tenant merged.
    pub actor_login: Option<String>,
}

/// The merges into this customer that can still be undone, newest first.
#[utoipa::path(get, path = "/customers/{id}/merges", tag = "customers",
    params(("id" = String, Path, description = "Customer id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<MergeView>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_merges(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<MergeView>>> {
    let id: CustomerId = id.parse().map_err(|_| ApiError::not_found("customer"))?;
    let tenant = principal.tenant;
    let merges = state.store.list_merges(tenant, id).await?;
    let mut views = Vec::with_capacity(merges.len());
    for merge in merges {
        let merged_name = state
            .store
            .get_customer(tenant, merge.merged_id)
            .await
            .map(|c| c.name)
            .unwrap_or_default();
        let actor_login = match &merge.actor {
            Actor::User(user) => state.store.get_user(tenant, *user).await.ok().map(|u| u.login),
            Actor::System(_) => None,
        };
        views.push(MergeView {
            id: merge.id,
            merged_id: merge.merged_id,
            merged_name,
            created_at: merge.created_at,
            actor: merge.actor.to_string(),
            actor_login,
        });
    }
    Ok(Json(views))
}
// ---- end issue 9 review
