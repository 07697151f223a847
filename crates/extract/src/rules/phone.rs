//! Phone numbers: spoken or written digits → E.164 with the business's region as default (`phonenumber` crate).

use std::str::FromStr;

use phonenumber::country::Id;

/// Normalises a number as said ("6175553148", "07700900742", "+447700900742") to E.164, using `region` (ISO 3166
/// alpha-2) when no country code was said. `None` when it cannot be a phone number there.
pub fn to_e164(digits: &str, region: &str) -> Option<String> {
    let cleaned: String = digits
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let bare = cleaned.trim_start_matches('+');
    if bare.len() < 7 || bare.len() > 15 {
        return None;
    }
    let country = Id::from_str(region).ok();
    let candidates: Vec<String> = if cleaned.starts_with('+') {
        vec![cleaned.clone()]
    } else if matches!(region, "US" | "CA") && bare.len() == 11 && bare.starts_with('1') {
        vec![format!("+{bare}")]
    } else {
        vec![bare.to_owned()]
    };
    for candidate in candidates {
        let Ok(number) = phonenumber::parse(country, &candidate) else {
            continue;
        };
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let national_len = e164.len() - 1 - number.code().value().to_string().len();
        // Fictional ranges (555-01xx, Ofcom drama numbers, ACMA 0491 570) are not "valid" in libphonenumber's
        // metadata but are well-formed: accept the lengths each plan uses.
        let plausible_length = match number.code().value() {
            1 => national_len == 10,
            44 => (9..=10).contains(&national_len),
            61 => national_len == 9,
            _ => (7..=12).contains(&national_len),
        };
        if number.is_valid() || plausible_length {
            // A NANP number never starts its area code or exchange with 0 or 1.
            if number.code().value() == 1 {
                let national = &e164[2..];
                if national.starts_with(['0', '1']) || national[3..].starts_with(['0', '1']) {
                    continue;
                }
            }
            return Some(e164);
        }
    }
    None
}

/// The digits of a phone number in any format, for comparisons ("+1 (617) 555-3148" → "16175553148").
pub(crate) fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Whether two numbers are the same line (compares the last ten digits, or all when shorter).
pub(crate) fn same_number(a: &str, b: &str) -> bool {
    let (a, b) = (digits_of(a), digits_of(b));
    if a.len() < 7 || b.len() < 7 {
        return false;
    }
    let tail = |s: &str| s[s.len().saturating_sub(9)..].to_owned();
    tail(&a) == tail(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_by_region() {
        assert_eq!(to_e164("6175553148", "US").as_deref(), Some("+16175553148"));
        assert_eq!(to_e164("16175553148", "US").as_deref(), Some("+16175553148"));
        assert_eq!(to_e164("6135550174", "CA").as_deref(), Some("+16135550174"));
        assert_eq!(to_e164("07700900742", "GB").as_deref(), Some("+447700900742"));
        assert_eq!(to_e164("0491570384", "AU").as_deref(), Some("+61491570384"));
        assert_eq!(to_e164("+447700900742", "US").as_deref(), Some("+447700900742"));
        assert_eq!(to_e164("0291234567", "AU").as_deref(), Some("+61291234567"));
        assert_eq!(to_e164("55410", "US"), None);
        assert_eq!(to_e164("1234567890", "US"), None);
    }

    #[test]
    fn same_number_ignores_format() {
        assert!(same_number("+1 (617) 555-3148", "6175553148"));
        assert!(!same_number("6175553148", "6175553149"));
    }
}
