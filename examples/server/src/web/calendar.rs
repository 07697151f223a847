//! The calendar page of the dashboard (see [`crate::web`]): `/app/calendar?view=week|month&date=YYYY-MM-DD`.
//!
//! Days are the **business's** days: the tenant's zone decides where midnight falls (so a job at 23:30 in Los
//! Angeles is on that local day, not the next UTC day), and a DST week has a 23- or 25-hour day whose events
//! are still placed by their wall-clock time. Recurring jobs are expanded into their occurrences in the
//! visible range with [`callbook_jobs::calendar::occurrences`] — the same `rrule` expansion the iCalendar
//! feed's rules describe, in the job's own zone, so a weekly 3 pm visit stays at 3 pm across DST. Everything
//! `rrule` supports (RFC 5545 `FREQ`, `INTERVAL`, `COUNT`, `UNTIL`, `BY*`) is therefore expanded; there are no
//! exception dates (`EXDATE`) in the job model.
//!
//! Events are `a.cal-event[data-job-id]` links to the job, carrying `data-start-min`/`data-duration-min`
//! (minutes after local midnight) and `data-lane`/`data-lanes` (side by side when they overlap), which
//! `assets/calendar.js` turns into positions on a desktop week grid. Without the script, and on phones, the
//! same markup reads as a day-by-day agenda.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use callbook_jobs::{Job, JobFilter, Page as StorePage, Stage, TimeZone};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone as _, Timelike, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::jobs::recurrence_words;
use super::stage_label;
use super::{Nav, Page, Viewer, WebResult, layout};
use crate::api::ApiState;

/// At most this many jobs are read for the calendar (the first ones in board order, as the feed does).
const MAX_JOBS: u32 = 5000;

/// Month cells list at most this many events, then a "more" link to that week.
const CELL_EVENTS: usize = 3;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/app/calendar", get(calendar_page))
}

/// Query of the calendar page; anything unreadable falls back to this week.
#[derive(Debug, Default, Deserialize)]
struct CalendarQuery {
    view: Option<String>,
    date: Option<String>,
    closed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Week,
    Month,
}

impl View {
    fn as_str(self) -> &'static str {
        match self {
            View::Week => "week",
            View::Month => "month",
        }
    }
}

/// One occurrence of a job.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence<'a> {
    pub(crate) job: &'a Job,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

/// An occurrence as placed on one local day.
#[derive(Debug, Clone)]
struct Placed<'a> {
    occ: Occurrence<'a>,
    start_min: u32,
    /// Started on an earlier day (shown as "until …").
    continued: bool,
    end_min: u32,
    lane: usize,
    lanes: usize,
}

