//! The domain types [`BillingProvider`](crate::BillingProvider) speaks. They are ours, never Stripe's wire
//! structs; ids keep the provider's spelling (`cus_…`, `sub_…`, `in_…`) because webhooks carry them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as given.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A Callbook tenant, as an opaque string (the server passes its `TenantId` rendered as text). Stored on
    /// the provider's customer as metadata `callbook_tenant_id`.
    TenantId
);
string_id!(
    /// A provider customer (Stripe `cus_…`).
    CustomerId
);
string_id!(
    /// A subscription (Stripe `sub_…`).
    SubscriptionId
);
string_id!(
    /// A price, i.e. a plan (Stripe `price_…`).
    PriceId
);
string_id!(
    /// An invoice (Stripe `in_…`).
    InvoiceId
);

/// The metadata key under which the tenant id is stored on customers and subscriptions.
pub const TENANT_METADATA_KEY: &str = "callbook_tenant_id";

/// An amount of money in **minor units** (cents for USD, yen for JPY) and its ISO 4217 currency, lower-case
/// as Stripe spells it. Never a float.
///
/// ```
/// use callbook_billing::Money;
/// let m = Money::new(1999, "USD");
/// assert_eq!((m.minor_units(), m.currency()), (1999, "usd"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor_units: i64,
    currency: String,
}

impl Money {
    /// `minor_units` of `currency` (any case; stored lower-case).
    pub fn new(minor_units: i64, currency: &str) -> Self {
        Self {
            minor_units,
            currency: currency.to_ascii_lowercase(),
        }
    }
    /// The amount in minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }
    /// The ISO 4217 code, lower-case.
    pub fn currency(&self) -> &str {
        &self.currency
    }
}

/// A tenant's customer at the billing provider.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingAccount {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The provider's customer id.
    pub customer_id: CustomerId,
    /// The business name on invoices.
    pub name: Option<String>,
    /// Where invoices are e-mailed (personal data: not shown by `Debug`).
    pub email: Option<String>,
    /// When the customer was created.
    pub created: Option<DateTime<Utc>>,
}

impl fmt::Debug for BillingAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingAccount")
            .field("tenant", &self.tenant)
            .field("customer_id", &self.customer_id)
            .field("name", &self.name)
            .field("email", &self.email.as_ref().map(|_| "…"))
            .field("created", &self.created)
            .finish()
    }
}

/// Who to create in [`BillingProvider::ensure_customer`](crate::BillingProvider::ensure_customer).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCustomer {
    /// The tenant.
    pub tenant: TenantId,
    /// The business name.
    pub name: String,
    /// The billing e-mail address, if any.
    pub email: Option<String>,
}

impl NewCustomer {
    /// A customer for `tenant` named `name`, without an e-mail address.
    pub fn new(tenant: impl Into<TenantId>, name: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            name: name.into(),
            email: None,
        }
    }
    /// Sets the billing e-mail address.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field("tenant", &self.tenant)
            .field("name", &self.name)
            .field("email", &self.email.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A subscription's state, as Stripe names it; unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubscriptionStatus {
    /// Created, first payment not yet made (23 h to complete).
    Incomplete,
    /// The first payment never completed; terminal.
    IncompleteExpired,
    /// In a free trial.
    Trialing,
    /// Paid up.
    Active,
    /// The latest invoice failed; Stripe is retrying.
    PastDue,
    /// Ended; terminal.
    Canceled,
    /// Retries exhausted; invoices stay open.
    Unpaid,
    /// A trial ended without a payment method.
    Paused,
    /// A status this crate does not know yet.
    #[serde(untagged)]
    Other(String),
}

impl SubscriptionStatus {
    /// Parses Stripe's spelling; unknown values become [`SubscriptionStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "paused" => Self::Paused,
            other => Self::Other(other.to_owned()),
        }
    }
    /// Stripe's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
            Self::Other(s) => s,
        }
    }
    /// Whether the tenant should keep using the service: trialing, active, or past due (Stripe is still
    /// retrying the payment).
    pub fn is_entitled(&self) -> bool {
        matches!(self, Self::Trialing | Self::Active | Self::PastDue)
    }
    /// Whether the subscription can never become active again (canceled, incomplete_expired).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

