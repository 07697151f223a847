//! The [`RecordingStore`] conformance suite (feature `testing`), written once and run against every backend:
//! memory, the local file system and S3 (see `tests/conformance.rs`), directly and through
//! `Arc<dyn RecordingStore>`. Not a stable API.
//!
//! Each check uses fresh random tenant ids, so the suite can run repeatedly against one shared bucket.

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::recording::chunks_stream;
use crate::{
    ArtefactKind, CallId, CustomerId, Error, LegalHold, ObjectName, RecordingKey, RecordingOptions,
    RecordingStore, RecordingStoreExt, RetentionPolicy, TenantId,
};

/// A failed conformance check: which one, and what was wrong.
pub type CheckResult = std::result::Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn fail(context: &str) -> impl Fn(Error) -> String + '_ {
    move |e| format!("{context}: {e}")
}

/// A fresh tenant id (random suffix).
pub fn fresh_tenant(label: &str) -> TenantId {
    let n: u64 = rand::random();
    TenantId::new(format!("{label}-{n:016x}")).unwrap_or_else(|_| unreachable!("label is path-safe"))
}

/// A key for `tenant`/`call`/audio/`name`.
pub fn audio_key(tenant: &TenantId, call: &str, name: &str) -> RecordingKey {
    RecordingKey::new(
        tenant.clone(),
        CallId::new(call).unwrap_or_else(|_| unreachable!("test ids are path-safe")),
        ArtefactKind::Audio,
        ObjectName::new(name).unwrap_or_else(|_| unreachable!("test ids are path-safe")),
    )
}

/// A synthetic WAV recording of `len` bytes: a real RIFF/WAVE header and a deterministic sample pattern.
/// Tests scan storage for [`WAV_MARKER`] and the header to prove no plaintext is written.
pub fn synthetic_wav(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    let data_len = len.saturating_sub(44) as u32;
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(data_len + 36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&[
        16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0,
    ]);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let mut i: u32 = 0;
    while out.len() < len {
        // A recognisable run every 4 KiB, deterministic noise otherwise.
        if out.len() % 4096 == 44 {
            out.extend_from_slice(WAV_MARKER);
        } else {
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.push((i >> 16) as u8);
        }
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A sample run that [`synthetic_wav`] repeats; must never appear in stored bytes.
pub const WAV_MARKER: &[u8] = b"CALLBOOK-PLAINTEXT-SAMPLE-RUN-0123456789";

/// Runs every check.
pub async fn check_all(store: &dyn RecordingStore, segment_size: u32) -> CheckResult {
    check_round_trip_sizes(store, segment_size).await?;
    check_streaming_chunks(store).await?;
    check_missing_and_idempotent_delete(store).await?;
    check_overwrite(store).await?;
    check_failed_body_stores_nothing(store).await?;
    check_invalid_input(store).await?;
    check_listing_and_tenant_isolation(store).await?;
    check_concurrent_first_key(store).await?;
    check_shred_tenant(store).await?;
    check_shred_customer(store).await?;
    check_legal_hold_and_purge(store).await?;
    check_concurrent_purges(store).await?;
    check_range_reads(store, segment_size).await?;
    Ok(())
}

/// Sizes 0, 1, segment−1, segment, segment+1, several segments and 2 MiB round-trip with exact metadata.
pub async fn check_round_trip_sizes(store: &dyn RecordingStore, segment_size: u32) -> CheckResult {
    let tenant = fresh_tenant("sizes");
    let seg = segment_size as usize;
    for (i, len) in [0, 1, seg - 1, seg, seg + 1, 3 * seg + 7, 2 << 20]
        .into_iter()
        .enumerate()
    {
        let key = audio_key(&tenant, "call-1", &format!("rec-{i}"));
        let audio = synthetic_wav(len);
        let put = store
            .put_bytes(&key, RecordingOptions::new("audio/wav"), audio.clone())
            .await
            .map_err(fail("put"))?;
        let sha: [u8; 32] = Sha256::digest(&audio).into();
        ensure!(
            put.size == len as u64 && put.sha256 == sha,
            "put metadata wrong for {len} bytes"
        );
        let head = store.head_recording(&key).await.map_err(fail("head"))?;
        ensure!(head.size == len as u64, "head size {} != {len}", head.size);
        ensure!(head.sha256 == sha, "head sha256 wrong for {len} bytes");
        ensure!(
            head.content_type == "audio/wav",
            "content type {:?}",
            head.content_type
        );
        ensure!(
            head.stored_size == put.stored_size,
            "stored size differs: {} vs {}",
            head.stored_size,
            put.stored_size
        );
        let stream = store.get_recording(&key).await.map_err(fail("get"))?;
        ensure!(
            stream.size() == len as u64 && stream.content_type() == "audio/wav",
            "stream metadata wrong"
        );
        let got = stream.collect_verified().await.map_err(fail("get stream"))?;
        ensure!(got == audio, "round trip of {len} bytes returned different bytes");
    }
    Ok(())
}

/// Many small, odd-sized chunks in; chunks out never larger than a segment.
pub async fn check_streaming_chunks(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("chunks");
    let key = audio_key(&tenant, "call-1", "rec");
    let audio = synthetic_wav(300_001);
    let chunks: Vec<Bytes> = audio.chunks(997).map(Bytes::copy_from_slice).collect();
    store
        .put_recording(&key, RecordingOptions::new("audio/x-wav"), chunks_stream(chunks))
        .await
        .map_err(fail("put"))?;
    let mut stream = store.get_recording(&key).await.map_err(fail("get"))?;
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.map_err(fail("chunk"))?);
    }
    ensure!(got == audio, "chunked round trip differs");
    let reader = std::io::Cursor::new(audio.to_vec());
    store
        .put_reader(&key, RecordingOptions::new("audio/x-wav"), reader)
        .await
        .map_err(fail("put_reader"))?;
    ensure!(
        store.get_bytes(&key).await.map_err(fail("get"))? == audio,
        "put_reader round trip differs"
    );
    Ok(())
}

