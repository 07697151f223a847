//! Validation for every extractor: the checks of the [`crate::Extractor`] contract and a hallucination guard.
//!
//! [`check`] lists what is wrong with an [`Extraction`] (phones not in E.164, confidences outside `[0, 1]`, a
//! `start` whose date or time disagrees with `date`/`time`, an `end` not after `start`). [`sanitize`] repairs what
//! it can and drops what has no support: a phone number whose digits were not said and is not the caller ID, a name
//! none of whose words occur in the transcript, an address whose street number or street name was not said, and
//! the business's own phone numbers and addresses.

use crate::rules::phone;
use crate::types::{CallContext, Extraction, Transcript};

/// One problem found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which appointment (`None` for the extraction itself).
    pub appointment: Option<usize>,
    /// The field, e.g. `customer_phone`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn bad_confidence(c: f64) -> bool {
    !(0.0..=1.0).contains(&c) || c.is_nan()
}

/// Whether a string is E.164: `+`, a non-zero digit, 7 to 15 digits in all.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// Lists everything that breaks the extraction contract (empty when it is valid).
pub fn check(extraction: &Extraction) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut push = |appointment, field, message: String| {
        problems.push(Problem {
            appointment,
            field,
            message,
        })
    };
    if bad_confidence(extraction.confidence) {
        push(
            None,
            "confidence",
            format!("{} is outside [0, 1]", extraction.confidence),
        );
    }
    for (i, a) in extraction.appointments.iter().enumerate() {
        let i = Some(i);
        let confidences = [
            ("customer_name", a.customer_name.as_ref().map(|f| f.confidence)),
            ("customer_phone", a.customer_phone.as_ref().map(|f| f.confidence)),
            (
                "service_address",
                a.service_address.as_ref().map(|f| f.confidence),
            ),
            ("when", a.when.as_ref().map(|f| f.confidence)),
            (
                "job_description",
                a.job_description.as_ref().map(|f| f.confidence),
            ),
            ("price", a.price.as_ref().map(|f| f.confidence)),
            ("urgency", a.urgency.as_ref().map(|f| f.confidence)),
            ("notes", a.notes.as_ref().map(|f| f.confidence)),
        ];
        for (field, confidence) in confidences {
            if let Some(c) = confidence
                && bad_confidence(c)
            {
                push(i, field, format!("confidence {c} is outside [0, 1]"));
            }
        }
        if let Some(phone) = &a.customer_phone
            && !is_e164(&phone.value)
        {
            push(i, "customer_phone", "not in E.164".to_owned());
        }
        if let Some(address) = &a.service_address
            && address.value.line1.trim().is_empty()
        {
            push(i, "service_address", "line1 is empty".to_owned());
        }
        if let Some(when) = &a.when {
            let w = &when.value;
            if let Some(start) = w.start {
                if w.date != Some(start.date_naive()) {
                    push(i, "when", "start disagrees with date".to_owned());
                }
                if w.time != Some(start.time()) {
                    push(i, "when", "start disagrees with time".to_owned());
                }
            } else if w.date.is_some() && w.time.is_some() {
                push(
                    i,
                    "when",
                    "date and time are known but start is missing".to_owned(),
                );
            }
            if let Some(end) = w.end {
                match w.start {
                    Some(start) if end > start => {}
                    _ => push(i, "when", "end without a start before it".to_owned()),
                }
            }
        }
        if let Some(price) = &a.price
            && (price.value.amount.0 < 0 || price.value.currency.len() != 3)
        {
            push(i, "price", "negative amount or bad currency code".to_owned());
        }
    }
    problems
}

