//! The settings page (`/app/settings`): what each role sees, that stored values are rendered (escaped), and —
//! to catch drift between the page and the API — that the JSON each of the page's own forms sends is accepted
//! by the API and changes what is stored. The forms are read from the rendered HTML and encoded with the same
//! rules as `assets/settings.js` (see `src/web/settings.rs`): `name` is a dotted JSON path, `data-type` the
//! encoding, `[data-hours-row]` rows become `business_hours`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::collections::HashMap;
use std::sync::Arc;

use api_common::{Backend, Env, Session};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use callbook_jobs::{OpeningHours, Role, TenantProfile, TimeZone};
use callbook_server::{api, web};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::TelephonyExt as _;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";
const PUBLIC_URL: &str = "https://callbook.example.com";

struct Page {
    env: Env,
    app: Router,
    fake: FakeTelephony,
}

async fn setup() -> Page {
    let env = Env::new(Backend::Memory).await;
    let fake = FakeTelephony::new();
    let state = env
        .state
        .clone()
        .with_telephony(Arc::new(fake.clone()))
        .with_public_url(PUBLIC_URL);
    let app = api::router(state.clone()).merge(web::router(state.clone()));
    let env = Env {
        app: app.clone(),
        state,
        ..env
    };
    Page { env, app, fake }
}

impl Page {
    async fn user(&self, login: &str, role: Role) -> (callbook_jobs::User, Session) {
        let user = self.env.add_user(self.env.tenant.id, login, role, PASSWORD).await;
        (user, self.env.login(login, PASSWORD).await)
    }

    /// `GET` with the session cookie: status, `Location`, body.
    async fn get(&self, path: &str, session: Option<&Session>) -> (u16, String, String) {
        let mut request = Request::get(path);
        if let Some(s) = session {
            request = request.header("cookie", &s.cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, location, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn page(&self, session: &Session) -> String {
        let (status, _, html) = self.get("/app/settings", Some(session)).await;
        assert_eq!(status, 200, "{html}");
        if let Ok(path) = std::env::var("SETTINGS_DUMP") {
            std::fs::write(path, &html).unwrap();
        }
        html
    }

    /// A write as the page's script sends it: session cookie, CSRF token, `If-Match` when given.
    async fn send(
        &self,
        session: &Session,
        method: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (u16, Value) {
        let mut headers = vec![
            ("cookie", session.cookie.as_str()),
            ("x-csrf-token", session.csrf.as_str()),
        ];
        if let Some(tag) = if_match {
            headers.push(("if-match", tag));
        }
        self.env.send(method, path, None, body, &headers).await
    }

    async fn settings(&self) -> Value {
        self.env
            .store
            .get_tenant(self.env.tenant.id)
            .await
            .unwrap()
            .settings
    }
}

// ------------------------------------------------------------------------------------------ HTML reading

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The attributes of the tag starting at `html[start]` (`<name ...>`), and where the tag ends.
fn attributes(html: &str, start: usize) -> (HashMap<String, String>, usize) {
    let bytes = html.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    let mut attrs = HashMap::new();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'>' {
            return (attrs, i + 1);
        }
        if bytes[i] == b'/' {
            i += 1;
            continue;
        }
        let name_start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b'>' | b' ' | b'/') {
            i += 1;
        }
        let name = html[name_start..i].to_owned();
        if bytes[i] == b'=' {
            assert_eq!(bytes[i + 1], b'"', "maud quotes attributes");
            let value_start = i + 2;
            let end = value_start + html[value_start..].find('"').unwrap();
            attrs.insert(name, unescape(&html[value_start..end]));
            i = end + 1;
        } else {
            attrs.insert(name, String::new());
        }
    }
}

/// The outer HTML of the element with this `id`.
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!(" id=\"{id}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no element #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let tag: String = html[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut depth = 0;
    let mut i = start;
    loop {
        let next_open = html[i + 1..].find(&open).map(|p| p + i + 1);
        let next_close = html[i..].find(&close).map(|p| p + i).unwrap();
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o;
            }
            _ if depth == 0 => return &html[start..next_close + close.len()],
            _ => {
                depth -= 1;
                i = next_close + 1;
            }
        }
    }
}

/// A form control as the browser would hold it.
#[derive(Debug, Clone)]
struct Control {
    attrs: HashMap<String, String>,
    value: String,
    checked: bool,
}

