//! The server's configuration: every environment variable of DESIGN.md §5, parsed and validated once at
//! start-up into a typed [`Config`].
//!
//! A bad value stops start-up with a [`ConfigError`] naming the variable (`CALLBOOK_TIMEZONE: "Mars/Base" is
//! not an IANA time zone`). Empty values count as unset. Secrets (Twilio auth token and API secret, the OpenAI
//! key, the master key, the admin token, AWS secret, passwords inside database and SMTP URLs) are held in
//! [`Secret`] and never appear in `Debug` or in [`Config::describe`].
//!
//! Parsing reads from a lookup function ([`Config::from_lookup`]), so tests pass a map and never touch (or
//! race on) the process environment; [`Config::from_env`] is the same over `std::env::var`.
//!
//! Besides §5 the server reads `CALLBOOK_DATA_DIR` (default `./callbook-data`: the embedded database, the
//! local recordings, the generated master key and admin token live there) and `CALLBOOK_DEMO_TRANSCRIPTS`
//! (default `DATA_DIR/demo-transcripts`: where the demo transcriber finds `<sha256 of the audio>.txt`).
//!
//! Hardening (issue 8, [`crate::hardening`]): `CALLBOOK_TRUSTED_PROXIES` (comma-separated addresses or networks
//! whose `X-Forwarded-For` is believed; default none), `CALLBOOK_RATE_LIMIT_LOGIN` (default `5/min`, per client
//! IP and per login name), `CALLBOOK_RATE_LIMIT_WEBHOOKS` (default `200/s:400`), `CALLBOOK_RATE_LIMIT_API`
//! (default `50/s:100`, per client IP and per principal) — each `N/s|min|h[:BURST]` or `off` — and
//! `CALLBOOK_REQUEST_TIMEOUT_SECONDS` (default 30).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use callbook_jobs::TimeZone;
use callbook_storage::Keyring;

/// A secret string: `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for handing it to the component that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A value that stops start-up, naming the environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The variable, e.g. `CALLBOOK_TIMEZONE`.
    pub var: &'static str,
    /// What is wrong with it (never the value of a secret).
    pub message: String,
}

fn bad(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// Which transcriber turns recordings into text (`CALLBOOK_TRANSCRIBER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriberKind {
    /// OpenAI or any OpenAI-compatible server (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).
    OpenAi,
    /// Local Whisper on a ggml model file (`CALLBOOK_WHISPER_MODEL`; feature `whisper-local`).
    WhisperLocal,
    /// The demo transcriber: the transcript of a recording is a text file named after the SHA-256 of the
    /// audio in [`Config::demo_transcripts_dir`]. Needs no set-up.
    Demo,
}

impl TranscriberKind {
    /// The name used in `CALLBOOK_TRANSCRIBER`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::WhisperLocal => "whisper-local",
            Self::Demo => "demo",
        }
    }
}

/// Which extractor reads appointments out of transcripts (`CALLBOOK_EXTRACTOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractorKind {
    /// OpenAI Chat Completions with structured outputs.
    OpenAi,
    /// The offline rules extractor.
    Rules,
}

impl ExtractorKind {
    /// The name used in `CALLBOOK_EXTRACTOR`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Rules => "rules",
        }
    }
}

/// Twilio account settings (`TWILIO_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// `TWILIO_ACCOUNT_SID` (`AC…`): the bootstrap tenant owns this account.
    pub account_sid: Option<String>,
    /// `TWILIO_AUTH_TOKEN`: signs the webhooks and authenticates REST calls.
    pub auth_token: Option<Secret>,
    /// `TWILIO_API_KEY` and `TWILIO_API_SECRET` (both or neither): REST credentials instead of the token.
    pub api_key: Option<(String, Secret)>,
    /// `TWILIO_API_BASE_URL` (default `https://api.twilio.com`).
    pub api_base_url: String,
}

impl TwilioConfig {
    /// Whether the real Twilio REST backend is used: an account and a credential are set.
    pub fn uses_rest(&self) -> bool {
        self.account_sid.is_some() && (self.auth_token.is_some() || self.api_key.is_some())
    }
}