/// Digits said in the transcript, with spoken digits turned into digits, as one string per turn.
fn said_digits(transcript: &Transcript) -> Vec<String> {
    transcript
        .turns()
        .iter()
        .map(|turn| {
            let tokens = crate::datetime::tokenize(&turn.text);
            crate::rules::numbers::digit_runs(&tokens)
                .into_iter()
                .map(|(d, _, _)| d.replace('+', ""))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Repairs what can be repaired (clamps confidences, drops inconsistent `end`s) and drops values with no support
/// in the transcript or caller ID, and the business's own details. Never adds anything.
pub fn sanitize(mut extraction: Extraction, transcript: &Transcript, context: &CallContext) -> Extraction {
    let clamp = |c: f64| if c.is_nan() { 0.0 } else { c.clamp(0.0, 1.0) };
    extraction.confidence = clamp(extraction.confidence);
    let lower_text = transcript.text.to_lowercase()
        + " "
        + &transcript
            .turns
            .iter()
            .map(|t| t.text.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
    let mut digits: Option<Vec<String>> = None;
    let region = context.effective_phone_region();
    for a in &mut extraction.appointments {
        if let Some(phone) = a.customer_phone.take() {
            let normalised = if is_e164(&phone.value) {
                Some(phone.value.clone())
            } else {
                phone::to_e164(&phone.value, &region)
            };
            let keep = normalised.filter(|e164| {
                let business = context
                    .business
                    .phone_numbers
                    .iter()
                    .any(|b| phone::same_number(b, e164));
                let caller_id = context
                    .caller_id
                    .as_deref()
                    .is_some_and(|c| phone::same_number(c, e164));
                let national = national_digits(e164);
                let said = digits
                    .get_or_insert_with(|| said_digits(transcript))
                    .iter()
                    .any(|d| d.replace(' ', "").contains(&national) || d.contains(&national));
                !business && (said || caller_id)
            });
            a.customer_phone = keep.map(|value| crate::types::Field { value, ..phone });
        }
        if let Some(name) = a.customer_name.take() {
            let text_words = words(&lower_text);
            let business_words = words(&context.business.name.to_lowercase());
            let parts = words(&name.value.to_lowercase());
            let own_words: Vec<&String> = parts.iter().filter(|p| !business_words.contains(*p)).collect();
            // Whole words only, and the business's own name is not the customer's.
            let supported = own_words
                .iter()
                .any(|part| text_words.contains(*part) || spelled(&lower_text, part));
            if supported {
                a.customer_name = Some(name);
            }
        }
        if let Some(address) = a.service_address.take() {
            let line1 = address.value.line1.to_lowercase();
            let (number, street) = address_key(&line1);
            let business = context.business.addresses.iter().any(|b| {
                let b = b.to_lowercase();
                let first = b.split(',').next().unwrap_or(&b).trim().to_owned();
                let raw = !first.is_empty() && (line1.contains(&first) || first.contains(&line1));
                // "42 Oak St." is "42 Oak Street": same house number, same street-name words.
                let (b_number, b_street) = address_key(&first);
                let normalised = b_number.is_some()
                    && b_number == number
                    && !b_street.is_empty()
                    && b_street.iter().all(|w| street.contains(w));
                raw || normalised
            });
            let text_words = words(&lower_text);
            let number_said = number.as_ref().is_none_or(|number| {
                // A whole token ("142" is not "42"; "42b" is "42").
                text_words
                    .iter()
                    .any(|w| w.chars().take_while(char::is_ascii_digit).collect::<String>() == *number)
                    || digits
                        .get_or_insert_with(|| said_digits(transcript))
                        .iter()
                        .any(|d| d.contains(number.as_str()))
                    || spoken_in(&lower_text, number)
            });
            // The street's own name words, whole; a street with no such word ("5th Ave") falls back on every
            // word of the line.
            let named: Vec<&String> = street
                .iter()
                .filter(|w| w.chars().all(char::is_alphabetic) && w.len() > 2)
                .collect();
            let street_said = if named.is_empty() {
                words(&line1)
                    .iter()
                    .filter(|w| Some(*w) != number.as_ref() && w.len() > 2)
                    .any(|w| text_words.contains(w))
            } else {
                named.iter().any(|w| text_words.contains(*w))
            };
            if !business && number_said && street_said {
                a.service_address = Some(address);
            }
        }
        for c in [
            a.customer_name.as_mut().map(|f| &mut f.confidence),
            a.customer_phone.as_mut().map(|f| &mut f.confidence),
            a.service_address.as_mut().map(|f| &mut f.confidence),
            a.when.as_mut().map(|f| &mut f.confidence),
            a.job_description.as_mut().map(|f| &mut f.confidence),
            a.price.as_mut().map(|f| &mut f.confidence),
            a.urgency.as_mut().map(|f| &mut f.confidence),
            a.notes.as_mut().map(|f| &mut f.confidence),
        ]
        .into_iter()
        .flatten()
        {
            *c = clamp(*c);
        }
        if let Some(when) = a.when.as_mut() {
            let w = &mut when.value;
            if let (Some(start), Some(end)) = (w.start, w.end)
                && end <= start
            {
                w.end = None;
            }
            if w.start.is_none() {
                w.end = None;
            }
            if let Some(start) = w.start {
                w.date = Some(start.date_naive());
                w.time = Some(start.time());
            }
        }
    }
    extraction
}

/// The lower-case alphanumeric words of `text` (apostrophes kept inside words).
fn words(text: &str) -> std::collections::HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Street-type and direction words, which say nothing about which street it is.
const STREET_TYPES: &[&str] = &[
    "st",
    "street",
    "ave",
    "av",
    "avenue",
    "rd",
    "road",
    "dr",
    "drive",
    "ln",
    "lane",
    "blvd",
    "boulevard",
    "ct",
    "court",
    "pl",
    "place",
    "way",
    "hwy",
    "highway",
    "pkwy",
    "parkway",
    "ter",
    "terrace",
    "cres",
    "crescent",
    "cir",
    "circle",
    "sq",
    "square",
    "n",
    "s",
    "e",
    "w",
    "north",
    "south",
    "east",
    "west",
    "ne",
    "nw",
    "se",
    "sw",
];

/// An address line as (house number as a whole token, street-name words without street types or directions).
fn address_key(line1: &str) -> (Option<String>, Vec<String>) {
    let tokens: Vec<&str> = line1
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let at = tokens
        .iter()
        .position(|t| t.starts_with(|c: char| c.is_ascii_digit()));
    let number = at.map(|i| {
        tokens[i]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    let street = tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| Some(*i) != at && !STREET_TYPES.contains(t))
        .map(|(_, t)| t)
        .map(|t| (*t).to_owned())
        .collect();
    (number, street)
}

/// The national significant number of an E.164 string (drops +1, +44, +61 and similar country codes).
fn national_digits(e164: &str) -> String {
    let digits = phone::digits_of(e164);
    let code_len = if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else {
        2
    };
    let national = &digits[code_len.min(digits.len())..];
    // The last seven digits are what a caller always says, whatever the trunk prefix.
    national[national.len().saturating_sub(7)..].to_owned()
}

/// A word spelled letter by letter ("s-z-y-m…" or "s z y m…").
fn spelled(text: &str, word: &str) -> bool {
    let dashed: String = word.chars().map(|c| c.to_string()).collect::<Vec<_>>().join("-");
    let spaced: String = word.chars().map(|c| c.to_string()).collect::<Vec<_>>().join(" ");
    word.chars().count() >= 2 && (text.contains(&dashed) || text.contains(&spaced))
}

/// Whether a house number was said as words (checked loosely: every digit group's word appears).
fn spoken_in(text: &str, number: &str) -> bool {
    let tokens = crate::datetime::tokenize(text);
    (0..tokens.len()).any(|i| {
        crate::rules::numbers::spoken_number(&tokens, i, 6)
            .is_some_and(|(d, _)| d.starts_with(number) || d.ends_with(number))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_shapes() {
        assert!(is_e164("+16175553148"));
        assert!(!is_e164("6175553148"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+1617555314a"));
    }
}

#[cfg(test)]
mod review_tests {
    use super::*;

    #[test]
    fn an_abbreviated_business_address_is_still_the_business() {
        let (number, street) = address_key("42 oak st.");
        let (b_number, b_street) = address_key("42 oak street");
        assert_eq!(number, b_number);
        assert_eq!(street, b_street);
        assert_eq!(address_key("142 oak ave").0.as_deref(), Some("142"));
        assert_ne!(
            address_key("142 oak ave").0,
            number,
            "house numbers compare as whole tokens"
        );
    }

    #[test]
    fn words_are_whole() {
        let w = words("hi, this is annabel lee's house");
        assert!(w.contains("annabel") && w.contains("lee's"));
        assert!(!w.contains("ann"));
    }
}
