//! The conformance suite on Postgres (feature `postgres`), each test on a fresh database.
#![cfg(all(feature = "postgres", feature = "testing"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use callbook_jobs::{TenantStore, testing};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_suite() {
    let Some(url) = pg::fresh_database("conformance suite").await else {
        return;
    };
    let store = callbook_jobs::open(&url).await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_claimers_on_postgres_never_share_a_call() {
    let Some(url) = pg::fresh_database("claim concurrency").await else {
        return;
    };
    let store = callbook_jobs::open(&url).await.unwrap();
    testing::check_concurrent_claims(store.clone(), 8, 200).await;
    testing::check_concurrent_edits(store.clone(), 16).await;
    testing::check_concurrent_customers(store.clone(), 16).await;
    testing::check_concurrent_usage(store.clone(), 32).await;
    testing::check_concurrent_owner_changes(store, 16).await;
}

#[tokio::test]
async fn reopening_postgres_does_not_rerun_migrations() {
    let Some(url) = pg::fresh_database("reopen").await else {
        return;
    };
    let tenant = {
        let store = callbook_jobs::open(&url).await.unwrap();
        testing::new_tenant(store.as_ref(), "Persisted").await
    };
    let store = callbook_jobs::PostgresJobStore::open(&url).await.unwrap();
    assert_eq!(store.get_tenant(tenant.id).await.unwrap(), tenant);
}

/// Migration 0002: the database itself refuses a negative price or an amount without a currency.
#[tokio::test]
async fn the_database_refuses_bad_prices() {
    use callbook_jobs::*;
    let Some(url) = pg::fresh_database("prices").await else {
        return;
    };
    let store = PostgresJobStore::open(&url).await.unwrap();
    let tenant = testing::new_tenant(&store, "Prices").await;
    let mut new = NewJob::titled("Boiler");
    new.price = Some(Money::new(8900, "USD"));
    let job = store.create_job(tenant.id, new, Actor::pipeline()).await.unwrap();
    for sql in [
        "UPDATE jobs SET price_minor = -1 WHERE id = $1",
        "UPDATE jobs SET currency = NULL WHERE id = $1",
        "UPDATE jobs SET price_minor = NULL WHERE id = $1",
    ] {
        let err = sqlx::query(sql).bind(job.id).execute(store.pool()).await;
        assert!(err.is_err(), "{sql} was accepted");
    }
    sqlx::query("UPDATE jobs SET price_minor = NULL, currency = NULL WHERE id = $1")
        .bind(job.id)
        .execute(store.pool())
        .await
        .unwrap();
}

/// Every needle found anywhere in the database: the text form of every row of every table in the schema.
async fn scan_postgres(store: &callbook_jobs::PostgresJobStore, needles: &[testing::Needle]) -> Vec<String> {
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(tables.iter().any(|(t,)| t == "api_tokens"), "{tables:?}");
    let mut found = Vec::new();
    for (table,) in tables {
        let sql = format!("SELECT t::text FROM \"{table}\" t");
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap();
        for (row,) in rows {
            for needle in needles.iter().filter(|n| n.found_in_text(&row)) {
                found.push(format!("{needle:?} in {table}"));
            }
        }
    }
    found
}

/// The "a scan finds nothing of theirs", at the store level: after `delete_tenant` and
/// `erase_customer`, no table holds the tenant's id, logins, hashes, names or numbers, nor the subject's ids,
/// names or numbers; before, the same scan finds every one of them (so it can fail).
#[tokio::test]
async fn erased_tenants_and_customers_leave_nothing_in_any_table() {
    use callbook_jobs::{AccountStore, PrivacyStore};
    let Some(url) = pg::fresh_database("erasure scan").await else {
        return;
    };
    let store = callbook_jobs::PostgresJobStore::open(&url).await.unwrap();
    let gone = testing::populate(&store, "Scan deleted").await;
    let erased = testing::populate(&store, "Scan erased").await;
    let kept = testing::populate(&store, "Scan kept").await;
    let tenant_needles = gone.tenant_needles();
    let subject_needles = erased.subject_needles();
    for needle in tenant_needles.iter().chain(&subject_needles) {
        let hits = scan_postgres(&store, std::slice::from_ref(needle)).await;
        assert!(!hits.is_empty(), "the scan does not see {needle:?}");
    }

    store.delete_tenant(gone.tenant.id).await.unwrap();
    store
        .erase_customer(erased.tenant.id, erased.subject.id)
        .await
        .unwrap();
    let hits = scan_postgres(&store, &tenant_needles).await;
    assert!(hits.is_empty(), "left after delete_tenant: {hits:#?}");
    let hits = scan_postgres(&store, &subject_needles).await;
    assert!(hits.is_empty(), "left after erase_customer: {hits:#?}");
    for needle in kept.tenant_needles().iter().chain(&erased.tenant_needles()[..4]) {
        assert!(
            !scan_postgres(&store, std::slice::from_ref(needle))
                .await
                .is_empty(),
            "{needle:?} vanished"
        );
    }
}