/// A tenant's subscription to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Provider id (`sub_…`).
    pub id: SubscriptionId,
    /// The customer paying.
    pub customer_id: CustomerId,
    /// The tenant, from the subscription's metadata (set by [`BillingProvider::subscribe`]).
    ///
    /// [`BillingProvider::subscribe`]: crate::BillingProvider::subscribe
    pub tenant: Option<TenantId>,
    /// Current state.
    pub status: SubscriptionStatus,
    /// The plan (the first item's price).
    pub price: Option<PriceId>,
    /// Start of the current billing period.
    pub current_period_start: Option<DateTime<Utc>>,
    /// End of the current billing period (exclusive).
    pub current_period_end: Option<DateTime<Utc>>,
    /// Whether it ends at `current_period_end` instead of renewing.
    pub cancel_at_period_end: bool,
    /// When it was canceled, if it was.
    pub canceled_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
}

/// What [`BillingProvider::subscribe`](crate::BillingProvider::subscribe) creates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeRequest {
    /// The plan's price.
    pub price: PriceId,
    /// Free trial length in days, if any.
    pub trial_days: Option<u32>,
}

impl SubscribeRequest {
    /// A subscription to `price` without a trial.
    pub fn new(price: impl Into<PriceId>) -> Self {
        Self {
            price: price.into(),
            trial_days: None,
        }
    }
    /// Starts with a free trial of `days` days.
    pub fn with_trial_days(mut self, days: u32) -> Self {
        self.trial_days = Some(days);
        self
    }
}

/// How [`BillingProvider::cancel`](crate::BillingProvider::cancel) ends a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CancelMode {
    /// Keep it until the paid period ends, then stop (`cancel_at_period_end=true`); reversible until then.
    #[default]
    AtPeriodEnd,
    /// End it now (`DELETE /v1/subscriptions/{id}`).
    Immediately,
}

/// An invoice's state, as Stripe names it; unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvoiceStatus {
    /// Being prepared; may still change.
    Draft,
    /// Finalized and awaiting payment.
    Open,
    /// Paid.
    Paid,
    /// Written off.
    Uncollectible,
    /// Cancelled.
    Void,
    /// A status this crate does not know yet.
    #[serde(untagged)]
    Other(String),
}

impl InvoiceStatus {
    /// Parses Stripe's spelling; unknown values become [`InvoiceStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "draft" => Self::Draft,
            "open" => Self::Open,
            "paid" => Self::Paid,
            "uncollectible" => Self::Uncollectible,
            "void" => Self::Void,
            other => Self::Other(other.to_owned()),
        }
    }
    /// Stripe's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Uncollectible => "uncollectible",
            Self::Void => "void",
            Self::Other(s) => s,
        }
    }
}

/// An invoice, as the settings page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invoice {
    /// Provider id (`in_…`).
    pub id: InvoiceId,
    /// Human-readable number (set once finalized).
    pub number: Option<String>,
    /// The customer billed.
    pub customer_id: CustomerId,
    /// The subscription it bills, if any.
    pub subscription_id: Option<SubscriptionId>,
    /// The tenant, from the billed subscription's metadata (Stripe copies it onto subscription invoices), so
    /// an `invoice.payment_failed` webhook can be routed without a lookup.
    pub tenant: Option<TenantId>,
    /// Current state.
    pub status: InvoiceStatus,
    /// What is owed in total.
    pub amount_due: Money,
    /// What has been paid.
    pub amount_paid: Money,
    /// Start of the usage period billed.
    pub period_start: Option<DateTime<Utc>>,
    /// End of the usage period billed.
    pub period_end: Option<DateTime<Utc>>,
    /// Stripe's page where the customer can see and pay it.
    pub hosted_invoice_url: Option<String>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
}

impl Invoice {
    /// The invoice's currency (that of [`Invoice::amount_due`]).
    pub fn currency(&self) -> &str {
        self.amount_due.currency()
    }
}

/// Longest identifier Stripe accepts for a meter event.
pub const MAX_USAGE_IDENTIFIER_LEN: usize = 100;

/// Usage to bill: `quantity` units of `metric` for `tenant` in `period`, with the identifier that makes
/// reporting it idempotent.
///
/// Build it with [`UsageReport::period_total`] (one report per tenant, metric and period, e.g. at month end)
/// or [`UsageReport::increment`] (periodic reports of what was added since the last one). Both derive the
/// identifier from the report's meaning, so a report repeated after a crash is the same report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageReport {
    /// The tenant.
    pub tenant: TenantId,
    /// The usage counter's metric, e.g. `calls`.
    pub metric: String,
    /// The usage period the counter belongs to, e.g. `2026-11`.
    pub period: String,
    /// Units to add.
    pub quantity: u64,
    /// When the usage happened (Stripe accepts the past 35 days up to 5 minutes ahead).
    pub timestamp: DateTime<Utc>,
    /// Dedupe key: the same identifier is counted once (Stripe's meter event `identifier`, ≤ 100 chars).
    pub identifier: String,
}

