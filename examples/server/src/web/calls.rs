//! The calls pages of the dashboard (see [`crate::web`]): the call list with processing-state and confidence
//! badges, and the review page of one call — audio, the transcript with each extracted field's evidence
//! marked, per-field confidence and the correction controls.
//!
//! | route | what |
//! |---|---|
//! | `GET /app/calls?state=&offset=` | the list, newest first, 50 a page, optionally one processing state |
//! | `GET /app/calls/rows/{id}` | one list row (`li[data-call-id]`), for live updates |
//! | `GET /app/calls/{id}` | the review page, rendered from [`api::calls::get_call`] |
//!
//! Corrections are written by `assets/review.js` through the API's correction routes
//! (`POST /api/v1/calls/{id}/corrections`, `/override`, `/not-an-appointment`, `/retry`, and `/review` from the
//! "Mark reviewed" button, which takes the call out of `needs_review`); the page shows the
//! latest correction of every field and the current values of the jobs booked from the call, so a saved fix
//! is visible on the job at once.
//!
//! Evidence is matched in the transcript ignoring case, punctuation and spacing (an extractor quotes loosely),
//! preferring whole-word matches, first occurrence first, never overlapping an earlier field's mark.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use callbook_jobs::{
    Call, CallId, CallState, Correction, Customer, CustomerId, Job, JobSource, Page as StorePage, TenantId,
};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::Value;

use super::{Nav, Page, Viewer, WebResult, layout};
use crate::api::{self, ApiError, ApiState};

/// Calls on one page of the list.
pub const PAGE_SIZE: u32 = 50;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/app/calls", get(list_page))
        .route("/app/calls/rows/{id}", get(row_fragment))
        .route("/app/calls/{id}", get(review_page))
}

// ------------------------------------------------------------------------------------------------ shared bits

/// The tabs of the list: label and the state they filter on (`None` = all).
const TABS: [(&str, Option<CallState>); 6] = [
    ("All", None),
    ("Needs review", Some(CallState::NeedsReview)),
    ("Processing", Some(CallState::Processing)),
    ("Booked", Some(CallState::Done)),
    ("No appointment", Some(CallState::NoAppointment)),
    ("Failed", Some(CallState::Dead)),
];

/// The processing-state badge of a call: `filtered` calls (rejected by the call filter) say so and why.
pub(crate) fn state_badge(call: &Call) -> Markup {
    if let Some(reason) = call
        .provider_status
        .strip_prefix(crate::webhooks::FILTERED_PREFIX)
    {
        let reason = reason.replace('_', " ");
        return html! {
            span.badge.state data-state="filtered" title={ "Filtered: " (reason) } { "Filtered · " (reason) }
        };
    }
    let state = call.processing.state;
    let (label, kind) = (super::call_state_label(state), super::call_state_class(state));
    let step = (state == CallState::Processing)
        .then(|| call.processing.step.clone())
        .flatten();
    html! {
        span class={ "badge state " (kind) } data-state=(state.as_str()) {
            (label)
            @if let Some(step) = step { " · " (step) }
        }
    }
}

/// `high`, `mid` or `low` for a confidence 0..1 (see [`super::confidence_class`]).
fn conf_class(confidence: f64) -> &'static str {
    super::confidence_class(confidence as f32)
}

/// A confidence badge: `.conf.high|mid|low` with the value as a percentage.
pub(crate) fn conf_badge(confidence: f64, what: &str) -> Markup {
    let percent = (confidence.clamp(0.0, 1.0) * 100.0).round();
    html! {
        span class={ "conf " (conf_class(confidence)) } data-confidence=(format!("{confidence:.2}"))
            title={ (what) " confidence" } {
            span.visually-hidden { (what) " confidence " }
            (percent) "%"
        }
    }
}

/// A phone number with the middle hidden (`+1914•••2177`), for lists that need not show it whole.
pub(crate) fn masked_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 6 {
        return "•••".to_owned();
    }
    let head: String = chars[..chars.len().saturating_sub(7).min(5)].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}•••{tail}")
}

/// A position in the audio: `m:ss` (or `h:mm:ss`).
pub(crate) fn clock_text(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A call's length: `45 s`, `1 min 15 s`, `1 h 02 min`.
pub(crate) fn duration_text(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// At most `max` characters of `text`, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// The call's length: the recording's duration, else end minus start.
pub(crate) fn call_seconds(call: &Call) -> Option<i64> {
    call.recording
        .as_ref()
        .and_then(|r| r.duration_seconds)
        .or_else(|| call.ended_at.map(|end| (end - call.started_at).num_seconds()))
}

fn api_error(e: ApiError) -> super::WebError {
    super::WebError::Api(e)
}

fn parse_call_id(id: &str) -> Result<CallId, super::WebError> {
    id.parse().map_err(|_| api_error(ApiError::not_found("call")))
}

/// Looks customers up once each.
#[derive(Default)]
struct Customers(HashMap<CustomerId, Option<Customer>>);

impl Customers {
    async fn get(&mut self, state: &ApiState, tenant: TenantId, id: CustomerId) -> Option<&Customer> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(id) {
            slot.insert(state.store.get_customer(tenant, id).await.ok());
        }
        self.0.get(&id).and_then(Option::as_ref)
    }
}

// ------------------------------------------------------------------------------------------------ the list

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    offset: Option<u32>,
}

fn list_href(state: Option<CallState>, offset: u32) -> String {
    let mut query = Vec::new();
    if let Some(state) = state {
        query.push(format!("state={}", state.as_str()));
    }
    if offset > 0 {
        query.push(format!("offset={offset}"));
    }
    if query.is_empty() {
        "/app/calls".to_owned()
    } else {
        format!("/app/calls?{}", query.join("&"))
    }
}

