//! The dashboard: a mobile-first, server-rendered web app under `/app` for the people who use Callbook — a
//! tradesperson on a phone between jobs and an office manager at a desk.
//!
//! Pages are HTML rendered on the server with [maud](https://maud.lambda.xyz) (compile-time templates, escaped by
//! default, nothing to ship beside the binary) from the same store calls the REST API makes, in the signed-in
//! user's tenant. Small JavaScript modules (`assets/*.js`, no framework, no build step) enhance them: every write
//! goes through the JSON API under `/api/v1` with the session cookie and its CSRF token, so the browser and the
//! API cannot disagree about validation, versions or permissions. Assets are embedded with
//! [include_dir](https://docs.rs/include_dir) and served with a content hash in the URL (cached for a year).
//!
//! | path | page |
//! |---|---|
//! | `/app/login` | sign in |
//! | `/app` | home: today at a glance |
//! | `/app/board` | the pipeline board |
//! | `/app/jobs/{id}` | a job |
//! | `/app/jobs/new` | a job taken by hand |
//! | `/app/calls`, `/app/calls/{id}` | calls and the review page |
//! | `/app/customers`, `/app/customers/{id}` | customers |
//! | `/app/calendar` | week and month views |
//! | `/app/settings` | settings |
//! | `/app/notifications` | notifications |
//!
//! `/favicon.ico` redirects to the SVG icon in `assets/`, which every page names in its head.
//!
//! A request without a valid session is redirected to `/app/login?next=…` (any `/app/…` path, also one no page
//! has); another tenant's ids are `404`, as in the API.
//!
//! The shell ([`layout`]): a header with the business's name, "Notifications" with the unread count
//! (`#notification-count`, rendered from the store and kept current by `app.js`) and "Sign out"; the main
//! navigation (`nav[aria-label="Main"]`), a bottom tab bar on phones (≤ 720 px) and a sidebar on desktops;
//! `main#main`; `#toasts`. Pages format with the helpers here: [`stage_label`], [`urgency_label`]/
//! [`urgency_class`], [`call_state_badge`], [`confidence_badge`]/[`confidence_class`], [`format_money`],
//! [`format_duration`], and the [`Viewer`]'s times in the business's zone ([`Viewer::local_time`],
//! [`Viewer::short_time`], [`Viewer::local_date`], [`Viewer::today_bounds`] …).
//!
//! `assets/app.js` is the one shared module (loaded unversioned so it runs once per page): `api()` (JSON with
//! the CSRF token; failures throw `ApiProblem`), `toast()`, `announce()`, `onEvent()` over one `EventSource`
//! on `/api/v1/events` (`document.body.dataset.live` is `connected` or `reconnecting`), `refreshMain()`,
//! `enhance()`/`onEnhance()` wiring declarative `data-api` forms and buttons, `formJson()`, `escapeHtml()`. On
//! every page it also signs out, keeps the unread badge current, and toasts new jobs, calls needing review and
//! failed calls when the user's notification preferences want them live.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use callbook_jobs::{CallState, Money, Stage, Tenant, Urgency, User};
use chrono::{DateTime, NaiveDateTime, Utc};
use include_dir::{Dir, include_dir};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::api::auth_secrets::{SESSION_COOKIE, cookie};
use crate::api::{ApiError, ApiState, Principal};

pub mod board;
pub mod calendar;
pub mod calls;
pub mod customers;
pub mod home;
pub mod jobs;
pub mod login;
pub mod notifications;
pub mod settings;

/// Where the dashboard lives.
pub const PREFIX: &str = "/app";

/// The Content-Security-Policy of dashboard pages: the site policy, plus `blob:`/`data:` images (photo previews
/// before upload) and `blob:` media. Scripts and styles only from files on this origin: no inline code.
pub const PAGE_CSP: &str = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The dashboard router (pages and assets); the app merges it beside the API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to(PREFIX) }))
        .route("/app/", get(|| async { Redirect::to(PREFIX) }))
        .route("/app/assets/{*file}", get(asset))
        // browsers ask for /favicon.ico on their own (pages name the SVG icon; other documents do not)
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/app/assets/favicon.svg") }),
        )
        // any other /app path: the login redirect without a session, else an HTML 404 page
        .route("/app/{*rest}", get(unknown_page))
        .merge(login::routes())
        .merge(home::routes())
        .merge(board::routes())
        .merge(jobs::routes())
        .merge(calendar::routes())
        .merge(calls::routes())
        .merge(customers::routes())
        .merge(settings::routes())
        .merge(notifications::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(page_headers))
}

