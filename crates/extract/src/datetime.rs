//! Deterministic date/time resolution, shared by every extractor.
//!
//! Extractors (the rules engine, or a language model) only find the caller's *phrase*; this module turns it into a
//! local date, start and end in the business's zone. It is pure: the same phrase, call instant, zone and
//! [`WeekdayPolicy`] always give the same [`Resolution`].
//!
//! Two steps:
//! 1. [`scan`] finds date and time *mentions* in text ("tomorrow", "next Tuesday", "the 3rd", "March 17th",
//!    "half past two", "between 3 and 5", "first thing", "any time next week", "ASAP"…), and
//!    [`parse_phrase`] folds the mentions of one phrase into a [`Phrase`] (a later mention corrects an earlier one:
//!    "Tuesday — no wait, Wednesday" is Wednesday).
//! 2. [`resolve`] reads a [`Phrase`] against a [`Reference`] (call instant, zone, policy) and gives a
//!    [`Resolution`]: a [`When`] plus explicit [`Ambiguity`] flags.
//!
//! Rules (they match the labelling rules of the evaluation sets):
//! * a bare weekday or "this Friday" is the first such weekday **strictly after** today; said on that same weekday
//!   it means next week's and is flagged [`Ambiguity::SameWeekday`];
//! * "next &lt;weekday&gt;" follows the business's [`WeekdayPolicy`]; when the readings disagree it is flagged
//!   [`Ambiguity::NextWeekday`];
//! * "the 3rd" and "March 17th" are the first such date on or after today (rolling into the next month or year);
//! * a bare hour 7–11 is morning, 12 is noon, 1–6 is afternoon; "tonight"/"evening" make it pm;
//! * parts of day: morning 08–12, afternoon 12–17, after lunch 13–17, evening 17–20, first thing 08:00, noon 12:00;
//! * a local time that does not exist (spring-forward gap) moves forward by the gap and is flagged
//!   [`Ambiguity::SkippedLocalTime`]; a repeated one (fall-back) takes the earlier instant and is flagged
//!   [`Ambiguity::RepeatedLocalTime`].

use std::ops::Range;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::types::When;

/// How a business reads "next &lt;weekday&gt;". People disagree, so it is a setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekdayPolicy {
    /// The first such weekday at least two days after today (said Monday, "next Tuesday" is 8 days later; said
    /// Wednesday, "next Friday" is 2 days later). The default; the evaluation sets are labelled this way.
    #[default]
    AtLeastTwoDays,
    /// The weekday in the following Monday-to-Sunday week (said Wednesday, "next Friday" is 9 days later).
    FollowingWeek,
    /// The same as a bare weekday: the first such weekday strictly after today.
    Nearest,
}

/// Why a resolution is not certain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ambiguity {
    /// A bare weekday said on that same weekday ("Tuesday" on a Tuesday): resolved to next week.
    SameWeekday,
    /// "next &lt;weekday&gt;" where the policies disagree (e.g. it falls in the same week as the call).
    NextWeekday,
    /// The local time does not exist (DST spring-forward); moved forward by the gap.
    SkippedLocalTime,
    /// The local time happens twice (DST fall-back); the earlier instant was taken.
    RepeatedLocalTime,
    /// Two alternatives were offered and none chosen ("Monday or Tuesday").
    Alternatives,
    /// An hour without am/pm or part of day that is plausibly either (6 or 7): the business reading was kept
    /// (7 am, 6 pm).
    Meridiem,
    /// The weekday said ("Thursday the 16th") is not the weekday of the date the day number resolves to; the day
    /// number was kept.
    WeekdayMismatch,
    /// The resolved start is before the call began ("today at 9" said at 14:00); no phrase we read is explicitly
    /// in the past, so this is likely a mishearing, a past event being described, or the wrong day.
    BeforeCall,
}

/// A modifier in front of a weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekdayModifier {
    /// A bare weekday ("on Friday").
    None,
    /// "this Friday", "this coming Friday".
    This,
    /// "next Friday".
    Next,
}

/// A day as said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DateExpr {
    /// Today (also "tonight", "this afternoon", "ASAP").
    Today,
    /// Tomorrow.
    Tomorrow,
    /// The day after tomorrow.
    DayAfterTomorrow,
    /// A weekday name.
    Weekday {
        /// The weekday.
        weekday: Weekday,
        /// "this" / "next" / none.
        modifier: WeekdayModifier,
    },
    /// A day of the month without a month ("the 3rd").
    DayOfMonth {
        /// 1–31.
        day: u32,
    },
    /// A month and a day ("March 17th"), optionally a year.
    MonthDay {
        /// 1–12.
        month: u32,
        /// 1–31.
        day: u32,
        /// The year, when said.
        year: Option<i32>,
    },
}

/// am or pm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meridiem {
    /// Before noon.
    Am,
    /// After noon.
    Pm,
}

/// A clock time as said: hour and minute, maybe am/pm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Clock {
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// am/pm when said (a 24-hour clock needs none).
    pub meridiem: Option<Meridiem>,
}

/// A part of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    /// 08:00 with no end.
    FirstThing,
    /// 08:00–12:00.
    Morning,
    /// 12:00 with no end.
    Noon,
    /// 12:00–17:00.
    Afternoon,
    /// 13:00–17:00.
    AfterLunch,
    /// 17:00–20:00 (also "after work").
    Evening,
    /// "tonight": evening without a window of its own (it makes a bare hour pm).
    Tonight,
}

/// A time of day as said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TimeExpr {
    /// A clock time ("half past two", "3:30 pm").
    At {
        /// The time.
        clock: Clock,
    },
    /// A window ("between 3 and 5").
    Window {
        /// Start.
        from: Clock,
        /// End.
        to: Clock,
    },
    /// A part of the day.
    Part {
        /// Which part.
        part: PartOfDay,
    },
}

/// One date/time mention found by [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// Byte range in the scanned text.
    pub span: Range<usize>,
    /// What it says.
    pub kind: MentionKind,
}

