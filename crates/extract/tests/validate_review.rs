//! The hallucination guard and business-detail check from the issue-4 review: each test fails before its fix.

use callbook_extract::chrono::{TimeZone, Utc};
use callbook_extract::validate::sanitize;
use callbook_extract::{
    Address, Appointment, CallContext, CallKind, Extraction, ExtractorInfo, Field, Transcript,
};

fn context() -> CallContext {
    let started = Utc
        .with_ymd_and_hms(2026, 3, 10, 18, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("a fixed instant"));
    let mut context = CallContext::new(started, callbook_extract::chrono_tz::America::New_York);
    context.business.name = "Rivera Plumbing".to_owned();
    context.business.addresses = vec!["42 Oak Street, Yonkers, NY 10701".to_owned()];
    context
}

fn with(appointment: Appointment) -> Extraction {
    let mut extraction = Extraction::empty(CallKind::Live, 0.9, ExtractorInfo::builtin("test", None));
    extraction.appointments.push(appointment);
    extraction
}

fn address(line1: &str) -> Appointment {
    Appointment {
        service_address: Some(Field::new(
            Address {
                line1: line1.to_owned(),
                ..Address::default()
            },
            0.9,
            line1,
        )),
        ..Appointment::default()
    }
}

fn name(value: &str) -> Appointment {
    Appointment {
        customer_name: Some(Field::new(value.to_owned(), 0.9, value)),
        ..Appointment::default()
    }
}

#[test]
fn an_abbreviated_business_address_is_not_the_customers() {
    let transcript =
        Transcript::new("Agent: We're at 42 Oak St. in Yonkers.\nCaller: OK, come to my place then.");
    let out = sanitize(with(address("42 Oak St.")), &transcript, &context());
    assert!(out.appointments[0].service_address.is_none(), "{out:?}");
}

#[test]
fn a_customer_address_on_another_street_is_kept() {
    let transcript = Transcript::new("Caller: I'm at 42 Elm Street in Yonkers.");
    let out = sanitize(with(address("42 Elm Street")), &transcript, &context());
    assert!(out.appointments[0].service_address.is_some(), "{out:?}");
}

#[test]
fn house_numbers_and_street_words_match_whole_tokens() {
    // "142" is not "42", and "Street" alone is no support for a street name.
    let transcript = Transcript::new("Caller: I'm at 142 Maple Street.");
    let out = sanitize(with(address("42 Elmwood Street")), &transcript, &context());
    assert!(out.appointments[0].service_address.is_none(), "{out:?}");
}

#[test]
fn names_need_whole_words_and_are_not_the_business() {
    let transcript = Transcript::new("Agent: Rivera Plumbing.\nCaller: Hi, this is Annabel.");
    let out = sanitize(with(name("Ann")), &transcript, &context());
    assert!(out.appointments[0].customer_name.is_none(), "{out:?}");
    let out = sanitize(with(name("Rivera")), &transcript, &context());
    assert!(out.appointments[0].customer_name.is_none(), "{out:?}");
    let out = sanitize(with(name("Annabel")), &transcript, &context());
    assert!(out.appointments[0].customer_name.is_some(), "{out:?}");
}
