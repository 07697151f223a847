//! Date/time resolution fixes from the issue-4 review: each test fails on the code before its fix.

use callbook_extract::chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use callbook_extract::chrono_tz::{America::New_York, Tz};
use callbook_extract::datetime::resolve_text;
use callbook_extract::{Ambiguity, Reference};

/// A reference at a local New York wall-clock time.
fn at(local: &str) -> Reference {
    let naive = callbook_extract::chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{local}: {e}"));
    let tz: Tz = New_York;
    let now = tz
        .from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| panic!("{local} is not a single local time"))
        .with_timezone(&Utc);
    Reference::new(now, tz)
}

fn day(s: &str) -> Option<NaiveDate> {
    Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}")))
}

fn time(h: u32, m: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h, m, 0)
}

#[test]
fn alternative_times_keep_the_day() {
    // Tuesday 2026-03-10.
    let r = resolve_text("tomorrow at 3 pm or 4 pm", &at("2026-03-10 09:00"));
    assert_eq!(r.when.date, day("2026-03-11"), "{r:?}");
    assert_eq!(r.when.time, None);
    assert!(r.when.ambiguous);
    assert!(r.ambiguities.contains(&Ambiguity::Alternatives));
}

#[test]
fn alternative_days_keep_the_time() {
    let r = resolve_text("Monday or Tuesday at 3", &at("2026-03-10 09:00"));
    assert_eq!(r.when.date, None, "{r:?}");
    assert_eq!(r.when.time, time(15, 0));
    assert!(r.when.ambiguous);
    assert!(r.ambiguities.contains(&Ambiguity::Alternatives));
}

#[test]
fn tonight_at_one_is_past_midnight() {
    let r = resolve_text("tonight at 1", &at("2026-03-10 20:00"));
    assert_eq!(r.when.date, day("2026-03-11"), "{r:?}");
    assert_eq!(r.when.time, time(1, 0));
    let r = resolve_text("tonight at 12:30", &at("2026-03-10 20:00"));
    assert_eq!((r.when.date, r.when.time), (day("2026-03-11"), time(0, 30)));
    let r = resolve_text("tonight at 8", &at("2026-03-10 15:00"));
    assert_eq!((r.when.date, r.when.time), (day("2026-03-10"), time(20, 0)));
}

#[test]
fn an_evening_window_ends_in_the_small_hours() {
    let r = resolve_text("tomorrow from 10 pm to 2", &at("2026-03-10 09:00"));
    assert_eq!(r.when.time, time(22, 0), "{r:?}");
    let end = r.when.end.unwrap_or_else(|| panic!("no end: {r:?}"));
    assert_eq!(
        end.date_naive(),
        NaiveDate::from_ymd_opt(2026, 3, 12).unwrap_or_default()
    );
    assert_eq!(end.time(), NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default());
}

#[test]
fn six_and_seven_without_am_or_pm_are_flagged_but_keep_their_reading() {
    let r = resolve_text("tomorrow at 7", &at("2026-03-10 09:00"));
    assert_eq!(r.when.time, time(7, 0));
    assert!(r.ambiguities.contains(&Ambiguity::Meridiem), "{r:?}");
    let r = resolve_text("tomorrow at 6", &at("2026-03-10 09:00"));
    assert_eq!(r.when.time, time(18, 0));
    assert!(r.ambiguities.contains(&Ambiguity::Meridiem), "{r:?}");
    for said in [
        "tomorrow at 3",
        "tomorrow at 7 am",
        "tomorrow at 6 in the evening",
        "tomorrow at 10",
    ] {
        let r = resolve_text(said, &at("2026-03-10 09:00"));
        assert!(!r.ambiguities.contains(&Ambiguity::Meridiem), "{said}: {r:?}");
        assert!(!r.when.ambiguous, "{said}: {r:?}");
    }
}

#[test]
fn a_start_before_the_call_is_flagged() {
    let r = resolve_text("today at 9", &at("2026-03-10 14:00"));
    assert_eq!((r.when.date, r.when.time), (day("2026-03-10"), time(9, 0)));
    assert!(r.ambiguities.contains(&Ambiguity::BeforeCall), "{r:?}");
    assert!(r.when.ambiguous);
    let r = resolve_text("today at 4", &at("2026-03-10 14:00"));
    assert!(!r.ambiguities.contains(&Ambiguity::BeforeCall), "{r:?}");
}

#[test]
fn a_weekday_with_a_day_number_is_checked_against_the_date() {
    // Tuesday 2026-03-10; Thursday is the 12th, the 16th is a Monday.
    let r = resolve_text("Thursday the 12th at 10", &at("2026-03-10 09:00"));
    assert_eq!(r.when.date, day("2026-03-12"));
    assert!(!r.ambiguities.contains(&Ambiguity::WeekdayMismatch), "{r:?}");
    let r = resolve_text("Thursday the 16th at 10", &at("2026-03-10 09:00"));
    assert_eq!(r.when.date, day("2026-03-16"), "the day number decides");
    assert!(r.ambiguities.contains(&Ambiguity::WeekdayMismatch), "{r:?}");
    assert!(r.when.ambiguous);
}
