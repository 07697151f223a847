//! The `RecordingStore` conformance suite on every backend: memory, the local file system (directly and
//! through `Arc<dyn RecordingStore>`) and S3 against a local S3-compatible server (s3s-fs) when
//! `CALLBOOK_TEST_S3_ENDPOINT` is set.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use callbook_storage::testing::check_all;
use callbook_storage::{EncryptedStore, RecordingStore};

#[tokio::test]
async fn memory_passes_the_suite() {
    let store = EncryptedStore::builder()
        .with_url("memory://")
        .with_keyring(common::keyring())
        .with_segment_size(1024)
        .build()
        .unwrap();
    check_all(&store, 1024).await.unwrap();
}

#[tokio::test]
async fn memory_passes_the_suite_with_default_segments_and_small_parts() {
    // Small parts force the multipart path for everything above 64 KiB.
    let store = EncryptedStore::builder()
        .with_url("memory://")
        .with_keyring(common::keyring())
        .with_part_size(64 * 1024)
        .build()
        .unwrap();
    check_all(&store, 64 * 1024).await.unwrap();
}

#[tokio::test]
async fn local_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::local(dir.path(), 4096);
    check_all(&store, 4096).await.unwrap();
}

#[tokio::test]
async fn local_passes_the_suite_through_arc_dyn() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn RecordingStore> = Arc::new(common::local(dir.path(), 1024));
    check_all(&store, 1024).await.unwrap();
    let boxed: Box<dyn RecordingStore> = Box::new(common::local(dir.path(), 1024));
    check_all(&boxed, 1024).await.unwrap();
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_passes_the_suite() {
    let Some(store) = common::s3(64 * 1024) else {
        return;
    };
    check_all(&store, 64 * 1024).await.unwrap();
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_passes_the_suite_through_arc_dyn_with_small_segments() {
    let Some(store) = common::s3(1024) else {
        return;
    };
    let store: Arc<dyn RecordingStore> = Arc::new(store);
    check_all(&store, 1024).await.unwrap();
}
