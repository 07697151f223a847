//! Hardening of every response and request: client IPs, rate limits, body limits, timeouts, security headers
//! and panics turned into problem documents.
//!
//! [`apply`] wraps the application's router (in [`crate::app::router`]). From the outside in:
//!
//! 1. **Security headers** on every response: a `Content-Security-Policy` (stricter for the API's JSON), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`,
//!    `Strict-Transport-Security` when `CALLBOOK_PUBLIC_URL` is https, and `Cache-Control: no-store` on API
//!    responses that set no caching of their own. A `413` without a problem document (an extractor's
//!    rejection) is rewritten into one.
//! 2. **Panics** in a handler become `500 internal` problem documents (tower-http's `CatchPanic`), never a
//!    dropped connection or a stack trace.
//! 3. **Client IP** ([`ClientIp`]): the socket's peer (`ConnectInfo`); `X-Forwarded-For` is believed only when
//!    the peer is one of `CALLBOOK_TRUSTED_PROXIES`, and then the right-most address that is not a trusted proxy
//!    is the client (left-most entries are whatever the client chose to send).
//! 4. **Body limits** by route: webhooks 64 KiB, API JSON 1 MiB ([`crate::api::problem::JSON_LIMIT`]), photo
//!    uploads [`crate::api::jobs::MAX_PHOTO_BYTES`]; the simulator's upload routes keep their own. A declared
//!    `Content-Length` above the limit is refused at once (`413` problem); a chunked body is cut off at the
//!    limit while it is read.
//! 5. **Rate limits** (GCRA from `governor`, keyed by client IP): webhooks (`CALLBOOK_RATE_LIMIT_WEBHOOKS`,
//!    default 200/s with bursts of 400) and the API (`CALLBOOK_RATE_LIMIT_API`, default 50/s, bursts of 100;
//!    the same budget applies once more per authenticated principal, in the `Principal` extractor, so a token
//!    used from many addresses is limited too).
//!    Logins have their own, stricter limit per IP **and** per login name (`CALLBOOK_RATE_LIMIT_LOGIN`, default
//!    5/min), checked by the login handler before the password is looked at ([`LoginLimits`]). Over the limit:
//!    `429 rate_limited` with `Retry-After` in seconds.
//! 6. **Timeouts** (`CALLBOOK_REQUEST_TIMEOUT_SECONDS`, default 30): a request that takes longer is answered
//!    `503 timeout`; event streams (`/api/v1/events`), photo uploads and the simulator's uploads are exempt.
//!
//! `governor` was chosen over `tower_governor` because the keys (client IP after the proxy rule, login names)
//! and the answer (a problem document) are ours; `governor` is the rate limiter both are built on.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::api::ApiError;
use crate::config::ConfigError;

/// The largest webhook body accepted (Twilio's form posts are a few KiB).
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// The `Content-Security-Policy` of pages and everything outside `/api/`.
pub const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/// The `Content-Security-Policy` of the JSON API: nothing may load from it as a document.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox";

/// A rate: `count` requests per `period`, with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period (sustained).
    pub count: NonZeroU32,
    /// The period.
    pub period: Duration,
    /// How many requests may come at once.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `count` per `period`, bursts of `burst` (zero values become one).
    pub fn new(count: u32, period: Duration, burst: u32) -> Self {
        Self {
            count: NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN),
            period,
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
        }
    }

    /// Parses `N/s`, `N/min` or `N/h`, optionally followed by `:BURST` (default: `N`), e.g. `200/s:400`.
    pub fn parse(spec: &str) -> Option<Self> {
        let (rate, burst) = match spec.trim().split_once(':') {
            Some((rate, burst)) => (rate, Some(burst.trim().parse::<u32>().ok()?)),
            None => (spec.trim(), None),
        };
        let (count, unit) = rate.split_once('/')?;
        let count: u32 = count.trim().parse().ok()?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return None,
        };
        if count == 0 || burst == Some(0) {
            return None;
        }
        Some(Self::new(count, period, burst.unwrap_or(count)))
    }

    fn quota(self) -> Quota {
        let cell = self.period / self.count.get();
        Quota::with_period(cell.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }
}

