//! The job pages of the dashboard (see [`crate::web`]): `/app/jobs/{id}` and `/app/jobs/new`.
//!
//! Everything is rendered from the same store calls the API makes, in the viewer's tenant (another tenant's
//! job is the `404` page). `assets/job.js` saves the form with `PATCH /api/v1/jobs/{id}` and `If-Match`, moves the
//! stage with `POST /jobs/{id}/move`, adds notes and uploads photos; schedule inputs are wall-clock times in the
//! **business's** zone (the tenant's, from `<meta name="tenant-zone">`), converted to RFC 3339 by the script.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use callbook_jobs::{Actor, Address, CustomerId, Job, JobId, Money, Stage, TimeZone, Urgency, UserId};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{Nav, Page, Viewer, WebResult, layout, stage_label, urgency_label};
use crate::api::jobs::MAX_PHOTO_BYTES;
use crate::api::{ApiError, ApiState};

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/app/jobs/new", get(new_job_page))
        .route("/app/jobs/{id}", get(job_page))
}

/// The friendly recurrence choices of the picker: `(value, label, rule without COUNT/UNTIL)`.
const REPEATS: [(&str, &str, &str); 5] = [
    ("none", "Does not repeat", ""),
    ("weekly", "Every week", "FREQ=WEEKLY"),
    ("biweekly", "Every 2 weeks", "FREQ=WEEKLY;INTERVAL=2"),
    ("monthly", "Every month", "FREQ=MONTHLY"),
    ("yearly", "Every year", "FREQ=YEARLY"),
];

/// The parts of an RRULE the picker understands: `(choice, count, until as YYYY-MM-DD in `zone`)`, or `None`
/// when the rule has other parts (shown as a custom rule, kept unless the user picks another).
fn picker_state(rule: &str, zone: TimeZone) -> Option<(&'static str, Option<u32>, Option<String>)> {
    let mut base = Vec::new();
    let (mut count, mut until) = (None, None);
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=')?;
        match key.to_ascii_uppercase().as_str() {
            "COUNT" => count = Some(value.parse().ok()?),
            "UNTIL" => until = Some(until_date(value, zone)?),
            "INTERVAL" if value == "1" => {}
            _ => base.push(part.to_ascii_uppercase()),
        }
    }
    let base = base.join(";");
    REPEATS
        .iter()
        .find(|(value, _, rule)| *value != "none" && *rule == base)
        .map(|(value, _, _)| (*value, count, until))
}

