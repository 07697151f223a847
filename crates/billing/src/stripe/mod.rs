//! The Stripe backend (feature `stripe`): [`StripeBilling`], a [`BillingProvider`] over Stripe's REST API.
//!
//! | operation | Stripe request |
//! |---|---|
//! | find the tenant's customer | `GET /v1/customers/search?query=metadata['callbook_tenant_id']:'…'` (cached per process) |
//! | create it | `POST /v1/customers` (`name`, `email`, `metadata[callbook_tenant_id]`) |
//! | subscription status | `GET /v1/subscriptions?customer=…&status=all` |
//! | subscribe | `POST /v1/subscriptions` (`customer`, `items[0][price]`, `metadata[…]`, `trial_period_days`) |
//! | cancel at period end / now | `POST /v1/subscriptions/{id}` `cancel_at_period_end=true` / `DELETE /v1/subscriptions/{id}` |
//! | report usage | `POST /v1/billing/meter_events` (`event_name`, `payload[stripe_customer_id]`, `payload[value]`, `identifier`, `timestamp`) |
//! | invoices | `GET /v1/invoices?customer=…&limit=…` |
//!
//! Every request sends `Authorization: Bearer sk_…` and `Stripe-Version` ([`crate::STRIPE_API_VERSION`]);
//! every `POST` sends an `Idempotency-Key` derived from what the request means (the tenant for a customer,
//! the usage identifier for usage), reused on each retry. Requests are retried after 429, 409, 5xx,
//! timeouts and connection failures, honouring `Retry-After` and Stripe's `Stripe-Should-Retry` header.

mod builder;
mod client;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use builder::{DEFAULT_BASE_URL, DEFAULT_METERED_METRIC, StripeBillingBuilder};
use client::{Request, RestClient};

use crate::model::{
    BillingAccount, CancelMode, Invoice, NewCustomer, PriceId, SubscribeRequest, Subscription,
    TENANT_METADATA_KEY, TenantId, UsageRecorded, UsageReport, hash_parts,
};
use crate::provider::{BillingProvider, Capabilities, check_limit, live_subscription};
use crate::webhook::{BillingEvent, WebhookVerifier};
use crate::{Error, Result, wire};

/// Stripe as a [`BillingProvider`]. Build it with [`StripeBilling::builder`] or
/// [`StripeBillingBuilder::from_env`].
pub struct StripeBilling {
    rest: RestClient,
    verifier: Option<WebhookVerifier>,
    default_price: Option<PriceId>,
    meters: BTreeMap<String, String>,
    /// tenant → customer, filled by lookups; only a cache (Stripe is the truth), so several server processes
    /// each keeping their own is fine.
    customers: Mutex<HashMap<TenantId, BillingAccount>>,
}

impl fmt::Debug for StripeBilling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeBilling")
            .field("rest", &self.rest)
            .field("webhook_verifier", &self.verifier)
            .field("default_price", &self.default_price)
            .field("meters", &self.meters)
            .finish_non_exhaustive()
    }
}

impl StripeBilling {
    /// A builder; see [`StripeBillingBuilder`].
    pub fn builder() -> StripeBillingBuilder {
        StripeBillingBuilder::new()
    }

    /// The Stripe meter event name usage of `metric` is reported under, if it is billed.
    pub fn meter_event_name(&self, metric: &str) -> Option<&str> {
        self.meters.get(metric).map(String::as_str)
    }

    fn cached(&self, tenant: &TenantId) -> Option<BillingAccount> {
        self.customers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
    }

    fn remember(&self, account: &BillingAccount) {
        self.customers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.tenant.clone(), account.clone());
    }

    async fn lookup_customer(&self, tenant: &TenantId) -> Result<Option<BillingAccount>> {
        check_tenant(tenant)?;
        if let Some(account) = self.cached(tenant) {
            return Ok(Some(account));
        }
        let query = format!(
            "metadata['{TENANT_METADATA_KEY}']:'{}'",
            search_escape(tenant.as_str())
        );
        let request = Request::get(
            "/v1/customers/search",
            "/v1/customers/search".into(),
            format!("customer of tenant {tenant}"),
        )
        .query("query", query)
        .query("limit", "10");
        let found: wire::List<wire::Customer> = self.rest.json(&request).await?;
        let account = found
            .data
            .into_iter()
            .filter(|c| !c.deleted && c.tenant().as_ref() == Some(tenant))
            // Two customers can exist if someone created one by hand; the oldest is the tenant's.
            .min_by_key(|c| (c.created.unwrap_or(i64::MAX), c.id.clone()))
            .and_then(wire::Customer::into_account);
        if let Some(a) = &account {
            self.remember(a);
        }
        Ok(account)
    }

    async fn require_customer(&self, tenant: &TenantId) -> Result<BillingAccount> {
        self.lookup_customer(tenant)
            .await?
            .ok_or_else(|| Error::not_found(format!("customer for tenant {tenant}"), "no billing customer"))
    }

    /// The customer's subscriptions, newest first (Stripe's order).
    async fn subscriptions(&self, account: &BillingAccount) -> Result<Vec<Subscription>> {
        let request = Request::get(
            "/v1/subscriptions",
            "/v1/subscriptions".into(),
            format!("subscriptions of {}", account.customer_id),
        )
        .query("customer", account.customer_id.as_str())
        .query("status", "all")
        .query("limit", "100");
        let list: wire::List<wire::StripeSubscription> = self.rest.json(&request).await?;
        let mut subs: Vec<Subscription> = list.data.into_iter().map(|s| s.into_domain()).collect();
        subs.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(subs)
    }
}

