//! Home, `GET /app`: today at a glance in the business's zone.
//!
//! Calls today, open jobs per stage (links to the board), calls needing review (links to their review page),
//! the processing success rate and the average time from a call to its job over the last seven days, the most
//! recent calls with their processing state, and quick actions. Everything is read in the viewer's tenant
//! from the store the API uses; `assets/home.js` refreshes the page when a live event says something changed.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use callbook_jobs::{Call, CallState, CustomerId, JobFilter, JobSource, Page as StorePage, Stage, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};

use super::{Nav, Page, Viewer, WebResult, call_state_badge, format_duration, layout, stage_label};
use crate::api::ApiState;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/app", get(home))
}

/// How far back the rates look.
pub const WINDOW_DAYS: i64 = 7;
/// At most this many calls are read for the rates (newest first).
const MAX_CALLS_SCANNED: usize = 2000;
/// At most this many calls are matched to their jobs for the call-to-job time.
const MAX_CALL_TO_JOB_SAMPLES: usize = 100;
/// Counts stop here (shown as "5000+").
pub const COUNT_CAP: usize = 5000;
/// Recent calls shown.
const RECENT: usize = 8;
/// Calls needing review listed.
const REVIEW_LISTED: usize = 5;

/// The open stages, in board order.
pub const OPEN_STAGES: [Stage; 4] = [
    Stage::QuoteRequested,
    Stage::QuoteSent,
    Stage::Confirmed,
    Stage::InProgress,
];

/// The numbers of the home page.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    /// Calls that started today in the business's zone.
    pub calls_today: usize,
    /// Open jobs per stage, in board order.
    pub stages: Vec<(Stage, usize)>,
    /// Calls in `needs_review` (capped at [`COUNT_CAP`]).
    pub review_count: usize,
    /// The newest calls needing review.
    pub review: Vec<Call>,
    /// Calls that finished processing in the window: `(succeeded, finished)` where succeeded is everything
    /// but `dead`.
    pub processed: (usize, usize),
    /// Of the finished calls in the window, how many need review.
    pub needed_review: usize,
    /// The mean time from the end of a call to its job's creation, and how many jobs it is over.
    pub call_to_job: Option<(TimeDelta, usize)>,
    /// The newest calls.
    pub recent: Vec<Call>,
}

