//! Property tests of the blob format through the public API: round trips for boundary and random sizes and
//! chunkings; every bit flip in header and body, every truncation and any extension is an error, never
//! garbage; blobs moved between locations or tenants are rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use callbook_storage::{
    EncryptedStore, Error, RecordingKey, RecordingOptions, RecordingStore, RecordingStoreExt,
    recording::chunks_stream,
};
use object_store::{ObjectStoreExt, PutPayload};
use proptest::prelude::*;

const SEG: u32 = 256;

fn store() -> EncryptedStore {
    EncryptedStore::builder()
        .with_url("memory://")
        .with_keyring(common::keyring())
        .with_segment_size(SEG)
        .build()
        .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pattern(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<_>>(),
    )
}

async fn raw(store: &EncryptedStore, key: &RecordingKey) -> Bytes {
    let path = EncryptedStore::object_path(key);
    store
        .object_store()
        .get(&path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

async fn replace_raw(store: &EncryptedStore, key: &RecordingKey, bytes: Vec<u8>) {
    let path = EncryptedStore::object_path(key);
    store
        .object_store()
        .put(&path, PutPayload::from(bytes))
        .await
        .unwrap();
}

#[test]
fn boundary_sizes_round_trip() {
    rt().block_on(async {
        let store = store();
        let seg = SEG as usize;
        for len in [0, 1, seg - 1, seg, seg + 1, 2 * seg, 5 * seg + 3, 3 << 20] {
            let key = RecordingKey::audio("t1", "c1", &format!("r{len}")).unwrap();
            let data = pattern(len, 7);
            let meta = store
                .put_bytes(&key, RecordingOptions::new("audio/wav"), data.clone())
                .await
                .unwrap();
            assert_eq!(meta.size, len as u64);
            assert_eq!(store.get_bytes(&key).await.unwrap(), data, "len {len}");
            // Chunks come out one segment at a time, so memory stays bounded.
            let mut stream = store.get_recording(&key).await.unwrap();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                assert!(chunk.unwrap().len() <= seg);
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_sizes_and_chunkings_round_trip(len in 0usize..3000, chunk in 1usize..700, seed: u8) {
        rt().block_on(async {
            let store = store();
            let key = RecordingKey::audio("t1", "c1", "r").unwrap();
            let data = pattern(len, seed);
            let chunks = data.chunks(chunk).map(Bytes::copy_from_slice).collect();
            store.put_recording(&key, RecordingOptions::new("audio/wav"), chunks_stream(chunks)).await.unwrap();
            prop_assert_eq!(store.get_bytes(&key).await.unwrap(), data);
            Ok(())
        })?;
    }
}

fn assert_rejected(result: Result<Bytes, Error>, what: &str) {
    match result {
        Err(Error::Integrity { .. }) => {}
        other => panic!(
            "{what}: expected an integrity error, got {:?}",
            other.map(|b| b.len())
        ),
    }
}

#[test]
fn every_bit_flip_in_header_and_body_is_rejected() {
    rt().block_on(async {
        let store = store();
        let key = RecordingKey::audio("t1", "c1", "r").unwrap();
        // Two full segments and a short one: header, every segment kind and the trailer get flipped.
        store
            .put_bytes(&key, RecordingOptions::new("audio/wav"), pattern(600, 1))
            .await
            .unwrap();
        let original = raw(&store, &key).await;
        for bit in 0..original.len() * 8 {
            let mut tampered = original.to_vec();
            tampered[bit / 8] ^= 1 << (bit % 8);
            replace_raw(&store, &key, tampered).await;
            assert_rejected(store.get_bytes(&key).await, &format!("bit {bit}"));
        }
        replace_raw(&store, &key, original.to_vec()).await;
        assert_eq!(store.get_bytes(&key).await.unwrap(), pattern(600, 1));
    });
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    rt().block_on(async {
        let store = store();
        let key = RecordingKey::audio("t1", "c1", "r").unwrap();
        store
            .put_bytes(&key, RecordingOptions::new("audio/wav"), pattern(700, 2))
            .await
            .unwrap();
        let original = raw(&store, &key).await;
        for len in 0..original.len() {
            replace_raw(&store, &key, original[..len].to_vec()).await;
            assert_rejected(store.get_bytes(&key).await, &format!("truncated to {len}"));
            assert!(
                store.head_recording(&key).await.is_err(),
                "head accepted truncation to {len}"
            );
        }
        for extra in [1usize, 16, 17, 56, 272, 1000] {
            let mut extended = original.to_vec();
            extended.extend(std::iter::repeat_n(0xAB, extra));
            replace_raw(&store, &key, extended).await;
            assert_rejected(store.get_bytes(&key).await, &format!("extended by {extra}"));
        }
    });
}

#[test]
fn reordered_and_spliced_segments_are_rejected() {
    rt().block_on(async {
        let store = store();
        let a = RecordingKey::audio("t1", "c1", "a").unwrap();
        let b = RecordingKey::audio("t1", "c1", "b").unwrap();
        store
            .put_bytes(&a, RecordingOptions::new("audio/wav"), pattern(1024, 3))
            .await
            .unwrap();
        store
            .put_bytes(&b, RecordingOptions::new("audio/wav"), pattern(1024, 4))
            .await
            .unwrap();
        let blob_a = raw(&store, &a).await;
        let blob_b = raw(&store, &b).await;
        let seg = SEG as usize + 16;
        let body_start = blob_a.len() - 4 * seg - 56;
        // Swap segments 0 and 1.
        let mut swapped = blob_a.to_vec();
        let (s0, s1) = (body_start, body_start + seg);
        let first = swapped[s0..s1].to_vec();
        swapped.copy_within(s1..s1 + seg, s0);
        swapped[s1..s1 + seg].copy_from_slice(&first);
        replace_raw(&store, &a, swapped).await;
        assert_rejected(store.get_bytes(&a).await, "swapped segments");
        // Segment 1 of another blob (same tenant key, same location layout) spliced in.
        let mut spliced = blob_a.to_vec();
        spliced[s1..s1 + seg].copy_from_slice(&blob_b[s1..s1 + seg]);
        replace_raw(&store, &a, spliced).await;
        assert_rejected(store.get_bytes(&a).await, "spliced segment");
        // Dropping a middle segment.
        let mut dropped = blob_a.to_vec();
        dropped.drain(s1..s1 + seg);
        replace_raw(&store, &a, dropped).await;
        assert_rejected(store.get_bytes(&a).await, "dropped segment");
    });
}

#[test]
fn blobs_copied_to_another_location_or_tenant_are_rejected() {
    rt().block_on(async {
        let store = store();
        let a = RecordingKey::audio("t1", "c1", "r").unwrap();
        store
            .put_bytes(&a, RecordingOptions::new("audio/wav"), pattern(100, 5))
            .await
            .unwrap();
        let blob = raw(&store, &a).await;
        let other_tenant = RecordingKey::audio("t2", "c1", "r").unwrap();
        store
            .put_bytes(&other_tenant, RecordingOptions::new("audio/wav"), pattern(1, 0))
            .await
            .unwrap();
        for target in [RecordingKey::audio("t1", "c2", "r").unwrap(), other_tenant] {
            replace_raw(&store, &target, blob.to_vec()).await;
            assert_rejected(store.get_bytes(&target).await, &format!("copied to {target}"));
            assert!(matches!(
                store.head_recording(&target).await,
                Err(Error::Integrity { .. })
            ));
        }
    });
}

#[test]
fn not_a_blob_is_rejected_and_never_returned() {
    rt().block_on(async {
        let store = store();
        let key = RecordingKey::audio("t1", "c1", "r").unwrap();
        replace_raw(
            &store,
            &key,
            b"RIFF\x24\x00\x00\x00WAVEfmt plain audio written by someone else".to_vec(),
        )
        .await;
        assert_rejected(store.get_bytes(&key).await, "plain WAV");
    });
}

#[test]
fn range_reads_authenticate_the_segments_they_read() {
    rt().block_on(async {
        let store = store();
        let key = RecordingKey::audio("t1", "c1", "r").unwrap();
        let data = pattern(1000, 6);
        store
            .put_bytes(&key, RecordingOptions::new("audio/wav"), data.clone())
            .await
            .unwrap();
        let original = raw(&store, &key).await;
        let seg = SEG as usize + 16;
        let body_start = original.len() - (3 * seg + (1000 - 3 * SEG as usize + 16) + 56);
        let mut tampered = original.to_vec();
        tampered[body_start + seg + 10] ^= 0x01; // inside segment 1
        replace_raw(&store, &key, tampered).await;
        assert_eq!(
            store.get_recording_range(&key, 0..256).await.unwrap(),
            data.slice(0..256)
        );
        assert!(matches!(
            store.get_recording_range(&key, 300..400).await,
            Err(Error::Integrity { .. })
        ));
        assert!(matches!(
            store.get_recording_range(&key, 200..300).await,
            Err(Error::Integrity { .. })
        ));
        // A truncated blob cannot pass for a shorter recording.
        replace_raw(&store, &key, original[..original.len() - 56].to_vec()).await;
        assert!(store.get_recording_range(&key, 0..10).await.is_err());
    });
}

#[tokio::test]
async fn a_range_longer_than_the_cap_is_refused_not_loaded() {
    use callbook_storage::{MAX_RANGE_LEN, RecordingStoreExt};
    let store = callbook_storage::EncryptedStore::in_memory(common::keyring());
    let key = callbook_storage::RecordingKey::audio("t1", "c1", "big").unwrap();
    let audio = bytes::Bytes::from(vec![5u8; MAX_RANGE_LEN as usize + 1]);
    store
        .put_bytes(
            &key,
            callbook_storage::RecordingOptions::new("audio/wav"),
            audio.clone(),
        )
        .await
        .unwrap();
    let err = store
        .get_recording_range(&key, 0..MAX_RANGE_LEN + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, callbook_storage::Error::InvalidInput(_)), "{err:?}");
    let part = store
        .get_recording_range(&key, 1..MAX_RANGE_LEN + 1)
        .await
        .unwrap();
    assert_eq!(part, audio.slice(1..));
}