/// A network (`10.0.0.0/8`) or a single address, for `CALLBOOK_TRUSTED_PROXIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The hardening settings (`CALLBOOK_TRUSTED_PROXIES`, `CALLBOOK_RATE_LIMIT_*`,
/// `CALLBOOK_REQUEST_TIMEOUT_SECONDS`, and whether `CALLBOOK_PUBLIC_URL` is https).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardeningConfig {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Logins per client IP and per login name; `None` is off.
    pub login_rate: Option<Rate>,
    /// Webhooks per client IP; `None` is off.
    pub webhook_rate: Option<Rate>,
    /// API requests per client IP; `None` is off.
    pub api_rate: Option<Rate>,
    /// The longest a request may take (event streams excepted).
    pub request_timeout: Duration,
    /// Served over https: `Strict-Transport-Security` and `Secure` cookies.
    pub https: bool,
}

impl Default for HardeningConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            login_rate: Some(Rate::new(5, Duration::from_secs(60), 5)),
            webhook_rate: Some(Rate::new(200, Duration::from_secs(1), 400)),
            api_rate: Some(Rate::new(50, Duration::from_secs(1), 100)),
            request_timeout: Duration::from_secs(30),
            https: false,
        }
    }
}

impl HardeningConfig {
    /// Reads the variables from `get` (trimmed, empty = unset); `public_url` decides `https`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, public_url: &str) -> Result<Self, ConfigError> {
        let bad = |var: &'static str, message: String| ConfigError { var, message };
        let mut config = Self {
            https: public_url.starts_with("https://"),
            ..Self::default()
        };
        if let Some(v) = get("CALLBOOK_TRUSTED_PROXIES") {
            config.trusted_proxies = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    IpNet::parse(s).ok_or_else(|| {
                        bad(
                            "CALLBOOK_TRUSTED_PROXIES",
                            format!(
                                "{:?} is not an IP address or network such as 10.0.0.0/8",
                                s.trim()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        let rate = |var: &'static str, default: Option<Rate>| -> Result<Option<Rate>, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
                Some(v) => Rate::parse(&v).map(Some).ok_or_else(|| {
                    bad(
                        var,
                        format!("{v:?} is not a rate such as 5/min, 200/s:400 (burst) or off"),
                    )
                }),
            }
        };
        config.login_rate = rate("CALLBOOK_RATE_LIMIT_LOGIN", config.login_rate)?;
        config.webhook_rate = rate("CALLBOOK_RATE_LIMIT_WEBHOOKS", config.webhook_rate)?;
        config.api_rate = rate("CALLBOOK_RATE_LIMIT_API", config.api_rate)?;
        if let Some(v) = get("CALLBOOK_REQUEST_TIMEOUT_SECONDS") {
            let secs: u64 = v.parse().ok().filter(|s| (1..=3600).contains(s)).ok_or_else(|| {
                bad(
                    "CALLBOOK_REQUEST_TIMEOUT_SECONDS",
                    format!("{v:?} is not a number of seconds between 1 and 3600"),
                )
            })?;
            config.request_timeout = Duration::from_secs(secs);
        }
        Ok(config)
    }
}

/// A keyed GCRA limiter that forgets idle keys now and then.
pub struct Limiter<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> std::fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    /// A limiter allowing `rate` per key.
    pub fn new(rate: Rate) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(rate.quota()),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request of `key`: `Err(wait)` when over the limit.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            // Keys whose bucket is full again carry no information: drop them so the map stays small.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The login limits: per client IP and per login name (lower-cased).
#[derive(Debug, Default)]
pub struct LoginLimits {
    by_ip: Option<Limiter<IpAddr>>,
    by_login: Option<Limiter<String>>,
}

impl LoginLimits {
    /// Both limits at `rate`; `None` turns them off.
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            by_ip: rate.map(Limiter::new),
            by_login: rate.map(Limiter::new),
        }
    }

