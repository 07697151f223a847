//! [`TwilioTelephonyBuilder`]: configuration, read from the environment or set in code, validated once.

use std::fmt;
use std::time::Duration;

use super::TwilioTelephony;
use super::client::{RestClient, RetryPolicy, Secret, USER_AGENT_VALUE};
use crate::telephony::AccountSid;
use crate::{Error, Result};

/// Twilio's REST host.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_RATE_LIMIT_RETRIES: u32 = 3;
const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
const DEFAULT_MEDIA_NOT_FOUND_RETRIES: u32 = 3;
const DEFAULT_MEDIA_NOT_FOUND_BASE_DELAY: Duration = Duration::from_secs(1);

/// Builds a [`TwilioTelephony`].
///
/// Start from [`new`](Self::new) or [`from_env`](Self::from_env), adjust with the `with_*` methods, and call
/// [`build`](Self::build), which validates everything and names what is wrong.
///
/// Credentials are either the account's **Auth Token** ([`with_auth_token`](Self::with_auth_token)) or an
/// **API key** ([`with_api_key`](Self::with_api_key)); when both are set the API key authenticates REST calls.
/// The account SID always goes into the request path, so a sub-account can be managed with its parent's
/// credentials: give the sub-account's SID to [`with_account_sid`](Self::with_account_sid) and the parent's
/// SID and Auth Token to [`with_api_key`](Self::with_api_key).
///
/// ```
/// use std::time::Duration;
/// use callbook_telephony::twilio::TwilioTelephonyBuilder;
///
/// let twilio = TwilioTelephonyBuilder::new()
///     .with_account_sid("AC00000000000000000000000000000001")
///     .with_api_key("SK00000000000000000000000000000002", "api-key-secret")
///     .with_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(twilio.account_sid().as_str(), "AC00000000000000000000000000000001");
/// # Ok::<(), callbook_telephony::Error>(())
/// ```
#[derive(Clone)]
pub struct TwilioTelephonyBuilder {
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    api_key_sid: Option<String>,
    api_key_secret: Option<Secret>,
    base_url: String,
    timeout: Duration,
    max_rate_limit_retries: u32,
    max_retry_delay: Duration,
    media_not_found_retries: u32,
    media_not_found_base_delay: Duration,
    http_client: Option<reqwest::Client>,
}

impl Default for TwilioTelephonyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TwilioTelephonyBuilder {
    /// A builder with no credentials, talking to [`DEFAULT_BASE_URL`] with a 30 s timeout and 3 retries.
    pub fn new() -> Self {
        Self {
            account_sid: None,
            auth_token: None,
            api_key_sid: None,
            api_key_secret: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_rate_limit_retries: DEFAULT_MAX_RATE_LIMIT_RETRIES,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            media_not_found_retries: DEFAULT_MEDIA_NOT_FOUND_RETRIES,
            media_not_found_base_delay: DEFAULT_MEDIA_NOT_FOUND_BASE_DELAY,
            http_client: None,
        }
    }

