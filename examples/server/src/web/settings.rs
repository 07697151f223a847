//! The settings page, `/app/settings`: one page with a section navigation (a sticky column on a desktop, a
//! jump menu on a phone) and one section per area, each a form that saves through the JSON API.
//!
//! | section | reads | writes | role to write |
//! |---|---|---|---|
//! | `#profile` | `GET /settings/profile` | `PUT /settings/profile` | admin |
//! | `#phone-lines` | `GET /phone-lines` | `GET /phone-lines/available`, `POST /phone-lines`, `DELETE /phone-lines/{id}` | admin (search: anyone) |
//! | `#greeting` | `GET /settings` (`voice`) | `PATCH /settings` | admin |
//! | `#filtering` | `GET /settings` (`filtering`) | `PATCH /settings`; `POST /settings/filtering/block` | admin; block: anyone |
//! | `#notifications` | `GET /settings/notifications/me` | `PUT /settings/notifications/me` | the signed-in user |
//! | `#retention`, `#thresholds` | `GET /settings` | `PATCH /settings` | admin |
//! | `#tokens` | `GET /tokens` | `POST /tokens`, `DELETE /tokens/{id}` | anyone (their own) |
//! | `#users` | `GET /users` | `POST /users`, `PATCH`/`DELETE /users/{id}` | admin |
//! | `#billing` | `GET /billing` | — | admin |
//! | `#data` | `GET /legal-holds` | `GET /export`, `POST`/`DELETE /legal-holds`, `DELETE /tenant` | admin; delete: owner |
//!
//! The page is rendered from the API's own handlers (`api::settings::get_settings` and friends are called
//! directly), so what a role sees here is exactly what the API would show it: staff get the redacted settings
//! document, only their own tokens and notification preferences, and no billing, users or data sections.
//! Sections a role cannot change are shown read-only (a disabled fieldset) with a note saying who can.
//!
//! Write forms are `method="post"` with no action: without JavaScript a submit is a harmless `405` and nothing
//! typed (names, numbers, e-mail addresses) ends up in a URL or an access log.
//!
//! **Concurrency**: every settings write carries the settings `ETag` the page was rendered with
//! (`#settings[data-etag]`, sent as `If-Match`); `assets/settings.js` keeps it current from each response's
//! `ETag`, and a `412` tells the user the settings changed elsewhere and offers a reload. Buying or releasing a
//! number and blocking a caller change the settings document too; the script then re-reads the page and takes
//! its new `ETag` only when every settings form still shows what is stored (else someone else changed something
//! meanwhile: it says so, and the next save gets the `412`).
//!
//! **Form fields** follow one rule set that `settings.js` implements and `tests/web_settings.rs` re-implements
//! to send the page's own forms to the API: a control's `name` is a dotted path into the JSON body, and its
//! `data-type` says how its value is encoded (`int`: a whole number, empty → `null`; `percent`: a number / 100;
//! `bool`: a checkbox; `list`: one item per line (or comma); `set`: checked boxes' values, `null` when every
//! box is checked; `empty-null`: empty → `null`; none: the text as typed). Opening hours are rows
//! (`[data-hours-row]`) that become `business_hours`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use callbook_jobs::{OpeningHours, Role};
use callbook_pipeline::notify::{Channel, EventKind};
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Nav, Page, Viewer, WebError, WebResult, layout};
use crate::api::accounts::{TokenView, UserView};
use crate::api::auth::role_at_most;
use crate::api::billing::BillingView;
use crate::api::lines::{LineError, LineMode, LineView};
use crate::api::settings::{CallFilter, NotificationPrefs, Profile};
use crate::api::{self, ApiError, ApiState};
use crate::retention::RetentionSettings;

/// The page's path.
pub const PATH: &str = "/app/settings";

/// Time zones offered in the profile's zone field (any other IANA zone may be typed; the API validates it).
pub const TIME_ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Edmonton",
    "America/Winnipeg",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Prague",
    "Europe/Warsaw",
    "Europe/Copenhagen",
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
];

/// Countries offered in the number search (ISO 3166-1 alpha-2, the provider's codes).
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
];

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(PATH, get(page))
}

// ------------------------------------------------------------------------------------------------ loading

/// A section's data, or the problem's `detail` to show in its place.
type Loaded<T> = Result<T, String>;

fn detail_of(e: &LineError) -> String {
    match e {
        LineError::Api(e) => e.problem().detail,
        LineError::Problem(p) => p.detail.clone(),
    }
}

fn web_error(e: LineError) -> WebError {
    match e {
        LineError::Api(e) => WebError::Api(*e),
        LineError::Problem(p) if p.status == 404 => WebError::Api(ApiError::not_found("page")),
        LineError::Problem(p) if p.status == 403 => {
            WebError::Api(ApiError::forbidden("insufficient_role", p.detail))
        }
        LineError::Problem(_) => WebError::Api(ApiError::internal()),
    }
}

/// The JSON body and `ETag` of an API handler's response.
async fn body_of<T: DeserializeOwned>(response: Response) -> Result<(T, String), LineError> {
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .map_err(|_| LineError::from(ApiError::internal()))?;
    let value = serde_json::from_slice(&bytes).map_err(|_| LineError::from(ApiError::internal()))?;
    Ok((value, etag))
}

/// Everything the page shows, loaded through the API's handlers as the viewer.
struct Data {
    settings: Value,
    etag: String,
    profile: Profile,
    prefs: Option<NotificationPrefs>,
    lines: Loaded<Vec<LineView>>,
    tokens: Loaded<Vec<TokenView>>,
    users: Option<Loaded<Vec<UserView>>>,
    holds: Option<Loaded<Vec<Value>>>,
    billing: Option<Loaded<BillingView>>,
}

