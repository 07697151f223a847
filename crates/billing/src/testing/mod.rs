//! Test support (feature `testing`): the [`BillingProvider`] conformance suite, written once and run against
//! every backend, and [`mock_stripe::MockStripe`], a local server speaking Stripe's REST API.
//!
//! A backend passes when [`check_all`] returns `Ok`. The suite needs to create invoices and observe billed
//! usage at the provider, which a [`Harness`] does: [`FakeBilling`] is its own harness, and
//! [`MockStripeHarness`] does it for the Stripe backend pointed at a `MockStripe`. This module is for
//! tests; it is not a stable API.
//!
//! ```
//! use callbook_billing::testing::{check_all, conformance_fake, ConformanceFixture};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let fixture = ConformanceFixture::standard();
//! let fake = conformance_fake(&fixture);
//! check_all(&fake, &fake, &fixture).await.unwrap();
//! # });
//! ```

pub mod mock_stripe;

use std::collections::BTreeMap;

use chrono::Utc;
use rand::Rng;

use crate::fake::FakeBilling;
use crate::model::{
    BillingAccount, CancelMode, InvoiceId, NewCustomer, PriceId, SubscribeRequest, SubscriptionStatus,
    TenantId, UsageReport,
};
use crate::provider::BillingProvider;
use crate::webhook::{BillingEventKind, WebhookRejected, WebhookVerifier};
use crate::{Error, wire};

use mock_stripe::MockStripe;

/// What the suite needs at the provider besides the trait.
pub trait Harness: Send + Sync {
    /// Creates a finalized invoice of `amount_due` minor units for the account; `paid` or open.
    fn add_invoice(&self, account: &BillingAccount, amount_due: i64, paid: bool) -> InvoiceId;
    /// Units of `metric` the provider has counted for the account, over all periods.
    fn billed_usage(&self, account: &BillingAccount, metric: &str) -> u64;
    /// A `Stripe-Signature` header for `payload` at `timestamp`, made with the backend's webhook secret.
    fn sign_webhook(&self, payload: &[u8], timestamp: i64) -> String;
}

impl Harness for FakeBilling {
    fn add_invoice(&self, account: &BillingAccount, amount_due: i64, paid: bool) -> InvoiceId {
        let invoice = self.add_invoice(&account.tenant, amount_due);
        if paid {
            // The invoice was just created, so it exists.
            let _ = self.mark_invoice_paid(&invoice);
        }
        invoice
    }
    fn billed_usage(&self, account: &BillingAccount, metric: &str) -> u64 {
        self.usage_total(&account.tenant, metric)
    }
    fn sign_webhook(&self, payload: &[u8], timestamp: i64) -> String {
        self.webhook_verifier().sign(payload, timestamp)
    }
}

/// The [`Harness`] for the Stripe backend talking to a [`MockStripe`].
#[derive(Debug)]
pub struct MockStripeHarness<'a> {
    /// The mock the backend talks to.
    pub mock: &'a MockStripe,
    /// metric → meter event name, as configured on the backend.
    pub meters: BTreeMap<String, String>,
    /// The backend's webhook signing secret.
    pub webhook_secret: String,
}

impl Harness for MockStripeHarness<'_> {
    fn add_invoice(&self, account: &BillingAccount, amount_due: i64, paid: bool) -> InvoiceId {
        InvoiceId::new(
            self.mock
                .add_invoice(account.customer_id.as_str(), amount_due, paid),
        )
    }
    fn billed_usage(&self, account: &BillingAccount, metric: &str) -> u64 {
        self.meters.get(metric).map_or(0, |event| {
            self.mock.meter_total(account.customer_id.as_str(), event)
        })
    }
    fn sign_webhook(&self, payload: &[u8], timestamp: i64) -> String {
        WebhookVerifier::new(self.webhook_secret.as_str()).sign(payload, timestamp)
    }
}