    /// Takes one attempt for `ip` (when known) and `login`: `Err(wait)` when either is over its limit. Both
    /// are charged, so guessing one login from many addresses and many logins from one address are both slowed.
    pub fn check(&self, ip: Option<IpAddr>, login: &str) -> Result<(), Duration> {
        let by_ip = match (&self.by_ip, ip) {
            (Some(limiter), Some(ip)) => limiter.check(&canonical(ip)),
            _ => Ok(()),
        };
        let by_login = match &self.by_login {
            Some(limiter) => limiter.check(&login.trim().to_lowercase()),
            None => Ok(()),
        };
        match (by_ip, by_login) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(w), _) | (_, Err(w)) => Err(w),
        }
    }
}

/// The client's address as [`apply`] determined it (a request extension); `None` when the connection has no
/// peer address (in-process requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client IP of a request: the socket peer, or — when the peer is a trusted proxy — the right-most
/// `X-Forwarded-For` address that is not a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Walk from the right (the hops our proxies appended) and stop at the first untrusted address — or at the
    // first entry that is not an address: everything left of it is the client's own say.
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().ok())
        .flat_map(|v| match v {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().parse::<IpAddr>().ok())
                .collect::<Vec<_>>(),
            None => vec![None],
        })
        .collect();
    for hop in hops.into_iter().rev() {
        let Some(hop) = hop else { break };
        client = canonical(hop);
        if !is_trusted(client) {
            break;
        }
    }
    Some(client)
}

/// `429 rate_limited` with `Retry-After` (whole seconds, at least 1).
pub fn too_many_requests(wait: Duration) -> Response {
    ApiError::rate_limited(retry_after_secs(wait)).into_response()
}

/// A wait as whole `Retry-After` seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The hardening state shared by every request: settings and the webhook and API limiters.
#[derive(Debug)]
pub struct Hardening {
    /// The settings.
    pub config: HardeningConfig,
    webhooks: Option<Limiter<IpAddr>>,
    api: Option<Limiter<IpAddr>>,
}

impl Hardening {
    /// The state for `config`.
    pub fn new(config: HardeningConfig) -> Self {
        Self {
            webhooks: config.webhook_rate.map(Limiter::new),
            api: config.api_rate.map(Limiter::new),
            config,
        }
    }
}

impl Default for Hardening {
    fn default() -> Self {
        Self::new(HardeningConfig::default())
    }
}

/// Wraps `router` in every layer of this module (see the module docs for the order).
pub fn apply(router: Router, hardening: Arc<Hardening>) -> Router {
    let inner = hardening.clone();
    let headers = hardening.clone();
    router
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let hardening = inner.clone();
            async move { guard(&hardening, request, next).await }
        }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let https = headers.config.https;
            async move { security_headers(https, request, next).await }
        }))
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic message may hold values: it goes to stderr through the panic hook, never to the client.
    tracing::error!(kind = "panic", "a handler panicked");
    ApiError::internal().into_response()
}

/// The body limit of a route; `None` leaves it to the route (the simulator's uploads).
fn body_limit(method: &Method, path: &str) -> Option<usize> {
    if path.starts_with("/webhooks/") {
        Some(WEBHOOK_BODY_LIMIT)
    } else if path.starts_with("/simulator/") {
        None
    } else if method == Method::POST && path.starts_with("/api/") && path.ends_with("/photos") {
        Some(crate::api::jobs::MAX_PHOTO_BYTES)
    } else {
        Some(crate::api::problem::JSON_LIMIT)
    }
}

/// Client IP, body limit, rate limit and timeout.
async fn guard(hardening: &Hardening, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, request.headers(), &hardening.config.trusted_proxies);
    request.extensions_mut().insert(ClientIp(ip));
    let path = request.uri().path().to_owned();
    let method = request.method().clone();

    if let Some(limit) = body_limit(request.method(), &path) {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return ApiError::payload_too_large(limit).into_response();
        }
        let (parts, body) = request.into_parts();
        request = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit)));
    }

    let limiter = if path.starts_with("/webhooks/") {
        hardening.webhooks.as_ref()
    } else if path.starts_with("/api/") {
        hardening.api.as_ref()
    } else {
        None
    };
    if let Some(limiter) = limiter {
        let key = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if let Err(wait) = limiter.check(&key) {
            tracing::warn!(kind = "rate_limited", "request refused by the rate limit");
            return too_many_requests(wait);
        }
    }

    // Event streams stay open by design; uploads (photos, simulated recordings) may be slow on a poor line.
    let upload = method == Method::POST && path.starts_with("/api/") && path.ends_with("/photos");
    let streaming = path == format!("{}/events", crate::api::PREFIX) || path.starts_with("/simulator/");
    if streaming || upload {
        return next.run(request).await;
    }
    match tokio::time::timeout(hardening.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(kind = "timeout", "request timed out");
            ApiError::timeout().into_response()
        }
    }
}

