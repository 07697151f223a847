//! The pipeline board, `/app/board`: the five stages as columns (plus a Cancelled drawer), cards in board order
//! (position, then id — the store's order), counts per column and filters (schedule date range, urgency, text)
//! taken from the query string so a filtered board is a shareable URL. On phones (≤ 720 px) the filters fold into
//! a `<details>` "Filters (n)", open when any is set; each column is `#stage-<stage>` so `/app/board#stage-…`
//! (home's links) shows that column, and the header has "New job" (`/app/jobs/new`).
//!
//! `GET /app/board/cards/{id}` renders one card with the same template, for `assets/board.js` to place after a
//! live event (another user's move or a new job) or after a rejected move. It takes the board's filters too:
//! a job the filters hide is `204 No Content`, so the script removes the card instead of showing it.
//!
//! Moves are written by the script through `POST /api/v1/jobs/{id}/move` with the card's `data-version` as
//! `If-Match`; the card's `data-position` lets it compute a position between its new neighbours.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use callbook_jobs::{CustomerId, Job, JobFilter, JobId, Page as StorePage, Stage, Urgency};
use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Nav, Page, Viewer, WebError, WebResult, layout, urgency_label};
use crate::api::{ApiError, ApiState};

/// The board reads at most this many jobs (in board order); beyond it the page says the board is truncated.
pub const MAX_BOARD_JOBS: u32 = 5000;

/// Jobs read per store call.
const STORE_PAGE: u32 = 500;

/// The columns, in board order; Cancelled is the drawer.
const COLUMNS: [Stage; 5] = [
    Stage::QuoteRequested,
    Stage::QuoteSent,
    Stage::Confirmed,
    Stage::InProgress,
    Stage::Completed,
];

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/app/board", get(board))
        .route("/app/board/cards/{id}", get(card_fragment))
}

/// A stage's name as people say it.
pub fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::QuoteRequested => "Quote Requested",
        Stage::QuoteSent => "Quote Sent",
        Stage::Confirmed => "Confirmed",
        Stage::InProgress => "In Progress",
        Stage::Completed => "Completed",
        Stage::Cancelled => "Cancelled",
    }
}

fn urgency_class(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Emergency => "badge bad",
        Urgency::Urgent => "badge warn",
        Urgency::Normal => "badge",
        Urgency::Flexible => "badge info",
    }
}

// ------------------------------------------------------------------------------------------------ filters

/// The board's query string: every field optional, empty means "no filter".
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    /// First day of the schedule range, `YYYY-MM-DD` in the business's zone.
    pub from: Option<String>,
    /// Last day of the schedule range (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// `emergency`, `urgent`, `normal` or `flexible`.
    pub urgency: Option<String>,
    /// Text in the title, description, notes or customer name (case-insensitive).
    pub q: Option<String>,
}

/// The filters as applied, with a message per field that could not be used.
#[derive(Debug, Default)]
struct Filters {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    urgency: Option<Urgency>,
    text: Option<String>,
    errors: Vec<(&'static str, &'static str)>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Filters {
    fn parse(query: &BoardQuery) -> Self {
        let mut filters = Filters::default();
        let date = |value: &Option<String>, field: &'static str, errors: &mut Vec<_>| {
            let text = non_empty(value)?;
            match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push((field, "Not a date (use YYYY-MM-DD)."));
                    None
                }
            }
        };
        filters.from = date(&query.from, "from", &mut filters.errors);
        filters.to = date(&query.to, "to", &mut filters.errors);
        if let (Some(from), Some(to)) = (filters.from, filters.to)
            && to < from
        {
            filters
                .errors
                .push(("to", "The end date is before the start date."));
            filters.to = None;
        }
        if let Some(text) = non_empty(&query.urgency) {
            match text.parse::<Urgency>() {
                Ok(u) => filters.urgency = Some(u),
                Err(_) => filters.errors.push(("urgency", "Not an urgency.")),
            }
        }
        filters.text = non_empty(&query.q).map(str::to_owned);
        filters
    }

    fn active(&self) -> bool {
        self.from.is_some() || self.to.is_some() || self.urgency.is_some() || self.text.is_some()
    }

    /// How many filters are set (shown in the phone's "Filters" summary).
    fn active_count(&self) -> usize {
        [
            self.from.is_some(),
            self.to.is_some(),
            self.urgency.is_some(),
            self.text.is_some(),
        ]
        .into_iter()
        .filter(|a| *a)
        .count()
    }

    /// The store filter: the schedule window (`from`'s midnight to the midnight after `to`, in the zone).
    fn store_filter<Z: chrono::TimeZone>(&self, zone: &Z) -> JobFilter {
        JobFilter {
            scheduled_from: self.from.map(|d| local_midnight(zone, d)),
            scheduled_to: self.to.map(|d| local_midnight(zone, d.succ_opt().unwrap_or(d))),
            ..JobFilter::default()
        }
    }

    /// The filters the store does not apply: urgency, and text that may also be in the customer's name.
    fn keeps(&self, job: &Job, customer: Option<&str>) -> bool {
        if self.urgency.is_some_and(|u| u != job.urgency) {
            return false;
        }
        match &self.text {
            None => true,
            Some(text) => {
                let needle = text.to_lowercase();
                let has = |s: &str| s.to_lowercase().contains(&needle);
                has(&job.title)
                    || has(&job.description)
                    || job.notes.as_deref().is_some_and(has)
                    || customer.is_some_and(has)
            }
        }
    }

    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| *m)
    }
}