async fn unknown_page(_viewer: Viewer) -> WebError {
    WebError::Api(ApiError::not_found("page"))
}

async fn page_headers(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
        // pages carry personal data and a CSRF token: never cached, never stored by a shared cache
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

// ------------------------------------------------------------------------------------------------ the viewer

/// The signed-in user of a page request: the API's [`Principal`] (session cookie or bearer token), their tenant
/// and user, and the CSRF token the page's scripts send with writes.
///
/// Rejection: no or an expired session → `303` to the login page with `next` set to the requested path.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who the request acts as; every store call of a page uses `principal.tenant`.
    pub principal: Principal,
    /// The tenant.
    pub tenant: Tenant,
    /// The user, when signed in as one (not for tenant-wide tokens).
    pub user: Option<User>,
    /// The session's CSRF token (empty for bearer requests).
    pub csrf: String,
    /// Unread in-app notifications of this user (their own and tenant-wide ones), for the header badge.
    pub unread: usize,
}

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| PREFIX.to_owned());
        let principal = Principal::from_request_parts(parts, state).await.map_err(|e| {
            if e.status() == StatusCode::UNAUTHORIZED {
                WebError::LoginRequired { next }
            } else {
                WebError::from(e)
            }
        })?;
        let tenant = state
            .store
            .get_tenant(principal.tenant)
            .await
            .map_err(ApiError::from)?;
        let user = match principal.user {
            Some(id) => Some(
                state
                    .store
                    .get_user(principal.tenant, id)
                    .await
                    .map_err(ApiError::from)?,
            ),
            None => None,
        };
        let csrf = cookie(&parts.headers, SESSION_COOKIE)
            .map(|secret| state.accounts.csrf.token(secret))
            .unwrap_or_default();
        let unread = state
            .store
            .count_unread_notifications(principal.tenant, principal.user)
            .await
            .map_err(ApiError::from)?;
        let unread = usize::try_from(unread).unwrap_or(usize::MAX);
        Ok(Viewer {
            principal,
            tenant,
            user,
            csrf,
            unread,
        })
    }
}

impl Viewer {
    /// The name shown for the signed-in user.
    pub fn display_name(&self) -> &str {
        self.user
            .as_ref()
            .map(|u| u.login.as_str())
            .unwrap_or("API token")
    }

    /// `when` in the business's zone, as `Tue 24 Nov 14:30`.
    pub fn local_time(&self, when: DateTime<Utc>) -> String {
        when.with_timezone(&self.tenant.timezone.tz())
            .format("%a %-d %b %H:%M")
            .to_string()
    }

    /// `when` as a wall-clock date and time in the business's zone.
    pub fn local(&self, when: DateTime<Utc>) -> NaiveDateTime {
        when.with_timezone(&self.tenant.timezone.tz()).naive_local()
    }

    /// The date of `when` in the business's zone, as `Tue 24 Nov 2026`.
    pub fn local_date(&self, when: DateTime<Utc>) -> String {
        self.local(when).format("%a %-d %b %Y").to_string()
    }

    /// The clock time of `when` in the business's zone, as `14:30`.
    pub fn local_clock(&self, when: DateTime<Utc>) -> String {
        self.local(when).format("%H:%M").to_string()
    }

    /// `when` for an `<input type="datetime-local">` in the business's zone: `2026-11-24T14:30`.
    pub fn datetime_local_value(&self, when: DateTime<Utc>) -> String {
        self.local(when).format("%Y-%m-%dT%H:%M").to_string()
    }

    /// `when` relative to now for lists: `14:30` today, `Yesterday 14:30`, else [`Viewer::local_time`].
    pub fn short_time(&self, when: DateTime<Utc>) -> String {
        let today = self.local(Utc::now()).date();
        let local = self.local(when);
        let day = local.date();
        if day == today {
            local.format("%H:%M").to_string()
        } else if today.pred_opt() == Some(day) {
            local.format("Yesterday %H:%M").to_string()
        } else {
            self.local_time(when)
        }
    }

    /// Today's start and the next day's start in the business's zone, as UTC instants (DST-safe).
    pub fn today_bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        day_bounds(&self.tenant.timezone, Utc::now())
    }
}

