//! [`FakeBilling`]: a complete in-memory billing provider with the trait's semantics, for offline use, demos
//! and tests.
//!
//! Beyond the trait it can close a usage period into an invoice ([`FakeBilling::close_period`]), mark
//! invoices paid or failed, change a subscription's status, and sign webhook deliveries exactly as Stripe
//! does ([`FakeBilling::signed_event`]) so a server's `/webhooks/stripe` route can be tested end to end.
//!
//! ```
//! use callbook_billing::fake::FakeBilling;
//! use callbook_billing::{BillingProvider, NewCustomer, SubscribeRequest, TenantId, UsageReport};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let billing = FakeBilling::new().with_unit_price("calls", 25, "usd");
//! let tenant = TenantId::new("tenant-1");
//! billing.ensure_customer(&NewCustomer::new(tenant.clone(), "Acme Plumbing")).await?;
//! billing.subscribe(&tenant, &SubscribeRequest::new("price_pro")).await?;
//! let report = UsageReport::period_total(tenant.clone(), "calls", "2026-11", 40, chrono::Utc::now());
//! billing.report_usage(&report).await?;
//! billing.report_usage(&report).await?; // same identifier: counted once
//! let invoice = billing.close_period(&tenant, "2026-11")?;
//! assert_eq!(invoice.amount_due.minor_units(), 40 * 25);
//! # Ok::<(), callbook_billing::Error>(()) }).unwrap();
//! ```

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::model::{
    BillingAccount, CancelMode, CustomerId, Invoice, InvoiceId, InvoiceStatus, Money, NewCustomer, PriceId,
    SubscribeRequest, Subscription, SubscriptionId, SubscriptionStatus, TenantId, UsageRecorded, UsageReport,
};
use crate::provider::{BillingProvider, Capabilities, check_limit, live_subscription};
use crate::webhook::{BillingEvent, WebhookVerifier};
use crate::{Error, Result, wire};

/// Stripe keeps whole seconds; so does the fake, so its objects survive a round trip through Stripe's JSON.
fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// A fresh random signing secret (`whsec_fake_` + 32 hex digits). A server running on the fake must not
/// accept deliveries anyone could sign with a secret published in this source.
fn random_webhook_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    format!("whsec_fake_{}", hex::encode(bytes))
}

#[derive(Debug, Default, Clone)]
struct State {
    next_id: u64,
    customers: BTreeMap<TenantId, BillingAccount>,
    /// Oldest first.
    subscriptions: Vec<Subscription>,
    usage: BTreeMap<(TenantId, String, String), u64>,
    identifiers: HashSet<String>,
    /// Oldest first.
    invoices: Vec<Invoice>,
}

impl State {
    fn mint(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:08}", self.next_id)
    }
    fn customer(&self, tenant: &TenantId) -> Result<&BillingAccount> {
        self.customers
            .get(tenant)
            .ok_or_else(|| Error::not_found(format!("customer for tenant {tenant}"), "no billing customer"))
    }
    fn current_index(&self, tenant: &TenantId) -> Option<usize> {
        let customer = &self.customers.get(tenant)?.customer_id;
        let mine = |s: &&Subscription| &s.customer_id == customer;
        let positions: Vec<usize> = (0..self.subscriptions.len())
            .filter(|&i| mine(&&self.subscriptions[i]))
            .collect();
        positions
            .iter()
            .rev()
            .find(|&&i| !self.subscriptions[i].status.is_terminal())
            .or_else(|| positions.last())
            .copied()
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    verifier: WebhookVerifier,
    /// metric → meter event name; empty = every metric is billed under its own name.
    meters: BTreeMap<String, String>,
    unit_prices: BTreeMap<String, Money>,
    currency: String,
    default_price: Option<PriceId>,
}

/// An in-memory [`BillingProvider`]. Clones share state; configure (`with_*`) before cloning, since a
/// configured clone continues with its own copy.
#[derive(Debug, Clone)]
pub struct FakeBilling {
    inner: Arc<Inner>,
}