/// Missing recordings are `NotFound`; deleting twice succeeds.
pub async fn check_missing_and_idempotent_delete(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("missing");
    let key = audio_key(&tenant, "call-1", "nothing");
    ensure!(
        matches!(store.get_recording(&key).await, Err(Error::NotFound { .. })),
        "get of a missing recording"
    );
    ensure!(
        matches!(store.head_recording(&key).await, Err(Error::NotFound { .. })),
        "head of a missing recording"
    );
    store
        .delete_recording(&key)
        .await
        .map_err(fail("delete missing"))?;
    store
        .put_bytes(&key, RecordingOptions::new("audio/wav"), synthetic_wav(100))
        .await
        .map_err(fail("put"))?;
    store.delete_recording(&key).await.map_err(fail("delete"))?;
    store.delete_recording(&key).await.map_err(fail("delete again"))?;
    ensure!(
        matches!(store.get_bytes(&key).await, Err(Error::NotFound { .. })),
        "deleted recording still readable"
    );
    Ok(())
}

/// A second put replaces the first.
pub async fn check_overwrite(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("overwrite");
    let key = audio_key(&tenant, "call-1", "rec");
    store
        .put_bytes(&key, RecordingOptions::new("audio/wav"), synthetic_wav(5000))
        .await
        .map_err(fail("put 1"))?;
    let second = Bytes::from_static(b"second version");
    store
        .put_bytes(&key, RecordingOptions::new("audio/mpeg"), second.clone())
        .await
        .map_err(fail("put 2"))?;
    ensure!(
        store.get_bytes(&key).await.map_err(fail("get"))? == second,
        "overwrite not visible"
    );
    let head = store.head_recording(&key).await.map_err(fail("head"))?;
    ensure!(head.content_type == "audio/mpeg", "content type not replaced");
    Ok(())
}

