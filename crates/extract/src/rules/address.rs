//! Service addresses said by the caller: number + street + suffix (+ direction, unit, city, region, postcode), in
//! US, UK and AU formats, with spoken numbers ("ninety three sixty five tumbleweed canyon court").

use super::lexicon::{direction, is_common_word, street_suffix, unit_word};
use super::name::capitalise;
use super::numbers::{is_number_token, spoken_number, spoken_ordinal};
use super::{Call, Utterance};
use crate::types::{Address, Field};

const US_STATES: &[(&str, &str)] = &[
    ("al", "AL"),
    ("alabama", "AL"),
    ("ak", "AK"),
    ("alaska", "AK"),
    ("az", "AZ"),
    ("arizona", "AZ"),
    ("ar", "AR"),
    ("arkansas", "AR"),
    ("ca", "CA"),
    ("california", "CA"),
    ("co", "CO"),
    ("colorado", "CO"),
    ("ct", "CT"),
    ("connecticut", "CT"),
    ("de", "DE"),
    ("delaware", "DE"),
    ("fl", "FL"),
    ("florida", "FL"),
    ("ga", "GA"),
    ("georgia", "GA"),
    ("il", "IL"),
    ("illinois", "IL"),
    ("in", "IN"),
    ("indiana", "IN"),
    ("ia", "IA"),
    ("iowa", "IA"),
    ("ks", "KS"),
    ("kansas", "KS"),
    ("ky", "KY"),
    ("kentucky", "KY"),
    ("la", "LA"),
    ("louisiana", "LA"),
    ("ma", "MA"),
    ("massachusetts", "MA"),
    ("md", "MD"),
    ("maryland", "MD"),
    ("mi", "MI"),
    ("michigan", "MI"),
    ("mn", "MN"),
    ("minnesota", "MN"),
    ("mo", "MO"),
    ("missouri", "MO"),
    ("nc", "NC"),
    ("nj", "NJ"),
    ("nv", "NV"),
    ("nevada", "NV"),
    ("ny", "NY"),
    ("oh", "OH"),
    ("ohio", "OH"),
    ("ok", "OK"),
    ("oklahoma", "OK"),
    ("or", "OR"),
    ("oregon", "OR"),
    ("pa", "PA"),
    ("pennsylvania", "PA"),
    ("tn", "TN"),
    ("tennessee", "TN"),
    ("tx", "TX"),
    ("texas", "TX"),
    ("ut", "UT"),
    ("utah", "UT"),
    ("va", "VA"),
    ("virginia", "VA"),
    ("wa", "WA"),
    ("washington", "WA"),
    ("wi", "WI"),
    ("wisconsin", "WI"),
    ("nsw", "NSW"),
    ("vic", "VIC"),
    ("qld", "QLD"),
    ("ontario", "ON"),
    ("on", "ON"),
    ("bc", "BC"),
    ("quebec", "QC"),
];

fn state(word: &str, cased_upper: bool) -> Option<&'static str> {
    let short = word.len() == 2;
    if short && !cased_upper {
        return None;
    }
    US_STATES.iter().find(|(k, _)| *k == word).map(|(_, v)| *v)
}

fn ordinal_suffix(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn floor_word(word: &str) -> Option<u32> {
    Some(match word {
        "first" | "1st" => 1,
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        "sixth" | "6th" => 6,
        "seventh" | "7th" => 7,
        "eighth" | "8th" => 8,
        "ninth" | "9th" => 9,
        "tenth" | "10th" => 10,
        _ => return None,
    })
}

/// A street word in its written form: "oak" → "Oak", "29th" → "29th".
fn street_word(original: &str, lower: &str) -> String {
    if lower.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        lower.to_owned()
    } else {
        capitalise(original)
    }
}

/// One address read at a position.
struct Parsed {
    address: Address,
    start: usize,
    end: usize,
}