async fn load(state: &ApiState, viewer: &Viewer) -> WebResult<Data> {
    use api::settings as s;
    let p = || viewer.principal.clone();
    let st = || State(state.clone());
    let admin = viewer.principal.require(Role::Admin).is_ok();
    let response = s::get_settings(st(), p()).await.map_err(web_error)?;
    let (settings, etag) = body_of::<Value>(response).await.map_err(web_error)?;
    let response = s::get_profile(st(), p()).await.map_err(web_error)?;
    let (profile, _) = body_of::<Profile>(response).await.map_err(web_error)?;
    let prefs = match viewer.principal.user {
        Some(_) => {
            let response = s::get_my_notifications(st(), p()).await.map_err(web_error)?;
            Some(body_of::<NotificationPrefs>(response).await.map_err(web_error)?.0)
        }
        None => None,
    };
    let lines = api::lines::list_lines(st(), p())
        .await
        .map(|j| j.0)
        .map_err(|e| detail_of(&e));
    let tokens = api::accounts::list_tokens(st(), p())
        .await
        .map(|j| j.0)
        .map_err(|e| e.problem().detail);
    let (users, holds, billing) = if admin {
        (
            Some(
                api::accounts::list_users(st(), p())
                    .await
                    .map(|j| j.0)
                    .map_err(|e| e.problem().detail),
            ),
            Some(
                api::privacy::list_holds(st(), p())
                    .await
                    .map(|j| j.0)
                    .map_err(|e| detail_of(&e)),
            ),
            Some(
                api::billing::get_billing(st(), p())
                    .await
                    .map(|j| j.0)
                    .map_err(|e| e.problem().detail),
            ),
        )
    } else {
        (None, None, None)
    };
    Ok(Data {
        settings,
        etag,
        profile,
        prefs,
        lines,
        tokens,
        users,
        holds,
        billing,
    })
}

// ------------------------------------------------------------------------------------------------ page

async fn page(State(state): State<ApiState>, viewer: Viewer) -> WebResult {
    let data = load(&state, &viewer).await?;
    let admin = viewer.principal.require(Role::Admin).is_ok();
    let owner = viewer.principal.require(Role::Owner).is_ok();
    let mut sections: Vec<(&str, &str)> = vec![
        ("profile", "Business profile"),
        ("phone-lines", "Phone lines"),
        ("greeting", "Greeting"),
        ("filtering", "Call filtering"),
        ("notifications", "Notifications"),
        ("retention", "Retention"),
        ("thresholds", "Review threshold"),
        ("tokens", "API tokens"),
    ];
    if admin {
        sections.push(("users", "Users"));
        sections.push(("billing", "Billing"));
    }
    sections.push(("data", "Your data"));
    let body = html! {
        div.page-header {
            h1 { "Settings" }
        }
        div #settings .settings-layout data-etag=(data.etag) data-role=(viewer.principal.role.as_str()) {
            nav.settings-nav aria-label="Settings sections" {
                div.settings-jump hidden {
                    label for="settings-jump" { "Jump to section" }
                    select #settings-jump {
                        @for (id, label) in &sections {
                            option value=(id) { (label) }
                        }
                    }
                }
                ul.settings-links {
                    @for (id, label) in &sections {
                        li { a href={ "#" (id) } { (label) } }
                    }
                }
            }
            div.settings-sections.stack {
                (profile_section(&data.profile, admin))
                (lines_section(&data.lines, admin))
                (greeting_section(&data.settings, &data.lines, admin))
                (filtering_section(&data.settings, admin))
                (notifications_section(&viewer, data.prefs.as_ref()))
                (retention_section(&data.settings, admin))
                (thresholds_section(&data.settings, admin))
                (tokens_section(&viewer, &data.tokens))
                @if let Some(users) = &data.users {
                    (users_section(&viewer, users))
                }
                @if let Some(billing) = &data.billing {
                    (billing_section(&viewer, billing))
                }
                (data_section(&viewer, data.holds.as_ref(), admin, owner))
            }
        }
        (release_dialog())
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Settings",
            nav: Nav::Settings,
            scripts: &["settings.js"],
            styles: &["settings.css"],
        },
        body,
    ))
}

// ------------------------------------------------------------------------------------------------ controls

/// One labelled input with its hint and the slot for the API's message about it.
#[derive(Default)]
struct Input<'a> {
    id: &'a str,
    name: &'a str,
    label: &'a str,
    value: String,
    kind: &'a str,
    dtype: Option<&'a str>,
    hint: Option<&'a str>,
    min: Option<&'a str>,
    max: Option<&'a str>,
    step: Option<&'a str>,
    list: Option<&'a str>,
    inputmode: Option<&'a str>,
    autocomplete: Option<&'a str>,
    placeholder: Option<String>,
    maxlength: Option<usize>,
    required: bool,
    /// The API's field path when it differs from `name`.
    error_for: Option<String>,
}

impl Input<'_> {
    fn render(&self) -> Markup {
        let (hint_id, error_id, described) = described_by(self.id, self.hint.is_some());
        let kind = if self.kind.is_empty() { "text" } else { self.kind };
        html! {
            div.field {
                label for=(self.id) { (self.label) }
                input id=(self.id) name=(self.name) type=(kind) value=(self.value) data-type=[self.dtype]
                    min=[self.min] max=[self.max] step=[self.step] list=[self.list] inputmode=[self.inputmode]
                    autocomplete=[self.autocomplete] placeholder=[self.placeholder.as_deref()]
                    maxlength=[self.maxlength] required[self.required] aria-describedby=(described);
                @if let Some(hint) = self.hint {
                    p.hint id=(hint_id) { (hint) }
                }
                p.error id=(error_id) data-error-for=(self.error_for.as_deref().unwrap_or(self.name)) {}
            }
        }
    }
}

/// The ids of a field's hint and error paragraphs, and its `aria-describedby` (the hint only when it has one).
fn described_by(id: &str, has_hint: bool) -> (String, String, String) {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = if has_hint {
        format!("{hint_id} {error_id}")
    } else {
        error_id.clone()
    };
    (hint_id, error_id, described)
}

/// A labelled textarea.
#[derive(Default)]
struct Area<'a> {
    id: &'a str,
    name: &'a str,
    label: &'a str,
    value: String,
    dtype: Option<&'a str>,
    hint: Option<&'a str>,
    placeholder: Option<String>,
    rows: u8,
    maxlength: Option<usize>,
    error_for: Option<String>,
}