impl Default for FakeBilling {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeBilling {
    /// An empty provider billing every metric, in USD, signing and verifying webhooks with a random secret
    /// (use [`FakeBilling::signed_event`] and friends, or [`with_webhook_secret`](Self::with_webhook_secret)).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                verifier: WebhookVerifier::new(random_webhook_secret()),
                meters: BTreeMap::new(),
                unit_prices: BTreeMap::new(),
                currency: "usd".into(),
                default_price: None,
            }),
        }
    }

    fn configure(self, f: impl FnOnce(&mut Inner)) -> Self {
        // A clone that is configured gets its own copy of the state (configure before sharing).
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            state: Mutex::new(shared.state.lock().unwrap_or_else(|p| p.into_inner()).clone()),
            verifier: shared.verifier.clone(),
            meters: shared.meters.clone(),
            unit_prices: shared.unit_prices.clone(),
            currency: shared.currency.clone(),
            default_price: shared.default_price.clone(),
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Signs and verifies webhooks with `secret` (configure before sharing clones).
    pub fn with_webhook_secret(self, secret: &str) -> Self {
        self.configure(|i| i.verifier = WebhookVerifier::new(secret))
    }

    /// Bills `metric` under the meter `event_name`. Once any meter is set, only metered metrics are billed.
    pub fn with_meter(self, metric: &str, event_name: &str) -> Self {
        self.configure(|i| {
            i.meters.insert(metric.to_owned(), event_name.to_owned());
        })
    }

    /// The plan [`BillingProvider::default_price`] names.
    pub fn with_default_price(self, price: &str) -> Self {
        self.configure(|i| i.default_price = Some(PriceId::new(price)))
    }

    /// Charges `minor_units` per unit of `metric` when a period is closed (default 0). Sets the invoice
    /// currency too.
    pub fn with_unit_price(self, metric: &str, minor_units: i64, currency: &str) -> Self {
        self.configure(|i| {
            i.currency = currency.to_ascii_lowercase();
            i.unit_prices
                .insert(metric.to_owned(), Money::new(minor_units, currency));
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every mutation is one step); keep going.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn event_name(&self, metric: &str) -> Option<String> {
        if self.inner.meters.is_empty() {
            Some(metric.to_owned())
        } else {
            self.inner.meters.get(metric).cloned()
        }
    }

    /// Units of `metric` counted for the tenant in `period`.
    pub fn usage(&self, tenant: &TenantId, metric: &str, period: &str) -> u64 {
        let key = (tenant.clone(), metric.to_owned(), period.to_owned());
        self.lock().usage.get(&key).copied().unwrap_or(0)
    }

    /// Number of customers (to check `ensure_customer` created exactly one).
    pub fn customer_count(&self) -> usize {
        self.lock().customers.len()
    }

    /// Units of `metric` counted for the tenant over all periods.
    pub fn usage_total(&self, tenant: &TenantId, metric: &str) -> u64 {
        self.lock()
            .usage
            .iter()
            .filter(|((t, m, _), _)| t == tenant && m == metric)
            .map(|(_, q)| *q)
            .fold(0u64, u64::saturating_add)
    }

    /// The verifier (and signer) of this fake's webhooks.
    pub fn webhook_verifier(&self) -> &WebhookVerifier {
        &self.inner.verifier
    }

    /// Adds a finalized, `open` invoice of `amount_due` minor units for the tenant (attached to its current
    /// subscription) and returns its id; the tenant must have a customer.
    pub fn add_invoice(&self, tenant: &TenantId, amount_due: i64) -> InvoiceId {
        let mut st = self.lock();
        let customer = st
            .customers
            .get(tenant)
            .map(|c| c.customer_id.clone())
            .unwrap_or_else(|| CustomerId::new("cus_unknown"));
        self.push_invoice(&mut st, tenant, customer, amount_due).id
    }

    /// Creates an `open` invoice attached to the tenant's current subscription.
    fn push_invoice(
        &self,
        st: &mut State,
        tenant: &TenantId,
        customer: CustomerId,
        amount_due: i64,
    ) -> Invoice {
        let subscription = st.current_index(tenant).map(|i| st.subscriptions[i].clone());
        let id = InvoiceId::new(st.mint("in"));
        let invoice = Invoice {
            hosted_invoice_url: Some(format!("https://invoice.example.invalid/{id}")),
            number: Some(format!("FAKE-{:04}", st.invoices.len() + 1)),
            id,
            customer_id: customer,
            subscription_id: subscription.as_ref().map(|s| s.id.clone()),
            tenant: subscription.as_ref().and_then(|s| s.tenant.clone()),
            status: InvoiceStatus::Open,
            amount_due: Money::new(amount_due, &self.inner.currency),
            amount_paid: Money::new(0, &self.inner.currency),
            period_start: subscription.as_ref().and_then(|s| s.current_period_start),
            period_end: subscription.as_ref().and_then(|s| s.current_period_end),
            created: Some(now_seconds()),
        };
        st.invoices.push(invoice.clone());
        invoice
    }

    /// Closes a usage period: an `open` invoice charging each counted metric at its unit price, attached to
    /// the current subscription. Fails with `NotFound` when the tenant has no customer.
    pub fn close_period(&self, tenant: &TenantId, period: &str) -> Result<Invoice> {
        let mut st = self.lock();
        let customer = st.customer(tenant)?.customer_id.clone();
        let amount: i64 = st
            .usage
            .iter()
            .filter(|((t, _, p), _)| t == tenant && p == period)
            .map(|((_, metric, _), qty)| {
                let unit = self.inner.unit_prices.get(metric).map_or(0, Money::minor_units);
                unit.saturating_mul(i64::try_from(*qty).unwrap_or(i64::MAX))
            })
            .fold(0i64, i64::saturating_add);
        Ok(self.push_invoice(&mut st, tenant, customer, amount))
    }

    /// Marks an invoice paid (as `invoice.paid` would report it).
    pub fn mark_invoice_paid(&self, invoice: &InvoiceId) -> Result<Invoice> {
        let mut st = self.lock();
        let inv = st
            .invoices
            .iter_mut()
            .find(|i| &i.id == invoice)
            .ok_or_else(|| Error::not_found(format!("invoice {invoice}"), "no such invoice"))?;
        inv.status = InvoiceStatus::Paid;
        inv.amount_paid = inv.amount_due.clone();
        Ok(inv.clone())
    }

    /// Sets the tenant's current subscription's status (e.g. `past_due` after a failed payment).
    pub fn set_subscription_status(
        &self,
        tenant: &TenantId,
        status: SubscriptionStatus,
    ) -> Result<Subscription> {
        let mut st = self.lock();
        let i = st
            .current_index(tenant)
            .ok_or_else(|| Error::not_found(format!("subscription of tenant {tenant}"), "none"))?;
        st.subscriptions[i].status = status;
        Ok(st.subscriptions[i].clone())
    }

    /// A Stripe event delivery: the body (`{"id","object":"event","type",…,"data":{"object":…}}`) and its
    /// `Stripe-Signature` header signed at `now` with this fake's secret.
    pub fn signed_event(
        &self,
        event_type: &str,
        object: serde_json::Value,
        now: DateTime<Utc>,
    ) -> (Vec<u8>, String) {
        let id = self.lock().mint("evt");
        let body = json!({
            "id": id,
            "object": "event",
            "api_version": crate::STRIPE_API_VERSION,
            "created": now.timestamp(),
            "livemode": false,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": object},
        })
        .to_string()
        .into_bytes();
        let header = self.inner.verifier.sign(&body, now.timestamp());
        (body, header)
    }

    /// A signed `customer.subscription.*` (or other subscription) event for the tenant's current
    /// subscription, in Stripe's JSON.
    pub fn subscription_event(
        &self,
        tenant: &TenantId,
        event_type: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, String)> {
        let sub = {
            let st = self.lock();
            let i = st
                .current_index(tenant)
                .ok_or_else(|| Error::not_found(format!("subscription of tenant {tenant}"), "none"))?;
            st.subscriptions[i].clone()
        };
        Ok(self.signed_event(event_type, wire::subscription_json(&sub), now))
    }

    /// A signed `invoice.*` event for an invoice, in Stripe's JSON.
    pub fn invoice_event(
        &self,
        invoice: &InvoiceId,
        event_type: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, String)> {
        let inv = self
            .lock()
            .invoices
            .iter()
            .find(|i| &i.id == invoice)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("invoice {invoice}"), "no such invoice"))?;
        Ok(self.signed_event(event_type, wire::invoice_json(&inv), now))
    }
}

