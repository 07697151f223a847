//! RFC 5545 calendars: one job as an `.ics`, or a tenant's scheduled jobs as a feed.
//!
//! Events are built with the [`icalendar`] crate (escaping of `,` `;` `\` and newlines, CRLF line ends and
//! folding at 75 octets on character boundaries). Times are written as local times with `TZID` in the job's
//! zone, so a recurring 3 pm visit stays at 3 pm across daylight-saving changes; each zone used gets a
//! `VTIMEZONE` generated from chrono-tz with the zone's explicit transitions from the year before the first
//! event to five years after the last (icalendar does not emit `VTIMEZONE`, and would add `UID`/`DTSTAMP` to
//! one, so it is written here). UTC jobs use `Z` times and need none.
//!
//! * `UID` is `job-<job id>@callbook` — stable across exports, so calendar clients update instead of duplicating.
//! * `DTSTAMP` is the job's `updated_at` (when its information last changed), `SEQUENCE` is `version - 1`.
//! * `STATUS` is `CANCELLED` for cancelled jobs, `CONFIRMED` from Confirmed on, otherwise `TENTATIVE`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone as _, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use icalendar::{Calendar, CalendarDateTime, Component, EventLike, EventStatus};

use crate::model::{Job, Schedule, Stage};

const PRODID: &str = "-//Callbook//callbook-jobs//EN";

/// Parses a recurrence rule against a schedule with the `rrule` crate; the error is a readable message.
pub(crate) fn parse_rrule(rule: &str, schedule: &Schedule) -> Result<rrule::RRuleSet, String> {
    if rule.is_empty() || rule.contains(['\n', '\r']) || rule.to_ascii_uppercase().starts_with("RRULE") {
        return Err("must be a single RRULE value such as FREQ=WEEKLY;COUNT=4 (without `RRULE:`)".into());
    }
    let tz = schedule.timezone.tz();
    let local = schedule.start.with_timezone(&tz).naive_local();
    let text = format!(
        "DTSTART;TZID={}:{}\nRRULE:{}",
        tz.name(),
        local.format("%Y%m%dT%H%M%S"),
        rule
    );
    text.parse::<rrule::RRuleSet>()
        .map_err(|e| format!("not a valid RRULE: {e}"))
}

/// The first `limit` occurrence starts of a job (just its start when it does not repeat; empty when
/// unscheduled).
pub fn occurrences(job: &Job, limit: u16) -> Vec<DateTime<Utc>> {
    let Some(schedule) = &job.schedule else {
        return Vec::new();
    };
    match job.recurrence.as_deref().map(|r| parse_rrule(r, schedule)) {
        Some(Ok(set)) => set
            .all(limit)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .collect(),
        _ => vec![schedule.start],
    }
}

/// The occurrence starts of a job whose visit overlaps `[from, to)`, at most `limit` of them, in order (for a
/// non-repeating job: its start, when it overlaps). The expansion starts at the rule's first occurrence, so the
/// work is bounded by the rule's length up to `to` and by `rrule`'s own iteration guard, not by `limit` alone.
///
/// ```
/// use callbook_jobs::calendar::occurrences_between;
/// # use callbook_jobs::Job;
/// # fn demo(job: &Job, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) {
/// let starts = occurrences_between(job, from, to, 500);
/// assert!(starts.len() <= 500);
/// # }
/// ```
pub fn occurrences_between(
    job: &Job,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u16,
) -> Vec<DateTime<Utc>> {
    let Some(schedule) = &job.schedule else {
        return Vec::new();
    };
    let duration = schedule.end - schedule.start;
    let overlaps = |start: &DateTime<Utc>| *start < to && *start + duration > from;
    match job.recurrence.as_deref().map(|r| parse_rrule(r, schedule)) {
        Some(Ok(set)) => {
            let tz = schedule.timezone.tz();
            let window_start = (from - duration).with_timezone(&rrule::Tz::Tz(tz));
            let window_end = to.with_timezone(&rrule::Tz::Tz(tz));
            set.after(window_start)
                .before(window_end)
                .all(limit)
                .dates
                .into_iter()
                .map(|d| d.with_timezone(&Utc))
                .filter(overlaps)
                .collect()
        }
        _ => Some(schedule.start).filter(overlaps).into_iter().collect(),
    }
}

/// An `.ics` holding one job (a calendar with one `VEVENT`, or none when the job is unscheduled).
pub fn job_ics(job: &Job) -> String {
    feed_ics("Callbook job", std::slice::from_ref(job))
}