impl Control {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// The named controls of a form, in document order.
fn controls(form: &str) -> Vec<Control> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = form[i..].find('<') {
        let start = i + p;
        let rest = &form[start + 1..];
        let tag: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let (attrs, end) = attributes(form, start);
        i = end.max(start + 1);
        match tag.as_str() {
            "input" | "textarea" | "select" if attrs.contains_key("name") => {
                let (value, checked) = match tag.as_str() {
                    "textarea" => {
                        let close = form[end..].find("</textarea>").unwrap() + end;
                        (unescape(&form[end..close]), false)
                    }
                    "select" => {
                        let close = form[end..].find("</select>").unwrap() + end;
                        let options = &form[end..close];
                        let mut chosen = None;
                        let mut first = None;
                        let mut j = 0;
                        while let Some(q) = options[j..].find("<option") {
                            let (o, e) = attributes(options, j + q);
                            first.get_or_insert(o["value"].clone());
                            if o.contains_key("selected") {
                                chosen = Some(o["value"].clone());
                            }
                            j = e;
                        }
                        (chosen.or(first).unwrap_or_default(), false)
                    }
                    _ => (
                        attrs.get("value").cloned().unwrap_or_default(),
                        attrs.contains_key("checked"),
                    ),
                };
                out.push(Control {
                    attrs,
                    value,
                    checked,
                });
            }
            _ => {}
        }
    }
    out
}

/// One opening-hours row of a form.
#[derive(Debug, Clone)]
struct HoursRow {
    weekday: u8,
    open_day: bool,
    open: String,
    close: String,
}

fn hours_rows(form: &str) -> Vec<HoursRow> {
    form.split("data-hours-row")
        .skip(1)
        .map(|row| {
            let weekday = row
                .split("data-weekday=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let part = |name: &str| -> (String, bool) {
                let at = row.find(&format!("data-part=\"{name}\"")).unwrap();
                let start = row[..at].rfind('<').unwrap();
                let (attrs, _) = attributes(row, start);
                (
                    attrs.get("value").cloned().unwrap_or_default(),
                    attrs.contains_key("checked"),
                )
            };
            HoursRow {
                weekday,
                open_day: part("open-day").1,
                open: part("open").0,
                close: part("close").0,
            }
        })
        .collect()
}

/// A form read from the page, edited like a user would, then encoded as `settings.js` encodes it.
struct Form {
    html: String,
    controls: Vec<Control>,
    hours: Vec<HoursRow>,
}

impl Form {
    fn read(html: &str, id: &str) -> Form {
        let html = element(html, id).to_owned();
        Form {
            controls: controls(&html),
            hours: hours_rows(&html),
            html,
        }
    }

    /// The form's `data-settings-write`: method and path.
    fn write(&self) -> (String, String) {
        let (attrs, _) = attributes(&self.html, 0);
        let write = attrs.get("data-settings-write").expect("a settings form").clone();
        let (m, p) = write.split_once(' ').unwrap();
        (m.to_owned(), p.to_owned())
    }

    fn control(&mut self, name: &str) -> &mut Control {
        self.controls
            .iter_mut()
            .find(|c| c.attr("name") == Some(name))
            .unwrap_or_else(|| panic!("no control named {name}"))
    }

    fn value(&self, name: &str) -> &str {
        &self
            .controls
            .iter()
            .find(|c| c.attr("name") == Some(name))
            .unwrap_or_else(|| panic!("no control named {name}"))
            .value
    }

    fn fill(&mut self, name: &str, value: &str) -> &mut Self {
        self.control(name).value = value.to_owned();
        self
    }

    fn check(&mut self, name: &str, checked: bool) -> &mut Self {
        self.control(name).checked = checked;
        self
    }

    /// Checks or unchecks the box of a `set` group with this value.
    fn check_value(&mut self, name: &str, value: &str, checked: bool) -> &mut Self {
        self.controls
            .iter_mut()
            .find(|c| c.attr("name") == Some(name) && c.attr("value") == Some(value))
            .unwrap_or_else(|| panic!("no {name} box {value}"))
            .checked = checked;
        self
    }

    fn body(&self) -> Value {
        let mut body = Value::Object(Map::new());
        let mut sets: Vec<(String, Vec<&Control>)> = Vec::new();
        for c in &self.controls {
            let name = c.attr("name").unwrap();
            let raw = c.value.as_str();
            let value = match c.attr("data-type") {
                Some("set") => {
                    match sets.iter_mut().find(|(n, _)| n == name) {
                        Some((_, boxes)) => boxes.push(c),
                        None => sets.push((name.to_owned(), vec![c])),
                    }
                    continue;
                }
                Some("bool") => json!(c.checked),
                Some("int") if raw.trim().is_empty() => Value::Null,
                Some("int") => json!(raw.trim().parse::<i64>().unwrap()),
                Some("percent") if raw.trim().is_empty() => Value::Null,
                Some("percent") => {
                    json!((raw.trim().parse::<f64>().unwrap() * 100.0).round() / 10000.0)
                }
                Some("list") => json!(
                    raw.split(['\n', ','])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                ),
                Some("empty-null") if raw.trim().is_empty() => Value::Null,
                Some("empty-null") => json!(raw.trim()),
                Some(other) => panic!("unknown data-type {other}"),
                None => json!(raw),
            };
            set_path(&mut body, name, value);
        }
        for (name, boxes) in sets {
            let checked: Vec<&str> = boxes
                .iter()
                .filter(|c| c.checked)
                .map(|c| c.attr("value").unwrap())
                .collect();
            let value = if checked.len() == boxes.len() {
                Value::Null
            } else {
                json!(checked)
            };
            set_path(&mut body, &name, value);
        }
        if self.html.contains("data-hours=\"business_hours\"") {
            let rows: Vec<Value> = self
                .hours
                .iter()
                .filter(|r| r.open_day)
                .map(|r| json!({"weekday": r.weekday, "open": format!("{}:00", r.open), "close": format!("{}:00", r.close)}))
                .collect();
            set_path(&mut body, "business_hours", json!(rows));
        }
        body
    }
}