impl Area<'_> {
    fn render(&self) -> Markup {
        let (hint_id, error_id, described) = described_by(self.id, self.hint.is_some());
        html! {
            div.field {
                label for=(self.id) { (self.label) }
                textarea id=(self.id) name=(self.name) data-type=[self.dtype] rows=(self.rows.max(2))
                    placeholder=[self.placeholder.as_deref()] maxlength=[self.maxlength]
                    aria-describedby=(described) { (self.value) }
                @if let Some(hint) = self.hint {
                    p.hint id=(hint_id) { (hint) }
                }
                p.error id=(error_id) data-error-for=(self.error_for.as_deref().unwrap_or(self.name)) {}
            }
        }
    }
}

fn checkbox(id: &str, name: &str, label: &str, checked: bool, hint: Option<&str>) -> Markup {
    let hint_id = format!("{id}-hint");
    html! {
        div.field.check {
            input id=(id) name=(name) type="checkbox" data-type="bool" checked[checked]
                aria-describedby=[hint.map(|_| hint_id.as_str())];
            label for=(id) { (label) }
            @if let Some(hint) = hint {
                p.hint id=(hint_id) { (hint) }
            }
            p.error data-error-for=(name) {}
        }
    }
}

/// The form's footer: the problems the API reported that belong to no field, and the save button.
fn form_footer(label: &str) -> Markup {
    html! {
        p.error.form-error role="alert" data-error-for="" {}
        div.form-actions {
            span.unsaved { "Unsaved changes" }
            button.button.primary type="submit" { (label) }
        }
    }
}

/// The note of a section the viewer may read but not change.
fn read_only_note(who: &str) -> Markup {
    html! {
        p.role-note { "Read only: " (who) " can change this." }
    }
}

fn section_header(id: &str, title: &str, intro: &str) -> Markup {
    html! {
        h2 id={ (id) "-title" } { (title) }
        p.muted { (intro) }
    }
}

/// `+14155550100` as `+1 (415) 555-0100`; other numbers as stored.
pub fn display_number(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("+1 ({}) {}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => e164.to_owned(),
    }
}

fn lines_text(items: &[String]) -> String {
    items.join("\n")
}

fn voice_default(key: &str) -> String {
    crate::app::default_settings()["voice"][key]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn voice_text(settings: &Value, key: &str) -> String {
    settings["voice"][key]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| voice_default(key))
}

// ------------------------------------------------------------------------------------------------ sections

fn profile_section(profile: &Profile, admin: bool) -> Markup {
    html! {
        section #profile .card.settings-section aria-labelledby="profile-title" {
            (section_header("profile", "Business profile",
                "Your business's name (said in the greeting), time zone, opening hours and the words the transcriber should expect."))
            @if !admin { (read_only_note("an admin or the owner")) }
            form #profile-form .stack data-settings-write="PUT /api/v1/settings/profile" data-success="Profile saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    (Input { id: "profile-name", name: "name", label: "Business name", value: profile.name.clone(),
                        autocomplete: Some("organization"), maxlength: Some(200), required: true, ..Default::default() }.render())
                    (Input { id: "profile-timezone", name: "timezone", label: "Time zone", value: profile.timezone.clone(),
                        list: Some("time-zones"), autocomplete: Some("off"), required: true,
                        hint: Some("An IANA zone such as America/New_York: dates and opening hours are in this zone."),
                        ..Default::default() }.render())
                    datalist #time-zones {
                        @for zone in TIME_ZONES { option value=(zone) {} }
                    }
                    (hours_fieldset(&profile.business_hours))
                    (Area { id: "profile-services", name: "services", label: "Services", value: lines_text(&profile.services),
                        dtype: Some("list"), rows: 4, error_for: Some("profile.services".into()),
                        hint: Some("One per line, e.g. Boiler repair. Shown to staff; up to 100."), ..Default::default() }.render())
                    (Area { id: "profile-vocabulary", name: "vocabulary", label: "Vocabulary", value: lines_text(&profile.vocabulary),
                        dtype: Some("list"), rows: 4, error_for: Some("profile.vocabulary".into()),
                        hint: Some("Brand names, street names and trade words callers use, one per line: the transcriber listens for them. Up to 200."),
                        ..Default::default() }.render())
                    (form_footer("Save profile"))
                }
            }
        }
    }
}

fn hours_fieldset(hours: &[OpeningHours]) -> Markup {
    html! {
        fieldset.hours data-hours="business_hours" {
            legend { "Opening hours" }
            p.hint { "Tick the days you open. Calls outside these hours still take a message." }
            @for (i, day) in WEEKDAYS.iter().enumerate() {
                @let weekday = i as u8 + 1;
                @let entries: Vec<&OpeningHours> = hours.iter().filter(|h| h.weekday == weekday).collect();
                @if entries.is_empty() {
                    (hours_row(weekday, day, None, 0))
                }
                @for (n, entry) in entries.iter().enumerate() {
                    (hours_row(weekday, day, Some(entry), n))
                }
            }
            p.error data-error-for="business_hours" {}
        }
    }
}

fn hours_row(weekday: u8, day: &str, entry: Option<&OpeningHours>, n: usize) -> Markup {
    let id = format!("hours-{weekday}-{n}");
    let (open, close) = entry.map_or(("08:00".to_owned(), "17:00".to_owned()), |h| {
        (
            h.open.format("%H:%M").to_string(),
            h.close.format("%H:%M").to_string(),
        )
    });
    html! {
        div.hours-row data-hours-row data-weekday=(weekday) {
            div.hours-day {
                input id={ (id) "-open-day" } type="checkbox" data-part="open-day" checked[entry.is_some()];
                label for={ (id) "-open-day" } { (day) }
            }
            label.visually-hidden for={ (id) "-open" } { (day) " opens at" }
            input id={ (id) "-open" } type="time" data-part="open" value=(open);
            span.hours-to aria-hidden="true" { "to" }
            label.visually-hidden for={ (id) "-close" } { (day) " closes at" }
            input id={ (id) "-close" } type="time" data-part="close" value=(close);
        }
    }
}

