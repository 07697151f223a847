//! Spoken numbers: digit words for phone numbers and house numbers ("seven oh two", "ninety three sixty five").

use crate::datetime::Token;

/// A single spoken digit ("oh" and "o" are zero).
pub(crate) fn digit_word(word: &str) -> Option<u8> {
    Some(match word {
        "zero" | "oh" | "o" | "0" => 0,
        "one" | "1" => 1,
        "two" | "2" => 2,
        "three" | "3" => 3,
        "four" | "4" => 4,
        "five" | "5" => 5,
        "six" | "6" => 6,
        "seven" | "7" => 7,
        "eight" | "8" => 8,
        "nine" | "9" => 9,
        _ => return None,
    })
}

/// A spoken digit in English or Spanish, for phone numbers of bilingual callers ("ocho tres dos five five five …").
pub(crate) fn phone_digit_word(word: &str) -> Option<u8> {
    if let Some(d) = digit_word(word) {
        return Some(d);
    }
    Some(match word {
        "cero" => 0,
        "uno" => 1,
        "dos" => 2,
        "tres" => 3,
        "cuatro" => 4,
        "cinco" => 5,
        "seis" => 6,
        "siete" => 7,
        "ocho" => 8,
        "nueve" => 9,
        _ => return None,
    })
}