/// What a [`Mention`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionKind {
    /// A day.
    Date(DateExpr),
    /// A time of day.
    Time(TimeExpr),
    /// Timing does not matter / no specific day ("any time next week", "no rush", "the week of the 9th").
    Flexible,
    /// As soon as possible ("ASAP", "right away", "right now").
    Asap,
    /// "or" between two mentions: alternatives.
    Or,
    /// The weekday said with a day number ("Thursday the 16th"), checked against the date it resolves to.
    SaidWeekday(Weekday),
}

/// The folded meaning of one date/time phrase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phrase {
    /// The day, if one was said.
    pub date: Option<DateExpr>,
    /// The time, if one was said.
    pub time: Option<TimeExpr>,
    /// A part of day said alongside a clock time ("11:15 in the morning"): a meridiem hint.
    pub part_hint: Option<PartOfDay>,
    /// The caller said timing does not matter.
    pub flexible: bool,
    /// As soon as possible.
    pub asap: bool,
    /// Alternatives were offered and none was chosen.
    pub alternatives: bool,
    /// The alternatives are days ("Monday or Tuesday at 3"): only the day is left open. When `alternatives` is set
    /// and neither side is known, both the day and the time are left open.
    pub alternative_dates: bool,
    /// The alternatives are times ("tomorrow at 3 or 4"): only the time is left open.
    pub alternative_times: bool,
    /// The weekday said alongside a day number ("Thursday the 16th"); a disagreement with the resolved date is
    /// flagged [`Ambiguity::WeekdayMismatch`].
    pub said_weekday: Option<Weekday>,
}

impl Phrase {
    /// Whether the phrase carries anything at all.
    pub fn is_empty(&self) -> bool {
        self.date.is_none() && self.time.is_none() && !self.flexible && !self.asap && !self.alternatives
    }
}

/// What a phrase is resolved against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The call's start instant.
    pub now: DateTime<Utc>,
    /// The business's zone.
    pub tz: Tz,
    /// How "next &lt;weekday&gt;" is read.
    pub policy: WeekdayPolicy,
}

impl Reference {
    /// A reference with the default policy.
    pub fn new(now: DateTime<Utc>, tz: Tz) -> Self {
        Self {
            now,
            tz,
            policy: WeekdayPolicy::default(),
        }
    }

    /// Sets the weekday policy.
    #[must_use]
    pub fn with_policy(mut self, policy: WeekdayPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The local calendar date of the call.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }
}

/// A resolved phrase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The date/time in the business's zone.
    pub when: When,
    /// Why it might be wrong (empty when certain).
    pub ambiguities: Vec<Ambiguity>,
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------------------------

/// Resolves a phrase found in text: [`parse_phrase`] then [`resolve`].
pub fn resolve_text(text: &str, reference: &Reference) -> Resolution {
    resolve(&parse_phrase(text), reference)
}

/// Resolves a [`Phrase`] against the call's instant and zone. Pure and deterministic.
pub fn resolve(phrase: &Phrase, reference: &Reference) -> Resolution {
    let mut ambiguities = Vec::new();
    let today = reference.today();
    let mut date = match phrase.date {
        Some(expr) => resolve_date(expr, today, reference.policy, &mut ambiguities),
        None if phrase.asap => Some(today),
        None => None,
    };
    // DESIGN.md §5: the date is set whenever a day is known, the time whenever a time is known; alternatives leave
    // open only their own side.
    let (open_date, open_time) = match (
        phrase.alternatives,
        phrase.alternative_dates,
        phrase.alternative_times,
    ) {
        (false, ..) => (false, false),
        (true, false, false) => (true, true),
        (true, dates, times) => (dates, times),
    };
    if phrase.alternatives {
        ambiguities.push(Ambiguity::Alternatives);
    }
    if open_date {
        date = None;
    }
    if let (Some(said), Some(DateExpr::DayOfMonth { .. } | DateExpr::MonthDay { .. }), Some(day)) =
        (phrase.said_weekday, phrase.date, date)
        && day.weekday() != said
    {
        ambiguities.push(Ambiguity::WeekdayMismatch);
    }
    let (start_time, end_time, next_day) = match phrase.time {
        Some(expr) if !open_time => resolve_time(expr, phrase.part_hint, &mut ambiguities),
        _ => (None, None, false),
    };
    if next_day {
        date = date.and_then(|d| d.succ_opt());
    }
    let mut when = When {
        date,
        time: start_time,
        start: None,
        end: None,
        flexible: phrase.flexible && phrase.date.is_none(),
        ambiguous: false,
    };
    if let (Some(day), Some(start)) = (date, start_time) {
        when.start = Some(local_instant(reference.tz, day, start, &mut ambiguities));
        if let Some(end) = end_time {
            let end_day = if end <= start {
                day.succ_opt().unwrap_or(day)
            } else {
                day
            };
            when.end = Some(local_instant(reference.tz, end_day, end, &mut ambiguities));
        }
    }
    if when.start.is_some_and(|start| start < reference.now) {
        ambiguities.push(Ambiguity::BeforeCall);
    }
    ambiguities.dedup();
    when.ambiguous = !ambiguities.is_empty();
    Resolution { when, ambiguities }
}

/// Resolves a day expression against today's local date.
pub fn resolve_date(
    expr: DateExpr,
    today: NaiveDate,
    policy: WeekdayPolicy,
    ambiguities: &mut Vec<Ambiguity>,
) -> Option<NaiveDate> {
    match expr {
        DateExpr::Today => Some(today),
        DateExpr::Tomorrow => today.succ_opt(),
        DateExpr::DayAfterTomorrow => today.succ_opt()?.succ_opt(),
        DateExpr::Weekday { weekday, modifier } => {
            let nearest = first_weekday_after(today, weekday, 1);
            match modifier {
                WeekdayModifier::None | WeekdayModifier::This => {
                    if weekday == today.weekday() {
                        ambiguities.push(Ambiguity::SameWeekday);
                    }
                    Some(nearest)
                }
                WeekdayModifier::Next => {
                    let two = first_weekday_after(today, weekday, 2);
                    let following = following_week(today, weekday);
                    let chosen = match policy {
                        WeekdayPolicy::AtLeastTwoDays => two,
                        WeekdayPolicy::FollowingWeek => following,
                        WeekdayPolicy::Nearest => nearest,
                    };
                    if two != following || nearest != two {
                        ambiguities.push(Ambiguity::NextWeekday);
                    }
                    Some(chosen)
                }
            }
        }
        DateExpr::DayOfMonth { day } => {
            if !(1..=31).contains(&day) {
                return None;
            }
            let (mut year, mut month) = (today.year(), today.month());
            for _ in 0..13 {
                if let Some(date) = NaiveDate::from_ymd_opt(year, month, day)
                    && date >= today
                {
                    return Some(date);
                }
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
            }
            None
        }
        DateExpr::MonthDay {
            month,
            day,
            year: Some(year),
        } => NaiveDate::from_ymd_opt(year, month, day),
        DateExpr::MonthDay {
            month,
            day,
            year: None,
        } => {
            // Feb 29 may be up to 8 years away (2096 → 2104); a handful of tries suffices.
            (0..9).find_map(|offset| {
                NaiveDate::from_ymd_opt(today.year() + offset, month, day).filter(|date| *date >= today)
            })
        }
    }
}