fn lines_section(lines: &Loaded<Vec<LineView>>, admin: bool) -> Markup {
    html! {
        section #phone-lines .card.settings-section aria-labelledby="phone-lines-title" {
            (section_header("phone-lines", "Phone lines",
                "The numbers your customers call. Each answers with your greeting and takes a message (or forwards the call)."))
            h3 { "Your numbers" }
            (owned_lines(lines, admin))
            @if admin {
                h3 { "Get a new number" }
                form #line-search .toolbar role="search" aria-label="Search available numbers" {
                    div.field {
                        label for="search-country" { "Country" }
                        select #search-country name="country" {
                            @for (code, name) in COUNTRIES { option value=(code) { (name) } }
                        }
                    }
                    div.field {
                        label for="search-kind" { "Kind" }
                        select #search-kind name="kind" {
                            option value="local" { "Local" }
                            option value="toll_free" { "Toll-free" }
                            option value="mobile" { "Mobile" }
                        }
                    }
                    (Input { id: "search-area-code", name: "area_code", label: "Area code", inputmode: Some("numeric"),
                        maxlength: Some(3), autocomplete: Some("off"), placeholder: Some("e.g. 415".into()),
                        ..Default::default() }.render())
                    (Input { id: "search-contains", name: "contains", label: "Contains", autocomplete: Some("off"),
                        maxlength: Some(16), placeholder: Some("e.g. 0100".into()), ..Default::default() }.render())
                    div.form-actions {
                        button.button.primary type="submit" { "Search" }
                    }
                    p.error.form-error role="alert" data-error-for="" {}
                }
                div #number-results .number-results aria-live="polite" {
                    p #number-results-status .muted {}
                    ul #available-numbers .list {}
                }
                p.hint { "Area code: three digits (US and Canada). Contains: digits the number should have, e.g. 0100. "
                    "Buying a number adds it to your telephony account's bill; it answers calls right away." }
            } @else {
                p.role-note { "Only an admin or the owner can buy or release numbers." }
            }
        }
    }
}

/// The owned lines list (also re-fetched by `settings.js` after a purchase or a release).
fn owned_lines(lines: &Loaded<Vec<LineView>>, admin: bool) -> Markup {
    html! {
        div #owned-lines {
            @match lines {
                Err(detail) => p.error role="alert" { "Your numbers could not be loaded: " (detail) },
                Ok(lines) if lines.is_empty() => p.empty { "No numbers yet. Search below to get one." },
                Ok(lines) => ul.list {
                    @for line in lines {
                        li data-line-id=(line.id) data-number=(line.phone_number) {
                            div.row-main {
                                span.line-number { (display_number(&line.phone_number)) }
                                " "
                                span.badge.ok { "Active" }
                            }
                            div.row-meta {
                                @match line.mode {
                                    LineMode::Forward => span { "Forwards to " (line.forward_to.as_deref().map(display_number).unwrap_or_default()) },
                                    LineMode::Record => span { "Takes a message" },
                                }
                                @if line.credentials.configured {
                                    " · "
                                    span.badge.info { "Own account …" (line.credentials.last4.as_deref().unwrap_or("")) }
                                }
                            }
                            @if admin {
                                div.row-actions {
                                    button.button.danger.small type="button" data-release-line=(line.id)
                                        data-number=(line.phone_number) { "Release" }
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}

fn release_dialog() -> Markup {
    html! {
        dialog #release-dialog .dialog aria-labelledby="release-title" {
            form #release-form method="dialog" .stack {
                h2 #release-title { "Release this number?" }
                p {
                    "Callers to " strong #release-number {} " will no longer reach you, and the number may go to someone else. "
                    "Calls already recorded stay."
                }
                div.field {
                    label for="release-confirm" { "Type the last 4 digits of the number to confirm" }
                    input #release-confirm type="text" inputmode="numeric" autocomplete="off" maxlength="4"
                        aria-describedby="release-error";
                    p.error #release-error role="alert" {}
                }
                div.form-actions {
                    button.button type="button" data-close-dialog { "Cancel" }
                    button.button.danger type="submit" #release-submit disabled { "Release number" }
                }
            }
        }
    }
}

fn greeting_section(settings: &Value, lines: &Loaded<Vec<LineView>>, admin: bool) -> Markup {
    let max_seconds = settings["voice"]["max_message_seconds"]
        .as_u64()
        .unwrap_or(300)
        .to_string();
    html! {
        section #greeting .card.settings-section aria-labelledby="greeting-title" {
            (section_header("greeting", "Greeting",
                "What callers hear before they leave a message. {business} is replaced by your business name."))
            @if !admin { (read_only_note("an admin or the owner")) }
            form #voice-form .stack data-settings-write="PATCH /api/v1/settings" data-success="Greeting saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    (Area { id: "voice-greeting", name: "voice.greeting", label: "Greeting",
                        value: voice_text(settings, "greeting"), rows: 2, maxlength: Some(1000), ..Default::default() }.render())
                    (Area { id: "voice-recording-notice", name: "voice.recording_notice", label: "Recording announcement",
                        value: voice_text(settings, "recording_notice"), rows: 2, maxlength: Some(1000),
                        hint: Some("Many places require telling callers that the call is recorded."), ..Default::default() }.render())
                    (Area { id: "voice-ai-disclosure", name: "voice.ai_disclosure", label: "Consent disclosure",
                        value: voice_text(settings, "ai_disclosure"), rows: 2, maxlength: Some(1000),
                        hint: Some("Tells callers an automated assistant processes their message."), ..Default::default() }.render())
                    (Area { id: "voice-voicemail-prompt", name: "voice.voicemail_prompt", label: "Message prompt",
                        value: voice_text(settings, "voicemail_prompt"), rows: 2, maxlength: Some(1000), ..Default::default() }.render())
                    (Input { id: "voice-max-seconds", name: "voice.max_message_seconds", label: "Longest message (seconds)",
                        kind: "number", dtype: Some("int"), value: max_seconds, min: Some("10"), max: Some("3600"), step: Some("1"),
                        inputmode: Some("numeric"), ..Default::default() }.render())
                    (form_footer("Save greeting"))
                }
            }
            @if let Ok(lines) = lines && !lines.is_empty() {
                h3 { "Per number" }
                p.muted { "A number can say something else. Leave a field empty to use the text above." }
            }
            div #line-greetings .stack {
                @if let Ok(lines) = lines {
                    @for line in lines {
                        (line_voice_form(settings, line, admin))
                    }
                }
            }
        }
    }
}