/// A body stream that fails mid-way stores nothing and leaves an earlier version intact.
pub async fn check_failed_body_stores_nothing(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("bodyfail");
    let key = audio_key(&tenant, "call-1", "rec");
    let failing = || {
        futures_util::stream::iter(vec![
            Ok(synthetic_wav(200_000)),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "download interrupted",
            )),
        ])
        .boxed()
    };
    let result = store
        .put_recording(&key, RecordingOptions::new("audio/wav"), failing())
        .await;
    ensure!(
        matches!(result, Err(Error::Body { .. })),
        "failing body gave {result:?}"
    );
    ensure!(
        matches!(store.head_recording(&key).await, Err(Error::NotFound { .. })),
        "partial blob stored"
    );
    let original = synthetic_wav(1234);
    store
        .put_bytes(&key, RecordingOptions::new("audio/wav"), original.clone())
        .await
        .map_err(fail("put"))?;
    let result = store
        .put_recording(&key, RecordingOptions::new("audio/wav"), failing())
        .await;
    ensure!(
        matches!(result, Err(Error::Body { .. })),
        "failing body gave {result:?}"
    );
    ensure!(
        store.get_bytes(&key).await.map_err(fail("get"))? == original,
        "failed put damaged the old version"
    );
    Ok(())
}

/// Bad content types are rejected before anything is written.
pub async fn check_invalid_input(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("invalid");
    let key = audio_key(&tenant, "call-1", "rec");
    for bad in ["", "audio/wav\r\nX-Injected: 1", &"a".repeat(256)] {
        let r = store
            .put_bytes(&key, RecordingOptions::new(bad), Bytes::from_static(b"x"))
            .await;
        ensure!(
            matches!(r, Err(Error::InvalidInput(_))),
            "content type {bad:?} gave {r:?}"
        );
    }
    ensure!(
        store
            .list_recordings(&tenant, None)
            .await
            .map_err(fail("list"))?
            .is_empty(),
        "invalid put stored something"
    );
    Ok(())
}

/// Listing by tenant and by call; another tenant's recordings never appear.
pub async fn check_listing_and_tenant_isolation(store: &dyn RecordingStore) -> CheckResult {
    let a = fresh_tenant("lista");
    let b = fresh_tenant("listb");
    for (tenant, call, name) in [
        (&a, "c1", "r1"),
        (&a, "c1", "r2"),
        (&a, "c2", "r1"),
        (&b, "c1", "r1"),
    ] {
        store
            .put_bytes(
                &audio_key(tenant, call, name),
                RecordingOptions::new("audio/wav"),
                synthetic_wav(10),
            )
            .await
            .map_err(fail("put"))?;
    }
    let all_a = store.list_recordings(&a, None).await.map_err(fail("list"))?;
    let names: Vec<String> = all_a.iter().map(|o| o.key.canonical()).collect();
    ensure!(
        names
            == [
                format!("{a}/c1/audio/r1"),
                format!("{a}/c1/audio/r2"),
                format!("{a}/c2/audio/r1")
            ],
        "tenant listing {names:?}"
    );
    let c1 = CallId::new("c1").map_err(fail("id"))?;
    ensure!(
        store
            .list_recordings(&a, Some(&c1))
            .await
            .map_err(fail("list"))?
            .len()
            == 2,
        "call listing"
    );
    ensure!(
        store.list_recordings(&b, None).await.map_err(fail("list"))?.len() == 1,
        "tenant b listing"
    );
    Ok(())
}

/// Eight concurrent first puts of a new tenant agree on one data key: all stay readable.
pub async fn check_concurrent_first_key(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("race");
    let puts = (0..8).map(|i| {
        let key = audio_key(&tenant, "call-1", &format!("rec-{i}"));
        async move {
            store
                .put_bytes(&key, RecordingOptions::new("audio/wav"), synthetic_wav(1000 + i))
                .await
                .map(|_| key)
        }
    });
    let keys = futures_util::future::join_all(puts).await;
    for (i, key) in keys.into_iter().enumerate() {
        let key = key.map_err(fail("concurrent put"))?;
        let got = store.get_bytes(&key).await.map_err(fail("get after race"))?;
        ensure!(
            got == synthetic_wav(1000 + i),
            "recording {i} unreadable after concurrent key creation"
        );
    }
    Ok(())
}

