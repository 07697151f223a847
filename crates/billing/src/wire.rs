// Without the Stripe backend only the webhook parser and the fake use these shapes.
#![cfg_attr(not(feature = "stripe"), allow(dead_code))]

//! Stripe's JSON shapes, private and lenient: every field defaults, unknown fields and enum values are
//! tolerated, and both sides of the 2025-03-31 ("basil") changes are read (billing period on the
//! subscription or on its items; invoice subscription at top level or under `parent.subscription_details`).
//! Shared by the webhook parser (always compiled), the Stripe backend and the mock server.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::model::{
    BillingAccount, CustomerId, Invoice, InvoiceId, InvoiceStatus, Money, PriceId, Subscription,
    SubscriptionId, SubscriptionStatus, TENANT_METADATA_KEY, TenantId,
};

/// An id, or the object it names when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub(crate) fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct List<T> {
    #[serde(default = "Vec::new")]
    pub(crate) data: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) created: Option<i64>,
    #[serde(default)]
    pub(crate) deleted: bool,
}

impl Customer {
    pub(crate) fn tenant(&self) -> Option<TenantId> {
        self.metadata
            .get(TENANT_METADATA_KEY)
            .map(|t| TenantId::new(t.clone()))
    }

    /// The account, when the customer carries a tenant id.
    pub(crate) fn into_account(self) -> Option<BillingAccount> {
        let tenant = self.tenant()?;
        Some(BillingAccount {
            tenant,
            customer_id: CustomerId::new(self.id),
            name: self.name,
            email: self.email,
            created: self.created.and_then(timestamp),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Price {
    #[serde(default)]
    pub(crate) id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SubscriptionItem {
    #[serde(default)]
    pub(crate) price: Option<Price>,
    #[serde(default)]
    pub(crate) current_period_start: Option<i64>,
    #[serde(default)]
    pub(crate) current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StripeSubscription {
    pub(crate) id: String,
    pub(crate) customer: Expandable,
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) items: Option<List<SubscriptionItem>>,
    #[serde(default)]
    pub(crate) current_period_start: Option<i64>,
    #[serde(default)]
    pub(crate) current_period_end: Option<i64>,
    #[serde(default)]
    pub(crate) cancel_at_period_end: bool,
    #[serde(default)]
    pub(crate) canceled_at: Option<i64>,
    #[serde(default)]
    pub(crate) created: Option<i64>,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
}

impl StripeSubscription {
    pub(crate) fn into_domain(self) -> Subscription {
        let first = self.items.as_ref().and_then(|i| i.data.first());
        let price = first
            .and_then(|i| i.price.as_ref())
            .filter(|p| !p.id.is_empty())
            .map(|p| PriceId::new(p.id.clone()));
        // Since 2025-03-31.basil the period lives on the items; before, on the subscription.
        let start = self
            .current_period_start
            .or_else(|| first.and_then(|i| i.current_period_start));
        let end = self
            .current_period_end
            .or_else(|| first.and_then(|i| i.current_period_end));
        Subscription {
            id: SubscriptionId::new(self.id),
            customer_id: CustomerId::new(self.customer.id()),
            tenant: self
                .metadata
                .get(TENANT_METADATA_KEY)
                .map(|t| TenantId::new(t.clone())),
            status: SubscriptionStatus::parse(&self.status),
            price,
            current_period_start: start.and_then(timestamp),
            current_period_end: end.and_then(timestamp),
            cancel_at_period_end: self.cancel_at_period_end,
            canceled_at: self.canceled_at.and_then(timestamp),
            created: self.created.and_then(timestamp),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SubscriptionDetails {
    #[serde(default)]
    pub(crate) subscription: Option<Expandable>,
    #[serde(default)]
    pub(crate) metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InvoiceParent {
    #[serde(default)]
    pub(crate) subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StripeInvoice {
    /// Absent on upcoming (preview) invoices, e.g. in `invoice.upcoming` events.
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) number: Option<String>,
    pub(crate) customer: Expandable,
    #[serde(default)]
    pub(crate) subscription: Option<Expandable>,
    #[serde(default)]
    pub(crate) parent: Option<InvoiceParent>,
    /// Before 2025-03-31.basil the subscription's metadata was here.
    #[serde(default)]
    pub(crate) subscription_details: Option<SubscriptionDetails>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) amount_due: i64,
    #[serde(default)]
    pub(crate) amount_paid: i64,
    #[serde(default)]
    pub(crate) currency: String,
    #[serde(default)]
    pub(crate) period_start: Option<i64>,
    #[serde(default)]
    pub(crate) period_end: Option<i64>,
    #[serde(default)]
    pub(crate) hosted_invoice_url: Option<String>,
    #[serde(default)]
    pub(crate) created: Option<i64>,
}

impl StripeInvoice {
    pub(crate) fn into_domain(self) -> Invoice {
        let details = self
            .parent
            .and_then(|p| p.subscription_details)
            .or(self.subscription_details);
        let tenant = details
            .as_ref()
            .and_then(|d| d.metadata.as_ref())
            .and_then(|m| m.get(TENANT_METADATA_KEY))
            .map(|t| TenantId::new(t.clone()));
        let subscription = self.subscription.or_else(|| details.and_then(|d| d.subscription));
        Invoice {
            id: InvoiceId::new(self.id),
            number: self.number,
            customer_id: CustomerId::new(self.customer.id()),
            subscription_id: subscription.map(|s| SubscriptionId::new(s.id())),
            tenant,
            status: self
                .status
                .as_deref()
                .map_or_else(|| InvoiceStatus::Other("unknown".into()), InvoiceStatus::parse),
            amount_due: Money::new(self.amount_due, &self.currency),
            amount_paid: Money::new(self.amount_paid, &self.currency),
            period_start: self.period_start.and_then(timestamp),
            period_end: self.period_end.and_then(timestamp),
            hosted_invoice_url: self.hosted_invoice_url,
            created: self.created.and_then(timestamp),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MeterEvent {
    #[serde(default)]
    pub(crate) event_name: String,
    #[serde(default)]
    pub(crate) identifier: String,
    #[serde(default)]
    pub(crate) timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) payload: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorObject,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorObject {
    #[serde(default, rename = "type")]
    pub(crate) error_type: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) param: Option<String>,
    #[serde(default)]
    pub(crate) decline_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EventData {
    pub(crate) object: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Event {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) object: String,
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    #[serde(default)]
    pub(crate) created: Option<i64>,
    #[serde(default)]
    pub(crate) livemode: bool,
    pub(crate) data: EventData,
}

/// Unix seconds to UTC; `None` when out of range.
pub(crate) fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// A subscription in Stripe's JSON (2025-03-31.basil layout: the period on the item).
pub(crate) fn subscription_json(s: &Subscription) -> serde_json::Value {
    let ts = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    let mut metadata = serde_json::Map::new();
    if let Some(t) = &s.tenant {
        metadata.insert(TENANT_METADATA_KEY.into(), t.as_str().into());
    }
    serde_json::json!({
        "id": s.id.as_str(),
        "object": "subscription",
        "customer": s.customer_id.as_str(),
        "status": s.status.as_str(),
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": ts(s.canceled_at),
        "created": ts(s.created),
        "livemode": false,
        "metadata": metadata,
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{}", s.id.as_str().trim_start_matches("sub_")),
                "object": "subscription_item",
                "price": s.price.as_ref().map(|p| serde_json::json!({"id": p.as_str(), "object": "price"})),
                "current_period_start": ts(s.current_period_start),
                "current_period_end": ts(s.current_period_end),
            }],
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={}", s.id.as_str()),
        },
    })
}

/// An invoice in Stripe's JSON (2025-03-31.basil layout: the subscription under `parent`).
pub(crate) fn invoice_json(i: &Invoice) -> serde_json::Value {
    let ts = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    serde_json::json!({
        "id": i.id.as_str(),
        "object": "invoice",
        "number": i.number,
        "customer": i.customer_id.as_str(),
        "status": i.status.as_str(),
        "amount_due": i.amount_due.minor_units(),
        "amount_paid": i.amount_paid.minor_units(),
        "amount_remaining": i.amount_due.minor_units() - i.amount_paid.minor_units(),
        "currency": i.currency(),
        "period_start": ts(i.period_start),
        "period_end": ts(i.period_end),
        "hosted_invoice_url": i.hosted_invoice_url,
        "created": ts(i.created),
        "livemode": false,
        "parent": i.subscription_id.as_ref().map(|s| {
            let mut metadata = serde_json::Map::new();
            if let Some(t) = &i.tenant {
                metadata.insert(TENANT_METADATA_KEY.into(), t.as_str().into());
            }
            serde_json::json!({
                "type": "subscription_details",
                "subscription_details": {"subscription": s.as_str(), "metadata": metadata},
            })
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_period_layouts() {
        let basil: StripeSubscription = serde_json::from_value(serde_json::json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
            "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_1"},
                "current_period_start": 1_700_000_000, "current_period_end": 1_702_592_000}]},
            "metadata": {"callbook_tenant_id": "t1"}
        }))
        .unwrap();
        let s = basil.into_domain();
        assert_eq!(s.price, Some(PriceId::new("price_1")));
        assert_eq!(s.current_period_start.unwrap().timestamp(), 1_700_000_000);
        assert_eq!(s.tenant, Some(TenantId::new("t1")));
        let legacy: StripeSubscription = serde_json::from_value(serde_json::json!({
            "id": "sub_1", "customer": {"id": "cus_1", "object": "customer"}, "status": "frozen",
            "current_period_start": 5, "current_period_end": 6
        }))
        .unwrap();
        let s = legacy.into_domain();
        assert_eq!(s.current_period_end.unwrap().timestamp(), 6);
        assert_eq!(s.customer_id.as_str(), "cus_1");
        assert_eq!(s.status, SubscriptionStatus::Other("frozen".into()));
    }

    #[test]
    fn reads_invoice_subscription_from_parent() {
        let inv: StripeInvoice = serde_json::from_value(serde_json::json!({
            "id": "in_1", "customer": "cus_1", "status": "paid", "amount_due": 1250, "amount_paid": 1250,
            "currency": "eur",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_9",
                "metadata": {"callbook_tenant_id": "t9"}}}
        }))
        .unwrap();
        let i = inv.into_domain();
        assert_eq!(i.subscription_id, Some(SubscriptionId::new("sub_9")));
        assert_eq!(i.tenant, Some(TenantId::new("t9")));
        let legacy: StripeInvoice = serde_json::from_value(serde_json::json!({
            "id": "in_2", "customer": "cus_1", "subscription": "sub_8", "amount_due": 5, "currency": "usd",
            "subscription_details": {"metadata": {"callbook_tenant_id": "t8"}}
        }))
        .unwrap();
        let old = legacy.into_domain();
        assert_eq!(
            (
                old.subscription_id.unwrap().as_str(),
                old.tenant.unwrap().as_str()
            ),
            ("sub_8", "t8")
        );
        assert_eq!(
            old.status,
            InvoiceStatus::Other("unknown".into()),
            "a missing status is kept as unknown"
        );
        assert_eq!(i.amount_paid, Money::new(1250, "EUR"));
        assert_eq!(i.status, InvoiceStatus::Paid);
    }
}
