//! Signed playback links: round trip, and a distinct rejection for each way a token can be wrong.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use callbook_storage::{
    LinkError, LinkPurpose, MAX_LINK_TTL, MasterKey, PlaybackGrant, PlaybackSigner, RecordingKey, TenantId,
};
use chrono::{TimeDelta, TimeZone, Utc};
use hmac::Mac;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

#[test]
fn a_valid_token_grants_exactly_its_recording() {
    let signer = PlaybackSigner::new([7u8; 32]).unwrap();
    let key = RecordingKey::audio("t1", "c1", "RE123").unwrap();
    let token = signer
        .sign_for(&key, LinkPurpose::Playback, now(), TimeDelta::minutes(10))
        .unwrap();
    assert!(
        token.starts_with("v1.")
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    );
    let grant = signer
        .verify(
            &token,
            &TenantId::new("t1").unwrap(),
            LinkPurpose::Playback,
            now(),
        )
        .unwrap();
    assert_eq!(grant.key, key);
    assert_eq!(grant.expires_at, now() + TimeDelta::minutes(10));
}

#[test]
fn each_failure_has_its_own_error() {
    let signer = PlaybackSigner::new([7u8; 32]).unwrap();
    let t1 = TenantId::new("t1").unwrap();
    let key = RecordingKey::audio("t1", "c1", "RE123").unwrap();
    let token = signer
        .sign_for(&key, LinkPurpose::Playback, now(), TimeDelta::minutes(10))
        .unwrap();
    let verify = |t: &str| signer.verify(t, &t1, LinkPurpose::Playback, now());

    // Expired (exactly at expiry too).
    let at_expiry = now() + TimeDelta::minutes(10);
    assert!(matches!(
        signer.verify(&token, &t1, LinkPurpose::Playback, at_expiry),
        Err(LinkError::Expired { .. })
    ));
    // Another tenant.
    let t2 = TenantId::new("t2").unwrap();
    assert_eq!(
        signer.verify(&token, &t2, LinkPurpose::Playback, now()),
        Err(LinkError::WrongTenant)
    );
    // Another purpose.
    assert_eq!(
        signer.verify(&token, &t1, LinkPurpose::Download, now()),
        Err(LinkError::WrongPurpose)
    );
    // Another key.
    let other = PlaybackSigner::new([8u8; 32]).unwrap();
    assert_eq!(
        other.verify(&token, &t1, LinkPurpose::Playback, now()),
        Err(LinkError::BadSignature)
    );
    // Every single-character change is rejected (never accepted, never a panic).
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        if altered != token {
            assert!(verify(&altered).is_err(), "altered at {i}");
        }
    }
    // A payload rewritten to another recording, with the old MAC.
    let (_, mac) = token.rsplit_once('.').unwrap();
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"t":"t1","c":"c1","k":"audio","n":"RE999","e":1900000000,"p":"playback"}"#);
    assert_eq!(
        verify(&format!("v1.{forged_payload}.{mac}")),
        Err(LinkError::BadSignature)
    );
    // Shapes that are not tokens.
    for bad in [
        "",
        "v1",
        "v1..",
        "v2.a.b",
        "v1.a.b.c",
        "v1.!!.??",
        &"v1.a.".repeat(1000),
    ] {
        assert!(
            matches!(verify(bad), Err(LinkError::Malformed | LinkError::BadSignature)),
            "{bad:?}"
        );
    }
}

#[test]
fn tokens_are_hmac_sha256_over_label_and_payload() {
    // External truth: recompute the MAC with the hmac crate directly.
    let secret = [9u8; 32];
    let signer = PlaybackSigner::new(secret).unwrap();
    let key = RecordingKey::audio("t1", "c1", "r").unwrap();
    let token = signer
        .sign_for(&key, LinkPurpose::Download, now(), TimeDelta::hours(1))
        .unwrap();
    let (payload, mac) = token.strip_prefix("v1.").unwrap().split_once('.').unwrap();
    let mut expected = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    expected.update(b"callbook playback link v1\0");
    expected.update(payload.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(expected.finalize().into_bytes());
    assert_eq!(mac, expected);
}

#[test]
fn signer_from_master_key_is_stable_and_secret() {
    let master = MasterKey::from_bytes(Some("k1"), &mut [3; 32]).unwrap();
    let a = PlaybackSigner::from_master_key(&master);
    let b = PlaybackSigner::from_master_key(&master);
    let key = RecordingKey::audio("t1", "c1", "r").unwrap();
    let token = a
        .sign_for(&key, LinkPurpose::Playback, now(), TimeDelta::minutes(1))
        .unwrap();
    assert!(
        b.verify(
            &token,
            &TenantId::new("t1").unwrap(),
            LinkPurpose::Playback,
            now()
        )
        .is_ok()
    );
    assert!(format!("{a:?}").contains("redacted"));
}

#[test]
fn short_secrets_and_long_lifetimes_are_refused() {
    assert_eq!(
        PlaybackSigner::new([1u8; 31]).unwrap_err(),
        LinkError::SecretTooShort { len: 31 }
    );
    let signer = PlaybackSigner::new([7u8; 32]).unwrap();
    let key = RecordingKey::audio("t1", "c1", "r1").unwrap();
    for ttl in [TimeDelta::hours(25), TimeDelta::zero(), TimeDelta::MAX] {
        assert_eq!(
            signer.sign_for(&key, LinkPurpose::Playback, now(), ttl),
            Err(LinkError::BadLifetime),
            "{ttl:?}"
        );
    }
    assert!(
        signer
            .sign_for(&key, LinkPurpose::Playback, now(), MAX_LINK_TTL)
            .is_ok()
    );
    // A hand-made grant for a year is rejected at verification.
    let token = signer.sign(&PlaybackGrant {
        key,
        expires_at: now() + TimeDelta::days(365),
        purpose: LinkPurpose::Playback,
    });
    let tenant = callbook_storage::TenantId::new("t1").unwrap();
    assert_eq!(
        signer.verify(&token, &tenant, LinkPurpose::Playback, now()),
        Err(LinkError::BadLifetime)
    );
}
