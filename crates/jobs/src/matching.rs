//! Customer matching: normalisation and scoring, shared by every backend so they decide identically.
//!
//! Names are compared with Jaro-Winkler (the `strsim` crate) after normalisation, addresses by a normalised
//! key (lower-case ASCII, punctuation dropped, common street-type words abbreviated, unit markers unified,
//! plus the postal code), phones by exact E.164 equality.

use crate::model::{Address, CustomerInput, MatchReason, PhoneNumber};

/// Names at least this similar (Jaro-Winkler) count as the same person.
pub const NAME_SIMILARITY_THRESHOLD: f64 = 0.85;

/// Lower-case, punctuation-free, single-spaced name.
pub fn normalize_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn abbreviate(word: &str) -> &str {
    match word {
        "street" => "st",
        "avenue" => "ave",
        "road" => "rd",
        "drive" => "dr",
        "boulevard" => "blvd",
        "lane" => "ln",
        "court" => "ct",
        "place" => "pl",
        "terrace" => "ter",
        "highway" => "hwy",
        "north" => "n",
        "south" => "s",
        "east" => "e",
        "west" => "w",
        "apartment" | "apt" | "unit" | "suite" | "ste" | "no" => "#",
        other => other,
    }
}

/// The address key two addresses must share to count as the same place: line 1, line 2 and the postal code
/// (or the city when there is no postal code), normalised. Empty when line 1 is unknown.
pub fn address_key(address: &Address) -> String {
    let Some(line1) = address.line1.as_deref().filter(|s| !s.trim().is_empty()) else {
        return String::new();
    };
    let norm = |s: &str| -> String {
        let cleaned: String = s
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_ascii_lowercase()
                } else if c == '#' {
                    '#'
                } else {
                    ' '
                }
            })
            .collect();
        cleaned
            .split_whitespace()
            .map(abbreviate)
            .collect::<Vec<_>>()
            .join(" ")
            .replace("# ", "#")
    };
    let place = address
        .postal_code
        .as_deref()
        .or(address.city.as_deref())
        .map(norm)
        .unwrap_or_default();
    let line2 = address.line2.as_deref().map(norm).unwrap_or_default();
    format!("{}|{}|{}", norm(line1), line2, place)
}

/// Text a search term is matched against: normalised name, phones and the address on one line.
pub(crate) fn search_text(name: &str, phones: &[PhoneNumber], address: &Address) -> String {
    let mut s = name.to_ascii_lowercase();
    for p in phones {
        s.push(' ');
        s.push_str(p.as_str());
    }
    s.push(' ');
    s.push_str(&address.one_line().to_ascii_lowercase());
    s
}

/// The lower-cased terms of a search query.
pub(crate) fn search_terms(query: &str) -> Vec<String> {
    query.split_whitespace().map(|t| t.to_ascii_lowercase()).collect()
}

/// A candidate as the scorer sees it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate<'a> {
    pub name: &'a str,
    pub phones: &'a [PhoneNumber],
    pub address: &'a Address,
}

/// How a candidate relates to the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    pub score: f64,
    pub reason: MatchReason,
    pub confident: bool,
}

/// Scores a candidate; `None` when it shares neither phone nor address (not a candidate at all).
pub(crate) fn score(input: &CustomerInput, candidate: &Candidate<'_>) -> Option<Scored> {
    let same_phone = input.phone.as_ref().is_some_and(|p| candidate.phones.contains(p));
    let key = address_key(&input.address);
    let same_address = !key.is_empty() && key == address_key(candidate.address);
    if !same_phone && !same_address {
        return None;
    }
    let input_name = input.name.as_deref().map(normalize_name).unwrap_or_default();
    let candidate_name = normalize_name(candidate.name);
    let name_similarity = if input_name.is_empty() || candidate_name.is_empty() {
        None
    } else {
        // Round so every backend and the model test compare equal values.
        Some((strsim::jaro_winkler(&input_name, &candidate_name) * 1000.0).round() / 1000.0)
    };
    let similar = name_similarity.is_some_and(|s| s >= NAME_SIMILARITY_THRESHOLD);
    let confident = (same_phone && (similar || name_similarity.is_none())) || (same_address && similar);
    let raw = 0.55 * f64::from(u8::from(same_phone))
        + 0.30 * f64::from(u8::from(same_address))
        + 0.15 * name_similarity.unwrap_or(0.5);
    let score = (raw * 1000.0).round() / 1000.0;
    Some(Scored {
        score,
        reason: MatchReason {
            same_phone,
            same_address,
            name_similarity,
        },
        confident,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(line1: &str, postal: &str) -> Address {
        Address {
            line1: Some(line1.into()),
            postal_code: Some(postal.into()),
            ..Address::default()
        }
    }

    #[test]
    fn address_key_ignores_case_punctuation_and_street_words() {
        assert_eq!(
            address_key(&addr("42 Oak Street", "10701")),
            address_key(&addr("42 oak st.", "10701"))
        );
        let a = Address {
            line2: Some("Apartment 3B".into()),
            ..addr("42 Oak St", "10701")
        };
        let b = Address {
            line2: Some("#3b".into()),
            ..addr("42 Oak St", "10701")
        };
        assert_eq!(address_key(&a), address_key(&b));
        assert_ne!(
            address_key(&addr("42 Oak St", "10701")),
            address_key(&addr("44 Oak St", "10701"))
        );
        assert_eq!(address_key(&Address::default()), "");
    }

    #[test]
    fn same_phone_similar_name_is_confident_different_name_is_not() {
        let phone = PhoneNumber::parse("+19145552177").unwrap();
        let phones = [phone.clone()];
        let empty = Address::default();
        let cand = Candidate {
            name: "Maria Lopez",
            phones: &phones,
            address: &empty,
        };
        let mut input = CustomerInput {
            name: Some("maria lópez".into()),
            phone: Some(phone.clone()),
            ..CustomerInput::default()
        };
        let s = score(&input, &cand).unwrap();
        assert!(s.confident && s.reason.same_phone, "{s:?}");
        input.name = Some("John Smith".into());
        let s = score(&input, &cand).unwrap();
        assert!(
            !s.confident,
            "same phone, different person: a suggestion, not a match"
        );
        input.name = None;
        assert!(score(&input, &cand).unwrap().confident);
        input.phone = Some(PhoneNumber::parse("+19145550000").unwrap());
        assert!(score(&input, &cand).is_none());
    }
}
