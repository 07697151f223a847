//! Tokens of the per-tenant calendar feed (`GET /api/v1/calendar/{token}.ics`).
//!
//! Calendar apps subscribe to a URL and cannot send a bearer token, so the URL itself is the credential. The
//! token is **derived, not stored**: 64 lowercase hex characters, the tenant id (32 hex digits, the UUID
//! without dashes) followed by the first 128 bits of `HMAC-SHA256(feed key, "callbook calendar feed v1\0" ||
//! tenant id)`. Every server instance sharing the key computes the same URL, nothing is written to the
//! database, and a URL for one tenant cannot be turned into another's. The feed key is either a secret of its
//! own or derived with HKDF from the master key ([`FeedTokens::from_master_key`]); rotating it revokes every
//! feed URL at once (there is no per-tenant revocation until tokens are stored, issue 8).

use std::fmt;

use callbook_jobs::TenantId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const LABEL: &[u8] = b"callbook calendar feed v1\0";
const MAC_HEX_LEN: usize = 32;

/// Issues and checks calendar feed tokens. `Debug` never shows the key.
#[derive(Clone)]
pub struct FeedTokens {
    key: [u8; 32],
}

impl fmt::Debug for FeedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedTokens").field("key", &"[redacted]").finish()
    }
}

impl FeedTokens {
    /// Tokens keyed by a secret (any length; at least 32 random bytes recommended).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"callbook calendar feed"), secret.as_ref());
        let mut key = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(b"hmac-sha256 v1", &mut key);
        Self { key }
    }

    /// Tokens keyed from the master key (`CALLBOOK_MASTER_KEY`), so instances need no extra secret.
    pub fn from_master_key(master: &callbook_storage::MasterKey) -> Self {
        // `export` is the key material (`id:base64`); HKDF in `new` separates this use from every other.
        Self::new(zeroize_string(master.export()).as_bytes())
    }

    fn mac_hex(&self, tenant: TenantId) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(LABEL);
        mac.update(tenant.to_string().as_bytes());
        let tag = mac.finalize().into_bytes();
        tag.iter()
            .take(MAC_HEX_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The feed token of a tenant.
    pub fn token(&self, tenant: TenantId) -> String {
        format!("{}{}", tenant.as_uuid().simple(), self.mac_hex(tenant))
    }

    /// The tenant a token belongs to, or `None` when the token is not one of ours (compared in constant time).
    pub fn verify(&self, token: &str) -> Option<TenantId> {
        if token.len() != 32 + MAC_HEX_LEN || !token.is_ascii() {
            return None;
        }
        let (id, mac) = token.split_at(32);
        // `Uuid::parse_str` (behind `TenantId`'s `FromStr`) accepts the 32-digit simple form.
        let tenant: TenantId = id.parse().ok()?;
        bool::from(mac.as_bytes().ct_eq(self.mac_hex(tenant).as_bytes())).then_some(tenant)
    }
}

fn zeroize_string(s: String) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_bind_the_tenant() {
        let feeds = FeedTokens::new([7u8; 32]);
        let (a, b) = (TenantId::new(), TenantId::new());
        let token = feeds.token(a);
        assert_eq!(token.len(), 64);
        assert_eq!(feeds.verify(&token), Some(a));
        assert_ne!(feeds.token(a), feeds.token(b));
        // Another tenant's id with this tenant's MAC fails.
        let forged = format!("{}{}", b.as_uuid().simple(), &token[32..]);
        assert_eq!(feeds.verify(&forged), None);
        // Another key fails.
        assert_eq!(FeedTokens::new([8u8; 32]).verify(&token), None);
        assert_eq!(feeds.verify("not-a-token"), None);
        assert!(!format!("{feeds:?}").contains('7'));
    }
}
