//! Billing in the reference server: which provider, the tenant's `billing` settings section, and the periodic
//! usage report.
//!
//! * **Provider** ([`provider_from_lookup`]): `callbook_billing`'s Stripe backend when `STRIPE_SECRET_KEY` is
//!   set (`STRIPE_WEBHOOK_SECRET`, `STRIPE_PRICE_ID`, `STRIPE_METER_EVENT_NAME`, `STRIPE_API_BASE` as its README
//!   says), else its in-memory `FakeBilling` with the plan [`FAKE_PRICE`], so the server starts with nothing
//!   configured (the fake forgets everything on restart).
//! * **Settings section** `billing` (written only by the server: `PATCH /settings` cannot touch it): the
//!   tenant's `customer_id` (set when the owner subscribes), and what Stripe's webhooks last said —
//!   `status`, `subscription_id`, `price`, `current_period_end`, `cancel_at_period_end`, `last_invoice`
//!   (id, status, amounts; no personal data) and the newest applied event (`last_event_id`,
//!   `last_event_created`, so a late, older delivery does not overwrite a newer state).
//! * **Usage report** ([`run_once`], spawned by [`spawn`] every `CALLBOOK_BILLING_REPORT_INTERVAL`, default
//!   `1h`, `off` disables; `callbook billing report [--dry-run]` runs it once): for every tenant with a
//!   `customer_id`, the usage counters of the current period and the previous one (the last hour of a month
//!   is reported after it ends) go through [`callbook_billing::report_usage_totals`], which sends what each
//!   billed counter gained since its watermark.
//!
//! **Watermarks** are usage counters in the same period: [`REPORTED_PREFIX`]`<metric>` (what was reported) and
//! [`PENDING_PREFIX`]`<metric>` (the total a run is about to send). Each run per tenant, period and metric:
//! (1) if the pending mark is above the watermark (a run crashed after sending, before saving), it sends that
//! same report again — same meter-event identifier, counted once — and saves the watermark; (2) it moves the
//! pending mark to the counter's total, sends `watermark → total` and moves the watermark. A mark moves with
//! `ActivityStore::record_usage` under the key `<counter>:<period>:<total>`, so two processes moving it to
//! the same total add the difference once. So a crash between sending and saving never bills twice, even when
//! more usage arrives before the next run (within Stripe's 24-hour identifier window).
//!
//! Counters rather than a map in the settings document, because: the settings document is replaced whole on
//! every write (a report racing a `PATCH /settings` would lose one of them) while counters are rows updated
//! atomically; `record_usage`'s key makes each move happen once; and the marks live and die with the counters
//! (tenant deletion, backups). The price: these names are hidden from every usage list
//! ([`is_internal_metric`]; `GET /usage` and `GET /billing` filter them) and never reported.
//!
//! Known limit: two server processes reporting the same tenant at the same instant while its counters move
//! in between can bill the overlap twice; the watermark then overshoots by the same amount and the
//! difference is made good once the period's usage passes the watermark (runs until then report the metric
//! as failed). Run the report in one process (set
//! `CALLBOOK_BILLING_REPORT_INTERVAL=off` on the others) to rule it out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callbook_billing::fake::FakeBilling;
use callbook_billing::stripe::StripeBillingBuilder;
use callbook_billing::{BillingProvider, report_usage_totals};
use callbook_jobs::{JobStore, Page, Tenant, TenantId};
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The plan of the offline fake (what `POST /billing/subscription` subscribes to without Stripe).
pub const FAKE_PRICE: &str = "price_callbook_standard";

/// Usage counters named with this prefix are the report's watermarks (see the module docs), not usage.
pub const REPORTED_PREFIX: &str = "billing.reported.";

/// Usage counters named with this prefix are the report's pending marks: the total a run is about to send.
pub const PENDING_PREFIX: &str = "billing.pending.";

/// The settings document's section the server keeps billing state in.
pub const SETTINGS_SECTION: &str = "billing";