/// Local midnight of `day` in `zone` (the first instant of the day when midnight falls in a DST gap).
pub(crate) fn local_midnight(day: NaiveDate, zone: TimeZone) -> DateTime<Utc> {
    let tz = zone.tz();
    for hour in 0..4 {
        if let Some(t) = day
            .and_hms_opt(hour, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
        {
            return t.with_timezone(&Utc);
        }
    }
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The most occurrences of one job a view shows (an hourly rule fills a month with 744).
pub const MAX_OCCURRENCES_PER_JOB: u16 = 1_000;

/// How far from today (in years) the calendar may be navigated; other dates show this week.
pub const MAX_YEARS_AWAY: i32 = 20;

/// Occurrence starts of `job` overlapping `[from, to)`. Recurring jobs are expanded with the jobs crate's
/// `rrule` expansion bounded to the window ([`callbook_jobs::calendar::occurrences_between`]): at most
/// [`MAX_OCCURRENCES_PER_JOB`] per job and view, and `rrule`'s own iteration guard bounds the walk from the
/// rule's first occurrence (the page also clamps the requested date to [`MAX_YEARS_AWAY`] of today).
pub(crate) fn occurrences_in(job: &Job, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occurrence<'_>> {
    let Some(schedule) = &job.schedule else {
        return Vec::new();
    };
    let duration = schedule.end - schedule.start;
    let starts = callbook_jobs::calendar::occurrences_between(job, from, to, MAX_OCCURRENCES_PER_JOB);
    starts
        .into_iter()
        .filter(|s| *s < to && *s + duration > from)
        .map(|start| Occurrence {
            job,
            start,
            end: start + duration,
        })
        .collect()
}

/// Minutes after local midnight of `t`'s wall-clock time.
fn wall_minutes(t: DateTime<Utc>, zone: TimeZone) -> u32 {
    let local = t.with_timezone(&zone.tz());
    local.hour() * 60 + local.minute()
}

/// The occurrences overlapping one local day, with wall-clock minutes and side-by-side lanes.
fn place_day<'a>(occurrences: &[Occurrence<'a>], day: NaiveDate, zone: TimeZone) -> Vec<Placed<'a>> {
    let (day_start, day_end) = (
        local_midnight(day, zone),
        local_midnight(day + Duration::days(1), zone),
    );
    let mut placed: Vec<Placed<'a>> = occurrences
        .iter()
        .filter(|o| o.start < day_end && o.end > day_start)
        .map(|o| {
            let start_min = if o.start <= day_start {
                0
            } else {
                wall_minutes(o.start, zone)
            };
            let end_min = if o.end >= day_end {
                24 * 60
            } else {
                wall_minutes(o.end, zone)
            };
            Placed {
                occ: o.clone(),
                start_min,
                end_min: end_min.max(start_min + 15).min(24 * 60),
                lane: 0,
                lanes: 1,
                continued: o.start < day_start,
            }
        })
        .collect();
    placed.sort_by(|a, b| {
        (a.start_min, a.occ.start, a.occ.job.id.to_string()).cmp(&(
            b.start_min,
            b.occ.start,
            b.occ.job.id.to_string(),
        ))
    });
    // Greedy lanes within clusters of overlapping events.
    let mut cluster_start = 0;
    let mut cluster_end = 0;
    let mut lane_ends: Vec<u32> = Vec::new();
    for i in 0..placed.len() {
        if placed[i].start_min >= cluster_end && i > cluster_start {
            let lanes = lane_ends.len();
            for p in &mut placed[cluster_start..i] {
                p.lanes = lanes;
            }
            cluster_start = i;
            lane_ends.clear();
        }
        let lane = match lane_ends.iter().position(|end| *end <= placed[i].start_min) {
            Some(lane) => lane,
            None => {
                lane_ends.push(0);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = placed[i].end_min;
        placed[i].lane = lane;
        cluster_end = if i == cluster_start {
            placed[i].end_min
        } else {
            cluster_end.max(placed[i].end_min)
        };
    }
    let lanes = lane_ends.len().max(1);
    for p in &mut placed[cluster_start..] {
        p.lanes = lanes;
    }
    placed
}

/// A month cell lists what starts that day, and long (24 h or more) jobs on every day they cover; the
/// after-midnight tail of an evening job stays on its start day.
fn month_events<'p, 'a>(all: &'p [Placed<'a>]) -> Vec<&'p Placed<'a>> {
    all.iter()
        .filter(|p| !p.continued || p.occ.end - p.occ.start >= Duration::hours(24))
        .collect()
}