    /// A builder filled from the process environment; see [`from_env_with`](Self::from_env_with) for the
    /// variables read.
    ///
    /// ```no_run
    /// use callbook_telephony::twilio::TwilioTelephonyBuilder;
    /// let twilio = TwilioTelephonyBuilder::from_env().build()?;
    /// # Ok::<(), callbook_telephony::Error>(())
    /// ```
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// A builder filled from `lookup`, which is asked for each variable by name; empty values count as unset.
    ///
    /// | variable | sets |
    /// |---|---|
    /// | `TWILIO_ACCOUNT_SID` | [`with_account_sid`](Self::with_account_sid) |
    /// | `TWILIO_AUTH_TOKEN` | [`with_auth_token`](Self::with_auth_token) |
    /// | `TWILIO_API_KEY` and `TWILIO_API_SECRET` | [`with_api_key`](Self::with_api_key) (both or neither) |
    /// | `TWILIO_API_BASE_URL` | [`with_base_url`](Self::with_base_url), default [`DEFAULT_BASE_URL`] |
    ///
    /// Nothing is validated until [`build`](Self::build).
    ///
    /// ```
    /// use callbook_telephony::twilio::TwilioTelephonyBuilder;
    /// let twilio = TwilioTelephonyBuilder::from_env_with(|name| match name {
    ///     "TWILIO_ACCOUNT_SID" => Some("AC00000000000000000000000000000001".to_owned()),
    ///     "TWILIO_AUTH_TOKEN" => Some("token".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// # Ok::<(), callbook_telephony::Error>(())
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = Self::new();
        builder.account_sid = get("TWILIO_ACCOUNT_SID");
        builder.auth_token = get("TWILIO_AUTH_TOKEN").map(Secret::new);
        builder.api_key_sid = get("TWILIO_API_KEY");
        builder.api_key_secret = get("TWILIO_API_SECRET").map(Secret::new);
        if let Some(url) = get("TWILIO_API_BASE_URL") {
            builder.base_url = url;
        }
        builder
    }

    /// The account whose resources are managed (`AC…`); it goes into every request path.
    pub fn with_account_sid(mut self, account_sid: impl Into<String>) -> Self {
        self.account_sid = Some(account_sid.into());
        self
    }

    /// Authenticate as `AccountSid:AuthToken`.
    pub fn with_auth_token(mut self, auth_token: impl Into<String>) -> Self {
        self.auth_token = Some(Secret::new(auth_token));
        self
    }

    /// Authenticate as `sid:secret`, typically an API key (`SK…`) and its secret; the account SID stays in the
    /// path. Takes precedence over [`with_auth_token`](Self::with_auth_token) for REST calls.
    pub fn with_api_key(mut self, sid: impl Into<String>, secret: impl Into<String>) -> Self {
        self.api_key_sid = Some(sid.into());
        self.api_key_secret = Some(Secret::new(secret));
        self
    }

    /// Where the API lives (`http` or `https`, no query): a regional edge, a proxy, or a local mock in tests.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Limit for each HTTP attempt, from sending to the last body byte (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often a `GET` or `DELETE` is retried after 429, 5xx, a timeout or a connection failure (default 3).
    /// `POST`s are never retried.
    pub fn with_max_rate_limit_retries(mut self, retries: u32) -> Self {
        self.max_rate_limit_retries = retries;
        self
    }

    /// Longest single wait between retries, even when `Retry-After` asks for more (default 30 s).
    pub fn with_max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// How often a recording download that answers 404 is retried, waiting `base_delay`, then twice that, and
    /// so on (default 3 retries from 1 s: a fresh recording can be missing for a moment).
    pub fn with_media_not_found_retries(mut self, retries: u32, base_delay: Duration) -> Self {
        self.media_not_found_retries = retries;
        self.media_not_found_base_delay = base_delay;
        self
    }

    /// Use this HTTP client (connection pool, proxy, TLS settings) instead of a new one. Per-request timeout,
    /// headers and authentication are still applied by this crate. Keep reqwest's redirect handling, which
    /// drops `Authorization` when a redirect leaves the host.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Validates the configuration and builds the client.
    ///
    /// Fails with [`Error::Config`] when the account SID is missing or does not start with `AC`, when no
    /// credentials (or half an API key) are given, when the base URL is not an `http(s)` URL without query,
    /// fragment or user info, or when the timeout is zero.
    pub fn build(self) -> Result<TwilioTelephony> {
        let account_sid = self
            .account_sid
            .ok_or_else(|| config("account SID missing: set TWILIO_ACCOUNT_SID or call with_account_sid"))?;
        let account_sid = account_sid.trim().to_owned();
        if !account_sid.starts_with("AC") || !is_sid_text(&account_sid) {
            return Err(config(
                "account SID must start with AC followed by letters and digits (TWILIO_ACCOUNT_SID)",
            ));
        }

        let (username, password) = match (self.api_key_sid, self.api_key_secret, self.auth_token) {
            (Some(sid), Some(secret), _) => {
                let sid = sid.trim().to_owned();
                if !is_sid_text(&sid) {
                    return Err(config("API key SID must be letters and digits (TWILIO_API_KEY)"));
                }
                if secret.expose().is_empty() {
                    return Err(config("API key secret is empty (TWILIO_API_SECRET)"));
                }
                (sid, secret)
            }
            (Some(_), None, _) => {
                return Err(config("TWILIO_API_KEY is set but TWILIO_API_SECRET is missing"));
            }
            (None, Some(_), _) => {
                return Err(config("TWILIO_API_SECRET is set but TWILIO_API_KEY is missing"));
            }
            (None, None, Some(token)) if !token.expose().is_empty() => (account_sid.clone(), token),
            (None, None, _) => {
                return Err(config(
                    "credentials missing: set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET",
                ));
            }
        };

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

        Ok(TwilioTelephony {
            account: AccountSid::new(account_sid.clone()),
            rest: RestClient {
                http,
                base_url,
                account_sid,
                username,
                password,
                timeout: self.timeout,
                retry: RetryPolicy {
                    max_retries: self.max_rate_limit_retries,
                    max_delay: self.max_retry_delay,
                },
            },
            media_not_found_retries: self.media_not_found_retries,
            media_not_found_base_delay: self.media_not_found_base_delay,
        })
    }
}