/// The default report interval (`CALLBOOK_BILLING_REPORT_INTERVAL`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Whether a usage counter is the server's own bookkeeping (a watermark), hidden from usage lists.
pub fn is_internal_metric(metric: &str) -> bool {
    metric.starts_with(REPORTED_PREFIX) || metric.starts_with(PENDING_PREFIX)
}

/// The billing provider the environment selects, with the start-up report line: Stripe when
/// `STRIPE_SECRET_KEY` is set (a bad value fails with a message naming the variable), else the fake.
pub fn provider_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Arc<dyn BillingProvider>, String)> {
    if lookup("STRIPE_SECRET_KEY").is_some_and(|v| !v.trim().is_empty()) {
        let stripe = StripeBillingBuilder::from_env_with(&lookup)
            .build()
            .map_err(|e| anyhow::anyhow!("STRIPE_*: {e}"))?;
        let price = stripe.default_price().map_or_else(
            || "no STRIPE_PRICE_ID: subscribing is off".to_owned(),
            |p| format!("price {p}"),
        );
        let webhooks = if lookup("STRIPE_WEBHOOK_SECRET").is_some() {
            "POST /webhooks/stripe"
        } else {
            "webhooks off: set STRIPE_WEBHOOK_SECRET"
        };
        Ok((Arc::new(stripe), format!("stripe ({price}; {webhooks})")))
    } else {
        Ok((
            Arc::new(FakeBilling::new().with_default_price(FAKE_PRICE)),
            "offline fake (set STRIPE_SECRET_KEY for Stripe)".to_owned(),
        ))
    }
}

/// `CALLBOOK_BILLING_REPORT_INTERVAL`: `None` for `off`, [`DEFAULT_INTERVAL`] when unset.
pub fn interval_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Duration>> {
    match lookup("CALLBOOK_BILLING_REPORT_INTERVAL") {
        Some(v) if !v.trim().is_empty() => crate::retention::parse_interval(&v)
            .map_err(|e| anyhow::anyhow!("CALLBOOK_BILLING_REPORT_INTERVAL: {e}")),
        _ => Ok(Some(DEFAULT_INTERVAL)),
    }
}

/// The tenant's billing customer (set when its owner subscribed), from its settings document.
pub fn customer_id(settings: &Value) -> Option<&str> {
    settings.get(SETTINGS_SECTION)?.get("customer_id")?.as_str()
}

/// Changes the tenant's `billing` settings section with `change` and saves it when it changed (writes are
/// serialised with the settings API's). Returns the tenant as stored and whether it changed.
pub(crate) async fn update_section(
    store: &dyn JobStore,
    tenant: TenantId,
    change: impl FnOnce(&mut Map<String, Value>),
) -> Result<(Tenant, bool), callbook_jobs::Error> {
    let _guard = crate::api::settings::WRITE_LOCK.lock().await;
    let current = store.get_tenant(tenant).await?;
    let mut settings = current.settings.clone();
    if !settings.is_object() {
        settings = Value::Object(Map::new());
    }
    let Some(doc) = settings.as_object_mut() else {
        return Ok((current, false));
    };
    let mut section = doc
        .get(SETTINGS_SECTION)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let before = section.clone();
    change(&mut section);
    if section == before {
        return Ok((current, false));
    }
    doc.insert(SETTINGS_SECTION.to_owned(), Value::Object(section));
    let tenant = store.update_tenant_settings(tenant, settings).await?;
    Ok((tenant, true))
}

/// The month before `period` (`YYYY-MM`), `None` when it is not one.
fn previous_period(period: &str) -> Option<String> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?;
    let last_of_previous = first.pred_opt()?;
    Some(format!(
        "{:04}-{:02}",
        last_of_previous.year(),
        last_of_previous.month()
    ))
}

