//! `POST /webhooks/stripe`: Stripe's subscription and invoice events, verified, deduplicated and applied to the
//! tenant's `billing` settings section (see [`crate::billing`]).
//!
//! Outside cookie/CSRF auth (the `Stripe-Signature` HMAC is the authentication), under the webhooks' body and
//! rate limits ([`crate::hardening`] applies them to every `/webhooks/` path).
//!
//! | delivery | answer | effect |
//! |---|---|---|
//! | bad or old signature, not a Stripe event | `400 invalid_signature` / `400 malformed_webhook` | nothing written |
//! | no webhook secret configured | `503` (Stripe retries) | nothing written |
//! | subscription / invoice event of a known tenant | `200` | the section updated, audited (`billing.webhook`); `invoice.payment_failed` also puts `billing.payment_failed` in the tenant's inbox |
//! | the same event again (its id) | `200` | nothing |
//! | older than the state already applied | `200` | nothing (recorded as delivered) |
//! | unknown tenant or customer, other event types | `200` (Stripe must not retry forever) | nothing |
//!
//! The tenant comes from the subscription's or invoice's `metadata.callbook_tenant_id`, which must agree with
//! the customer id the tenant has on record; without it, the tenant whose section holds the customer id.
//! Dedupe uses the store's `first_delivery(tenant, "stripe:<event id>")` *after* applying (the update itself
//! is idempotent: the same event writes the same values), so a crash in between loses nothing and a
//! redelivery neither audits nor notifies twice. Every delivery counts in
//! `callbook_stripe_webhooks_total{outcome}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use callbook_billing::{BillingEvent, BillingEventKind, Error as BillingError};
use callbook_jobs::{Actor, AuditEntry, JobStore, Page, Tenant, TenantId};
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiState};
use crate::billing::{SETTINGS_SECTION, customer_id, update_section};

/// The route's path.
pub const PATH: &str = "/webhooks/stripe";

/// `POST /webhooks/stripe` over the API state (merge it into the application's router).
pub fn router(state: ApiState) -> Router {
    Router::new().route(PATH, post(stripe)).with_state(state)
}

fn count(outcome: &'static str) {
    metrics::counter!("callbook_stripe_webhooks_total", "outcome" => outcome).increment(1);
}

