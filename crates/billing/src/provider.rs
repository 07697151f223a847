//! The provider-neutral [`BillingProvider`] trait.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    BillingAccount, CancelMode, Invoice, NewCustomer, PriceId, SubscribeRequest, Subscription, TenantId,
    UsageRecorded, UsageReport,
};
use crate::webhook::BillingEvent;
use crate::{Error, Result};

/// What differs between backends, declared rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// How long a usage identifier is remembered for deduplication; `None` = forever. Stripe guarantees at
    /// least 24 hours, so a caller must not rely on it to dedupe reports days apart (keep a watermark; see
    /// [`UsageReport::increment`](crate::UsageReport::increment)).
    pub usage_dedupe_window: Option<Duration>,
    /// Whether a newly found customer can be missed for a moment by [`BillingProvider::find_customer`]
    /// (Stripe's customer search is eventually consistent, up to about a minute).
    pub eventually_consistent_lookup: bool,
}

/// Billing for tenants: a customer per tenant, one current subscription, metered usage, invoices and
/// verified webhooks.
///
/// Used as `Arc<dyn BillingProvider>`; [`crate::fake::FakeBilling`] and `crate::stripe::StripeBilling`
/// (feature `stripe`) implement it.
///
/// # Contract
///
/// Every backend guarantees, and `testing::check_all` (feature `testing`) checks:
///
/// * **Tenants, not customers, are the key.** Each method takes the tenant id; the backend finds the tenant's
///   customer (stored with metadata `callbook_tenant_id`). A tenant without a customer is
///   [`Error::NotFound`] for writes and `None`/empty for reads.
/// * **`ensure_customer` is idempotent**: it returns the tenant's existing customer or creates exactly one,
///   even when called concurrently or repeated after a timeout (the create carries an idempotency key derived
///   from the tenant). An existing customer is returned as it is; name and e-mail are not updated.
/// * **One current subscription.** `subscribe` returns the tenant's current (not canceled or expired)
///   subscription when it is already on that price, fails with
///   [`Error::InvalidInput`] when it is on another, and otherwise creates one with
///   the tenant in its metadata. `subscription_status` returns the current subscription, else the newest
///   ended one, else `None`.
/// * **`cancel` is idempotent**: `AtPeriodEnd` sets `cancel_at_period_end`; `Immediately` ends it now; a
///   subscription that already ended is returned unchanged. No subscription at all is `NotFound`.
/// * **Usage is counted once per identifier** ([`UsageReport::identifier`](crate::UsageReport)), within
///   [`Capabilities::usage_dedupe_window`]: a repeat is accepted (or refused with
///   [`Error::IdempotencyKeyReused`]) but never counted again, whatever
///   its quantity or timestamp. Reports are validated before anything is sent
///   ([`UsageReport::validate_at`](crate::UsageReport::validate_at): identifier, quantity, and a timestamp
///   within the past 35 days and at most 5 minutes ahead). A metric the backend does not bill
///   ([`BillingProvider::bills_metric`] is false) is `InvalidInput`.
/// * **Invoices** are listed newest first, at most `limit` of them.
/// * **Every write carries an idempotency key** and may be retried by the backend with the same key.
/// * **`verify_webhook` trusts nothing before the signature passes** and returns
///   [`Error::InvalidSignature`] with the reason otherwise.
#[async_trait]
pub trait BillingProvider: Send + Sync + std::fmt::Debug + 'static {
    /// What differs from other backends.
    fn capabilities(&self) -> Capabilities;

    /// The tenant's customer, created (with `customer.name` and `customer.email`) if there is none.
    async fn ensure_customer(&self, customer: &NewCustomer) -> Result<BillingAccount>;

    /// The tenant's customer, if it has one.
    async fn find_customer(&self, tenant: &TenantId) -> Result<Option<BillingAccount>>;

    /// The tenant's current subscription (see the contract), or `None`.
    async fn subscription_status(&self, tenant: &TenantId) -> Result<Option<Subscription>>;

    /// Subscribes the tenant to a plan (see the contract).
    async fn subscribe(&self, tenant: &TenantId, request: &SubscribeRequest) -> Result<Subscription>;

    /// Cancels the tenant's current subscription.
    async fn cancel(&self, tenant: &TenantId, mode: CancelMode) -> Result<Subscription>;

    /// Whether usage of `metric` is billed (has a meter) by this backend.
    fn bills_metric(&self, metric: &str) -> bool;

    /// The plan new subscriptions use unless the caller names one (`STRIPE_PRICE_ID`), if configured.
    fn default_price(&self) -> Option<PriceId>;

    /// Reports usage; counted once per identifier.
    async fn report_usage(&self, report: &UsageReport) -> Result<UsageRecorded>;

    /// The tenant's invoices, newest first, at most `limit` (1–100).
    async fn list_invoices(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Invoice>>;

    /// Verifies a webhook delivery (`payload` = raw body, `signature` = the `Stripe-Signature` header) at
    /// time `now` and parses it.
    fn verify_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BillingEvent>;
}