/// The first `weekday` at least `min_days` after `today`.
fn first_weekday_after(today: NaiveDate, weekday: Weekday, min_days: i64) -> NaiveDate {
    let mut date = today + Duration::days(min_days);
    while date.weekday() != weekday {
        date += Duration::days(1);
    }
    date
}

/// `weekday` in the Monday-to-Sunday week after today's.
fn following_week(today: NaiveDate, weekday: Weekday) -> NaiveDate {
    let monday =
        today - Duration::days(i64::from(today.weekday().num_days_from_monday())) + Duration::days(7);
    monday + Duration::days(i64::from(weekday.num_days_from_monday()))
}

/// Applies the business reading of an hour: am/pm when said, 24-hour when ≥ 13, a part-of-day hint, else
/// 7–11 morning, 12 noon, 1–6 afternoon.
fn clock_hour(clock: Clock, hint: Option<PartOfDay>, ambiguities: &mut Vec<Ambiguity>) -> u32 {
    match clock.meridiem {
        Some(Meridiem::Am) => clock.hour % 12,
        Some(Meridiem::Pm) => clock.hour % 12 + 12,
        None if clock.hour >= 13 || clock.hour == 0 => clock.hour,
        None => match hint {
            Some(PartOfDay::Morning | PartOfDay::FirstThing) => clock.hour % 12,
            Some(PartOfDay::Afternoon | PartOfDay::AfterLunch | PartOfDay::Evening | PartOfDay::Tonight) => {
                if clock.hour == 12 {
                    12
                } else {
                    clock.hour + 12
                }
            }
            _ => {
                // 6 and 7 are plausibly either side of noon for a trade (early starts, evening calls).
                if matches!(clock.hour, 6 | 7) {
                    ambiguities.push(Ambiguity::Meridiem);
                }
                if (1..=6).contains(&clock.hour) {
                    clock.hour + 12
                } else {
                    clock.hour
                }
            }
        },
    }
}

fn naive_time(hour: u32, minute: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(hour, minute, 0)
}

/// Returns (start, end, whether the start is on the next day).
fn resolve_time(
    expr: TimeExpr,
    hint: Option<PartOfDay>,
    ambiguities: &mut Vec<Ambiguity>,
) -> (Option<NaiveTime>, Option<NaiveTime>, bool) {
    match expr {
        TimeExpr::At { clock } => {
            // "tonight at 12:30" / "tonight at 1" is past midnight: test the hour as said, before the pm reading.
            let tonight = hint == Some(PartOfDay::Tonight);
            let small_hours = tonight
                && match clock.meridiem {
                    None => clock.hour == 12 || clock.hour == 0 || (1..=3).contains(&clock.hour),
                    Some(Meridiem::Am) => clock.hour % 12 <= 3,
                    Some(Meridiem::Pm) => false,
                };
            let (hour, next_day) = if small_hours {
                (clock.hour % 12, true)
            } else {
                (clock_hour(clock, hint, ambiguities), false)
            };
            (naive_time(hour, clock.minute), None, next_day)
        }
        TimeExpr::Window { from, to } => {
            let mut to_hour = clock_hour(to, hint, ambiguities);
            let mut from_clock = from;
            if from.meridiem.is_none() && to.meridiem.is_some() && from.hour % 12 < to.hour % 12 {
                from_clock.meridiem = to.meridiem;
            }
            let from_hour = clock_hour(from_clock, hint, ambiguities);
            if to.meridiem.is_none() && to_hour <= from_hour && to_hour + 12 < 24 {
                to_hour += 12;
            } else if to.meridiem.is_none() && from_hour >= 18 && to.hour % 12 < from_hour % 12 {
                // "from 10 pm to 2": the end is in the small hours (the next day).
                to_hour = to.hour % 12;
            }
            (
                naive_time(from_hour, from.minute),
                naive_time(to_hour, to.minute),
                false,
            )
        }
        TimeExpr::Part { part } => {
            let (start, end) = match part {
                PartOfDay::FirstThing => (Some(8), None),
                PartOfDay::Morning => (Some(8), Some(12)),
                PartOfDay::Noon => (Some(12), None),
                PartOfDay::Afternoon => (Some(12), Some(17)),
                PartOfDay::AfterLunch => (Some(13), Some(17)),
                PartOfDay::Evening => (Some(17), Some(20)),
                PartOfDay::Tonight => (None, None),
            };
            (
                start.and_then(|h| naive_time(h, 0)),
                end.and_then(|h| naive_time(h, 0)),
                false,
            )
        }
    }
}