fn set_path(target: &mut Value, path: &str, value: Value) {
    let keys: Vec<&str> = path.split('.').collect();
    let mut node = target;
    for key in &keys[..keys.len() - 1] {
        if !node[*key].is_object() {
            node[*key] = json!({});
        }
        node = &mut node[*key];
    }
    node[keys[keys.len() - 1]] = value;
}

fn etag_of(html: &str) -> String {
    let at = html.find(" id=\"settings\"").unwrap();
    let (attrs, _) = attributes(html, html[..at].rfind('<').unwrap());
    attrs["data-etag"].clone()
}

/// Whether the page has a `<section id=…>`.
fn has_section(html: &str, id: &str) -> bool {
    html.find(&format!(" id=\"{id}\"")).is_some_and(|at| {
        html[..at]
            .rfind('<')
            .is_some_and(|s| html[s..].starts_with("<section"))
    })
}

fn disabled_fieldset(html: &str, form: &str) -> bool {
    let form = element(html, form);
    let at = form.find("<fieldset").unwrap();
    attributes(form, at).0.contains_key("disabled")
}

// ------------------------------------------------------------------------------------------ tests

#[tokio::test]
async fn without_a_session_the_page_redirects_to_the_login() {
    let page = setup().await;
    let (status, location, _) = page.get("/app/settings", None).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/app/login?next=/app/settings");
}

/// Stores values through the store (not the page) so the page must render them.
async fn store_values(page: &Page) -> String {
    let store = &page.env.store;
    let t = page.env.tenant.id;
    store
        .update_tenant_profile(
            t,
            TenantProfile {
                name: "Acme <b>Plumbing</b> & Sons".into(),
                timezone: TimeZone::parse("America/Chicago").unwrap(),
                business_hours: vec![OpeningHours {
                    weekday: 2,
                    open: chrono::NaiveTime::from_hms_opt(7, 30, 0).unwrap(),
                    close: chrono::NaiveTime::from_hms_opt(16, 45, 0).unwrap(),
                }],
            },
        )
        .await
        .unwrap();
    let mut settings = callbook_server::app::default_settings();
    settings["voice"]["greeting"] = json!("Hello from {business} <script>alert(1)</script>");
    settings["filtering"]["block"] = json!(["+1900", "+15550001111"]);
    settings["filtering"]["reject_anonymous"] = json!(true);
    settings["filtering"]["min_call_seconds"] = json!(7);
    settings["retention"] = json!({"audio_days": 30, "transcript_days": 400, "extraction_days": null});
    settings["extraction"] = json!({"review_threshold": 0.72});
    settings["profile"] =
        json!({"services": ["Boiler repair", "Drains & gutters"], "vocabulary": ["Worcester"]});
    store.update_tenant_settings(t, settings).await.unwrap();
    "Acme <b>Plumbing</b> & Sons".into()
}

