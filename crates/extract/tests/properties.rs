//! Invariants of the rules extractor on arbitrary input: it never panics, its output always validates, and it is
//! deterministic.

use callbook_extract::{CallContext, RulesExtractor, Transcript, validate};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "Agent:",
    "Caller:",
    "Customer:",
    "\n",
    "tomorrow",
    "next",
    "Tuesday",
    "at",
    "3",
    "half",
    "past",
    "two",
    "between",
    "and",
    "5",
    "the",
    "3rd",
    "March",
    "17th",
    "my",
    "name",
    "is",
    "Maria",
    "Lopez",
    "42",
    "Oak",
    "Street",
    "Apt",
    "3B",
    "914-555-2177",
    "six",
    "one",
    "seven",
    "five",
    "oh",
    "$89",
    "grand",
    "burst",
    "pipe",
    "no",
    "rush",
    "cancel",
    "booked",
    "see",
    "you",
    "press",
    "one",
    "wrong",
    "number",
    "tonight",
    "ASAP",
    "or",
    "morning",
    ",",
    ".",
    "?",
    "unit",
    "South",
    "twenty",
    "first",
    "thing",
    "área",
    "código",
    "ñ",
    "—",
];

fn transcript() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..80).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn never_panics_and_always_validates(text in transcript(), secs in 0i64..4_000_000_000, zone in 0usize..4) {
        let zones = [chrono_tz::America::New_York, chrono_tz::Europe::London, chrono_tz::Australia::Sydney, chrono_tz::America::Phoenix];
        let context = CallContext::new(chrono::DateTime::from_timestamp(secs, 0).unwrap(), zones[zone]);
        let transcript = Transcript::new(text);
        let extractor = RulesExtractor::new();
        let a = extractor.extract_sync(&transcript, &context);
        prop_assert!(validate::check(&a).is_empty(), "{:?}", validate::check(&a));
        prop_assert_eq!(&a, &extractor.extract_sync(&transcript, &context));
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,300}", secs in 0i64..4_000_000_000) {
        let context = CallContext::new(chrono::DateTime::from_timestamp(secs, 0).unwrap(), chrono_tz::America::Chicago);
        let out = RulesExtractor::new().extract_sync(&Transcript::new(text), &context);
        prop_assert!(validate::check(&out).is_empty());
    }
}
