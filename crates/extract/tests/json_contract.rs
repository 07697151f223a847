//! The extraction JSON of DESIGN.md §5, exactly: a snapshot of the reference call, and the shape rules.

use callbook_extract::testing::booking_call;
use callbook_extract::{CallKind, Extraction, ExtractorInfo, RulesExtractor};

#[test]
fn reference_call_snapshot() {
    let (transcript, context) = booking_call();
    let extraction = RulesExtractor::new().extract_sync(&transcript, &context);
    let mut json = serde_json::to_value(&extraction).unwrap();
    // The version moves with the crate; the snapshot pins everything else.
    json["extractor"]["version"] = serde_json::Value::String("<version>".into());
    insta::assert_json_snapshot!(json);
}

#[test]
fn unknown_fields_are_null_and_empty_calls_have_no_appointments() {
    let extraction = Extraction::empty(CallKind::Empty, 0.9, ExtractorInfo::builtin("rules", None));
    let json = serde_json::to_value(&extraction).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"call_kind": "empty", "appointments": [], "confidence": 0.9,
            "extractor": {"name": "rules", "model": null, "version": env!("CARGO_PKG_VERSION")}})
    );
    let appointment = serde_json::to_value(callbook_extract::Appointment::default()).unwrap();
    for (key, value) in appointment.as_object().unwrap() {
        assert!(value.is_null(), "{key} must be null when unknown");
    }
    assert_eq!(appointment.as_object().unwrap().len(), 8);
}

#[test]
fn when_and_price_shapes() {
    let value = serde_json::json!({
        "date": "2026-03-11", "time": "15:00", "start": "2026-03-11T15:00:00-04:00",
        "end": "2026-03-11T17:00:00-04:00", "flexible": false, "ambiguous": false
    });
    let when: callbook_extract::When = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&when).unwrap(), value);
    let price = serde_json::json!({"amount": "89.00", "currency": "USD", "kind": "fee"});
    let parsed: callbook_extract::Price = serde_json::from_value(price.clone()).unwrap();
    assert_eq!(parsed.amount.0, 8900);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), price);
}