#[async_trait]
impl BillingProvider for FakeBilling {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            usage_dedupe_window: None,
            eventually_consistent_lookup: false,
        }
    }

    async fn ensure_customer(&self, customer: &NewCustomer) -> Result<BillingAccount> {
        if customer.tenant.as_str().is_empty() {
            return Err(Error::invalid("tenant id is empty"));
        }
        if customer.name.trim().is_empty() && !self.lock().customers.contains_key(&customer.tenant) {
            return Err(Error::invalid("customer name is empty"));
        }
        let mut st = self.lock();
        if let Some(existing) = st.customers.get(&customer.tenant) {
            return Ok(existing.clone());
        }
        let account = BillingAccount {
            tenant: customer.tenant.clone(),
            customer_id: CustomerId::new(st.mint("cus")),
            name: Some(customer.name.clone()),
            email: customer.email.clone(),
            created: Some(now_seconds()),
        };
        st.customers.insert(customer.tenant.clone(), account.clone());
        Ok(account)
    }

    async fn find_customer(&self, tenant: &TenantId) -> Result<Option<BillingAccount>> {
        Ok(self.lock().customers.get(tenant).cloned())
    }

    async fn subscription_status(&self, tenant: &TenantId) -> Result<Option<Subscription>> {
        let st = self.lock();
        Ok(st.current_index(tenant).map(|i| st.subscriptions[i].clone()))
    }

    async fn subscribe(&self, tenant: &TenantId, request: &SubscribeRequest) -> Result<Subscription> {
        if request.price.as_str().is_empty() {
            return Err(Error::invalid("price is empty"));
        }
        let mut st = self.lock();
        let customer = st.customer(tenant)?.customer_id.clone();
        let current = st.current_index(tenant).map(|i| &st.subscriptions[i]);
        if let Some(answer) = live_subscription(current, tenant, request) {
            return answer;
        }
        let now = now_seconds();
        let (status, end) = match request.trial_days {
            Some(days) if days > 0 => (
                SubscriptionStatus::Trialing,
                now + Duration::days(i64::from(days)),
            ),
            _ => (SubscriptionStatus::Active, now + Duration::days(30)),
        };
        let sub = Subscription {
            id: SubscriptionId::new(st.mint("sub")),
            customer_id: customer,
            tenant: Some(tenant.clone()),
            status,
            price: Some(request.price.clone()),
            current_period_start: Some(now),
            current_period_end: Some(end),
            cancel_at_period_end: false,
            canceled_at: None,
            created: Some(now),
        };
        st.subscriptions.push(sub.clone());
        Ok(sub)
    }

    async fn cancel(&self, tenant: &TenantId, mode: CancelMode) -> Result<Subscription> {
        let mut st = self.lock();
        st.customer(tenant)?;
        let i = st
            .current_index(tenant)
            .ok_or_else(|| Error::not_found(format!("subscription of tenant {tenant}"), "no subscription"))?;
        let sub = &mut st.subscriptions[i];
        if sub.status.is_terminal() {
            return Ok(sub.clone());
        }
        match mode {
            CancelMode::AtPeriodEnd => sub.cancel_at_period_end = true,
            CancelMode::Immediately => {
                sub.status = SubscriptionStatus::Canceled;
                sub.canceled_at = Some(now_seconds());
            }
        }
        Ok(sub.clone())
    }

    fn bills_metric(&self, metric: &str) -> bool {
        self.event_name(metric).is_some()
    }

    fn default_price(&self) -> Option<PriceId> {
        self.inner.default_price.clone()
    }

    async fn report_usage(&self, report: &UsageReport) -> Result<UsageRecorded> {
        report.validate_at(now_seconds())?;
        let event_name = self
            .event_name(&report.metric)
            .ok_or_else(|| Error::invalid(format!("metric {} is not billed", report.metric)))?;
        let mut st = self.lock();
        st.customer(&report.tenant)?;
        if st.identifiers.insert(report.identifier.clone()) {
            let key = (
                report.tenant.clone(),
                report.metric.clone(),
                report.period.clone(),
            );
            let counter = st.usage.entry(key).or_insert(0);
            *counter = counter.saturating_add(report.quantity);
        }
        Ok(UsageRecorded {
            identifier: report.identifier.clone(),
            event_name,
            quantity: report.quantity,
            timestamp: report.timestamp,
        })
    }

    async fn list_invoices(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Invoice>> {
        check_limit(limit)?;
        let st = self.lock();
        let Some(customer) = st.customers.get(tenant).map(|c| c.customer_id.clone()) else {
            return Ok(Vec::new());
        };
        Ok(st
            .invoices
            .iter()
            .rev()
            .filter(|i| i.customer_id == customer)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    fn verify_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BillingEvent> {
        self.inner.verifier.verify(payload, signature, now)
    }
}
