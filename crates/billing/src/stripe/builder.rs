//! [`StripeBillingBuilder`]: configuration, read from the environment or set in code, validated once.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::StripeBilling;
use super::client::{RestClient, RetryPolicy, USER_AGENT_VALUE};
use crate::model::PriceId;
use crate::webhook::{DEFAULT_TOLERANCE, Secret, WebhookVerifier};
use crate::{Error, Result};

/// Stripe's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// The metric `STRIPE_METER_EVENT_NAME` bills when it is a bare event name.
pub const DEFAULT_METERED_METRIC: &str = "calls";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_RETRIES: u32 = 3;
const DEFAULT_INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);
const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(8);

/// Builds a [`StripeBilling`].
///
/// Start from [`new`](Self::new) or [`from_env`](Self::from_env), adjust with the `with_*` methods, and call
/// [`build`](Self::build), which validates everything and names the variable that is wrong.
///
/// ```
/// use std::time::Duration;
/// use callbook_billing::stripe::StripeBillingBuilder;
/// use callbook_billing::BillingProvider;
///
/// let stripe = StripeBillingBuilder::new()
///     .with_secret_key("sk_test_123")
///     .with_webhook_secret("whsec_abc")
///     .with_default_price("price_pro")
///     .with_meter("calls", "callbook_calls")
///     .with_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(stripe.default_price().map(|p| p.to_string()).as_deref(), Some("price_pro"));
/// assert!(!format!("{stripe:?}").contains("sk_test_123"));
/// # Ok::<(), callbook_billing::Error>(())
/// ```
#[derive(Clone)]
pub struct StripeBillingBuilder {
    secret_key: Option<Secret>,
    webhook_secret: Option<Secret>,
    webhook_tolerance: Duration,
    base_url: String,
    default_price: Option<String>,
    meters: BTreeMap<String, String>,
    meter_env_error: Option<String>,
    api_version: String,
    timeout: Duration,
    max_retries: u32,
    initial_retry_delay: Duration,
    max_retry_delay: Duration,
    http_client: Option<reqwest::Client>,
}