async fn list_page(
    State(state): State<ApiState>,
    viewer: Viewer,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult {
    let Query(query) = query.map_err(|e| api_error(ApiError::from(e)))?;
    let filter = match query.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<CallState>()
                .map_err(|_| api_error(ApiError::invalid("state", "not a call state")))?,
        ),
    };
    let offset = query.offset.unwrap_or(0);
    let tenant = viewer.principal.tenant;
    // One more than a page tells whether there is an older page.
    let mut calls = state
        .store
        .list_calls(
            tenant,
            filter,
            StorePage {
                offset,
                limit: PAGE_SIZE + 1,
            },
        )
        .await?;
    let more = calls.len() > PAGE_SIZE as usize;
    calls.truncate(PAGE_SIZE as usize);
    // The states someone has to act on show how many calls wait in them.
    let mut waiting = HashMap::new();
    for pending in [CallState::NeedsReview, CallState::Dead] {
        let n = state
            .store
            .list_calls(
                tenant,
                Some(pending),
                StorePage {
                    offset: 0,
                    limit: 500,
                },
            )
            .await?
            .len();
        waiting.insert(pending, n);
    }
    let mut customers = Customers::default();
    let mut rows = Vec::with_capacity(calls.len());
    for call in &calls {
        rows.push(call_row(&state, &viewer, &mut customers, call).await?);
    }
    let title = "Calls";
    let body = html! {
        div.page-header {
            h1 { (title) }
        }
        nav.tabs.call-tabs aria-label="Filter calls by processing state" {
            @for (label, tab) in TABS {
                a.tab href=(list_href(tab, 0)) aria-current=[(tab == filter).then_some("page")] {
                    (label)
                    @if let Some(n) = tab.and_then(|t| waiting.get(&t)).filter(|n| **n > 0) {
                        " " span.badge.count { (if *n >= 500 { "500+".to_owned() } else { n.to_string() }) }
                        span.visually-hidden { " calls" }
                    }
                }
            }
        }
        @if rows.is_empty() {
            p.empty #call-list-empty {
                @if filter.is_some() { "No calls in this state." } @else { "No calls yet. Calls to your numbers appear here as they arrive." }
            }
        }
        ul.list #call-list data-state-filter=(filter.map(|s| s.as_str()).unwrap_or("")) data-offset=(offset)
            aria-label="Calls, newest first" {
            @for row in &rows { (row) }
        }
        @if offset > 0 || more {
            nav.pager.cluster aria-label="Pages" {
                @if offset > 0 {
                    a.button href=(list_href(filter, offset.saturating_sub(PAGE_SIZE))) rel="prev" { "Newer calls" }
                }
                @if more {
                    a.button href=(list_href(filter, offset + PAGE_SIZE)) rel="next" { "Older calls" }
                }
            }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title,
            nav: Nav::Calls,
            scripts: &["calls.js"],
            styles: &["calls.css"],
        },
        body,
    ))
}

/// One row of the call list.
async fn call_row(state: &ApiState, viewer: &Viewer, customers: &mut Customers, call: &Call) -> WebResult {
    let tenant = viewer.principal.tenant;
    let customer = match call.customer_id {
        Some(id) => customers
            .get(state, tenant, id)
            .await
            .map(|c| c.name.clone())
            .filter(|n| !n.trim().is_empty()),
        None => None,
    };
    let caller = match (&customer, &call.from) {
        (Some(name), _) => name.clone(),
        (None, Some(from)) => masked_phone(from.as_str()),
        (None, None) => "Unknown caller".to_owned(),
    };
    let confidence = state
        .store
        .get_extraction(tenant, call.id)
        .await?
        .and_then(|e| e.confidence);
    // ---- issue 9 review: a person finished its review (`POST /calls/{id}/review` records a `review` correction).
    let reviewed = call.processing.state.is_final()
        && state
            .store
            .list_corrections(tenant, call.id)
            .await?
            .iter()
            .any(|c| c.field == "review");
    let href = format!("/app/calls/{}", call.id);
    Ok(html! {
        li.call-row data-call-id=(call.id) data-state=(call.processing.state.as_str()) {
            div.row-main {
                a.call-link href=(href) { (caller) }
                @if customer.is_some() && let Some(from) = &call.from {
                    span.muted.caller-number { " " (masked_phone(from.as_str())) }
                }
            }
            div.row-meta.cluster {
                time datetime=(call.started_at.to_rfc3339()) { (viewer.local_time(call.started_at)) }
                @if let Some(seconds) = call_seconds(call) {
                    span.duration { span.visually-hidden { "Duration " } (duration_text(seconds)) }
                }
                (state_badge(call))
                @if reviewed { span.badge.ok.reviewed { "Reviewed" } }
                @if let Some(c) = confidence { (conf_badge(c, "Extraction")) }
            }
        }
    })
}

async fn row_fragment(State(state): State<ApiState>, viewer: Viewer, Path(id): Path<String>) -> WebResult {
    let id = parse_call_id(&id)?;
    let call = state.store.get_call(viewer.principal.tenant, id).await?;
    call_row(&state, &viewer, &mut Customers::default(), &call).await
}

// ------------------------------------------------------------------------------------------------ evidence marks

/// A transcript with case, punctuation and runs of spacing folded away: each kept character remembers the
/// byte range of the original text it came from.
struct Folded {
    chars: Vec<char>,
    spans: Vec<(usize, usize)>,
}

fn fold(text: &str) -> Folded {
    let mut folded = Folded {
        chars: Vec::new(),
        spans: Vec::new(),
    };
    let mut gap: Option<(usize, usize)> = None;
    for (i, ch) in text.char_indices() {
        let end = i + ch.len_utf8();
        if ch.is_alphanumeric() {
            if let Some(span) = gap.take()
                && !folded.chars.is_empty()
            {
                folded.chars.push(' ');
                folded.spans.push(span);
            }
            for lower in ch.to_lowercase() {
                folded.chars.push(lower);
                folded.spans.push((i, end));
            }
        } else {
            gap = Some(gap.map_or((i, end), |(start, _)| (start, end)));
        }
    }
    folded
}

/// A marked piece of the transcript: byte range, field name and appointment index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceMark {
    /// Start byte in the transcript text.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// The appointment field (`when`, `price` …).
    pub field: String,
    /// The appointment's index in the extraction.
    pub appointment: usize,
}

