//! The conformance suite every [`Extractor`] must pass, written once and run against each backend (and through
//! `Arc<dyn Extractor>`). Not a stable API.
//!
//! Each `check_*` function takes the extractor under test. Backends that cannot read a transcript on their own
//! (the scripted fake, a mocked model) are primed with the answer first: see [`booking_call`] and
//! [`reference_extraction`].

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::extractor::Extractor;
use crate::types::{
    Address, Appointment, BusinessProfile, CallContext, CallKind, Extraction, Field, Transcript,
};
use crate::validate;

/// The reference booking call: a live call to a plumber on Tuesday 2026-03-10 14:05 in New York, with the business's
/// own number and address said by the agent (distractors).
pub fn booking_call() -> (Transcript, CallContext) {
    let transcript = Transcript::new(
        "Agent: Rivera and Sons Plumbing, this is Dana. We're at 900 Main Street, our number is 914-555-0100.\n\
         Caller: Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
         Agent: We can come tomorrow between 3 and 5. The service call is $89.\n\
         Caller: Tomorrow between 3 and 5 works.\n\
         Agent: Address?\n\
         Caller: 42 Oak Street, Apt 3B, Yonkers, 10701.\n\
         Agent: Phone?\n\
         Caller: 914-555-2177.\n\
         Agent: You're all set, see you tomorrow.",
    );
    let started: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-10T14:05:00-04:00")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    let context = CallContext::new(started, chrono_tz::America::New_York).with_business(BusinessProfile {
        name: "Rivera & Sons Plumbing".to_owned(),
        services: vec!["drain cleaning".to_owned()],
        phone_numbers: vec!["+19145550100".to_owned()],
        addresses: vec!["900 Main Street, Yonkers".to_owned()],
    });
    (transcript, context)
}

/// What a correct extractor returns for [`booking_call`] (the fields every backend must get right), for priming
/// test doubles.
pub fn reference_extraction(extractor: &dyn Extractor) -> Extraction {
    let (transcript, context) = booking_call();
    let reference = crate::datetime::Reference::new(context.started_at, context.timezone);
    let when = crate::datetime::resolve_text("tomorrow between 3 and 5", &reference).when;
    let _ = transcript;
    Extraction {
        call_kind: CallKind::Live,
        appointments: vec![Appointment {
            customer_name: Some(Field::new("Maria Lopez".to_owned(), 0.9, "this is Maria Lopez")),
            customer_phone: Some(Field::new("+19145552177".to_owned(), 0.9, "914-555-2177")),
            service_address: Some(Field::new(
                Address {
                    line1: "42 Oak Street".to_owned(),
                    line2: Some("Apt 3B".to_owned()),
                    city: Some("Yonkers".to_owned()),
                    postal_code: Some("10701".to_owned()),
                    ..Address::default()
                },
                0.85,
                "42 Oak Street, Apt 3B, Yonkers, 10701",
            )),
            when: Some(crate::types::WhenField {
                value: when,
                phrase: "tomorrow between 3 and 5".to_owned(),
                confidence: 0.85,
                evidence: "Tomorrow between 3 and 5 works.".to_owned(),
            }),
            ..Appointment::default()
        }],
        confidence: 0.85,
        extractor: extractor.info(),
        usage: None,
    }
}

/// The reference call's essentials come out right: one appointment, the caller's phone in E.164, the slot resolved
/// in the business's zone, the caller's address — and the output validates.
pub async fn check_booking_call(extractor: &dyn Extractor) {
    let (transcript, context) = booking_call();
    let extraction = extractor
        .extract(&transcript, &context)
        .await
        .unwrap_or_else(|e| panic!("extract failed: {e}"));
    assert!(
        validate::check(&extraction).is_empty(),
        "{:?}",
        validate::check(&extraction)
    );
    assert_eq!(extraction.call_kind, CallKind::Live);
    assert_eq!(extraction.appointments.len(), 1);
    let a = &extraction.appointments[0];
    assert_eq!(
        a.customer_phone.as_ref().map(|f| f.value.as_str()),
        Some("+19145552177")
    );
    assert_eq!(
        a.customer_name.as_ref().map(|f| f.value.as_str()),
        Some("Maria Lopez")
    );
    assert_eq!(
        a.service_address.as_ref().map(|f| f.value.line1.as_str()),
        Some("42 Oak Street")
    );
    let when = &a.when.as_ref().unwrap_or_else(|| panic!("no when")).value;
    assert_eq!(
        when.start.map(|s| s.to_rfc3339()).as_deref(),
        Some("2026-03-11T15:00:00-04:00")
    );
    assert_eq!(
        when.end.map(|s| s.to_rfc3339()).as_deref(),
        Some("2026-03-11T17:00:00-04:00")
    );
    assert_eq!(extraction.extractor.name, extractor.info().name);
}

/// The business's own number and address are never returned as the customer's.
pub async fn check_no_business_details(extractor: &dyn Extractor) {
    let (transcript, context) = booking_call();
    let extraction = extractor
        .extract(&transcript, &context)
        .await
        .unwrap_or_else(|e| panic!("extract failed: {e}"));
    for a in &extraction.appointments {
        assert_ne!(
            a.customer_phone.as_ref().map(|f| f.value.as_str()),
            Some("+19145550100")
        );
        assert!(
            a.service_address
                .as_ref()
                .is_none_or(|f| !f.value.line1.contains("900 Main"))
        );
    }
}

/// The output serialises to the DESIGN.md §5 shape: every key present, unknown fields `null`, and it reads back.
pub async fn check_json_contract(extractor: &dyn Extractor) {
    let (transcript, context) = booking_call();
    let extraction = extractor
        .extract(&transcript, &context)
        .await
        .unwrap_or_else(|e| panic!("extract failed: {e}"));
    let json = serde_json::to_value(&extraction).unwrap_or_default();
    for key in ["call_kind", "appointments", "confidence", "extractor"] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for a in json["appointments"].as_array().into_iter().flatten() {
        for key in [
            "customer_name",
            "customer_phone",
            "service_address",
            "when",
            "job_description",
            "price",
            "urgency",
            "notes",
        ] {
            assert!(a.get(key).is_some(), "appointment misses key {key}");
        }
    }
    let back: Extraction = serde_json::from_value(json).unwrap_or_else(|e| panic!("does not read back: {e}"));
    // `usage` is metering data, deliberately not part of the JSON.
    assert_eq!(
        back,
        Extraction {
            usage: None,
            ..extraction
        }
    );
}

/// Runs the checks above through `Arc<dyn Extractor>` as well. `prime` is called before each extraction (a no-op
/// for extractors that read transcripts themselves).
pub async fn check_all(extractor: Arc<dyn Extractor>, prime: impl Fn()) {
    prime();
    check_booking_call(extractor.as_ref()).await;
    prime();
    check_no_business_details(extractor.as_ref()).await;
    prime();
    check_json_contract(extractor.as_ref()).await;
}
