//! Verifying (and producing) Twilio's `X-Twilio-Signature`.
//!
//! # What is signed
//! The **full URL Twilio requested** (scheme, authority, path and query exactly as configured), followed by
//! the form parameters sorted by name (byte order, case-sensitive), each name immediately followed by its
//! value; a repeated name contributes each *distinct* value once, in sorted order. The string is HMAC'd with
//! the account's auth token (HMAC-SHA1) — or, when the request carries
//! `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256`, with that shared key — and base64'd.
//! GET requests sign the URL only (Twilio's parameters are already in its query). JSON bodies sign the URL
//! only, and the URL carries `bodySHA256`, the hex SHA-256 of the raw body, which is checked too.
//!
//! # Which URL to verify against — proxies and `CALLBOOK_PUBLIC_URL`
//! Twilio signs the URL *it* requested, e.g. `https://hooks.example.com/webhooks/twilio/voice`. Behind a
//! TLS-terminating proxy, load balancer or tunnel, your process sees `http://10.0.0.5:8080/webhooks/…` instead;
//! rebuilding the URL from the `Host` header and the scheme you see produces the wrong string and every
//! webhook fails with 403. So verify against the **configured public base URL** (Callbook's
//! `CALLBOOK_PUBLIC_URL`) joined with the request's **raw** path and query, with [`public_request_url`]:
//!
//! ```
//! use callbook_telephony::signature::{public_request_url, WebhookVerifier, WebhookRequest};
//! use callbook_telephony::form::FormParams;
//!
//! // Configured once, e.g. from CALLBOOK_PUBLIC_URL.
//! let public_base = "https://hooks.example.com";
//! let verifier = WebhookVerifier::new("12345");
//!
//! // What the proxy forwarded: the raw request-target, exactly as received (never re-encoded).
//! let path_and_query = "/webhooks/twilio/recording?job=42";
//! let body = b"CallSid=CA123&RecordingStatus=completed";
//!
//! let url = public_request_url(public_base, path_and_query);
//! assert_eq!(url, "https://hooks.example.com/webhooks/twilio/recording?job=42");
//! // (Twilio computes this signature; here we make one to show the round trip.)
//! let signature = verifier.sign(&url, &FormParams::parse(body));
//! let request = WebhookRequest::form(&url, body).with_signature(&signature);
//! assert!(verifier.verify(&request).is_ok());
//! ```
//!
//! The URL is handled as a **string**: it is never parsed into `url::Url` and re-serialised, because that
//! normalises it (drops `:443`, lower-cases the host, escapes `'`) and breaks signatures. Only the authority
//! is spliced to try the port variants every official Twilio library accepts (as given, port removed, default
//! port added), since Twilio is inconsistent about including ports. Signatures are compared in constant time.
//!
//! `X-Forwarded-Proto`/`X-Forwarded-Host` reconstruction is deliberately not offered implicitly: trust them
//! only from your own proxy, and prefer the configured URL.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::form::{FormParams, query_param};

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// Header naming the shared key and algorithm for SharedKey-signed webhooks (public beta).
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";
/// Header Twilio repeats unchanged when it retries a webhook; a deduplication key.
pub const IDEMPOTENCY_TOKEN_HEADER: &str = "I-Twilio-Idempotency-Token";

/// The HMAC a signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureAlgorithm {
    /// HMAC-SHA1 keyed with the auth token (every classic webhook).
    #[default]
    HmacSha1,
    /// HMAC-SHA256 keyed with a shared key (Webhooks configuration API, public beta).
    HmacSha256,
}

impl SignatureAlgorithm {
    /// Parses Twilio's name (`HMAC_SHA1`, `HMAC_SHA256`; case-insensitive like the Python library).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "HMAC_SHA1" => Some(Self::HmacSha1),
            "HMAC_SHA256" => Some(Self::HmacSha256),
            _ => None,
        }
    }
}

/// A secret that never shows in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}
impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// Why a webhook request was rejected. Deliberately coarse: it never reveals what the signature should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureRejected {
    /// No `X-Twilio-Signature` header, or an empty one.
    #[error("the X-Twilio-Signature header is missing")]
    MissingSignature,
    /// The signature matches none of the accepted URL forms and keys.
    #[error("the signature does not match")]
    Mismatch,
    /// A JSON body arrived without `bodySHA256` in the URL (fail closed: the body would be unauthenticated).
    #[error("a JSON body arrived without bodySHA256 in the URL")]
    MissingBodyHash,
    /// The body's SHA-256 differs from `bodySHA256`.
    #[error("the body does not match bodySHA256")]
    BodyHashMismatch,
    /// The settings header names an algorithm this library does not support.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The settings header names a shared key this verifier does not hold.
    #[error("unknown shared key id")]
    UnknownKey,
}