/// The instant of a local wall time in `tz`, handling DST explicitly.
pub fn local_instant(
    tz: Tz,
    date: NaiveDate,
    time: NaiveTime,
    ambiguities: &mut Vec<Ambiguity>,
) -> DateTime<FixedOffset> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(instant) => instant.fixed_offset(),
        LocalResult::Ambiguous(earlier, _later) => {
            ambiguities.push(Ambiguity::RepeatedLocalTime);
            earlier.fixed_offset()
        }
        LocalResult::None => {
            ambiguities.push(Ambiguity::SkippedLocalTime);
            // Walk forward in 15-minute steps (zones shift by 30 or 60 minutes) until the wall time exists: the
            // same elapsed time after the last valid instant before the gap.
            let before = (1..=16).find_map(|step| {
                tz.from_local_datetime(&(naive - Duration::minutes(15 * step)))
                    .earliest()
            });
            let after = (1..=16).find_map(|step| {
                tz.from_local_datetime(&(naive + Duration::minutes(15 * step)))
                    .earliest()
            });
            match (before, after) {
                (Some(before), Some(after)) => {
                    let gap = (after.naive_local() - before.naive_local()) - (after - before);
                    let shifted = naive + gap;
                    tz.from_local_datetime(&shifted)
                        .earliest()
                        .unwrap_or(after)
                        .fixed_offset()
                }
                (_, Some(after)) => after.fixed_offset(),
                (Some(before), None) => before.fixed_offset(),
                (None, None) => Utc.from_utc_datetime(&naive).fixed_offset(),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Scanning
// ---------------------------------------------------------------------------------------------------------------

/// A word of the scanned text.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// Lower-cased text.
    pub(crate) text: String,
    /// Byte range in the original text.
    pub(crate) span: Range<usize>,
    /// A clause break (`.,?!;` or a dash) follows the token.
    pub(crate) breaks: bool,
    /// A currency sign (`$`, `£`, `€`) comes right before the token.
    pub(crate) money: bool,
    /// A hyphen or dash follows the token ("6 pm-8 pm").
    pub(crate) dash: bool,
}

/// Splits text into lower-cased words with their byte ranges. `3:30`, `o'clock`, `a.m.` stay one token;
/// `3pm` becomes `3` `pm`; `11th` stays `11th`.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if is_word_char(text, i) {
            let start = i;
            while i < bytes.len() {
                let b = bytes[i];
                let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                let prev = if i > start { bytes[i - 1] } else { b' ' };
                if b >= 0x80 {
                    let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                    let apostrophe = text[i..].starts_with('\u{2019}')
                        && text[..i].chars().next_back().is_some_and(char::is_alphabetic)
                        && bytes.get(i + ch_len).is_some_and(u8::is_ascii_alphabetic);
                    if !(is_word_char(text, i) || apostrophe) {
                        break;
                    }
                    i += ch_len;
                    continue;
                }
                let keep = b.is_ascii_alphanumeric()
                    || (b == b':' && prev.is_ascii_digit() && next.is_ascii_digit())
                    || (b == b'\'' && prev.is_ascii_alphabetic() && next.is_ascii_alphabetic())
                    || (b == b'.' && prev.is_ascii_digit() && next.is_ascii_digit());
                if !keep {
                    break;
                }
                i += 1;
            }
            let word = text[start..i].to_lowercase().replace('\u{2019}', "'");
            let money = matches!(text[..start].chars().next_back(), Some('$' | '£' | '€'));
            // Split "3pm", "10:30am", "7am".
            let split = ["am", "pm"].iter().find_map(|suffix| {
                word.strip_suffix(suffix)
                    .filter(|head| !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit() || b == b':'))
                    .map(|head| (head.len(), *suffix))
            });
            match split {
                Some((head_len, suffix)) => {
                    tokens.push(Token {
                        text: word[..head_len].to_owned(),
                        span: start..start + head_len,
                        breaks: false,
                        money,
                        dash: false,
                    });
                    tokens.push(Token {
                        text: suffix.to_owned(),
                        span: start + head_len..i,
                        breaks: false,
                        money: false,
                        dash: false,
                    });
                }
                None => tokens.push(Token {
                    text: word,
                    span: start..i,
                    breaks: false,
                    money,
                    dash: false,
                }),
            }
        } else {
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            let dash = text[i..].starts_with('\u{2014}') || text[i..].starts_with('\u{2013}');
            if (dash || matches!(c, b'.' | b',' | b'?' | b'!' | b';' | b'-' | b'(' | b')'))
                && let Some(last) = tokens.last_mut()
            {
                // A hyphen inside a word ("twenty-first", "S-Z-Y") and the dots of "a.m." are not clause breaks.
                let inside = (c == b'-' || c == b'.')
                    && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphanumeric())
                    && i > 0
                    && bytes[i - 1].is_ascii_alphanumeric();
                let meridiem_dot = c == b'.' && (last.text == "m" || last.text == "a" || last.text == "p");
                if c == b'-' || dash {
                    last.dash = true;
                }
                if !inside && !meridiem_dot {
                    last.breaks = true;
                }
            }
            i += ch_len;
        }
    }
    // "a.m." / "p.m." → one token.
    let mut merged: Vec<Token> = Vec::with_capacity(tokens.len());
    for token in tokens {
        if token.text == "m"
            && let Some(last) = merged.last_mut()
            && (last.text == "a" || last.text == "p")
            && token.span.start == last.span.end + 1
        {
            last.text.push('m');
            last.span.end = token.span.end;
            last.breaks = token.breaks;
            if text.as_bytes().get(token.span.end) == Some(&b'.') {
                last.span.end += 1;
                last.breaks = true;
            }
            continue;
        }
        merged.push(token);
    }
    merged
}