fn line_voice_form(settings: &Value, line: &LineView, admin: bool) -> Markup {
    let number = line.phone_number.as_str();
    let over = &settings["voice"]["lines"][number];
    let value = |key: &str| over[key].as_str().unwrap_or_default().to_owned();
    let id = |key: &str| format!("line-{}-{key}", line.id);
    let name = |key: &str| format!("voice.lines.{number}.{key}");
    let error_for = |key: &str| Some(format!("voice.lines[\"{number}\"].{key}"));
    let texts = [
        ("greeting", "Greeting"),
        ("recording_notice", "Recording announcement"),
        ("ai_disclosure", "Consent disclosure"),
    ];
    let ids: Vec<String> = texts.iter().map(|(k, _)| id(k)).collect();
    let names: Vec<String> = texts.iter().map(|(k, _)| name(k)).collect();
    let forward_id = id("forward_to");
    let forward_name = name("forward_to");
    html! {
        details.line-voice data-line-id=(line.id) {
            summary { "Number " (display_number(number)) }
            form.stack data-settings-write="PATCH /api/v1/settings" data-success="Number's greeting saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    @for (i, (key, label)) in texts.iter().enumerate() {
                        (Area { id: &ids[i], name: &names[i], label, value: value(key), dtype: Some("empty-null"), rows: 2,
                            maxlength: Some(1000), placeholder: Some(voice_text(settings, key)), error_for: error_for(key),
                            ..Default::default() }.render())
                    }
                    (Input { id: &forward_id, name: &forward_name, label: "Forward calls to", kind: "tel",
                        value: value("forward_to"), autocomplete: Some("off"), placeholder: Some("e.g. +14155550199".into()),
                        hint: Some("A number in international format to ring, with the call recorded. Empty: take a message."),
                        error_for: error_for("forward_to"), ..Default::default() }.render())
                    (form_footer("Save"))
                }
            }
        }
    }
}

fn filtering_section(settings: &Value, admin: bool) -> Markup {
    let filter = CallFilter::from_settings(settings);
    html! {
        section #filtering .card.settings-section aria-labelledby="filtering-title" {
            (section_header("filtering", "Call filtering",
                "Which callers get through. Refused calls are not answered, recorded or charged for transcription."))
            @if !admin { (read_only_note("an admin or the owner")) }
            form #filtering-form .stack data-settings-write="PATCH /api/v1/settings" data-success="Filtering saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    (Area { id: "filter-block", name: "filtering.block", label: "Blocked numbers", value: lines_text(&filter.block),
                        dtype: Some("list"), rows: 4, placeholder: Some("e.g. +1900".into()),
                        hint: Some("One per line, in international format. A prefix such as +1900 blocks every number that starts with it."),
                        ..Default::default() }.render())
                    (Area { id: "filter-allow", name: "filtering.allow", label: "Only allow these numbers", value: lines_text(&filter.allow),
                        dtype: Some("list"), rows: 3,
                        hint: Some("Leave empty to let everyone through who is not blocked."), ..Default::default() }.render())
                    (checkbox("filter-anonymous", "filtering.reject_anonymous", "Refuse callers who withhold their number",
                        filter.reject_anonymous, None))
                    (checkbox("filter-attestation", "filtering.reject_failed_attestation",
                        "Refuse calls whose caller ID failed verification (STIR/SHAKEN)", filter.reject_failed_attestation,
                        Some("Catches most spoofed robocalls; genuine callers are very rarely affected.")))
                    (Input { id: "filter-min-seconds", name: "filtering.min_call_seconds", label: "Ignore messages shorter than (seconds)",
                        kind: "number", dtype: Some("int"), value: filter.min_call_seconds.to_string(), min: Some("0"), max: Some("600"),
                        step: Some("1"), inputmode: Some("numeric"),
                        hint: Some("Hang-ups and silence are not transcribed. 0 keeps every message."), ..Default::default() }.render())
                    (form_footer("Save filtering"))
                }
            }
            form #block-form .toolbar data-block-caller method="post" novalidate {
                (Input { id: "block-number", name: "number", label: "Block a number", kind: "tel", autocomplete: Some("off"),
                    placeholder: Some("e.g. +14155550123".into()), hint: Some("Anyone can block a spam caller; an admin can unblock."),
                    ..Default::default() }.render())
                div.form-actions {
                    button.button type="submit" { "Block" }
                }
            }
        }
    }
}

fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::CallReceived => "A call was recorded",
        EventKind::CallStep => "A call's processing moved on (live only)",
        EventKind::CallFinished => "A call was processed",
        EventKind::CallNeedsReview => "A call needs review",
        EventKind::CallDead => "A call could not be processed",
        EventKind::JobCreated => "A job was created",
        EventKind::JobMoved => "A job moved to another stage",
        EventKind::JobUpdated => "A job was edited",
        _ => "Other events",
    }
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Live => "Pop-ups in an open dashboard",
        Channel::InApp => "The notifications list",
        Channel::Email => "E-mail",
        _ => "Other",
    }
}