/// The start of `now`'s day and of the next day in `zone`, as UTC instants (a day with a DST change is 23 or
/// 25 hours; a midnight that does not exist starts the day at the first instant that does).
pub fn day_bounds(zone: &callbook_jobs::TimeZone, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::{Days, NaiveTime, TimeZone};
    let zone = zone.tz();
    let day = now.with_timezone(&zone).date_naive();
    let start_of = |d: chrono::NaiveDate| -> DateTime<Utc> {
        let mut t = d.and_time(NaiveTime::MIN);
        // a gap at midnight: step forward until a local time exists
        for _ in 0..8 {
            if let Some(local) = zone.from_local_datetime(&t).earliest() {
                return local.with_timezone(&Utc);
            }
            t += chrono::TimeDelta::minutes(30);
        }
        d.and_time(NaiveTime::MIN).and_utc()
    };
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    (start_of(day), start_of(next))
}

// ------------------------------------------------------------------------------------------------ labels

/// A stage's name as people read it: `Quote requested`, `Quote sent`, `Confirmed`, `In progress`, `Completed`,
/// `Cancelled`.
pub fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::QuoteRequested => "Quote requested",
        Stage::QuoteSent => "Quote sent",
        Stage::Confirmed => "Confirmed",
        Stage::InProgress => "In progress",
        Stage::Completed => "Completed",
        Stage::Cancelled => "Cancelled",
        #[allow(unreachable_patterns)]
        _ => "Other",
    }
}

/// An urgency's name: `Emergency`, `Urgent`, `Normal`, `Flexible`.
pub fn urgency_label(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Emergency => "Emergency",
        Urgency::Urgent => "Urgent",
        Urgency::Normal => "Normal",
        Urgency::Flexible => "Flexible",
        #[allow(unreachable_patterns)]
        _ => "Normal",
    }
}

/// The badge class of an urgency (`bad` emergency, `warn` urgent, `info` normal, `ok` flexible): `span.badge.(…)`.
pub fn urgency_class(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Emergency => "bad",
        Urgency::Urgent => "warn",
        Urgency::Flexible => "ok",
        _ => "info",
    }
}

/// A call's processing state as people read it: `Received`, `Waiting for recording`, `Queued`, `Processing`,
/// `Booked`, `No appointment`, `Needs review`, `Failed`.
pub fn call_state_label(state: CallState) -> &'static str {
    match state {
        CallState::Received => "Received",
        CallState::AwaitingRecording => "Waiting for recording",
        CallState::Queued => "Queued",
        CallState::Processing => "Processing",
        CallState::Done => "Booked",
        CallState::NoAppointment => "No appointment",
        CallState::NeedsReview => "Needs review",
        CallState::Dead => "Failed",
        #[allow(unreachable_patterns)]
        _ => "Unknown",
    }
}

/// The badge class of a call state: `ok` booked, `warn` needs review, `bad` failed, `info` in progress, none
/// (plain badge) for no appointment: `span class={"badge " (call_state_class(s))}`.
pub fn call_state_class(state: CallState) -> &'static str {
    match state {
        CallState::Done => "ok",
        CallState::NeedsReview => "warn",
        CallState::Dead => "bad",
        CallState::NoAppointment => "",
        _ => "info",
    }
}

/// A call state badge: `<span class="badge warn" data-state="needs_review">Needs review</span>`.
pub fn call_state_badge(state: CallState) -> Markup {
    html! {
        span class={ "badge " (call_state_class(state)) } data-state=(state.as_str()) { (call_state_label(state)) }
    }
}

/// The confidence level class of `.conf`: `high` (≥ 0.85), `mid` (≥ 0.6), else `low`.
pub fn confidence_class(confidence: f32) -> &'static str {
    if confidence >= 0.85 {
        "high"
    } else if confidence >= 0.6 {
        "mid"
    } else {
        "low"
    }
}

/// A confidence badge: `<span class="conf high" title="Confidence">92%</span>`.
pub fn confidence_badge(confidence: f32) -> Markup {
    let percent = (confidence.clamp(0.0, 1.0) * 100.0).round() as u32;
    html! {
        span class={ "conf " (confidence_class(confidence)) } title="Confidence" {
            (percent) "%" span.visually-hidden { " confidence" }
        }
    }
}

