//! Inputs found by review that used to panic or overflow the rules extractor.

use callbook_extract::{CallContext, RulesExtractor, Transcript};

#[allow(clippy::unwrap_used)]
fn extract(text: &str) -> callbook_extract::Extraction {
    let started = chrono::DateTime::parse_from_rfc3339("2026-05-01T09:00:00-04:00")
        .unwrap()
        .to_utc();
    RulesExtractor::new().extract_sync(
        &Transcript::new(text),
        &CallContext::new(started, chrono_tz::America::New_York),
    )
}

#[test]
fn an_absurd_amount_in_grand_is_not_a_price_and_does_not_overflow() {
    let out = extract(
        "Caller: Hi, my boiler is broken, can someone come tomorrow at 10? \
         My budget is 9000000000000000 grand.",
    );
    for appointment in &out.appointments {
        assert!(appointment.price.is_none(), "{:?}", appointment.price);
    }
}

#[test]
fn a_name_whose_upper_case_is_shorter_does_not_panic() {
    let out = extract("Caller: Hi, this is Mcıa Smith, my sink is leaking, can you come tomorrow at 10?");
    assert!(out.appointments.len() <= 2);
}
