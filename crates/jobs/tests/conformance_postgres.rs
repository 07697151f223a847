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
    testing::check_concurrent_customers(store, 16).await;
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