fn parse_at(turn: &Utterance, i: usize) -> Option<Parsed> {
    let tokens = &turn.tokens;
    let cased = turn.text.chars().any(char::is_uppercase);
    let original = |k: usize| &turn.text[tokens[k].span.clone()];
    let mut line2: Option<String> = None;
    let mut j = i;
    // "unit three sixty one bay street" → Unit 3, 61 Bay Street.
    if let Some(unit) = tokens
        .get(j)
        .and_then(|t| unit_word(&t.text))
        .filter(|u| *u != "#")
    {
        let (digits, used) = spoken_number(tokens, j + 1, 1)?;
        line2 = Some(format!("{unit} {}", digits.to_uppercase()));
        j += 1 + used;
    }
    // AU "9/14 Rutledge Street": unit 9, number 14.
    if line2.is_none()
        && let (Some(a), Some(b)) = (tokens.get(j), tokens.get(j + 1))
        && a.text.bytes().all(|c| c.is_ascii_digit())
        && b.text.bytes().all(|c| c.is_ascii_digit())
        && turn.text[a.span.end..b.span.start] == *"/"
    {
        line2 = Some(format!("Unit {}", a.text));
        j += 1;
    }
    let (mut number, used) = if tokens
        .get(j)
        .is_some_and(|t| !t.text.is_empty() && t.text.bytes().all(|c| c.is_ascii_digit()))
    {
        (tokens[j].text.clone(), 1)
    } else {
        spoken_number(tokens, j, 5)?
    };
    if number.len() > 6
        || tokens
            .get(j)
            .is_some_and(|t| t.text.len() > 6 && t.text.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    j += used;
    // Queens "31-14".
    if let Some(next) = tokens.get(j)
        && turn.text[tokens[j - 1].span.end..next.span.start] == *"-"
        && next.text.bytes().all(|b| b.is_ascii_digit())
    {
        number = format!("{number}-{}", next.text);
        j += 1;
    }
    let mut words: Vec<String> = Vec::new();
    // A direction before the street name is spelled out as said.
    if let Some((full, _)) = tokens.get(j).and_then(|t| direction(&t.text))
        && tokens.get(j + 1).is_some_and(|t| !t.text.is_empty())
    {
        // Grid address: "3360 South 2300 East".
        if let Some(next) = tokens.get(j + 1)
            && next.text.bytes().all(|b| b.is_ascii_digit())
            && let Some((grid, _)) = tokens.get(j + 2).and_then(|t| direction(&t.text))
        {
            let address = Address {
                line1: format!("{number} {full} {} {grid}", next.text),
                line2,
                ..Address::default()
            };
            return Some(finish(turn, address, i, j + 3));
        }
        words.push(full.to_owned());
        j += 1;
    }
    let street_start = j;
    let mut suffix: Option<&str> = None;
    while j < tokens.len() && j < street_start + 5 {
        let lower = tokens[j].text.as_str();
        if j > street_start
            && let Some(s) = street_suffix(lower)
        {
            // "Hill" or "Park" inside a longer name ("Park Avenue") is not the suffix.
            let next_is_suffix = !tokens[j].breaks
                && tokens
                    .get(j + 1)
                    .is_some_and(|t| street_suffix(&t.text).is_some() && !matches!(t.text.as_str(), "way"));
            if !next_is_suffix {
                suffix = Some(s);
                j += 1;
                break;
            }
        }
        if let Some((n, used)) = spoken_ordinal(tokens, j) {
            words.push(format!("{n}{}", ordinal_suffix(n)));
            j += used;
            continue;
        }
        let ordinal = lower.len() >= 3
            && lower.chars().next().is_some_and(|c| c.is_ascii_digit())
            && ["st", "nd", "rd", "th"].iter().any(|s| lower.ends_with(s));
        let alphabetic = lower.chars().all(|c| c.is_alphabetic() || c == '\'' || c == '.');
        if !(alphabetic || ordinal)
            || (is_common_word(lower)
                && !matches!(
                    lower,
                    "oak"
                        | "main"
                        | "new"
                        | "park"
                        | "hill"
                        | "high"
                        | "old"
                        | "bay"
                        | "long"
                        | "green"
                        | "south"
                        | "north"
                        | "east"
                        | "west"
                ))
        {
            return None;
        }
        words.push(street_word(original(j), lower));
        if tokens[j].breaks && j + 1 < tokens.len() && street_suffix(&tokens[j + 1].text).is_none() {
            return None;
        }
        j += 1;
    }
    let suffix = suffix?;
    if words.is_empty() || words.len() == 1 && direction(&words[0].to_lowercase()).is_some() {
        return None;
    }
    let mut line1 = format!("{number} {} {suffix}", words.join(" "));
    // A direction after the street: North/South/East/West spelled out, quadrants abbreviated.
    if let Some((_, written)) = tokens.get(j).and_then(|t| direction(&t.text))
        && !tokens[j - 1].breaks
        && (tokens[j].text.len() != 1 || cased)
        && tokens.get(j + 1).is_none_or(|t| street_suffix(&t.text).is_none())
    {
        line1.push(' ');
        line1.push_str(written);
        j += 1;
    }
    let address = Address {
        line1,
        line2,
        ..Address::default()
    };
    Some(finish(turn, address, i, j))
}

/// Reads what follows line 1: unit, city, region, postcode.
fn finish(turn: &Utterance, mut address: Address, start: usize, mut j: usize) -> Parsed {
    let tokens = &turn.tokens;
    let cased = turn.text.chars().any(char::is_uppercase);
    let original = |k: usize| &turn.text[tokens[k].span.clone()];
    // Unit after the street: "apartment 3", "Apt 3B", "#4", "suite 1200", "unit 2".
    let hash = j < tokens.len() && turn.text[..tokens[j].span.start].trim_end().ends_with('#');
    if hash {
        address.line2 = Some(format!("#{}", tokens[j].text.to_uppercase()));
        j += 1;
    } else if let Some(unit) = tokens
        .get(j)
        .and_then(|t| unit_word(&t.text))
        .filter(|u| *u != "#")
        && let Some(value) = tokens.get(j + 1)
        && (value.text.chars().any(|c| c.is_ascii_digit())
            || value.text.len() <= 2
            || is_number_token(&value.text))
    {
        let (value, used) = spoken_number(tokens, j + 1, 3)
            .map(|(d, u)| {
                // "3 b" / "three b".
                match tokens.get(j + 1 + u) {
                    Some(t)
                        if t.text.len() == 1
                            && t.text.chars().all(|c| c.is_ascii_alphabetic())
                            && !matches!(t.text.as_str(), "a" | "i") =>
                    {
                        (format!("{d}{}", t.text.to_uppercase()), u + 1)
                    }
                    _ => (d, u),
                }
            })
            .unwrap_or_else(|| (value.text.to_uppercase(), 1));
        address.line2 = Some(format!("{unit} {value}"));
        j += 1 + used;
    }
    // City: name-like words up to a number, a common word, or a second clause break.
    let mut city: Vec<String> = Vec::new();
    let mut k = j;
    while k < tokens.len() && city.len() < 3 {
        let lower = tokens[k].text.as_str();
        let o = original(k);
        let looks = lower
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '.')
            && !is_common_word(lower)
            && !is_number_token(lower)
            && unit_word(lower).is_none()
            && !matches!(
                lower,
                "in" | "near"
                    | "by"
                    | "off"
                    | "and"
                    | "my"
                    | "phone"
                    | "cell"
                    | "it's"
                    | "that's"
                    | "zip"
                    | "postcode"
                    | "code"
            )
            && (!cased || o.chars().next().is_some_and(char::is_uppercase));
        if !looks || state(lower, o.chars().all(|c| c.is_uppercase())).is_some() && !city.is_empty() {
            break;
        }
        city.push(capitalise(o));
        k += 1;
        if tokens[k - 1].breaks {
            break;
        }
    }
    // Skip "in" before a city: "in Tucson".
    if city.is_empty() && tokens.get(j).is_some_and(|t| t.text == "in") {
        let mut k2 = j + 1;
        while k2 < tokens.len() && city.len() < 3 {
            let o = original(k2);
            let lower = tokens[k2].text.as_str();
            let looks = lower.chars().all(char::is_alphabetic)
                && !is_common_word(lower)
                && (!cased || o.chars().next().is_some_and(char::is_uppercase));
            if !looks {
                break;
            }
            city.push(capitalise(o));
            k2 += 1;
            if tokens[k2 - 1].breaks {
                break;
            }
        }
        if !city.is_empty() {
            k = k2;
        }
    }
    if !city.is_empty() {
        address.city = Some(city.join(" "));
        j = k;
    }
    // Region.
    if let Some(t) = tokens.get(j)
        && let Some(region) = state(&t.text, original(j).chars().all(|c| c.is_uppercase()))
    {
        address.region = Some(region.to_owned());
        j += 1;
    }
    // Postcode: US ZIP (5 digits, maybe spoken), AU (4 digits), CA "K1S 2B4", UK "N5 1SU".
    if let Some(t) = tokens.get(j) {
        let lower = t.text.as_str();
        let next = tokens.get(j + 1).map(|n| n.text.as_str()).unwrap_or("");
        let ca = lower.len() == 3 && next.len() == 3 && is_ca_half(lower, true) && is_ca_half(next, false);
        let uk = (2..=4).contains(&lower.len())
            && next.len() == 3
            && lower.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && lower.chars().any(|c| c.is_ascii_digit())
            && next.chars().next().is_some_and(|c| c.is_ascii_digit())
            && next.chars().skip(1).all(|c| c.is_ascii_alphabetic());
        if ca || uk {
            address.postal_code = Some(format!("{} {}", lower.to_uppercase(), next.to_uppercase()));
            j += 2;
        } else if let Some((digits, used)) = spoken_number(tokens, j, 5) {
            let digits = if digits.len() > 5 && !lower.bytes().all(|b| b.is_ascii_digit()) {
                digits[..5].to_owned()
            } else {
                digits
            };
            if digits.len() == 5 || (digits.len() == 4 && used <= 4 && !address.line1.is_empty()) {
                address.postal_code = Some(digits);
                j += used.min(5);
            }
        }
    }
    Parsed {
        address,
        start,
        end: j,
    }
}