/// Shredding a tenant makes its recordings unreadable and deletes them; other tenants are untouched; the
/// tenant can store again afterwards; shredding twice succeeds.
pub async fn check_shred_tenant(store: &dyn RecordingStore) -> CheckResult {
    let doomed = fresh_tenant("shred");
    let other = fresh_tenant("keep");
    let customer = CustomerId::new("cust-1").map_err(fail("id"))?;
    let k1 = audio_key(&doomed, "c1", "r1");
    let k2 = audio_key(&doomed, "c2", "r1");
    let kept = audio_key(&other, "c1", "r1");
    store
        .put_bytes(&k1, RecordingOptions::new("audio/wav"), synthetic_wav(70_000))
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(
            &k2,
            RecordingOptions::new("audio/wav").with_customer(customer),
            synthetic_wav(10),
        )
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(&kept, RecordingOptions::new("audio/wav"), synthetic_wav(10))
        .await
        .map_err(fail("put"))?;
    let report = store.shred_tenant(&doomed).await.map_err(fail("shred"))?;
    ensure!(
        report.keys_destroyed == 2 && report.blobs_deleted == 2,
        "shred report {report:?}"
    );
    ensure!(report.failures.is_empty(), "shred failures {report:?}");
    ensure!(
        matches!(store.get_bytes(&k1).await, Err(Error::NotFound { .. })),
        "shredded blob still there"
    );
    ensure!(
        store
            .list_recordings(&doomed, None)
            .await
            .map_err(fail("list"))?
            .is_empty(),
        "listing after shred"
    );
    ensure!(
        store.get_bytes(&kept).await.map_err(fail("other tenant"))? == synthetic_wav(10),
        "other tenant damaged"
    );
    let again = store.shred_tenant(&doomed).await.map_err(fail("shred again"))?;
    ensure!(
        again.keys_destroyed == 0 && again.blobs_deleted == 0,
        "second shred {again:?}"
    );
    ensure!(
        matches!(
            store
                .put_bytes(&k1, RecordingOptions::new("audio/wav"), synthetic_wav(10))
                .await,
            Err(Error::KeyShredded { .. })
        ),
        "a put into a shredded tenant must fail until it is reinstated"
    );
    store.reinstate_tenant(&doomed).await.map_err(fail("reinstate"))?;
    store
        .put_bytes(&k1, RecordingOptions::new("audio/wav"), synthetic_wav(10))
        .await
        .map_err(fail("put after"))?;
    ensure!(
        store.get_bytes(&k1).await.map_err(fail("get after"))? == synthetic_wav(10),
        "new key after shred"
    );
    Ok(())
}

/// Shredding a customer removes exactly that customer's recordings.
pub async fn check_shred_customer(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("custshred");
    let alice = CustomerId::new("alice").map_err(fail("id"))?;
    let bob = CustomerId::new("bob").map_err(fail("id"))?;
    let ka = audio_key(&tenant, "c1", "r1");
    let kb = audio_key(&tenant, "c2", "r1");
    let kt = audio_key(&tenant, "c3", "r1");
    store
        .put_bytes(
            &ka,
            RecordingOptions::new("audio/wav").with_customer(alice.clone()),
            synthetic_wav(100),
        )
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(
            &kb,
            RecordingOptions::new("audio/wav").with_customer(bob.clone()),
            synthetic_wav(200),
        )
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(&kt, RecordingOptions::new("audio/wav"), synthetic_wav(300))
        .await
        .map_err(fail("put"))?;
    ensure!(
        store
            .head_recording(&ka)
            .await
            .map_err(fail("head"))?
            .customer
            .as_ref()
            == Some(&alice),
        "head does not report the customer"
    );
    let report = store
        .shred_customer(&tenant, &alice)
        .await
        .map_err(fail("shred"))?;
    ensure!(
        report.keys_destroyed == 1 && report.blobs_deleted == 1,
        "customer shred report {report:?}"
    );
    ensure!(
        matches!(store.get_bytes(&ka).await, Err(Error::NotFound { .. })),
        "alice's recording survived"
    );
    ensure!(
        store.get_bytes(&kb).await.map_err(fail("bob"))? == synthetic_wav(200),
        "bob's recording damaged"
    );
    ensure!(
        store.get_bytes(&kt).await.map_err(fail("tenant"))? == synthetic_wav(300),
        "tenant recording damaged"
    );
    Ok(())
}