/// Money for people: `$89.00`, `€12.50`, `£7.00`, else `CHF 89.00` (zero-decimal currencies without cents).
pub fn format_money(money: &Money) -> String {
    let decimals = match money.currency.as_str() {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "HUF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    };
    let scale = 10_i64.pow(decimals);
    let sign = if money.minor < 0 { "-" } else { "" };
    let abs = money.minor.unsigned_abs();
    let whole = abs / scale as u64;
    let frac = abs % scale as u64;
    let amount = if decimals == 0 {
        group_thousands(whole)
    } else {
        format!(
            "{}.{:0width$}",
            group_thousands(whole),
            frac,
            width = decimals as usize
        )
    };
    match money.currency.as_str() {
        "USD" | "CAD" | "AUD" | "NZD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        other => format!("{sign}{other} {amount}"),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration for people: `45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`.
pub fn format_duration(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

// ------------------------------------------------------------------------------------------------ errors

/// A page that could not be shown.
#[derive(Debug)]
pub enum WebError {
    /// No session: redirect to the login page, then back to `next`.
    LoginRequired {
        /// The path and query to return to.
        next: String,
    },
    /// Anything the API would answer with a problem document (404 for other tenants' ids, 403 for roles …).
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::Api(e)
    }
}

impl From<callbook_jobs::Error> for WebError {
    fn from(e: callbook_jobs::Error) -> Self {
        WebError::Api(ApiError::from(e))
    }
}

/// The result of a page handler.
pub type WebResult<T = Markup> = Result<T, WebError>;

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::LoginRequired { next } => {
                let target = format!("{PREFIX}/login?next={}", percent_encode(&next));
                Redirect::to(&target).into_response()
            }
            WebError::Api(e) => {
                let status = e.status();
                let (title, text) = match status {
                    StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or it was deleted."),
                    StatusCode::FORBIDDEN => ("Not allowed", "Your role does not allow this page."),
                    s if s.is_client_error() => ("Cannot show this page", "The request was not valid."),
                    _ => (
                        "Something went wrong",
                        "The page could not be loaded. Try again in a moment.",
                    ),
                };
                let body = html! {
                    (DOCTYPE)
                    html lang="en" {
                        head {
                            meta charset="utf-8";
                            meta name="viewport" content="width=device-width, initial-scale=1";
                            title { (title) " · Callbook" }
                            link rel="icon" type="image/svg+xml" href=(asset_url("favicon.svg"));
                            link rel="stylesheet" href=(asset_url("app.css"));
                        }
                        body.error-page {
                            main #main {
                                h1 { (title) }
                                p { (text) }
                                p { a href=(PREFIX) { "Back to the dashboard" } }
                            }
                        }
                    }
                };
                (status, body).into_response()
            }
        }
    }
}

/// Percent-encodes a string for a query parameter value.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------ layout

/// The main navigation's entries; the current one is marked `aria-current="page"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/app`
    Home,
    /// `/app/board` and job pages
    Board,
    /// `/app/calls`
    Calls,
    /// `/app/customers`
    Customers,
    /// `/app/calendar`
    Calendar,
    /// `/app/settings`
    Settings,
    /// `/app/notifications`
    Notifications,
    /// Pages outside the navigation (login, errors).
    None,
}

const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Home, "/app", "Home"),
    (Nav::Board, "/app/board", "Board"),
    (Nav::Calls, "/app/calls", "Calls"),
    (Nav::Customers, "/app/customers", "Customers"),
    (Nav::Calendar, "/app/calendar", "Calendar"),
    (Nav::Settings, "/app/settings", "Settings"),
];

/// What a page adds to the layout.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The `<title>` (before " · Callbook") and the page's `h1`.
    pub title: &'a str,
    /// The navigation entry to mark current.
    pub nav: Nav,
    /// Extra JavaScript modules from `assets/` (besides `app.js`).
    pub scripts: &'a [&'a str],
    /// Extra stylesheets from `assets/` (besides `app.css`).
    pub styles: &'a [&'a str],
}

impl<'a> Page<'a> {
    /// A page with no extra assets.
    pub fn new(title: &'a str, nav: Nav) -> Self {
        Page {
            title,
            nav,
            scripts: &[],
            styles: &[],
        }
    }
}

/// The document head shared by every page: charset, viewport, CSRF token, styles and scripts.
fn head(title: &str, csrf: &str, zone: Option<&str>, styles: &[&str], scripts: &[&str]) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            link rel="icon" type="image/svg+xml" href=(asset_url("favicon.svg"));
            meta name="csrf-token" content=(csrf);
            @if let Some(zone) = zone {
                meta name="tenant-zone" content=(zone);
            }
            title { (title) " · Callbook" }
            link rel="stylesheet" href=(asset_url("app.css"));
            @for style in styles {
                link rel="stylesheet" href=(asset_url(style));
            }
            // unversioned: page modules import "./app.js", and one URL means one module instance
            script type="module" src="/app/assets/app.js" {}
            @for script in scripts {
                script type="module" src=(asset_url(script)) {}
            }
        }
    }
}