fn notifications_section(viewer: &Viewer, prefs: Option<&NotificationPrefs>) -> Markup {
    html! {
        section #notifications .card.settings-section aria-labelledby="notifications-title" {
            (section_header("notifications", "Notifications",
                "What you are told about, and how. These are your own settings; everyone chooses theirs."))
            @match prefs {
                None => p.role-note { "Sign in as a user to choose notifications (this is an API token)." },
                Some(prefs) => form #notifications-form .stack data-settings-write="PUT /api/v1/settings/notifications/me"
                    data-success="Notification settings saved" method="post" novalidate {
                    (Input { id: "notify-email", name: "email", label: "E-mail address", kind: "email", dtype: Some("empty-null"),
                        value: prefs.email.clone().unwrap_or_default(), autocomplete: Some("email"),
                        placeholder: viewer.user.as_ref().filter(|u| u.login.contains('@')).map(|u| u.login.clone()),
                        hint: Some("E-mail goes only for new jobs, calls that need review and calls that could not be processed."),
                        ..Default::default() }.render())
                    fieldset.choices {
                        legend { "Tell me by" }
                        @for channel in Channel::ALL {
                            @let checked = prefs.channels.as_ref().is_none_or(|c| c.iter().any(|s| s == channel.as_str()));
                            div.check {
                                input id={ "channel-" (channel.as_str()) } type="checkbox" name="channels" data-type="set"
                                    value=(channel.as_str()) checked[checked];
                                label for={ "channel-" (channel.as_str()) } { (channel_label(channel)) }
                            }
                        }
                        p.error data-error-for="channels" {}
                    }
                    fieldset.choices {
                        legend { "About" }
                        @for kind in EventKind::ALL {
                            @let checked = prefs.kinds.as_ref().is_none_or(|k| k.iter().any(|s| s == kind.as_str()));
                            div.check {
                                input id={ "kind-" (kind.as_str().replace('.', "-")) } type="checkbox" name="kinds" data-type="set"
                                    value=(kind.as_str()) checked[checked];
                                label for={ "kind-" (kind.as_str().replace('.', "-")) } { (kind_label(kind)) }
                            }
                        }
                        p.error data-error-for="kinds" {}
                    }
                    (form_footer("Save notifications"))
                },
            }
        }
    }
}

fn days_value(days: Option<u32>) -> String {
    days.map(|d| d.to_string()).unwrap_or_default()
}

fn retention_section(settings: &Value, admin: bool) -> Markup {
    let r = RetentionSettings::from_settings(settings);
    let max = crate::retention::MAX_DAYS.to_string();
    let fields = [
        (
            "retention-audio",
            "retention.audio_days",
            "Keep recordings for (days)",
            r.audio_days,
        ),
        (
            "retention-transcript",
            "retention.transcript_days",
            "Keep transcripts for (days)",
            r.transcript_days,
        ),
        (
            "retention-extraction",
            "retention.extraction_days",
            "Keep extracted details for (days)",
            r.extraction_days,
        ),
    ];
    html! {
        section #retention .card.settings-section aria-labelledby="retention-title" {
            (section_header("retention", "Retention",
                "How long call data is kept before it is deleted for good. Jobs and customers are kept until you delete them."))
            @if !admin { (read_only_note("an admin or the owner")) }
            form #retention-form .stack data-settings-write="PATCH /api/v1/settings" data-success="Retention saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    @for (id, name, label, days) in fields {
                        (Input { id, name, label, kind: "number", dtype: Some("int"), value: days_value(days), min: Some("0"),
                            max: Some(&max), step: Some("1"), inputmode: Some("numeric"), placeholder: Some("Keep".into()),
                            hint: Some("Empty keeps them until you delete them."), ..Default::default() }.render())
                    }
                    p.hint { "Data under a legal hold is never deleted by retention." }
                    (form_footer("Save retention"))
                }
            }
        }
    }
}

fn thresholds_section(settings: &Value, admin: bool) -> Markup {
    let threshold = settings["extraction"]["review_threshold"].as_f64().unwrap_or(0.5);
    let percent = format!("{}", (threshold * 100.0).round());
    html! {
        section #thresholds .card.settings-section aria-labelledby="thresholds-title" {
            (section_header("thresholds", "Review threshold",
                "Calls whose details the system is unsure about wait for a person to check them before a job is booked."))
            @if !admin { (read_only_note("an admin or the owner")) }
            form #thresholds-form .stack data-settings-write="PATCH /api/v1/settings" data-success="Threshold saved" method="post" novalidate {
                fieldset.plain disabled[!admin] {
                    (Input { id: "review-threshold", name: "extraction.review_threshold", label: "Ask for review below this confidence (%)",
                        kind: "number", dtype: Some("percent"), value: percent, min: Some("0"), max: Some("100"), step: Some("1"),
                        inputmode: Some("numeric"),
                        hint: Some("Higher: more calls are checked by a person, fewer mistakes reach the board. Calls above it are booked automatically."),
                        ..Default::default() }.render())
                    (form_footer("Save threshold"))
                }
            }
        }
    }
}

fn tokens_section(viewer: &Viewer, tokens: &Loaded<Vec<TokenView>>) -> Markup {
    let roles: Vec<Role> = Role::ALL
        .iter()
        .copied()
        .filter(|r| role_at_most(*r, viewer.principal.role))
        .collect();
    html! {
        section #tokens .card.settings-section aria-labelledby="tokens-title" {
            (section_header("tokens", "API tokens",
                "Tokens let other programs use Callbook's API as you. Treat them like passwords."))
            (token_list(viewer, tokens))
            form #token-form .stack data-create-token method="post" novalidate {
                h3 { "Create a token" }
                div.grid-2 {
                    (Input { id: "token-name", name: "name", label: "Token name", maxlength: Some(100), autocomplete: Some("off"),
                        placeholder: Some("e.g. Accounting export".into()), required: true, ..Default::default() }.render())
                    div.field {
                        label for="token-role" { "Role" }
                        select #token-role name="role" {
                            @for role in &roles {
                                option value=(role.as_str()) selected[*role == Role::Staff] { (role_label(*role)) }
                            }
                        }
                        p.hint { "At most your own role." }
                        p.error data-error-for="role" {}
                    }
                }
                (form_footer("Create token"))
            }
            div #new-token .secret-once hidden {
                p { strong { "Copy this token now: it is not shown again." } }
                div.field {
                    label for="new-token-value" { "Your new token" }
                    input #new-token-value type="text" readonly autocomplete="off" spellcheck="false";
                }
                button.button type="button" data-copy="#new-token-value" { "Copy" }
            }
        }
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Staff => "Staff",
    }
}