#[tokio::test]
async fn an_owner_sees_every_section_with_the_stored_values_escaped() {
    let page = setup().await;
    let (owner, session) = page.user("olivia", Role::Owner).await;
    store_values(&page).await;
    // A line, a token and notification preferences to show.
    let (status, line) = page
        .send(
            &session,
            "POST",
            "/api/v1/phone-lines",
            Some(json!({"phone_number": "+14155550103"})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{line}");
    let (status, _) = page
        .send(
            &session,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "Zapier <sync>", "role": "staff"})),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let mut settings = page.settings().await;
    settings["notifications"] = json!({"users": {owner.id.to_string(): {
        "email": "olivia@example.com", "channels": ["live", "in_app"], "kinds": null}}});
    page.env
        .store
        .update_tenant_settings(page.env.tenant.id, settings)
        .await
        .unwrap();
    // Another tenant's token is not listed.
    page.env
        .api_token(api_common::OTHER_TOKEN, "other-tenant-token", None)
        .await;

    let html = page.page(&session).await;
    for id in [
        "profile",
        "phone-lines",
        "greeting",
        "filtering",
        "notifications",
        "retention",
        "thresholds",
        "tokens",
        "users",
        "billing",
        "data",
    ] {
        assert!(has_section(&html, id), "#{id} missing");
        assert!(
            html.contains(&format!("href=\"#{id}\"")),
            "nav link to #{id} missing"
        );
    }
    // escaped, never raw
    assert!(html.contains("Acme &lt;b&gt;Plumbing&lt;/b&gt; &amp; Sons"));
    assert!(!html.contains("<b>Plumbing</b>"));
    assert!(html.contains("Hello from {business} &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("Zapier &lt;sync&gt;"));
    assert!(!html.contains("other-tenant-token"));

    let profile = Form::read(&html, "profile-form");
    assert_eq!(profile.value("name"), "Acme <b>Plumbing</b> & Sons");
    assert_eq!(profile.value("timezone"), "America/Chicago");
    assert_eq!(profile.value("services"), "Boiler repair\nDrains & gutters");
    assert_eq!(profile.value("vocabulary"), "Worcester");
    let tuesday: Vec<_> = profile.hours.iter().filter(|r| r.weekday == 2).collect();
    assert_eq!(tuesday.len(), 1);
    assert!(tuesday[0].open_day);
    assert_eq!(
        (tuesday[0].open.as_str(), tuesday[0].close.as_str()),
        ("07:30", "16:45")
    );
    assert_eq!(profile.hours.len(), 7, "one row per weekday");
    assert!(
        profile
            .hours
            .iter()
            .filter(|r| r.weekday != 2)
            .all(|r| !r.open_day)
    );
    assert!(!disabled_fieldset(&html, "profile-form"));

    let filtering = Form::read(&html, "filtering-form");
    assert_eq!(filtering.value("filtering.block"), "+1900\n+15550001111");
    assert_eq!(filtering.value("filtering.min_call_seconds"), "7");
    assert!(
        filtering
            .controls
            .iter()
            .any(|c| c.attr("name") == Some("filtering.reject_anonymous") && c.checked)
    );
    assert!(
        filtering
            .controls
            .iter()
            .any(|c| c.attr("name") == Some("filtering.reject_failed_attestation") && !c.checked)
    );

    let retention = Form::read(&html, "retention-form");
    assert_eq!(retention.value("retention.audio_days"), "30");
    assert_eq!(retention.value("retention.transcript_days"), "400");
    assert_eq!(retention.value("retention.extraction_days"), "");
    assert_eq!(
        Form::read(&html, "thresholds-form").value("extraction.review_threshold"),
        "72"
    );

    let notifications = Form::read(&html, "notifications-form");
    assert_eq!(notifications.value("email"), "olivia@example.com");
    let checked: Vec<&str> = notifications
        .controls
        .iter()
        .filter(|c| c.attr("name") == Some("channels") && c.checked)
        .map(|c| c.attr("value").unwrap())
        .collect();
    assert_eq!(checked, ["live", "in_app"]);

    // the line: listed with Release, and a greeting form of its own
    let owned = element(&html, "owned-lines");
    assert!(owned.contains("+1 (415) 555-0103"), "{owned}");
    assert!(owned.contains(&format!("data-release-line=\"{}\"", line["id"].as_str().unwrap())));
    assert!(element(&html, "line-greetings").contains("voice.lines.+14155550103.greeting"));
    // search form labels the browser tests rely on
    let search = element(&html, "line-search");
    assert!(search.contains(">Area code</label>") && search.contains(">Contains</label>"));
    assert!(search.contains(">Search</button>"));
    // the owner may delete the business; the token role choice goes up to owner
    assert!(html.contains("id=\"delete-business\""));
    assert!(html.contains("href=\"/api/v1/export\""));
    assert!(element(&html, "token-role").contains("value=\"owner\""));
    // the settings ETag the forms send
    let (_, _, etag) = {
        let r = page
            .env
            .raw(
                "GET",
                "/api/v1/settings",
                None,
                None,
                &[("cookie", session.cookie.as_str())],
            )
            .await;
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        (0, 0, etag)
    };
    assert_eq!(etag_of(&html), etag);
    // every write form posts (never a GET with personal data in the URL) and the page loads its module
    let mut forms = 0;
    for (at, _) in html.match_indices("<form") {
        let (attrs, _) = attributes(&html, at);
        let method = attrs.get("method").map(String::as_str);
        match attrs.get("id").map(String::as_str) {
            Some("line-search") => assert_eq!(method, None, "a search is a GET"),
            Some("release-form") => assert_eq!(method, Some("dialog")),
            _ => assert_eq!(method, Some("post"), "{attrs:?}"),
        }
        forms += 1;
    }
    assert!(forms >= 13, "{forms} forms");
    assert!(html.contains("src=\"/app/assets/settings.js?v="));
    assert!(html.contains("href=\"/app/assets/settings.css?v="));
    // the page's CSRF token is the session's
    assert!(html.contains(&format!("name=\"csrf-token\" content=\"{}\"", session.csrf)));
}

#[tokio::test]
async fn staff_see_read_only_sections_and_nobody_elses_data() {
    let page = setup().await;
    let (admin, admin_session) = page.user("ada", Role::Admin).await;
    let (staff, session) = page.user("sam", Role::Staff).await;
    store_values(&page).await;
    // the admin's token and e-mail, the staff member's own e-mail
    let (status, _) = page
        .send(
            &admin_session,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "admin-only-token"})),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let mut settings = page.settings().await;
    settings["notifications"] = json!({"users": {
        admin.id.to_string(): {"email": "ada-private@example.com"},
        staff.id.to_string(): {"email": "sam@example.com"}}});
    settings["billing"] = json!({"customer_id": "cus_secret123"});
    page.env
        .store
        .update_tenant_settings(page.env.tenant.id, settings)
        .await
        .unwrap();

    let html = page.page(&session).await;
    for form in [
        "profile-form",
        "voice-form",
        "filtering-form",
        "retention-form",
        "thresholds-form",
    ] {
        assert!(
            disabled_fieldset(&html, form),
            "{form} is not read-only for staff"
        );
    }
    assert!(html.contains("Read only: an admin or the owner can change this."));
    // values still visible
    assert_eq!(
        Form::read(&html, "filtering-form").value("filtering.block"),
        "+1900\n+15550001111"
    );
    // their own preferences, nobody else's address, no billing, users, holds, export or deletion
    assert_eq!(
        Form::read(&html, "notifications-form").value("email"),
        "sam@example.com"
    );
    assert!(!html.contains("ada-private@example.com"));
    assert!(!html.contains("cus_secret123"));
    assert!(!has_section(&html, "billing"));
    assert!(!has_section(&html, "users"));
    assert!(!html.contains("href=\"#users\""));
    assert!(!html.contains("/api/v1/export"));
    assert!(!html.contains("id=\"delete-business\""));
    assert!(!html.contains("id=\"line-search\""));
    assert!(!html.contains("data-release-line"));
    assert!(html.contains("Only an admin or the owner can buy or release numbers."));
    assert!(html.contains("Exports, legal holds and deleting the business need an admin or the owner."));
    // tokens: only their own, and only the staff role offered
    assert!(!html.contains("admin-only-token"));
    let role = element(&html, "token-role");
    assert!(role.contains("value=\"staff\"") && !role.contains("value=\"admin\""));
    // staff may still block a caller
    assert!(html.contains("id=\"block-form\""));

    // an admin: everything but deleting the business
    let html = page.page(&admin_session).await;
    assert!(!disabled_fieldset(&html, "profile-form"));
    assert!(has_section(&html, "users") && has_section(&html, "billing"));
    assert!(!html.contains("id=\"delete-business\""));
    assert!(html.contains("Only the owner can delete the business."));
    assert!(!element(&html, "user-role").contains("value=\"owner\""));
}