/// Security headers on every response; `413`s without a document get one.
async fn security_headers(https: bool, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let limit = body_limit(request.method(), request.uri().path());
    let mut response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        response =
            ApiError::payload_too_large(limit.unwrap_or(crate::api::problem::JSON_LIMIT)).into_response();
    }
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    // JSON never needs to load anything; audio, photos and calendars keep the site policy (a browser tab playing
    // a recording is a media document that `default-src 'none'` would block).
    let json = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"application/problem+json")
    });
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if api && json { API_CSP } else { CSP },
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if api {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("200/s:400"),
            Some(Rate::new(200, Duration::from_secs(1), 400))
        );
        assert_eq!(
            Rate::parse("5/min"),
            Some(Rate::new(5, Duration::from_secs(60), 5))
        );
        for bad in ["", "5", "5/day", "0/s", "5/s:0", "x/s", "5/s:x"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn networks_contain_addresses() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8"] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        // Through the trusted proxies: the right-most untrusted hop, not the spoofable left-most one.
        assert_eq!(
            client_ip(Some(proxy), &headers, &trusted),
            Some("203.0.113.7".parse().unwrap())
        );
        // From an untrusted peer the header is ignored.
        assert_eq!(client_ip(Some(stranger), &headers, &trusted), Some(stranger));
        assert_eq!(client_ip(Some(proxy), &headers, &[]), Some(proxy));
        assert_eq!(client_ip(None, &headers, &trusted), None);
        // A client's junk entry does not discard the address our proxy appended after it.
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", "junk, 203.0.113.8".parse().unwrap());
        assert_eq!(
            client_ip(Some(proxy), &junk, &trusted),
            Some("203.0.113.8".parse().unwrap())
        );
    }

    #[test]
    fn login_limits_charge_ip_and_login() {
        let limits = LoginLimits::new(Some(Rate::new(2, Duration::from_secs(60), 2)));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.check(Some(a), "maria").is_ok());
        assert!(limits.check(Some(b), "MARIA").is_ok());
        // The login is exhausted from any address …
        let wait = limits
            .check(Some("192.0.2.3".parse().unwrap()), "Maria")
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        // … and address `a` has one attempt left for other logins.
        assert!(limits.check(Some(a), "other").is_ok());
        assert!(limits.check(Some(a), "third").is_err());
        assert!(LoginLimits::new(None).check(Some(a), "maria").is_ok());
    }

    #[test]
    fn config_parses_and_names_the_variable() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        let c = HardeningConfig::from_lookup(get(&[]), "https://x.example").unwrap();
        assert!(c.https);
        assert_eq!(
            c,
            HardeningConfig {
                https: true,
                ..HardeningConfig::default()
            }
        );
        let c = HardeningConfig::from_lookup(
            get(&[
                ("CALLBOOK_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
                ("CALLBOOK_RATE_LIMIT_WEBHOOKS", "off"),
                ("CALLBOOK_RATE_LIMIT_LOGIN", "10/min:3"),
                ("CALLBOOK_REQUEST_TIMEOUT_SECONDS", "5"),
            ]),
            "http://x",
        )
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.webhook_rate, None);
        assert_eq!(c.login_rate, Some(Rate::new(10, Duration::from_secs(60), 3)));
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        for (var, value) in [
            ("CALLBOOK_TRUSTED_PROXIES", "proxy.local"),
            ("CALLBOOK_RATE_LIMIT_API", "fast"),
            ("CALLBOOK_REQUEST_TIMEOUT_SECONDS", "0"),
        ] {
            let e =
                HardeningConfig::from_lookup(move |k: &str| (k == var).then(|| value.to_owned()), "http://x")
                    .unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