/// An RRULE `UNTIL` (`20261231T235959Z`, a local `20261231T235959` or a date `20261231`) as a date in `zone`.
fn until_date(value: &str, zone: TimeZone) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone as _};
    if let Some(utc) = value.strip_suffix('Z') {
        let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").ok()?;
        let local = zone.tz().from_utc_datetime(&t);
        return Some(local.format("%Y-%m-%d").to_string());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S") {
        return Some(t.format("%Y-%m-%d").to_string());
    }
    NaiveDate::parse_from_str(value, "%Y%m%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// An RRULE in words (`Every 2 weeks on Monday, 10 times`); parts it does not know are appended as written.
pub(crate) fn recurrence_words(rule: &str, zone: TimeZone) -> String {
    let mut freq = None;
    let mut interval = 1u32;
    let mut count = None;
    let mut until = None;
    let mut days = Vec::new();
    let mut other = Vec::new();
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            other.push(part.to_owned());
            continue;
        };
        match key.to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.to_ascii_uppercase()),
            "INTERVAL" => match value.parse() {
                Ok(n) => interval = n,
                Err(_) => other.push(part.to_owned()),
            },
            "COUNT" => count = value.parse::<u32>().ok(),
            "UNTIL" => until = until_date(value, zone),
            "BYDAY" => {
                for day in value.split(',') {
                    let code = day.trim_start_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit());
                    let name = match code.to_ascii_uppercase().as_str() {
                        "MO" => "Monday",
                        "TU" => "Tuesday",
                        "WE" => "Wednesday",
                        "TH" => "Thursday",
                        "FR" => "Friday",
                        "SA" => "Saturday",
                        "SU" => "Sunday",
                        _ => {
                            other.push(part.to_owned());
                            continue;
                        }
                    };
                    let ordinal = &day[..day.len() - code.len()];
                    days.push(match ordinal {
                        "" => name.to_owned(),
                        "1" | "+1" => format!("the first {name}"),
                        "2" | "+2" => format!("the second {name}"),
                        "3" | "+3" => format!("the third {name}"),
                        "4" | "+4" => format!("the fourth {name}"),
                        "-1" => format!("the last {name}"),
                        n => format!("{name} #{n}"),
                    });
                }
            }
            _ => other.push(part.to_owned()),
        }
    }
    let unit = match freq.as_deref() {
        Some("DAILY") => ("day", "Daily"),
        Some("WEEKLY") => ("week", "Weekly"),
        Some("MONTHLY") => ("month", "Monthly"),
        Some("YEARLY") => ("year", "Yearly"),
        Some("HOURLY") => ("hour", "Hourly"),
        _ => return format!("Repeats ({rule})"),
    };
    let mut words = if interval == 1 {
        unit.1.to_owned()
    } else {
        format!("Every {interval} {}s", unit.0)
    };
    if !days.is_empty() {
        words.push_str(" on ");
        words.push_str(&days.join(", "));
    }
    if let Some(n) = count {
        words.push_str(&if n == 1 {
            ", once".to_owned()
        } else {
            format!(", {n} times")
        });
    }
    if let Some(date) = until {
        words.push_str(&format!(", until {date}"));
    }
    if !other.is_empty() {
        words.push_str(&format!(" ({})", other.join(";")));
    }
    words
}

fn duration_words(seconds: i64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

fn actor_name(actor: &Actor, users: &HashMap<UserId, String>) -> String {
    match actor {
        Actor::User(id) => users
            .get(id)
            .cloned()
            .unwrap_or_else(|| "A former user".to_owned()),
        Actor::System(name) if name == "pipeline" => "Callbook (from the call)".to_owned(),
        Actor::System(name) => format!("System ({name})"),
    }
}

fn datetime_local(t: DateTime<Utc>, zone: TimeZone) -> String {
    t.with_timezone(&zone.tz()).format("%Y-%m-%dT%H:%M").to_string()
}

/// A field's error slot, filled by `job.js` from a `422` problem's `errors`.
fn error_for(field: &str) -> Markup {
    html! { p.error data-error-for=(field) id={ "error-" (field.replace('.', "-")) } aria-live="polite" {} }
}

/// `/app/jobs/new`: a job taken by hand (a walk-in, an e-mail, a call on a personal phone). `assets/job-new.js`
/// posts it to `POST /api/v1/jobs` and opens the new job; it starts in Quote requested.
async fn new_job_page(viewer: Viewer) -> WebResult {
    let zone = viewer.tenant.timezone;
    let zone_name = zone.name();
    let body = html! {
        div.page-header {
            h1 { "New job" }
        }
        form #new-job-form.card.stack.job-new method="post" novalidate data-zone=(zone_name) data-endpoint="/api/v1/jobs" {
            p.hint { "A job taken by hand: a walk-in, an e-mail, a call to a personal phone. It starts in Quote requested." }
            div.field {
                label for="job-title-input" { "Summary" }
                input #job-title-input type="text" name="title" required maxlength="200" autocomplete="off"
                    aria-describedby="error-title";
                (error_for("title"))
            }
            div.field {
                label for="job-description" { "Description" }
                textarea #job-description name="description" rows="3" aria-describedby="error-description" {}
                (error_for("description"))
            }
            (customer_field(None, None, "Choose a customer"))
            p.hint.customer-hint {
                "Not a customer yet? Leave this empty and put their name and phone number in the notes; "
                "link the customer later from the job page."
            }
            (address_fieldset(&Address::default()))
            (schedule_fieldset("", "", zone_name, None))
            (recurrence_fieldset("", zone))
            (urgency_and_price(Urgency::Normal, None))
            div.field {
                label for="job-notes-text" { "Notes" }
                textarea #job-notes-text name="notes" rows="3" aria-describedby="error-notes" {}
                (error_for("notes"))
            }
            p.error.form-error #job-form-error role="alert" {}
            div.form-actions.save-bar {
                a.button href="/app/board" { "Cancel" }
                button.button.primary type="submit" { "Create job" }
            }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title: "New job",
            nav: Nav::Board,
            scripts: &["job-new.js"],
            styles: &["job.css"],
        },
        body,
    ))
}