/// Whether the character starting at byte `i` belongs to a word.
fn is_word_char(text: &str, i: usize) -> bool {
    text.get(i..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(char::is_alphanumeric)
}

/// A cardinal number: digits or a word up to ninety-nine (without the hyphen: "forty five" is two tokens).
pub(crate) fn small_number(word: &str) -> Option<u32> {
    if !word.is_empty() && word.len() <= 4 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    Some(match word {
        "zero" | "oh" | "o" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

pub(crate) fn ordinal_word(word: &str) -> Option<u32> {
    if let Some(digits) = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| word.strip_suffix(suffix))
        .filter(|d| !d.is_empty())
        && digits.len() <= 2
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return digits.parse().ok();
    }
    Some(match word {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        "fortieth" => 40,
        "fiftieth" => 50,
        "sixtieth" => 60,
        "seventieth" => 70,
        "eightieth" => 80,
        "ninetieth" => 90,
        "hundredth" => 100,
        _ => return None,
    })
}

/// An ordinal at `i` ("3rd", "twelfth", "twenty first"); returns (day, tokens used).
fn ordinal_at(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    let word = tokens.get(i)?.text.as_str();
    if let Some(n) = ordinal_word(word) {
        return Some((n, 1));
    }
    let tens = match word {
        "twenty" => 20,
        "thirty" => 30,
        _ => return None,
    };
    let unit = ordinal_word(tokens.get(i + 1)?.text.as_str()).filter(|n| (1..=9).contains(n))?;
    Some((tens + unit, 2))
}

fn weekday_word(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tues" | "tue" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thurs" | "thu" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn month_word(word: &str) -> Option<u32> {
    Some(match word {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sept" | "sep" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

fn meridiem_at(tokens: &[Token], i: usize) -> Option<(Meridiem, usize)> {
    let word = tokens.get(i)?.text.as_str();
    match word {
        "am" => return Some((Meridiem::Am, 1)),
        "pm" => return Some((Meridiem::Pm, 1)),
        _ => {}
    }
    let next = tokens.get(i + 1).map(|t| t.text.as_str());
    let third = tokens.get(i + 2).map(|t| t.text.as_str());
    match (word, next, third) {
        ("in", Some("the"), Some("morning")) => Some((Meridiem::Am, 3)),
        ("in", Some("the"), Some("afternoon" | "evening")) => Some((Meridiem::Pm, 3)),
        ("at", Some("night"), _) => Some((Meridiem::Pm, 2)),
        ("tonight", _, _) => Some((Meridiem::Pm, 0)),
        _ => None,
    }
}

/// A clock time at `i`; returns the clock, tokens used, and whether it is unmistakably a time (has minutes,
/// am/pm, o'clock, or a half/quarter idiom).
fn clock_at(tokens: &[Token], i: usize) -> Option<(Clock, usize, bool)> {
    let word = tokens.get(i)?.text.as_str();
    // "half past two", "quarter to five", "quarter after ten", "half nine" (UK).
    if matches!(word, "half" | "quarter") {
        let rel = tokens.get(i + 1).map(|t| t.text.as_str());
        let (offset, skip) = match (word, rel) {
            ("half", Some("past")) => (30i32, 2),
            ("quarter", Some("past" | "after")) => (15, 2),
            ("quarter", Some("to" | "till" | "of")) => (-15, 2),
            ("half", Some(_)) => (30, 1),
            _ => return None,
        };
        let hour = small_number(tokens.get(i + skip)?.text.as_str()).filter(|h| (1..=12).contains(h))?;
        let (hour, minute) = if offset < 0 {
            (if hour == 1 { 12 } else { hour - 1 }, 45)
        } else {
            (hour, offset as u32)
        };
        let mut used = skip + 1;
        let meridiem = meridiem_at(tokens, i + used).map(|(m, n)| {
            used += n;
            m
        });
        return Some((
            Clock {
                hour,
                minute,
                meridiem,
            },
            used,
            true,
        ));
    }
    let (hour, minute, mut used, mut certain) = if let Some((h, m)) = word.split_once(':') {
        let hour: u32 = h.parse().ok()?;
        let minute: u32 = m.parse().ok()?;
        (hour, minute, 1, true)
    } else if word == "noon" || word == "midday" {
        return Some((
            Clock {
                hour: 12,
                minute: 0,
                meridiem: None,
            },
            1,
            true,
        ));
    } else {
        let hour = small_number(word)?;
        if hour > 23 || (word.len() == 2 && word.starts_with('0')) {
            return None;
        }
        // Minutes as words: "three thirty", "ten fifteen", "ten oh five", "four forty five".
        let mut minute = 0;
        let mut used = 1;
        if !tokens[i].breaks
            && let Some(next) = tokens.get(i + 1)
        {
            let next_word = next.text.as_str();
            if matches!(next_word, "oh" | "o") {
                if let Some(unit) = tokens
                    .get(i + 2)
                    .and_then(|t| small_number(&t.text))
                    .filter(|n| (1..=9).contains(n))
                {
                    minute = unit;
                    used = 3;
                }
            } else if let Some(n) = small_number(next_word).filter(|n| (10..=59).contains(n))
                && !next_word.bytes().all(|b| b.is_ascii_digit())
                && hour <= 12
                && !word.bytes().all(|b| b.is_ascii_digit())
            {
                minute = n;
                used = 2;
                if n % 10 == 0
                    && n >= 20
                    && !next.breaks
                    && let Some(unit) = tokens
                        .get(i + 2)
                        .and_then(|t| small_number(&t.text))
                        .filter(|u| (1..=9).contains(u))
                {
                    minute = n + unit;
                    used = 3;
                }
            }
        }
        // Word minutes read as a time on their own only for the usual quarters ("three thirty", "ten fifteen");
        // "seven oh two" is more often the start of a phone number.
        (hour, minute, used, used > 1 && minute % 15 == 0)
    };
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut meridiem = None;
    if let Some(next) = tokens.get(i + used)
        && matches!(next.text.as_str(), "o'clock" | "oclock" | "o")
    {
        used += 1;
        certain = true;
    }
    if let Some((m, n)) = meridiem_at(tokens, i + used)
        && n > 0
    {
        meridiem = Some(m);
        used += n;
        certain = true;
    }
    if meridiem.is_some() && hour > 12 {
        meridiem = None;
    }
    Some((
        Clock {
            hour,
            minute,
            meridiem,
        },
        used,
        certain,
    ))
}

/// Words after a bare hour that make it read as a time ("at 3 works", "at 3 tomorrow").
fn time_follower(word: &str) -> bool {
    weekday_word(word).is_some()
        || matches!(
            word,
            "works"
                | "work"
                | "would"
                | "is"
                | "then"
                | "tomorrow"
                | "today"
                | "tonight"
                | "on"
                | "this"
                | "next"
                | "or"
                | "and"
                | "if"
                | "that"
                | "sharp"
                | "ish"
                | "please"
                | "okay"
                | "ok"
                | "good"
                | "fine"
                | "perfect"
                | "great"
                | "in"
                | "for"
                | "so"
                | "thanks"
                | "thank"
                | "i"
                | "we"
                | "be"
                | "should"
                | "latest"
                | "the"
                | "what"
                | "does"
                | "will"
                | "could"
                | "can"
                | "sounds"
                | "yeah"
                | "yes"
                | "um"
                | "uh"
                | "onwards"
                | "then?"
                | "fits"
                | "suits"
                | "start"
                | "appointment"
                | "slot"
        )
}

/// Words before a bare hour that make it read as a time.
fn time_leader(word: &str) -> bool {
    matches!(
        word,
        "at" | "around"
            | "about"
            | "by"
            | "after"
            | "before"
            | "from"
            | "till"
            | "until"
            | "til"
            | "say"
            | "like"
            | "arrive"
            | "maybe"
            | "earliest"
            | "latest"
            | "it"
            | "for"
    )
}

/// Finds every date/time mention in `text`, in order. Overlapping readings are resolved greedily left to right.
pub fn scan(text: &str) -> Vec<Mention> {
    scan_tokens(&tokenize(text))
}

pub(crate) fn scan_tokens(tokens: &[Token]) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut i = 0;
    let span = |from: usize, to: usize| tokens[from].span.start..tokens[to - 1].span.end;
    while i < tokens.len() {
        let word = tokens[i].text.as_str();
        let next = tokens.get(i + 1).map(|t| t.text.as_str());
        let next2 = tokens.get(i + 2).map(|t| t.text.as_str());
        let prev = if i > 0 {
            Some(tokens[i - 1].text.as_str())
        } else {
            None
        };

        // Flexible and ASAP phrases.
        let flexible_len = match (word, next, next2) {
            ("any", Some("time" | "day"), Some("next" | "this")) => Some(4),
            ("anytime", Some("next" | "this"), _) => Some(3),
            ("sometime" | "some", Some("next" | "this"), _) => Some(3),
            ("sometime" | "some", Some("time"), Some("next" | "this")) => Some(4),
            ("sometime" | "anytime", Some("in" | "within"), Some("the")) => Some(4),
            ("next", Some("few" | "couple"), _) => Some(3),
            ("in", Some("the"), Some("next"))
                if tokens.get(i + 3).is_some_and(|t| {
                    matches!(
                        t.text.as_str(),
                        "few" | "couple" | "month" | "week" | "weeks" | "two"
                    )
                }) =>
            {
                Some(4)
            }
            ("no", Some("rush" | "hurry"), _) => Some(2),
            ("whenever", _, _) => Some(1),
            ("the", Some("week"), Some("of" | "after")) => Some(3),
            ("next", Some("week" | "month"), _) if !matches!(prev, Some("of")) => Some(2),
            ("this", Some("summer" | "spring" | "fall" | "autumn" | "winter" | "month"), _) => Some(2),
            ("after", Some("the"), _) if tokens.get(i + 2).and_then(|t| ordinal_word(&t.text)).is_some() => {
                Some(3)
            }
            ("later", Some("this"), Some("week" | "month")) => Some(3),
            ("in", Some("a"), Some("couple")) => None,
            ("not", Some("urgent"), _) => Some(2),
            ("flexible", _, _) => Some(1),
            _ => None,
        };
        if let Some(len) = flexible_len {
            let len = len.min(tokens.len() - i);
            out.push(Mention {
                span: span(i, i + len),
                kind: MentionKind::Flexible,
            });
            i += len;
            continue;
        }
        let asap_len = match (word, next, next2) {
            ("asap", _, _) => Some(1),
            ("as", Some("soon"), Some("as")) => Some(4),
            ("right", Some("away" | "now"), _) => Some(2),
            ("immediately", _, _) => Some(1),
            ("straight", Some("away"), _) => Some(2),
            ("tonight" | "today", _, _) => None,
            _ => None,
        };
        if let Some(len) = asap_len {
            let len = len.min(tokens.len() - i);
            out.push(Mention {
                span: span(i, i + len),
                kind: MentionKind::Asap,
            });
            i += len;
            continue;
        }
        if word == "or" {
            out.push(Mention {
                span: span(i, i + 1),
                kind: MentionKind::Or,
            });
            i += 1;
            continue;
        }

        // Dates.
        match (word, next, next2) {
            ("day", Some("after"), Some("tomorrow")) => {
                out.push(Mention {
                    span: span(i, i + 3),
                    kind: MentionKind::Date(DateExpr::DayAfterTomorrow),
                });
                i += 3;
                continue;
            }
            ("today", ..) => {
                out.push(Mention {
                    span: span(i, i + 1),
                    kind: MentionKind::Date(DateExpr::Today),
                });
                i += 1;
                continue;
            }
            ("tonight", ..) => {
                out.push(Mention {
                    span: span(i, i + 1),
                    kind: MentionKind::Date(DateExpr::Today),
                });
                out.push(Mention {
                    span: span(i, i + 1),
                    kind: MentionKind::Time(TimeExpr::Part {
                        part: PartOfDay::Tonight,
                    }),
                });
                i += 1;
                continue;
            }
            ("tomorrow" | "tmrw" | "tomorrows", ..) => {
                out.push(Mention {
                    span: span(i, i + 1),
                    kind: MentionKind::Date(DateExpr::Tomorrow),
                });
                i += 1;
                continue;
            }
            ("this", Some("morning" | "afternoon" | "evening" | "arvo"), _) => {
                let part = match next {
                    Some("morning") => PartOfDay::Morning,
                    Some("evening") => PartOfDay::Evening,
                    _ => PartOfDay::Afternoon,
                };
                out.push(Mention {
                    span: span(i, i + 2),
                    kind: MentionKind::Date(DateExpr::Today),
                });
                out.push(Mention {
                    span: span(i, i + 2),
                    kind: MentionKind::Time(TimeExpr::Part { part }),
                });
                i += 2;
                continue;
            }
            _ => {}
        }
        // this/next/coming + weekday.
        let (modifier, skip) = match (word, next) {
            ("this", Some("coming")) => (WeekdayModifier::This, 2),
            ("this", _) => (WeekdayModifier::This, 1),
            ("next", _) => (WeekdayModifier::Next, 1),
            ("coming", _) => (WeekdayModifier::This, 1),
            _ => (WeekdayModifier::None, 0),
        };
        if let Some(weekday) = tokens.get(i + skip).and_then(|t| weekday_word(&t.text)) {
            let mut end = i + skip + 1;
            // "Thursday the 16th": the day number decides.
            let mut expr = DateExpr::Weekday { weekday, modifier };
            let after_the = tokens.get(end).is_some_and(|t| t.text == "the") as usize;
            if let Some((day, n)) = ordinal_at(tokens, end + after_the)
                && (1..=31).contains(&day)
            {
                end += after_the + n;
                expr = DateExpr::DayOfMonth { day };
                if let Some(month) = tokens
                    .get(end + usize::from(tokens.get(end).is_some_and(|t| t.text == "of")))
                    .and_then(|t| month_word(&t.text))
                {
                    end += 1 + usize::from(tokens.get(end).is_some_and(|t| t.text == "of"));
                    expr = DateExpr::MonthDay {
                        month,
                        day,
                        year: None,
                    };
                }
            } else if let Some(month) = tokens.get(end).and_then(|t| month_word(&t.text))
                && let Some((day, n)) = ordinal_at(tokens, end + 1).or_else(|| {
                    tokens
                        .get(end + 1)
                        .and_then(|t| small_number(&t.text))
                        .filter(|d| (1..=31).contains(d))
                        .map(|d| (d, 1))
                })
            {
                end += 1 + n;
                expr = DateExpr::MonthDay {
                    month,
                    day,
                    year: None,
                };
            }
            if !matches!(expr, DateExpr::Weekday { .. }) {
                // "Thursday the 16th": the day number decides, the weekday is kept to be checked against it.
                out.push(Mention {
                    span: span(i, end),
                    kind: MentionKind::SaidWeekday(weekday),
                });
            }
            out.push(Mention {
                span: span(i, end),
                kind: MentionKind::Date(expr),
            });
            i = end;
            continue;
        }
        // Month + day ("March 17th", "march 17", "March the 3rd"), not "may I".
        if let Some(month) = month_word(word)
            && (word != "may" && word != "mar" && word != "sat"
                || tokens.get(i + 1).is_some_and(|t| {
                    ordinal_word(&t.text).is_some() || t.text.bytes().all(|b| b.is_ascii_digit())
                }))
        {
            let the = usize::from(next == Some("the"));
            let day = ordinal_at(tokens, i + 1 + the).or_else(|| {
                tokens
                    .get(i + 1 + the)
                    .filter(|t| t.text.len() <= 2 && t.text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|t| t.text.parse::<u32>().ok())
                    .filter(|d| (1..=31).contains(d))
                    .map(|d| (d, 1))
            });
            if let Some((day, n)) = day {
                let mut end = i + 1 + the + n;
                let year = tokens
                    .get(end)
                    .filter(|t| t.text.len() == 4)
                    .and_then(|t| t.text.parse::<i32>().ok())
                    .filter(|y| (1900..=2200).contains(y));
                if year.is_some() {
                    end += 1;
                }
                out.push(Mention {
                    span: span(i, end),
                    kind: MentionKind::Date(DateExpr::MonthDay { month, day, year }),
                });
                i = end;
                continue;
            }
        }
        // "the 3rd", "the twelfth", "17th of March", "the 11th of this month", "on the 5th".
        let the = usize::from(word == "the");
        if let Some((day, n)) = ordinal_at(tokens, i + the)
            && (1..=31).contains(&day)
            && (the == 1
                || tokens[i].text.bytes().next().is_some_and(|b| b.is_ascii_digit())
                || matches!(prev, Some("on" | "the")))
            && !tokens.get(i + the + n).is_some_and(|t| {
                matches!(
                    t.text.as_str(),
                    "floor"
                        | "time"
                        | "street"
                        | "avenue"
                        | "one"
                        | "visit"
                        | "thing"
                        | "option"
                        | "appointment"
                        | "available"
                        | "unit"
                        | "step"
                        | "door"
                        | "house"
                        | "call"
                )
            })
        {
            let mut end = i + the + n;
            let mut expr = DateExpr::DayOfMonth { day };
            if tokens.get(end).is_some_and(|t| t.text == "of") {
                if let Some(month) = tokens.get(end + 1).and_then(|t| month_word(&t.text)) {
                    expr = DateExpr::MonthDay {
                        month,
                        day,
                        year: None,
                    };
                    end += 2;
                } else if tokens
                    .get(end + 1)
                    .is_some_and(|t| t.text == "this" || t.text == "next")
                    && tokens.get(end + 2).is_some_and(|t| t.text == "month")
                {
                    end += 3;
                }
            }
            out.push(Mention {
                span: span(i, end),
                kind: MentionKind::Date(expr),
            });
            i = end;
            continue;
        }

        // Parts of the day.
        let part = match (word, next, next2) {
            ("first", Some("thing"), _) => Some((PartOfDay::FirstThing, 2)),
            ("after", Some("lunch"), _) => Some((PartOfDay::AfterLunch, 2)),
            ("after", Some("work"), _) => Some((PartOfDay::Evening, 2)),
            ("morning" | "mornings", ..) if !matches!(prev, Some("good")) => Some((PartOfDay::Morning, 1)),
            ("afternoon" | "arvo", ..) if !matches!(prev, Some("good")) => Some((PartOfDay::Afternoon, 1)),
            ("evening", ..) if !matches!(prev, Some("good")) => Some((PartOfDay::Evening, 1)),
            ("noon" | "midday" | "lunchtime", ..)
                if !matches!(prev, Some("after" | "before" | "and" | "to" | "till" | "until")) =>
            {
                Some((PartOfDay::Noon, 1))
            }
            _ => None,
        };
        if let Some((part, len)) = part {
            out.push(Mention {
                span: span(i, i + len),
                kind: MentionKind::Time(TimeExpr::Part { part }),
            });
            i += len;
            continue;
        }

        // Windows: "between 3 and 5", "from 8 to noon", "3 to 5", "10-12".
        let window_lead = matches!(word, "between" | "from");
        let first = if window_lead { i + 1 } else { i };
        let clock_and_gap = clock_at(tokens, first).and_then(|(from, n1, certain1)| {
            let joiner = tokens.get(first + n1)?;
            let word_joiner = matches!(joiner.text.as_str(), "and" | "to" | "till" | "until" | "through");
            // "6 pm-8 pm", "10-12": a dash after the first clock joins without a word.
            let dashed = tokens[first + n1 - 1].dash && (certain1 || window_lead);
            let gap = if word_joiner {
                1
            } else if dashed {
                0
            } else {
                return None;
            };
            Some((from, n1, certain1, gap))
        });
        if let Some((from, n1, certain1, gap)) = clock_and_gap
            && let Some((to, n2, certain2)) = clock_at(tokens, first + n1 + gap)
            && (window_lead
                || certain1
                || certain2
                || matches!(prev, Some("like" | "around" | "say" | "maybe")))
            && from.hour <= 23
            && to.hour <= 23
        {
            let end = first + n1 + gap + n2;
            out.push(Mention {
                span: span(i, end),
                kind: MentionKind::Time(TimeExpr::Window { from, to }),
            });
            i = end;
            continue;
        }

        // Clock times.
        if let Some((clock, n, certain)) = clock_at(tokens, i) {
            // Part of a longer spoken number (a phone number, a house number, a postcode): not a time.
            let number_before = prev.is_some_and(|p| small_number(p).is_some() || p == "hundred")
                && i > 0
                && !tokens[i - 1].breaks;
            let number_after = !tokens[i + n - 1].breaks
                && tokens
                    .get(i + n)
                    .is_some_and(|t| small_number(&t.text).is_some() || t.text == "hundred");
            if (number_before || number_after) && !tokens[i].text.contains(':') || tokens[i].money {
                i += 1;
                continue;
            }
            let follower = tokens.get(i + n).map(|t| t.text.as_str());
            let ends_clause = tokens[i + n - 1].breaks || i + n == tokens.len();
            let led = prev.is_some_and(time_leader);
            let plausible = clock.hour <= 12 || clock.minute > 0 || certain;
            // Unpunctuated speech ("come monday at nine we're at …"): a led hour is a time unless a street or a
            // unit follows it.
            let street_follows = clock.minute % 15 != 0
                || tokens[i + n..(i + n + 4).min(tokens.len())].iter().any(|t| {
                    matches!(
                        t.text.as_str(),
                        "street"
                            | "st"
                            | "avenue"
                            | "ave"
                            | "road"
                            | "rd"
                            | "drive"
                            | "lane"
                            | "court"
                            | "boulevard"
                            | "way"
                            | "place"
                            | "unit"
                            | "apartment"
                            | "apt"
                            | "suite"
                            | "floor"
                            | "pounds"
                            | "dollars"
                            | "bucks"
                            | "feet"
                            | "foot"
                            | "inches"
                            | "degrees"
                            | "percent"
                            | "years"
                            | "months"
                            | "weeks"
                            | "days"
                            | "people"
                            | "units"
                            | "windows"
                            | "rooms"
                            | "bedrooms"
                            | "stories"
                            | "minutes"
                            | "hours"
                            | "north"
                            | "south"
                            | "east"
                            | "west"
                            | "northeast"
                            | "northwest"
                            | "southeast"
                            | "southwest"
                            | "by"
                            | "x"
                            | "grand"
                            | "thousand"
                            | "hundred"
                            | "quid"
                            | "square"
                            | "sq"
                    )
                });
            let accepted = certain
                || (led
                    && plausible
                    && clock.hour >= 1
                    && (ends_clause || follower.is_some_and(time_follower) || !street_follows));
            if accepted {
                out.push(Mention {
                    span: span(i, i + n),
                    kind: MentionKind::Time(TimeExpr::At { clock }),
                });
                i += n;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Folds the mentions of one phrase into a [`Phrase`]: a later date or time corrects an earlier one, a clock time
/// beats a part of day (which becomes a meridiem hint), and "X or Y" with nothing after marks alternatives.
pub fn fold(mentions: &[Mention]) -> Phrase {
    let mut phrase = Phrase::default();
    let mut clock_seen = false;
    let mut last_kind: Option<MentionKind> = None;
    let mut pending_or = false;
    let mut date_before_or = false;
    for mention in mentions {
        match mention.kind {
            MentionKind::SaidWeekday(weekday) => {
                phrase.said_weekday = Some(weekday);
                continue;
            }
            MentionKind::Or => {
                pending_or = true;
                date_before_or = phrase.date.is_some();
                continue;
            }
            // "Wednesday, today I have a sore throat": a named day beats a later "today" in the same turn.
            MentionKind::Date(DateExpr::Today)
                if !pending_or && matches!(phrase.date, Some(DateExpr::Weekday { .. })) => {}
            MentionKind::Date(expr) => {
                phrase.alternatives = pending_or
                    && (matches!(last_kind, Some(MentionKind::Date(_))) || date_before_or)
                    && phrase.date != Some(expr);
                phrase.alternative_dates = phrase.alternatives;
                phrase.alternative_times &= phrase.alternatives;
                phrase.date = Some(expr);
            }
            MentionKind::Time(TimeExpr::Part { part }) => {
                if clock_seen || part == PartOfDay::Tonight {
                    phrase.part_hint = Some(part);
                } else {
                    if pending_or
                        && matches!(last_kind, Some(MentionKind::Time(_)) | Some(MentionKind::Date(_)))
                        && phrase.time.is_some_and(|t| t != TimeExpr::Part { part })
                    {
                        phrase.alternatives = true;
                        phrase.alternative_times = true;
                    }
                    phrase.time = Some(TimeExpr::Part { part });
                    phrase.part_hint = Some(part);
                }
            }
            MentionKind::Time(expr) => {
                if pending_or
                    && matches!(
                        last_kind,
                        Some(MentionKind::Time(TimeExpr::At { .. } | TimeExpr::Window { .. }))
                    )
                {
                    phrase.alternatives = true;
                    phrase.alternative_times = true;
                }
                clock_seen = true;
                phrase.time = Some(expr);
            }
            MentionKind::Flexible => phrase.flexible = true,
            MentionKind::Asap => phrase.asap = true,
        }
        pending_or = false;
        last_kind = Some(mention.kind);
    }
    if phrase.date.is_some() && phrase.flexible {
        // "next week on Tuesday" names a day after all.
        phrase.flexible = false;
    }
    phrase
}

/// Scans `text` and folds every mention into one [`Phrase`].
pub fn parse_phrase(text: &str) -> Phrase {
    fold(&scan(text))
}

#[cfg(test)]
mod tests;