fn count_words(n: usize) -> String {
    match n {
        0 => "nothing scheduled".to_owned(),
        1 => "1 job".to_owned(),
        n => format!("{n} jobs"),
    }
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

fn day_link(view: View, date: NaiveDate, hide_closed: bool) -> String {
    let mut href = format!(
        "/app/calendar?view={}&date={}",
        view.as_str(),
        date.format("%Y-%m-%d")
    );
    if hide_closed {
        href.push_str("&closed=hide");
    }
    href
}

async fn calendar_page(
    State(state): State<ApiState>,
    viewer: Viewer,
    query: Result<Query<CalendarQuery>, QueryRejection>,
) -> WebResult {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let zone = viewer.tenant.timezone;
    let today = Utc::now().with_timezone(&zone.tz()).date_naive();
    let view = match query.view.as_deref() {
        Some("month") => View::Month,
        _ => View::Week,
    };
    let date = query
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        // far-away dates would make every recurring job walk its rule for centuries (and overflow date maths)
        .filter(|d| (d.year() - today.year()).abs() <= MAX_YEARS_AWAY)
        .unwrap_or(today);
    let hide_closed = query.closed.as_deref() == Some("hide");
    let (first, days, prev, next) = match view {
        View::Week => {
            let first = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            (first, 7, date - Duration::days(7), date + Duration::days(7))
        }
        View::Month => {
            let month = date.with_day(1).unwrap_or(date);
            let last = month + Months::new(1) - Duration::days(1);
            let first = month - Duration::days(i64::from(month.weekday().num_days_from_monday()));
            let end = last + Duration::days(i64::from(6 - last.weekday().num_days_from_monday()));
            (
                first,
                (end - first).num_days() + 1,
                month - Months::new(1),
                month + Months::new(1),
            )
        }
    };
    let (from, to) = (
        local_midnight(first, zone),
        local_midnight(first + Duration::days(days), zone),
    );

    let tenant = viewer.principal.tenant;
    let mut jobs = Vec::new();
    let mut offset = 0;
    while offset < MAX_JOBS {
        let page = state
            .store
            .list_jobs(tenant, &JobFilter::default(), StorePage { offset, limit: 500 })
            .await?;
        let n = page.len() as u32;
        jobs.extend(
            page.into_iter()
                .filter(|j| j.schedule.is_some() && !(hide_closed && j.stage.is_closed())),
        );
        if n < 500 {
            break;
        }
        offset += n;
    }
    let mut occurrences: Vec<Occurrence<'_>> =
        jobs.iter().flat_map(|j| occurrences_in(j, from, to)).collect();
    occurrences.sort_by_key(|o| o.start);
    let feed = crate::api::jobs::calendar_feed_url(State(state.clone()), viewer.principal.clone())
        .await
        .0
        .url;

    let days: Vec<(NaiveDate, Vec<Placed<'_>>)> = (0..days)
        .map(|i| {
            let day = first + Duration::days(i);
            (day, place_day(&occurrences, day, zone))
        })
        .collect();
    let range_label = match view {
        View::Week => {
            let last = first + Duration::days(6);
            if first.month() == last.month() {
                format!("{} – {}", first.format("%-d"), last.format("%-d %B %Y"))
            } else if first.year() == last.year() {
                format!("{} – {}", first.format("%-d %b"), last.format("%-d %b %Y"))
            } else {
                format!("{} – {}", first.format("%-d %b %Y"), last.format("%-d %b %Y"))
            }
        }
        View::Month => date.format("%B %Y").to_string(),
    };
    let body = html! {
        div.page-header {
            h1 { "Calendar" }
            p.cal-range aria-live="polite" { (range_label) }
        }
        nav.toolbar.cal-toolbar aria-label="Calendar" {
            div.cluster.cal-nav {
                a.button.small href=(day_link(view, prev, hide_closed)) rel="prev" { "Previous" }
                a.button.small href=(day_link(view, today, hide_closed)) { "Today" }
                a.button.small href=(day_link(view, next, hide_closed)) rel="next" { "Next" }
            }
            div.cluster.cal-views {
                a.button.small href=(day_link(View::Week, date, hide_closed))
                    aria-current=[(view == View::Week).then_some("page")] { "Week" }
                a.button.small href=(day_link(View::Month, date, hide_closed))
                    aria-current=[(view == View::Month).then_some("page")] { "Month" }
            }
            div.cluster.cal-filters {
                @if hide_closed {
                    a.cal-toggle href=(day_link(view, date, false)) { "Show completed and cancelled" }
                } @else {
                    a.cal-toggle href={ (day_link(view, date, false)) "&closed=hide" } { "Hide completed and cancelled" }
                }
            }
        }
        p.hint.cal-zone { "Times in " strong { (zone.name()) } ", the business's time zone." }
        @match view {
            View::Week => (week(&days, today, zone)),
            View::Month => (month(&days, date, today, zone, hide_closed)),
        }
        (subscribe(&feed))
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Calendar",
            nav: Nav::Calendar,
            scripts: &["calendar.js"],
            styles: &["calendar.css"],
        },
        body,
    ))
}