async fn job_page(State(state): State<ApiState>, viewer: Viewer, Path(id): Path<String>) -> WebResult {
    let tenant = viewer.principal.tenant;
    let id: JobId = id.parse().map_err(|_| ApiError::not_found("job"))?;
    let job = state.store.get_job(tenant, id).await?;
    let customer = match job.customer_id {
        Some(customer) => state.store.get_customer(tenant, customer).await.ok(),
        None => None,
    };
    let history = state.store.stage_history(tenant, id).await?;
    let notes = state.store.list_notes(tenant, id).await?;
    let photos = state.store.list_photos(tenant, id).await?;
    let call = match job.source {
        Some(source) => state.store.get_call(tenant, source.call_id).await.ok(),
        None => None,
    };
    let users: HashMap<UserId, String> = state
        .store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.id, u.login))
        .collect();
    let zone = viewer.tenant.timezone;
    let title = if job.title.is_empty() {
        "Job"
    } else {
        job.title.as_str()
    };
    let body = render(
        &viewer,
        &job,
        customer.as_ref(),
        &history,
        &notes,
        &photos,
        call.as_ref(),
        &users,
        zone,
    );
    Ok(layout(
        &viewer,
        Page {
            title,
            nav: Nav::Board,
            scripts: &["job.js"],
            styles: &["job.css"],
        },
        body,
    ))
}