/// Prices and metrics the suite uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConformanceFixture {
    /// A plan that exists.
    pub price: PriceId,
    /// Another plan that exists.
    pub other_price: PriceId,
    /// A billed metric.
    pub metric: String,
    /// Its meter event name (for backends that need one).
    pub meter_event_name: String,
    /// A metric the backend does not bill.
    pub unbilled_metric: String,
}

impl ConformanceFixture {
    /// `price_callbook_standard`, `price_callbook_pro`, metric `calls` on meter `callbook_calls`, and
    /// `llm_prompt_tokens` unbilled.
    pub fn standard() -> Self {
        Self {
            price: PriceId::new("price_callbook_standard"),
            other_price: PriceId::new("price_callbook_pro"),
            metric: "calls".into(),
            meter_event_name: "callbook_calls".into(),
            unbilled_metric: "llm_prompt_tokens".into(),
        }
    }

    /// The meters a backend needs for this fixture (metric → event name).
    pub fn meters(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(self.metric.clone(), self.meter_event_name.clone())])
    }

    /// Creates the fixture's prices in a mock.
    pub fn seed_mock(&self, mock: &MockStripe) {
        mock.add_price(self.price.as_str());
        mock.add_price(self.other_price.as_str());
    }
}

/// A [`FakeBilling`] configured for `fixture` (its metric metered).
pub fn conformance_fake(fixture: &ConformanceFixture) -> FakeBilling {
    FakeBilling::new().with_meter(&fixture.metric, &fixture.meter_event_name)
}

/// A failed conformance check: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {problem}")]
pub struct ConformanceFailure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub problem: String,
}

type Check = std::result::Result<(), ConformanceFailure>;

fn fail(check: &'static str, problem: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        check,
        problem: problem.into(),
    }
}

macro_rules! ensure {
    ($check:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(fail($check, format!($($msg)+)));
        }
    };
}

macro_rules! ok {
    ($check:expr, $what:expr, $e:expr) => {
        $e.await.map_err(|e| fail($check, format!("{}: {e}", $what)))?
    };
}

/// A tenant id no earlier run used.
fn fresh_tenant(check: &str) -> TenantId {
    let n: u64 = rand::rng().random();
    TenantId::new(format!("conformance-{check}-{n:016x}"))
}

/// Runs every check. Creates customers, subscriptions, usage and invoices for fresh tenants.
pub async fn check_all(
    backend: &dyn BillingProvider,
    harness: &dyn Harness,
    fixture: &ConformanceFixture,
) -> Check {
    check_customers(backend).await?;
    check_subscriptions(backend, fixture).await?;
    check_usage(backend, harness, fixture).await?;
    check_invoices(backend, harness).await?;
    check_webhooks(backend, harness, fixture).await?;
    Ok(())
}