fn event(p: &Placed<'_>, zone: TimeZone, compact: bool) -> Markup {
    let job = p.occ.job;
    let closed = job.stage.is_closed();
    // the real times, not the day-clipped ones: a job running past midnight says when it ends
    let time = if p.continued {
        format!("until {}", hhmm(wall_minutes(p.occ.end, zone)))
    } else {
        format!(
            "{}–{}",
            hhmm(wall_minutes(p.occ.start, zone)),
            hhmm(wall_minutes(p.occ.end, zone))
        )
    };
    let label = format!(
        "{time} {}{}",
        job.title,
        if closed {
            format!(" ({})", stage_label(job.stage))
        } else {
            String::new()
        }
    );
    html! {
        a.cal-event.closed[closed].cancelled[job.stage == Stage::Cancelled].continued[p.continued].compact[compact]
            href={ "/app/jobs/" (job.id) }
            data-job-id=(job.id)
            data-stage=(job.stage.as_str())
            data-start=(p.occ.start.to_rfc3339())
            data-start-min=(p.start_min)
            data-duration-min=(p.end_min - p.start_min)
            data-lane=(p.lane)
            data-lanes=(p.lanes)
            title=(label)
        {
            span.cal-time { (time) }
            " "
            span.cal-title { (job.title) }
            @if !compact {
                span.cal-meta {
                    (stage_label(job.stage))
                    @if let Some(rule) = &job.recurrence {
                        " · " (recurrence_words(rule, zone))
                    }
                }
            }
        }
    }
}

