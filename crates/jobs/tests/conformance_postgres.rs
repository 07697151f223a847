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
    testing::check_concurrent_usage(store, 32).await;
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