/// Purge deletes what is past retention except under legal hold, reports counts and bytes, and is
/// idempotent; holds block shredding.
pub async fn check_legal_hold_and_purge(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("purge");
    let expired = audio_key(&tenant, "c1", "r1");
    let held = audio_key(&tenant, "c2", "r1");
    let transcript = RecordingKey::new(
        tenant.clone(),
        CallId::new("c1").map_err(fail("id"))?,
        ArtefactKind::Transcript,
        ObjectName::new("t1").map_err(fail("id"))?,
    );
    let m1 = store
        .put_bytes(&expired, RecordingOptions::new("audio/wav"), synthetic_wav(5000))
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(&held, RecordingOptions::new("audio/wav"), synthetic_wav(10))
        .await
        .map_err(fail("put"))?;
    store
        .put_bytes(
            &transcript,
            RecordingOptions::new("application/json"),
            Bytes::from_static(b"{}"),
        )
        .await
        .map_err(fail("put"))?;
    let hold = LegalHold::Call(tenant.clone(), held.call.clone());
    store.place_legal_hold(&hold).await.map_err(fail("hold"))?;
    store.place_legal_hold(&hold).await.map_err(fail("hold twice"))?;
    ensure!(
        store.legal_holds(&tenant).await.map_err(fail("holds"))? == vec![hold.clone()],
        "hold listing"
    );
    ensure!(
        matches!(store.shred_tenant(&tenant).await, Err(Error::LegalHold { .. })),
        "shred ignored a hold"
    );

    let default_run = store
        .purge_expired(&RetentionPolicy::default(), Utc::now(), Some(&tenant))
        .await
        .map_err(fail("purge (default policy)"))?;
    ensure!(
        default_run.deleted == 0 && default_run.retained == 3,
        "fresh audio purged under 90 days: {default_run:?}"
    );
    let now = Utc::now() + TimeDelta::seconds(5);
    let policy = RetentionPolicy::default().with_retention(ArtefactKind::Audio, Some(TimeDelta::zero()));
    let before = store
        .list_recordings(&tenant, None)
        .await
        .map_err(fail("list"))?
        .len();
    ensure!(before == 3, "setup stored {before}");
    let report = store
        .purge_expired(&policy, now, Some(&tenant))
        .await
        .map_err(fail("purge"))?;
    ensure!(report.failures.is_empty(), "purge failures {:?}", report.failures);
    ensure!(
        report.examined == 3 && report.held == 1 && report.retained == 1,
        "purge report {report:?}"
    );
    ensure!(
        matches!(store.get_bytes(&expired).await, Err(Error::NotFound { .. })),
        "expired audio survived"
    );
    ensure!(store.get_bytes(&held).await.is_ok(), "held audio purged");
    ensure!(
        store.get_bytes(&transcript).await.is_ok(),
        "transcript (kept forever) purged"
    );
    ensure!(
        report.deleted == 1 && report.bytes_deleted == m1.stored_size,
        "purge report {report:?}"
    );
    let again = store
        .purge_expired(&policy, now, Some(&tenant))
        .await
        .map_err(fail("purge again"))?;
    ensure!(
        again.failures.is_empty() && again.deleted == 0,
        "second purge {again:?}"
    );
    ensure!(
        store
            .list_recordings(&tenant, None)
            .await
            .map_err(fail("list"))?
            .len()
            == 2,
        "second purge deleted more"
    );

    store.release_legal_hold(&hold).await.map_err(fail("release"))?;
    store
        .release_legal_hold(&hold)
        .await
        .map_err(fail("release twice"))?;
    store
        .purge_expired(&policy, now, Some(&tenant))
        .await
        .map_err(fail("purge after release"))?;
    ensure!(
        matches!(store.get_bytes(&held).await, Err(Error::NotFound { .. })),
        "released hold still protects"
    );
    let _ = store
        .shred_tenant(&tenant)
        .await
        .map_err(fail("shred after release"))?;
    Ok(())
}