/// `find_customer` before and after; `ensure_customer` creates once (also concurrently) and returns the same
/// customer afterwards; bad tenant ids are `InvalidInput`.
pub async fn check_customers(backend: &dyn BillingProvider) -> Check {
    const C: &str = "customers";
    let tenant = fresh_tenant("customers");
    let before = ok!(C, "find before", backend.find_customer(&tenant));
    ensure!(C, before.is_none(), "a new tenant already has a customer");

    let new = NewCustomer::new(tenant.clone(), "Acme Plumbing").with_email("billing@acme.example");
    let first = ok!(C, "ensure", backend.ensure_customer(&new));
    ensure!(
        C,
        first.tenant == tenant,
        "customer belongs to {:?}",
        first.tenant
    );
    ensure!(
        C,
        first.name.as_deref() == Some("Acme Plumbing"),
        "name not kept: {:?}",
        first.name
    );
    ensure!(
        C,
        first.email.as_deref() == Some("billing@acme.example"),
        "email not kept"
    );
    let again = ok!(
        C,
        "ensure again",
        backend.ensure_customer(&NewCustomer::new(tenant.clone(), "Renamed"))
    );
    ensure!(
        C,
        again.customer_id == first.customer_id,
        "ensure created a second customer"
    );
    let found = ok!(C, "find after", backend.find_customer(&tenant));
    ensure!(
        C,
        found.as_ref().map(|a| &a.customer_id) == Some(&first.customer_id),
        "find_customer does not see the customer: {found:?}"
    );

    let racing = fresh_tenant("customers-race");
    let race = NewCustomer::new(racing.clone(), "Racing Co");
    let (a, b) = tokio::join!(backend.ensure_customer(&race), backend.ensure_customer(&race));
    let (a, b) = (
        a.map_err(|e| fail(C, format!("concurrent ensure: {e}")))?,
        b.map_err(|e| fail(C, format!("concurrent ensure: {e}")))?,
    );
    ensure!(
        C,
        a.customer_id == b.customer_id,
        "concurrent ensure made two customers"
    );

    let empty = backend.ensure_customer(&NewCustomer::new("", "Nobody")).await;
    ensure!(
        C,
        matches!(empty, Err(Error::InvalidInput { .. })),
        "empty tenant id: {empty:?}"
    );
    let unnamed = backend
        .ensure_customer(&NewCustomer::new(fresh_tenant("customers-unnamed"), " "))
        .await;
    ensure!(
        C,
        matches!(unnamed, Err(Error::InvalidInput { .. })),
        "empty name: {unnamed:?}"
    );
    Ok(())
}

/// Subscribe (idempotent, one current subscription), status, cancel at period end, cancel now (idempotent),
/// subscribe again after cancelling, and the `NotFound` cases.
pub async fn check_subscriptions(backend: &dyn BillingProvider, fixture: &ConformanceFixture) -> Check {
    const C: &str = "subscriptions";
    let nobody = fresh_tenant("subs-nobody");
    let r = backend
        .subscribe(&nobody, &SubscribeRequest::new(fixture.price.clone()))
        .await;
    ensure!(
        C,
        matches!(r, Err(Error::NotFound { .. })),
        "subscribe without customer: {r:?}"
    );
    let s = ok!(C, "status without customer", backend.subscription_status(&nobody));
    ensure!(C, s.is_none(), "status without customer: {s:?}");
    let r = backend.cancel(&nobody, CancelMode::Immediately).await;
    ensure!(
        C,
        matches!(r, Err(Error::NotFound { .. })),
        "cancel without customer: {r:?}"
    );

    let tenant = fresh_tenant("subs");
    ok!(
        C,
        "ensure",
        backend.ensure_customer(&NewCustomer::new(tenant.clone(), "Subs Ltd"))
    );
    let none = ok!(C, "status before", backend.subscription_status(&tenant));
    ensure!(C, none.is_none(), "status before subscribing: {none:?}");
    let r = backend.cancel(&tenant, CancelMode::AtPeriodEnd).await;
    ensure!(
        C,
        matches!(r, Err(Error::NotFound { .. })),
        "cancel without subscription: {r:?}"
    );

    let request = SubscribeRequest::new(fixture.price.clone());
    let sub = ok!(C, "subscribe", backend.subscribe(&tenant, &request));
    ensure!(
        C,
        sub.status == SubscriptionStatus::Active,
        "new subscription is {:?}",
        sub.status
    );
    ensure!(
        C,
        sub.price.as_ref() == Some(&fixture.price),
        "price not kept: {:?}",
        sub.price
    );
    ensure!(
        C,
        sub.tenant.as_ref() == Some(&tenant),
        "tenant not in metadata: {:?}",
        sub.tenant
    );
    ensure!(
        C,
        matches!((sub.current_period_start, sub.current_period_end), (Some(a), Some(b)) if a < b),
        "no billing period: {:?}..{:?}",
        sub.current_period_start,
        sub.current_period_end
    );
    ensure!(C, !sub.cancel_at_period_end, "new subscription set to cancel");
    let same = ok!(C, "subscribe again", backend.subscribe(&tenant, &request));
    ensure!(
        C,
        same.id == sub.id,
        "subscribing twice made a second subscription"
    );
    let other = backend
        .subscribe(&tenant, &SubscribeRequest::new(fixture.other_price.clone()))
        .await;
    ensure!(
        C,
        matches!(other, Err(Error::InvalidInput { .. })),
        "second plan: {other:?}"
    );
    let status = ok!(C, "status", backend.subscription_status(&tenant));
    ensure!(
        C,
        status.as_ref().map(|s| &s.id) == Some(&sub.id),
        "status: {status:?}"
    );

    let ending = ok!(
        C,
        "cancel at period end",
        backend.cancel(&tenant, CancelMode::AtPeriodEnd)
    );
    ensure!(
        C,
        ending.id == sub.id && ending.cancel_at_period_end,
        "not set to cancel: {ending:?}"
    );
    ensure!(
        C,
        ending.status.is_entitled(),
        "cancel at period end ended it now: {:?}",
        ending.status
    );
    let ended = ok!(C, "cancel now", backend.cancel(&tenant, CancelMode::Immediately));
    ensure!(
        C,
        ended.status == SubscriptionStatus::Canceled,
        "cancel now left {:?}",
        ended.status
    );
    let again = ok!(
        C,
        "cancel again",
        backend.cancel(&tenant, CancelMode::Immediately)
    );
    ensure!(
        C,
        again.id == sub.id && again.status == SubscriptionStatus::Canceled,
        "cancel is not idempotent: {again:?}"
    );
    let status = ok!(C, "status after cancel", backend.subscription_status(&tenant));
    ensure!(
        C,
        status.as_ref().map(|s| &s.status) == Some(&SubscriptionStatus::Canceled),
        "status after cancel: {status:?}"
    );

    let trial = SubscribeRequest::new(fixture.other_price.clone()).with_trial_days(14);
    let renewed = ok!(C, "subscribe after cancel", backend.subscribe(&tenant, &trial));
    ensure!(
        C,
        renewed.id != sub.id,
        "resubscribing returned the canceled subscription"
    );
    ensure!(
        C,
        renewed.status == SubscriptionStatus::Trialing,
        "trial is {:?}",
        renewed.status
    );
    let status = ok!(
        C,
        "status after resubscribe",
        backend.subscription_status(&tenant)
    );
    ensure!(
        C,
        status.map(|s| s.id) == Some(renewed.id),
        "status is not the new subscription"
    );
    Ok(())
}