fn is_ca_half(s: &str, first: bool) -> bool {
    let b = s.as_bytes();
    if first {
        b[0].is_ascii_alphabetic() && b[1].is_ascii_digit() && b[2].is_ascii_alphabetic()
    } else {
        b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_digit()
    }
}

/// Finds the service address (the last one the caller gave; corrections win).
pub(crate) fn find(call: &Call<'_>) -> Option<Field<Address>> {
    find_all(call).pop()
}

/// Every distinct address the caller gave, in order.
pub(crate) fn find_all(call: &Call<'_>) -> Vec<Field<Address>> {
    let mut all: Vec<Field<Address>> = Vec::new();
    let business: Vec<String> = call
        .ctx
        .business
        .addresses
        .iter()
        .map(|a| a.to_lowercase())
        .collect();
    let mut found: Option<Field<Address>> = None;
    let monologue = call.turns.iter().all(|t| t.speaker != super::Speaker::Agent);
    for (i, turn) in call.turns.iter().enumerate() {
        if !turn.is_caller() {
            // The agent reads the address on file and the caller confirms it ("516 Beechwood Boulevard, Thursday
            // the 15th?" — "That's it.").
            let confirmed = call.turns.get(i + 1).is_some_and(|next| {
                next.is_caller()
                    && (next.norm.starts_with(" yes")
                        || next.norm.starts_with(" yeah")
                        || next.norm.starts_with(" yep")
                        || next.norm.starts_with(" that's it")
                        || next.norm.starts_with(" that's right")
                        || next.norm.starts_with(" correct")
                        || next.norm.starts_with(" right"))
            });
            let on_file = turn.has(&[
                " i see you",
                " on file",
                " we have you",
                " still at",
                " you're at",
                " you are at",
                " your address",
                " same address",
                " is that still",
            ]) || turn.text.trim_end().ends_with('?')
                && parse_at(turn, 0).is_some()
                && !turn.has(&[" ride", " cab", " taxi", " people", " seats", " to "]);
            if confirmed
                && on_file
                && all.is_empty()
                && !turn.has(&[
                    " our ",
                    " we're at",
                    " we are at",
                    " located",
                    " shop",
                    " office is",
                    " find us",
                    " reach us",
                ])
                && let Some(parsed) = (0..turn.tokens.len()).find_map(|k| parse_at(turn, k))
            {
                let line1 = parsed.address.line1.to_lowercase();
                if !business.iter().any(|b| b.contains(&line1)) {
                    let evidence = turn
                        .slice(parsed.start, parsed.end.max(parsed.start + 1))
                        .to_owned();
                    all.push(Field::new(parsed.address, 0.7, evidence));
                }
            }
            continue;
        }
        if turn.has(&[
            " cab ",
            " taxi",
            " ride ",
            " uber",
            " lyft",
            " restaurant",
            " table ",
        ]) {
            continue;
        }
        let asked = call.prompt_before(i).is_some_and(|p| {
            p.has(&[
                " address",
                " where ",
                " location",
                " located",
                " where's",
                " property",
                " the job",
                " what street",
            ])
        });
        let cue = turn.has(&[
            " i'm at ",
            " we're at ",
            " i am at ",
            " we are at ",
            " address",
            " live at",
            " live on",
            " located",
            " it's at ",
            " house is",
            " property",
            " home is",
            " place is",
            " out to ",
            " over at ",
            " at ",
            " on ",
            " we're on ",
            " i'm on ",
        ]);
        if !(asked || cue || monologue) {
            continue;
        }
        let mut k = 0;
        while k < turn.tokens.len() {
            let mut parsed = parse_at(turn, k);
            // A house number said in groups ("fourteen oh five") after the tail of a phone number ("… one eight
            // eight fourteen oh five north trekell road"): start at the group word.
            if let Some(p) = &parsed
                && super::numbers::digit_word(&turn.tokens[k].text).is_some()
                && !turn.tokens[k].text.bytes().all(|b| b.is_ascii_digit())
            {
                let later = (k + 3..(k + 8).min(turn.tokens.len()))
                    .filter(|&k2| {
                        let w = turn.tokens[k2].text.as_str();
                        p.address.line1.split(' ').next().is_some_and(|n| n.len() > 4)
                            && turn.tokens[k..k2]
                                .iter()
                                .all(|t| super::numbers::digit_word(&t.text).is_some())
                            && super::numbers::digit_word(w).is_none()
                            && is_number_token(w)
                    })
                    .find_map(|k2| parse_at(turn, k2).filter(|q| q.end == p.end));
                if later.is_some() {
                    parsed = later;
                }
            }
            if let Some(parsed) = parsed {
                let line1 = parsed.address.line1.to_lowercase();
                let is_business = business
                    .iter()
                    .any(|b| b.contains(&line1) || line1.contains(b.split(',').next().unwrap_or(b).trim()));
                // An address the agent said first is the business's or a listing's (the caller is repeating it).
                let said_by_agent = call.turns[..i].iter().any(|t| {
                    t.speaker == super::Speaker::Agent
                        && t.norm.contains(&format!(
                            " {} ",
                            line1.split(' ').take(2).collect::<Vec<_>>().join(" ")
                        ))
                });
                let is_business = is_business || said_by_agent;
                if !is_business {
                    let mut address = parsed.address;
                    if address.line2.is_none() {
                        address.line2 = floor_in(turn);
                    }
                    let confidence = if asked { 0.85 } else { 0.75 };
                    let evidence = turn
                        .slice(parsed.start, parsed.end.max(parsed.start + 1))
                        .to_owned();
                    if let Some(last) = all.last()
                        && last.value.line1 == address.line1
                    {
                        all.pop();
                    }
                    all.push(Field::new(address.clone(), confidence, evidence.clone()));
                    found = Some(Field::new(address, confidence, evidence));
                }
                k = parsed.end.max(k + 1);
            } else {
                k += 1;
            }
        }
        // "I'm on the second floor" in a later turn adds line 2.
        if let Some(field) = found.as_mut()
            && field.value.line2.is_none()
        {
            field.value.line2 = floor_in(turn);
            if let Some(last) = all.last_mut() {
                last.value.line2.clone_from(&field.value.line2);
            }
        }
    }
    all
}