/// Two purges of the same tenant at once both succeed without failures, and together delete everything due.
pub async fn check_concurrent_purges(store: &dyn RecordingStore) -> CheckResult {
    let tenant = fresh_tenant("purgerace");
    for i in 0..12 {
        store
            .put_bytes(
                &audio_key(&tenant, "c1", &format!("r{i}")),
                RecordingOptions::new("audio/wav"),
                synthetic_wav(100),
            )
            .await
            .map_err(fail("put"))?;
    }
    let policy = RetentionPolicy::default().with_retention(ArtefactKind::Audio, Some(TimeDelta::zero()));
    let now = Utc::now() + TimeDelta::seconds(5);
    let (a, b) = futures_util::future::join(
        store.purge_expired(&policy, now, Some(&tenant)),
        store.purge_expired(&policy, now, Some(&tenant)),
    )
    .await;
    let (a, b) = (a.map_err(fail("purge a"))?, b.map_err(fail("purge b"))?);
    ensure!(
        a.failures.is_empty() && b.failures.is_empty(),
        "concurrent purge failures: {a:?} {b:?}"
    );
    ensure!(
        a.deleted >= 12 || b.deleted >= 12 || a.deleted + b.deleted >= 12,
        "purges deleted too little: {a:?} {b:?}"
    );
    ensure!(
        store
            .list_recordings(&tenant, None)
            .await
            .map_err(fail("list"))?
            .is_empty(),
        "purge left blobs behind"
    );
    Ok(())
}

/// Byte ranges (for HTTP `Range` / seeking) return exactly the slice; out-of-bounds ranges are invalid input.
pub async fn check_range_reads(store: &dyn RecordingStore, segment_size: u32) -> CheckResult {
    let tenant = fresh_tenant("range");
    let key = audio_key(&tenant, "c1", "r1");
    let seg = u64::from(segment_size);
    let len = 3 * seg + 123;
    let audio = synthetic_wav(len as usize);
    store
        .put_bytes(&key, RecordingOptions::new("audio/wav"), audio.clone())
        .await
        .map_err(fail("put"))?;
    for range in [
        0..0,
        0..1,
        0..len,
        1..seg,
        seg - 1..seg + 1,
        seg..2 * seg,
        2 * seg + 5..len,
        len..len,
    ] {
        let got = store
            .get_recording_range(&key, range.clone())
            .await
            .map_err(fail("range"))?;
        ensure!(
            got[..] == audio[range.start as usize..range.end as usize],
            "range {range:?} differs"
        );
    }
    #[allow(clippy::reversed_empty_ranges)]
    let bad_ranges = [0..len + 1, 5..4, len + 1..len + 2];
    for bad in bad_ranges {
        let r = store.get_recording_range(&key, bad.clone()).await;
        ensure!(
            matches!(r, Err(Error::InvalidInput(_))),
            "range {bad:?} gave {:?}",
            r.map(|b| b.len())
        );
    }
    let missing = audio_key(&tenant, "c1", "missing");
    ensure!(
        matches!(
            store.get_recording_range(&missing, 0..1).await,
            Err(Error::NotFound { .. })
        ),
        "missing range"
    );
    Ok(())
}