// The trait must stay object-safe: the server holds an `Arc<dyn BillingProvider>`.
const _: fn(&dyn BillingProvider) = |_| {};

macro_rules! forward {
    ($ty:ty) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: BillingProvider + ?Sized> BillingProvider for $ty {
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn ensure_customer(&self, customer: &NewCustomer) -> Result<BillingAccount> {
                (**self).ensure_customer(customer).await
            }
            async fn find_customer(&self, tenant: &TenantId) -> Result<Option<BillingAccount>> {
                (**self).find_customer(tenant).await
            }
            async fn subscription_status(&self, tenant: &TenantId) -> Result<Option<Subscription>> {
                (**self).subscription_status(tenant).await
            }
            async fn subscribe(&self, tenant: &TenantId, request: &SubscribeRequest) -> Result<Subscription> {
                (**self).subscribe(tenant, request).await
            }
            async fn cancel(&self, tenant: &TenantId, mode: CancelMode) -> Result<Subscription> {
                (**self).cancel(tenant, mode).await
            }
            fn bills_metric(&self, metric: &str) -> bool {
                (**self).bills_metric(metric)
            }
            fn default_price(&self) -> Option<PriceId> {
                (**self).default_price()
            }
            async fn report_usage(&self, report: &UsageReport) -> Result<UsageRecorded> {
                (**self).report_usage(report).await
            }
            async fn list_invoices(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Invoice>> {
                (**self).list_invoices(tenant, limit).await
            }
            fn verify_webhook(
                &self,
                payload: &[u8],
                signature: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<BillingEvent> {
                (**self).verify_webhook(payload, signature, now)
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);

/// What the settings page shows from the billing provider (usage this period comes from the job store).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BillingOverview {
    /// The tenant's customer, if it has one.
    pub account: Option<BillingAccount>,
    /// The current subscription (plan, status, period), if any.
    pub subscription: Option<Subscription>,
    /// Recent invoices, newest first.
    pub invoices: Vec<Invoice>,
}

/// Convenience methods for every [`BillingProvider`]; implementers never touch these.
#[async_trait]
pub trait BillingProviderExt: BillingProvider {
    /// Account, current subscription and the newest `invoice_limit` invoices of a tenant. A tenant without a
    /// customer gets an empty overview, not an error.
    async fn overview(&self, tenant: &TenantId, invoice_limit: u32) -> Result<BillingOverview> {
        let Some(account) = self.find_customer(tenant).await? else {
            return Ok(BillingOverview {
                account: None,
                subscription: None,
                invoices: Vec::new(),
            });
        };
        let subscription = self.subscription_status(tenant).await?;
        let invoices = self.list_invoices(tenant, invoice_limit).await?;
        Ok(BillingOverview {
            account: Some(account),
            subscription,
            invoices,
        })
    }
}

impl<T: BillingProvider + ?Sized> BillingProviderExt for T {}

/// One metric reported by [`report_usage_totals`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportedTotal {
    /// The metric.
    pub metric: String,
    /// The counter's total that is now reported: store it as the metric's new watermark.
    pub total: i64,
    /// What the provider accepted.
    pub recorded: UsageRecorded,
}

/// What one [`report_usage_totals`] run did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UsageReportRun {
    /// Metrics reported: store each total as the metric's watermark.
    pub reported: Vec<ReportedTotal>,
    /// Metrics that could not be reported, with why; their watermarks stay, so the next run tries again.
    pub failed: Vec<(String, Error)>,
}

/// Reports what a tenant's usage counters gained since the last report: for every billed metric in
/// `totals` (e.g. `ActivityStore::list_usage` of the period, as `(metric, total)`) whose total is above
/// `reported_before(metric)`, one [`UsageReport::increment`] at `timestamp`. Unbilled metrics and unchanged
/// counters send nothing; a failure for one metric does not stop the others.
///
/// The caller stores each [`ReportedTotal::total`] as that metric's watermark for the period. If it crashes
/// before storing, the next run sends the same reports again (same identifiers), which are not counted
/// twice. Negative totals or watermarks, and a total below its watermark, fail with
/// [`Error::InvalidInput`] for that metric.
pub async fn report_usage_totals<M: AsRef<str>>(
    provider: &(impl BillingProvider + ?Sized),
    tenant: &TenantId,
    period: &str,
    totals: impl IntoIterator<Item = (M, i64)>,
    reported_before: impl Fn(&str) -> i64,
    timestamp: DateTime<Utc>,
) -> UsageReportRun {
    // Everything is decided before the first await, so the future holds no caller types.
    let mut reports = Vec::new();
    let mut run = UsageReportRun::default();
    for (metric, total) in totals {
        let metric = metric.as_ref();
        if !provider.bills_metric(metric) {
            continue;
        }
        let before = reported_before(metric);
        if total == before {
            continue;
        }
        let report = match (u64::try_from(before), u64::try_from(total)) {
            (Ok(before), Ok(now)) => {
                UsageReport::increment(tenant.clone(), metric, period, before, now, timestamp)
            }
            _ => Err(Error::invalid(format!(
                "usage counter {metric} or its watermark is negative"
            ))),
        };
        match report {
            Ok(report) => reports.push((report, total)),
            Err(e) => run.failed.push((metric.to_owned(), e)),
        }
    }
    // Neither the counters nor the watermark lookup live across an await: the future stays `Send` for a
    // spawned periodic task whatever they borrow.
    drop(reported_before);
    for (report, total) in reports {
        match provider.report_usage(&report).await {
            Ok(recorded) => run.reported.push(ReportedTotal {
                metric: report.metric,
                total,
                recorded,
            }),
            Err(e) => run.failed.push((report.metric, e)),
        }
    }
    run
}

/// The contract's rule for `subscribe` when the tenant's current subscription is `current`: `Some(Ok)` with
/// it when it is live on the requested price, `Some(Err)` when it is live on another, `None` when a new one
/// may be created.
pub(crate) fn live_subscription(
    current: Option<&Subscription>,
    tenant: &TenantId,
    request: &SubscribeRequest,
) -> Option<Result<Subscription>> {
    let current = current.filter(|s| !s.status.is_terminal())?;
    Some(if current.price.as_ref() == Some(&request.price) {
        Ok(current.clone())
    } else {
        Err(crate::Error::invalid(format!(
            "tenant {tenant} already has subscription {} on another price",
            current.id
        )))
    })
}

/// Checks `limit` for [`BillingProvider::list_invoices`].
pub(crate) fn check_limit(limit: u32) -> Result<()> {
    if (1..=100).contains(&limit) {
        Ok(())
    } else {
        Err(crate::Error::InvalidInput {
            code: None,
            param: Some("limit".into()),
            message: "invoice limit must be between 1 and 100".into(),
        })
    }
}
