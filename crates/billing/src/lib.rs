#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod fake;
pub mod model;
pub mod provider;
#[cfg(feature = "stripe")]
pub mod stripe;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;
mod wire;

pub use error::{Error, Result};
pub use model::{
    BillingAccount, CancelMode, CustomerId, Invoice, InvoiceId, InvoiceStatus, Money, NewCustomer, PriceId,
    SubscribeRequest, Subscription, SubscriptionId, SubscriptionStatus, TENANT_METADATA_KEY, TenantId,
    UsageRecorded, UsageReport,
};
pub use provider::{
    BillingOverview, BillingProvider, BillingProviderExt, Capabilities, ReportedTotal, UsageReportRun,
    report_usage_totals,
};
pub use webhook::{BillingEvent, BillingEventKind, WebhookVerifier};

/// The Stripe API version this crate speaks (sent as `Stripe-Version`, and what `MockStripe` answers in).
pub const STRIPE_API_VERSION: &str = "2025-03-31.basil";