#[tokio::test]
async fn every_settings_form_sends_json_the_api_accepts_and_stores() {
    let page = setup().await;
    let (owner, session) = page.user("olivia", Role::Owner).await;
    let (status, _) = page
        .send(
            &session,
            "POST",
            "/api/v1/phone-lines",
            Some(json!({"phone_number": "+12125550104"})),
            None,
        )
        .await;
    assert_eq!(status, 201);

    // Saves one form of the freshly rendered page with the page's ETag; returns the response.
    async fn save(page: &Page, session: &Session, id: &str, edit: impl FnOnce(&mut Form)) -> Value {
        let html = page.page(session).await;
        let mut form = Form::read(&html, id);
        edit(&mut form);
        let (method, path) = form.write();
        let body = form.body();
        let (status, out) = page
            .send(session, &method, &path, Some(body.clone()), Some(&etag_of(&html)))
            .await;
        assert_eq!(status, 200, "{id}: {body} → {out}");
        out
    }

    // profile
    save(&page, &session, "profile-form", |f| {
        f.fill("name", "Acme Heating & Co")
            .fill("timezone", "Europe/London")
            .fill("services", "Boilers\nDrains, Gutters")
            .fill("vocabulary", "Worcester Bosch\nVaillant");
        let saturday = f.hours.iter_mut().find(|r| r.weekday == 6).unwrap();
        saturday.open_day = true;
        saturday.open = "09:00".into();
        saturday.close = "13:30".into();
    })
    .await;
    let tenant = page.env.store.get_tenant(page.env.tenant.id).await.unwrap();
    assert_eq!(tenant.name, "Acme Heating & Co");
    assert_eq!(tenant.timezone.name(), "Europe/London");
    assert_eq!(tenant.business_hours.len(), 1);
    assert_eq!(tenant.business_hours[0].weekday, 6);
    assert_eq!(tenant.business_hours[0].close.to_string(), "13:30:00");
    assert_eq!(
        tenant.settings["profile"]["services"],
        json!(["Boilers", "Drains", "Gutters"])
    );
    assert_eq!(
        tenant.settings["profile"]["vocabulary"],
        json!(["Worcester Bosch", "Vaillant"])
    );

    // greeting
    save(&page, &session, "voice-form", |f| {
        f.fill("voice.greeting", "Thanks for calling {business}!")
            .fill("voice.ai_disclosure", "A computer writes down your message.")
            .fill("voice.max_message_seconds", "120");
    })
    .await;
    let s = page.settings().await;
    assert_eq!(s["voice"]["greeting"], "Thanks for calling {business}!");
    assert_eq!(
        s["voice"]["ai_disclosure"],
        "A computer writes down your message."
    );
    assert_eq!(s["voice"]["max_message_seconds"], 120);

    // a line's own greeting and forwarding: empty fields inherit (null removes the override)
    let html = page.page(&session).await;
    let html_line = element(&html, "line-greetings").to_owned();
    let line_form_id = {
        let start = html_line.find("<details").expect("a line greeting form");
        attributes(&html_line, start).0["data-line-id"].clone()
    };
    let mut form = Form {
        controls: controls(&html_line),
        hours: Vec::new(),
        html: html_line.clone(),
    };
    form.fill(
        "voice.lines.+12125550104.greeting",
        "You reached the New York line.",
    )
    .fill("voice.lines.+12125550104.forward_to", "+12125550199");
    let (status, out) = page
        .send(
            &session,
            "PATCH",
            "/api/v1/settings",
            Some(form.body()),
            Some(&etag_of(&html)),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let s = page.settings().await;
    let over = &s["voice"]["lines"]["+12125550104"];
    assert_eq!(over["greeting"], "You reached the New York line.");
    assert_eq!(over["forward_to"], "+12125550199");
    assert!(over.get("recording_notice").is_none(), "{over}");
    let (_, lines) = page
        .send(&session, "GET", "/api/v1/phone-lines", None, None)
        .await;
    assert_eq!(lines[0]["id"], line_form_id);
    assert_eq!(lines[0]["mode"], "forward");

    // filtering
    save(&page, &session, "filtering-form", |f| {
        f.fill("filtering.block", "+1900\n+15550001111, +44")
            .fill("filtering.allow", "")
            .fill("filtering.min_call_seconds", "5")
            .check("filtering.reject_anonymous", true)
            .check("filtering.reject_failed_attestation", true);
    })
    .await;
    let s = page.settings().await;
    assert_eq!(
        s["filtering"],
        json!({"block": ["+1900", "+15550001111", "+44"], "allow": [],
        "min_call_seconds": 5, "reject_anonymous": true, "reject_failed_attestation": true})
    );

    // retention: empty keeps forever (null)
    save(&page, &session, "retention-form", |f| {
        f.fill("retention.audio_days", "14")
            .fill("retention.transcript_days", "")
            .fill("retention.extraction_days", "365");
    })
    .await;
    assert_eq!(
        page.settings().await["retention"],
        json!({"audio_days": 14, "extraction_days": 365})
    );
    let r = callbook_server::retention::RetentionSettings::from_settings(&page.settings().await);
    assert_eq!(
        (r.audio_days, r.transcript_days, r.extraction_days),
        (Some(14), None, Some(365))
    );

    // threshold: a percentage on the page, a fraction in the settings
    save(&page, &session, "thresholds-form", |f| {
        f.fill("extraction.review_threshold", "65");
    })
    .await;
    assert_eq!(
        page.settings().await["extraction"]["review_threshold"],
        json!(0.65)
    );

    // notifications: some channels and kinds; all boxes ticked → null (= everything, future kinds too)
    save(&page, &session, "notifications-form", |f| {
        f.fill("email", "olivia@example.com")
            .check_value("channels", "email", false)
            .check_value("kinds", "call.step", false)
            .check_value("kinds", "job.updated", false);
    })
    .await;
    let prefs = page.settings().await["notifications"]["users"][owner.id.to_string()].clone();
    assert_eq!(prefs["email"], "olivia@example.com");
    assert_eq!(prefs["channels"], json!(["live", "in_app"]));
    assert_eq!(
        prefs["kinds"],
        json!([
            "call.received",
            "call.finished",
            "call.needs_review",
            "call.dead",
            "job.created",
            "job.moved"
        ])
    );
    save(&page, &session, "notifications-form", |f| {
        f.fill("email", "")
            .check_value("channels", "email", true)
            .check_value("kinds", "call.step", true)
            .check_value("kinds", "job.updated", true);
    })
    .await;
    let prefs = page.settings().await["notifications"]["users"][owner.id.to_string()].clone();
    assert_eq!(prefs, json!({"email": null, "channels": null, "kinds": null}));
}

#[tokio::test]
async fn a_stale_etag_is_refused_and_field_errors_name_the_pages_fields() {
    let page = setup().await;
    let (_, session) = page.user("olivia", Role::Owner).await;
    let html = page.page(&session).await;
    let stale = etag_of(&html);
    let mut filtering = Form::read(&html, "filtering-form");
    filtering.fill("filtering.block", "+1900\n12345");
    // invalid: the error's field starts with a data-error-for path on the page
    let (status, problem) = page
        .send(
            &session,
            "PATCH",
            "/api/v1/settings",
            Some(filtering.body()),
            Some(&stale),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "filtering.block[1]");
    assert!(element(&html, "filtering-form").contains("data-error-for=\"filtering.block\""));
    let mut profile = Form::read(&html, "profile-form");
    profile.fill("timezone", "Mars/Olympus");
    let (status, problem) = page
        .send(
            &session,
            "PUT",
            "/api/v1/settings/profile",
            Some(profile.body()),
            Some(&stale),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "timezone");
    assert!(element(&html, "profile-form").contains("data-error-for=\"timezone\""));

    // someone else saves: the page's ETag is stale → 412, which the page answers with "reload"
    let thresholds = Form::read(&html, "thresholds-form");
    let (status, _) = page
        .send(
            &session,
            "PATCH",
            "/api/v1/settings",
            Some(thresholds.body()),
            Some(&stale),
        )
        .await;
    assert_eq!(status, 200);
    let (status, problem) = page
        .send(
            &session,
            "PATCH",
            "/api/v1/settings",
            Some(thresholds.body()),
            Some(&stale),
        )
        .await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["code"], "precondition_failed");
}