/// Handles one Stripe delivery (see the module docs).
pub async fn stripe(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(billing) = state.billing.clone() else {
        count("unconfigured");
        return ApiError::unavailable().into_response();
    };
    let signature = headers
        .get(callbook_billing::webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let event = match billing.verify_webhook(&body, signature, Utc::now()) {
        Ok(event) => event,
        Err(e @ BillingError::InvalidSignature(_)) => {
            tracing::warn!("stripe webhook rejected: {e}");
            count("invalid_signature");
            return ApiError::bad_request_code("invalid_signature", "the Stripe-Signature does not verify")
                .into_response();
        }
        Err(e @ BillingError::MalformedWebhook(_)) => {
            tracing::warn!("stripe webhook rejected: {e}");
            count("malformed");
            return ApiError::bad_request_code("malformed_webhook", "not a Stripe event").into_response();
        }
        Err(e) => {
            tracing::error!("stripe webhook cannot be verified: {e}");
            count("unconfigured");
            return ApiError::unavailable().into_response();
        }
    };
    match apply(state.store.as_ref(), &event).await {
        Ok(outcome) => {
            count(outcome);
            (
                StatusCode::OK,
                axum::Json(json!({"received": true, "outcome": outcome})),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(event_type = %event.event_type, "stripe webhook not applied (Stripe retries): {e}");
            count("error");
            ApiError::from(e).into_response()
        }
    }
}

/// The tenant an event is about: its metadata's tenant (when the customer matches what the tenant has on
/// record), else the tenant whose `billing.customer_id` is the event's customer.
async fn resolve_tenant(
    store: &dyn JobStore,
    hint: Option<&callbook_billing::TenantId>,
    customer: &str,
) -> Result<Option<Tenant>, callbook_jobs::Error> {
    if let Some(id) = hint.and_then(|t| t.as_str().parse::<TenantId>().ok()) {
        return match store.get_tenant(id).await {
            Ok(tenant) => Ok(match customer_id(&tenant.settings) {
                Some(known) if known != customer => None,
                _ => Some(tenant),
            }),
            Err(callbook_jobs::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let mut offset = 0;
    loop {
        let tenants = store.list_tenants(Page { offset, limit: 100 }).await?;
        if let Some(t) = tenants
            .iter()
            .find(|t| customer_id(&t.settings) == Some(customer))
        {
            return Ok(Some(t.clone()));
        }
        if tenants.len() < 100 {
            return Ok(None);
        }
        offset += 100;
    }
}

fn time(t: Option<chrono::DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// Applies a verified event; returns the outcome for the metric.
async fn apply(store: &dyn JobStore, event: &BillingEvent) -> Result<&'static str, callbook_jobs::Error> {
    let (customer, hint) = match &event.kind {
        BillingEventKind::SubscriptionCreated(s)
        | BillingEventKind::SubscriptionUpdated(s)
        | BillingEventKind::SubscriptionDeleted(s) => (s.customer_id.as_str(), s.tenant.as_ref()),
        BillingEventKind::InvoiceFinalized(i)
        | BillingEventKind::InvoicePaid(i)
        | BillingEventKind::InvoicePaymentFailed(i)
        | BillingEventKind::InvoiceUpdated(i) => (i.customer_id.as_str(), i.tenant.as_ref()),
        _ => return Ok("ignored"),
    };
    let Some(tenant) = resolve_tenant(store, hint, customer).await? else {
        tracing::warn!(event_type = %event.event_type, "stripe webhook for an unknown tenant or customer");
        return Ok("unknown_tenant");
    };
    let created = event.created.map(|t| t.timestamp()).unwrap_or(0);
    let applied_before = tenant
        .settings
        .get(SETTINGS_SECTION)
        .and_then(|s| s.get("last_event_created"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let stale = created < applied_before;
    if !stale {
        let customer = customer.to_owned();
        update_section(store, tenant.id, |s: &mut Map<String, Value>| {
            s.entry("customer_id")
                .or_insert_with(|| Value::String(customer.clone()));
            match &event.kind {
                BillingEventKind::SubscriptionCreated(sub)
                | BillingEventKind::SubscriptionUpdated(sub)
                | BillingEventKind::SubscriptionDeleted(sub) => {
                    s.insert("subscription_id".into(), json!(sub.id.as_str()));
                    s.insert("status".into(), json!(sub.status.as_str()));
                    s.insert("price".into(), json!(sub.price.as_ref().map(|p| p.as_str())));
                    s.insert("current_period_end".into(), time(sub.current_period_end));
                    s.insert("cancel_at_period_end".into(), json!(sub.cancel_at_period_end));
                }
                BillingEventKind::InvoiceFinalized(inv)
                | BillingEventKind::InvoicePaid(inv)
                | BillingEventKind::InvoicePaymentFailed(inv)
                | BillingEventKind::InvoiceUpdated(inv) => {
                    s.insert(
                        "last_invoice".into(),
                        json!({"id": inv.id.as_str(), "status": inv.status.as_str(),
                            "amount_due": inv.amount_due.minor_units(),
                            "amount_paid": inv.amount_paid.minor_units(), "currency": inv.currency(),
                            "payment_failed": matches!(event.kind, BillingEventKind::InvoicePaymentFailed(_))}),
                    );
                }
                _ => {}
            }
            s.insert("last_event_id".into(), json!(event.id));
            s.insert("last_event_created".into(), json!(created));
        })
        .await?;
    }
    if !store
        .first_delivery(tenant.id, &format!("stripe:{}", event.id))
        .await?
    {
        return Ok("duplicate");
    }
    if stale {
        return Ok("stale");
    }
    let (entity, entity_id, details) = match &event.kind {
        BillingEventKind::SubscriptionCreated(s)
        | BillingEventKind::SubscriptionUpdated(s)
        | BillingEventKind::SubscriptionDeleted(s) => (
            "subscription",
            s.id.to_string(),
            json!({"type": event.event_type, "event_id": event.id, "status": s.status.as_str()}),
        ),
        BillingEventKind::InvoiceFinalized(i)
        | BillingEventKind::InvoicePaid(i)
        | BillingEventKind::InvoicePaymentFailed(i)
        | BillingEventKind::InvoiceUpdated(i) => (
            "invoice",
            i.id.to_string(),
            json!({"type": event.event_type, "event_id": event.id, "status": i.status.as_str()}),
        ),
        _ => ("billing", String::new(), json!({"type": event.event_type})),
    };
    let entry = AuditEntry {
        tenant_id: tenant.id,
        actor: Actor::System("stripe".into()),
        action: "billing.webhook".into(),
        entity: entity.into(),
        entity_id: entity_id.clone(),
        details,
        at: Utc::now(),
    };
    if store.append_audit(entry).await.is_err() {
        tracing::error!("could not write an audit entry for a stripe webhook");
    }
    if let BillingEventKind::InvoicePaymentFailed(i) = &event.kind {
        let payload = json!({"invoice_id": entity_id, "amount_due": i.amount_due.minor_units(),
            "currency": i.currency(), "hosted_invoice_url": i.hosted_invoice_url});
        if store
            .notify(tenant.id, None, "billing.payment_failed", payload)
            .await
            .is_err()
        {
            tracing::error!("could not notify the tenant of a failed payment");
        }
    }
    Ok("applied")
}