/// One metric reported (or, dry, to report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedMetric {
    /// The tenant.
    pub tenant: String,
    /// The usage period (`YYYY-MM`, the tenant's zone).
    pub period: String,
    /// The metric.
    pub metric: String,
    /// Units sent now.
    pub quantity: i64,
    /// The counter's total, the new watermark.
    pub total: i64,
}

/// One metric that could not be reported (retried next run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedMetric {
    /// The tenant.
    pub tenant: String,
    /// The usage period.
    pub period: String,
    /// The metric (empty when the whole tenant failed).
    pub metric: String,
    /// Why (the provider's message, never a body or a secret).
    pub error: String,
}

/// What one report run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportRun {
    /// Whether nothing was sent (the report says what would have been).
    pub dry_run: bool,
    /// Tenants with a billing customer that were looked at.
    pub tenants: usize,
    /// Metrics reported (or to report).
    pub reported: Vec<ReportedMetric>,
    /// Metrics that failed.
    pub failed: Vec<FailedMetric>,
}

/// Reports every billed tenant's usage gained since the last report (see the module docs). `dry_run` sends
/// and records nothing. Errors listing tenants fail the run; everything else is per metric in the report.
pub async fn run_once(
    store: &dyn JobStore,
    billing: &dyn BillingProvider,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<ReportRun> {
    let mut run = ReportRun {
        dry_run,
        ..ReportRun::default()
    };
    let mut offset = 0;
    loop {
        let tenants = store
            .list_tenants(Page { offset, limit: 100 })
            .await
            .context("listing tenants")?;
        for tenant in &tenants {
            if customer_id(&tenant.settings).is_none() {
                continue;
            }
            run.tenants += 1;
            let current = callbook_pipeline::usage::period(now, tenant);
            let periods = previous_period(&current)
                .into_iter()
                .chain(std::iter::once(current));
            for period in periods {
                report_tenant_period(store, billing, tenant.id, &period, now, dry_run, &mut run).await;
            }
        }
        if tenants.len() < 100 {
            break;
        }
        offset += 100;
    }
    if !dry_run {
        metrics::counter!("callbook_billing_usage_reports_total", "outcome" => "sent")
            .increment(run.reported.len() as u64);
        metrics::counter!("callbook_billing_usage_reports_total", "outcome" => "failed")
            .increment(run.failed.len() as u64);
    }
    Ok(run)
}

async fn report_tenant_period(
    store: &dyn JobStore,
    billing: &dyn BillingProvider,
    tenant: TenantId,
    period: &str,
    now: DateTime<Utc>,
    dry_run: bool,
    run: &mut ReportRun,
) {
    let fail = |metric: &str, error: String| FailedMetric {
        tenant: tenant.to_string(),
        period: period.to_owned(),
        metric: metric.to_owned(),
        error,
    };
    let usage = match store.list_usage(tenant, period).await {
        Ok(usage) => usage,
        Err(e) => {
            run.failed.push(fail("", format!("reading usage: {e}")));
            return;
        }
    };
    let mut watermarks: BTreeMap<String, i64> = BTreeMap::new();
    let mut pending: BTreeMap<String, i64> = BTreeMap::new();
    let mut totals = Vec::new();
    for u in usage {
        if let Some(metric) = u.metric.strip_prefix(REPORTED_PREFIX) {
            watermarks.insert(metric.to_owned(), u.total);
        } else if let Some(metric) = u.metric.strip_prefix(PENDING_PREFIX) {
            pending.insert(metric.to_owned(), u.total);
        } else {
            totals.push((u.metric, u.total));
        }
    }
    let mark = |map: &BTreeMap<String, i64>, metric: &str| map.get(metric).copied().unwrap_or(0);
    if dry_run {
        for (metric, total) in &totals {
            let before = mark(&watermarks, metric);
            if billing.bills_metric(metric) && *total != before {
                run.reported.push(ReportedMetric {
                    tenant: tenant.to_string(),
                    period: period.to_owned(),
                    metric: metric.clone(),
                    quantity: total - before,
                    total: *total,
                });
            }
        }
        return;
    }
    let id = callbook_billing::TenantId::new(tenant.to_string());
    let mut blocked = std::collections::BTreeSet::new();

    // 1. A run that crashed after sending and before saving left its total as the pending mark: send that
    //    same report again first (same identifier, counted once), so the next one starts where it ended.
    let current = |metric: &str| totals.iter().find(|(m, _)| m == metric).map(|(_, t)| *t);
    let recover: Vec<(String, i64)> = pending
        .iter()
        .filter(|(m, p)| **p > mark(&watermarks, m) && current(m).is_some_and(|t| t >= **p))
        .map(|(m, p)| (m.clone(), *p))
        .collect();
    if !recover.is_empty() {
        let before = watermarks.clone();
        let outcome = report_usage_totals(
            billing,
            &id,
            period,
            recover.iter().map(|(m, t)| (m.as_str(), *t)),
            |m| mark(&before, m),
            now,
        )
        .await;
        for reported in outcome.reported {
            let previous = mark(&watermarks, &reported.metric);
            match save_mark(
                store,
                tenant,
                period,
                REPORTED_PREFIX,
                &reported.metric,
                previous,
                reported.total,
            )
            .await
            {
                Ok(()) => {
                    watermarks.insert(reported.metric.clone(), reported.total);
                    run.reported.push(ReportedMetric {
                        tenant: tenant.to_string(),
                        period: period.to_owned(),
                        metric: reported.metric,
                        quantity: reported.total - previous,
                        total: reported.total,
                    });
                }
                Err(e) => {
                    blocked.insert(reported.metric.clone());
                    run.failed
                        .push(fail(&reported.metric, format!("saving the watermark: {e}")));
                }
            }
        }
        for (metric, error) in outcome.failed {
            tracing::warn!(metric, "usage report failed, retried next run: {error}");
            blocked.insert(metric.clone());
            run.failed.push(fail(&metric, error.to_string()));
        }
    }

    // 2. Say what is about to be sent (the pending mark), then send it.
    let mut to_send = Vec::new();
    for (metric, total) in &totals {
        if blocked.contains(metric) || !billing.bills_metric(metric) || *total == mark(&watermarks, metric) {
            continue;
        }
        let pending_now = mark(&pending, metric);
        if *total > pending_now
            && let Err(e) =
                save_mark(store, tenant, period, PENDING_PREFIX, metric, pending_now, *total).await
        {
            run.failed
                .push(fail(metric, format!("saving the pending mark: {e}")));
            continue;
        }
        to_send.push((metric.as_str(), *total));
    }
    let before = watermarks.clone();
    let outcome = report_usage_totals(billing, &id, period, to_send, |m| mark(&before, m), now).await;

    // 3. Save the watermarks.
    for reported in outcome.reported {
        let previous = mark(&watermarks, &reported.metric);
        match save_mark(
            store,
            tenant,
            period,
            REPORTED_PREFIX,
            &reported.metric,
            previous,
            reported.total,
        )
        .await
        {
            Ok(()) => run.reported.push(ReportedMetric {
                tenant: tenant.to_string(),
                period: period.to_owned(),
                metric: reported.metric,
                quantity: reported.total - previous,
                total: reported.total,
            }),
            Err(e) => {
                // Sent but not recorded: the next run sends the same report again (step 1), counted once.
                tracing::warn!(metric = %reported.metric, "usage reported but its watermark not saved: {e}");
                run.failed
                    .push(fail(&reported.metric, format!("saving the watermark: {e}")));
            }
        }
    }
    for (metric, error) in outcome.failed {
        tracing::warn!(metric, "usage report failed, retried next run: {error}");
        run.failed.push(fail(&metric, error.to_string()));
    }
}

/// Moves the mark counter `<prefix><metric>` from `previous` to `total`, once per (period, metric, total):
/// two processes moving it to the same total add the difference once.
async fn save_mark(
    store: &dyn JobStore,
    tenant: TenantId,
    period: &str,
    prefix: &str,
    metric: &str,
    previous: i64,
    total: i64,
) -> Result<(), callbook_jobs::Error> {
    let counter = format!("{prefix}{metric}");
    let key = format!("{counter}:{period}:{total}");
    store
        .record_usage(tenant, &key, period, &[(counter.as_str(), total - previous)])
        .await
        .map(|_| ())
}

/// Runs [`run_once`] every `interval` until `stop` turns `true` (or forever without one).
pub fn spawn(
    store: Arc<dyn JobStore>,
    billing: Arc<dyn BillingProvider>,
    interval: Duration,
    mut stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stopped = async {
                match stop.as_mut() {
                    Some(rx) => {
                        while rx.changed().await.is_ok() {
                            if *rx.borrow() {
                                return;
                            }
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stopped => return,
            }
            match run_once(store.as_ref(), billing.as_ref(), Utc::now(), false).await {
                Ok(run) if !run.failed.is_empty() => {
                    tracing::warn!(
                        failed = run.failed.len(),
                        reported = run.reported.len(),
                        "billing usage report partly failed"
                    );
                }
                Ok(run) => tracing::info!(reported = run.reported.len(), "billing usage reported"),
                Err(e) => tracing::warn!(error = %e, "billing usage report failed"),
            }
        }
    })
}

/// `callbook billing report [--dry-run]`: one run for every tenant, printed as JSON; exit 1 when a metric
/// failed.
pub async fn run_cli(dry_run: bool) -> anyhow::Result<std::process::ExitCode> {
    let config = crate::config::Config::from_env()?;
    let store = crate::app::open_store(&config).await?;
    let (billing, source) = provider_from_lookup(|k| std::env::var(k).ok())?;
    if !source.starts_with("stripe") {
        eprintln!(
            "callbook: billing is the offline fake (STRIPE_SECRET_KEY unset): nothing leaves this process"
        );
    }
    let run = run_once(store.as_ref(), billing.as_ref(), Utc::now(), dry_run).await?;
    println!("{}", serde_json::to_string_pretty(&run)?);
    Ok(if run.failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_periods_cross_years() {
        assert_eq!(previous_period("2026-11").as_deref(), Some("2026-10"));
        assert_eq!(previous_period("2026-01").as_deref(), Some("2025-12"));
        assert_eq!(previous_period("nope"), None);
    }

    #[test]
    fn interval_defaults_to_an_hour_and_can_be_off() {
        assert_eq!(interval_from_lookup(|_| None).unwrap(), Some(DEFAULT_INTERVAL));
        assert_eq!(interval_from_lookup(|_| Some("off".into())).unwrap(), None);
        assert_eq!(
            interval_from_lookup(|_| Some("15m".into())).unwrap(),
            Some(Duration::from_secs(900))
        );
        assert!(interval_from_lookup(|_| Some("soon".into())).is_err());
    }

    #[test]
    fn provider_is_the_fake_without_a_key_and_stripe_with_one() {
        let (fake, line) = provider_from_lookup(|_| None).unwrap();
        assert!(line.starts_with("offline fake"), "{line}");
        assert_eq!(fake.default_price().unwrap().as_str(), FAKE_PRICE);
        let (_, line) = provider_from_lookup(|k| match k {
            "STRIPE_SECRET_KEY" => Some("sk_test_123".into()),
            "STRIPE_PRICE_ID" => Some("price_abc".into()),
            _ => None,
        })
        .unwrap();
        assert!(line.starts_with("stripe (price price_abc"), "{line}");
        assert!(!line.contains("sk_test_123"));
        let e = provider_from_lookup(|k| (k == "STRIPE_SECRET_KEY").then(|| "pk_live_x".to_owned()))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("STRIPE"), "{e:#}");
    }

    #[test]
    fn watermark_counters_are_internal() {
        assert!(is_internal_metric("billing.reported.calls"));
        assert!(!is_internal_metric("calls"));
    }
}
