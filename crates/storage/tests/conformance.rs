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

#[tokio::test]
async fn local_passes_the_suite_with_multipart_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedStore::builder()
        .with_url(format!("file://{}", dir.path().display()))
        .with_keyring(common::keyring())
        .with_segment_size(1024)
        .with_part_size(32 * 1024)
        .build()
        .unwrap();
    check_all(&store, 1024).await.unwrap();
    // No staging files are left behind by aborted or completed multipart uploads.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    name.ends_with(".cbenc")
                        || name.ends_with(".dek")
                        || name.ends_with(".hold")
                        || name.ends_with(".tomb"),
                    "{name}"
                );
            }
        }
    }
}

/// A body that fails after more than one 5 MiB part aborts the S3 multipart upload: nothing becomes visible.
#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_aborts_multipart_uploads_when_the_body_fails() {
    use callbook_storage::testing::{audio_key, fresh_tenant, synthetic_wav};
    use callbook_storage::{Error, RecordingOptions, RecordingStoreExt};
    use futures_util::StreamExt;
    let Some(store) = common::s3(64 * 1024) else {
        return;
    };
    let key = audio_key(&fresh_tenant("s3abort"), "c1", "r1");
    let chunk = synthetic_wav(3 << 20);
    let body = futures_util::stream::iter(vec![
        Ok(chunk.clone()),
        Ok(chunk.clone()),
        Ok(chunk),
        Err(std::io::Error::other("caller's download failed")),
    ])
    .boxed();
    let r = store
        .put_recording(&key, RecordingOptions::new("audio/wav"), body)
        .await;
    assert!(matches!(r, Err(Error::Body { .. })), "{r:?}");
    assert!(matches!(
        store.head_recording(&key).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(store.get_bytes(&key).await, Err(Error::NotFound { .. })));
}