/// The first instant of `day` in `zone` (midnight, or the first valid time on a day whose midnight a DST change
/// skips).
fn local_midnight<Z: chrono::TimeZone>(zone: &Z, day: NaiveDate) -> DateTime<Utc> {
    let mut at = day.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(t) = zone.from_local_datetime(&at).earliest() {
            return t.with_timezone(&Utc);
        }
        at += chrono::TimeDelta::hours(1);
    }
    Utc.from_utc_datetime(&at)
}

// ------------------------------------------------------------------------------------------------ data

/// Customer names by id, read once per distinct customer.
#[derive(Debug, Default)]
struct Names(HashMap<CustomerId, Option<String>>);

impl Names {
    async fn lookup(
        &mut self,
        state: &ApiState,
        viewer: &Viewer,
        id: CustomerId,
    ) -> Result<Option<&str>, ApiError> {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.0.entry(id) {
            let name = match state.store.get_customer(viewer.principal.tenant, id).await {
                Ok(c) => Some(c.name).filter(|n| !n.trim().is_empty()),
                Err(callbook_jobs::Error::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            entry.insert(name);
        }
        Ok(self.0.get(&id).and_then(|n| n.as_deref()))
    }
}

/// One card's data.
struct Card {
    job: Job,
    customer: Option<String>,
}

/// Every job of the tenant matching the store filter, in board order (all pages, up to [`MAX_BOARD_JOBS`]);
/// `true` when there were more.
async fn read_jobs(
    state: &ApiState,
    viewer: &Viewer,
    filter: &JobFilter,
) -> Result<(Vec<Job>, bool), ApiError> {
    let mut jobs = Vec::new();
    let mut offset = 0;
    loop {
        let page = state
            .store
            .list_jobs(
                viewer.principal.tenant,
                filter,
                StorePage {
                    offset,
                    limit: STORE_PAGE,
                },
            )
            .await?;
        let n = page.len() as u32;
        jobs.extend(page);
        offset += n;
        if n < STORE_PAGE {
            return Ok((jobs, false));
        }
        if offset >= MAX_BOARD_JOBS {
            jobs.truncate(MAX_BOARD_JOBS as usize);
            let more = state
                .store
                .list_jobs(
                    viewer.principal.tenant,
                    filter,
                    StorePage {
                        offset: MAX_BOARD_JOBS,
                        limit: 1,
                    },
                )
                .await?;
            return Ok((jobs, !more.is_empty()));
        }
    }
}

// ------------------------------------------------------------------------------------------------ handlers

async fn board(State(state): State<ApiState>, viewer: Viewer, Query(query): Query<BoardQuery>) -> WebResult {
    let filters = Filters::parse(&query);
    let zone = viewer.tenant.timezone.tz();
    let (jobs, truncated) = read_jobs(&state, &viewer, &filters.store_filter(&zone)).await?;
    let mut names = Names::default();
    let mut columns: HashMap<Stage, Vec<Card>> = HashMap::new();
    for job in jobs {
        let customer = match job.customer_id {
            Some(id) => names.lookup(&state, &viewer, id).await?.map(str::to_owned),
            None => None,
        };
        if filters.keeps(&job, customer.as_deref()) {
            columns.entry(job.stage).or_default().push(Card { job, customer });
        }
    }
    let empty = Vec::new();
    let cards = |stage: Stage| columns.get(&stage).unwrap_or(&empty);
    let total: usize = columns.values().map(Vec::len).sum();
    let cancelled = cards(Stage::Cancelled);
    let body = html! {
        div.page-header.board-header {
            h1 { "Board" }
            p.board-summary.muted #board-summary {
                span #board-total { (total) } " " span #board-noun { (if total == 1 { "job" } else { "jobs" }) }
                @if filters.active() { " match the filters" }
            }
            div.actions {
                a.button.primary.new-job href="/app/jobs/new" { "New job" }
            }
        }
        (filter_form(&query, &filters))
        @if truncated {
            p.notice role="status" {
                "Showing the first " (MAX_BOARD_JOBS) " jobs. Narrow the filters to see the rest."
            }
        }
        p.visually-hidden #board-help {
            "To move a card with the keyboard: focus it, press Space to pick it up, use the arrow keys to \
             choose a column and position, then press Space to drop it or Escape to cancel."
        }
        div.board #board aria-describedby="board-help" {
            @for stage in COLUMNS {
                (column(&viewer, stage, cards(stage)))
            }
        }
        details.drawer #cancelled-drawer open[filters.active() && !cancelled.is_empty()] {
            summary {
                "Cancelled (" span.count data-count-for="cancelled" { (cancelled.len()) } ")"
            }
            (column(&viewer, Stage::Cancelled, cancelled))
        }
        (move_dialog())
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Board",
            nav: Nav::Board,
            scripts: &["board.js"],
            styles: &["board.css"],
        },
        body,
    ))
}