/// OpenAI settings (`OPENAI_*`, `CALLBOOK_*_MODEL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// `OPENAI_API_KEY`.
    pub api_key: Option<Secret>,
    /// `OPENAI_BASE_URL` (default `https://api.openai.com/v1`).
    pub base_url: String,
    /// `CALLBOOK_TRANSCRIBE_MODEL`.
    pub transcribe_model: Option<String>,
    /// `CALLBOOK_EXTRACT_MODEL`.
    pub extract_model: Option<String>,
}

/// S3 settings (`AWS_*`), used when `CALLBOOK_STORAGE_URL` is `s3://…`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Config {
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`): an S3-compatible server.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (both or neither).
    pub credentials: Option<(String, Secret)>,
    /// `AWS_ALLOW_HTTP` (`true`/`false`): a plain-HTTP endpoint.
    pub allow_http: bool,
}

/// The whole configuration. Build it with [`Config::from_env`] or [`Config::from_lookup`].
#[derive(Clone)]
pub struct Config {
    /// `CALLBOOK_LISTEN` (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `CALLBOOK_PUBLIC_URL` without trailing slash (default `http://{listen}`): the URL Twilio signs.
    pub public_url: String,
    /// `CALLBOOK_DATA_DIR` (default `./callbook-data`).
    pub data_dir: PathBuf,
    /// `CALLBOOK_DATABASE_URL` (default `sqlite://DATA_DIR/callbook.db`). May hold a password: print it with
    /// [`redact_url`].
    pub database_url: Secret,
    /// `CALLBOOK_STORAGE_URL` (default `file://DATA_DIR/recordings`).
    pub storage_url: String,
    /// `CALLBOOK_MASTER_KEY`, parsed; `None` means "generate into / read from `DATA_DIR/master.key`".
    pub master_key: Option<Keyring>,
    /// `CALLBOOK_ADMIN_TOKEN`; `None` means "generate into / read from `DATA_DIR/admin.token`".
    pub admin_token: Option<Secret>,
    /// `CALLBOOK_TENANT_NAME` (default `My Business`).
    pub tenant_name: String,
    /// `CALLBOOK_TIMEZONE` (IANA, default `UTC`).
    pub timezone: TimeZone,
    /// Twilio.
    pub twilio: TwilioConfig,
    /// OpenAI.
    pub openai: OpenAiConfig,
    /// `CALLBOOK_WHISPER_MODEL`: path of a local ggml model.
    pub whisper_model: Option<PathBuf>,
    /// `CALLBOOK_TRANSCRIBER`, with its default resolved.
    pub transcriber: TranscriberKind,
    /// `CALLBOOK_EXTRACTOR`, with its default resolved.
    pub extractor: ExtractorKind,
    /// `CALLBOOK_DEMO_TRANSCRIPTS` (default `DATA_DIR/demo-transcripts`).
    pub demo_transcripts_dir: PathBuf,
    /// `AWS_*`.
    pub s3: S3Config,
    /// `CALLBOOK_SMTP_URL` (`smtp://` or `smtps://`). May hold a password.
    pub smtp_url: Option<Secret>,
    // ---- issue 8 (hardening)
    /// `CALLBOOK_TRUSTED_PROXIES`, `CALLBOOK_RATE_LIMIT_{LOGIN,WEBHOOKS,API}`, `CALLBOOK_REQUEST_TIMEOUT_SECONDS`
    /// (see [`crate::hardening`]).
    pub hardening: crate::hardening::HardeningConfig,
    // ---- end issue 8
    // ---- issue 8 privacy/settings
    /// `CALLBOOK_RETENTION_INTERVAL` (default `1h`; `off` = `None`): how often retention runs.
    pub retention_interval: Option<std::time::Duration>,
    // ---- end issue 8 privacy/settings
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(self.database_url.expose()))
            .field("storage_url", &self.storage_url)
            .field("master_key", &self.master_key.as_ref().map(|k| k.ids()))
            .field("admin_token", &self.admin_token)
            .field("tenant_name", &self.tenant_name)
            .field("timezone", &self.timezone.name())
            .field("twilio", &self.twilio)
            .field("openai", &self.openai)
            .field("whisper_model", &self.whisper_model)
            .field("transcriber", &self.transcriber)
            .field("extractor", &self.extractor)
            .field("demo_transcripts_dir", &self.demo_transcripts_dir)
            .field("s3", &self.s3)
            .field(
                "smtp_url",
                &self.smtp_url.as_ref().map(|u| redact_url(u.expose())),
            )
            .field("hardening", &self.hardening)
            .field("retention_interval", &self.retention_interval)
            .finish()
    }
}

