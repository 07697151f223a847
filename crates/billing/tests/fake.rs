//! `FakeBilling` beyond the conformance suite: invoices at period close, signed webhook deliveries, the
//! periodic usage report's crash safety, and shared state between clones.
#![allow(clippy::unwrap_used)]

use callbook_billing::fake::FakeBilling;
use callbook_billing::{
    BillingEventKind, BillingProvider, Error, InvoiceStatus, NewCustomer, SubscribeRequest,
    SubscriptionStatus, TenantId, UsageReport, report_usage_totals,
};
use chrono::Utc;

async fn subscribed(billing: &FakeBilling, tenant: &str) -> TenantId {
    let tenant = TenantId::new(tenant);
    billing
        .ensure_customer(&NewCustomer::new(tenant.clone(), "Acme"))
        .await
        .unwrap();
    billing
        .subscribe(&tenant, &SubscribeRequest::new("price_standard"))
        .await
        .unwrap();
    tenant
}

#[tokio::test]
async fn closing_a_period_invoices_its_usage_at_the_unit_prices() {
    let billing = FakeBilling::new()
        .with_unit_price("calls", 25, "eur")
        .with_unit_price("audio_seconds", 1, "eur");
    let tenant = subscribed(&billing, "t1").await;
    let other = subscribed(&billing, "t2").await;
    let now = Utc::now();
    for (t, metric, period, qty) in [
        (&tenant, "calls", "2026-11", 10),
        (&tenant, "audio_seconds", "2026-11", 600),
        (&tenant, "calls", "2026-10", 99),
        (&other, "calls", "2026-11", 1000),
    ] {
        billing
            .report_usage(&UsageReport::period_total(t.clone(), metric, period, qty, now))
            .await
            .unwrap();
    }
    let invoice = billing.close_period(&tenant, "2026-11").unwrap();
    assert_eq!(invoice.amount_due.minor_units(), 10 * 25 + 600);
    assert_eq!(invoice.currency(), "eur");
    assert_eq!(invoice.status, InvoiceStatus::Open);
    assert_eq!(invoice.tenant.as_ref(), Some(&tenant));
    let paid = billing.mark_invoice_paid(&invoice.id).unwrap();
    assert_eq!(paid.amount_paid, paid.amount_due);
    let listed = billing.list_invoices(&tenant, 10).await.unwrap();
    assert_eq!(listed, vec![paid.clone()]);
    assert!(billing.list_invoices(&other, 10).await.unwrap().is_empty());

    let (body, signature) = billing.invoice_event(&paid.id, "invoice.paid", now).unwrap();
    let event = billing.verify_webhook(&body, Some(&signature), now).unwrap();
    match event.kind {
        BillingEventKind::InvoicePaid(inv) => assert_eq!(inv, paid),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        billing.close_period(&"nobody".into(), "2026-11"),
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn subscription_events_round_trip_through_the_verifier() {
    let billing = FakeBilling::new().with_webhook_secret("whsec_fake_test");
    let tenant = subscribed(&billing, "t1").await;
    billing
        .set_subscription_status(&tenant, SubscriptionStatus::PastDue)
        .unwrap();
    let now = Utc::now();
    let (body, signature) = billing
        .subscription_event(&tenant, "customer.subscription.updated", now)
        .unwrap();
    assert!(signature.starts_with(&format!("t={},v1=", now.timestamp())));
    let event = billing.verify_webhook(&body, Some(&signature), now).unwrap();
    assert!(event.id.starts_with("evt_"));
    match &event.kind {
        BillingEventKind::SubscriptionUpdated(sub) => {
            assert_eq!(sub.status, SubscriptionStatus::PastDue);
            assert_eq!(sub.tenant.as_ref(), Some(&tenant));
        }
        other => panic!("{other:?}"),
    }
    let (deleted, sig) = billing
        .subscription_event(&tenant, "customer.subscription.deleted", now)
        .unwrap();
    let event = billing.verify_webhook(&deleted, Some(&sig), now).unwrap();
    assert!(matches!(event.kind, BillingEventKind::SubscriptionDeleted(_)));
    let other = FakeBilling::new();
    assert!(
        matches!(
            other.verify_webhook(&body, Some(&signature), now),
            Err(Error::InvalidSignature(_))
        ),
        "each fake has its own random secret"
    );
}

#[tokio::test]
async fn the_periodic_report_survives_a_crash_before_saving_watermarks() {
    let billing = FakeBilling::new().with_meter("calls", "callbook_calls");
    let tenant = subscribed(&billing, "t1").await;
    let now = Utc::now();
    let totals = [("calls", 15), ("extractions", 15)];
    let nothing_saved = |_: &str| 0;
    let first = report_usage_totals(&billing, &tenant, "2026-11", totals, nothing_saved, now).await;
    assert!(first.failed.is_empty());
    assert_eq!(first.reported.len(), 1);
    assert_eq!(
        (first.reported[0].metric.as_str(), first.reported[0].total),
        ("calls", 15)
    );
    // The process died before storing 15 as the watermark: the rerun sends the same report.
    let rerun = report_usage_totals(&billing, &tenant, "2026-11", totals, nothing_saved, now).await;
    assert_eq!(
        rerun.reported[0].recorded.identifier,
        first.reported[0].recorded.identifier
    );
    assert_eq!(billing.usage(&tenant, "calls", "2026-11"), 15, "counted once");

    let saved = |_: &str| 15;
    let idle = report_usage_totals(&billing, &tenant, "2026-11", totals, saved, now).await;
    assert!(
        idle.reported.is_empty() && idle.failed.is_empty(),
        "an unchanged counter sends nothing"
    );
    report_usage_totals(&billing, &tenant, "2026-11", [("calls", 20)], saved, now).await;
    assert_eq!(billing.usage(&tenant, "calls", "2026-11"), 20);
    assert!(!billing.bills_metric("extractions"));
}

#[tokio::test]
async fn a_bad_counter_fails_alone() {
    let billing = FakeBilling::new()
        .with_meter("calls", "callbook_calls")
        .with_meter("audio_seconds", "callbook_audio");
    let tenant = subscribed(&billing, "t1").await;
    let totals = [("calls", 5), ("audio_seconds", 40)];
    let watermark = |m: &str| if m == "calls" { 9 } else { 0 };
    let run = report_usage_totals(&billing, &tenant, "2026-11", totals, watermark, Utc::now()).await;
    assert_eq!(run.reported.len(), 1);
    assert_eq!(run.reported[0].metric, "audio_seconds");
    assert_eq!(run.failed.len(), 1);
    assert!(matches!(run.failed[0], (ref m, Error::InvalidInput { .. }) if m == "calls"));
    let negative =
        report_usage_totals(&billing, &tenant, "2026-11", [("calls", -1)], |_| 0, Utc::now()).await;
    assert!(matches!(negative.failed[0].1, Error::InvalidInput { .. }));
    let none = report_usage_totals(
        &billing,
        &"nobody".into(),
        "2026-11",
        [("calls", 1)],
        |_| 0,
        Utc::now(),
    )
    .await;
    assert!(
        matches!(none.failed[0].1, Error::NotFound { .. }),
        "a tenant without customer"
    );
    assert_eq!(billing.usage(&tenant, "audio_seconds", "2026-11"), 40);
}

#[test]
fn a_counter_that_went_down_is_refused() {
    let err = UsageReport::increment("t1", "calls", "2026-11", 20, 15, Utc::now()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

#[tokio::test]
async fn clones_share_state() {
    let billing = FakeBilling::new();
    let clone = billing.clone();
    let tenant = subscribed(&billing, "t1").await;
    assert!(clone.find_customer(&tenant).await.unwrap().is_some());
    assert_eq!(clone.customer_count(), 1);
}

/// The periodic job runs in a spawned task, so the report's future must be `Send` with a `dyn` provider.
#[tokio::test]
async fn the_usage_report_can_run_in_a_spawned_task() {
    let billing: std::sync::Arc<dyn BillingProvider> = std::sync::Arc::new(FakeBilling::new());
    let tenant = TenantId::new("t1");
    billing
        .ensure_customer(&NewCustomer::new(tenant.clone(), "Acme"))
        .await
        .unwrap();
    let watermarks = std::collections::BTreeMap::from([("calls".to_owned(), 2_i64)]);
    let task = tokio::spawn(async move {
        let lookup = |m: &str| watermarks.get(m).copied().unwrap_or(0);
        report_usage_totals(
            &*billing,
            &tenant,
            "2026-11",
            vec![("calls".to_owned(), 5)],
            lookup,
            Utc::now(),
        )
        .await
    });
    let run = task.await.unwrap();
    assert_eq!(run.reported[0].recorded.quantity, 3);
}
