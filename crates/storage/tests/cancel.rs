//! A put future dropped mid-upload (a cancelled request) aborts its S3 multipart upload. Alone in its own
//! test binary, so no other test's upload is in flight while the server's data directory is inspected.
#![allow(clippy::unwrap_used)]

mod common;

#[cfg(feature = "s3")]
use std::time::Duration;

#[cfg(feature = "s3")]
use callbook_storage::testing::{audio_key, fresh_tenant, synthetic_wav};
#[cfg(feature = "s3")]
use callbook_storage::{Error, RecordingOptions, RecordingStore};
#[cfg(feature = "s3")]
use futures_util::StreamExt;

#[cfg(feature = "s3")]
/// s3s-fs keeps a multipart upload's state as `.upload…` files in its data directory until it is
/// completed or aborted.
fn uploads_in_progress(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("upload"))
        .collect()
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_aborts_the_multipart_upload_of_a_dropped_put() {
    let Some(store) = common::s3(64 * 1024) else {
        return;
    };
    let Ok(dir) = std::env::var("CALLBOOK_TEST_S3_DATA_DIR") else {
        eprintln!("skipping: CALLBOOK_TEST_S3_DATA_DIR (s3s-fs data directory) is not set");
        return;
    };
    let before = uploads_in_progress(&dir);
    let key = audio_key(&fresh_tenant("s3cancel"), "c1", "r1");
    let chunk = synthetic_wav(3 << 20);
    // 12 MiB arrive, then the caller's body stalls forever: two parts are uploaded, then the put waits.
    let body = futures_util::stream::iter(vec![
        Ok(chunk.clone()),
        Ok(chunk.clone()),
        Ok(chunk.clone()),
        Ok(chunk),
    ])
    .chain(futures_util::stream::pending())
    .boxed();
    let put = store.put_recording(&key, RecordingOptions::new("audio/wav"), body);
    assert!(
        tokio::time::timeout(Duration::from_secs(10), put).await.is_err(),
        "the put finished although its body never ended"
    );
    let started = uploads_in_progress(&dir);
    assert!(started.len() > before.len(), "no multipart upload was started");
    // The abort runs on a spawned task: give it time.
    let mut left = started;
    for _ in 0..50 {
        left = uploads_in_progress(&dir);
        if left.len() <= before.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        left.len() <= before.len(),
        "multipart upload left behind: {left:?}"
    );
    assert!(matches!(
        store.head_recording(&key).await,
        Err(Error::NotFound { .. })
    ));
}
