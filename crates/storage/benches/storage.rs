//! Throughput of encryption + decryption per core against same-run baselines (a plain copy, and raw
//! AES-256-GCM over one buffer), and local-disk put/get latency of a 1 MiB recording against unencrypted
//! object_store put/get on the same directory. Prints ratios; run with `cargo bench -p callbook-storage`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use bytes::Bytes;
use callbook_storage::{
    EncryptedStore, Keyring, MasterKey, RecordingKey, RecordingOptions, RecordingStoreExt,
};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

fn time<F: FnMut()>(min: Duration, mut f: F) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < min {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn mb_s(bytes: usize, per_iter: Duration) -> f64 {
    bytes as f64 / per_iter.as_secs_f64() / 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keyring = Keyring::new(MasterKey::from_bytes(Some("bench"), &mut [1; 32]).unwrap());
    let size = 16 << 20;
    let audio = Bytes::from(vec![0x5a; size]);
    let min = Duration::from_secs(2);

    let copy = time(min, || {
        std::hint::black_box(audio.to_vec());
    });
    let aead = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&[2; 32]));
    let mut buf = audio.to_vec();
    let raw_gcm = time(min, || {
        let tag = aead
            .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut buf)
            .unwrap();
        std::hint::black_box(tag);
    });
    let raw_gcm_sha = time(min, || {
        let tag = aead
            .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut buf)
            .unwrap();
        std::hint::black_box((tag, <sha2::Sha256 as sha2::Digest>::digest(&audio)));
    });
    let store = EncryptedStore::in_memory(keyring.clone());
    let key = RecordingKey::audio("bench", "c1", "r1").unwrap();
    let put = time(min, || {
        rt.block_on(store.put_bytes(&key, RecordingOptions::new("audio/wav"), audio.clone()))
            .unwrap();
    });
    let get = time(min, || {
        std::hint::black_box(rt.block_on(store.get_bytes(&key)).unwrap());
    });
    println!("16 MiB, one core, in-memory backend:");
    println!("  plain copy            {:>8.0} MB/s", mb_s(size, copy));
    println!(
        "  raw AES-256-GCM       {:>8.0} MB/s (one buffer, no segmenting)",
        mb_s(size, raw_gcm)
    );
    println!(
        "  raw GCM + SHA-256     {:>8.0} MB/s (the same work as a put, one buffer)",
        mb_s(size, raw_gcm_sha)
    );
    println!(
        "  encrypt (put)         {:>8.0} MB/s  = {:.2}x raw GCM, {:.2}x raw GCM + SHA-256",
        mb_s(size, put),
        raw_gcm.as_secs_f64() / put.as_secs_f64(),
        raw_gcm_sha.as_secs_f64() / put.as_secs_f64()
    );
    println!(
        "  decrypt+verify (get)  {:>8.0} MB/s  = {:.2}x raw GCM, {:.2}x raw GCM + SHA-256",
        mb_s(size, get),
        raw_gcm.as_secs_f64() / get.as_secs_f64(),
        raw_gcm_sha.as_secs_f64() / get.as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let local = EncryptedStore::builder()
        .with_url(format!("file://{}", dir.path().display()))
        .with_keyring(keyring)
        .build()
        .unwrap();
    let one_mib = Bytes::from(vec![0x33; 1 << 20]);
    let enc_put = time(min, || {
        rt.block_on(local.put_bytes(&key, RecordingOptions::new("audio/wav"), one_mib.clone()))
            .unwrap();
    });
    let enc_get = time(min, || {
        std::hint::black_box(rt.block_on(local.get_bytes(&key)).unwrap());
    });
    let raw_store = local.object_store().clone();
    let path = Path::from("plain/r1.wav");
    let plain_put = time(min, || {
        rt.block_on(raw_store.put(&path, PutPayload::from(one_mib.clone())))
            .unwrap();
    });
    let plain_get = time(min, || {
        std::hint::black_box(
            rt.block_on(async { raw_store.get(&path).await.unwrap().bytes().await.unwrap() }),
        );
    });
    println!("1 MiB recording, local file system:");
    println!(
        "  put  encrypted {:>7.2} ms  plain object_store {:>7.2} ms  ratio {:.2}x",
        enc_put.as_secs_f64() * 1e3,
        plain_put.as_secs_f64() * 1e3,
        enc_put.as_secs_f64() / plain_put.as_secs_f64()
    );
    println!(
        "  get  encrypted {:>7.2} ms  plain object_store {:>7.2} ms  ratio {:.2}x",
        enc_get.as_secs_f64() * 1e3,
        plain_get.as_secs_f64() * 1e3,
        enc_get.as_secs_f64() / plain_get.as_secs_f64()
    );
}