/// Usage is counted once per identifier, increments add up, unbilled metrics, unknown tenants and bad
/// reports are refused.
pub async fn check_usage(
    backend: &dyn BillingProvider,
    harness: &dyn Harness,
    fixture: &ConformanceFixture,
) -> Check {
    const C: &str = "usage";
    let metric = fixture.metric.as_str();
    ensure!(C, backend.bills_metric(metric), "{metric} is not billed");
    ensure!(
        C,
        !backend.bills_metric(&fixture.unbilled_metric),
        "{} is billed",
        fixture.unbilled_metric
    );
    let now = Utc::now();

    let nobody = fresh_tenant("usage-nobody");
    let r = backend
        .report_usage(&UsageReport::period_total(nobody, metric, "2026-11", 1, now))
        .await;
    ensure!(
        C,
        matches!(r, Err(Error::NotFound { .. })),
        "usage without customer: {r:?}"
    );

    let tenant = fresh_tenant("usage");
    let account = ok!(
        C,
        "ensure",
        backend.ensure_customer(&NewCustomer::new(tenant.clone(), "Usage Inc"))
    );
    let first = UsageReport::increment(tenant.clone(), metric, "2026-11", 0, 7, now)
        .map_err(|e| fail(C, e.to_string()))?;
    let recorded = ok!(C, "report", backend.report_usage(&first));
    ensure!(
        C,
        recorded.identifier == first.identifier,
        "identifier changed: {}",
        recorded.identifier
    );
    ensure!(C, recorded.quantity == 7, "quantity {}", recorded.quantity);
    ok!(C, "report again", backend.report_usage(&first));
    let billed = harness.billed_usage(&account, metric);
    ensure!(
        C,
        billed == 7,
        "a repeated report was counted: billed {billed}, want 7"
    );

    let mut changed = first.clone();
    changed.quantity = 100;
    changed.timestamp = now - chrono::Duration::seconds(30);
    let r = backend.report_usage(&changed).await;
    ensure!(
        C,
        r.is_ok() || matches!(r, Err(Error::IdempotencyKeyReused { .. })),
        "a known identifier with another quantity: {r:?}"
    );
    let billed = harness.billed_usage(&account, metric);
    ensure!(
        C,
        billed == 7,
        "a known identifier was counted again: billed {billed}, want 7"
    );

    let second = UsageReport::increment(tenant.clone(), metric, "2026-11", 7, 10, now)
        .map_err(|e| fail(C, e.to_string()))?;
    ok!(C, "report increment", backend.report_usage(&second));
    let billed = harness.billed_usage(&account, metric);
    ensure!(
        C,
        billed == 10,
        "increments do not add up: billed {billed}, want 10"
    );

    let unbilled = UsageReport::period_total(tenant.clone(), &fixture.unbilled_metric, "2026-11", 5, now);
    let r = backend.report_usage(&unbilled).await;
    ensure!(
        C,
        matches!(r, Err(Error::InvalidInput { .. })),
        "unbilled metric: {r:?}"
    );
    let bad =
        UsageReport::period_total(tenant.clone(), metric, "2026-11", 5, now).with_identifier("x".repeat(101));
    let r = backend.report_usage(&bad).await;
    ensure!(
        C,
        matches!(r, Err(Error::InvalidInput { .. })),
        "over-long identifier: {r:?}"
    );
    for (label, at) in [
        ("36 days old", now - chrono::Duration::days(36)),
        ("10 minutes ahead", now + chrono::Duration::minutes(10)),
    ] {
        let late = UsageReport::period_total(tenant.clone(), metric, "2026-10", 5, at);
        let r = backend.report_usage(&late).await;
        ensure!(
            C,
            matches!(r, Err(Error::InvalidInput { .. })),
            "timestamp {label}: {r:?}"
        );
    }
    let bad = bad.with_identifier("has space");
    let r = backend.report_usage(&bad).await;
    ensure!(
        C,
        matches!(r, Err(Error::InvalidInput { .. })),
        "identifier with a space: {r:?}"
    );
    let billed = harness.billed_usage(&account, metric);
    ensure!(C, billed == 10, "a refused report was counted: billed {billed}");
    Ok(())
}