impl fmt::Debug for TwilioTelephonyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioTelephonyBuilder")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token)
            .field("api_key_sid", &self.api_key_sid)
            .field("api_key_secret", &self.api_key_secret)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_rate_limit_retries", &self.max_rate_limit_retries)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("media_not_found_retries", &self.media_not_found_retries)
            .field("media_not_found_base_delay", &self.media_not_found_base_delay)
            .field("custom_http_client", &self.http_client.is_some())
            .finish()
    }
}

fn config(message: &str) -> Error {
    Error::Config(message.to_owned())
}

/// Letters and digits only: safe to put in a URL path and in a Basic-auth user name.
fn is_sid_text(s: &str) -> bool {
    s.len() > 2 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `http(s)://authority[/prefix]`, returned without a trailing slash.
fn validate_base_url(raw: &str) -> Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let bad = |why: &str| Error::Config(format!("base URL {why} (TWILIO_API_BASE_URL)"));
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

    fn base() -> TwilioTelephonyBuilder {
        TwilioTelephonyBuilder::new()
            .with_account_sid("AC123")
            .with_auth_token("tok")
    }

    fn config_message(b: TwilioTelephonyBuilder) -> String {
        match b.build() {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(config_message(TwilioTelephonyBuilder::new()).contains("TWILIO_ACCOUNT_SID"));
        assert!(config_message(base().with_account_sid("XX123")).contains("AC"));
        assert!(config_message(base().with_account_sid("AC1/../x")).contains("AC"));
        assert!(
            config_message(TwilioTelephonyBuilder::new().with_account_sid("AC1")).contains("credentials")
        );
        assert!(config_message(base().with_base_url("ftp://x")).contains("http"));
        assert!(config_message(base().with_base_url("not a url")).contains("valid"));
        assert!(config_message(base().with_base_url("https://u:p@api.twilio.com")).contains("credentials"));
        assert!(config_message(base().with_base_url("https://api.twilio.com?x=1")).contains("query"));
        assert!(config_message(base().with_timeout(Duration::ZERO)).contains("timeout"));
        let half = TwilioTelephonyBuilder::from_env_with(|n| {
            (n == "TWILIO_ACCOUNT_SID" || n == "TWILIO_API_KEY").then(|| "AC1".to_owned())
        });
        assert!(config_message(half).contains("TWILIO_API_SECRET"));
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let t = base()
            .with_base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(t.rest.base_url, "http://127.0.0.1:9/prefix");
        assert_eq!(
            t.rest.account_url("Calls/CA1.json"),
            "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC123/Calls/CA1.json"
        );
    }

    #[test]
    fn api_key_wins_over_auth_token() {
        let t = base().with_api_key("SK9", "sec").build().unwrap();
        assert_eq!(t.rest.username, "SK9");
        assert_eq!(t.rest.password.expose(), "sec");
        assert_eq!(t.rest.account_sid, "AC123");
    }
}
