//! The conformance suite on the in-memory store, directly and through `open("memory://")`.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use callbook_jobs::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_passes_the_suite() {
    testing::check_all(Arc::new(callbook_jobs::InMemoryJobStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_url_opens_a_conforming_store() {
    let store = callbook_jobs::open("memory://").await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test]
async fn unknown_scheme_is_a_config_error() {
    let err = callbook_jobs::open("mysql://x").await.err().unwrap();
    assert!(matches!(err, callbook_jobs::Error::Config(_)), "{err}");
}
