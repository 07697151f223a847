//! The conformance suite on SQLite: a fresh file database (migrations from empty), in-memory SQLite, and
//! through `open("sqlite://…")`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "sqlite")]

use callbook_jobs::testing;

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("callbook-jobs-{}-{}", name, uuid::Uuid::new_v4()));
    format!("sqlite://{}/nested/jobs.db", dir.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_store_passes_the_suite() {
    let store = callbook_jobs::open(&temp_db("suite")).await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_store_passes_the_suite() {
    let store = callbook_jobs::open("sqlite::memory:").await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let url = temp_db("reopen");
    let tenant = {
        let store = callbook_jobs::open(&url).await.unwrap();
        testing::new_tenant(store.as_ref(), "Persisted").await
    };
    let store = callbook_jobs::open(&url).await.unwrap();
    assert_eq!(store.get_tenant(tenant.id).await.unwrap(), tenant);
}
