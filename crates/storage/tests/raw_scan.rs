//! After storing recordings, read every byte the backends wrote (the local directory, and the s3s-fs data
//! directory when `CALLBOOK_TEST_S3_DATA_DIR` is set) and check the plaintext appears nowhere: not the RIFF
//! header, not a known sample run, not any 32-byte window of the audio.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;

use callbook_storage::testing::{WAV_MARKER, synthetic_wav};
use callbook_storage::{CustomerId, EncryptedStore, RecordingKey, RecordingOptions, RecordingStoreExt};

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Fails if any file under `dir` contains the RIFF header, the marker, or one of the sampled 32-byte windows
/// of the audio. Returns the number of bytes scanned.
fn assert_no_plaintext(dir: &Path, audio: &[u8]) -> usize {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let probes: Vec<&[u8]> = [&audio[..12], WAV_MARKER]
        .into_iter()
        .chain((44..audio.len() - 32).step_by(4099).map(|i| &audio[i..i + 32]))
        .collect();
    // Index probes by their first 8 bytes so each file is scanned once.
    let mut by_prefix: HashMap<[u8; 8], Vec<&[u8]>> = HashMap::new();
    for probe in &probes {
        by_prefix
            .entry(probe[..8].try_into().unwrap())
            .or_default()
            .push(probe);
    }
    let mut scanned = 0;
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            // Another test deleted it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", file.display()),
        };
        scanned += bytes.len();
        for i in 0..bytes.len().saturating_sub(7) {
            let prefix: [u8; 8] = bytes[i..i + 8].try_into().unwrap();
            if let Some(candidates) = by_prefix.get(&prefix) {
                for probe in candidates {
                    assert!(
                        !bytes[i..].starts_with(probe),
                        "plaintext found in {} at {i}",
                        file.display()
                    );
                }
            }
        }
    }
    scanned
}

async fn store_some(store: &EncryptedStore, audio: &bytes::Bytes) {
    for (call, customer) in [("c1", None), ("c2", Some("u1"))] {
        let mut options = RecordingOptions::new("audio/wav");
        if let Some(c) = customer {
            options = options.with_customer(CustomerId::new(c).unwrap());
        }
        let key = RecordingKey::audio("scan-tenant", call, "RE1").unwrap();
        store.put_bytes(&key, options, audio.clone()).await.unwrap();
        assert_eq!(&store.get_bytes(&key).await.unwrap(), audio);
    }
}

#[tokio::test]
async fn no_plaintext_on_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::local(dir.path(), 64 * 1024);
    let audio = synthetic_wav(600_000);
    // The scan itself must be able to fail: the plain audio written next to the store is found.
    std::fs::write(dir.path().join("control.wav"), &audio).unwrap();
    let control = std::panic::catch_unwind(|| assert_no_plaintext(dir.path(), &audio));
    assert!(control.is_err(), "the scan did not find plaintext it was shown");
    std::fs::remove_file(dir.path().join("control.wav")).unwrap();

    store_some(&store, &audio).await;
    let scanned = assert_no_plaintext(dir.path(), &audio);
    assert!(scanned > 2 * audio.len(), "scanned only {scanned} bytes");
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn no_plaintext_in_the_s3_bucket() {
    let Some(store) = common::s3_with_prefix(64 * 1024, &format!("scan-{:016x}", common::rand_suffix()))
    else {
        return;
    };
    let Ok(data_dir) = std::env::var("CALLBOOK_TEST_S3_DATA_DIR") else {
        eprintln!("skipping the S3 raw-bytes scan: CALLBOOK_TEST_S3_DATA_DIR (the s3s-fs root) is not set");
        return;
    };
    let audio = synthetic_wav(7 << 20); // multipart: two 5 MiB parts
    store_some(&store, &audio).await;
    let scanned = assert_no_plaintext(Path::new(&data_dir), &audio);
    assert!(
        scanned > 2 * audio.len(),
        "scanned only {scanned} bytes of {data_dir}"
    );
}