async fn card_fragment(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<BoardQuery>,
) -> Result<Response, WebError> {
    let id: JobId = id.parse().map_err(|_| ApiError::not_found("job"))?;
    let job = state.store.get_job(viewer.principal.tenant, id).await?;
    let filters = Filters::parse(&query);
    let customer = match job.customer_id {
        Some(c) => Names::default()
            .lookup(&state, &viewer, c)
            .await?
            .map(str::to_owned),
        None => None,
    };
    let window = filters.store_filter(&viewer.tenant.timezone.tz());
    let in_window = (window.scheduled_from.is_none() && window.scheduled_to.is_none())
        || job.schedule.as_ref().is_some_and(|s| {
            window.scheduled_to.is_none_or(|to| s.start < to)
                && window.scheduled_from.is_none_or(|from| s.end > from)
        });
    if !in_window || !filters.keeps(&job, customer.as_deref()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(card(&viewer, &Card { job, customer }).into_response())
}

// ------------------------------------------------------------------------------------------------ templates

fn filter_form(query: &BoardQuery, filters: &Filters) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let urgency = non_empty(&query.urgency).unwrap_or("");
    let active = filters.active_count();
    html! {
        // on phones (board.css) the filters fold away behind "Filters (n)"; open when any is active or wrong
        details.filters-drawer #board-filters-drawer open[active > 0 || !filters.errors.is_empty()] {
            summary.filters-summary {
                "Filters"
                @if active > 0 { " " span.badge.filters-count aria-label=(format!("{active} active")) { (active) } }
            }
        form.toolbar.board-filters #board-filters method="get" action="/app/board" role="search" aria-label="Filter the board" {
            div.field {
                label for="filter-from" { "From" }
                input #filter-from type="date" name="from" value=(value(&query.from))
                    aria-invalid=[filters.error("from").map(|_| "true")];
                @if let Some(e) = filters.error("from") { span.error data-error-for="from" { (e) } }
            }
            div.field {
                label for="filter-to" { "To" }
                input #filter-to type="date" name="to" value=(value(&query.to))
                    aria-invalid=[filters.error("to").map(|_| "true")];
                @if let Some(e) = filters.error("to") { span.error data-error-for="to" { (e) } }
            }
            div.field {
                label for="filter-urgency" { "Urgency" }
                select #filter-urgency name="urgency" {
                    option value="" selected[urgency.is_empty()] { "Any" }
                    @for u in Urgency::ALL {
                        option value=(u.as_str()) selected[urgency == u.as_str()] { (urgency_label(*u)) }
                    }
                }
                @if let Some(e) = filters.error("urgency") { span.error data-error-for="urgency" { (e) } }
            }
            div.field.grow {
                label for="filter-q" { "Search" }
                input #filter-q type="search" name="q" value=(value(&query.q)) placeholder="Name, job, notes";
            }
            div.filter-actions {
                button.button.apply type="submit" { "Apply" }
                @if filters.active() || !filters.errors.is_empty() {
                    a.button.small href="/app/board" { "Clear filters" }
                }
            }
        }
        }
    }
}

