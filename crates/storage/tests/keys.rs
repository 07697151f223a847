//! Key hierarchy: master key rotation by rewrapping (audio untouched), missing master keys, crypto-shredding
//! of copies, and key parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use callbook_storage::{
    CustomerId, EncryptedStore, Error, Keyring, MasterKey, RecordingKey, RecordingOptions, RecordingStore,
    RecordingStoreExt, TenantId,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn k(id: &str, byte: u8) -> MasterKey {
    MasterKey::from_bytes(Some(id), &mut [byte; 32]).unwrap()
}

fn on(store: &Arc<dyn ObjectStore>, keyring: Keyring) -> EncryptedStore {
    EncryptedStore::builder()
        .with_object_store(store.clone())
        .with_keyring(keyring)
        .build()
        .unwrap()
}

async fn snapshot(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<(String, Bytes)> {
    use futures_util::TryStreamExt;
    let metas: Vec<_> = store.list(Some(&Path::from(prefix))).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        out.push((
            m.location.to_string(),
            store.get(&m.location).await.unwrap().bytes().await.unwrap(),
        ));
    }
    out.sort();
    out
}

#[tokio::test]
async fn rotation_rewraps_data_keys_without_touching_audio() {
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let old = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    let cust = RecordingKey::audio("t1", "c2", "r1").unwrap();
    let audio = Bytes::from(vec![9u8; 200_000]);
    old.put_bytes(&key, RecordingOptions::new("audio/wav"), audio.clone())
        .await
        .unwrap();
    old.put_bytes(
        &cust,
        RecordingOptions::new("audio/wav").with_customer(CustomerId::new("u1").unwrap()),
        audio.clone(),
    )
    .await
    .unwrap();
    let blobs_before = snapshot(&backend, "tenants").await;

    // A server with only the new master key cannot read the old data keys.
    let new_only = on(&backend, Keyring::new(k("k2", 2)));
    assert!(
        matches!(new_only.get_bytes(&key).await, Err(Error::MasterKeyMissing { ref kek_id }) if kek_id == "k1")
    );

    // Rotation: new primary, old kept for unwrapping, rewrap.
    let rotating = on(&backend, Keyring::new(k("k2", 2)).with_previous(k("k1", 1)));
    let report = rotating.rewrap_data_keys().await.unwrap();
    assert_eq!(
        (report.examined, report.rewrapped, report.already_current),
        (2, 2, 0),
        "{report:?}"
    );
    assert!(report.failures.is_empty());
    let again = rotating.rewrap_data_keys().await.unwrap();
    assert_eq!((again.rewrapped, again.already_current), (0, 2));

    // Audio blobs are byte-identical, and the new key alone now reads them.
    assert_eq!(snapshot(&backend, "tenants").await, blobs_before);
    assert_eq!(new_only.get_bytes(&key).await.unwrap(), audio);
    assert_eq!(new_only.get_bytes(&cust).await.unwrap(), audio);
    // And the old key alone no longer can.
    assert!(matches!(
        old.get_bytes(&key).await,
        Err(Error::MasterKeyMissing { .. })
    ));
}

