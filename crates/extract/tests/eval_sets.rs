//! A regression floor on the labelled development sets (skipped when `/work/shared/eval` or `CALLBOOK_EVAL_DIR` is
//! absent). The full per-field table comes from `cargo run -p callbook-extract --release --example eval`.

use callbook_extract::{CallContext, RulesExtractor, Transcript};

#[test]
fn fieldcalls_has_appointment_and_phone_floor() {
    let dir = std::env::var("CALLBOOK_EVAL_DIR").unwrap_or_else(|_| "/work/shared/eval".to_owned());
    let Ok(text) = std::fs::read_to_string(format!("{dir}/fieldcalls_dev.jsonl")) else {
        eprintln!("skipping: {dir}/fieldcalls_dev.jsonl not found");
        return;
    };
    let extractor = RulesExtractor::new();
    let (mut n, mut has_ok, mut phones, mut phones_ok) = (0, 0, 0, 0);
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let started = chrono::DateTime::parse_from_rfc3339(record["call_started_at"].as_str().unwrap())
            .unwrap()
            .to_utc();
        let zone: chrono_tz::Tz = record["timezone"].as_str().unwrap().parse().unwrap();
        let out = extractor.extract_sync(
            &Transcript::new(record["transcript"].as_str().unwrap()),
            &CallContext::new(started, zone),
        );
        n += 1;
        let gold_has = record["gold"]["has_appointment"].as_bool().unwrap();
        has_ok += usize::from(gold_has == out.has_appointment());
        if let Some(gold) = record["gold"]["appointments"][0]["customer_phone"].as_str() {
            phones += 1;
            let predicted = out
                .appointments
                .first()
                .and_then(|a| a.customer_phone.as_ref())
                .map(|f| f.value.as_str());
            phones_ok += usize::from(predicted == Some(gold));
        }
    }
    assert!(has_ok * 100 >= n * 95, "has_appointment {has_ok}/{n}");
    assert!(phones_ok * 100 >= phones * 90, "phone {phones_ok}/{phones}");
}