/// An `.ics` feed of a tenant's jobs: one `VEVENT` per scheduled job, in the order given.
pub fn feed_ics(name: &str, jobs: &[Job]) -> String {
    // `Calendar::new()` would add its own PRODID; RFC 5545 allows exactly one.
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", PRODID))
        .append_property(("CALSCALE", "GREGORIAN"));
    calendar.name(name);
    let mut zones: BTreeMap<&'static str, (Tz, i32, i32)> = BTreeMap::new();
    for job in jobs {
        let Some(schedule) = &job.schedule else {
            continue;
        };
        let tz = schedule.timezone.tz();
        if tz != chrono_tz::UTC {
            let (first, last) = (schedule.start.year(), schedule.end.year());
            let entry = zones.entry(tz.name()).or_insert((tz, first, last));
            entry.1 = entry.1.min(first);
            entry.2 = entry.2.max(last);
        }
        calendar.push(event(job, schedule));
    }
    let text = calendar.done().to_string();
    if zones.is_empty() {
        return text;
    }
    let mut vtimezones = String::new();
    for (tz, first, last) in zones.values() {
        vtimezone(&mut vtimezones, *tz, first - 1, last + 5);
    }
    let at = text
        .find("BEGIN:VEVENT")
        .unwrap_or_else(|| text.rfind("END:VCALENDAR").unwrap_or(text.len()));
    format!("{}{}{}", &text[..at], vtimezones, &text[at..])
}

fn when(t: DateTime<Utc>, tz: Tz) -> CalendarDateTime {
    if tz == chrono_tz::UTC {
        CalendarDateTime::Utc(t)
    } else {
        CalendarDateTime::WithTimezone {
            date_time: t.with_timezone(&tz).naive_local(),
            tzid: tz.name().to_owned(),
        }
    }
}

fn event(job: &Job, schedule: &Schedule) -> icalendar::Event {
    let tz = schedule.timezone.tz();
    let mut ev = icalendar::Event::new();
    ev.uid(&format!("job-{}@callbook", job.id))
        .timestamp(job.updated_at)
        .summary(&job.title)
        .starts(when(schedule.start, tz))
        .ends(when(schedule.end, tz))
        .sequence((job.version - 1).max(0) as u32)
        .status(match job.stage {
            Stage::Cancelled => EventStatus::Cancelled,
            Stage::QuoteRequested | Stage::QuoteSent => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        });
    let location = job.address.one_line();
    if !location.is_empty() {
        ev.location(&location);
    }
    let mut description = job.description.clone();
    if let Some(price) = &job.price {
        if !description.is_empty() {
            description.push('\n');
        }
        description.push_str(&format!("Price: {price}"));
    }
    if !description.is_empty() {
        ev.description(&description);
    }
    if let Some(rule) = &job.recurrence {
        ev.add_property("RRULE", rule);
    }
    ev.done()
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> (i32, bool, String) {
    let off = tz.offset_from_utc_datetime(&t.naive_utc());
    let abbreviation = off.abbreviation().unwrap_or("").to_owned();
    (
        off.fix().local_minus_utc(),
        !off.dst_offset().is_zero(),
        abbreviation,
    )
}

fn fmt_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    if s % 60 == 0 {
        format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", s / 3600, (s % 3600) / 60, s % 60)
    }
}

fn observance(
    out: &mut String,
    dst: bool,
    local_start: chrono::NaiveDateTime,
    from: i32,
    to: i32,
    name: &str,
) {
    let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
    let _ = write!(
        out,
        "BEGIN:{kind}\r\nDTSTART:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\n",
        local_start.format("%Y%m%dT%H%M%S"),
        fmt_offset(from),
        fmt_offset(to)
    );
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
    {
        let _ = write!(out, "TZNAME:{name}\r\n");
    }
    let _ = write!(out, "END:{kind}\r\n");
}

/// Writes a `VTIMEZONE` with the zone's offset at the start of `first_year` (as an observance from 1970) and
/// every transition through `last_year`, found by a daily scan refined by bisection to the second.
fn vtimezone(out: &mut String, tz: Tz, first_year: i32, last_year: i32) {
    let _ = write!(out, "BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    let start = NaiveDate::from_ymd_opt(first_year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(DateTime::UNIX_EPOCH);
    let end = NaiveDate::from_ymd_opt(last_year + 1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(start);
    let (initial, initial_dst, initial_name) = offset_at(tz, start);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    observance(out, initial_dst, epoch, initial, initial, &initial_name);
    let mut t = start;
    let mut current = initial;
    while t < end {
        let next = t + Duration::days(1);
        let (offset, _, _) = offset_at(tz, next);
        if offset != current {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid).0 == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (to, dst, name) = offset_at(tz, hi);
            let local = (hi + Duration::seconds(i64::from(current))).naive_utc();
            observance(out, dst, local, current, to, &name);
            current = offset;
        }
        t = next;
    }
    out.push_str("END:VTIMEZONE\r\n");
}
