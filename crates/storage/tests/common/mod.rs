//! Shared test set-up.
#![allow(dead_code, clippy::unwrap_used)]

use callbook_storage::{EncryptedStore, Keyring, MasterKey};

pub(crate) fn keyring() -> Keyring {
    Keyring::new(MasterKey::from_bytes(Some("test-k1"), &mut [42; 32]).unwrap())
}

pub(crate) fn local(dir: &std::path::Path, segment_size: u32) -> EncryptedStore {
    EncryptedStore::builder()
        .with_url(format!("file://{}", dir.display()))
        .with_keyring(keyring())
        .with_segment_size(segment_size)
        .build()
        .unwrap()
}

/// S3 settings from `CALLBOOK_TEST_S3_*`, or `None` (with a note on stderr) when no server is configured.
pub(crate) fn s3_settings() -> Option<(String, String, String, String)> {
    let Ok(endpoint) = std::env::var("CALLBOOK_TEST_S3_ENDPOINT") else {
        eprintln!(
            "skipping S3 test: CALLBOOK_TEST_S3_ENDPOINT is not set (.ci/run starts s3s-fs and sets it)"
        );
        return None;
    };
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    Some((
        endpoint,
        var("CALLBOOK_TEST_S3_BUCKET", "callbook-test"),
        var("CALLBOOK_TEST_S3_ACCESS_KEY_ID", "callbook"),
        var("CALLBOOK_TEST_S3_SECRET_ACCESS_KEY", "callbook-secret"),
    ))
}

#[cfg(feature = "s3")]
pub(crate) fn s3_with_prefix(segment_size: u32, prefix: &str) -> Option<EncryptedStore> {
    let (endpoint, bucket, id, secret) = s3_settings()?;
    Some(
        EncryptedStore::builder()
            .with_url(format!("s3://{bucket}/{prefix}"))
            .with_s3_endpoint(endpoint)
            .with_s3_allow_http(true)
            .with_s3_region("us-east-1")
            .with_s3_credentials(id, secret)
            .with_keyring(keyring())
            .with_segment_size(segment_size)
            .build()
            .unwrap(),
    )
}

#[cfg(feature = "s3")]
pub(crate) fn s3(segment_size: u32) -> Option<EncryptedStore> {
    let n: u64 = rand_suffix();
    s3_with_prefix(segment_size, &format!("conformance-{n:016x}"))
}

pub(crate) fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    t ^ (std::process::id() as u64) << 32
}