#[allow(clippy::too_many_arguments)]
fn render(
    viewer: &Viewer,
    job: &Job,
    customer: Option<&callbook_jobs::Customer>,
    history: &[callbook_jobs::StageChange],
    notes: &[callbook_jobs::JobNote],
    photos: &[callbook_jobs::JobPhoto],
    call: Option<&callbook_jobs::Call>,
    users: &HashMap<UserId, String>,
    zone: TimeZone,
) -> Markup {
    let id = job.id.to_string();
    let api = format!("/api/v1/jobs/{id}");
    let zone_name = viewer.tenant.timezone.name();
    let (start, end) = match &job.schedule {
        Some(s) => (datetime_local(s.start, zone), datetime_local(s.end, zone)),
        None => (String::new(), String::new()),
    };
    let other_zone = job
        .schedule
        .as_ref()
        .map(|s| s.timezone.name())
        .filter(|z| *z != zone_name);
    let rule = job.recurrence.as_deref().unwrap_or("");
    let closed = job.stage.is_closed();
    html! {
        div.page-header {
            h1 #job-title { (job.title) }
            div.actions.cluster {
                span.badge.stage-badge .muted[closed] data-stage=(job.stage.as_str()) { (stage_label(job.stage)) }
                @if job.schedule.is_some() {
                    a.button.small href={ (api) "/calendar.ics" } download={ "job-" (id) ".ics" } { "Add to calendar" }
                }
            }
        }
        div #job-conflict.banner.card hidden role="alert" {
            p.banner-text {}
            div.cluster {
                button.button.small.primary type="button" data-action="reload" { "Reload the job" }
                a.button.small href={ "/app/jobs/" (job.id) } target="_blank" rel="noopener" {
                    "See the latest version in a new tab"
                }
                button.button.small type="button" data-action="dismiss" { "Keep editing" }
            }
        }
        div.job-layout data-job-id=(id) data-version=(job.version) data-endpoint=(api) data-zone=(zone_name) {
            div.job-main.stack {
                form #job-stage.card.stage-form method="post" data-version=(job.version) {
                    div.field {
                        label for="job-stage-select" { "Stage" }
                        select #job-stage-select name="stage" {
                            @for stage in Stage::ALL {
                                option value=(stage.as_str()) selected[*stage == job.stage] { (stage_label(*stage)) }
                            }
                        }
                        p.hint { "Changing the stage saves at once, like moving the card on the board." }
                        (error_for("stage"))
                    }
                }
                form #job-form.card.stack method="post" novalidate data-version=(job.version) {
                    h2 { "Details" }
                    div.field {
                        label for="job-title-input" { "Summary" }
                        input #job-title-input type="text" name="title" value=(job.title) required maxlength="200"
                            aria-describedby="error-title";
                        (error_for("title"))
                    }
                    div.field {
                        label for="job-description" { "Description" }
                        textarea #job-description name="description" rows="4" aria-describedby="error-description" {
                            (job.description)
                        }
                        (error_for("description"))
                    }
                    (customer_field(job.customer_id, customer, "Change customer"))
                    (address_fieldset(&job.address))
                    (schedule_fieldset(&start, &end, zone_name, other_zone))
                    (recurrence_fieldset(rule, zone))
                    (urgency_and_price(job.urgency, job.price.as_ref()))
                    div.field {
                        label for="job-notes-text" { "Notes" }
                        textarea #job-notes-text name="notes" rows="3" aria-describedby="error-notes" {
                            (job.notes.as_deref().unwrap_or(""))
                        }
                        (error_for("notes"))
                    }
                    p.error.form-error #job-form-error role="alert" {}
                    div.form-actions.save-bar {
                        span.save-state.muted aria-live="polite" {}
                        button.button.primary type="submit" { "Save" }
                    }
                }
            }
            aside.job-side.stack {
                @if let Some(source) = job.source {
                    section #job-source.card {
                        h2 { "Source call" }
                        p {
                            a href={ "/app/calls/" (source.call_id) } { "Open the call" }
                        }
                        @if let Some(call) = call {
                            p.muted {
                                "Received " (viewer.local_time(call.started_at))
                                @if let Some(seconds) = call.recording.as_ref().and_then(|r| r.duration_seconds) {
                                    ", " (duration_words(seconds)) " long"
                                }
                                @if source.appointment_index > 0 {
                                    ", appointment " (source.appointment_index + 1) " of the call"
                                }
                                "."
                            }
                        }
                    }
                }
                section #job-history.card {
                    h2 { "Stage history" }
                    @if history.is_empty() {
                        p.empty { "No stage changes yet." }
                    } @else {
                        ol.list.history {
                            @for change in history.iter().rev() {
                                li {
                                    span.row-main {
                                        @match change.from {
                                            Some(from) => { (stage_label(from)) " → " (stage_label(change.to)) }
                                            None => { "Created in " (stage_label(change.to)) }
                                        }
                                    }
                                    span.row-meta.muted {
                                        (actor_name(&change.actor, users)) " · "
                                        time datetime=(change.at.to_rfc3339()) { (viewer.local_time(change.at)) }
                                    }
                                }
                            }
                        }
                    }
                }
                section #job-notes.card {
                    h2 { "Notes" }
                    ol.list.notes #note-list {
                        @for note in notes {
                            li {
                                p.row-main.note-body { (note.body) }
                                span.row-meta.muted {
                                    (actor_name(&note.actor, users)) " · "
                                    time datetime=(note.created_at.to_rfc3339()) { (viewer.local_time(note.created_at)) }
                                }
                            }
                        }
                    }
                    @if notes.is_empty() {
                        p.empty.notes-empty { "No notes yet." }
                    }
                    form #note-form.stack method="post" data-endpoint={ (api) "/notes" } {
                        div.field {
                            label for="note-body" { "New note" }
                            textarea #note-body name="body" rows="2" required {}
                            (error_for("body"))
                        }
                        button.button type="submit" { "Add note" }
                    }
                }
                section #job-photos.card data-max-bytes=(MAX_PHOTO_BYTES) data-endpoint={ (api) "/photos" } {
                    h2 { "Photos" }
                    ul.photo-grid #photo-grid {
                        @for (i, photo) in photos.iter().enumerate() {
                            li.photo {
                                a href={ (api) "/photos/" (photo.id) } target="_blank" rel="noopener" {
                                    img src={ (api) "/photos/" (photo.id) } loading="lazy"
                                        alt=(photo.caption.clone().unwrap_or_else(|| format!("Photo {}", i + 1)));
                                }
                                @if let Some(caption) = &photo.caption {
                                    span.caption { (caption) }
                                }
                            }
                        }
                    }
                    @if photos.is_empty() {
                        p.empty.photos-empty { "No photos yet." }
                    }
                    div.field.photo-upload {
                        label for="photo-input" { "Add photos" }
                        input #photo-input type="file" accept="image/*" capture="environment" multiple;
                        p.hint { "JPEG, PNG, WebP or HEIC, up to " (MAX_PHOTO_BYTES / (1024 * 1024)) " MB each. On a phone this opens the camera." }
                        p.error #photo-error role="alert" {}
                    }
                }
            }
        }
    }
}