impl UsageReport {
    /// The whole period's `total`, reported once: idempotent per `(tenant, metric, period)`.
    ///
    /// ```
    /// use callbook_billing::UsageReport;
    /// let at = chrono::Utc::now();
    /// let a = UsageReport::period_total("tenant-1", "calls", "2026-11", 42, at);
    /// let b = UsageReport::period_total("tenant-1", "calls", "2026-11", 43, at);
    /// assert_eq!(a.identifier, b.identifier, "one report per tenant, metric and period");
    /// ```
    pub fn period_total(
        tenant: impl Into<TenantId>,
        metric: &str,
        period: &str,
        total: u64,
        timestamp: DateTime<Utc>,
    ) -> Self {
        let tenant = tenant.into();
        let identifier = usage_identifier(&[tenant.as_str(), metric, period, "total"]);
        Self {
            tenant,
            metric: metric.to_owned(),
            period: period.to_owned(),
            quantity: total,
            timestamp,
            identifier,
        }
    }

    /// What was added to a counter since the last report: `total_now - reported_before` units, identified by
    /// `(tenant, metric, period, total_now)`. Repeating it (a crash before the caller saved `total_now` as
    /// reported) is the same report; the next one starts from `total_now`.
    ///
    /// Fails with [`Error::InvalidInput`] when `total_now < reported_before` (a counter never goes down).
    ///
    /// ```
    /// use callbook_billing::UsageReport;
    /// let at = chrono::Utc::now();
    /// let r = UsageReport::increment("tenant-1", "calls", "2026-11", 40, 42, at)?;
    /// assert_eq!(r.quantity, 2);
    /// assert_eq!(r, UsageReport::increment("tenant-1", "calls", "2026-11", 40, 42, at)?);
    /// assert!(UsageReport::increment("tenant-1", "calls", "2026-11", 42, 40, at).is_err());
    /// # Ok::<(), callbook_billing::Error>(())
    /// ```
    pub fn increment(
        tenant: impl Into<TenantId>,
        metric: &str,
        period: &str,
        reported_before: u64,
        total_now: u64,
        timestamp: DateTime<Utc>,
    ) -> Result<Self> {
        let quantity = total_now.checked_sub(reported_before).ok_or_else(|| {
            Error::invalid(format!(
                "usage counter {metric} for {period} went down from {reported_before} to {total_now}"
            ))
        })?;
        let tenant = tenant.into();
        let upto = total_now.to_string();
        let identifier = usage_identifier(&[tenant.as_str(), metric, period, "upto", &upto]);
        Ok(Self {
            tenant,
            metric: metric.to_owned(),
            period: period.to_owned(),
            quantity,
            timestamp,
            identifier,
        })
    }

    /// Replaces the identifier (≤ [`MAX_USAGE_IDENTIFIER_LEN`] characters).
    pub fn with_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = identifier.into();
        self
    }

    /// Checks what every backend requires: non-empty metric, period and identifier, an identifier of at most
    /// 100 printable ASCII characters, and a quantity Stripe can take (≤ `i64::MAX`).
    pub fn validate(&self) -> Result<()> {
        if self.tenant.as_str().is_empty() {
            return Err(Error::invalid("usage report has an empty tenant"));
        }
        if self.metric.is_empty() || self.period.is_empty() {
            return Err(Error::invalid("usage report needs a metric and a period"));
        }
        if self.identifier.is_empty()
            || self.identifier.len() > MAX_USAGE_IDENTIFIER_LEN
            || !self.identifier.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::invalid(
                "usage identifier must be 1-100 printable ASCII characters",
            ));
        }
        if i64::try_from(self.quantity).is_err() {
            return Err(Error::invalid("usage quantity is too large"));
        }
        Ok(())
    }
}

/// `cbu_` + the first 32 bytes of SHA-256 over the NUL-joined parts, hex: 68 characters, fixed length
/// whatever the tenant id looks like, and no tenant data in clear.
fn usage_identifier(parts: &[&str]) -> String {
    format!("cbu_{}", hash_parts("callbook-usage", parts))
}

