//! `.ics` output: RFC 5545 structure, escaping and folding checked here; zone handling and recurrence checked
//! against libical (an independent, strict implementation) through `tests/ical/icalcheck.c`; the exact text
//! pinned with insta.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use callbook_jobs::calendar::{feed_ics, job_ics, occurrences};
use callbook_jobs::*;
use chrono::{DateTime, TimeZone as _, Utc};
use uuid::Uuid;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn job(n: u128, title: &str, zone: &str, start: DateTime<Utc>, hours: i64, rrule: Option<&str>) -> Job {
    Job {
        id: JobId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
        customer_id: None,
        source: None,
        title: title.into(),
        description: String::new(),
        address: Address::default(),
        schedule: Some(Schedule {
            start,
            end: start + chrono::Duration::hours(hours),
            timezone: TimeZone::parse(zone).unwrap(),
        }),
        recurrence: rrule.map(str::to_owned),
        price: None,
        urgency: Urgency::Normal,
        notes: None,
        stage: Stage::Confirmed,
        position: 1024,
        version: 3,
        created_at: at(2026, 3, 1, 9, 0),
        updated_at: at(2026, 3, 2, 10, 30),
    }
}

/// A weekly New York visit across the 2026 DST change (8 March), with text that needs escaping and folding.
fn tricky() -> Job {
    let mut j = job(
        1,
        "Leak, kitchen; \"urgent\" \\ back door",
        "America/New_York",
        at(2026, 3, 3, 20, 0),
        2,
        Some("FREQ=WEEKLY;COUNT=4"),
    );
    j.description =
        "Sink leaking under the cabinet.\nCustomer: María Løpez — gate code at the side entrance, \
                     ring twice; bring the long wrench and the replacement trap kit (1½\")."
            .into();
    j.address = Address {
        line1: Some("42 Oak Street".into()),
        line2: Some("Apt 3B".into()),
        city: Some("Yonkers".into()),
        region: Some("NY".into()),
        postal_code: Some("10701".into()),
        country: None,
    };
    j.price = Some(Money::new(8900, "USD"));
    j
}

fn unfold(ics: &str) -> String {
    ics.replace("\r\n ", "").replace("\r\n\t", "")
}

#[test]
fn lines_are_crlf_and_folded_at_75_octets() {
    let ics = job_ics(&tricky());
    assert!(ics.ends_with("\r\n"));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare newline in {line:?}"
        );
    }
    assert!(
        ics.split("\r\n").any(|l| l.starts_with(' ')),
        "the long description was folded"
    );
    let text = unfold(&ics);
    assert!(
        text.contains("SUMMARY:Leak\\, kitchen\\; \"urgent\" \\\\ back door\r\n"),
        "{text}"
    );
    assert!(text.contains("DESCRIPTION:Sink leaking under the cabinet.\\nCustomer: María Løpez"));
    assert!(text.contains("LOCATION:42 Oak Street\\, Apt 3B\\, Yonkers\\, NY\\, 10701\r\n"));
    assert!(text.contains("UID:job-01900000-0000-7000-8000-000000000001@callbook\r\n"));
    assert!(
        text.contains("DTSTAMP:20260302T103000Z\r\n"),
        "DTSTAMP is updated_at"
    );
    assert!(text.contains("DTSTART;TZID=America/New_York:20260303T150000\r\n"));
    assert!(text.contains("RRULE:FREQ=WEEKLY;COUNT=4\r\n"));
    assert!(text.contains("SEQUENCE:2\r\n"));
    assert_eq!(text.matches("PRODID:").count(), 1, "exactly one PRODID");
    assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"));
    assert_eq!(job_ics(&tricky()), ics, "stable output");
}

#[test]
fn snapshot_of_one_job() {
    insta::assert_snapshot!(
        "job_ics_new_york_weekly",
        job_ics(&tricky()).replace("\r\n", "\n")
    );
}

#[test]
fn utc_job_uses_z_times_and_no_vtimezone() {
    let ics = job_ics(&job(2, "UTC visit", "UTC", at(2026, 7, 1, 8, 0), 1, None));
    assert!(ics.contains("DTSTART:20260701T080000Z\r\n"), "{ics}");
    assert!(!ics.contains("VTIMEZONE"));
    let mut unscheduled = job(3, "No time yet", "UTC", at(2026, 7, 1, 8, 0), 1, None);
    unscheduled.schedule = None;
    assert!(!job_ics(&unscheduled).contains("BEGIN:VEVENT"));
}