/// Reads the home page's numbers for `tenant`; "today" is `[today_start, today_end)`.
pub async fn glance(
    state: &ApiState,
    tenant: TenantId,
    today: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Glance, callbook_jobs::Error> {
    let store = &state.store;
    let since = now - TimeDelta::days(WINDOW_DAYS);
    let earliest = since.min(today.0);

    // calls, newest first, until before the window and today
    let mut calls: Vec<Call> = Vec::new();
    let mut offset = 0;
    loop {
        let page = store
            .list_calls(tenant, None, StorePage { offset, limit: 500 })
            .await?;
        let n = page.len();
        let done = n < 500 || page.last().is_none_or(|c| c.started_at < earliest);
        calls.extend(page.into_iter().filter(|c| c.started_at >= earliest));
        offset += 500;
        if done || calls.len() >= MAX_CALLS_SCANNED {
            break;
        }
    }
    let recent = store
        .list_calls(tenant, None, StorePage::first(RECENT as u32))
        .await?;
    let calls_today = calls
        .iter()
        .filter(|c| c.started_at >= today.0 && c.started_at < today.1)
        .count();
    let window: Vec<&Call> = calls.iter().filter(|c| c.started_at >= since).collect();
    let finished: Vec<&&Call> = window.iter().filter(|c| c.processing.state.is_final()).collect();
    let dead = finished
        .iter()
        .filter(|c| c.processing.state == CallState::Dead)
        .count();
    let needed_review = finished
        .iter()
        .filter(|c| c.processing.state == CallState::NeedsReview)
        .count();

    // call → job time over the newest booked calls of the window
    let mut total = TimeDelta::zero();
    let mut samples = 0usize;
    for call in window
        .iter()
        .filter(|c| c.processing.state == CallState::Done)
        .take(MAX_CALL_TO_JOB_SAMPLES)
    {
        let source = JobSource {
            call_id: call.id,
            appointment_index: 0,
        };
        if let Some(job) = store.find_job_by_source(tenant, source).await? {
            let from = call.ended_at.unwrap_or(call.started_at);
            let took = job.created_at - from;
            if took >= TimeDelta::zero() {
                total += took;
                samples += 1;
            }
        }
    }
    let call_to_job = (samples > 0).then(|| (total / samples as i32, samples));

    let mut stages = Vec::with_capacity(OPEN_STAGES.len());
    for stage in OPEN_STAGES {
        let filter = JobFilter {
            stage: Some(stage),
            ..JobFilter::default()
        };
        stages.push((stage, count(|page| store.list_jobs(tenant, &filter, page)).await?));
    }
    let review_count = count(|page| store.list_calls(tenant, Some(CallState::NeedsReview), page)).await?;
    let review = store
        .list_calls(
            tenant,
            Some(CallState::NeedsReview),
            StorePage::first(REVIEW_LISTED as u32),
        )
        .await?;
    Ok(Glance {
        calls_today,
        stages,
        review_count,
        review,
        processed: (finished.len() - dead, finished.len()),
        needed_review,
        call_to_job,
        recent,
    })
}

/// Counts the items of a paged listing, up to [`COUNT_CAP`].
async fn count<T, F, Fut>(mut list: F) -> Result<usize, callbook_jobs::Error>
where
    F: FnMut(StorePage) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, callbook_jobs::Error>>,
{
    let mut total = 0;
    let mut offset = 0u32;
    loop {
        let n = list(StorePage { offset, limit: 500 }).await?.len();
        total += n;
        offset += 500;
        if n < 500 || total >= COUNT_CAP {
            return Ok(total);
        }
    }
}

fn capped(n: usize) -> String {
    if n >= COUNT_CAP {
        format!("{COUNT_CAP}+")
    } else {
        n.to_string()
    }
}

async fn home(State(state): State<ApiState>, viewer: Viewer) -> WebResult {
    let tenant = viewer.principal.tenant;
    let g = glance(&state, tenant, viewer.today_bounds(), Utc::now()).await?;
    // customer names of the calls shown
    let mut names: HashMap<CustomerId, String> = HashMap::new();
    for call in g.recent.iter().chain(&g.review) {
        if let Some(id) = call.customer_id
            && !names.contains_key(&id)
            && let Ok(customer) = state.store.get_customer(tenant, id).await
        {
            names.insert(id, customer.name);
        }
    }
    let caller = |call: &Call| -> String {
        call.customer_id
            .and_then(|id| names.get(&id).cloned())
            .filter(|n| !n.trim().is_empty())
            .or_else(|| call.from.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| "Unknown caller".to_owned())
    };
    let today_label = viewer.local_date(Utc::now());
    let (ok, finished) = g.processed;
    let open_jobs: usize = g.stages.iter().map(|(_, n)| n).sum();

    let body = html! {
        div.page-header {
            h1 { "Today" span.muted.today-date { (today_label) } }
        }
        nav.home-actions aria-label="Quick actions" {
            a.button.primary href="/app/board" { "Board" }
            a.button href="/app/calls?state=needs_review" { "Review calls" }
            a.button href="/app/calendar" { "Calendar" }
            a.button href="/app/jobs/new" { "New job" }
        }
        div.home-stats {
            (stat("calls-today", "Calls today", &g.calls_today.to_string(), None, Some(("/app/calls", "All calls"))))
            (stat("needs-review", "Need review", &capped(g.review_count),
                (g.review_count > 0).then_some("warn"), Some(("/app/calls?state=needs_review", "Review them"))))
            (stat("success-rate", "Processed successfully",
                &(ok * 100 + finished / 2).checked_div(finished).map_or_else(|| "–".to_owned(), |p| format!("{p}%")),
                None, None))
            (stat("call-to-job", "Call to job",
                &g.call_to_job.map(|(d, _)| format_duration(d)).unwrap_or_else(|| "–".to_owned()), None, None))
        }
        p.muted.home-window {
            @if finished == 0 {
                "No calls finished processing in the last " (WINDOW_DAYS) " days."
            } @else {
                (ok) " of " (finished) " calls in the last " (WINDOW_DAYS) " days processed without failing"
                @if g.needed_review > 0 { " (" (g.needed_review) " needed review)" }
                "."
                @if let Some((_, n)) = g.call_to_job {
                    " Call to job: the mean over " (n) " booked " (if n == 1 { "call" } else { "calls" }) "."
                }
            }
        }
        div.grid-2 {
            section #home-stages .card aria-labelledby="home-stages-h" {
                h2 #home-stages-h { "Jobs waiting" span.muted { " · " (capped(open_jobs)) " open" } }
                ul.list.stage-counts {
                    @for (stage, n) in &g.stages {
                        li data-stage=(stage.as_str()) {
                            a.row-main href={ "/app/board#stage-" (stage.as_str()) } { (stage_label(*stage)) }
                            span.badge.info data-count=(n) { (capped(*n)) }
                        }
                    }
                }
            }
            section #home-review .card aria-labelledby="home-review-h" {
                h2 #home-review-h { "Calls needing review" }
                @if g.review.is_empty() {
                    p.empty { "Nothing to review. New calls that need a person show up here." }
                } @else {
                    ul.list {
                        @for call in &g.review {
                            li data-call-id=(call.id) {
                                a.row-main href={ "/app/calls/" (call.id) } { (caller(call)) }
                                span.row-meta { (viewer.short_time(call.started_at)) }
                            }
                        }
                    }
                    @if g.review_count > g.review.len() {
                        p { a href="/app/calls?state=needs_review" { "All " (capped(g.review_count)) " calls needing review" } }
                    }
                }
            }
        }
        section #home-recent .card aria-labelledby="home-recent-h" {
            h2 #home-recent-h { "Recent calls" }
            @if g.recent.is_empty() {
                p.empty { "No calls yet. Calls to your Callbook number appear here as they are processed." }
            } @else {
                ul.list #recent-calls {
                    @for call in &g.recent {
                        li data-call-id=(call.id) data-state=(call.processing.state.as_str()) {
                            a.row-main href={ "/app/calls/" (call.id) } { (caller(call)) }
                            span.row-meta {
                                (call_state_badge(call.processing.state))
                                time datetime=(call.started_at.to_rfc3339()) { (viewer.short_time(call.started_at)) }
                            }
                        }
                    }
                }
                p { a href="/app/calls" { "All calls" } }
            }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Home",
            nav: Nav::Home,
            scripts: &["home.js"],
            styles: &["home.css"],
        },
        body,
    ))
}

fn stat(id: &str, label: &str, value: &str, tone: Option<&str>, link: Option<(&str, &str)>) -> Markup {
    html! {
        div.card.stat id=(id) data-tone=[tone] {
            span.stat-label { (label) }
            span.stat-value { (value) }
            @if let Some((href, text)) = link {
                a.stat-link href=(href) { (text) }
            }
        }
    }
}