/// The body of a webhook request, as received.
#[derive(Debug, Clone, Copy)]
pub enum WebhookBody<'a> {
    /// No body (GET, or a POST without parameters): the URL alone is signed.
    Empty,
    /// A raw `application/x-www-form-urlencoded` body.
    Form(&'a [u8]),
    /// Already decoded form parameters.
    Params(&'a FormParams),
    /// A raw JSON (or any non-form) body; the URL must carry `bodySHA256`.
    Json(&'a [u8]),
}

/// One webhook request to verify.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// The public URL Twilio requested, raw (see [`public_request_url`]).
    pub url: &'a str,
    /// `X-Twilio-Signature`.
    pub signature: Option<&'a str>,
    /// `X-Twilio-Webhooks-Signature-Settings`, when present.
    pub signature_settings: Option<&'a str>,
    /// The body.
    pub body: WebhookBody<'a>,
}

impl<'a> WebhookRequest<'a> {
    /// A request with a form body.
    pub fn form(url: &'a str, body: &'a [u8]) -> Self {
        Self {
            url,
            signature: None,
            signature_settings: None,
            body: WebhookBody::Form(body),
        }
    }
    /// A request with a JSON body.
    pub fn json(url: &'a str, body: &'a [u8]) -> Self {
        Self {
            url,
            signature: None,
            signature_settings: None,
            body: WebhookBody::Json(body),
        }
    }
    /// A request with no body (GET).
    pub fn url_only(url: &'a str) -> Self {
        Self {
            url,
            signature: None,
            signature_settings: None,
            body: WebhookBody::Empty,
        }
    }
    /// Sets the `X-Twilio-Signature` value.
    pub fn with_signature(mut self, signature: &'a str) -> Self {
        self.signature = Some(signature);
        self
    }
    /// Sets the `X-Twilio-Webhooks-Signature-Settings` value.
    pub fn with_signature_settings(mut self, settings: &'a str) -> Self {
        self.signature_settings = Some(settings);
        self
    }
}

/// Verifies `X-Twilio-Signature` against one or more auth tokens and shared keys.
///
/// Hold the primary auth token, and during a rotation the secondary one too (Twilio signs with the primary;
/// a secondary only signs once promoted). Sub-accounts sign with their **own** token.
#[derive(Clone)]
pub struct WebhookVerifier {
    auth_tokens: Vec<Secret>,
    shared_keys: Vec<(String, Secret)>,
    lenient_query: bool,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("auth_tokens", &self.auth_tokens.len())
            .field(
                "shared_key_ids",
                &self.shared_keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("lenient_query", &self.lenient_query)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier for webhooks signed with `auth_token`.
    pub fn new(auth_token: impl Into<Secret>) -> Self {
        Self {
            auth_tokens: vec![auth_token.into()],
            shared_keys: Vec::new(),
            lenient_query: false,
        }
    }

    /// Also accept signatures made with another auth token (a secondary token during rotation).
    pub fn with_auth_token(mut self, auth_token: impl Into<Secret>) -> Self {
        self.auth_tokens.push(auth_token.into());
        self
    }

    /// Accept SharedKey-signed webhooks whose settings header names `key_id`.
    pub fn with_shared_key(mut self, key_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.shared_keys.push((key_id.into(), secret.into()));
        self
    }

    /// Also accept the two re-encodings of `'` in the query that twilio-node accepts (`'` ↔ `%27`), for
    /// frameworks that re-encode the query before you see it. Off by default: prefer the raw URL.
    pub fn with_lenient_query(mut self, lenient: bool) -> Self {
        self.lenient_query = lenient;
        self
    }

    /// The signature Twilio would send for `url` and `params` with the first auth token (HMAC-SHA1).
    pub fn sign(&self, url: &str, params: &FormParams) -> String {
        let token = self.auth_tokens.first().map(Secret::expose).unwrap_or_default();
        compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, url, params)
    }

    /// Checks a request. `Ok(())` means it was signed by a key this verifier holds, for exactly this URL and
    /// body; anything else is a [`SignatureRejected`] and the request must not be acted on.
    pub fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), SignatureRejected> {
        let signature = request.signature.map(str::trim).unwrap_or("");
        if signature.is_empty() {
            return Err(SignatureRejected::MissingSignature);
        }
        let url = strip_fragment(request.url);

        // Pick the keys first so an unknown algorithm or key fails even before hashing.
        let (algorithm, keys): (SignatureAlgorithm, Vec<&Secret>) =
            match parse_settings(request.signature_settings)? {
                None => (SignatureAlgorithm::HmacSha1, self.auth_tokens.iter().collect()),
                Some((algorithm, key_id)) => match key_id {
                    Some(id) => {
                        let key = self
                            .shared_keys
                            .iter()
                            .find(|(k, _)| k == id)
                            .map(|(_, s)| s)
                            .ok_or(SignatureRejected::UnknownKey)?;
                        (algorithm, vec![key])
                    }
                    // An algorithm without a key id: the Python library uses the token it was built with.
                    None => (algorithm, self.auth_tokens.iter().collect()),
                },
            };

        let decoded;
        let params: &FormParams = match request.body {
            WebhookBody::Json(raw) => {
                check_body_hash(url, raw)?;
                &EMPTY
            }
            WebhookBody::Form(raw) if query_param(url, "bodySHA256").is_some() => {
                // Twilio only adds bodySHA256 for bodies it signs by hash; never let the form path skip it.
                check_body_hash(url, raw)?;
                &EMPTY
            }
            WebhookBody::Form(raw) => {
                decoded = FormParams::parse(raw);
                &decoded
            }
            WebhookBody::Params(p) => p,
            WebhookBody::Empty => &EMPTY,
        };

        let tail = signed_params(params);
        let mut matched = subtle::Choice::from(0u8);
        for candidate in url_candidates(url, self.lenient_query) {
            for key in &keys {
                let expected = sign_string(key.expose().as_bytes(), algorithm, &candidate, &tail);
                matched |= expected.as_bytes().ct_eq(signature.as_bytes());
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(SignatureRejected::Mismatch)
        }
    }
}

static EMPTY: FormParams = FormParams::empty();

fn check_body_hash(url: &str, raw: &[u8]) -> Result<(), SignatureRejected> {
    let claimed = query_param(url, "bodySHA256").ok_or(SignatureRejected::MissingBodyHash)?;
    let actual = hex::encode(Sha256::digest(raw));
    if bool::from(actual.as_bytes().ct_eq(claimed.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureRejected::BodyHashMismatch)
    }
}

/// `Ok(None)`: classic auth-token signing. `Ok(Some((alg, key)))`: SharedKey signing.
fn parse_settings(
    header: Option<&str>,
) -> Result<Option<(SignatureAlgorithm, Option<&str>)>, SignatureRejected> {
    let Some(header) = header else { return Ok(None) };
    let mut algorithm = None;
    let mut key = None;
    for part in header.split(',') {
        if let Some((name, value)) = part.split_once('=') {
            let value = value.trim();
            match name.trim() {
                "algorithm" if !value.is_empty() => algorithm = Some(value),
                "key" if !value.is_empty() => key = Some(value),
                _ => {}
            }
        }
    }
    match algorithm {
        // Missing or empty header, or no algorithm: the legacy auth-token signature (as the Python library).
        None => Ok(None),
        Some(name) => {
            let alg = SignatureAlgorithm::from_name(name)
                .ok_or_else(|| SignatureRejected::UnsupportedAlgorithm(name.to_owned()))?;
            Ok(Some((alg, key)))
        }
    }
}

/// Computes the signature Twilio sends for `url` and `params` under `secret`.
///
/// ```
/// use callbook_telephony::form::FormParams;
/// use callbook_telephony::signature::{compute_signature, SignatureAlgorithm};
/// // Twilio's documented example (twilio-python tests/unit/test_request_validator.py).
/// let params = FormParams::from_pairs([
///     ("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
///     ("From", "+14158675309"), ("To", "+18005551212"),
/// ]);
/// let sig = compute_signature(b"12345", SignatureAlgorithm::HmacSha1,
///     "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
/// assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
/// ```
pub fn compute_signature(
    secret: &[u8],
    algorithm: SignatureAlgorithm,
    url: &str,
    params: &FormParams,
) -> String {
    sign_string(secret, algorithm, url, &signed_params(params))
}

/// The parameter part of the signed string: names sorted by bytes, each distinct value once, sorted.
fn signed_params(params: &FormParams) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .pairs()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (k, v) in pairs {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

fn sign_string(secret: &[u8], algorithm: SignatureAlgorithm, url: &str, tail: &str) -> String {
    match algorithm {
        SignatureAlgorithm::HmacSha1 => mac::<Hmac<Sha1>>(secret, url, tail),
        SignatureAlgorithm::HmacSha256 => mac::<Hmac<Sha256>>(secret, url, tail),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], url: &str, tail: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; an empty string never matches anyway.
    let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    m.update(url.as_bytes());
    m.update(tail.as_bytes());
    BASE64.encode(m.finalize().into_bytes())
}

fn strip_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// Joins a configured public base URL (no trailing slash needed) with a raw request-target
/// (`/path?query`, exactly as received) into the URL Twilio signed.
pub fn public_request_url(public_base: &str, path_and_query: &str) -> String {
    let base = public_base.trim_end_matches('/');
    if path_and_query.starts_with('/') {
        format!("{base}{path_and_query}")
    } else {
        format!("{base}/{path_and_query}")
    }
}

/// The byte ranges of a URL's authority parts, found without normalising anything.
struct Authority<'a> {
    /// `scheme://`
    prefix: &'a str,
    /// `user:pass@` (may be empty)
    userinfo: &'a str,
    /// `host` (with brackets for IPv6)
    host: &'a str,
    /// the digits after `:`; `None` when there is no `:port`
    port: Option<&'a str>,
    /// path, query
    rest: &'a str,
    scheme: &'a str,
}

fn split_authority(url: &str) -> Option<Authority<'_>> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let after = scheme_end + 3;
    let auth_len = url[after..].find(['/', '?', '#']).unwrap_or(url.len() - after);
    let authority = &url[after..after + auth_len];
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(close) => {
                let after_bracket = &hostport[close + 1..];
                (&hostport[..=close], after_bracket.strip_prefix(':'))
            }
            None => (hostport, None),
        }
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    // A port is digits only; anything else means we misread the URL: leave it untouched.
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(Authority {
        prefix: &url[..after],
        userinfo,
        host,
        port,
        rest: &url[after + auth_len..],
        scheme,
    })
}

