//! The settings page's billing: plan, status, usage this period and invoices (`GET /billing`, admin), and
//! the owner's subscription (`POST`/`DELETE /billing/subscription`).
//!
//! Plan, status and invoices come from the billing provider ([`ApiState::billing`]); usage from the job
//! store's counters for the current period in the tenant's zone (as `GET /usage`), each marked with whether
//! the provider bills it. When the provider is down (or none is configured) the page still renders: usage,
//! what the last webhooks said (`last_known`, the tenant's `billing` settings section) and
//! `billing_unavailable: true`. Writes are audited (`billing.subscribed`, `billing.cancelled`).

use axum::Json;
use axum::extract::State;
use callbook_billing::{BillingProviderExt as _, CancelMode, NewCustomer, SubscribeRequest, Subscription};
use callbook_jobs::{Role, UsageTotal};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Principal;
use super::problem::{ApiError, ApiResult, Problem};
use super::{ApiState, privacy};

/// How many invoices the page lists.
pub const INVOICES: u32 = 12;

/// One usage counter of the billing page.
#[derive(Debug, Serialize, ToSchema)]
pub struct BilledUsage {
    /// The metric (`calls`, `audio_seconds` …).
    pub metric: String,
    /// Its total this period.
    pub total: i64,
    /// Whether the billing provider bills it (has a meter for it).
    pub billed: bool,
}

/// This period's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingUsage {
    /// The period (`YYYY-MM`, the tenant's zone).
    pub period: String,
    /// Counters by metric (byte order).
    pub totals: Vec<BilledUsage>,
}

/// The settings page's billing view.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingView {
    /// The provider could not be asked (outage or not configured): `subscription` and `invoices` are empty,
    /// `last_known` says what the webhooks last reported.
    pub billing_unavailable: bool,
    /// The tenant's billing customer id, if it has one.
    pub customer_id: Option<String>,
    /// The plan subscribing would choose (`STRIPE_PRICE_ID`).
    pub default_price: Option<String>,
    /// The current subscription: `id`, `status`, `price`, `current_period_start`/`_end`,
    /// `cancel_at_period_end`, `entitled`.
    #[schema(value_type = Option<Object>)]
    pub subscription: Option<Value>,
    /// This period's usage.
    pub usage: BillingUsage,
    /// Recent invoices, newest first: `id`, `number`, `status`, `amount_due`, `amount_paid`, `currency`,
    /// `period_start`, `period_end`, `hosted_invoice_url`, `created`.
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<Value>,
    /// The tenant's `billing` settings section (updated by Stripe's webhooks), `null` when empty.
    #[schema(value_type = Object)]
    pub last_known: Value,
}

/// The subscription as the API shows it.
pub(crate) fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id.as_str(),
        "status": s.status.as_str(),
        "entitled": s.status.is_entitled(),
        "price": s.price.as_ref().map(|p| p.as_str()),
        "current_period_start": s.current_period_start,
        "current_period_end": s.current_period_end,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
    })
}

fn invoice_json(i: &callbook_billing::Invoice) -> Value {
    json!({
        "id": i.id.as_str(),
        "number": i.number,
        "status": i.status.as_str(),
        "amount_due": i.amount_due.minor_units(),
        "amount_paid": i.amount_paid.minor_units(),
        "currency": i.currency(),
        "period_start": i.period_start,
        "period_end": i.period_end,
        "hosted_invoice_url": i.hosted_invoice_url,
        "created": i.created,
    })
}

/// A provider error as an API error: retryable or configuration problems are `503 unavailable`,
/// refusals `409`, a missing object `404`.
pub(crate) fn billing_error(e: &callbook_billing::Error) -> ApiError {
    use callbook_billing::Error as E;
    match e {
        E::NotFound { .. } => ApiError::not_found("subscription"),
        E::InvalidInput { .. } | E::Conflict { .. } | E::IdempotencyKeyReused { .. } => {
            tracing::warn!("billing provider refused: {e}");
            ApiError::conflict("billing_rejected", "the billing provider refused the change")
        }
        E::PaymentFailed { .. } => ApiError::conflict("payment_failed", "the payment method was declined"),
        _ => {
            tracing::error!("billing provider unavailable: {e}");
            ApiError::unavailable()
        }
    }
}

