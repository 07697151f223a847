//! Scores the rules extractor on the labelled development sets and prints a table.
//!
//! ```text
//! cargo run -p callbook-extract --release --example eval -- /work/shared/eval/*.jsonl
//! ```
//!
//! Scoring follows the eval README: only annotated fields count (`scored_fields`, minus gold the record marks as
//! `absent`/`n/a` in `gold_field_support`); fields are scored on calls whose gold has an appointment. For each field:
//! * `n` gold values, `pred` predicted values;
//! * precision = correct / predicted, recall = correct / gold (a value predicted where the gold is null counts
//!   against precision);
//! * `exact` = share of gold values matched character for character; `norm` = matched after normalisation (case,
//!   punctuation, spacing; free-text fields: token F1 ≥ 0.5).
//!
//! SGD has a simulated "today" of Friday 2019-03-01 (used as the call instant, 10:00 America/Los_Angeles); STAR gives
//! weekday names only, so its dates are compared by weekday (call instant: Monday 2020-06-01 10:00).
//! `--dump ID` prints one record's extraction; `--misses FIELD` lists the records where FIELD was wrong.

use std::collections::BTreeMap;
use std::io::BufRead;

use callbook_extract::{BusinessProfile, CallContext, Extraction, RulesExtractor, Transcript, validate};
use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

#[derive(Default, Clone)]
struct Score {
    gold: usize,
    predicted: usize,
    correct_exact: usize,
    correct_norm: usize,
}

#[derive(Default)]
struct SetScore {
    records: usize,
    has_correct: usize,
    has_tp: usize,
    has_fp: usize,
    has_fn: usize,
    fields: BTreeMap<&'static str, Score>,
    business_phone_leaks: usize,
    business_address_leaks: usize,
    phones_returned: usize,
    addresses_returned: usize,
    invalid: usize,
}