fn teen_word(word: &str) -> Option<u32> {
    Some(match word {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

/// Whether a token is part of a spoken or written number.
pub(crate) fn is_number_token(word: &str) -> bool {
    digit_word(word).is_some()
        || teen_word(word).is_some()
        || tens_word(word).is_some()
        || matches!(word, "hundred" | "thousand" | "double" | "triple")
        || (!word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a spoken house number or similar starting at `i`, as digit groups ("ninety three sixty five" → "9365",
/// "forty one seventeen" → "4117", "twelve hundred" → "1200", "three sixty one" → "361").
/// Returns the digits and the tokens used.
pub(crate) fn spoken_number(tokens: &[Token], i: usize, max_tokens: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut j = i;
    let end = (i + max_tokens).min(tokens.len());
    while j < end {
        let word = tokens[j].text.as_str();
        // "thirty fifth avenue", "two hundred seventeenth street": the words belong to the street's name.
        if j > i && spoken_ordinal(tokens, j).is_some() {
            break;
        }
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(word);
            j += 1;
        } else if let Some(tens) = tens_word(word) {
            let unit = tokens
                .get(j + 1)
                .filter(|_| j + 1 < end && !tokens[j].breaks)
                .and_then(|t| digit_word(&t.text))
                .filter(|d| *d > 0 && !matches!(tokens[j + 1].text.as_str(), "o" | "oh"));
            match unit {
                Some(unit) => {
                    out.push_str(&(tens + u32::from(unit)).to_string());
                    j += 2;
                }
                None => {
                    out.push_str(&tens.to_string());
                    j += 1;
                }
            }
        } else if let Some(teen) = teen_word(word) {
            out.push_str(&teen.to_string());
            j += 1;
        } else if word == "hundred" && !out.is_empty() {
            // "twelve hundred" → 1200; "one hundred twenty" → 120.
            let next_is_number = tokens.get(j + 1).is_some_and(|t| {
                tens_word(&t.text).is_some()
                    || teen_word(&t.text).is_some()
                    || digit_word(&t.text).is_some_and(|d| d > 0)
            });
            if next_is_number {
                let (rest, used) = spoken_number(tokens, j + 1, 2)?;
                let rest = format!("{rest:0>2}");
                out.push_str(&rest);
                j += 1 + used;
            } else {
                out.push_str("00");
                j += 1;
            }
        } else if let Some(d) = digit_word(word) {
            out.push(char::from(b'0' + d));
            j += 1;
        } else {
            break;
        }
        if tokens[j - 1].breaks {
            break;
        }
    }
    if out.is_empty() { None } else { Some((out, j - i)) }
}

/// A spoken ordinal at `i` ("fifth", "thirty fifth", "two hundred seventeenth", "eighteenth"); returns the number
/// and the tokens used. Written ordinals ("35th") are not handled here.
pub(crate) fn spoken_ordinal(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    use crate::datetime::ordinal_word;
    let word = |k: usize| tokens.get(k).map(|t| t.text.as_str()).unwrap_or("");
    let plain = |w: &str| ordinal_word(w).filter(|_| !w.bytes().next().is_some_and(|b| b.is_ascii_digit()));
    let mut k = i;
    let mut value = 0;
    if let Some(d) = digit_word(word(k)).filter(|d| *d > 0)
        && word(k + 1) == "hundred"
    {
        value = u32::from(d) * 100;
        k += 2;
    }
    if let Some(tens) = tens_word(word(k))
        && let Some(unit) = plain(word(k + 1)).filter(|u| (1..=9).contains(u))
    {
        return Some((value + tens + unit, k + 2 - i));
    }
    plain(word(k)).map(|n| (value + n, k + 1 - i))
}

/// Collects runs of spoken or written digits, for phone numbers: "seven oh two five five five …", "617-555-3148",
/// "(617) 555 3148", "double five", "plus four four". Returns (digits, first token, tokens used).
pub(crate) fn digit_runs(tokens: &[Token]) -> Vec<(String, usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let start = i;
        let mut digits = String::new();
        let mut last_digit_token = i;
        let mut j = i;
        while j < tokens.len() {
            let word = tokens[j].text.as_str();
            if !word.is_empty() && word.len() <= 11 && word.bytes().all(|b| b.is_ascii_digit()) {
                digits.push_str(word);
            } else if let Some(d) = phone_digit_word(word) {
                digits.push(char::from(b'0' + d));
            } else if matches!(word, "double" | "triple")
                && let Some(d) = tokens.get(j + 1).and_then(|t| phone_digit_word(&t.text))
            {
                let n = if word == "double" { 2 } else { 3 };
                for _ in 0..n {
                    digits.push(char::from(b'0' + d));
                }
                j += 1;
            } else if let Some(tens) = tens_word(word) {
                // "five five five twenty one forty" style groups.
                let unit = tokens
                    .get(j + 1)
                    .and_then(|t| phone_digit_word(&t.text))
                    .filter(|d| *d > 0 && !matches!(tokens[j + 1].text.as_str(), "o" | "oh"));
                match unit {
                    Some(unit) => {
                        digits.push_str(&(tens + u32::from(unit)).to_string());
                        j += 1;
                    }
                    None => digits.push_str(&tens.to_string()),
                }
            } else if let Some(teen) = teen_word(word).filter(|_| !digits.is_empty()) {
                digits.push_str(&teen.to_string());
            } else if word == "hundred" && !digits.is_empty() {
                digits.push_str("00");
            } else if word == "plus" && digits.is_empty() {
                digits.push('+');
            } else if digits.is_empty() {
                break;
            } else if matches!(word, "uh" | "um" | "dash" | "area" | "code" | "then") && j + 1 < tokens.len()
            {
                j += 1;
                continue;
            } else {
                break;
            }
            last_digit_token = j;
            j += 1;
        }
        if digits.trim_start_matches('+').is_empty() {
            i = start + 1;
        } else {
            runs.push((digits, start, last_digit_token + 1 - start));
            i = last_digit_token + 1;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::tokenize;

    fn spoken(text: &str) -> Option<String> {
        spoken_number(&tokenize(text), 0, 6).map(|(s, _)| s)
    }

    #[test]
    fn house_numbers() {
        assert_eq!(
            spoken("ninety three sixty five tumbleweed").as_deref(),
            Some("9365")
        );
        assert_eq!(spoken("forty one seventeen upton").as_deref(), Some("4117"));
        assert_eq!(spoken("twelve hundred main").as_deref(), Some("1200"));
        assert_eq!(spoken("one hundred twenty main").as_deref(), Some("120"));
        assert_eq!(spoken("58 Revere").as_deref(), Some("58"));
        assert_eq!(spoken("seven oh five elm").as_deref(), Some("705"));
        assert_eq!(spoken("elm"), None);
    }

    #[test]
    fn phone_runs() {
        let runs = digit_runs(&tokenize(
            "my cell is six one two five five five zero seven three eight thank you",
        ));
        assert_eq!(runs[0].0, "6125550738");
        let runs = digit_runs(&tokenize("it's 617-555-3148."));
        assert_eq!(runs[0].0, "6175553148");
        let runs = digit_runs(&tokenize("oh four nine one double five seven oh three"));
        assert_eq!(runs[0].0, "049155703");
        let runs = digit_runs(&tokenize("(617) 555 3148"));
        assert_eq!(runs[0].0, "6175553148");
    }
}