/// The current subscription: the newest that has not ended, else the newest.
fn current(subs: &[Subscription]) -> Option<&Subscription> {
    subs.iter()
        .find(|s| !s.status.is_terminal())
        .or_else(|| subs.first())
}

/// Stripe metadata values are at most 500 characters; control characters have no business in an id.
fn check_tenant(tenant: &TenantId) -> Result<()> {
    let t = tenant.as_str();
    if t.is_empty() || t.chars().count() > 500 || t.chars().any(char::is_control) {
        return Err(Error::invalid(
            "tenant id must be 1-500 characters without control characters",
        ));
    }
    Ok(())
}

/// Escapes a value for a single-quoted string in Stripe's search query language.
fn search_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

/// `cb_{purpose}_` + 40 hex characters of SHA-256 over the parts.
fn idempotency_key(purpose: &str, parts: &[&str]) -> String {
    let hash = hash_parts(purpose, parts);
    format!("cb_{purpose}_{}", &hash[..40])
}

#[async_trait]
impl BillingProvider for StripeBilling {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            usage_dedupe_window: Some(std::time::Duration::from_secs(24 * 3600)),
            eventually_consistent_lookup: true,
        }
    }

    async fn ensure_customer(&self, customer: &NewCustomer) -> Result<BillingAccount> {
        if let Some(existing) = self.lookup_customer(&customer.tenant).await? {
            return Ok(existing);
        }
        if customer.name.trim().is_empty() {
            return Err(Error::invalid("customer name is empty"));
        }
        // Keyed on the tenant alone: a second create within Stripe's 24 h idempotency window (search can lag
        // a freshly created customer by up to a minute) replays the first instead of making a duplicate.
        let key = idempotency_key("customer", &[customer.tenant.as_str()]);
        let mut request = Request::post("/v1/customers", "/v1/customers".into(), "customer", key)
            .param("name", customer.name.as_str())
            .param(
                &format!("metadata[{TENANT_METADATA_KEY}]"),
                customer.tenant.as_str(),
            );
        if let Some(email) = &customer.email {
            request = request.param("email", email.as_str());
        }
        let created: wire::Customer = self.rest.json(&request).await?;
        let account = created.into_account().ok_or_else(|| Error::Decode {
            message: "created customer has no callbook_tenant_id metadata".into(),
        })?;
        self.remember(&account);
        Ok(account)
    }

    async fn find_customer(&self, tenant: &TenantId) -> Result<Option<BillingAccount>> {
        self.lookup_customer(tenant).await
    }

    async fn subscription_status(&self, tenant: &TenantId) -> Result<Option<Subscription>> {
        let Some(account) = self.lookup_customer(tenant).await? else {
            return Ok(None);
        };
        let subs = self.subscriptions(&account).await?;
        Ok(current(&subs).cloned())
    }

    async fn subscribe(&self, tenant: &TenantId, request: &SubscribeRequest) -> Result<Subscription> {
        let price = request.price.as_str();
        if price.is_empty() {
            return Err(Error::invalid("price is empty"));
        }
        let account = self.require_customer(tenant).await?;
        let subs = self.subscriptions(&account).await?;
        if let Some(answer) = live_subscription(current(&subs), tenant, request) {
            return answer;
        }
        // The newest earlier subscription is part of the key, so subscribing again after a cancellation is a
        // new request, while a retry of this one is the same.
        let previous = subs.first().map_or("none", |s| s.id.as_str());
        let trial = request.trial_days.map(|d| d.to_string()).unwrap_or_default();
        let key = idempotency_key("subscribe", &[tenant.as_str(), price, &trial, previous]);
        let mut post = Request::post(
            "/v1/subscriptions",
            "/v1/subscriptions".into(),
            "subscription",
            key,
        )
        .param("customer", account.customer_id.as_str())
        .param("items[0][price]", price)
        .param(&format!("metadata[{TENANT_METADATA_KEY}]"), tenant.as_str());
        if let Some(days) = request.trial_days.filter(|d| *d > 0) {
            post = post.param("trial_period_days", days.to_string());
        }
        let created: wire::StripeSubscription = self.rest.json(&post).await?;
        Ok(created.into_domain())
    }

    async fn cancel(&self, tenant: &TenantId, mode: CancelMode) -> Result<Subscription> {
        let account = self.require_customer(tenant).await?;
        let subs = self.subscriptions(&account).await?;
        let sub = current(&subs)
            .ok_or_else(|| Error::not_found(format!("subscription of tenant {tenant}"), "no subscription"))?;
        if sub.status.is_terminal() {
            return Ok(sub.clone());
        }
        let path = format!("/v1/subscriptions/{}", sub.id);
        let resource = format!("subscription {}", sub.id);
        let updated: wire::StripeSubscription = match mode {
            CancelMode::AtPeriodEnd => {
                let key = idempotency_key("cancel_at_period_end", &[sub.id.as_str()]);
                let request = Request::post("/v1/subscriptions/{id}", path, resource, key)
                    .param("cancel_at_period_end", "true");
                self.rest.json(&request).await?
            }
            CancelMode::Immediately => {
                self.rest
                    .json(&Request::delete("/v1/subscriptions/{id}", path, resource))
                    .await?
            }
        };
        Ok(updated.into_domain())
    }

    fn bills_metric(&self, metric: &str) -> bool {
        self.meters.contains_key(metric)
    }

    fn default_price(&self) -> Option<PriceId> {
        self.default_price.clone()
    }

    async fn report_usage(&self, report: &UsageReport) -> Result<UsageRecorded> {
        report.validate_at(Utc::now())?;
        let event_name = self
            .meters
            .get(&report.metric)
            .ok_or_else(|| Error::invalid(format!("metric {} has no Stripe meter", report.metric)))?;
        let account = self.require_customer(&report.tenant).await?;
        let value = report.quantity.to_string();
        let timestamp = report.timestamp.timestamp().to_string();
        // The identifier is what dedupes usage at Stripe (a repeat with another quantity or timestamp is
        // dropped there, not counted); the key only makes a retried HTTP request replay, so it covers every
        // parameter and a later resend with a fresh timestamp is a new request rather than an
        // idempotency_error.
        let key = idempotency_key(
            "usage",
            &[
                report.identifier.as_str(),
                event_name,
                account.customer_id.as_str(),
                &value,
                &timestamp,
            ],
        );
        let request = Request::post(
            "/v1/billing/meter_events",
            "/v1/billing/meter_events".into(),
            "meter event",
            key,
        )
        .param("event_name", event_name.as_str())
        .param("payload[stripe_customer_id]", account.customer_id.as_str())
        .param("payload[value]", value)
        .param("identifier", report.identifier.as_str())
        .param("timestamp", timestamp);
        let event: wire::MeterEvent = self.rest.json(&request).await?;
        Ok(UsageRecorded {
            identifier: event.identifier,
            event_name: event.event_name,
            quantity: event
                .payload
                .get("value")
                .and_then(|v| v.parse().ok())
                .unwrap_or(report.quantity),
            timestamp: event
                .timestamp
                .and_then(wire::timestamp)
                .unwrap_or(report.timestamp),
        })
    }

    async fn list_invoices(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Invoice>> {
        check_limit(limit)?;
        let Some(account) = self.lookup_customer(tenant).await? else {
            return Ok(Vec::new());
        };
        let request = Request::get(
            "/v1/invoices",
            "/v1/invoices".into(),
            format!("invoices of {}", account.customer_id),
        )
        .query("customer", account.customer_id.as_str())
        .query("limit", limit.to_string());
        let list: wire::List<wire::StripeInvoice> = self.rest.json(&request).await?;
        let mut invoices: Vec<Invoice> = list.data.into_iter().map(|i| i.into_domain()).collect();
        invoices.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(invoices)
    }

    fn verify_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BillingEvent> {
        self.verifier
            .as_ref()
            .ok_or_else(|| Error::Config("webhook secret missing: set STRIPE_WEBHOOK_SECRET".into()))?
            .verify(payload, signature, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_values_are_escaped() {
        assert_eq!(search_escape(r"o'brien\x"), r"o\'brien\\x");
    }

    #[test]
    fn idempotency_keys_are_stable_and_bounded() {
        let a = idempotency_key("customer", &["t1"]);
        assert_eq!(a, idempotency_key("customer", &["t1"]));
        assert_ne!(a, idempotency_key("customer", &["t2"]));
        assert!(a.len() < 255 && a.starts_with("cb_customer_"));
    }
}