fn norm(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn token_f1(a: &str, b: &str) -> f64 {
    let a: Vec<String> = norm(a).split(' ').map(str::to_owned).collect();
    let b: Vec<String> = norm(b).split(' ').map(str::to_owned).collect();
    let common = a.iter().filter(|w| b.contains(w)).count() as f64;
    if common == 0.0 {
        return 0.0;
    }
    let p = common / a.len() as f64;
    let r = common / b.len() as f64;
    2.0 * p * r / (p + r)
}

fn compare(score: &mut Score, gold: Option<&str>, pred: Option<&str>, free_text: bool) -> bool {
    if gold.is_some() {
        score.gold += 1;
    }
    if pred.is_some() {
        score.predicted += 1;
    }
    match (gold, pred) {
        (Some(g), Some(p)) => {
            let exact = g == p;
            let normalised = if free_text {
                token_f1(g, p) >= 0.5
            } else {
                norm(g) == norm(p)
            };
            score.correct_exact += usize::from(exact);
            score.correct_norm += usize::from(exact || normalised);
            exact || normalised
        }
        (None, None) => true,
        _ => false,
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut dump: Option<String> = None;
    let mut misses: Option<String> = None;
    if let Some(p) = args.iter().position(|a| a == "--dump") {
        dump = args.get(p + 1).cloned();
        args.drain(p..p + 2);
    }
    if let Some(p) = args.iter().position(|a| a == "--misses") {
        misses = args.get(p + 1).cloned();
        args.drain(p..p + 2);
    }
    if args.is_empty() {
        eprintln!("usage: eval [--dump ID] [--misses FIELD] FILE.jsonl…");
        std::process::exit(2);
    }
    let extractor = RulesExtractor::new();
    let mut sets: Vec<(String, SetScore)> = Vec::new();
    for path in &args {
        let name = std::path::Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut set = SetScore::default();
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        for line in file.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Value = serde_json::from_str(&line)?;
            let id = record["id"].as_str().unwrap_or("").to_owned();
            let source = record["source"].as_str().unwrap_or("fieldcalls");
            let (started, tz): (DateTime<Utc>, chrono_tz::Tz) = match source {
                "sgd" => ("2019-03-01T18:00:00Z".parse()?, chrono_tz::America::Los_Angeles),
                "star" => ("2020-06-01T17:00:00Z".parse()?, chrono_tz::America::Los_Angeles),
                _ => (
                    DateTime::parse_from_rfc3339(record["call_started_at"].as_str().unwrap_or(""))?
                        .with_timezone(&Utc),
                    record["timezone"]
                        .as_str()
                        .unwrap_or("UTC")
                        .parse()
                        .map_err(|e| format!("{e}"))?,
                ),
            };
            let business = BusinessProfile {
                name: record["business_name"].as_str().unwrap_or("").to_owned(),
                ..Default::default()
            };
            let context = CallContext::new(started, tz).with_business(business);
            let transcript = Transcript::new(record["transcript"].as_str().unwrap_or(""));
            let extraction = extractor.extract_sync(&transcript, &context);
            if dump.as_deref() == Some(id.as_str()) {
                println!(
                    "{}\n{}",
                    transcript.text,
                    serde_json::to_string_pretty(&extraction)?
                );
                println!("gold: {}", serde_json::to_string_pretty(&record["gold"])?);
            }
            if !validate::check(&extraction).is_empty() {
                set.invalid += 1;
            }
            set.records += 1;
            let gold = &record["gold"];
            let gold_has = gold["has_appointment"].as_bool().unwrap_or(false);
            let pred_has = extraction.has_appointment();
            set.has_correct += usize::from(gold_has == pred_has);
            set.has_tp += usize::from(gold_has && pred_has);
            set.has_fp += usize::from(!gold_has && pred_has);
            set.has_fn += usize::from(gold_has && !pred_has);
            if misses.as_deref() == Some("has_appointment") && gold_has != pred_has {
                println!("MISS has_appointment {id}: gold {gold_has} pred {pred_has}");
            }
            let first = extraction.appointments.first();
            // Business details returned as the customer's (SGD).
            if source == "sgd" {
                if let Some(p) = first.and_then(|a| a.customer_phone.as_ref()) {
                    set.phones_returned += 1;
                    let provider = gold["provider_phone"].as_str().unwrap_or("");
                    let pd: String = provider.chars().filter(char::is_ascii_digit).collect();
                    if !pd.is_empty() && p.value.ends_with(&pd[pd.len().saturating_sub(7)..])
                        || line.contains(&p.value[p.value.len().saturating_sub(4)..]) && !pd.is_empty()
                    {
                        set.business_phone_leaks += 1;
                    }
                }
                if let Some(a) = first.and_then(|a| a.service_address.as_ref()) {
                    set.addresses_returned += 1;
                    let provider = norm(gold["provider_address"].as_str().unwrap_or(""));
                    let line1 = norm(&a.value.line1);
                    let number = line1.split(' ').next().unwrap_or("");
                    if !provider.is_empty() && provider.split(' ').next() == Some(number) {
                        set.business_address_leaks += 1;
                        if misses.as_deref() == Some("business") {
                            println!("LEAK address {id}: {}", a.value.line1);
                        }
                    }
                }
            }
            if !gold_has {
                continue;
            }
            match source {
                "sgd" | "star" => {
                    score_dialog(&mut set, &record, &extraction, source, misses.as_deref(), &id)
                }
                _ => score_fieldcall(&mut set, &record, &extraction, misses.as_deref(), &id),
            }
        }
        sets.push((name, set));
    }
    print_table(&sets);
    Ok(())
}

fn score_dialog(
    set: &mut SetScore,
    record: &Value,
    extraction: &Extraction,
    source: &str,
    misses: Option<&str>,
    id: &str,
) {
    let gold = &record["gold"];
    let scored: Vec<&str> = record["scored_fields"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let support = &record["gold_field_support"];
    let supported = |f: &str| scored.contains(&f) && !matches!(support[f].as_str(), Some("absent" | "n/a"));
    let first = extraction.appointments.first();
    let when = first.and_then(|a| a.when.as_ref()).map(|w| &w.value);
    if supported("date") {
        let g = gold["date_normalized"].as_str().map(str::to_owned);
        let p = when.and_then(|w| w.date).map(|d| {
            if source == "star" {
                d.weekday().to_string()
            } else {
                d.to_string()
            }
        });
        let g = if source == "star" {
            g.map(|s| s.chars().take(3).collect::<String>())
        } else {
            g
        };
        let ok = compare(
            set.fields.entry("date").or_default(),
            g.as_deref(),
            p.as_deref(),
            false,
        );
        if !ok && misses == Some("date") {
            println!("MISS date {id}: gold {g:?} pred {p:?}");
        }
    }
    if supported("time") {
        let g = gold["time_normalized"].as_str();
        let p = when.and_then(|w| w.time).map(|t| t.format("%H:%M").to_string());
        let ok = compare(
            set.fields.entry("start_time").or_default(),
            g,
            p.as_deref(),
            false,
        );
        if !ok && misses == Some("start_time") {
            println!("MISS time {id}: gold {g:?} pred {p:?}");
        }
    }
    if supported("customer_name") {
        let g = gold["customer_name"].as_str();
        let p = first
            .and_then(|a| a.customer_name.as_ref())
            .map(|f| f.value.as_str());
        let ok = compare(set.fields.entry("customer_name").or_default(), g, p, false);
        if !ok && misses == Some("customer_name") {
            println!("MISS name {id}: gold {g:?} pred {p:?}");
        }
    }
    if supported("job_description") {
        let g = gold["job_description"].as_str();
        let p = first
            .and_then(|a| a.job_description.as_ref())
            .map(|f| f.value.as_str());
        compare(set.fields.entry("job_description").or_default(), g, p, true);
    }
}

fn score_fieldcall(
    set: &mut SetScore,
    record: &Value,
    extraction: &Extraction,
    misses: Option<&str>,
    id: &str,
) {
    let golds = record["gold"]["appointments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, g) in golds.iter().enumerate() {
        let a = extraction.appointments.get(i);
        let when = a.and_then(|a| a.when.as_ref()).map(|w| &w.value);
        let gold_start = g["start"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        let gold_end = g["end"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        let gold_date = gold_start
            .map(|s| s.date_naive().to_string())
            .or_else(|| g["date_only"].as_str().map(str::to_owned));
        let mut field = |name: &'static str, gold: Option<String>, pred: Option<String>, free: bool| {
            let ok = compare(
                set.fields.entry(name).or_default(),
                gold.as_deref(),
                pred.as_deref(),
                free,
            );
            if !ok && misses == Some(name) {
                println!("MISS {name} {id}: gold {gold:?} pred {pred:?}");
            }
        };
        field(
            "date",
            gold_date,
            when.and_then(|w| w.date).map(|d| d.to_string()),
            false,
        );
        field(
            "start_time",
            gold_start.map(|s| s.format("%H:%M").to_string()),
            when.and_then(|w| w.time).map(|t| t.format("%H:%M").to_string()),
            false,
        );
        field(
            "start_instant",
            gold_start.map(|s| s.to_rfc3339()),
            when.and_then(|w| w.start).map(|s| s.to_rfc3339()),
            false,
        );
        field(
            "end",
            gold_end.map(|s| s.to_rfc3339()),
            when.and_then(|w| w.end).map(|s| s.to_rfc3339()),
            false,
        );
        field(
            "customer_name",
            str_of(&g["customer_name"]),
            a.and_then(|a| a.customer_name.as_ref()).map(|f| f.value.clone()),
            false,
        );
        field(
            "customer_phone",
            str_of(&g["customer_phone"]),
            a.and_then(|a| a.customer_phone.as_ref()).map(|f| f.value.clone()),
            false,
        );
        let addr = a.and_then(|a| a.service_address.as_ref()).map(|f| &f.value);
        field(
            "address_line1",
            str_of(&g["service_address"]["line1"]),
            addr.map(|x| x.line1.clone()),
            false,
        );
        field(
            "address_line2",
            str_of(&g["service_address"]["line2"]),
            addr.and_then(|x| x.line2.clone()),
            false,
        );
        field(
            "address_city",
            str_of(&g["service_address"]["city"]),
            addr.and_then(|x| x.city.clone()),
            false,
        );
        field(
            "address_postal",
            str_of(&g["service_address"]["postal_code"]),
            addr.and_then(|x| x.postal_code.clone()),
            false,
        );
        let price = a.and_then(|a| a.price.as_ref()).map(|f| &f.value);
        let gold_price = g["price"]["amount"]
            .as_f64()
            .map(|amt| format!("{:.2} {}", amt, g["price"]["kind"].as_str().unwrap_or("")));
        field(
            "price",
            gold_price,
            price.map(|p| {
                format!(
                    "{} {}",
                    p.amount,
                    serde_json::to_value(p.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )
            }),
            false,
        );
        field(
            "urgency",
            str_of(&g["urgency"]),
            a.and_then(|a| a.urgency.as_ref()).map(|f| {
                serde_json::to_value(f.value)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            false,
        );
        field(
            "job_description",
            str_of(&g["job_description"]),
            a.and_then(|a| a.job_description.as_ref())
                .map(|f| f.value.clone()),
            true,
        );
        field(
            "notes",
            str_of(&g["notes"]),
            a.and_then(|a| a.notes.as_ref()).map(|f| f.value.clone()),
            true,
        );
    }
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "    –".to_owned()
    } else {
        format!("{:5.1}", 100.0 * a as f64 / b as f64)
    }
}

fn print_table(sets: &[(String, SetScore)]) {
    for (name, set) in sets {
        println!(
            "\n## {name} ({} records, {} invalid outputs)",
            set.records, set.invalid
        );
        println!(
            "has_appointment: accuracy {}%  (precision {}%, recall {}%)",
            pct(set.has_correct, set.records),
            pct(set.has_tp, set.has_tp + set.has_fp),
            pct(set.has_tp, set.has_tp + set.has_fn)
        );
        if set.phones_returned + set.addresses_returned > 0 || name.starts_with("sgd") {
            println!(
                "business details returned as the customer's: phones {} (of {} phones returned), addresses {} (of {} returned)",
                set.business_phone_leaks,
                set.phones_returned,
                set.business_address_leaks,
                set.addresses_returned
            );
        }
        println!("| field | n gold | n pred | precision % | recall % | exact % | normalised % |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (field, s) in &set.fields {
            println!(
                "| {field} | {} | {} | {} | {} | {} | {} |",
                s.gold,
                s.predicted,
                pct(s.correct_norm, s.predicted),
                pct(s.correct_norm, s.gold),
                pct(s.correct_exact, s.gold),
                pct(s.correct_norm, s.gold)
            );
        }
    }
}