/// "second floor", "3rd floor", "back unit", "garden unit", "upstairs unit".
fn floor_in(turn: &Utterance) -> Option<String> {
    turn.tokens.windows(2).find_map(|w| {
        if w[1].text == "floor" {
            floor_word(&w[0].text).map(|n| format!("{n}{} floor", ordinal_suffix(n)))
        } else if w[1].text == "unit"
            && matches!(
                w[0].text.as_str(),
                "back" | "front" | "garden" | "upstairs" | "downstairs" | "basement" | "rear"
            )
        {
            Some(format!("{} unit", capitalise(&w[0].text)))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CallContext, Transcript};

    fn line1(caller: &str) -> Option<Address> {
        let ctx = CallContext::new(chrono::Utc::now(), chrono_tz::America::New_York);
        let transcript = Transcript::new(format!("Agent: Address?\nCaller: {caller}"));
        let call = Call::new(&transcript, &ctx);
        find(&call).map(|f| f.value)
    }

    #[test]
    fn reads_addresses() {
        let cases = [
            (
                "58 Revere Street, Boston, 02114. I'm on the second floor.",
                "58 Revere Street",
            ),
            (
                "seventy two fifteen harrisburg boulevard houston",
                "7215 Harrisburg Boulevard",
            ),
            (
                "1760 Oceanside Boulevard, number 12, Oceanside, 92054.",
                "1760 Oceanside Boulevard",
            ),
            (
                "sixty six oh four thirty fifth avenue southwest unit b seattle",
                "6604 35th Avenue SW",
            ),
            ("6144 Pershing Avenue, St. Louis, 63112.", "6144 Pershing Avenue"),
            (
                "twelve forty east palm canyon drive palm springs",
                "1240 East Palm Canyon Drive",
            ),
            ("9/14 Rutledge Street, Eastwood, 2122.", "14 Rutledge Street"),
            (
                "five two oh five five five three one eight eight fourteen oh five north trekell road casa grande",
                "1405 North Trekell Road",
            ),
            ("88 Fern Street, West Hartford, 06119.", "88 Fern Street"),
            (
                "fifty nine oh four west sixty third terrace mission kansas",
                "5904 West 63rd Terrace",
            ),
            (
                "forty one seventeen upton avenue south minneapolis five five four one oh",
                "4117 Upton Avenue South",
            ),
            // Speech does not carry the hyphen of a Queens number ("89-22").
            (
                "eighty nine twenty two two hundred seventeenth street queens village",
                "8922 217th Street",
            ),
            ("31-14 33rd Street, Astoria.", "31-14 33rd Street"),
            ("4412 North 18th Street, Phoenix.", "4412 North 18th Street"),
        ];
        for (said, want) in cases {
            assert_eq!(line1(said).map(|a| a.line1).as_deref(), Some(want), "{said}");
        }
    }
}
