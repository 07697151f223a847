//! The secrets of accounts: password hashes, API tokens and session secrets, CSRF tokens and cookies.
//!
//! * **Passwords** are hashed with argon2id (crate `argon2`, RustCrypto) into PHC strings
//!   (`$argon2id$v=19$m=19456,t=2,p=1$…`), the OWASP-recommended minimum parameters by default. Verification
//!   reads the parameters from the stored string, so raising them later keeps old hashes valid. Hashing and
//!   verifying run on the blocking pool: they take tens of milliseconds of CPU on purpose.
//! * **API tokens** are `cb_` + 43 base64url characters (32 random bytes); **session secrets** are 43 base64url
//!   characters. Only their SHA-256 is stored: a database dump opens nothing.
//! * **CSRF tokens** are `HMAC-SHA256(csrf key, "callbook csrf v1\0" || session secret)`, base64url: bound to the
//!   session, derivable by every server instance, never stored. The key is derived from the master key with HKDF
//!   ([`CsrfKey::from_master_key`]), like the calendar feed key.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "callbook_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The prefix of API tokens (so the server — and secret scanners — tell them apart from other tokens).
pub const API_TOKEN_PREFIX: &str = "cb_";
/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// The longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_LEN: usize = 1024;

const CSRF_LABEL: &[u8] = b"callbook csrf v1\0";

/// How passwords are hashed: argon2id with these costs.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
    dummy: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHashing")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish()
    }
}

impl Default for PasswordHashing {
    /// argon2id, 19 MiB, 2 passes, 1 lane (OWASP's first recommended set).
    fn default() -> Self {
        Self::with_params(Params::default())
    }
}

impl PasswordHashing {
    /// Hashing with explicit argon2id parameters.
    pub fn with_params(params: Params) -> Self {
        Self {
            params,
            dummy: Default::default(),
        }
    }

    /// The cheapest valid parameters (8 KiB, 1 pass): **for tests only**, where hundreds of hashes are made.
    pub fn insecure_fast_for_tests() -> Self {
        Self::with_params(Params::new(8, 1, 1, None).unwrap_or_default())
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of `password` with a fresh random salt (CPU-heavy: call from a blocking thread).
    pub fn hash(&self, password: &str) -> Option<String> {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).ok()?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .ok()
            .map(|h| h.to_string())
    }

    /// Whether `password` matches the PHC string `phc` (constant time in the password; `false` for a string that
    /// does not parse).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        PasswordHash::new(phc)
            .is_ok_and(|hash| self.argon2().verify_password(password.as_bytes(), &hash).is_ok())
    }

    /// A hash of a random password with these parameters: logins with no such user verify against it, so they
    /// take as long as a wrong password (no timing oracle for which logins exist).
    pub fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            self.hash(&generate_password())
                .unwrap_or_else(|| "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned())
        })
    }

    /// [`Self::hash`] on the blocking pool.
    pub async fn hash_blocking(&self, password: Zeroizing<String>) -> Option<String> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.hash(&password))
            .await
            .ok()
            .flatten()
    }

    /// Verifies `password` against every hash (`None` = against the dummy hash) on the blocking pool; the
    /// result has one entry per hash.
    pub async fn verify_blocking(
        &self,
        password: Zeroizing<String>,
        hashes: Vec<Option<String>>,
    ) -> Vec<bool> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .map(|h| match h {
                    Some(phc) => this.verify(&password, phc),
                    None => {
                        let _ = this.verify(&password, this.dummy_hash());
                        false
                    }
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}

/// A random one-time password: 20 characters from an alphabet without look-alikes (about 113 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes: [u8; 20] = rand::random();
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A random secret: 32 bytes as 43 base64url characters.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A new API token (`cb_…`).
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_secret())
}

/// The SHA-256 of a token or session secret: what the store keeps.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The CSRF key. `Debug` never shows it.
#[derive(Clone)]
pub struct CsrfKey {
    key: [u8; 32],
}

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfKey").field("key", &"[redacted]").finish()
    }
}