/// The customer of a job form: the current one (a link), "Change customer" opening a search of the tenant's
/// customers (`job-form.js`), "Remove customer"; the choice is the hidden `customer_id`.
fn customer_field(
    customer_id: Option<CustomerId>,
    customer: Option<&callbook_jobs::Customer>,
    change_label: &str,
) -> Markup {
    html! {
        div.field.customer-field {
            span.label #customer-label { "Customer" }
            input type="hidden" name="customer_id" value=[customer_id.map(|c| c.to_string())];
            p.customer-current aria-labelledby="customer-label" {
                @match (customer_id, customer) {
                    (Some(cid), Some(c)) => {
                        a.customer-link href={ "/app/customers/" (cid) } { (c.name) }
                    }
                    (Some(cid), None) => {
                        a.customer-link href={ "/app/customers/" (cid) } { "Customer" }
                    }
                    _ => { span.muted { "No customer" } }
                }
            }
            div.customer-change #customer-change hidden {
                label for="customer-search" { "Find a customer" }
                input #customer-search type="search" autocomplete="off" placeholder="Name, phone or address";
                ul #customer-options.list aria-label="Matching customers" {}
            }
            div.cluster {
                button.button.small type="button" data-action="change-customer" aria-controls="customer-change" { (change_label) }
                button.button.small type="button" data-action="detach-customer" hidden[customer_id.is_none()] {
                    "Remove customer"
                }
            }
            (error_for("customer_id"))
        }
    }
}

/// The address inputs of a job form (`address.line1` …).
fn address_fieldset(address: &Address) -> Markup {
    html! {
        fieldset.address {
            legend { "Address" }
            div.field {
                label for="job-line1" { "Address" }
                input #job-line1 type="text" name="address.line1" autocomplete="address-line1"
                    value=[address.line1.as_deref()];
            }
            div.field {
                label for="job-line2" { "Apartment, suite or unit" }
                input #job-line2 type="text" name="address.line2" autocomplete="address-line2"
                    value=[address.line2.as_deref()];
            }
            div.grid-2 {
                div.field {
                    label for="job-city" { "City" }
                    input #job-city type="text" name="address.city" autocomplete="address-level2"
                        value=[address.city.as_deref()];
                }
                div.field {
                    label for="job-region" { "State or region" }
                    input #job-region type="text" name="address.region" autocomplete="address-level1"
                        value=[address.region.as_deref()];
                }
                div.field {
                    label for="job-postal" { "Postal code" }
                    input #job-postal type="text" name="address.postal_code" autocomplete="postal-code"
                        value=[address.postal_code.as_deref()];
                }
                div.field {
                    label for="job-country" { "Country" }
                    input #job-country type="text" name="address.country" autocomplete="country-name"
                        value=[address.country.as_deref()];
                }
            }
            (error_for("address"))
        }
    }
}