impl Default for StripeBillingBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl StripeBillingBuilder {
    /// A builder with no key, talking to [`DEFAULT_BASE_URL`] with a 30 s timeout and 3 retries.
    pub fn new() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            webhook_tolerance: DEFAULT_TOLERANCE,
            base_url: DEFAULT_BASE_URL.to_owned(),
            default_price: None,
            meters: BTreeMap::new(),
            meter_env_error: None,
            api_version: crate::STRIPE_API_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            initial_retry_delay: DEFAULT_INITIAL_RETRY_DELAY,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            http_client: None,
        }
    }

    /// A builder filled from the process environment; see [`from_env_with`](Self::from_env_with).
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// A builder filled from `lookup`, asked for each variable by name; empty values count as unset.
    ///
    /// | variable | sets |
    /// |---|---|
    /// | `STRIPE_SECRET_KEY` | [`with_secret_key`](Self::with_secret_key) (`sk_…` or `rk_…`; required) |
    /// | `STRIPE_WEBHOOK_SECRET` | [`with_webhook_secret`](Self::with_webhook_secret) (`whsec_…`) |
    /// | `STRIPE_API_BASE` | [`with_base_url`](Self::with_base_url), default [`DEFAULT_BASE_URL`] |
    /// | `STRIPE_PRICE_ID` | [`with_default_price`](Self::with_default_price) |
    /// | `STRIPE_METER_EVENT_NAME` | [`with_meter`](Self::with_meter): `event` bills metric `calls`; `metric=event,metric=event` bills several |
    ///
    /// Nothing is validated until [`build`](Self::build).
    ///
    /// ```
    /// use callbook_billing::stripe::StripeBillingBuilder;
    /// use callbook_billing::BillingProvider;
    /// let stripe = StripeBillingBuilder::from_env_with(|name| match name {
    ///     "STRIPE_SECRET_KEY" => Some("sk_test_123".to_owned()),
    ///     "STRIPE_METER_EVENT_NAME" => Some("calls=cb_calls,audio_seconds=cb_audio".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert!(stripe.bills_metric("audio_seconds") && !stripe.bills_metric("llm_prompt_tokens"));
    /// let missing = StripeBillingBuilder::from_env_with(|_| None).build().unwrap_err();
    /// assert!(missing.to_string().contains("STRIPE_SECRET_KEY"));
    /// # Ok::<(), callbook_billing::Error>(())
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = Self::new();
        builder.secret_key = get("STRIPE_SECRET_KEY").map(Secret::new);
        builder.webhook_secret = get("STRIPE_WEBHOOK_SECRET").map(Secret::new);
        if let Some(url) = get("STRIPE_API_BASE") {
            builder.base_url = url;
        }
        builder.default_price = get("STRIPE_PRICE_ID");
        if let Some(meters) = get("STRIPE_METER_EVENT_NAME") {
            match parse_meters(&meters) {
                Ok(map) => builder.meters = map,
                Err(e) => builder.meter_env_error = Some(e),
            }
        }
        builder
    }

    /// The secret API key (`sk_live_…`, `sk_test_…`, or a restricted `rk_…`).
    pub fn with_secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(Secret::new(key));
        self
    }

    /// The webhook endpoint's signing secret (`whsec_…`); without it `verify_webhook` is a config error.
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(Secret::new(secret));
        self
    }

    /// How old a webhook signature may be (default 300 s).
    pub fn with_webhook_tolerance(mut self, tolerance: Duration) -> Self {
        self.webhook_tolerance = tolerance;
        self
    }

    /// Where the API lives (`http` or `https`, no query): a proxy, or a local mock in tests.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The plan new subscriptions use unless told otherwise ([`BillingProvider::default_price`](crate::BillingProvider::default_price)).
    pub fn with_default_price(mut self, price: impl Into<String>) -> Self {
        self.default_price = Some(price.into());
        self
    }

    /// Bills usage of `metric` (a usage counter name such as `calls`) to the Stripe meter whose
    /// `event_name` is `event_name`. Metrics without a meter are not billed.
    pub fn with_meter(mut self, metric: &str, event_name: &str) -> Self {
        self.meters.insert(metric.to_owned(), event_name.to_owned());
        self
    }

    /// Overrides the pinned `Stripe-Version` (default [`crate::STRIPE_API_VERSION`]). The parser reads
    /// both the pre- and post-2025-03-31 layouts.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Limit for each HTTP attempt (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after 429, 409, 5xx, timeouts and connection failures (default 3), each with the same
    /// idempotency key; waits grow from `initial_delay` (default 500 ms, doubling, full jitter) and never
    /// exceed `max_delay` (default 8 s), even when `Retry-After` asks for more.
    pub fn with_retries(mut self, max_retries: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        self.max_retries = max_retries;
        self.initial_retry_delay = initial_delay;
        self.max_retry_delay = max_delay;
        self
    }

    /// Use this HTTP client (pool, proxy, TLS) instead of a new one; timeouts and headers still apply.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Validates the configuration and builds the backend.
    ///
    /// Fails with [`Error::Config`] naming the variable when the secret key is missing or not `sk_`/`rk_`,
    /// the webhook secret is not `whsec_…`, the base URL is not `http(s)` without query, fragment or user
    /// info, `STRIPE_METER_EVENT_NAME` is malformed, or the timeout is zero.
    pub fn build(self) -> Result<StripeBilling> {
        let secret_key = self
            .secret_key
            .ok_or_else(|| config("secret key missing: set STRIPE_SECRET_KEY or call with_secret_key"))?;
        let key = secret_key.expose();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.chars().any(char::is_whitespace) {
            return Err(config(
                "STRIPE_SECRET_KEY must be a secret key (sk_…) or a restricted key (rk_…), not a publishable key",
            ));
        }
        if let Some(secret) = &self.webhook_secret
            && !secret.expose().starts_with("whsec_")
        {
            return Err(config(
                "STRIPE_WEBHOOK_SECRET must be an endpoint signing secret (whsec_…)",
            ));
        }
        if let Some(e) = self.meter_env_error {
            return Err(Error::Config(e));
        }
        if self
            .meters
            .iter()
            .any(|(m, e)| m.is_empty() || e.is_empty() || e.len() > 100)
        {
            return Err(config(
                "meter metric and event name must be non-empty, event names ≤ 100 characters (STRIPE_METER_EVENT_NAME)",
            ));
        }
        if let Some(price) = &self.default_price
            && price.chars().any(|c| c.is_whitespace() || c == '/')
        {
            return Err(config("STRIPE_PRICE_ID must be a price id (price_…)"));
        }
        let base_url = validate_base_url(&self.base_url)?;
        if self.timeout.is_zero() {
            return Err(config("timeout must be greater than zero"));
        }
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .user_agent(USER_AGENT_VALUE)
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT.min(self.timeout))
                .build()
                .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?,
        };
        let verifier = self
            .webhook_secret
            .map(|s| WebhookVerifier::new(s.expose()).with_tolerance(self.webhook_tolerance));
        Ok(StripeBilling {
            rest: RestClient {
                http,
                base_url,
                secret_key,
                api_version: self.api_version,
                timeout: self.timeout,
                retry: RetryPolicy {
                    max_retries: self.max_retries,
                    initial_delay: self.initial_retry_delay,
                    max_delay: self.max_retry_delay,
                },
            },
            verifier,
            default_price: self.default_price.map(PriceId::new),
            meters: self.meters,
            customers: Default::default(),
        })
    }
}