fn column(viewer: &Viewer, stage: Stage, cards: &[Card]) -> Markup {
    let heading = format!("column-{}", stage.as_str());
    html! {
        section.column data-stage=(stage.as_str()) id={ "stage-" (stage.as_str()) } aria-labelledby=(heading) {
            h2 #(heading) {
                span.stage-name { (stage_label(stage)) }
                " "
                span.count data-count-for=(stage.as_str()) { (cards.len()) }
            }
            ol.cards aria-labelledby=(heading) {
                @for c in cards { (card(viewer, c)) }
            }
            p.column-empty.muted { "No jobs" }
        }
    }
}

/// One card: the same markup for the page and for `GET /app/board/cards/{id}`.
fn card(viewer: &Viewer, card: &Card) -> Markup {
    let job = &card.job;
    let customer = card.customer.as_deref().unwrap_or("No customer");
    html! {
        li.job-card tabindex="0" data-job-id=(job.id) data-version=(job.version) data-stage=(job.stage.as_str())
            data-position=(job.position)
            aria-describedby="board-help" {
            div.card-head {
                a.job-link href=(format!("/app/jobs/{}", job.id)) draggable="false" {
                    span.customer { (customer) }
                }
                @if job.urgency != Urgency::Normal {
                    span class=(urgency_class(job.urgency)) { (urgency_label(job.urgency)) }
                }
            }
            p.summary { (job.title) }
            div.card-foot {
                div.card-meta {
                    @match &job.schedule {
                        Some(s) => time.when datetime=(s.start.to_rfc3339()) { (viewer.local_time(s.start)) },
                        None => span.when { "Not scheduled" },
                    }
                    @if let Some(price) = &job.price {
                        span.price { (price) }
                    }
                }
                button.button.small.move-button type="button" aria-haspopup="dialog" {
                    "Move to…" span.visually-hidden { " (" (job.title) ")" }
                }
            }
        }
    }
}

/// The "Move to…" dialog, one for the page; `board.js` opens it for a card.
fn move_dialog() -> Markup {
    html! {
        dialog.dialog #move-dialog aria-labelledby="move-dialog-title" {
            form #move-form method="dialog" {
                h2 #move-dialog-title { "Move job" }
                p.muted #move-dialog-job {}
                div.field {
                    label for="move-stage" { "Column" }
                    select #move-stage name="stage" {
                        @for stage in Stage::ALL {
                            option value=(stage.as_str()) { (stage_label(*stage)) }
                        }
                    }
                }
                div.field {
                    label for="move-place" { "Place" }
                    select #move-place name="place" {
                        option value="top" { "At the top" }
                        option value="bottom" selected { "At the bottom" }
                    }
                }
                div.cluster {
                    button.button.primary type="submit" value="move" { "Move" }
                    button.button type="submit" value="cancel" formnovalidate { "Cancel" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_report_bad_values() {
        let f = Filters::parse(&BoardQuery {
            from: Some("2026-03-01".into()),
            to: Some("2026-02-01".into()),
            urgency: Some("soon".into()),
            q: Some("  ".into()),
        });
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(f.to, None, "an end before the start is dropped");
        assert_eq!(f.error("to"), Some("The end date is before the start date."));
        assert_eq!(f.error("urgency"), Some("Not an urgency."));
        assert_eq!(f.text, None, "blank text is no filter");
        let f = Filters::parse(&BoardQuery {
            from: Some("March".into()),
            ..BoardQuery::default()
        });
        assert_eq!(f.from, None);
        assert!(f.error("from").is_some());
        assert!(!f.active());
    }

    #[test]
    fn date_range_is_whole_local_days() {
        let zone = callbook_jobs::TimeZone::parse("America/New_York").unwrap().tz();
        let f = Filters::parse(&BoardQuery {
            from: Some("2026-03-10".into()),
            to: Some("2026-03-10".into()),
            ..BoardQuery::default()
        });
        let filter = f.store_filter(&zone);
        assert_eq!(
            filter.scheduled_from.unwrap().to_rfc3339(),
            "2026-03-10T04:00:00+00:00"
        );
        assert_eq!(
            filter.scheduled_to.unwrap().to_rfc3339(),
            "2026-03-11T04:00:00+00:00"
        );
        // Santiago skipped midnight on 2022-09-11 (00:00 → 01:00)
        let skipped = local_midnight(
            &callbook_jobs::TimeZone::parse("America/Santiago").unwrap().tz(),
            NaiveDate::from_ymd_opt(2022, 9, 11).unwrap(),
        );
        assert_eq!(skipped.to_rfc3339(), "2022-09-11T04:00:00+00:00");
    }
}
