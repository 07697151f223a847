//! Error reporting to Sentry (feature `sentry`, off by default): errors and panics, with personal data
//! stripped before anything leaves the process.
//!
//! [`init_from_env`] reads `SENTRY_DSN` (absent or empty → nothing is set up and nothing is sent),
//! `SENTRY_ENVIRONMENT` (default `production`) and `SENTRY_RELEASE` (default `callbook-server@<version>`). The
//! server calls it first thing in `serve::run` and keeps the guard until the process ends, which flushes
//! queued events on shutdown.
//!
//! Privacy: `send_default_pii` is off, and [`scrub`] runs as `before_send` on every event:
//! * the request keeps its method, its URL **without** the query, and only the headers in [`SAFE_HEADERS`];
//!   bodies, cookies, query strings and the environment are dropped;
//! * the user keeps only an opaque `id` (no IP address, e-mail, name or other fields);
//! * `extra` keeps numbers and booleans only, free-form contexts (`Context::Other`, the HTTP response) are
//!   dropped, breadcrumbs keep their category, level and time but not their message or data — any of these
//!   could carry a phone number, an address or transcript text;
//! * messages, exception values and tags have every run of 7 or more digits (with phone separators) and every
//!   e-mail address replaced by `[redacted]`.
//!
//! The `sentry` crate is the official SDK. It is built with `default-features = false` and only `backtrace`,
//! `contexts`, `panic`, and the `reqwest` transport over `rustls` (no native TLS, no release-health sessions, no
//! logs or metrics).

use std::borrow::Cow;
use std::sync::Arc;

use ::sentry::protocol::{Context, Event, Value};

/// Request headers reported to Sentry; every other header is dropped.
pub const SAFE_HEADERS: [&str; 5] = [
    "accept",
    "content-length",
    "content-type",
    "user-agent",
    "x-request-id",
];

const REDACTED: &str = "[redacted]";

/// Sets Sentry up from `SENTRY_DSN`; `None` (a no-op) when it is unset or empty.
///
/// Keep the guard alive for the life of the process: dropping it flushes and stops reporting.
///
/// # Errors
///
/// A DSN that does not parse, with the variable named (the DSN itself holds a key and is not echoed).
pub fn init_from_env() -> anyhow::Result<Option<::sentry::ClientInitGuard>> {
    let Some(dsn) = std::env::var("SENTRY_DSN").ok().filter(|d| !d.trim().is_empty()) else {
        return Ok(None);
    };
    let environment = std::env::var("SENTRY_ENVIRONMENT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "production".to_owned());
    init(dsn.trim(), &environment).map(Some)
}

/// Sets Sentry up with `dsn` and `environment` (what [`init_from_env`] does after reading the variables).
///
/// # Errors
///
/// A DSN that does not parse.
pub fn init(dsn: &str, environment: &str) -> anyhow::Result<::sentry::ClientInitGuard> {
    let dsn: ::sentry::types::Dsn = dsn
        .parse()
        .map_err(|_| anyhow::anyhow!("SENTRY_DSN: not a Sentry DSN (https://KEY@HOST/PROJECT)"))?;
    let release: Cow<'static, str> = match std::env::var("SENTRY_RELEASE") {
        Ok(release) if !release.trim().is_empty() => Cow::Owned(release),
        _ => Cow::Borrowed(concat!("callbook-server@", env!("CARGO_PKG_VERSION"))),
    };
    let mut options = ::sentry::ClientOptions::new();
    options.dsn = Some(dsn);
    options.release = Some(release);
    options.environment = Some(Cow::Owned(environment.to_owned()));
    options.send_default_pii = false;
    options.server_name = None;
    options.before_send = Some(Arc::new(|event| Some(scrub(event))));
    Ok(::sentry::init(options))
}

/// Removes everything from `event` that could identify a caller or carry what they said (see the module docs).
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = &mut event.request {
        request.data = None;
        request.cookies = None;
        request.query_string = None;
        request.env.clear();
        request
            .headers
            .retain(|name, _| SAFE_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        if let Some(url) = &mut request.url {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
    }
    if let Some(user) = &mut event.user {
        user.ip_address = None;
        user.email = None;
        user.username = None;
        user.other.clear();
    }
    event.server_name = None;
    event
        .extra
        .retain(|_, v| matches!(v, Value::Number(_) | Value::Bool(_) | Value::Null));
    event.contexts.retain(|_, c| {
        matches!(
            c,
            Context::Os(_) | Context::Runtime(_) | Context::Device(_) | Context::App(_) | Context::Trace(_)
        )
    });
    for crumb in &mut event.breadcrumbs.values {
        crumb.message = None;
        crumb.data.clear();
    }
    for value in event.tags.values_mut() {
        *value = redact_text(value);
    }
    if let Some(message) = &mut event.message {
        *message = redact_text(&summary(message));
    }
    if let Some(entry) = &mut event.logentry {
        entry.message = redact_text(&summary(&entry.message));
        entry.params.clear();
    }
    if let Some(culprit) = &mut event.culprit {
        *culprit = redact_text(culprit);
    }
    for exception in &mut event.exception.values {
        if let Some(value) = &mut exception.value {
            *value = redact_text(&summary(value));
        }
    }
    event
}

/// The part of an error or panic message before its first `": "`: Rust messages put the fixed summary first
/// and the details (values, the source error's text) after a colon, and details are where a number or a
/// transcript would be. The cut is marked with `: …`; error sources are reported as exceptions of their own.
///
/// ```
/// use callbook_server::sentry::summary;
/// assert_eq!(summary("extraction failed: caller said 42 Oak Street"), "extraction failed: …");
/// assert_eq!(summary("worker lease lost"), "worker lease lost");
/// ```
pub fn summary(message: &str) -> String {
    match message.find(": ") {
        Some(at) => format!("{}…", &message[..at + 2]),
        None => message.to_owned(),
    }
}

/// `text` with phone-number-like digit runs (7+ digits, separators `+ - . ( )` and spaces allowed between
/// them) and e-mail addresses replaced by `[redacted]`.
///
/// ```
/// use callbook_server::sentry::redact_text;
/// assert_eq!(redact_text("call +1 (415) 555-0100 now"), "call [redacted] now");
/// assert_eq!(redact_text("job 42 of 2026"), "job 42 of 2026");
/// assert_eq!(redact_text("from maria@example.com"), "from [redacted]");
/// ```
pub fn redact_text(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .map(|w| {
            if w.contains('@') && w.split('@').all(|p| !p.is_empty()) {
                REDACTED.to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect();
    redact_digit_runs(&words.join(" "))
}

fn redact_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_sep = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')' | '+');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || (chars[i] == '+' || chars[i] == '(') {
            // The longest run of digits and separators from here, ending on a digit.
            let mut j = i;
            let mut end = None;
            let mut digits = 0;
            while j < chars.len() && (chars[j].is_ascii_digit() || is_sep(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    end = Some(j);
                }
                j += 1;
            }
            if let Some(end) = end
                && digits >= 7
            {
                out.push_str(REDACTED);
                i = end + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_go_and_short_numbers_stay() {
        assert_eq!(redact_text("To +14155550100."), "To [redacted].");
        assert_eq!(
            redact_text("ring 415.555.0100 or (415) 555 0101"),
            "ring [redacted] or [redacted]"
        );
        assert_eq!(
            redact_text("HTTP 502 after 3 tries, id 12345"),
            "HTTP 502 after 3 tries, id 12345"
        );
        assert_eq!(redact_text("a@b"), "[redacted]");
    }
}