/// Finds each `(appointment, field, evidence)` in `text`: case-, punctuation- and spacing-insensitive, a
/// whole-word occurrence before a partial one, the first occurrence that overlaps no earlier mark. Shorter
/// quotes are placed first (an extractor that quotes a whole sentence for one field must not hide the precise
/// quotes of the others); a field gets at most one mark, so a second quote of the same field (the `when`
/// phrase) is a fallback. Evidence that is not found (or empty) gets no mark. The marks come back ordered by
/// position.
pub fn evidence_marks(text: &str, evidence: &[(usize, &str, &str)]) -> Vec<EvidenceMark> {
    let hay = fold(text);
    let n = hay.chars.len();
    let mut quotes: Vec<(usize, &str, Vec<char>)> = evidence
        .iter()
        .map(|(appointment, field, quote)| (*appointment, *field, fold(quote).chars))
        .collect();
    quotes.sort_by_key(|(_, _, needle)| needle.len());
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut marks: Vec<EvidenceMark> = Vec::new();
    for (appointment, field, needle) in &quotes {
        let m = needle.len();
        if m == 0
            || m > n
            || marks
                .iter()
                .any(|k| k.appointment == *appointment && k.field == *field)
        {
            continue;
        }
        let free = |p: usize| taken.iter().all(|(s, e)| p + m <= *s || p >= *e);
        let whole = |p: usize| (p == 0 || hay.chars[p - 1] == ' ') && (p + m == n || hay.chars[p + m] == ' ');
        let occurrences: Vec<usize> = (0..=n - m)
            .filter(|p| hay.chars[*p..*p + m] == needle[..])
            .collect();
        let found = occurrences
            .iter()
            .copied()
            .find(|p| whole(*p) && free(*p))
            .or_else(|| occurrences.iter().copied().find(|p| free(*p)));
        if let Some(p) = found {
            taken.push((p, p + m));
            marks.push(EvidenceMark {
                start: hay.spans[p].0,
                end: hay.spans[p + m - 1].1,
                field: (*field).to_owned(),
                appointment: *appointment,
            });
        }
    }
    marks.sort_by_key(|m| m.start);
    marks
}

/// A piece of transcript text (`start..end` bytes of `text`) with the marks inside it; a mark crossing the
/// piece's edges is cut to it. `seek` is the piece's start time in the audio, when the transcript has timings.
fn marked_text(text: &str, start: usize, end: usize, marks: &[EvidenceMark], seek: Option<f64>) -> Markup {
    // Plain and marked pieces in order.
    let mut pieces: Vec<(Option<&EvidenceMark>, &str)> = Vec::new();
    let mut at = start;
    for mark in marks.iter().filter(|m| m.start < end && m.end > start) {
        let (s, e) = (mark.start.max(at), mark.end.min(end));
        if s > at {
            pieces.push((None, &text[at..s]));
        }
        if e > s {
            pieces.push((Some(mark), &text[s..e]));
        }
        at = at.max(e);
    }
    if at < end {
        pieces.push((None, &text[at..end]));
    }
    html! {
        @for (mark, piece) in pieces {
            @match mark {
                None => (piece),
                Some(mark) => mark data-field=(mark.field) data-appointment=(mark.appointment)
                    id=[(mark.start >= start).then(|| format!("ev-{}-{}", mark.appointment, mark.field))]
                    data-seek=[seek.map(|t| format!("{t:.2}"))]
                    title={ "Evidence for " (field_label(&mark.field)) } {
                    (piece)
                },
            }
        }
    }
}