impl fmt::Debug for StripeBillingBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeBillingBuilder")
            .field("secret_key", &self.secret_key)
            .field("webhook_secret", &self.webhook_secret)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .field("base_url", &self.base_url)
            .field("default_price", &self.default_price)
            .field("meters", &self.meters)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("custom_http_client", &self.http_client.is_some())
            .finish_non_exhaustive()
    }
}

fn config(message: &str) -> Error {
    Error::Config(message.to_owned())
}

/// `event` (for metric `calls`) or `metric=event,metric=event`.
fn parse_meters(raw: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    if !raw.contains('=') {
        map.insert(DEFAULT_METERED_METRIC.to_owned(), raw.to_owned());
        return Ok(map);
    }
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (metric, event) = pair
            .split_once('=')
            .map(|(m, e)| (m.trim(), e.trim()))
            .filter(|(m, e)| !m.is_empty() && !e.is_empty())
            .ok_or_else(|| {
                "STRIPE_METER_EVENT_NAME must be an event name or metric=event pairs separated by commas"
                    .to_owned()
            })?;
        map.insert(metric.to_owned(), event.to_owned());
    }
    Ok(map)
}

/// `http(s)://authority[/prefix]`, returned without a trailing slash.
fn validate_base_url(raw: &str) -> Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let bad = |why: &str| Error::Config(format!("base URL {why} (STRIPE_API_BASE)"));
    let url = reqwest::Url::parse(trimmed).map_err(|_| bad("is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BillingProvider;

    fn message(b: StripeBillingBuilder) -> String {
        match b.build() {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> StripeBillingBuilder {
        StripeBillingBuilder::from_env_with(move |n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn from_env_errors_name_the_variable() {
        assert!(message(env(&[])).contains("STRIPE_SECRET_KEY"));
        assert!(message(env(&[("STRIPE_SECRET_KEY", "  ")])).contains("STRIPE_SECRET_KEY"));
        assert!(message(env(&[("STRIPE_SECRET_KEY", "pk_test_1")])).contains("STRIPE_SECRET_KEY"));
        let base = |k: &'static str, v: &'static str| {
            let vars: &'static [(&'static str, &'static str)] =
                Box::leak(vec![("STRIPE_SECRET_KEY", "sk_test_1"), (k, v)].into_boxed_slice());
            message(env(vars))
        };
        assert!(base("STRIPE_WEBHOOK_SECRET", "secret").contains("STRIPE_WEBHOOK_SECRET"));
        assert!(base("STRIPE_API_BASE", "ftp://x").contains("STRIPE_API_BASE"));
        assert!(base("STRIPE_API_BASE", "https://u:p@api.stripe.com").contains("STRIPE_API_BASE"));
        assert!(base("STRIPE_METER_EVENT_NAME", "calls=,x").contains("STRIPE_METER_EVENT_NAME"));
        assert!(base("STRIPE_PRICE_ID", "price 1").contains("STRIPE_PRICE_ID"));
    }

    #[test]
    fn from_env_reads_everything() {
        let s = env(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9/"),
            ("STRIPE_PRICE_ID", "price_1"),
            ("STRIPE_METER_EVENT_NAME", "cb_calls"),
        ])
        .build()
        .unwrap();
        assert_eq!(s.rest.base_url, "http://127.0.0.1:9");
        assert_eq!(s.default_price().unwrap().as_str(), "price_1");
        assert_eq!(s.meters.get("calls").map(String::as_str), Some("cb_calls"));
        assert!(s.verifier.is_some());
    }

    #[test]
    fn debug_redacts_secrets() {
        let b = StripeBillingBuilder::new()
            .with_secret_key("sk_test_supersecret")
            .with_webhook_secret("whsec_alsosecret");
        let text = format!("{b:?}");
        assert!(
            !text.contains("supersecret") && !text.contains("alsosecret"),
            "{text}"
        );
        let s = b.build().unwrap();
        let text = format!("{s:?}");
        assert!(
            !text.contains("supersecret") && !text.contains("alsosecret"),
            "{text}"
        );
    }
}