/// Invoices are listed newest first, limited, with amounts and status; a tenant without customer has none.
pub async fn check_invoices(backend: &dyn BillingProvider, harness: &dyn Harness) -> Check {
    const C: &str = "invoices";
    let nobody = fresh_tenant("invoices-nobody");
    let none = ok!(C, "list without customer", backend.list_invoices(&nobody, 10));
    ensure!(C, none.is_empty(), "invoices without customer: {none:?}");

    let tenant = fresh_tenant("invoices");
    let account = ok!(
        C,
        "ensure",
        backend.ensure_customer(&NewCustomer::new(tenant.clone(), "Invoices SA"))
    );
    let empty = ok!(C, "list empty", backend.list_invoices(&tenant, 10));
    ensure!(C, empty.is_empty(), "a new customer has invoices");
    let oldest = harness.add_invoice(&account, 1000, true);
    let middle = harness.add_invoice(&account, 2500, true);
    let newest = harness.add_invoice(&account, 4200, false);
    let two = ok!(C, "list", backend.list_invoices(&tenant, 2));
    let ids: Vec<&InvoiceId> = two.iter().map(|i| &i.id).collect();
    ensure!(
        C,
        ids == vec![&newest, &middle],
        "not newest first or not limited: {ids:?}"
    );
    let open = &two[0];
    ensure!(
        C,
        open.amount_due.minor_units() == 4200 && open.amount_paid.minor_units() == 0,
        "amounts: {:?} / {:?}",
        open.amount_due,
        open.amount_paid
    );
    ensure!(
        C,
        open.status == crate::InvoiceStatus::Open,
        "status {:?}",
        open.status
    );
    ensure!(C, open.customer_id == account.customer_id, "wrong customer");
    let paid = &two[1];
    ensure!(
        C,
        paid.status == crate::InvoiceStatus::Paid && paid.amount_paid.minor_units() == 2500,
        "paid: {paid:?}"
    );
    let all = ok!(C, "list all", backend.list_invoices(&tenant, 100));
    ensure!(C, all.len() == 3 && all[2].id == oldest, "full list: {all:?}");
    let r = backend.list_invoices(&tenant, 0).await;
    ensure!(C, matches!(r, Err(Error::InvalidInput { .. })), "limit 0: {r:?}");
    Ok(())
}