/// The transcript's segments as `(start seconds, text)`, when it has timings.
fn segments(transcript: &Value) -> Vec<(f64, String)> {
    transcript
        .get("segments")
        .and_then(Value::as_array)
        .map(|segments| {
            segments
                .iter()
                .filter_map(|s| {
                    let text = s.get("text")?.as_str()?.trim();
                    (!text.is_empty()).then(|| {
                        (
                            s.get("start").and_then(Value::as_f64).unwrap_or(0.0),
                            text.to_owned(),
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn render_transcript(transcript: Option<&Value>, evidence: &[(usize, &str, &str)]) -> Markup {
    let Some(transcript) = transcript else {
        return html! { p.empty { "No transcript yet." } };
    };
    let segments = segments(transcript);
    if segments.is_empty() {
        let text = transcript.get("text").and_then(Value::as_str).unwrap_or("");
        if text.trim().is_empty() {
            return html! { p.empty { "The transcript is empty (no speech)." } };
        }
        let marks = evidence_marks(text, evidence);
        return html! { div.transcript-text { (marked_text(text, 0, text.len(), &marks, None)) } };
    }
    // The segments joined with a newline: evidence may span two segments.
    let mut text = String::new();
    let mut ranges = Vec::with_capacity(segments.len());
    for (start, piece) in &segments {
        if !text.is_empty() {
            text.push('\n');
        }
        let from = text.len();
        text.push_str(piece);
        ranges.push((*start, from, text.len()));
    }
    let marks = evidence_marks(&text, evidence);
    html! {
        ol.transcript-segments {
            @for (seconds, from, to) in &ranges {
                li.segment data-start=(format!("{seconds:.2}")) {
                    button.seg-time.button.small type="button" data-seek=(format!("{seconds:.2}"))
                        aria-label={ "Play from " (clock_text(*seconds as i64)) } {
                        (clock_text(*seconds as i64))
                    }
                    " "
                    span.seg-text { (marked_text(&text, *from, *to, &marks, Some(*seconds))) }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ field values

/// The label of an appointment field.
pub(crate) fn field_label(field: &str) -> &'static str {
    match field {
        "customer_name" => "Name",
        "customer_phone" => "Phone",
        "service_address" => "Address",
        "when" => "When",
        "job_description" => "Job",
        "price" => "Price",
        "urgency" => "Urgency",
        "notes" => "Notes",
        _ => "Field",
    }
}

fn string_of(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn parse_instant(value: &Value, key: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(value.get(key)?.as_str()?).ok()
}

/// A field value (the extraction's shape) as one line of text, times in the business's zone.
fn value_text(field: &str, value: &Value, viewer: &Viewer) -> String {
    if value.is_null() {
        return "Not said".to_owned();
    }
    match field {
        "service_address" => {
            let parts: Vec<String> = ["line1", "line2", "city", "region", "postal_code", "country"]
                .iter()
                .filter_map(|k| string_of(value, k))
                .collect();
            if parts.is_empty() {
                "Not said".to_owned()
            } else {
                parts.join(", ")
            }
        }
        "when" => {
            let zone = viewer.tenant.timezone.tz();
            let mut text = match (parse_instant(value, "start"), parse_instant(value, "end")) {
                (Some(start), end) => {
                    let start = start.with_timezone(&zone);
                    let mut t = start.format("%a %-d %b %Y, %H:%M").to_string();
                    if let Some(end) = end {
                        let end = end.with_timezone(&zone);
                        if end.date_naive() == start.date_naive() {
                            t.push_str(&end.format("–%H:%M").to_string());
                        } else {
                            t.push_str(&end.format(" – %a %-d %b %H:%M").to_string());
                        }
                    }
                    t
                }
                (None, _) => {
                    let date = string_of(value, "date")
                        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
                        .map(|d| d.format("%a %-d %b %Y").to_string());
                    match (date, string_of(value, "time")) {
                        (Some(d), Some(t)) => format!("{d}, {t}"),
                        (Some(d), None) => format!("{d}, time not said"),
                        (None, Some(t)) => format!("{t}, day not said"),
                        (None, None) => "Not said".to_owned(),
                    }
                }
            };
            if value.get("flexible").and_then(Value::as_bool) == Some(true) {
                text.push_str(" (flexible)");
            }
            if value.get("ambiguous").and_then(Value::as_bool) == Some(true) {
                text.push_str(" (ambiguous)");
            }
            text
        }
        "price" => {
            let kind = match string_of(value, "kind").as_deref() {
                Some("quote") => " (quote)",
                Some("budget") => " (budget)",
                Some("fee") => " (call-out fee)",
                _ => "",
            };
            // The job's money format, so the extracted and the booked price read alike.
            match serde_json::from_value::<callbook_extract::Price>(value.clone()) {
                Ok(price) => format!(
                    "{}{kind}",
                    super::format_money(&callbook_pipeline::mapping::money(&price))
                ),
                Err(_) => {
                    let amount = match value.get("amount") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => String::new(),
                    };
                    let currency = string_of(value, "currency").unwrap_or_default();
                    format!("{currency} {amount}{kind}").trim().to_owned()
                }
            }
        }
        "urgency" => value.as_str().map(capitalise).unwrap_or_default(),
        _ => match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The inputs of one field's editor (used by "Fix" and by the override dialog). `prefix` makes ids unique.
fn field_editor(field: &str, value: &Value, viewer: &Viewer, prefix: &str) -> Markup {
    let id = |part: &str| format!("{prefix}-{part}");
    let text = |key: &str| string_of(value, key).unwrap_or_default();
    match field {
        "customer_name" => html! {
            div.field {
                label for=(id("value")) { "Customer name" }
                input #(id("value")) type="text" name="value" autocomplete="off" value=[value.as_str()];
            }
        },
        "customer_phone" => html! {
            div.field {
                label for=(id("value")) { "Phone" }
                input #(id("value")) type="tel" name="value" autocomplete="off" inputmode="tel"
                    aria-describedby=(id("hint")) value=[value.as_str()];
                p.hint #(id("hint")) { "With country code, e.g. +19145552177" }
            }
        },
        "service_address" => html! {
            div.field { label for=(id("line1")) { "Street" }
                input #(id("line1")) type="text" name="line1" value=(text("line1")); }
            div.field { label for=(id("line2")) { "Apartment, unit" }
                input #(id("line2")) type="text" name="line2" value=(text("line2")); }
            div.grid-2 {
                div.field { label for=(id("city")) { "City" }
                    input #(id("city")) type="text" name="city" value=(text("city")); }
                div.field { label for=(id("region")) { "State or region" }
                    input #(id("region")) type="text" name="region" value=(text("region")); }
                div.field { label for=(id("postal_code")) { "Postal code" }
                    input #(id("postal_code")) type="text" name="postal_code" value=(text("postal_code")); }
                div.field { label for=(id("country")) { "Country" }
                    input #(id("country")) type="text" name="country" value=(text("country")); }
            }
        },
        "when" => {
            let zone = viewer.tenant.timezone.tz();
            let start = parse_instant(value, "start").map(|s| s.with_timezone(&zone));
            let end = parse_instant(value, "end").map(|s| s.with_timezone(&zone));
            let date = start
                .map(|s| s.format("%Y-%m-%d").to_string())
                .or_else(|| string_of(value, "date"))
                .unwrap_or_default();
            let time = start
                .map(|s| s.format("%H:%M").to_string())
                .or_else(|| string_of(value, "time"))
                .unwrap_or_default();
            let end_time = end.map(|s| s.format("%H:%M").to_string()).unwrap_or_default();
            let flexible = value.get("flexible").and_then(Value::as_bool) == Some(true);
            html! {
                div.grid-2 {
                    div.field { label for=(id("date")) { "Date" }
                        input #(id("date")) type="date" name="date" value=(date); }
                    div.field { label for=(id("time")) { "Start time" }
                        input #(id("time")) type="time" name="time" value=(time); }
                    div.field { label for=(id("end")) { "End time" }
                        input #(id("end")) type="time" name="end" value=(end_time)
                            aria-describedby=(id("zone")); }
                }
                p.hint #(id("zone")) { "Times in " (viewer.tenant.timezone.name()) "." }
                div.check {
                    input #(id("flexible")) type="checkbox" name="flexible" checked[flexible];
                    label for=(id("flexible")) { "Any time suits the caller" }
                }
            }
        }
        "price" => {
            let amount = match value.get("amount") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let currency = string_of(value, "currency").unwrap_or_else(|| "USD".to_owned());
            let kind = string_of(value, "kind").unwrap_or_else(|| "quote".to_owned());
            html! {
                div.grid-2 {
                    div.field { label for=(id("amount")) { "Amount" }
                        input #(id("amount")) type="text" name="amount" inputmode="decimal" value=(amount)
                            pattern="[0-9]+([.,][0-9]{1,2})?" aria-describedby=(id("amount-hint"));
                        p.hint #(id("amount-hint")) { "Leave empty when no price was said." } }
                    div.field { label for=(id("currency")) { "Currency" }
                        input #(id("currency")) type="text" name="currency" value=(currency) maxlength="3"
                            autocapitalize="characters" pattern="[A-Za-z]{3}"; }
                    div.field { label for=(id("kind")) { "Kind" }
                        select #(id("kind")) name="kind" {
                            @for (v, label) in [("quote", "Quote"), ("budget", "Budget"), ("fee", "Call-out fee")] {
                                option value=(v) selected[kind == v] { (label) }
                            }
                        }
                    }
                }
            }
        }
        "urgency" => {
            let current = value.as_str().unwrap_or("normal");
            html! {
                div.field {
                    label for=(id("value")) { "Urgency" }
                    select #(id("value")) name="value" {
                        @for u in ["emergency", "urgent", "normal", "flexible"] {
                            option value=(u) selected[current == u] { (capitalise(u)) }
                        }
                    }
                }
            }
        }
        _ => {
            let label = if field == "job_description" {
                "Job description"
            } else {
                "Notes"
            };
            html! {
                div.field {
                    label for=(id("value")) { (label) }
                    textarea #(id("value")) name="value" rows="3" { (value.as_str().unwrap_or("")) }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ review page

/// The latest correction of each field path since the last whole-extraction override (older ones were made
/// on a document that no longer exists).
fn current_corrections(corrections: &[Correction]) -> HashMap<String, &Correction> {
    let since = corrections
        .iter()
        .rposition(|c| c.field == "extraction")
        .map_or(0, |i| i + 1);
    let mut latest = HashMap::new();
    for c in &corrections[since..] {
        latest.insert(c.field.clone(), c);
    }
    latest
}

/// JSON for a `<script type="application/json">` block: `<`, `>` and `&` escaped so no text can end it.
fn json_block(value: &Value) -> PreEscaped<String> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    PreEscaped(
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

/// A job's current values, as the review page lists them beside the extraction.
pub(crate) fn job_summary(job: &Job, viewer: &Viewer) -> Markup {
    let schedule = job.schedule.as_ref().map(|s| {
        let zone = viewer.tenant.timezone.tz();
        let start = s.start.with_timezone(&zone);
        let end = s.end.with_timezone(&zone);
        if start.date_naive() == end.date_naive() {
            format!("{}–{}", start.format("%a %-d %b %Y, %H:%M"), end.format("%H:%M"))
        } else {
            format!(
                "{} – {}",
                start.format("%a %-d %b %H:%M"),
                end.format("%a %-d %b %H:%M")
            )
        }
    });
    let cancelled = job.stage == callbook_jobs::Stage::Cancelled;
    html! {
        article.card.job-summary data-job-id=(job.id) data-version=(job.version) data-stage=(job.stage.as_str()) {
            h3 {
                a.job-link href={ "/app/jobs/" (job.id) } { (job.title) }
                " "
                span class={ "badge stage " @if cancelled { "bad" } @else { "info" } } { (super::stage_label(job.stage)) }
            }
            dl.job-values {
                div { dt { "When" } dd data-job-field="schedule" { (schedule.unwrap_or_else(|| "Not scheduled".to_owned())) } }
                div { dt { "Address" } dd data-job-field="address" {
                    @let a = job.address.one_line();
                    @if a.is_empty() { "No address" } @else { (a) }
                } }
                div { dt { "Job" } dd data-job-field="description" { (job.description) } }
                div { dt { "Price" } dd data-job-field="price" {
                    @match &job.price { Some(p) => (super::format_money(p)), None => "No price" }
                } }
                div { dt { "Urgency" } dd data-job-field="urgency" { (super::urgency_label(job.urgency)) } }
                @if let Some(notes) = &job.notes {
                    div { dt { "Notes" } dd data-job-field="notes" { (notes) } }
                }
            }
        }
    }
}

/// The jobs booked from a call's appointments (index 0 up, a few beyond the extraction for removed ones).
async fn booked_jobs(
    state: &ApiState,
    tenant: TenantId,
    call: CallId,
    appointments: usize,
) -> WebResult<Vec<Job>> {
    let mut jobs = Vec::new();
    for index in 0..appointments + 4 {
        let source = JobSource {
            call_id: call,
            appointment_index: i32::try_from(index).unwrap_or(i32::MAX),
        };
        if let Some(job) = state.store.find_job_by_source(tenant, source).await? {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// What the review page shows of one field.
struct FieldView<'a> {
    appointment: usize,
    field: &'static str,
    /// The extracted field object (`{value, confidence, evidence}`), `None` when not said.
    extracted: Option<&'a Value>,
    /// The latest correction, if any.
    correction: Option<&'a Correction>,
}

impl FieldView<'_> {
    fn path(&self) -> String {
        format!("appointments[{}].{}", self.appointment, self.field)
    }

    /// The value shown: the correction's, else the extracted one.
    fn value(&self) -> Value {
        match self.correction {
            Some(c) => c.after.clone(),
            None => self
                .extracted
                .and_then(|f| f.get("value"))
                .cloned()
                .unwrap_or(Value::Null),
        }
    }
}

fn field_row(view: &FieldView<'_>, viewer: &Viewer, call: CallId, evidence_found: bool) -> Markup {
    let value = view.value();
    let confidence = view
        .extracted
        .and_then(|f| f.get("confidence"))
        .and_then(Value::as_f64);
    let evidence = view
        .extracted
        .and_then(|f| f.get("evidence"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| shorten(s.trim(), 140));
    let phrase = view
        .extracted
        .and_then(|f| f.get("phrase"))
        .and_then(Value::as_str);
    let confirmed = view.correction.is_some_and(|c| c.after == c.before);
    let uncertain = view.correction.is_none() && confidence.is_some_and(|c| conf_class(c) != "high");
    let prefix = format!("fix-{}-{}", view.appointment, view.field);
    let label = field_label(view.field);
    html! {
        div.field-row data-field=(view.field) data-appointment=(view.appointment) data-path=(view.path())
            data-uncertain=[uncertain.then_some("true")]
            data-value=(serde_json::to_string(&value).unwrap_or_default()) {
            div.field-head {
                h4.field-name { (label) }
                @if let Some(c) = confidence { (conf_badge(c, label)) }
                @if let Some(c) = view.correction {
                    @if confirmed {
                        span.badge.ok.correction-state { "Confirmed" }
                    } @else {
                        span.badge.info.correction-state title={ "Was: " (value_text(view.field, &c.before, viewer)) } { "Corrected" }
                    }
                }
            }
            p.field-value data-empty=[value.is_null().then_some("true")] { (value_text(view.field, &value, viewer)) }
            @if let Some(evidence) = evidence {
                p.evidence.muted {
                    @if evidence_found {
                        a.evidence-link href={ "#ev-" (view.appointment) "-" (view.field) } { "Heard: “" (evidence) "”" }
                    } @else {
                        "Heard: “" (evidence) "” (not found in the transcript)"
                    }
                    @if let Some(phrase) = phrase.filter(|p| !p.is_empty() && *p != evidence.as_str()) { " · said “" (phrase) "”" }
                }
            }
            @if let Some(c) = view.correction.filter(|_| !confirmed) {
                p.muted.was { "Extracted: " (value_text(view.field, &c.before, viewer)) }
            }
            div.field-actions.cluster {
                button.button.small.accept #(format!("accept-{}-{}", view.appointment, view.field)) type="button" data-action="accept"
                    disabled[value.is_null() || confirmed]
                    aria-label={ "Accept " (label) } { "Accept" }
                button.button.small.fix #(format!("fixbtn-{}-{}", view.appointment, view.field)) type="button" data-action="fix" aria-expanded="false"
                    aria-controls=(prefix) aria-label={ "Fix " (label) } { "Fix" }
            }
            form.fix-form.stack #(prefix) hidden method="post" data-call-id=(call) aria-label={ "Fix " (label) } novalidate {
                (field_editor(view.field, &value, viewer, &prefix))
                p.error data-error-for="value" role="alert" {}
                div.cluster {
                    button.button.primary type="submit" { "Save" }
                    button.button type="button" data-action="cancel" { "Cancel" }
                    @if !value.is_null() {
                        button.button.danger.small type="button" data-action="clear" { "Not said" }
                    }
                }
            }
        }
    }
}

/// The override dialog: every field of every appointment, plus one blank appointment to add.
fn override_dialog(views: &[Vec<FieldView<'_>>], call_kind: &str, viewer: &Viewer, call: CallId) -> Markup {
    let blank: Vec<(usize, bool)> = (0..views.len())
        .map(|i| (i, true))
        .chain([(views.len(), false)])
        .collect();
    html! {
        dialog.dialog #override-dialog aria-labelledby="override-title" {
            form #override-form.stack method="dialog" data-call-id=(call) novalidate {
                h2 #override-title { "Override extraction" }
                p.muted { "Replaces everything extracted from this call. Jobs are updated, booked or cancelled to match." }
                div.field {
                    label for="override-kind" { "Kind of call" }
                    select #override-kind name="call_kind" {
                        @for (v, label) in [("live", "Live call"), ("voicemail", "Voicemail"), ("spam", "Spam"),
                            ("wrong_number", "Wrong number"), ("empty", "Empty"), ("unknown", "Unknown")] {
                            option value=(v) selected[call_kind == v] { (label) }
                        }
                    }
                }
                @for (index, existing) in blank {
                    fieldset.appointment.stack data-appointment=(index) {
                        legend { "Appointment " (index + 1) @if !existing { " (new)" } }
                        div.check {
                            input #(format!("ov-{index}-include")) type="checkbox" name="include" checked[existing];
                            label for=(format!("ov-{index}-include")) {
                                @if existing { "Keep this appointment" } @else { "Add this appointment" }
                            }
                        }
                        @for field in api::calls::APPOINTMENT_FIELDS {
                            @let value = views.get(index).and_then(|v| v.iter().find(|f| f.field == field)).map(FieldView::value).unwrap_or(Value::Null);
                            @let path = format!("appointments[{index}].{field}");
                            div.override-field.stack data-field=(field) {
                                // Groups of inputs get a heading; a single input's label says it all.
                                @if matches!(field, "service_address" | "when" | "price") {
                                    h3.field-name { (field_label(field)) }
                                }
                                (field_editor(field, &value, viewer, &format!("ov-{index}-{field}")))
                                p.error data-error-for=(path) role="alert" {}
                            }
                        }
                    }
                }
                p.error data-error-for="extraction" role="alert" {}
                div.cluster.dialog-actions {
                    button.button.primary type="submit" value="save" { "Save and re-book" }
                    button.button type="button" data-action="close" { "Cancel" }
                }
            }
        }
    }
}

async fn review_page(State(state): State<ApiState>, viewer: Viewer, Path(id): Path<String>) -> WebResult {
    let call_id = parse_call_id(&id)?;
    let axum::Json(detail) =
        api::calls::get_call(State(state.clone()), viewer.principal.clone(), Path(id)).await?;
    let tenant = viewer.principal.tenant;
    let call = &detail.call;
    let customer = match call.customer_id {
        Some(id) => state.store.get_customer(tenant, id).await.ok(),
        None => None,
    };
    let appointments: Vec<Value> = detail
        .extraction
        .as_ref()
        .and_then(|e| e.get("appointments"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let corrections = current_corrections(&detail.corrections);
    let views: Vec<Vec<FieldView<'_>>> = appointments
        .iter()
        .enumerate()
        .map(|(index, appointment)| {
            api::calls::APPOINTMENT_FIELDS
                .iter()
                .map(|field| FieldView {
                    appointment: index,
                    field,
                    extracted: appointment.get(*field).filter(|v| v.is_object()),
                    correction: corrections
                        .get(&format!("appointments[{index}].{field}"))
                        .copied(),
                })
                .collect()
        })
        .collect();
    // Each field's evidence, then the `when` phrase as a fallback for evidence that cannot be placed.
    let evidence: Vec<(usize, &str, &str)> = ["evidence", "phrase"]
        .iter()
        .flat_map(|key| {
            views.iter().flatten().filter_map(|v| {
                let quote = v.extracted?.get(*key)?.as_str()?;
                Some((v.appointment, v.field, quote))
            })
        })
        .collect();
    let transcript_text = detail.transcript.as_ref().map(|t| {
        let segs = segments(t);
        if segs.is_empty() {
            t.get("text").and_then(Value::as_str).unwrap_or("").to_owned()
        } else {
            segs.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join("\n")
        }
    });
    let found: Vec<(usize, String)> = transcript_text
        .as_deref()
        .map(|text| {
            evidence_marks(text, &evidence)
                .into_iter()
                .map(|m| (m.appointment, m.field))
                .collect()
        })
        .unwrap_or_default();
    let jobs = booked_jobs(&state, tenant, call_id, appointments.len()).await?;
    let call_kind = detail
        .extraction
        .as_ref()
        .and_then(|e| e.get("call_kind"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    // The latest call-level correction decides (an override after "not an appointment" undoes it).
    let not_appointment = detail
        .corrections
        .iter()
        .rev()
        .find(|c| c.field == "call_kind" || c.field == "extraction")
        .is_some_and(|c| c.field == "call_kind");
    let confidence = detail
        .extraction
        .as_ref()
        .and_then(|e| e.get("confidence"))
        .and_then(Value::as_f64);
    let caller = customer
        .as_ref()
        .map(|c| c.name.clone())
        .filter(|n| !n.trim().is_empty())
        .or_else(|| call.from.as_ref().map(|f| f.as_str().to_owned()))
        .unwrap_or_else(|| "Unknown caller".to_owned());
    let title = format!("Call from {caller}");
    // Same-origin path of the signed link, so `media-src 'self'` holds whatever the public URL is.
    let audio = detail.playback.as_ref().map(|p| {
        p.url
            .strip_prefix(state.public_url.trim_end_matches('/'))
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(&p.url)
            .to_owned()
    });
    let state_final = detail.state.is_final();
    // Fields below the high-confidence band that nobody has corrected or confirmed yet.
    let uncertain = views
        .iter()
        .flatten()
        .filter(|v| {
            v.correction.is_none()
                && v.extracted
                    .and_then(|f| f.get("confidence"))
                    .and_then(Value::as_f64)
                    .is_some_and(|c| conf_class(c) != "high")
        })
        .count();
    let body = html! {
        div.page-header {
            h1 { (title) }
            div.actions.cluster.review-actions {
                // ---- issue 9 review
                @if detail.state == CallState::NeedsReview {
                    button.button.primary #mark-reviewed type="button"
                        data-api={ "POST /api/v1/calls/" (call_id) "/review" }
                        data-body=r#"{"outcome":"approved"}"#
                        data-confirm=[(uncertain > 0).then(|| review_confirm(uncertain))]
                        data-then="refresh" data-success="Marked reviewed" { "Mark reviewed" }
                }
                // ---- end issue 9 review
                @if !appointments.is_empty() || detail.extraction.is_some() {
                    button.button type="button" #override-open aria-haspopup="dialog" { "Override extraction" }
                }
                @if detail.extraction.is_some() && !not_appointment {
                    button.button.danger type="button" #not-appointment data-call-id=(call_id)
                        data-jobs=(jobs.iter().filter(|j| j.stage != callbook_jobs::Stage::Cancelled).count()) {
                        "Not an appointment"
                    }
                }
                @if detail.state == CallState::Dead {
                    button.button.primary type="button" data-api={ "POST /api/v1/calls/" (call_id) "/retry" }
                        data-confirm="Process this call again?" data-then="refresh"
                        data-success="Queued for another try" { "Retry" }
                }
            }
        }
        section.call-facts.card aria-label="Call" data-call-id=(call_id) data-state=(detail.state.as_str()) #call-facts {
            div.cluster {
                (state_badge(call))
                @if let Some(c) = confidence { (conf_badge(c, "Extraction")) }
                @if not_appointment { span.badge { "Marked not an appointment" } }
            }
            dl.facts {
                div { dt { "Started" } dd { time datetime=(call.started_at.to_rfc3339()) { (viewer.local_time(call.started_at)) } } }
                @if let Some(seconds) = call_seconds(call) {
                    div { dt { "Duration" } dd { (duration_text(seconds)) } }
                }
                div { dt { "From" } dd {
                    @match &call.from {
                        Some(f) => a href={ "tel:" (f.as_str()) } { (f.as_str()) },
                        None => "Withheld",
                    }
                } }
                @if let Some(c) = &customer {
                    div { dt { "Customer" } dd { a href={ "/app/customers/" (c.id) } {
                        @if c.name.trim().is_empty() { "Unnamed customer" } @else { (c.name) }
                    } } }
                }
                @if let Some(step) = &detail.step { div { dt { "Last step" } dd { (step) } } }
                @if let Some(error) = &detail.last_error {
                    div.last-error { dt { "Last error" } dd { (error) } }
                }
            }
            @if !state_final {
                p.muted.live-note { "Still processing: this page updates when it is done." }
            }
            @if detail.state == CallState::NeedsReview {
                p.review-note #review-note {
                    "This call needs a person's check. "
                    @if uncertain == 1 { "1 field is uncertain: accept it or fix it." }
                    @else if uncertain > 1 { (uncertain) " fields are uncertain: accept or fix each." }
                    @else { "Every field has been checked." }
                }
            }
            @if let Some(url) = &audio {
                div.player {
                    audio #call-audio controls preload="metadata" src=(url) aria-label="Call recording" {
                        a href=(url) { "Download the recording" }
                    }
                }
            } @else {
                p.muted { "No recording stored for this call." }
            }
        }
        div.review-grid {
            section #transcript.card aria-labelledby="transcript-title" {
                h2 #transcript-title { "Transcript" }
                (render_transcript(detail.transcript.as_ref(), &evidence))
            }
            div.stack.review-side {
                section #extraction.card aria-labelledby="extraction-title" {
                    h2 #extraction-title { "Extracted" }
                    @if detail.extraction.is_none() {
                        p.empty { "Nothing extracted yet." }
                    } @else if appointments.is_empty() {
                        p.empty { "No appointment in this call (" (call_kind.replace('_', " ")) ")." }
                    }
                    @for (index, fields) in views.iter().enumerate() {
                        div.appointment.stack data-appointment=(index) {
                            @if views.len() > 1 { h3 { "Appointment " (index + 1) } }
                            @for view in fields {
                                @let hit = found.iter().any(|(a, f)| *a == view.appointment && f == view.field);
                                (field_row(view, &viewer, call_id, hit))
                            }
                        }
                    }
                }
                section #jobs.card aria-labelledby="jobs-title" {
                    h2 #jobs-title { "Booked jobs" }
                    @if jobs.is_empty() {
                        p.empty { "No job was booked from this call." }
                    }
                    div.stack { @for job in &jobs { (job_summary(job, &viewer)) } }
                }
                @if !detail.corrections.is_empty() {
                    section #corrections.card aria-labelledby="corrections-title" {
                        h2 #corrections-title { "Corrections" }
                        ol.list.corrections {
                            @for c in detail.corrections.iter().rev() {
                                li {
                                    div.row-main { (correction_text(c, &viewer)) }
                                    div.row-meta.muted { (viewer.local_time(c.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if detail.extraction.is_some() {
            (override_dialog(&views, call_kind, &viewer, call_id))
            script type="application/json" #extraction-data { (json_block(detail.extraction.as_ref().unwrap_or(&Value::Null))) }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title: &title,
            nav: Nav::Calls,
            scripts: &["review.js"],
            styles: &["review.css"],
        },
        body,
    ))
}

/// The question before marking a call reviewed while fields are still uncertain.
fn review_confirm(uncertain: usize) -> String {
    if uncertain == 1 {
        "1 field is still uncertain. Mark the call reviewed anyway?".to_owned()
    } else {
        format!("{uncertain} fields are still uncertain. Mark the call reviewed anyway?")
    }
}

fn correction_text(c: &Correction, viewer: &Viewer) -> Markup {
    match c.field.as_str() {
        "extraction" => html! { "Extraction overridden" },
        "call_kind" => html! { "Marked not an appointment" },
        "review" => match c.after.as_str() {
            Some("no_appointment") => html! { "Review finished: no appointment" },
            _ => html! { "Review finished" },
        },
        path => {
            let field = api::calls::parse_field_path(path).map(|(_, f)| f).unwrap_or("");
            if c.after == c.before {
                html! { (field_label(field)) " confirmed: " (value_text(field, &c.after, viewer)) }
            } else {
                html! {
                    (field_label(field)) ": " del { (value_text(field, &c.before, viewer)) } " → "
                    ins { (value_text(field, &c.after, viewer)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked<'a>(text: &'a str, marks: &[EvidenceMark]) -> Vec<(&'a str, String)> {
        marks
            .iter()
            .map(|m| (&text[m.start..m.end], m.field.clone()))
            .collect()
    }

    #[test]
    fn evidence_is_found_ignoring_case_spacing_and_punctuation() {
        let text = "Hi,  this is MARIA   Lopez. My sink -- it's leaking!";
        let marks = evidence_marks(
            text,
            &[
                (0, "customer_name", "this is maria lopez"),
                (0, "job_description", "sink, it's leaking"),
            ],
        );
        assert_eq!(
            marked(text, &marks),
            vec![
                ("this is MARIA   Lopez", "customer_name".to_owned()),
                ("sink -- it's leaking", "job_description".to_owned())
            ]
        );
    }

    #[test]
    fn whole_words_first_and_no_overlap() {
        let text = "In 1989 I paid 89 dollars, now 89 again";
        let marks = evidence_marks(text, &[(0, "price", "89"), (0, "notes", "89")]);
        assert_eq!(marks[0].start, text.find(" 89 ").unwrap() + 1);
        assert_eq!(marks[1].start, text.rfind("89").unwrap());
        // Overlapping evidence takes the next free occurrence, or nothing; shorter quotes go first.
        let marks = evidence_marks("oak street", &[(0, "a", "oak street"), (0, "b", "street")]);
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].field, "b");
        // A whole-transcript quote does not hide the others; a second quote of a field is its fallback.
        let text = "Hi, this is Maria. Come tomorrow at 3.";
        let marks = evidence_marks(
            text,
            &[
                (0, "when", text),
                (0, "customer_name", "Maria"),
                (0, "when", "tomorrow at 3"),
            ],
        );
        assert_eq!(
            marked(text, &marks),
            vec![
                ("Maria", "customer_name".to_owned()),
                ("tomorrow at 3", "when".to_owned())
            ]
        );
        assert!(evidence_marks("abc", &[(0, "a", ""), (0, "b", "zzz"), (0, "c", "  ")]).is_empty());
    }

    #[test]
    fn non_ascii_text_keeps_byte_boundaries() {
        let text = "Ich heiße Jürgen Größe";
        let marks = evidence_marks(text, &[(0, "customer_name", "JÜRGEN größe")]);
        assert_eq!(marked(text, &marks)[0].0, "Jürgen Größe");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(masked_phone("+19145552177"), "+1914•••2177");
        assert_eq!(masked_phone("12345"), "•••");
        assert_eq!(clock_text(75), "1:15");
        assert_eq!(clock_text(3725), "1:02:05");
        assert_eq!(duration_text(75), "1 min 15 s");
        assert_eq!(duration_text(3725), "1 h 02 min");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