impl CsrfKey {
    /// A key derived from `secret` with HKDF-SHA256.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"callbook csrf"), secret.as_ref());
        let mut key = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(b"hmac-sha256 v1", &mut key);
        Self { key }
    }

    /// A key derived from the master key, so every instance computes the same tokens.
    pub fn from_master_key(master: &callbook_storage::MasterKey) -> Self {
        Self::new(Zeroizing::new(master.export()).as_bytes())
    }

    /// A random key (one process only: tokens do not survive a restart or work on another instance).
    pub fn random() -> Self {
        Self::new(rand::random::<[u8; 32]>())
    }

    /// The CSRF token of the session with this cookie secret.
    pub fn token(&self, session_secret: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(CSRF_LABEL);
        mac.update(session_secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `given` is the CSRF token of the session (constant time).
    pub fn verify(&self, session_secret: &str, given: &str) -> bool {
        bool::from(given.as_bytes().ct_eq(self.token(session_secret).as_bytes()))
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` of a new session: `HttpOnly; SameSite=Lax; Path=/`, `Secure` when served over https.
pub fn session_cookie(secret: &str, max_age: std::time::Duration, secure: bool) -> HeaderValue {
    let value = format!(
        "{SESSION_COOKIE}={secret}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` removing the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static("callbook_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure")
    } else {
        HeaderValue::from_static("callbook_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_and_verify() {
        let hashing = PasswordHashing::insecure_fast_for_tests();
        let phc = hashing.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(hashing.verify("correct horse battery", &phc));
        assert!(!hashing.verify("correct horse batterY", &phc));
        assert!(!hashing.verify("correct horse battery", "not a phc string"));
        // Salted: the same password hashes differently.
        assert_ne!(phc, hashing.hash("correct horse battery").unwrap());
        // The default parameters are argon2id m=19456,t=2,p=1, and verification reads them from the string.
        let strong = PasswordHashing::default().hash("x").unwrap();
        assert!(strong.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{strong}");
        assert!(hashing.verify("x", &strong));
    }

    #[test]
    fn verifies_a_published_argon2id_hash() {
        // Produced by the reference C implementation (libargon2 20171227, Debian's libargon2-1):
        // argon2id_hash_encoded(t=2, m=256, p=1, "password", "somesalt", hashlen 32).
        let phc = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
        let hashing = PasswordHashing::insecure_fast_for_tests();
        assert!(hashing.verify("password", phc));
        assert!(!hashing.verify("passwore", phc));
    }

    #[test]
    fn secrets_and_tokens_have_their_shape() {
        let token = new_api_token();
        assert!(token.starts_with("cb_") && token.len() == 46, "{token}");
        assert_ne!(token, new_api_token());
        assert_eq!(secret_hash(&token).len(), 32);
        let password = generate_password();
        assert_eq!(password.len(), 20);
        assert!(password.len() >= MIN_PASSWORD_LEN);
    }

    #[test]
    fn csrf_tokens_bind_the_session_and_the_key() {
        let key = CsrfKey::new([1u8; 32]);
        let token = key.token("session-a");
        assert!(key.verify("session-a", &token));
        assert!(!key.verify("session-b", &token));
        assert!(!CsrfKey::new([2u8; 32]).verify("session-a", &token));
        assert!(!key.verify("session-a", ""));
        assert!(!format!("{key:?}").contains('1'));
    }

    #[test]
    fn cookies_are_parsed_and_written_with_their_flags() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; callbook_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        let set = session_cookie("abc", std::time::Duration::from_secs(60), true);
        let set = set.to_str().unwrap();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age=60"] {
            assert!(set.contains(flag), "{set}");
        }
        let plain = session_cookie("abc", std::time::Duration::from_secs(60), false);
        assert!(!plain.to_str().unwrap().contains("Secure"));
        assert!(
            clear_session_cookie(false)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
}
