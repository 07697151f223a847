//! Properties of PII redaction: idempotent, no Luhn-valid 13–19-digit run survives, PII-free text unchanged.
#![allow(clippy::unwrap_used)]

use callbook_transcribe::redact::{RedactionOptions, luhn_valid, redact};
use proptest::prelude::*;

const SPOKEN: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// A Luhn-valid number of `len` digits built from `body` (the check digit is computed independently here).
fn card(body: &[u8], len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = body.iter().cycle().take(len - 1).map(|x| x % 10).collect();
    for check in 0..10 {
        d.push(check);
        if luhn_valid(&d) {
            return d;
        }
        d.pop();
    }
    unreachable!("one check digit always works")
}

fn written(digits: &[u8], group: usize, sep: &str) -> String {
    digits
        .chunks(group)
        .map(|c| c.iter().map(|d| char::from(b'0' + d)).collect::<String>())
        .collect::<Vec<_>>()
        .join(sep)
}

fn spoken(digits: &[u8]) -> String {
    digits
        .iter()
        .map(|&d| SPOKEN[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Independent check: split the text into maximal runs of digits and separators; within a run, every window of
/// whole digit chunks holding 13–19 digits must fail the Luhn check.
fn luhn_valid_run_left(text: &str) -> Option<String> {
    let is_sep = |c: char| matches!(c, ' ' | '-' | ',' | '.' | '\t' | '\n' | '\r');
    let mut runs: Vec<Vec<Vec<u8>>> = vec![vec![]];
    let mut chunk: Vec<u8> = Vec::new();
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            chunk.push(d as u8);
        } else {
            if !chunk.is_empty() {
                runs.last_mut().unwrap().push(std::mem::take(&mut chunk));
            }
            if !is_sep(c) {
                runs.push(vec![]);
            }
        }
    }
    if !chunk.is_empty() {
        runs.last_mut().unwrap().push(chunk);
    }
    for run in runs {
        for a in 0..run.len() {
            let mut digits: Vec<u8> = Vec::new();
            for chunk in &run[a..] {
                digits.extend(chunk);
                if digits.len() > 19 {
                    break;
                }
                if digits.len() >= 13 && luhn_valid(&digits) {
                    return Some(written(&digits, 19, ""));
                }
            }
        }
    }
    None
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "my", "card", "number", "is", "the", "code", "expires", "cvv", "social", "security", "and", "call",
            "me", "at", "Visa", "December", "double", "oh", "thanks", "[CARD]", "[CVV]", "street", "@", "a@b.co",
        ]).prop_map(str::to_owned),
        2 => (prop::collection::vec(0u8..10, 1..8), 1usize..5)
            .prop_map(|(d, g)| written(&d, g, " ")),
        2 => (prop::collection::vec(0u8..10, 1..10), 13usize..20, 1usize..6, prop::sample::select(vec![" ", "-", "", ", "]))
            .prop_map(|(body, len, group, sep)| written(&card(&body, len), group, sep)),
        1 => (prop::collection::vec(0u8..10, 1..10), 13usize..20).prop_map(|(body, len)| spoken(&card(&body, len))),
        1 => prop::collection::vec(0u8..10, 1..6).prop_map(|d| spoken(&d)),
        1 => (1u8..13, 20u8..40).prop_map(|(m, y)| format!("{m:02}/{y}")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(piece(), 0..24),
        prop::collection::vec(prop::sample::select(vec![" ", ", ", ". ", " - ", "\n"]), 24),
    )
        .prop_map(|(pieces, seps)| {
            let mut s = String::new();
            for (p, sep) in pieces.iter().zip(seps) {
                s.push_str(p);
                s.push_str(sep);
            }
            s
        })
}

fn pii_free_text() -> impl Strategy<Value = String> {
    // Plain words alternating with numbers of at most 10 digits (phone numbers, house numbers, prices), and
    // card/code words next to at most 2-digit numbers: nothing here is PII.
    let plain = prop::collection::vec(
        (
            prop::sample::select(vec![
                "hi",
                "this",
                "is",
                "Maria",
                "Lopez",
                "my",
                "sink",
                "leaks",
                "at",
                "Oak",
                "Street",
                "Tuesday",
                "pm",
                "call",
                "back",
                "on",
                "price",
                "dollars",
                "apartment",
                "unit",
            ]),
            prop::collection::vec(0u8..10, 1..11),
            prop::sample::select(vec![" ", "-", ".", ", "]),
        ),
        0..20,
    )
    .prop_map(|items| {
        items
            .iter()
            .map(|(w, d, sep)| format!("{w} {}", written(d, 3, sep)))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let keywords = prop::collection::vec(
        (
            prop::sample::select(vec![
                "card", "code", "cvv", "expires", "credit", "social", "visa", "pin", "the",
            ]),
            prop::collection::vec(0u8..10, 1..3),
        ),
        0..20,
    )
    .prop_map(|items| {
        items
            .iter()
            .map(|(w, d)| format!("{w} is {}", written(d, 3, "")))
            .collect::<Vec<_>>()
            .join(", ")
    });
    prop_oneof![plain, keywords, "[a-zA-Z ,.!?']{0,200}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn redaction_is_idempotent(text in text()) {
        let options = RedactionOptions::all();
        let once = redact(&text, &options);
        let twice = redact(&once.text, &options);
        prop_assert_eq!(&twice.text, &once.text);
        prop_assert!(twice.spans.is_empty());
    }

    #[test]
    fn no_luhn_valid_run_survives(text in text()) {
        let out = redact(&text, &RedactionOptions::default());
        prop_assert_eq!(luhn_valid_run_left(&out.text), None, "in {:?}", out.text);
    }

    #[test]
    fn spoken_cards_are_always_removed(
        body in prop::collection::vec(0u8..10, 1..10), len in 13usize..20, prefix in "[a-z ]{0,20}",
    ) {
        let digits = card(&body, len);
        let said = spoken(&digits);
        let out = redact(&format!("{prefix} {said} thanks"), &RedactionOptions::default());
        prop_assert!(!out.text.contains(&said));
        prop_assert!(out.pci_detected);
    }

    #[test]
    fn written_cards_are_always_removed(
        body in prop::collection::vec(0u8..10, 1..10), len in 13usize..20, group in 1usize..8,
        sep in prop::sample::select(vec![" ", "-", "", ". "]),
    ) {
        let digits = card(&body, len);
        let out = redact(&format!("number {} ok", written(&digits, group, sep)), &RedactionOptions::default());
        prop_assert!(out.pci_detected);
        prop_assert!(luhn_valid_run_left(&out.text).is_none());
        prop_assert!(out.text.contains("[CARD]"));
    }

    #[test]
    fn pii_free_text_is_unchanged(text in pii_free_text()) {
        let out = redact(&text, &RedactionOptions::all());
        prop_assert_eq!(&out.text, &text);
        prop_assert!(out.spans.is_empty());
        prop_assert!(!out.pci_detected);
    }

    #[test]
    fn spans_cover_the_redacted_input(text in text()) {
        let out = redact(&text, &RedactionOptions::all());
        let mut rebuilt = String::new();
        let mut pos = 0;
        for s in &out.spans {
            prop_assert!(s.start >= pos && s.end > s.start && s.end <= text.len());
            rebuilt.push_str(&text[pos..s.start]);
            rebuilt.push_str(s.kind.placeholder());
            pos = s.end;
        }
        rebuilt.push_str(&text[pos..]);
        prop_assert_eq!(rebuilt, out.text);
    }
}