/// A signed event verifies and parses; a tampered body, an old timestamp, a missing header and another
/// secret are rejected with the reason.
pub async fn check_webhooks(
    backend: &dyn BillingProvider,
    harness: &dyn Harness,
    fixture: &ConformanceFixture,
) -> Check {
    const C: &str = "webhooks";
    let now = Utc::now();
    let sub = crate::Subscription {
        id: "sub_conformance".into(),
        customer_id: "cus_conformance".into(),
        tenant: Some("tenant-webhook".into()),
        status: SubscriptionStatus::PastDue,
        price: Some(fixture.price.clone()),
        current_period_start: None,
        current_period_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        created: None,
    };
    let body = serde_json::json!({
        "id": "evt_conformance", "object": "event", "api_version": crate::STRIPE_API_VERSION,
        "created": now.timestamp(), "livemode": false, "type": "customer.subscription.updated",
        "data": {"object": wire::subscription_json(&sub)},
    })
    .to_string();
    let header = harness.sign_webhook(body.as_bytes(), now.timestamp());
    let event = backend
        .verify_webhook(body.as_bytes(), Some(&header), now)
        .map_err(|e| fail(C, format!("valid delivery: {e}")))?;
    ensure!(C, event.id == "evt_conformance", "event id {}", event.id);
    match &event.kind {
        BillingEventKind::SubscriptionUpdated(s) => {
            ensure!(
                C,
                s.status == SubscriptionStatus::PastDue,
                "status {:?}",
                s.status
            );
            ensure!(
                C,
                s.tenant.as_ref().map(TenantId::as_str) == Some("tenant-webhook"),
                "tenant {:?}",
                s.tenant
            );
        }
        other => return Err(fail(C, format!("parsed as {other:?}"))),
    }

    let tampered = body.replace("past_due", "active");
    let r = backend.verify_webhook(tampered.as_bytes(), Some(&header), now);
    ensure!(
        C,
        matches!(r, Err(Error::InvalidSignature(WebhookRejected::Mismatch))),
        "tampered body: {r:?}"
    );
    let old = now.timestamp() - 301;
    let old_header = harness.sign_webhook(body.as_bytes(), old);
    let r = backend.verify_webhook(body.as_bytes(), Some(&old_header), now);
    ensure!(
        C,
        matches!(r, Err(Error::InvalidSignature(WebhookRejected::TooOld { .. }))),
        "old delivery: {r:?}"
    );
    let r = backend.verify_webhook(body.as_bytes(), None, now);
    ensure!(
        C,
        matches!(r, Err(Error::InvalidSignature(WebhookRejected::MissingHeader))),
        "no header: {r:?}"
    );
    let foreign = WebhookVerifier::new("whsec_someone_else").sign(body.as_bytes(), now.timestamp());
    let r = backend.verify_webhook(body.as_bytes(), Some(&foreign), now);
    ensure!(
        C,
        matches!(r, Err(Error::InvalidSignature(WebhookRejected::Mismatch))),
        "other secret: {r:?}"
    );
    Ok(())
}