fn week(days: &[(NaiveDate, Vec<Placed<'_>>)], today: NaiveDate, zone: TimeZone) -> Markup {
    // The grid shows 07:00–19:00 at least, widened to the earliest start and the latest end of the week.
    let first_hour = days
        .iter()
        .flat_map(|(_, e)| e.iter().map(|p| p.start_min / 60))
        .min()
        .unwrap_or(7)
        .min(7);
    let last_hour = days
        .iter()
        .flat_map(|(_, e)| e.iter().map(|p| p.end_min.div_ceil(60)))
        .max()
        .unwrap_or(19)
        .max(19);
    html! {
        div #calendar.calendar.cal-week data-view="week" data-first-hour=(first_hour) data-last-hour=(last_hour) {
            ol.cal-hours aria-hidden="true" {
                @for h in first_hour..last_hour {
                    li { (format!("{h:02}:00")) }
                }
            }
            ol.cal-days {
                @for (day, events) in days {
                    li.cal-day.today[*day == today] data-date=(day.format("%Y-%m-%d")) {
                        h2.cal-day-head {
                            span.cal-weekday { (day.format("%a")) }
                            " "
                            span.cal-daynum { (day.format("%-d %b")) }
                            @if *day == today { span.visually-hidden { " (today)" } }
                        }
                        @if events.is_empty() {
                            p.cal-empty.muted { "Nothing scheduled" }
                        }
                        ol.cal-day-events {
                            @for p in events {
                                li { (event(p, zone, false)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn month(
    days: &[(NaiveDate, Vec<Placed<'_>>)],
    selected: NaiveDate,
    today: NaiveDate,
    zone: TimeZone,
    hide_closed: bool,
) -> Markup {
    let month = selected.month();
    let chosen = days
        .iter()
        .find(|(d, _)| *d == selected)
        .map(|(d, all)| (d, month_events(all)));
    html! {
        div #calendar.calendar.cal-month data-view="month" {
            ol.cal-weekdays aria-hidden="true" {
                @for name in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
                    li { (name) }
                }
            }
            ol.cal-weeks {
                @for week in days.chunks(7) {
                    li.cal-row data-week-start=(week[0].0.format("%Y-%m-%d")) {
                        ol.cal-cells {
                            @for (day, all) in week {
                                @let events = month_events(all);
                                li.cal-cell.outside[day.month() != month].today[*day == today].selected[*day == selected]
                                    data-date=(day.format("%Y-%m-%d")) {
                                    a.cal-date href=(day_link(View::Month, *day, hide_closed))
                                        aria-label={
                                            (day.format("%A %-d %B")) ", " (count_words(events.len()))
                                        } { (day.format("%-d")) }
                                    @if !events.is_empty() {
                                        ul.cal-cell-events {
                                            @for p in events.iter().take(CELL_EVENTS) {
                                                li { (event(p, zone, true)) }
                                            }
                                        }
                                        @if events.len() > CELL_EVENTS {
                                            a.cal-more href=(day_link(View::Week, *day, hide_closed)) {
                                                "+" (events.len() - CELL_EVENTS) " more"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some((day, events)) = chosen {
            section #cal-agenda.card.cal-agenda aria-labelledby="cal-agenda-title" {
                h2 #cal-agenda-title { (day.format("%A %-d %B")) }
                @if events.is_empty() {
                    p.empty { "Nothing scheduled." }
                } @else {
                    ol.list.cal-agenda-list {
                        @for p in events {
                            li { (event(p, zone, false)) }
                        }
                    }
                }
            }
        }
    }
}

fn subscribe(feed: &str) -> Markup {
    let webcal = feed
        .strip_prefix("https://")
        .or_else(|| feed.strip_prefix("http://"))
        .map(|rest| format!("webcal://{rest}"));
    html! {
        section #calendar-subscribe.card.stack aria-labelledby="subscribe-title" {
            h2 #subscribe-title { "Subscribe in Google or Apple Calendar" }
            p { "Every scheduled job, kept up to date in the calendar app on your phone or computer." }
            div.field {
                label for="feed-url" { "Calendar feed URL" }
                div.cluster.copy-row {
                    input #feed-url type="text" readonly value=(feed) data-feed=(feed);
                    button.button.primary type="button" data-copy="#feed-url" { "Copy" }
                }
                p.hint { "Keep this link private: anyone who has it can read your schedule." }
            }
            p {
                a #feed-webcal.button href=(webcal.as_deref().unwrap_or(feed)) { "Open in Apple Calendar" }
            }
            details {
                summary { "How to subscribe" }
                ul.stack {
                    li {
                        strong { "Google Calendar: " }
                        "on a computer, open calendar.google.com, choose “Other calendars” → “+” → “From URL”, paste \
                         the link and press “Add calendar”. It then appears on your phone too. Google refreshes \
                         subscriptions every few hours."
                    }
                    li {
                        strong { "Apple Calendar (iPhone, iPad): " }
                        "tap “Open in Apple Calendar” above, or Settings → Calendar → Accounts → Add Account → Other \
                         → Add Subscribed Calendar, and paste the link."
                    }
                    li {
                        strong { "Apple Calendar (Mac): " }
                        "File → New Calendar Subscription…, paste the link, and choose how often to refresh."
                    }
                    li { strong { "Outlook: " } "Add calendar → Subscribe from web, and paste the link." }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::parse(name).unwrap()
    }

    #[test]
    fn midnight_is_local() {
        let la = tz("America/Los_Angeles");
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(local_midnight(day, la).to_rfc3339(), "2026-11-24T08:00:00+00:00");
        // summer: UTC-7
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(local_midnight(day, la).to_rfc3339(), "2026-07-01T07:00:00+00:00");
        // Santiago skipped midnight on 2022-09-11 (00:00 → 01:00)
        let scl = tz("America/Santiago");
        let day = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        assert_eq!(local_midnight(day, scl).to_rfc3339(), "2022-09-11T04:00:00+00:00");
    }

    #[test]
    fn lanes_split_overlapping_events_only() {
        use callbook_jobs::{JobId, Money, TenantId, Urgency};
        let ny = tz("America/New_York");
        let job = |h: u32, len: i64| {
            let start = ny
                .tz()
                .with_ymd_and_hms(2026, 11, 24, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc);
            Job {
                id: JobId::new(),
                tenant_id: TenantId::new(),
                customer_id: None,
                source: None,
                title: format!("at {h}"),
                description: String::new(),
                address: Default::default(),
                schedule: Some(callbook_jobs::Schedule {
                    start,
                    end: start + Duration::hours(len),
                    timezone: ny,
                }),
                recurrence: None,
                price: Some(Money::new(1, "USD")),
                urgency: Urgency::Normal,
                notes: None,
                stage: Stage::Confirmed,
                position: 0,
                version: 1,
                created_at: start,
                updated_at: start,
            }
        };
        let jobs = [job(9, 2), job(10, 2), job(14, 1)];
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let occ: Vec<_> = jobs
            .iter()
            .flat_map(|j| {
                occurrences_in(
                    j,
                    local_midnight(day, ny),
                    local_midnight(day + Duration::days(1), ny),
                )
            })
            .collect();
        let placed = place_day(&occ, day, ny);
        let lanes: Vec<_> = placed.iter().map(|p| (p.start_min, p.lane, p.lanes)).collect();
        assert_eq!(lanes, vec![(540, 0, 2), (600, 1, 2), (840, 0, 1)]);
    }
}