/// The whole document around a page's `body`: head, header (tenant, notifications with the unread count,
/// "Sign out"), navigation (a bottom tab bar on phones, a sidebar on desktops), `<main id="main">`, toasts.
pub fn layout(viewer: &Viewer, page: Page<'_>, body: Markup) -> Markup {
    let unread = viewer.unread;
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(page.title, &viewer.csrf, Some(viewer.tenant.timezone.name()), page.styles, page.scripts))
            body.app {
                a.skip-link href="#main" { "Skip to content" }
                header.app-header {
                    a.brand href=(PREFIX) { span.brand-mark aria-hidden="true" { "☎" } "Callbook" }
                    span.tenant-name { (viewer.tenant.name) }
                    a.notifications-link href="/app/notifications"
                        aria-current=[(page.nav == Nav::Notifications).then_some("page")]
                        aria-label=[(unread > 0).then(|| format!("Notifications, {unread} unread"))] {
                        (bell())
                        span.notifications-label { "Notifications" }
                        " "
                        span #notification-count .badge.count hidden[unread == 0] { (unread) }
                    }
                    button #sign-out .button.small.quiet type="button" title=(format!("Signed in as {}", viewer.display_name())) {
                        "Sign out"
                    }
                }
                nav.app-nav aria-label="Main" {
                    ul {
                        @for (entry, href, label) in NAV {
                            li {
                                a href=(href) aria-current=[(entry == page.nav).then_some("page")] {
                                    span.nav-icon aria-hidden="true" { (nav_icon(entry)) }
                                    span.nav-label { (label) }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    (body)
                }
                div #toasts.toasts role="status" aria-live="polite" {}
            }
        }
    }
}

/// A bell icon (inline SVG: no request, no font needed; allowed by the CSP as markup, not style).
fn bell() -> Markup {
    html! {
        svg.icon aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="22" height="22" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" {
            path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" {}
            path d="M13.7 21a2 2 0 0 1-3.4 0" {}
        }
    }
}

fn nav_icon(entry: Nav) -> &'static str {
    match entry {
        Nav::Home => "⌂",
        Nav::Board => "▦",
        Nav::Calls => "☏",
        Nav::Customers => "☺",
        Nav::Calendar => "▤",
        Nav::Settings => "⚙",
        Nav::Notifications | Nav::None => "•",
    }
}

/// A document without the signed-in chrome (the login page): a centred `main#main` and toasts.
pub fn bare_layout(title: &str, scripts: &[&str], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, "", None, &[], scripts))
            body.bare {
                main #main tabindex="-1" {
                    (body)
                }
                div #toasts.toasts role="status" aria-live="polite" {}
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ assets

fn asset_hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        let mut map = HashMap::new();
        collect_hashes(&ASSETS, &mut map);
        map
    })
}

fn collect_hashes(dir: &Dir<'static>, map: &mut HashMap<String, String>) {
    for file in dir.files() {
        let digest = Sha256::digest(file.contents());
        map.insert(
            file.path().to_string_lossy().replace('\\', "/"),
            hex::encode(&digest[..6]),
        );
    }
    for sub in dir.dirs() {
        collect_hashes(sub, map);
    }
}

/// The URL of an embedded asset with its content hash (`/app/assets/board.js?v=3f2a…`), cached for a year.
pub fn asset_url(name: &str) -> String {
    match asset_hashes().get(name) {
        Some(hash) => format!("{PREFIX}/assets/{name}?v={hash}"),
        None => format!("{PREFIX}/assets/{name}"),
    }
}

#[derive(Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn asset(Path(file): Path<String>, Query(query): Query<AssetQuery>, headers: HeaderMap) -> Response {
    let Some(found) = ASSETS.get_file(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let hash = asset_hashes().get(&file).cloned().unwrap_or_default();
    let etag = format!("\"{hash}\"");
    let cache = if query.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let content_type = match file.rsplit('.').next().unwrap_or("") {
            "js" | "mjs" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "ico" => "image/x-icon",
            "woff2" => "font/woff2",
            "webmanifest" => "application/manifest+json",
            "txt" => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        ([(header::CONTENT_TYPE, content_type)], found.contents()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}
