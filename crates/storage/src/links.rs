//! Signed playback links: short-lived, tenant-bound tokens that let the dashboard stream one recording
//! without exposing storage credentials or presigned object-store URLs.
//!
//! A token is `v1.{payload}.{mac}`, both parts base64url without padding; the payload is a small JSON object
//! with the recording's location, the expiry (unix seconds) and the purpose, and the MAC is HMAC-SHA256 over
//! a label and the encoded payload. Verification checks, in this order, and with a distinct error for each:
//! the shape ([`LinkError::Malformed`]), the MAC in constant time ([`LinkError::BadSignature`]), the tenant
//! ([`LinkError::WrongTenant`]), the purpose ([`LinkError::WrongPurpose`]) and the expiry
//! ([`LinkError::Expired`]). The token reveals only opaque ids, never personal data.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::ids::{ArtefactKind, CallId, ObjectName, RecordingKey, TenantId};
use crate::keys::MasterKey;

const LABEL: &[u8] = b"callbook playback link v1\0";
const MAX_TOKEN_LEN: usize = 2048;

/// The longest a playback link may be valid (24 h): [`PlaybackSigner::sign_for`] refuses longer, and
/// [`PlaybackSigner::verify`] rejects tokens expiring further ahead (a minute of clock skew allowed).
pub const MAX_LINK_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The shortest secret [`PlaybackSigner::new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Why a playback token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Not a token this crate issued (wrong shape or encoding).
    #[error("malformed playback token")]
    Malformed,
    /// The MAC does not match: altered, or signed with another key.
    #[error("playback token signature is invalid")]
    BadSignature,
    /// Valid, but for another tenant than the one asking.
    #[error("playback token belongs to another tenant")]
    WrongTenant,
    /// Valid, but issued for another purpose.
    #[error("playback token was issued for another purpose")]
    WrongPurpose,
    /// Valid, but expired.
    #[error("playback token expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The link would be (or claims to be) valid for longer than [`MAX_LINK_TTL`], or its TTL is not
    /// positive.
    #[error("playback link lifetime must be between 1 second and 24 hours")]
    BadLifetime,
    /// [`PlaybackSigner::new`] was given a secret shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("playback link secret must be at least 32 bytes, got {len}")]
    SecretTooShort {
        /// The length given.
        len: usize,
    },
}

/// What a link may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LinkPurpose {
    /// Streaming in the dashboard's player.
    Playback,
    /// Downloading the file.
    Download,
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackGrant {
    /// The recording.
    pub key: RecordingKey,
    /// Until when.
    pub expires_at: DateTime<Utc>,
    /// For what.
    pub purpose: LinkPurpose,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    t: String,
    c: String,
    k: String,
    n: String,
    e: i64,
    p: LinkPurpose,
}

/// Issues and verifies playback tokens. `Debug` never shows the key.
#[derive(Clone)]
pub struct PlaybackSigner {
    key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PlaybackSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaybackSigner")
            .field("key", &"[redacted]")
            .finish()
    }
}

impl PlaybackSigner {
    /// A signer with its own secret of at least [`MIN_SECRET_LEN`] (32) random bytes; every instance must
    /// share it. A shorter secret is [`LinkError::SecretTooShort`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, LinkError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(LinkError::SecretTooShort { len: secret.len() });
        }
        Ok(Self {
            key: Zeroizing::new(secret.to_vec()),
        })
    }

    /// A signer whose key is derived (HKDF-SHA256) from a master key, so instances sharing
    /// `CALLBOOK_MASTER_KEY` need no extra secret. Rotating the master key invalidates outstanding links.
    pub fn from_master_key(master: &MasterKey) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"callbook playback links"), master.bytes());
        let mut key = Zeroizing::new(vec![0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(b"hmac-sha256 v1", &mut key);
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(LABEL);
        mac
    }

    /// Issues a token for `grant`. Prefer [`sign_for`](Self::sign_for): a grant expiring more than
    /// [`MAX_LINK_TTL`] after the time it is verified is rejected by [`verify`](Self::verify).
    pub fn sign(&self, grant: &PlaybackGrant) -> String {
        let claims = Claims {
            t: grant.key.tenant.to_string(),
            c: grant.key.call.to_string(),
            k: grant.key.kind.as_str().to_owned(),
            n: grant.key.name.to_string(),
            e: grant.expires_at.timestamp(),
            p: grant.purpose,
        };
        // Serialising plain strings and integers cannot fail.
        let payload = B64URL.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        format!("v1.{payload}.{}", B64URL.encode(mac.finalize().into_bytes()))
    }

    /// Issues a token valid for `ttl` from `now`; `ttl` must be positive and at most [`MAX_LINK_TTL`]
    /// (24 h), else [`LinkError::BadLifetime`].
    pub fn sign_for(
        &self,
        key: &RecordingKey,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        ttl: chrono::TimeDelta,
    ) -> Result<String, LinkError> {
        if ttl <= chrono::TimeDelta::zero() || ttl > MAX_LINK_TTL {
            return Err(LinkError::BadLifetime);
        }
        let expires_at = now.checked_add_signed(ttl).ok_or(LinkError::BadLifetime)?;
        Ok(self.sign(&PlaybackGrant {
            key: key.clone(),
            expires_at,
            purpose,
        }))
    }

    /// Verifies a token presented by a user of `tenant` for `purpose` at `now`.
    pub fn verify(
        &self,
        token: &str,
        tenant: &TenantId,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<PlaybackGrant, LinkError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some("v1"), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkError::Malformed);
        };
        let tag = B64URL.decode(tag).map_err(|_| LinkError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| LinkError::BadSignature)?;
        let claims: Claims = B64URL
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(LinkError::Malformed)?;
        let key = (|| {
            Some(RecordingKey::new(
                TenantId::new(claims.t).ok()?,
                CallId::new(claims.c).ok()?,
                ArtefactKind::parse(&claims.k)?,
                ObjectName::new(claims.n).ok()?,
            ))
        })()
        .ok_or(LinkError::Malformed)?;
        if key.tenant != *tenant {
            return Err(LinkError::WrongTenant);
        }
        if claims.p != purpose {
            return Err(LinkError::WrongPurpose);
        }
        let expires_at = Utc
            .timestamp_opt(claims.e, 0)
            .single()
            .ok_or(LinkError::Malformed)?;
        if now >= expires_at {
            return Err(LinkError::Expired {
                expired_at: expires_at,
            });
        }
        let limit = now
            .checked_add_signed(MAX_LINK_TTL + chrono::TimeDelta::minutes(1))
            .ok_or(LinkError::Malformed)?;
        if expires_at > limit {
            return Err(LinkError::BadLifetime);
        }
        Ok(PlaybackGrant {
            key,
            expires_at,
            purpose: claims.p,
        })
    }
}
