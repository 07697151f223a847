#![no_main]
//! Arbitrary transcripts, speaker turns, call instants and zones: the rules extractor never panics, its output
//! always passes validation, and the date/time resolver never panics on the same text.

use arbitrary::Arbitrary;
use callbook_extract::{
    BusinessProfile, CallContext, RulesExtractor, Speaker, Transcript, Turn, WeekdayPolicy, chrono, chrono_tz, datetime,
    validate,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    text: String,
    turns: Vec<(u8, String)>,
    seconds: i64,
    zone: u16,
    policy: u8,
    caller_id: Option<String>,
    business_phone: Option<String>,
    business_address: Option<String>,
}

fuzz_target!(|input: Input| {
    let zones = chrono_tz::TZ_VARIANTS;
    let zone = zones[usize::from(input.zone) % zones.len()];
    // Keep instants inside chrono's range and the zone database's useful span.
    let seconds = input.seconds.rem_euclid(4_102_444_800);
    let Some(started) = chrono::DateTime::from_timestamp(seconds, 0) else { return };
    let policy = match input.policy % 3 {
        0 => WeekdayPolicy::AtLeastTwoDays,
        1 => WeekdayPolicy::FollowingWeek,
        _ => WeekdayPolicy::Nearest,
    };
    let mut context = CallContext::new(started, zone).with_weekday_policy(policy).with_business(BusinessProfile {
        name: "Fuzz Plumbing".to_owned(),
        services: Vec::new(),
        phone_numbers: input.business_phone.into_iter().collect(),
        addresses: input.business_address.into_iter().collect(),
    });
    context.caller_id = input.caller_id;
    let turns: Vec<Turn> = input
        .turns
        .into_iter()
        .take(64)
        .map(|(s, text)| Turn {
            speaker: match s % 3 {
                0 => Speaker::Caller,
                1 => Speaker::Agent,
                _ => Speaker::Unknown,
            },
            text,
        })
        .collect();
    let extractor = RulesExtractor::new();
    for transcript in [Transcript::new(input.text.clone()), Transcript::new(input.text.clone()).with_turns(turns)] {
        let extraction = extractor.extract_sync(&transcript, &context);
        let problems = validate::check(&extraction);
        assert!(problems.is_empty(), "{problems:?}");
    }
    let reference = datetime::Reference::new(started, zone).with_policy(policy);
    let _ = datetime::resolve_text(&input.text, &reference);
});