fn default_port(scheme: &str) -> Option<&'static str> {
    if scheme.eq_ignore_ascii_case("https") {
        Some("443")
    } else if scheme.eq_ignore_ascii_case("http") {
        Some("80")
    } else {
        None
    }
}

/// The URL strings a signature may have been computed over: as given, without the port, with the default
/// port; the same without userinfo when there is one; with `lenient`, the `'`/`%27` re-encodings of each.
fn url_candidates(url: &str, lenient: bool) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some(a) = split_authority(url) {
        let mut push_variants = |userinfo: &str| {
            out.push(format!("{}{}{}{}", a.prefix, userinfo, a.host, a.rest));
            match a.port {
                Some(p) => out.push(format!("{}{}{}:{}{}", a.prefix, userinfo, a.host, p, a.rest)),
                None => {
                    if let Some(p) = default_port(a.scheme) {
                        out.push(format!("{}{}{}:{}{}", a.prefix, userinfo, a.host, p, a.rest));
                    }
                }
            }
        };
        push_variants(a.userinfo);
        if !a.userinfo.is_empty() {
            push_variants("");
        }
    }
    if lenient {
        let base: Vec<String> = out.clone();
        for c in base {
            if let Some((head, query)) = c.split_once('?') {
                if query.contains('\'') {
                    out.push(format!("{head}?{}", query.replace('\'', "%27")));
                }
                if query.contains("%27") {
                    out.push(format!("{head}?{}", query.replace("%27", "'")));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_splice_the_authority_only() {
        let c = url_candidates("https://MyCompany.com:1234/a%27b?x='y'", false);
        assert!(c.contains(&"https://MyCompany.com/a%27b?x='y'".to_owned()));
        assert!(c.contains(&"https://MyCompany.com:1234/a%27b?x='y'".to_owned()));
        assert_eq!(c.len(), 2);
        let c = url_candidates("http://h/p", false);
        assert_eq!(c, vec!["http://h/p".to_owned(), "http://h:80/p".to_owned()]);
    }

    #[test]
    fn ipv6_and_userinfo_are_split_properly() {
        let c = url_candidates("https://user:pass@[::1]:8443/p", false);
        assert!(c.contains(&"https://user:pass@[::1]/p".to_owned()));
        assert!(c.contains(&"https://[::1]:8443/p".to_owned()));
        assert!(c.contains(&"https://[::1]/p".to_owned()));
        assert!(
            !c.iter().any(|u| u.starts_with("https://user/")),
            "python's split(':') bug must not be copied"
        );
    }

    #[test]
    fn url_without_scheme_is_used_as_given() {
        assert_eq!(
            url_candidates("example.com/p", false),
            vec!["example.com/p".to_owned()]
        );
    }

    #[test]
    fn settings_header_parsing() {
        assert_eq!(parse_settings(None), Ok(None));
        assert_eq!(parse_settings(Some("")), Ok(None));
        assert_eq!(parse_settings(Some("key=k1")), Ok(None));
        assert_eq!(
            parse_settings(Some("key=k1, algorithm=hmac_sha256")),
            Ok(Some((SignatureAlgorithm::HmacSha256, Some("k1"))))
        );
        assert_eq!(
            parse_settings(Some("key=k1,algorithm=HMAC_MD5")),
            Err(SignatureRejected::UnsupportedAlgorithm("HMAC_MD5".into()))
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let v = WebhookVerifier::new("supersecret").with_shared_key("k1", "othersecret");
        let s = format!("{v:?}");
        assert!(!s.contains("supersecret") && !s.contains("othersecret"));
        assert!(s.contains("k1"));
    }
}
