use chrono::{NaiveDate, NaiveTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

fn reference(local: &str, tz: Tz) -> Reference {
    let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
    let now = tz
        .from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    Reference::new(now, tz)
}

const NY: Tz = chrono_tz::America::New_York;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// (phrase, expected date, expected HH:MM start, expected HH:MM end)
fn check(
    r: &Reference,
    phrase: &str,
    want_date: Option<&str>,
    want_time: Option<&str>,
    want_end: Option<&str>,
) {
    let res = resolve_text(phrase, r);
    assert_eq!(res.when.date, want_date.map(date), "date of {phrase:?}: {res:?}");
    assert_eq!(
        res.when.time.map(|t| t.format("%H:%M").to_string()).as_deref(),
        want_time,
        "time of {phrase:?}"
    );
    assert_eq!(
        res.when.end.map(|t| t.format("%H:%M").to_string()).as_deref(),
        want_end,
        "end of {phrase:?}: {res:?}"
    );
    assert_eq!(
        res.when.start.is_some(),
        want_date.is_some() && want_time.is_some(),
        "start of {phrase:?}"
    );
}

#[test]
fn relative_days() {
    // Tuesday 2026-03-10 14:05 New York.
    let r = reference("2026-03-10 14:05", NY);
    check(&r, "today", Some("2026-03-10"), None, None);
    check(&r, "tomorrow", Some("2026-03-11"), None, None);
    check(&r, "the day after tomorrow", Some("2026-03-12"), None, None);
    check(
        &r,
        "tomorrow between 3 and 5",
        Some("2026-03-11"),
        Some("15:00"),
        Some("17:00"),
    );
    check(
        &r,
        "this afternoon",
        Some("2026-03-10"),
        Some("12:00"),
        Some("17:00"),
    );
    check(
        &r,
        "this morning",
        Some("2026-03-10"),
        Some("08:00"),
        Some("12:00"),
    );
    check(
        &r,
        "this evening",
        Some("2026-03-10"),
        Some("17:00"),
        Some("20:00"),
    );
    check(&r, "tonight", Some("2026-03-10"), None, None);
    check(&r, "tonight after seven", Some("2026-03-10"), Some("19:00"), None);
    check(&r, "tonight at 8", Some("2026-03-10"), Some("20:00"), None);
    check(&r, "ASAP", Some("2026-03-10"), None, None);
    check(&r, "as soon as possible", Some("2026-03-10"), None, None);
}

#[test]
fn weekdays_bare_this_next() {
    // Tuesday.
    let r = reference("2026-03-10 09:00", NY);
    check(&r, "Wednesday", Some("2026-03-11"), None, None);
    check(&r, "on Monday", Some("2026-03-16"), None, None);
    check(&r, "this Friday", Some("2026-03-13"), None, None);
    check(&r, "this coming Friday", Some("2026-03-13"), None, None);
    // Bare weekday said on that weekday: next week, flagged.
    let res = resolve_text("Tuesday at 9", &r);
    assert_eq!(res.when.date, Some(date("2026-03-17")));
    assert_eq!(res.ambiguities, vec![Ambiguity::SameWeekday]);
    assert!(res.when.ambiguous);
    // next <weekday>: at least two days after today.
    check(&r, "next Wednesday", Some("2026-03-18"), None, None);
    check(&r, "next Thursday", Some("2026-03-12"), None, None);
    check(&r, "next Tuesday", Some("2026-03-17"), None, None);
    assert!(
        resolve_text("next Thursday", &r)
            .ambiguities
            .contains(&Ambiguity::NextWeekday)
    );
    // Eval README examples.
    let monday = reference("2026-03-09 09:00", NY);
    check(&monday, "next Tuesday", Some("2026-03-17"), None, None);
    let sunday = reference("2026-03-08 09:00", NY);
    check(&sunday, "next Tuesday", Some("2026-03-10"), None, None);
    let wednesday = reference("2026-03-11 09:00", NY);
    check(&wednesday, "next Friday", Some("2026-03-13"), None, None);
}

#[test]
fn weekday_policies() {
    let wednesday = reference("2026-03-11 09:00", NY);
    let following = wednesday.with_policy(WeekdayPolicy::FollowingWeek);
    check(&following, "next Friday", Some("2026-03-20"), None, None);
    let nearest = wednesday.with_policy(WeekdayPolicy::Nearest);
    check(&nearest, "next Thursday", Some("2026-03-12"), None, None);
    // Said on Friday: all policies agree on "next Wednesday"? Following week = 03-18, two days = 03-18.
    let friday = reference("2026-03-13 09:00", NY);
    let res = resolve_text("next Wednesday", &friday);
    assert_eq!(res.when.date, Some(date("2026-03-18")));
    assert!(res.ambiguities.is_empty(), "{res:?}");
}

#[test]
fn every_weekday_from_every_weekday() {
    let names = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    for offset in 0..7 {
        let day = date("2026-03-09") + Duration::days(offset); // Monday + offset
        let r = reference(&format!("{day} 10:00"), NY);
        for (i, name) in names.iter().enumerate() {
            let want = Weekday::try_from(i as u8).unwrap();
            let got = resolve_text(name, &r).when.date.unwrap();
            assert_eq!(got.weekday(), want);
            let gap = (got - day).num_days();
            assert!((1..=7).contains(&gap), "{name} said on {day}: {got}");
            let next = resolve_text(&format!("next {name}"), &r).when.date.unwrap();
            assert_eq!(next.weekday(), want);
            let gap = (next - day).num_days();
            assert!((2..=8).contains(&gap), "next {name} said on {day}: {next}");
        }
    }
}

#[test]
fn day_of_month_and_month_names() {
    let r = reference("2026-03-10 09:00", NY);
    check(&r, "the 3rd", Some("2026-04-03"), None, None);
    check(&r, "the 10th", Some("2026-03-10"), None, None);
    check(&r, "the twelfth", Some("2026-03-12"), None, None);
    check(&r, "the twenty first", Some("2026-03-21"), None, None);
    check(&r, "the twenty-first", Some("2026-03-21"), None, None);
    check(&r, "March 17th", Some("2026-03-17"), None, None);
    check(&r, "march seventeenth", Some("2026-03-17"), None, None);
    check(&r, "17th of March", Some("2026-03-17"), None, None);
    check(&r, "the 4th of January", Some("2027-01-04"), None, None);
    check(&r, "March 2nd", Some("2027-03-02"), None, None);
    check(&r, "May 5", Some("2026-05-05"), None, None);
    check(&r, "Monday the 16th", Some("2026-03-16"), None, None);
    check(
        &r,
        "Friday the 13th at 1",
        Some("2026-03-13"),
        Some("13:00"),
        None,
    );
    check(&r, "on the 11th of this month", Some("2026-03-11"), None, None);
    check(&r, "March 17th 2027", Some("2027-03-17"), None, None);
    // "may I" is not a month.
    assert_eq!(parse_phrase("may I have your name"), Phrase::default());
}

#[test]
fn month_and_year_ends() {
    let r = reference("2026-01-31 10:00", NY); // Saturday
    check(&r, "tomorrow", Some("2026-02-01"), None, None);
    check(&r, "the 31st", Some("2026-01-31"), None, None);
    check(&r, "the 30th", Some("2026-03-30"), None, None); // February has no 30th
    let r = reference("2026-12-31 22:00", NY); // Thursday
    check(&r, "tomorrow at 9", Some("2027-01-01"), Some("09:00"), None);
    check(&r, "Monday", Some("2027-01-04"), None, None);
    check(&r, "the 2nd", Some("2027-01-02"), None, None);
    check(&r, "December 30th", Some("2027-12-30"), None, None);
    let r = reference("2027-03-01 10:00", NY);
    check(&r, "February 29th", Some("2028-02-29"), None, None);
    // Late-night call in New York is already the next day in UTC: today is the local date.
    let r = reference("2026-03-10 23:30", NY);
    check(&r, "today", Some("2026-03-10"), None, None);
}

#[test]
fn clock_phrases() {
    let r = reference("2026-03-10 09:00", NY);
    check(&r, "tomorrow at 3", Some("2026-03-11"), Some("15:00"), None);
    check(&r, "tomorrow at 8", Some("2026-03-11"), Some("08:00"), None);
    check(&r, "tomorrow around 10", Some("2026-03-11"), Some("10:00"), None);
    check(&r, "tomorrow at 12", Some("2026-03-11"), Some("12:00"), None);
    check(&r, "tomorrow at 3:30", Some("2026-03-11"), Some("15:30"), None);
    check(&r, "tomorrow at 9:45 am", Some("2026-03-11"), Some("09:45"), None);
    check(&r, "tomorrow at 7 p.m.", Some("2026-03-11"), Some("19:00"), None);
    check(&r, "tomorrow at 7pm", Some("2026-03-11"), Some("19:00"), None);
    check(&r, "tomorrow at 14:30", Some("2026-03-11"), Some("14:30"), None);
    check(
        &r,
        "tomorrow half past two",
        Some("2026-03-11"),
        Some("14:30"),
        None,
    );
    check(
        &r,
        "tomorrow quarter to five",
        Some("2026-03-11"),
        Some("16:45"),
        None,
    );
    check(
        &r,
        "tomorrow quarter past ten",
        Some("2026-03-11"),
        Some("10:15"),
        None,
    );
    check(&r, "tomorrow half nine", Some("2026-03-11"), Some("09:30"), None);
    check(&r, "tomorrow half two", Some("2026-03-11"), Some("14:30"), None);
    check(
        &r,
        "tomorrow at three thirty",
        Some("2026-03-11"),
        Some("15:30"),
        None,
    );
    check(
        &r,
        "tomorrow at ten oh five",
        Some("2026-03-11"),
        Some("10:05"),
        None,
    );
    check(
        &r,
        "tomorrow at four forty five",
        Some("2026-03-11"),
        Some("16:45"),
        None,
    );
    check(
        &r,
        "tomorrow at two o'clock",
        Some("2026-03-11"),
        Some("14:00"),
        None,
    );
    check(
        &r,
        "tomorrow at 11 in the morning",
        Some("2026-03-11"),
        Some("11:00"),
        None,
    );
    check(
        &r,
        "tomorrow at 6 in the evening",
        Some("2026-03-11"),
        Some("18:00"),
        None,
    );
    check(&r, "morning 11:15", None, Some("11:15"), None);
    check(&r, "12 in the afternoon", None, Some("12:00"), None);
    check(&r, "at 3", None, Some("15:00"), None);
    check(
        &r,
        "first thing tomorrow",
        Some("2026-03-11"),
        Some("08:00"),
        None,
    );
    check(
        &r,
        "first thing tomorrow like seven",
        Some("2026-03-11"),
        Some("07:00"),
        None,
    );
    check(&r, "noon tomorrow", Some("2026-03-11"), Some("12:00"), None);
    check(
        &r,
        "tomorrow around noon",
        Some("2026-03-11"),
        Some("12:00"),
        None,
    );
    // Numbers that are not times.
    assert_eq!(
        parse_phrase("it's about 60 pounds, two of us carried it").time,
        None
    );
    assert_eq!(parse_phrase("we're at 42 Oak Street").time, None);
}

#[test]
fn parts_of_day_and_windows() {
    let r = reference("2026-03-10 09:00", NY);
    check(
        &r,
        "Thursday morning",
        Some("2026-03-12"),
        Some("08:00"),
        Some("12:00"),
    );
    check(
        &r,
        "Thursday afternoon",
        Some("2026-03-12"),
        Some("12:00"),
        Some("17:00"),
    );
    check(
        &r,
        "Thursday after lunch",
        Some("2026-03-12"),
        Some("13:00"),
        Some("17:00"),
    );
    check(
        &r,
        "Thursday evening",
        Some("2026-03-12"),
        Some("17:00"),
        Some("20:00"),
    );
    check(
        &r,
        "Thursday after work",
        Some("2026-03-12"),
        Some("17:00"),
        Some("20:00"),
    );
    check(
        &r,
        "Thursday arvo",
        Some("2026-03-12"),
        Some("12:00"),
        Some("17:00"),
    );
    check(
        &r,
        "Thursday between 10 and 12",
        Some("2026-03-12"),
        Some("10:00"),
        Some("12:00"),
    );
    check(
        &r,
        "Thursday between 8 and noon",
        Some("2026-03-12"),
        Some("08:00"),
        Some("12:00"),
    );
    check(
        &r,
        "Thursday between 11 and 1",
        Some("2026-03-12"),
        Some("11:00"),
        Some("13:00"),
    );
    check(
        &r,
        "Thursday from 1 to 3 pm",
        Some("2026-03-12"),
        Some("13:00"),
        Some("15:00"),
    );
    check(
        &r,
        "Thursday between nine and eleven",
        Some("2026-03-12"),
        Some("09:00"),
        Some("11:00"),
    );
    check(&r, "Thursday 10 to 12", Some("2026-03-12"), None, None);
    check(
        &r,
        "Thursday 10am to 12",
        Some("2026-03-12"),
        Some("10:00"),
        Some("12:00"),
    );
}

#[test]
fn corrections_alternatives_and_flexible() {
    let r = reference("2026-03-10 09:00", NY);
    check(
        &r,
        "Thursday, no wait, Friday at 2",
        Some("2026-03-13"),
        Some("14:00"),
        None,
    );
    check(&r, "at 2, actually make it 4", None, Some("16:00"), None);
    let alt = resolve_text("Monday or Tuesday afternoon", &r);
    assert_eq!(alt.when.date, None);
    // The part of day is known even though the day is not (DESIGN.md §5).
    assert_eq!(alt.when.time, NaiveTime::from_hms_opt(12, 0, 0));
    assert!(alt.ambiguities.contains(&Ambiguity::Alternatives));
    let flexible = resolve_text("any time next week is fine", &r);
    assert!(flexible.when.flexible);
    assert_eq!(flexible.when.date, None);
    assert!(resolve_text("no rush, sometime this summer", &r).when.flexible);
    assert!(
        resolve_text("the week of November 9th", &r).when.flexible
            || resolve_text("the week of November 9th", &r).when.date.is_some()
    );
    assert!(parse_phrase("after the 15th").flexible);
}

#[test]
fn dst_spring_forward_gap() {
    // 2026-03-08 02:00 → 03:00 in New York.
    let r = reference("2026-03-07 10:00", NY);
    let res = resolve_text("tomorrow at 2:30 am", &r);
    assert_eq!(res.when.date, Some(date("2026-03-08")));
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-03-08T03:30:00-04:00");
    assert!(res.ambiguities.contains(&Ambiguity::SkippedLocalTime));
    // An appointment after the change carries the new offset; the call had the old one.
    let res = resolve_text("Monday at 9", &r);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-03-09T09:00:00-04:00");
    assert!(res.ambiguities.is_empty());
    let res = resolve_text("today at 9", &r);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-03-07T09:00:00-05:00");
    // London and Sydney.
    let london = reference("2026-03-28 10:00", chrono_tz::Europe::London);
    let res = resolve_text("tomorrow at 1:30 am", &london);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-03-29T02:30:00+01:00");
    let sydney = reference("2026-10-03 10:00", chrono_tz::Australia::Sydney);
    let res = resolve_text("tomorrow at 2:15 am", &sydney);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-10-04T03:15:00+11:00");
}

#[test]
fn dst_fall_back_overlap() {
    // 2026-11-01 02:00 → 01:00 in New York: 01:30 happens twice.
    let r = reference("2026-10-31 10:00", NY);
    let res = resolve_text("tomorrow at 1:30 am", &r);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-11-01T01:30:00-04:00");
    assert!(res.ambiguities.contains(&Ambiguity::RepeatedLocalTime));
    let res = resolve_text("tomorrow at 3", &r);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-11-01T15:00:00-05:00");
    let res = resolve_text("tomorrow between 3 and 5", &r);
    assert_eq!(res.when.end.unwrap().to_rfc3339(), "2026-11-01T17:00:00-05:00");
}

#[test]
fn phoenix_never_shifts() {
    let phoenix: Tz = chrono_tz::America::Phoenix;
    let r = reference("2026-03-07 10:00", phoenix);
    let res = resolve_text("Monday at 9", &r);
    assert_eq!(res.when.start.unwrap().to_rfc3339(), "2026-03-09T09:00:00-07:00");
}

#[test]
fn scan_reports_spans() {
    let text = "Can you come Thursday between 10 and 12?";
    let mentions = scan(text);
    assert_eq!(mentions.len(), 2);
    assert_eq!(&text[mentions[0].span.clone()], "Thursday");
    assert_eq!(&text[mentions[1].span.clone()], "between 10 and 12");
}

#[test]
fn tokenizer_handles_unicode_and_meridiem() {
    let tokens = tokenize("Café at 3 p.m. — José’s o’clock");
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(words, ["café", "at", "3", "pm", "josé's", "o'clock"]);
}

proptest! {
    #[test]
    fn resolution_is_deterministic(secs in 1_500_000_000i64..2_200_000_000, text in "[a-z0-9 :]{0,40}") {
        let r = Reference::new(DateTime::from_timestamp(secs, 0).unwrap(), NY);
        prop_assert_eq!(resolve_text(&text, &r), resolve_text(&text, &r));
    }

    #[test]
    fn named_weekday_resolves_to_that_weekday(secs in 1_500_000_000i64..2_200_000_000, wd in 0u8..7, m in 0usize..3, tz in 0usize..4) {
        let zones = [NY, chrono_tz::Europe::London, chrono_tz::Australia::Sydney, chrono_tz::America::Phoenix];
        let names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        let modifiers = ["", "this ", "next "];
        let r = Reference::new(DateTime::from_timestamp(secs, 0).unwrap(), zones[tz]);
        let res = resolve_text(&format!("{}{} at 10", modifiers[m], names[wd as usize]), &r);
        let got = res.when.date.unwrap();
        prop_assert_eq!(got.weekday(), Weekday::try_from(wd).unwrap());
        prop_assert!(got > r.today());
        // Not before the call.
        prop_assert!(res.when.start.unwrap() > r.now);
    }

    #[test]
    fn resolved_dates_not_before_today(secs in 1_500_000_000i64..2_200_000_000, day in 1u32..32, month in 1u32..13) {
        let r = Reference::new(DateTime::from_timestamp(secs, 0).unwrap(), NY);
        for phrase in [format!("the {day}th"), format!("{} {day}th", ["january","february","march","april","may","june","july","august","september","october","november","december"][month as usize - 1]), "tomorrow".into(), "the day after tomorrow".into(), "today".into()] {
            if let Some(d) = resolve_text(&phrase, &r).when.date {
                prop_assert!(d >= r.today(), "{} -> {}", phrase, d);
            }
        }
    }

    #[test]
    fn start_has_zone_offset_and_matches_date(secs in 1_500_000_000i64..2_200_000_000, hour in 1u32..13, tz in 0usize..3) {
        let zones = [NY, chrono_tz::Europe::London, chrono_tz::Australia::Sydney];
        let r = Reference::new(DateTime::from_timestamp(secs, 0).unwrap(), zones[tz]);
        let res = resolve_text(&format!("tomorrow at {hour} pm"), &r);
        let start = res.when.start.unwrap();
        let local = start.with_timezone(&zones[tz]);
        prop_assert_eq!(start.offset().local_minus_utc(), local.offset().fix().local_minus_utc());
        if !res.ambiguities.contains(&Ambiguity::SkippedLocalTime) {
            prop_assert_eq!(local.date_naive(), res.when.date.unwrap());
        }
    }
}