/// Plan, subscription status, current period, this period's usage (with which metrics are billed) and recent
/// invoices. A provider outage still answers `200` with the usage and `billing_unavailable: true`.
#[utoipa::path(get, path = "/billing", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = BillingView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_billing(
    State(state): State<ApiState>,
    principal: Principal,
) -> ApiResult<Json<BillingView>> {
    principal.require(Role::Admin)?;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let period = callbook_pipeline::usage::period(chrono::Utc::now(), &tenant);
    let billing = state.billing.as_deref();
    let totals = state
        .store
        .list_usage(principal.tenant, &period)
        .await?
        .into_iter()
        .filter(|u| !crate::billing::is_internal_metric(&u.metric))
        .map(|UsageTotal { metric, total }| BilledUsage {
            billed: billing.is_some_and(|b| b.bills_metric(&metric)),
            metric,
            total,
        })
        .collect();
    let last_known = tenant
        .settings
        .get(crate::billing::SETTINGS_SECTION)
        .cloned()
        .unwrap_or(Value::Null);
    let mut view = BillingView {
        billing_unavailable: true,
        customer_id: crate::billing::customer_id(&tenant.settings).map(str::to_owned),
        default_price: billing.and_then(|b| b.default_price()).map(|p| p.to_string()),
        subscription: None,
        usage: BillingUsage { period, totals },
        invoices: Vec::new(),
        last_known,
    };
    let Some(billing) = billing else {
        return Ok(Json(view));
    };
    let id = callbook_billing::TenantId::new(principal.tenant.to_string());
    match billing.overview(&id, INVOICES).await {
        Ok(overview) => {
            view.billing_unavailable = false;
            if let Some(account) = &overview.account {
                view.customer_id = Some(account.customer_id.to_string());
            }
            view.subscription = overview.subscription.as_ref().map(subscription_json);
            view.invoices = overview.invoices.iter().map(invoice_json).collect();
        }
        Err(e) => tracing::warn!("billing overview unavailable, showing usage only: {e}"),
    }
    Ok(Json(view))
}

/// Subscribes the tenant to the default plan (creating its billing customer first). Idempotent: a live
/// subscription to that plan is returned as it is. Owner only.
#[utoipa::path(post, path = "/billing/subscription", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "the subscription"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn subscribe(State(state): State<ApiState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(Role::Owner)?;
    let billing = state.billing.clone().ok_or_else(ApiError::unavailable)?;
    let price = billing
        .default_price()
        .ok_or_else(|| ApiError::conflict("no_default_price", "no plan is configured (STRIPE_PRICE_ID)"))?;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let id = callbook_billing::TenantId::new(principal.tenant.to_string());
    let account = billing
        .ensure_customer(&NewCustomer::new(id.clone(), tenant.name.clone()))
        .await
        .map_err(|e| billing_error(&e))?;
    let customer = account.customer_id.to_string();
    crate::billing::update_section(state.store.as_ref(), principal.tenant, |s| {
        s.insert("customer_id".into(), Value::String(customer.clone()));
    })
    .await?;
    let subscription = billing
        .subscribe(&id, &SubscribeRequest::new(price))
        .await
        .map_err(|e| billing_error(&e))?;
    privacy::audit(
        &state,
        &principal,
        "billing.subscribed",
        "subscription",
        subscription.id.to_string(),
        json!({"status": subscription.status.as_str(),
            "price": subscription.price.as_ref().map(|p| p.as_str())}),
    )
    .await;
    Ok(Json(subscription_json(&subscription)))
}

/// Cancels the tenant's subscription at the end of the paid period (reversible until then). Owner only;
/// `404` without a subscription.
#[utoipa::path(delete, path = "/billing/subscription", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "the subscription"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn cancel(State(state): State<ApiState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(Role::Owner)?;
    let billing = state.billing.clone().ok_or_else(ApiError::unavailable)?;
    let id = callbook_billing::TenantId::new(principal.tenant.to_string());
    let subscription = billing
        .cancel(&id, CancelMode::AtPeriodEnd)
        .await
        .map_err(|e| billing_error(&e))?;
    privacy::audit(
        &state,
        &principal,
        "billing.cancelled",
        "subscription",
        subscription.id.to_string(),
        json!({"status": subscription.status.as_str(), "cancel_at_period_end": subscription.cancel_at_period_end}),
    )
    .await;
    Ok(Json(subscription_json(&subscription)))
}