/// Start and end as wall-clock times in the business's zone (`zone_name`); `other_zone` is the job's own zone
/// when it differs.
fn schedule_fieldset(start: &str, end: &str, zone_name: &str, other_zone: Option<&str>) -> Markup {
    html! {
        fieldset.schedule {
            legend { "When" }
            p.hint #zone-hint {
                "Times are in the business's time zone, " strong { (zone_name) } "."
                @if let Some(z) = other_zone {
                    " This job was agreed in " (z) "; it keeps repeating in that zone."
                }
            }
            div.grid-2 {
                div.field {
                    label for="job-start" { "Start" }
                    input #job-start type="datetime-local" name="start" value=(start)
                        aria-describedby="zone-hint error-scheduled_start";
                    (error_for("scheduled_start"))
                }
                div.field {
                    label for="job-end" { "End" }
                    input #job-end type="datetime-local" name="end" value=(end)
                        aria-describedby="zone-hint error-scheduled_end";
                    (error_for("scheduled_end"))
                }
            }
            (error_for("schedule"))
        }
    }
}

/// The recurrence picker (`fieldset#recurrence`): the friendly choices of [`REPEATS`] with an end (never, after
/// a number of visits, on a date), or a custom rule kept as it is; `job-form.js` turns it into an RRULE.
fn recurrence_fieldset(rule: &str, zone: TimeZone) -> Markup {
    let picker = if rule.is_empty() {
        Some(("none", None, None))
    } else {
        picker_state(rule, zone)
    };
    let (choice, count, until) = picker.unwrap_or(("custom", None, None));
    let ends = if count.is_some() {
        "count"
    } else if until.is_some() {
        "until"
    } else {
        "never"
    };
    html! {
        fieldset.recurrence #recurrence data-rule=(rule) {
            legend { "Repeats" }
            @if !rule.is_empty() {
                p.recurrence-words #recurrence-words { (recurrence_words(rule, zone)) }
            } @else {
                p.recurrence-words.muted #recurrence-words { "Does not repeat" }
            }
            div.field {
                label for="job-repeat" { "Repeat" }
                select #job-repeat name="repeat" {
                    @for (value, label, _) in REPEATS {
                        option value=(value) selected[choice == value] { (label) }
                    }
                    @if choice == "custom" {
                        option value="custom" selected { "Custom rule (keep as is)" }
                    }
                }
            }
            div.recurrence-end hidden[choice == "none" || choice == "custom"] {
                div.field {
                    label for="job-repeat-ends" { "Stops" }
                    select #job-repeat-ends name="repeat_ends" {
                        option value="never" selected[ends == "never"] { "Never" }
                        option value="count" selected[ends == "count"] { "After a number of visits" }
                        option value="until" selected[ends == "until"] { "On a date" }
                    }
                }
                div.field.repeat-count hidden[ends != "count"] {
                    label for="job-repeat-count" { "Number of visits" }
                    input #job-repeat-count type="number" name="repeat_count" min="1" max="1000"
                        inputmode="numeric" value=(count.map(|c| c.to_string()).unwrap_or_else(|| "12".into()));
                }
                div.field.repeat-until hidden[ends != "until"] {
                    label for="job-repeat-until" { "Last date" }
                    input #job-repeat-until type="date" name="repeat_until" value=[until.as_deref()];
                }
            }
            p.hint {
                "Rule: " code #recurrence-rule { @if rule.is_empty() { "none" } @else { (rule) } }
            }
            (error_for("recurrence"))
        }
    }
}