#[tokio::test]
async fn numbers_are_searched_bought_listed_and_released_from_the_page() {
    let page = setup().await;
    let (_, session) = page.user("ada", Role::Admin).await;
    let html = page.page(&session).await;
    assert!(element(&html, "owned-lines").contains("No numbers yet"));
    let search = Form::read(&html, "line-search");
    assert_eq!(search.value("country"), "US");
    assert_eq!(search.value("kind"), "local");
    // the query settings.js builds from the search form
    let (status, found) = page
        .send(
            &session,
            "GET",
            "/api/v1/phone-lines/available?country=US&kind=local&area_code=312&contains=0107",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);
    let number = found[0]["phone_number"].as_str().unwrap().to_owned();
    assert_eq!(number, "+13125550107");
    let (status, line) = page
        .send(
            &session,
            "POST",
            "/api/v1/phone-lines",
            Some(json!({"phone_number": number})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{line}");
    // bought twice: the page shows the problem's code as "someone else just took this number"
    let (status, problem) = page
        .send(
            &session,
            "POST",
            "/api/v1/phone-lines",
            Some(json!({"phone_number": number})),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("number_unavailable"))
    );

    // the re-rendered parts settings.js swaps in after the purchase
    let html = page.page(&session).await;
    let owned = element(&html, "owned-lines");
    assert!(owned.contains("+1 (312) 555-0107") && owned.contains(">Release</button>"));
    assert!(
        element(&html, "line-greetings")
            .contains(&format!("data-line-id=\"{}\"", line["id"].as_str().unwrap()))
    );
    assert!(
        page.fake
            .find_owned_number(&"+13125550107".parse().unwrap())
            .await
            .unwrap()
            .is_some()
    );

    let (status, _) = page
        .send(
            &session,
            "DELETE",
            &format!("/api/v1/phone-lines/{}", line["id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let html = page.page(&session).await;
    assert!(element(&html, "owned-lines").contains("No numbers yet"));
    assert!(!element(&html, "line-greetings").contains("data-line-id"));
}

#[tokio::test]
async fn tokens_users_blocks_and_holds_work_with_the_pages_bodies() {
    let page = setup().await;
    let (_, session) = page.user("olivia", Role::Owner).await;
    let (_, staff_session) = page.user("sam", Role::Staff).await;

    // token: {name, role} from #token-form; the secret comes back once, the list shows it after
    let html = page.page(&session).await;
    let form = Form::read(&html, "token-form");
    assert_eq!(form.value("role"), "staff");
    let (status, created) = page
        .send(
            &session,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "Accounting export", "role": form.value("role")})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["token"].as_str().unwrap().starts_with("cb_"));
    let html = page.page(&session).await;
    let list = element(&html, "token-list");
    assert!(list.contains("Accounting export") && list.contains("Last used never"));
    assert!(
        !list.contains(created["token"].as_str().unwrap()),
        "the secret is never re-rendered"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = page
        .send(&session, "DELETE", &format!("/api/v1/tokens/{id}"), None, None)
        .await;
    assert_eq!(status, 200);
    let html = page.page(&session).await;
    assert!(element(&html, "token-list").contains(">Revoked</span>"));
    assert!(!element(&html, "token-list").contains("data-revoke-token"));

    // users: {login, role} from #user-form → one-time password; role change; removal
    let form = Form::read(&html, "user-form");
    let (status, created) = page
        .send(
            &session,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "pat@example.com", "role": form.value("role")})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["password"].as_str().unwrap().len() >= 12);
    let user_id = created["user"]["id"].as_str().unwrap().to_owned();
    let html = page.page(&session).await;
    assert!(element(&html, "user-list").contains("pat@example.com"));
    assert!(html.contains(&format!("data-user-role=\"{user_id}\"")));
    let (status, changed) = page
        .send(
            &session,
            "PATCH",
            &format!("/api/v1/users/{user_id}"),
            Some(json!({"role": "admin"})),
            None,
        )
        .await;
    assert_eq!((status, changed["role"].as_str()), (200, Some("admin")));
    let (status, _) = page
        .send(
            &session,
            "DELETE",
            &format!("/api/v1/users/{user_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);

    // block a caller as staff: {number} from #block-form
    let html = page.page(&staff_session).await;
    assert!(
        Form::read(&html, "block-form")
            .controls
            .iter()
            .any(|c| c.attr("name") == Some("number"))
    );
    let (status, _) = page
        .send(
            &staff_session,
            "POST",
            "/api/v1/settings/filtering/block",
            Some(json!({"number": "+14155550123"})),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let html = page.page(&session).await;
    assert_eq!(
        Form::read(&html, "filtering-form").value("filtering.block"),
        "+14155550123"
    );

    // legal hold on everything, listed, released
    let (status, _) = page
        .send(
            &session,
            "POST",
            "/api/v1/legal-holds",
            Some(json!({"scope": "tenant"})),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let html = page.page(&session).await;
    let holds = element(&html, "hold-list");
    assert!(holds.contains("All of the business") && holds.contains("data-release-hold=\"tenant\""));
    assert!(!html.contains("data-place-hold"));
    let (status, _) = page
        .send(&session, "DELETE", "/api/v1/legal-holds/tenant", None, None)
        .await;
    assert_eq!(status, 204);
    assert!(page.page(&session).await.contains("data-place-hold=\"tenant\""));

    // export: the link's target answers a zip to the session
    let response = page
        .env
        .raw(
            "GET",
            "/api/v1/export",
            None,
            None,
            &[("cookie", session.cookie.as_str())],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
}

#[tokio::test]
async fn the_owner_deletes_the_business_with_its_typed_name() {
    let page = setup().await;
    let (_, session) = page.user("olivia", Role::Owner).await;
    page.env
        .store
        .update_tenant_profile(
            page.env.tenant.id,
            TenantProfile {
                name: "Acme & \"Sons\"".into(),
                timezone: TimeZone::UTC,
                business_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    let html = page.page(&session).await;
    let form = element(&html, "delete-business");
    let (attrs, _) = attributes(form, 0);
    let name = attrs["data-name"].clone();
    assert_eq!(name, "Acme & \"Sons\"");
    // the wrong name is refused on the field the page shows it under
    let (status, problem) = page
        .send(
            &session,
            "DELETE",
            "/api/v1/tenant",
            Some(json!({"confirm": "Acme"})),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "confirm");
    assert!(form.contains("data-error-for=\"confirm\""));
    let (status, receipt) = page
        .send(
            &session,
            "DELETE",
            "/api/v1/tenant",
            Some(json!({"confirm": name})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    // the session went with the tenant: the page asks to sign in
    let (status, location, _) = page.get("/app/settings", Some(&session)).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/app/login"));
}

#[tokio::test]
async fn a_bearer_token_without_a_user_gets_no_personal_notification_form() {
    let page = setup().await;
    let request = Request::get("/app/settings")
        .header("authorization", format!("Bearer {}", api_common::TOKEN))
        .body(Body::empty())
        .unwrap();
    let response = page.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(html.contains("Sign in as a user to choose notifications"));
    assert!(!html.contains("id=\"notifications-form\""));
    // the admin token may change settings
    assert!(!disabled_fieldset(&html, "filtering-form"));
}