/// Replaces the password of a URL's user info (`scheme://user:password@host`) with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let after = scheme_end + 3;
    let authority_end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    let authority = &url[after..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let redacted = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{}{redacted}{}", &url[..after], &url[after + at..])
        }
        None => url.to_owned(),
    }
}

fn http_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .ok_or_else(|| bad(var, format!("{v:?} is not an http:// or https:// URL")))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad(var, format!("{v:?} has no host")));
    }
    if v.contains(['?', '#', ' ']) {
        return Err(bad(
            var,
            format!("{v:?} must not contain a query, a fragment or spaces"),
        ));
    }
    Ok(v.to_owned())
}

fn boolean(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(bad(var, format!("{other:?} is not true or false"))),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables from `lookup` (asked by name; empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let listen = match get("CALLBOOK_LISTEN") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|_| {
                bad(
                    "CALLBOOK_LISTEN",
                    format!("{v:?} is not an address:port such as 127.0.0.1:8080 or [::]:8080"),
                )
            })?,
        };
        let public_url = match get("CALLBOOK_PUBLIC_URL") {
            Some(v) => http_url("CALLBOOK_PUBLIC_URL", &v)?,
            None => format!("http://{listen}"),
        };
        let data_dir = PathBuf::from(get("CALLBOOK_DATA_DIR").unwrap_or_else(|| "./callbook-data".into()));
        let data = data_dir.display().to_string();

        let database_url =
            get("CALLBOOK_DATABASE_URL").unwrap_or_else(|| format!("sqlite://{data}/callbook.db"));
        let known_db = ["sqlite:", "postgres://", "postgresql://", "memory:"];
        if !known_db.iter().any(|p| database_url.starts_with(p)) {
            return Err(bad(
                "CALLBOOK_DATABASE_URL",
                format!(
                    "{:?} is not a sqlite://, postgres:// or memory:// URL",
                    redact_url(&database_url)
                ),
            ));
        }

        let storage_url = get("CALLBOOK_STORAGE_URL").unwrap_or_else(|| format!("file://{data}/recordings"));
        if let Some(path) = storage_url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(bad("CALLBOOK_STORAGE_URL", "file:// needs a directory"));
            }
        } else if let Some(rest) = storage_url.strip_prefix("s3://") {
            if rest.split('/').next().unwrap_or_default().is_empty() {
                return Err(bad(
                    "CALLBOOK_STORAGE_URL",
                    "s3:// needs a bucket: s3://bucket/prefix",
                ));
            }
        } else if storage_url != "memory://" {
            return Err(bad(
                "CALLBOOK_STORAGE_URL",
                format!("{storage_url:?} is not a file://, s3:// or memory:// URL"),
            ));
        }

        let master_key = match get("CALLBOOK_MASTER_KEY") {
            None => None,
            Some(v) => Some(Keyring::parse(&v).map_err(|e| {
                bad(
                    "CALLBOOK_MASTER_KEY",
                    format!("{e} (expected [id:]base64 of 32 bytes, comma-separated, primary first)"),
                )
            })?),
        };

        let admin_token = match get("CALLBOOK_ADMIN_TOKEN") {
            None => None,
            Some(v) if v.len() < 16 || v.contains(char::is_whitespace) => {
                return Err(bad(
                    "CALLBOOK_ADMIN_TOKEN",
                    "must be at least 16 characters without spaces",
                ));
            }
            Some(v) => Some(Secret::new(v)),
        };

        let tenant_name = get("CALLBOOK_TENANT_NAME").unwrap_or_else(|| "My Business".to_owned());
        let timezone = match get("CALLBOOK_TIMEZONE") {
            None => TimeZone::UTC,
            Some(v) => TimeZone::parse(&v)
                .map_err(|_| bad("CALLBOOK_TIMEZONE", format!("{v:?} is not an IANA time zone")))?,
        };

        let account_sid = match get("TWILIO_ACCOUNT_SID") {
            None => None,
            Some(v) => {
                let ok =
                    v.len() == 34 && v.starts_with("AC") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(bad(
                        "TWILIO_ACCOUNT_SID",
                        format!("{v:?} is not a Twilio account SID (AC followed by 32 hex digits)"),
                    ));
                }
                Some(v)
            }
        };
        let auth_token = get("TWILIO_AUTH_TOKEN").map(Secret::new);
        let api_key = match (get("TWILIO_API_KEY"), get("TWILIO_API_SECRET")) {
            (Some(k), Some(s)) => Some((k, Secret::new(s))),
            (None, None) => None,
            (Some(_), None) => return Err(bad("TWILIO_API_SECRET", "missing while TWILIO_API_KEY is set")),
            (None, Some(_)) => return Err(bad("TWILIO_API_KEY", "missing while TWILIO_API_SECRET is set")),
        };
        if account_sid.is_some() && auth_token.is_none() {
            return Err(bad(
                "TWILIO_AUTH_TOKEN",
                "missing while TWILIO_ACCOUNT_SID is set (webhooks cannot be verified without it)",
            ));
        }
        if account_sid.is_none() && auth_token.is_some() {
            return Err(bad(
                "TWILIO_ACCOUNT_SID",
                "missing while TWILIO_AUTH_TOKEN is set",
            ));
        }
        let api_base_url = match get("TWILIO_API_BASE_URL") {
            None => "https://api.twilio.com".to_owned(),
            Some(v) => http_url("TWILIO_API_BASE_URL", &v)?,
        };

        let openai = OpenAiConfig {
            api_key: get("OPENAI_API_KEY").map(Secret::new),
            base_url: match get("OPENAI_BASE_URL") {
                None => "https://api.openai.com/v1".to_owned(),
                Some(v) => http_url("OPENAI_BASE_URL", &v)?,
            },
            transcribe_model: get("CALLBOOK_TRANSCRIBE_MODEL"),
            extract_model: get("CALLBOOK_EXTRACT_MODEL"),
        };
        let whisper_model = get("CALLBOOK_WHISPER_MODEL").map(PathBuf::from);

        let transcriber = match get("CALLBOOK_TRANSCRIBER").as_deref() {
            Some("openai") => TranscriberKind::OpenAi,
            Some("whisper-local") => TranscriberKind::WhisperLocal,
            Some("demo") => TranscriberKind::Demo,
            Some(other) => {
                return Err(bad(
                    "CALLBOOK_TRANSCRIBER",
                    format!("{other:?} is not one of openai, whisper-local, demo"),
                ));
            }
            None if openai.api_key.is_some() => TranscriberKind::OpenAi,
            None if whisper_model.is_some() => TranscriberKind::WhisperLocal,
            None => TranscriberKind::Demo,
        };
        if transcriber == TranscriberKind::OpenAi && openai.api_key.is_none() {
            return Err(bad("OPENAI_API_KEY", "missing while CALLBOOK_TRANSCRIBER=openai"));
        }
        if transcriber == TranscriberKind::WhisperLocal {
            match &whisper_model {
                None => {
                    return Err(bad(
                        "CALLBOOK_WHISPER_MODEL",
                        "missing while CALLBOOK_TRANSCRIBER=whisper-local",
                    ));
                }
                Some(path) if !path.is_file() => {
                    return Err(bad(
                        "CALLBOOK_WHISPER_MODEL",
                        format!("{} is not a readable model file", path.display()),
                    ));
                }
                Some(_) => {}
            }
        }

        let extractor = match get("CALLBOOK_EXTRACTOR").as_deref() {
            Some("openai") => ExtractorKind::OpenAi,
            Some("rules") => ExtractorKind::Rules,
            Some(other) => {
                return Err(bad(
                    "CALLBOOK_EXTRACTOR",
                    format!("{other:?} is not one of openai, rules"),
                ));
            }
            None if openai.api_key.is_some() => ExtractorKind::OpenAi,
            None => ExtractorKind::Rules,
        };
        if extractor == ExtractorKind::OpenAi && openai.api_key.is_none() {
            return Err(bad("OPENAI_API_KEY", "missing while CALLBOOK_EXTRACTOR=openai"));
        }

        let demo_transcripts_dir = get("CALLBOOK_DEMO_TRANSCRIPTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("demo-transcripts"));

        let s3 = S3Config {
            endpoint: match get("AWS_ENDPOINT_URL").or_else(|| get("AWS_ENDPOINT")) {
                None => None,
                Some(v) => Some(http_url("AWS_ENDPOINT_URL", &v)?),
            },
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            credentials: match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
                (Some(k), Some(s)) => Some((k, Secret::new(s))),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(bad(
                        "AWS_SECRET_ACCESS_KEY",
                        "missing while AWS_ACCESS_KEY_ID is set",
                    ));
                }
                (None, Some(_)) => {
                    return Err(bad(
                        "AWS_ACCESS_KEY_ID",
                        "missing while AWS_SECRET_ACCESS_KEY is set",
                    ));
                }
            },
            allow_http: match get("AWS_ALLOW_HTTP") {
                None => false,
                Some(v) => boolean("AWS_ALLOW_HTTP", &v)?,
            },
        };

        let smtp_url = match get("CALLBOOK_SMTP_URL") {
            None => None,
            Some(v) if v.starts_with("smtp://") || v.starts_with("smtps://") => Some(Secret::new(v)),
            Some(v) => {
                return Err(bad(
                    "CALLBOOK_SMTP_URL",
                    format!("{:?} is not an smtp:// or smtps:// URL", redact_url(&v)),
                ));
            }
        };

        // ---- issue 8 (hardening)
        let hardening = crate::hardening::HardeningConfig::from_lookup(get, &public_url)?;
        // ---- end issue 8
        // ---- issue 8 privacy/settings
        let retention_interval = match get("CALLBOOK_RETENTION_INTERVAL") {
            None => Some(crate::retention::DEFAULT_INTERVAL),
            Some(v) => {
                crate::retention::parse_interval(&v).map_err(|e| bad("CALLBOOK_RETENTION_INTERVAL", e))?
            }
        };
        // ---- end issue 8 privacy/settings

        Ok(Self {
            listen,
            public_url,
            data_dir,
            database_url: Secret::new(database_url),
            storage_url,
            master_key,
            admin_token,
            tenant_name,
            timezone,
            twilio: TwilioConfig {
                account_sid,
                auth_token,
                api_key,
                api_base_url,
            },
            openai,
            whisper_model,
            transcriber,
            extractor,
            demo_transcripts_dir,
            s3,
            smtp_url,
            hardening,
            retention_interval,
        })
    }

    /// One line per part saying what is used, without secrets (printed at start-up).
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![
            format!("listening on   http://{}", self.listen),
            format!(
                "public URL     {} (Twilio signs webhooks against it)",
                self.public_url
            ),
            format!("database       {}", redact_url(self.database_url.expose())),
            format!(
                "recordings     {} (encrypted; master key {})",
                self.storage_url,
                match &self.master_key {
                    Some(k) => format!("from CALLBOOK_MASTER_KEY, ids {}", k.ids().join(",")),
                    None => format!("in {}", self.data_dir.join("master.key").display()),
                }
            ),
            format!(
                "telephony      {}",
                if self.twilio.uses_rest() {
                    format!("Twilio REST at {}", self.twilio.api_base_url)
                } else {
                    "fake telephony (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN for Twilio)".to_owned()
                }
            ),
            format!(
                "transcriber    {}{}",
                self.transcriber.name(),
                match self.transcriber {
                    TranscriberKind::Demo => format!(
                        " (transcripts from {}/<sha256 of the audio>.txt)",
                        self.demo_transcripts_dir.display()
                    ),
                    TranscriberKind::OpenAi => format!(" at {}", self.openai.base_url),
                    TranscriberKind::WhisperLocal => String::new(),
                }
            ),
            format!("extractor      {}", self.extractor.name()),
            format!(
                "tenant         {:?} in {}",
                self.tenant_name,
                self.timezone.name()
            ),
        ];
        if self.smtp_url.is_some() {
            lines.push("e-mail         CALLBOOK_SMTP_URL is set but e-mail is not built yet".to_owned());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn err(pairs: &[(&str, &str)]) -> ConfigError {
        parse(pairs).expect_err("should be rejected")
    }

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_need_nothing() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://./callbook-data/callbook.db");
        assert_eq!(c.storage_url, "file://./callbook-data/recordings");
        assert!(c.master_key.is_none() && c.admin_token.is_none());
        assert_eq!(c.timezone.name(), "UTC");
        assert_eq!(c.tenant_name, "My Business");
        assert_eq!(c.transcriber, TranscriberKind::Demo);
        assert_eq!(c.extractor, ExtractorKind::Rules);
        assert!(!c.twilio.uses_rest());
        assert_eq!(c.twilio.api_base_url, "https://api.twilio.com");
        assert_eq!(c.openai.base_url, "https://api.openai.com/v1");
        assert_eq!(
            c.demo_transcripts_dir,
            PathBuf::from("./callbook-data/demo-transcripts")
        );
    }

    #[test]
    fn listen_and_public_url() {
        let c = parse(&[("CALLBOOK_LISTEN", "0.0.0.0:9000")]).unwrap();
        assert_eq!(c.public_url, "http://0.0.0.0:9000");
        let c = parse(&[("CALLBOOK_PUBLIC_URL", "https://hooks.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://hooks.example.com");
        assert_eq!(err(&[("CALLBOOK_LISTEN", "localhost")]).var, "CALLBOOK_LISTEN");
        assert_eq!(
            err(&[("CALLBOOK_PUBLIC_URL", "hooks.example.com")]).var,
            "CALLBOOK_PUBLIC_URL"
        );
        assert_eq!(
            err(&[("CALLBOOK_PUBLIC_URL", "https://h.example.com/?x=1")]).var,
            "CALLBOOK_PUBLIC_URL"
        );
    }

    #[test]
    fn data_dir_moves_the_embedded_defaults() {
        let c = parse(&[("CALLBOOK_DATA_DIR", "/srv/cb")]).unwrap();
        assert_eq!(c.database_url.expose(), "sqlite:///srv/cb/callbook.db");
        assert_eq!(c.storage_url, "file:///srv/cb/recordings");
        assert_eq!(c.demo_transcripts_dir, PathBuf::from("/srv/cb/demo-transcripts"));
    }

    #[test]
    fn database_url() {
        let c = parse(&[("CALLBOOK_DATABASE_URL", "postgres://app:hunter2@db:5432/cb")]).unwrap();
        assert_eq!(c.database_url.expose(), "postgres://app:hunter2@db:5432/cb");
        let e = err(&[("CALLBOOK_DATABASE_URL", "mysql://root:hunter2@db/cb")]);
        assert_eq!(e.var, "CALLBOOK_DATABASE_URL");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn storage_url() {
        for ok in ["memory://", "s3://bucket/prefix", "file:///var/lib/cb"] {
            assert_eq!(parse(&[("CALLBOOK_STORAGE_URL", ok)]).unwrap().storage_url, ok);
        }
        for bad in ["gs://b", "s3://", "file://", "/var/lib"] {
            assert_eq!(
                err(&[("CALLBOOK_STORAGE_URL", bad)]).var,
                "CALLBOOK_STORAGE_URL",
                "{bad}"
            );
        }
    }

    #[test]
    fn master_key() {
        let key = callbook_storage::MasterKey::generate(Some("k1"))
            .unwrap()
            .export();
        let c = parse(&[("CALLBOOK_MASTER_KEY", &key)]).unwrap();
        assert_eq!(c.master_key.unwrap().ids(), vec!["k1"]);
        let e = err(&[("CALLBOOK_MASTER_KEY", "k1:not-base64!")]);
        assert_eq!(e.var, "CALLBOOK_MASTER_KEY");
        assert_eq!(
            err(&[("CALLBOOK_MASTER_KEY", "k1:AAAA")]).var,
            "CALLBOOK_MASTER_KEY"
        );
    }

    #[test]
    fn admin_token() {
        let c = parse(&[("CALLBOOK_ADMIN_TOKEN", "0123456789abcdef-long")]).unwrap();
        assert_eq!(c.admin_token.unwrap().expose(), "0123456789abcdef-long");
        assert_eq!(
            err(&[("CALLBOOK_ADMIN_TOKEN", "short")]).var,
            "CALLBOOK_ADMIN_TOKEN"
        );
    }

    #[test]
    fn tenant_and_timezone() {
        let c = parse(&[
            ("CALLBOOK_TENANT_NAME", "Acme Plumbing"),
            ("CALLBOOK_TIMEZONE", "America/New_York"),
        ])
        .unwrap();
        assert_eq!(c.tenant_name, "Acme Plumbing");
        assert_eq!(c.timezone.name(), "America/New_York");
        let e = err(&[("CALLBOOK_TIMEZONE", "Mars/Base")]);
        assert_eq!(
            e.to_string(),
            r#"CALLBOOK_TIMEZONE: "Mars/Base" is not an IANA time zone"#
        );
    }

    #[test]
    fn twilio() {
        let c = parse(&[
            ("TWILIO_ACCOUNT_SID", SID),
            ("TWILIO_AUTH_TOKEN", "tok"),
            ("TWILIO_API_BASE_URL", "http://127.0.0.1:9999/"),
        ])
        .unwrap();
        assert!(c.twilio.uses_rest());
        assert_eq!(c.twilio.api_base_url, "http://127.0.0.1:9999");
        assert_eq!(
            err(&[("TWILIO_ACCOUNT_SID", "ACnope"), ("TWILIO_AUTH_TOKEN", "t")]).var,
            "TWILIO_ACCOUNT_SID"
        );
        assert_eq!(err(&[("TWILIO_ACCOUNT_SID", SID)]).var, "TWILIO_AUTH_TOKEN");
        assert_eq!(err(&[("TWILIO_AUTH_TOKEN", "tok")]).var, "TWILIO_ACCOUNT_SID");
        assert_eq!(err(&[("TWILIO_API_KEY", "SK1")]).var, "TWILIO_API_SECRET");
        assert_eq!(err(&[("TWILIO_API_SECRET", "s")]).var, "TWILIO_API_KEY");
        assert_eq!(
            err(&[
                ("TWILIO_ACCOUNT_SID", SID),
                ("TWILIO_AUTH_TOKEN", "t"),
                ("TWILIO_API_BASE_URL", "ftp://x")
            ])
            .var,
            "TWILIO_API_BASE_URL"
        );
    }

    #[test]
    fn openai_and_provider_choice() {
        let c = parse(&[
            ("OPENAI_API_KEY", "sk-x"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
        ])
        .unwrap();
        assert_eq!(c.transcriber, TranscriberKind::OpenAi);
        assert_eq!(c.extractor, ExtractorKind::OpenAi);
        assert_eq!(c.openai.base_url, "http://127.0.0.1:1/v1");
        let c = parse(&[
            ("OPENAI_API_KEY", "sk-x"),
            ("CALLBOOK_TRANSCRIBER", "demo"),
            ("CALLBOOK_EXTRACTOR", "rules"),
            ("CALLBOOK_TRANSCRIBE_MODEL", "whisper-1"),
            ("CALLBOOK_EXTRACT_MODEL", "gpt-4o-mini"),
        ])
        .unwrap();
        assert_eq!(
            (c.transcriber, c.extractor),
            (TranscriberKind::Demo, ExtractorKind::Rules)
        );
        assert_eq!(c.openai.transcribe_model.as_deref(), Some("whisper-1"));
        assert_eq!(c.openai.extract_model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(err(&[("CALLBOOK_TRANSCRIBER", "openai")]).var, "OPENAI_API_KEY");
        assert_eq!(err(&[("CALLBOOK_EXTRACTOR", "openai")]).var, "OPENAI_API_KEY");
        assert_eq!(
            err(&[("CALLBOOK_TRANSCRIBER", "vosk")]).var,
            "CALLBOOK_TRANSCRIBER"
        );
        assert_eq!(err(&[("CALLBOOK_EXTRACTOR", "llama")]).var, "CALLBOOK_EXTRACTOR");
        assert_eq!(
            err(&[("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", "api")]).var,
            "OPENAI_BASE_URL"
        );
    }

    #[test]
    fn whisper_model() {
        let e = err(&[("CALLBOOK_WHISPER_MODEL", "/nonexistent/ggml.bin")]);
        assert_eq!(e.var, "CALLBOOK_WHISPER_MODEL");
        assert_eq!(
            err(&[("CALLBOOK_TRANSCRIBER", "whisper-local")]).var,
            "CALLBOOK_WHISPER_MODEL"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        let c = parse(&[("CALLBOOK_WHISPER_MODEL", file.path().to_str().unwrap())]).unwrap();
        assert_eq!(c.transcriber, TranscriberKind::WhisperLocal);
    }

    #[test]
    fn aws() {
        let c = parse(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9100"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("AWS_ALLOW_HTTP", "true"),
        ])
        .unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://127.0.0.1:9100"));
        assert!(c.s3.allow_http);
        assert_eq!(c.s3.credentials.as_ref().unwrap().0, "AKID");
        assert_eq!(err(&[("AWS_ACCESS_KEY_ID", "AKID")]).var, "AWS_SECRET_ACCESS_KEY");
        assert_eq!(err(&[("AWS_SECRET_ACCESS_KEY", "s")]).var, "AWS_ACCESS_KEY_ID");
        assert_eq!(err(&[("AWS_ALLOW_HTTP", "maybe")]).var, "AWS_ALLOW_HTTP");
    }

    #[test]
    fn smtp_url() {
        let c = parse(&[("CALLBOOK_SMTP_URL", "smtp://mail:pw123@127.0.0.1:2525")]).unwrap();
        assert!(c.smtp_url.is_some());
        let e = err(&[("CALLBOOK_SMTP_URL", "http://mail:pw123@x")]);
        assert_eq!(e.var, "CALLBOOK_SMTP_URL");
        assert!(!e.to_string().contains("pw123"));
    }

    #[test]
    fn debug_and_describe_never_show_secrets() {
        let key = callbook_storage::MasterKey::generate(Some("k1"))
            .unwrap()
            .export();
        let c = parse(&[
            ("CALLBOOK_DATABASE_URL", "postgres://app:dbpass-123@db/cb"),
            ("CALLBOOK_MASTER_KEY", &key),
            ("CALLBOOK_ADMIN_TOKEN", "admin-token-0123456789"),
            ("TWILIO_ACCOUNT_SID", SID),
            ("TWILIO_AUTH_TOKEN", "twilio-token-xyz"),
            ("TWILIO_API_KEY", "SKkey"),
            ("TWILIO_API_SECRET", "twilio-secret-xyz"),
            ("OPENAI_API_KEY", "sk-openai-xyz"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-xyz"),
            ("CALLBOOK_SMTP_URL", "smtps://mail:smtp-pass-xyz@mx"),
        ])
        .unwrap();
        let shown = format!("{c:?}\n{}", c.describe().join("\n"));
        let b64 = key.split_once(':').unwrap().1;
        for secret in [
            "dbpass-123",
            b64,
            "admin-token-0123456789",
            "twilio-token-xyz",
            "twilio-secret-xyz",
            "sk-openai-xyz",
            "aws-secret-xyz",
            "smtp-pass-xyz",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("postgres://app:***@db/cb"), "{shown}");
    }

    #[test]
    fn redact_url_keeps_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://u:p@h:1/d?x=1"),
            "postgres://u:***@h:1/d?x=1"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("sqlite://./a.db"), "sqlite://./a.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