/// Hex SHA-256 of a domain tag and NUL-separated parts (NUL cannot appear in ids or metrics we accept).
pub(crate) fn hash_parts(domain: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

impl UsageReport {
    /// [`validate`](Self::validate), plus Stripe's time window: the timestamp must lie within the
    /// [`MAX_USAGE_AGE_DAYS`] days before `now` and at most [`MAX_USAGE_CLOCK_SKEW_SECONDS`] after it.
    pub fn validate_at(&self, now: DateTime<Utc>) -> Result<()> {
        self.validate()?;
        let oldest = now - chrono::Duration::days(MAX_USAGE_AGE_DAYS);
        let newest = now + chrono::Duration::seconds(MAX_USAGE_CLOCK_SKEW_SECONDS);
        if self.timestamp < oldest || self.timestamp > newest {
            return Err(Error::InvalidInput {
                code: None,
                param: Some("timestamp".into()),
                message: format!(
                    "usage timestamp must be within the past {MAX_USAGE_AGE_DAYS} days and at most \
                     {MAX_USAGE_CLOCK_SKEW_SECONDS} s ahead"
                ),
            });
        }
        Ok(())
    }
}

/// How far back a usage timestamp may lie (Stripe: 35 calendar days).
pub const MAX_USAGE_AGE_DAYS: i64 = 35;

/// How far ahead a usage timestamp may lie (Stripe: 5 minutes, for clock drift).
pub const MAX_USAGE_CLOCK_SKEW_SECONDS: i64 = 300;

/// What a backend returns for an accepted usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageRecorded {
    /// The report's identifier.
    pub identifier: String,
    /// The provider's meter event name the usage went to.
    pub event_name: String,
    /// Units reported.
    pub quantity: u64,
    /// The usage's timestamp as the provider stored it.
    pub timestamp: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_short_stable_and_distinct() {
        let at = Utc::now();
        let a = UsageReport::period_total("t1", "calls", "2026-11", 1, at);
        assert_eq!(a.identifier.len(), 68);
        a.validate().unwrap();
        let other_metric = UsageReport::period_total("t1", "audio_seconds", "2026-11", 1, at);
        let other_period = UsageReport::period_total("t1", "calls", "2026-12", 1, at);
        let other_tenant = UsageReport::period_total("t2", "calls", "2026-11", 1, at);
        for o in [&other_metric, &other_period, &other_tenant] {
            assert_ne!(a.identifier, o.identifier);
        }
        // Ambiguous joins do not collide: ("t1c", "alls") vs ("t1", "calls").
        let shifted = UsageReport::period_total("t1c", "alls", "2026-11", 1, at);
        assert_ne!(a.identifier, shifted.identifier);
        let inc = UsageReport::increment("t1", "calls", "2026-11", 0, 1, at).unwrap();
        assert_ne!(a.identifier, inc.identifier);
    }

    #[test]
    fn validation_rejects_bad_reports() {
        let at = Utc::now();
        let ok = UsageReport::period_total("t1", "calls", "2026-11", 1, at);
        assert!(ok.clone().with_identifier("").validate().is_err());
        assert!(ok.clone().with_identifier("x".repeat(101)).validate().is_err());
        assert!(ok.clone().with_identifier("has space").validate().is_err());
        assert!(ok.clone().with_identifier("x".repeat(100)).validate().is_ok());
        let mut huge = ok.clone();
        huge.quantity = u64::MAX;
        assert!(huge.validate().is_err());
        let mut no_metric = ok;
        no_metric.metric.clear();
        assert!(no_metric.validate().is_err());
    }

    #[test]
    fn statuses_round_trip_and_keep_unknown_values() {
        for s in [
            "incomplete",
            "incomplete_expired",
            "trialing",
            "active",
            "past_due",
            "canceled",
            "unpaid",
            "paused",
        ] {
            assert_eq!(SubscriptionStatus::parse(s).as_str(), s);
        }
        assert_eq!(
            SubscriptionStatus::parse("frozen"),
            SubscriptionStatus::Other("frozen".into())
        );
        for s in ["draft", "open", "paid", "uncollectible", "void"] {
            assert_eq!(InvoiceStatus::parse(s).as_str(), s);
        }
        assert!(SubscriptionStatus::PastDue.is_entitled());
        assert!(!SubscriptionStatus::Unpaid.is_entitled());
    }

    #[test]
    fn debug_hides_email() {
        let c = NewCustomer::new("t1", "Acme").with_email("owner@example.com");
        assert!(!format!("{c:?}").contains("owner@"));
    }
}