#[tokio::test]
async fn shredding_makes_copies_unreadable() {
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    store
        .put_bytes(
            &key,
            RecordingOptions::new("audio/wav"),
            Bytes::from_static(b"audio"),
        )
        .await
        .unwrap();
    // A backup copy of the blob taken before the shred.
    let blob = backend
        .get(&EncryptedStore::object_path(&key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    store.shred_tenant(&TenantId::new("t1").unwrap()).await.unwrap();
    backend
        .put(&EncryptedStore::object_path(&key), PutPayload::from(blob.clone()))
        .await
        .unwrap();
    assert!(matches!(
        store.get_bytes(&key).await,
        Err(Error::KeyShredded { .. })
    ));
    assert!(matches!(
        store.head_recording(&key).await,
        Err(Error::KeyShredded { .. })
    ));
    // While the tombstone stands, a put (e.g. one racing the shred) gets no new key.
    let other = RecordingKey::audio("t1", "c9", "r1").unwrap();
    assert!(matches!(
        store
            .put_bytes(
                &other,
                RecordingOptions::new("audio/wav"),
                Bytes::from_static(b"new")
            )
            .await,
        Err(Error::KeyShredded { .. })
    ));
    assert!(
        snapshot(&backend, "keys").await.is_empty(),
        "a put after the shred created a data key"
    );
    // Reinstated (the tenant id is reused): new puts work, and a new key for the tenant does not make the
    // old copy readable either — it is still reported as shredded, not as tampering.
    let tenant = TenantId::new("t1").unwrap();
    store.reinstate_tenant(&tenant).await.unwrap();
    store
        .put_bytes(
            &other,
            RecordingOptions::new("audio/wav"),
            Bytes::from_static(b"new"),
        )
        .await
        .unwrap();
    assert_eq!(store.get_bytes(&other).await.unwrap(), Bytes::from_static(b"new"));
    assert!(matches!(
        store.get_bytes(&key).await,
        Err(Error::KeyShredded { .. })
    ));
}

#[tokio::test]
async fn customer_shred_blocks_new_keys_until_reinstated() {
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = on(&backend, Keyring::new(k("k1", 1)));
    let (tenant, customer) = (TenantId::new("t1").unwrap(), CustomerId::new("u1").unwrap());
    let opts = || RecordingOptions::new("audio/wav").with_customer(customer.clone());
    let first = RecordingKey::audio("t1", "c1", "r1").unwrap();
    store
        .put_bytes(&first, opts(), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let report = store.shred_customer(&tenant, &customer).await.unwrap();
    assert_eq!((report.keys_destroyed, report.blobs_deleted), (1, 1));
    let second = RecordingKey::audio("t1", "c2", "r1").unwrap();
    assert!(matches!(
        store.put_bytes(&second, opts(), Bytes::from_static(b"b")).await,
        Err(Error::KeyShredded { .. })
    ));
    // The tenant key is unaffected.
    store
        .put_bytes(
            &second,
            RecordingOptions::new("audio/wav"),
            Bytes::from_static(b"t"),
        )
        .await
        .unwrap();
    store.reinstate_customer(&tenant, &customer).await.unwrap();
    let third = RecordingKey::audio("t1", "c3", "r1").unwrap();
    store
        .put_bytes(&third, opts(), Bytes::from_static(b"c"))
        .await
        .unwrap();
    assert_eq!(store.get_bytes(&third).await.unwrap(), Bytes::from_static(b"c"));
}

#[tokio::test]
async fn rewrap_racing_a_shred_does_not_resurrect_the_key() {
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let old = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    old.put_bytes(&key, RecordingOptions::new("audio/wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let wrapped = snapshot(&backend, "keys").await;
    assert_eq!(wrapped.len(), 1);
    old.shred_tenant(&TenantId::new("t1").unwrap()).await.unwrap();
    // A rewrap that read the key before the shred writes it back (a store ignoring If-Match).
    backend
        .put(
            &Path::from(wrapped[0].0.as_str()),
            PutPayload::from(wrapped[0].1.clone()),
        )
        .await
        .unwrap();
    let new = on(&backend, Keyring::new(k("k2", 2)).with_previous(k("k1", 1)));
    let report = new.rewrap_data_keys().await.unwrap();
    assert_eq!(report.rewrapped, 0);
    assert!(
        snapshot(&backend, "keys").await.is_empty(),
        "rewrap resurrected a shredded key"
    );
}

#[tokio::test]
async fn two_instances_share_data_keys_through_the_store() {
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let a = on(&backend, Keyring::new(k("k1", 1)));
    let b = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    a.put_bytes(
        &key,
        RecordingOptions::new("audio/wav"),
        Bytes::from_static(b"from a"),
    )
    .await
    .unwrap();
    assert_eq!(b.get_bytes(&key).await.unwrap(), Bytes::from_static(b"from a"));
}

#[test]
fn keyring_parsing() {
    let b64 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let ring = Keyring::parse(&format!("k2:{b64}, {b64}")).unwrap();
    assert_eq!(ring.primary().id(), "k2");
    assert!(ring.ids()[1].starts_with("fp-"));
    assert!(Keyring::parse("").is_err());
    assert!(Keyring::parse("k1:AAAA").is_err(), "short key");
    assert!(Keyring::parse("k1:not base64!").is_err());
    assert!(
        Keyring::parse(&format!("k1:{b64},k1:{b64}")).is_err(),
        "duplicate id"
    );
    let exported = ring.primary().export();
    assert_eq!(Keyring::parse(&exported).unwrap().primary().id(), "k2");
    let debug = format!("{ring:?} {:?}", ring.primary());
    assert!(!debug.contains(b64) && debug.contains("redacted"), "{debug}");
}

#[test]
fn builder_rejects_bad_configuration() {
    let ring = Keyring::new(k("k1", 1));
    for url in ["ftp://x", "memory://x", "file://", "s3://"] {
        let r = EncryptedStore::builder()
            .with_url(url)
            .with_keyring(ring.clone())
            .build();
        assert!(matches!(r, Err(Error::Config(_))), "{url}");
    }
    assert!(matches!(
        EncryptedStore::builder().with_url("memory://").build(),
        Err(Error::Config(_))
    ));
    let r = EncryptedStore::builder()
        .with_url("memory://")
        .with_keyring(ring.clone())
        .with_segment_size(1000)
        .build();
    assert!(matches!(r, Err(Error::Config(_))));
    let builder = EncryptedStore::builder().with_s3_credentials("AKIDEXAMPLE", "very-secret-value");
    assert!(!format!("{builder:?}").contains("very-secret-value"));
}

#[tokio::test]
async fn a_tampered_wrapped_key_is_an_integrity_error() {
    use futures_util::TryStreamExt;
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    store
        .put_bytes(
            &key,
            RecordingOptions::new("audio/wav"),
            Bytes::from_static(b"audio"),
        )
        .await
        .unwrap();
    let metas: Vec<_> = backend
        .list(Some(&Path::from("keys/t1")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(metas.len(), 1);
    let path = metas[0].location.clone();
    assert!(
        path.as_ref().starts_with("keys/t1/tenant/") && path.as_ref().ends_with(".dek"),
        "{path}"
    );
    let original = backend.get(&path).await.unwrap().bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&original).unwrap();
    assert_eq!(json["kek_id"], "k1");
    // Not JSON, and a wrapped key whose ciphertext was altered.
    let mut altered = json.clone();
    let wrapped = altered["wrapped"].as_str().unwrap().to_owned();
    let first = if wrapped.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &wrapped[1..]);
    altered["wrapped"] = serde_json::Value::String(flipped);
    for bad in [b"garbage".to_vec(), serde_json::to_vec(&altered).unwrap()] {
        backend.put(&path, PutPayload::from(bad)).await.unwrap();
        assert!(matches!(
            store.get_bytes(&key).await,
            Err(Error::Integrity { .. })
        ));
    }
    backend.put(&path, PutPayload::from(original)).await.unwrap();
    assert_eq!(store.get_bytes(&key).await.unwrap(), Bytes::from_static(b"audio"));
}

#[test]
fn master_key_from_bytes_zeroes_the_source() {
    let mut raw = [7u8; 32];
    let key = MasterKey::from_bytes(Some("k1"), &mut raw).unwrap();
    assert_eq!(raw, [0u8; 32], "the caller's copy of the key was left in memory");
    // The key itself was kept: the same bytes give the same export.
    assert_eq!(
        key.export(),
        MasterKey::from_bytes(Some("k1"), &mut [7u8; 32])
            .unwrap()
            .export()
    );
}

#[tokio::test]
async fn purge_with_a_retention_that_overflows_keeps_the_blob_instead_of_panicking() {
    use callbook_storage::{ArtefactKind, RetentionPolicy};
    let backend: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = on(&backend, Keyring::new(k("k1", 1)));
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    store
        .put_bytes(&key, RecordingOptions::new("audio/wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let policy =
        RetentionPolicy::keep_everything().with_retention(ArtefactKind::Audio, Some(chrono::TimeDelta::MAX));
    let report = store
        .purge_expired(&policy, chrono::Utc::now(), None)
        .await
        .unwrap();
    assert_eq!((report.examined, report.retained, report.deleted), (1, 1, 0));
    assert_eq!(store.get_bytes(&key).await.unwrap(), Bytes::from_static(b"a"));
}