fn token_list(viewer: &Viewer, tokens: &Loaded<Vec<TokenView>>) -> Markup {
    html! {
        div #token-list {
            @match tokens {
                Err(detail) => p.error role="alert" { "Tokens could not be loaded: " (detail) },
                Ok(tokens) if tokens.is_empty() => p.empty { "No API tokens." },
                Ok(tokens) => ul.list {
                    @for token in tokens {
                        li data-token-id=(token.id.to_string()) {
                            div.row-main {
                                span.token-name { (token.name) }
                                " "
                                span.badge.info { (role_label(token.role)) }
                                @if token.revoked_at.is_some() { " " span.badge.bad { "Revoked" } }
                            }
                            div.row-meta {
                                code { (token.prefix) "…" }
                                " · Created " (viewer.local_date(token.created_at))
                                " · Last used "
                                @match token.last_used_at {
                                    Some(at) => (viewer.local_time(at)),
                                    None => "never",
                                }
                            }
                            @if token.revoked_at.is_none() {
                                div.row-actions {
                                    button.button.danger.small type="button" data-revoke-token=(token.id.to_string())
                                        data-name=(token.name) { "Revoke" }
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}

fn users_section(viewer: &Viewer, users: &Loaded<Vec<UserView>>) -> Markup {
    let mine = viewer.principal.role;
    let grantable: Vec<Role> = Role::ALL
        .iter()
        .copied()
        .filter(|r| role_at_most(*r, mine) && (*r != Role::Owner || mine == Role::Owner))
        .collect();
    html! {
        section #users .card.settings-section aria-labelledby="users-title" {
            (section_header("users", "Users", "Who can sign in. Staff work the board; admins also change settings; owners also handle billing and deletion."))
            div #user-list {
                @match users {
                    Err(detail) => p.error role="alert" { "Users could not be loaded: " (detail) },
                    Ok(users) => ul.list {
                        @for user in users {
                            @let me = viewer.principal.user == Some(user.id);
                            @let manageable = !me && role_at_most(user.role, mine) && (user.role != Role::Owner || mine == Role::Owner);
                            li data-user-id=(user.id.to_string()) {
                                div.row-main {
                                    span { (user.login) }
                                    " "
                                    span.badge.info { (role_label(user.role)) }
                                    @if me { " " span.badge { "You" } }
                                }
                                div.row-meta { "Added " (viewer.local_date(user.created_at)) }
                                @if manageable {
                                    form.row-actions.cluster data-user-role=(user.id.to_string()) method="post" novalidate {
                                        label.visually-hidden for={ "role-" (user.id.to_string()) } { "Role of " (user.login) }
                                        select id={ "role-" (user.id.to_string()) } name="role" {
                                            @for role in &grantable {
                                                option value=(role.as_str()) selected[*role == user.role] { (role_label(*role)) }
                                            }
                                        }
                                        button.button.small type="submit" { "Change role" }
                                        button.button.danger.small type="button" data-remove-user=(user.id.to_string())
                                            data-login=(user.login) { "Remove" }
                                    }
                                }
                            }
                        }
                    },
                }
            }
            form #user-form .stack data-create-user method="post" novalidate {
                h3 { "Add a user" }
                div.grid-2 {
                    (Input { id: "user-login", name: "login", label: "Login", autocomplete: Some("off"), maxlength: Some(200),
                        placeholder: Some("e.g. sam@example.com".into()), required: true,
                        hint: Some("An e-mail address or a name without spaces."), ..Default::default() }.render())
                    div.field {
                        label for="user-role" { "Role" }
                        select #user-role name="role" {
                            @for role in &grantable {
                                option value=(role.as_str()) selected[*role == Role::Staff] { (role_label(*role)) }
                            }
                        }
                        p.error data-error-for="role" {}
                    }
                }
                p.hint { "A one-time password is made for them; give it to them and they choose their own." }
                (form_footer("Add user"))
            }
            div #new-user .secret-once hidden {
                p { strong #new-user-text {} }
                div.field {
                    label for="new-user-password" { "One-time password" }
                    input #new-user-password type="text" readonly autocomplete="off" spellcheck="false";
                }
                button.button type="button" data-copy="#new-user-password" { "Copy" }
            }
        }
    }
}

fn money(minor: i64, currency: &str) -> String {
    format!(
        "{} {}",
        super::minor_to_decimal(minor, currency),
        currency.to_ascii_uppercase()
    )
}

/// A usage counter for people: `Calls: 5`, `Audio: 12 min`, `Storage: 1.2 MB`.
fn usage_text(metric: &str, total: i64) -> String {
    let seconds = |label: &str| {
        format!(
            "{label}: {}",
            super::format_duration(chrono::TimeDelta::seconds(total))
        )
    };
    match metric {
        "calls" => format!("Calls: {total}"),
        "extractions" => format!("Extractions: {total}"),
        "audio_seconds" => seconds("Audio"),
        "transcription_seconds" => seconds("Transcription"),
        "storage_bytes" => {
            let mb = total as f64 / 1_000_000.0;
            format!("Storage: {mb:.1} MB")
        }
        other => format!("{}: {total}", other.replace('_', " ")),
    }
}

fn billing_section(viewer: &Viewer, billing: &Loaded<BillingView>) -> Markup {
    let date = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| viewer.local_time(d.with_timezone(&chrono::Utc)))
            .or_else(|| {
                v.as_i64()
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                    .map(|d| viewer.local_time(d))
            })
            .unwrap_or_else(|| "—".to_owned())
    };
    html! {
        section #billing .card.settings-section aria-labelledby="billing-title" {
            (section_header("billing", "Billing", "Your plan, this month's usage and recent invoices."))
            @match billing {
                Err(detail) => p.error role="alert" { "Billing could not be loaded: " (detail) },
                Ok(b) => {
                    @if b.billing_unavailable {
                        p.role-note { "The billing provider cannot be reached (or none is set up): showing usage only." }
                    }
                    dl.facts {
                        dt { "Plan" }
                        dd {
                            @match &b.subscription {
                                Some(s) => {
                                    (s["status"].as_str().unwrap_or("unknown"))
                                    @if s["cancel_at_period_end"].as_bool() == Some(true) { " · ends " (date(&s["current_period_end"])) }
                                    @else if !s["current_period_end"].is_null() { " · renews " (date(&s["current_period_end"])) }
                                },
                                None => "No subscription",
                            }
                        }
                        dt { "Usage " (b.usage.period) }
                        dd {
                            @if b.usage.totals.is_empty() { "Nothing yet" }
                            @for (i, u) in b.usage.totals.iter().enumerate() {
                                @if i > 0 { " · " }
                                (usage_text(&u.metric, u.total))
                            }
                        }
                    }
                    @if !b.invoices.is_empty() {
                        table.table {
                            caption.visually-hidden { "Invoices" }
                            thead { tr { th scope="col" { "Invoice" } th scope="col" { "Date" } th scope="col" { "Amount" } th scope="col" { "Status" } } }
                            tbody {
                                @for inv in &b.invoices {
                                    tr {
                                        td data-label="Invoice" {
                                            @let number = inv["number"].as_str().unwrap_or("—");
                                            @match inv["hosted_invoice_url"].as_str().filter(|u| u.starts_with("https://")) {
                                                Some(url) => a href=(url) rel="noopener noreferrer" target="_blank" { (number) },
                                                None => (number),
                                            }
                                        }
                                        td data-label="Date" { (date(&inv["created"])) }
                                        td data-label="Amount" { (money(inv["amount_due"].as_i64().unwrap_or(0), inv["currency"].as_str().unwrap_or(""))) }
                                        td data-label="Status" { (inv["status"].as_str().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                    @if viewer.principal.role != Role::Owner {
                        p.hint { "Only the owner can change the plan." }
                    }
                },
            }
        }
    }
}

fn data_section(viewer: &Viewer, holds: Option<&Loaded<Vec<Value>>>, admin: bool, owner: bool) -> Markup {
    html! {
        section #data .card.settings-section aria-labelledby="data-title" {
            (section_header("data", "Your data", "Download everything, keep data from being deleted, or close the account."))
            @if !admin {
                p.role-note { "Exports, legal holds and deleting the business need an admin or the owner." }
            } @else {
                h3 { "Export" }
                p { "A zip of every call, recording, transcript, customer and job, for your records or to move elsewhere." }
                p { a.button href="/api/v1/export" download { "Download all data" } }
                h3 { "Legal holds" }
                p.muted { "Held data is never deleted, by retention or on request, until the hold is released." }
                div #hold-list {
                    @match holds {
                        Some(Err(detail)) => p.error role="alert" { "Holds could not be loaded: " (detail) },
                        Some(Ok(holds)) if holds.is_empty() => p.empty { "No legal holds." },
                        Some(Ok(holds)) => ul.list {
                            @for hold in holds {
                                @let target = if hold["scope"] == "tenant" { "tenant".to_owned() } else { hold["call_id"].as_str().unwrap_or_default().to_owned() };
                                li {
                                    div.row-main {
                                        @if hold["scope"] == "tenant" { "All of the business's data" }
                                        @else { "Call " a href={ "/app/calls/" (target) } { (target) } }
                                    }
                                    div.row-actions {
                                        button.button.small type="button" data-release-hold=(target) { "Release hold" }
                                    }
                                }
                            }
                        },
                        None => {},
                    }
                }
                @let tenant_held = matches!(holds, Some(Ok(h)) if h.iter().any(|h| h["scope"] == "tenant"));
                @if !tenant_held {
                    p { button.button type="button" data-place-hold="tenant" { "Hold all data" } }
                }
                h3 { "Delete the business" }
                @if owner {
                    form #delete-business .stack.danger-zone data-delete-business data-name=(viewer.tenant.name) method="post" novalidate {
                        p {
                            strong { "This cannot be undone." }
                            " Every call, recording, transcript, customer, job, user and token is erased, your numbers are released and your subscription is cancelled."
                        }
                        div.field {
                            label for="delete-confirm" { "Type the business name, " strong { (viewer.tenant.name) } ", to confirm" }
                            input #delete-confirm name="confirm" type="text" autocomplete="off" spellcheck="false"
                                aria-describedby="delete-confirm-error";
                            p.error #delete-confirm-error data-error-for="confirm" {}
                        }
                        p.error.form-error role="alert" data-error-for="" {}
                        div.form-actions {
                            button.button.danger type="submit" disabled { "Delete the business" }
                        }
                    }
                } @else {
                    p.role-note { "Only the owner can delete the business." }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_display_in_national_form_when_north_american() {
        assert_eq!(display_number("+14155550100"), "+1 (415) 555-0100");
        assert_eq!(display_number("+447700900123"), "+447700900123");
        assert_eq!(display_number("+1415"), "+1415");
    }

    #[test]
    fn offered_time_zones_are_all_valid() {
        for zone in TIME_ZONES {
            assert!(callbook_jobs::TimeZone::parse(zone).is_ok(), "{zone}");
        }
    }

    #[test]
    fn usage_reads_like_words() {
        assert_eq!(usage_text("audio_seconds", 125), "Audio: 2 min");
        assert_eq!(usage_text("storage_bytes", 1_250_000), "Storage: 1.2 MB");
        assert_eq!(usage_text("calls", 5), "Calls: 5");
        assert_eq!(usage_text("sms_segments", 3), "sms segments: 3");
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(12345, "usd"), "123.45 USD");
        assert_eq!(money(-5, "eur"), "-0.05 EUR");
        assert_eq!(money(5000, "jpy"), "5000 JPY");
        assert_eq!(money(1500, "KWD"), "1.500 KWD");
    }
}