/// Urgency and price (amount and currency) of a job form.
fn urgency_and_price(urgency_now: Urgency, price: Option<&Money>) -> Markup {
    let decimals = super::currency_decimals(price.map(|p| p.currency.as_str()).unwrap_or("USD"));
    let (placeholder, pattern) = match decimals {
        0 => ("0".to_owned(), "[0-9]+".to_owned()),
        d => (
            format!("0.{}", "0".repeat(d as usize)),
            format!("[0-9]+([.][0-9]{{1,{d}}})?"),
        ),
    };
    html! {
        div.grid-2 {
            div.field {
                label for="job-urgency" { "Urgency" }
                select #job-urgency name="urgency" {
                    @for urgency in Urgency::ALL {
                        option value=(urgency.as_str()) selected[*urgency == urgency_now] { (urgency_label(*urgency)) }
                    }
                }
                (error_for("urgency"))
            }
            div.field.price-field {
                label for="job-price" { "Price" }
                div.cluster.price-inputs {
                    input #job-price type="text" name="price" inputmode="decimal" placeholder=(placeholder)
                        pattern=(pattern) aria-describedby="error-price" data-decimals=(decimals)
                        value=[price.map(|p| super::minor_to_decimal(p.minor, &p.currency))];
                    label.visually-hidden for="job-currency" { "Currency" }
                    input #job-currency type="text" name="currency" maxlength="3" autocapitalize="characters"
                        data-currency-decimals=(super::currency_decimals_json())
                        value=(price.map(|p| p.currency.as_str()).unwrap_or("USD"));
                }
                p.hint { "Leave empty for no price. Currency as a three-letter code, e.g. USD." }
                (error_for("price"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_words() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(recurrence_words("FREQ=MONTHLY;COUNT=12", ny), "Monthly, 12 times");
        assert_eq!(
            recurrence_words("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", ny),
            "Every 2 weeks on Monday, Wednesday"
        );
        assert_eq!(
            recurrence_words("FREQ=MONTHLY;BYDAY=-1FR", ny),
            "Monthly on the last Friday"
        );
        // 04:59 UTC on 1 Jan is still 31 Dec in New York
        assert_eq!(
            recurrence_words("FREQ=YEARLY;UNTIL=20270101T045959Z", ny),
            "Yearly, until 2026-12-31"
        );
        assert_eq!(
            recurrence_words("FREQ=WEEKLY;BYSETPOS=1", ny),
            "Weekly (BYSETPOS=1)"
        );
        assert_eq!(recurrence_words("nonsense", ny), "Repeats (nonsense)");
    }

    #[test]
    fn picker_understands_its_own_rules_only() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            picker_state("FREQ=MONTHLY;COUNT=12", ny),
            Some(("monthly", Some(12), None))
        );
        assert_eq!(
            picker_state("FREQ=WEEKLY;INTERVAL=2", ny),
            Some(("biweekly", None, None))
        );
        assert_eq!(
            picker_state("FREQ=YEARLY;UNTIL=20270101T045959Z", ny),
            Some(("yearly", None, Some("2026-12-31".into())))
        );
        assert_eq!(picker_state("FREQ=WEEKLY;BYDAY=MO,TH", ny), None);
        assert_eq!(picker_state("FREQ=DAILY", ny), None);
    }

    #[test]
    fn amounts_have_the_currency_decimals() {
        use super::super::minor_to_decimal as amount;
        assert_eq!(amount(8900, "USD"), "89.00");
        assert_eq!(amount(5, "USD"), "0.05");
        assert_eq!(amount(123456, "EUR"), "1234.56");
        assert_eq!(amount(5000, "JPY"), "5000");
        assert_eq!(amount(1500, "KWD"), "1.500");
        assert_eq!(amount(-5, "kwd"), "-0.005");
    }
}