#[test]
fn recurrence_keeps_local_time_across_dst() {
    let occ = occurrences(&tricky(), 10);
    assert_eq!(
        occ,
        vec![
            at(2026, 3, 3, 20, 0),
            at(2026, 3, 10, 19, 0),
            at(2026, 3, 17, 19, 0),
            at(2026, 3, 24, 19, 0)
        ],
        "15:00 New York before (EST) and after (EDT) the change"
    );
}

fn feed_jobs() -> Vec<Job> {
    vec![
        tricky(),
        job(
            4,
            "Boiler service",
            "Europe/Berlin",
            at(2026, 10, 20, 7, 0),
            1,
            Some("FREQ=MONTHLY;BYMONTHDAY=20;COUNT=6"),
        ),
        job(
            5,
            "Lord Howe half-hour DST",
            "Australia/Lord_Howe",
            at(2026, 4, 1, 0, 0),
            1,
            Some("FREQ=WEEKLY;COUNT=3"),
        ),
        job(6, "Plain UTC", "UTC", at(2026, 5, 5, 12, 0), 3, None),
        job(
            7,
            "Kolkata, no DST",
            "Asia/Kolkata",
            at(2027, 1, 15, 4, 30),
            2,
            Some("FREQ=DAILY;INTERVAL=2;UNTIL=20270125T000000Z"),
        ),
    ]
}

/// The libical checker: `CALLBOOK_ICALCHECK` (built by `.ci/setup.d/50-jobs.sh`), else built here when gcc and
/// libical-dev are present, else `None` with a message.
fn icalcheck() -> Option<PathBuf> {
    // Built once per test binary: tests run in parallel and must not overwrite a running executable.
    static CHECKER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    CHECKER.get_or_init(build_icalcheck).clone()
}

fn build_icalcheck() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CALLBOOK_ICALCHECK")
        && !path.is_empty()
    {
        return Some(PathBuf::from(path));
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libical"])
        .output()
        .ok();
    let Some(flags) = flags.filter(|o| o.status.success()) else {
        eprintln!("skipping the libical check: libical-dev is not installed (see .ci/setup.d/50-jobs.sh)");
        return None;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("icalcheck");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ical/icalcheck.c");
    let status = Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&source)
        .args(String::from_utf8_lossy(&flags.stdout).split_whitespace())
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        _ => {
            eprintln!("skipping the libical check: could not compile tests/ical/icalcheck.c");
            None
        }
    }
}

fn run_check(checker: &PathBuf, ics: &str) -> (bool, String) {
    let mut child = Command::new(checker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run icalcheck");
    child.stdin.take().unwrap().write_all(ics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn libical_accepts_the_feed_and_agrees_on_every_instant() {
    let Some(checker) = icalcheck() else {
        return;
    };
    let jobs = feed_jobs();
    let ics = feed_ics("Acme Plumbing", &jobs);
    let (ok, report) = run_check(&checker, &ics);
    assert!(ok, "libical rejected the feed:\n{report}\n{ics}");
    for j in &jobs {
        let uid = format!("job-{}@callbook", j.id);
        let s = j.schedule.as_ref().unwrap();
        let event = format!("EVENT {uid} {} {}", s.start.timestamp(), s.end.timestamp());
        assert!(
            report.lines().any(|l| l == event),
            "libical read other times for {}:\n{report}",
            j.title
        );
        if j.recurrence.is_some() {
            let theirs: Vec<i64> = report
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("OCC {uid} ")))
                .map(|t| t.parse().unwrap())
                .collect();
            let ours: Vec<i64> = occurrences(j, 20).iter().map(|t| t.timestamp()).collect();
            assert_eq!(
                theirs, ours,
                "recurrence of {} differs between libical and the rrule crate",
                j.title
            );
            assert!(ours.len() > 1);
        }
    }
}

#[test]
fn the_checker_rejects_broken_calendars() {
    let Some(checker) = icalcheck() else {
        return;
    };
    let good = job_ics(&tricky());
    let broken = [
        good.replace("RRULE:FREQ=WEEKLY;COUNT=4", "RRULE:FREQ=SOMETIMES"),
        good.replace("UID:job-01900000-0000-7000-8000-000000000001@callbook\r\n", ""),
        good.replace("TZID:America/New_York\r\n", "TZID:America/Elsewhere\r\n"),
        good.replace(
            "DTEND;TZID=America/New_York:20260303T170000",
            "DTEND;TZID=America/New_York:20260303T140000",
        ),
    ];
    for (i, ics) in broken.iter().enumerate() {
        assert_ne!(ics, &good, "case {i} did not change the text");
        let (ok, report) = run_check(&checker, ics);
        assert!(!ok, "case {i} was accepted:\n{report}");
    }
}
