//! The caller's name: self-introductions, answers to "Name?", and names spelled letter by letter.

use super::lexicon::{is_common_word, is_title};
use super::{Call, Utterance};
use crate::datetime::Token;
use crate::types::{Field, Speaker};

/// Phrases after which a name follows (lower-case token sequences).
const INTRODUCERS: &[&[&str]] = &[
    &["my", "name", "is"],
    &["my", "name's"],
    &["name", "is"],
    &["name's"],
    &["this", "is"],
    &["it's"],
    &["i'm"],
    &["im"],
    &["i", "am"],
    &["her", "name", "is"],
    &["his", "name", "is"],
    &["under"],
    &["the", "name", "is"],
    &["speaking", "with"],
    &["calling", "is"],
];

/// Words that end a name.
fn stops_name(word: &str) -> bool {
    is_common_word(word)
        || super::numbers::is_number_token(word)
        || matches!(
            word,
            "from"
                | "with"
                | "calling"
                | "here"
                | "at"
                | "and"
                | "of"
                | "speaking"
                | "again"
                | "over"
                | "down"
                | "on"
                | "about"
                | "for"
                | "in"
                | "under"
                | "spelled"
                | "spelt"
                | "family"
                | "surname"
                | "last"
        )
}

/// A token that can be part of a name.
fn name_like(token: &Token, original: &str) -> bool {
    let word = token.text.as_str();
    if word.len() < 2 && word != "o" {
        return false;
    }
    let date_word = matches!(
        word,
        "monday"
            | "tuesday"
            | "wednesday"
            | "thursday"
            | "friday"
            | "saturday"
            | "sunday"
            | "today"
            | "tonight"
            | "tomorrow"
            | "noon"
            | "midday"
            | "morning"
            | "afternoon"
            | "evening"
            | "asap"
            | "january"
            | "february"
            | "march"
            | "april"
            | "june"
            | "july"
            | "august"
            | "september"
            | "october"
            | "november"
            | "december"
    );
    if stops_name(word) || date_word {
        return false;
    }
    // Contractions ("we've", "there's") are not names; "O'Sullivan" and "D'Angelo" are.
    if let Some((_, tail)) = word.split_once('\'')
        && matches!(tail, "ve" | "re" | "ll" | "d" | "s" | "t" | "m")
    {
        return false;
    }
    let first = original.chars().next();
    first.is_some_and(char::is_alphabetic) && word.chars().all(|c| c.is_alphabetic() || c == '\'' || c == '-')
}

/// Capitalises a name part: "o'sullivan" → "O'Sullivan", "marc-andré" → "Marc-André", "mcdonald" → "McDonald".
pub(crate) fn capitalise(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut upper_next = true;
    for c in word.chars() {
        if upper_next {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper_next = c == '\'' || c == '-';
    }
    // Upper-case the letter after "Mc" by characters, not bytes: its upper-case form may have another length.
    if let Some(rest) = out.strip_prefix("Mc")
        && rest.chars().count() >= 2
    {
        let mut chars = rest.chars();
        let first: String = chars.next().into_iter().flat_map(char::to_uppercase).collect();
        out = format!("Mc{first}{}", chars.as_str());
    }
    out
}

/// Reads up to three name tokens at `i`; returns (name, token range end).
fn read_name(turn: &Utterance, mut i: usize) -> Option<(String, usize, usize)> {
    while turn
        .tokens
        .get(i)
        .is_some_and(|t| matches!(t.text.as_str(), "uh" | "um" | "er" | "oh") || is_title(&t.text))
    {
        i += 1;
    }
    let start = i;
    let mut parts: Vec<String> = Vec::new();
    while let Some(token) = turn.tokens.get(i) {
        let original = &turn.text[token.span.clone()];
        if !name_like(token, original) || parts.len() == 3 {
            break;
        }
        // In cased text, a lower-case word after a capitalised name is not part of it ("Maria here").
        let cased = turn.text.chars().any(char::is_uppercase);
        if cased && original.chars().next().is_some_and(char::is_lowercase) {
            break;
        }
        parts.push(capitalise(original));
        i += 1;
        if token.breaks {
            break;
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some((parts.join(" "), start, i))
}

/// Letters spelled out ("S-Z-Y-M-A-N-S-K-I", "s z y m a n s k i", "K as in kilo"): the spelled words in the turn.
fn spelled_words(turn: &Utterance) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for token in &turn.tokens {
        let t = token.text.as_str();
        let letters: Vec<&str> = t.split('-').collect();
        if letters.len() >= 3
            && letters
                .iter()
                .all(|l| l.chars().count() == 1 && l.chars().all(char::is_alphabetic))
        {
            words.push(letters.concat());
            continue;
        }
        if t.chars().count() == 1 && t.chars().all(char::is_alphabetic) && t != "a" && t != "i"
            || (t == "a" || t == "i") && !current.is_empty()
        {
            current.push_str(t);
        } else {
            if current.chars().count() >= 3 {
                words.push(std::mem::take(&mut current));
            }
            current.clear();
        }
        if token.breaks && current.chars().count() >= 3 {
            words.push(std::mem::take(&mut current));
        }
    }
    if current.chars().count() >= 3 {
        words.push(current);
    }
    words
}

/// Finds the caller's name.
pub(crate) fn find(call: &Call<'_>) -> Option<Field<String>> {
    let business_words: Vec<String> = call
        .ctx
        .business
        .name
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect();
    let agent_names: Vec<String> = call
        .turns
        .iter()
        .filter(|t| t.speaker == Speaker::Agent)
        .flat_map(|t| {
            t.tokens
                .windows(2)
                .filter(|w| w[0].text == "is" || w[1].text == "speaking")
                .map(|w| {
                    if w[1].text == "speaking" {
                        w[0].text.clone()
                    } else {
                        w[1].text.clone()
                    }
                })
        })
        .collect();
    let mut best: Option<(u8, Field<String>)> = None;
    let consider = |score: u8, name: String, evidence: &str, best: &mut Option<(u8, Field<String>)>| {
        let lower = name.to_lowercase();
        if lower
            .split(' ')
            .all(|w| business_words.contains(&w.to_owned()) || agent_names.contains(&w.to_owned()))
        {
            return;
        }
        if best.as_ref().is_none_or(|(s, _)| score >= *s) {
            let confidence = match score {
                3 => 0.9,
                2 => 0.8,
                _ => 0.6,
            };
            *best = Some((score, Field::new(name, confidence, evidence)));
        }
    };
    for (i, turn) in call.turns.iter().enumerate() {
        if !turn.is_caller() {
            continue;
        }
        let asked = call.prompt_before(i).is_some_and(|p| {
            p.has(&[
                " name",
                " who am i speaking",
                " who's calling",
                " who is calling",
                " who do i have",
            ]) && !p.has(&[" street name", " company name", " business name", " name of the"])
        });
        // An answer to "Name?": the turn starts with the name (after fillers and introducers).
        if asked {
            let mut j = 0;
            while turn.tokens.get(j).is_some_and(|t| {
                matches!(
                    t.text.as_str(),
                    "sure"
                        | "yes"
                        | "yeah"
                        | "yep"
                        | "oh"
                        | "uh"
                        | "um"
                        | "it's"
                        | "its"
                        | "okay"
                        | "ok"
                        | "so"
                        | "hi"
                        | "of"
                        | "course"
                        | "certainly"
                )
            }) {
                j += 1;
            }
            for intro in INTRODUCERS {
                if turn.tokens.len() >= j + intro.len()
                    && turn.tokens[j..j + intro.len()]
                        .iter()
                        .zip(intro.iter())
                        .all(|(t, w)| t.text == *w)
                {
                    j += intro.len();
                    break;
                }
            }
            if let Some((name, s, e)) = read_name(turn, j) {
                consider(3, name, turn.slice(s, e), &mut best);
                continue;
            }
        }
        // Self-introductions anywhere in a caller turn.
        for k in 0..turn.tokens.len() {
            for intro in INTRODUCERS {
                let end = k + intro.len();
                if end > turn.tokens.len()
                    || !turn.tokens[k..end]
                        .iter()
                        .zip(intro.iter())
                        .all(|(t, w)| t.text == *w)
                {
                    continue;
                }
                let weak = matches!(intro, [w] if matches!(*w, "it's" | "i'm" | "im" | "under"))
                    || intro == &["i", "am"];
                if weak && k > 3 && !turn.tokens[k - 1].breaks {
                    continue;
                }
                let Some((name, s, e)) = read_name(turn, end) else {
                    continue;
                };
                // "this is" / "it's" / "I'm" need something that looks like a name: capitalised in cased text, or
                // followed by a clause break or a second name-like word in lower-case text.
                let cased = turn.text.chars().any(char::is_uppercase);
                let parts = name.split(' ').count();
                if weak && !cased && parts < 2 && !turn.tokens[e - 1].breaks {
                    continue;
                }
                let score = if intro.len() >= 2 && intro.contains(&"name") {
                    2
                } else {
                    1
                };
                consider(score, name, turn.slice(s, e), &mut best);
            }
        }
    }
    let (_, mut field) = best?;
    // "dustin and it's spelled k r a u s e", "rhonda and it's vaughn": a surname after a first name.
    if !field.value.contains(' ') {
        for turn in call.turns.iter().filter(|t| t.is_caller()) {
            let words: Vec<&str> = turn.tokens.iter().map(|t| t.text.as_str()).collect();
            if let Some(k) = words
                .windows(2)
                .position(|w| w[0] == field.value.to_lowercase() && w[1] == "and")
            {
                let mut j = k + 2;
                while words.get(j).is_some_and(|w| {
                    matches!(
                        *w,
                        "it's"
                            | "its"
                            | "the"
                            | "last"
                            | "name"
                            | "name's"
                            | "surname"
                            | "is"
                            | "spelled"
                            | "spelt"
                            | "uh"
                            | "um"
                    )
                }) {
                    j += 1;
                }
                if let Some(token) = turn.tokens.get(j)
                    && token.text.chars().count() > 1
                    && name_like(token, &turn.text[token.span.clone()])
                {
                    field.value = format!("{} {}", field.value, capitalise(&token.text));
                } else if let Some(spelled) = spelled_words(turn).first() {
                    field.value = format!("{} {}", field.value, capitalise(spelled));
                }
            }
        }
    }
    // Apply spellings: a spelled word replaces the name part it spells.
    for turn in call.turns.iter().filter(|t| t.is_caller()) {
        for spelled in spelled_words(turn) {
            let mut parts: Vec<String> = field.value.split(' ').map(str::to_owned).collect();
            let target = parts
                .iter()
                .position(|p| p.to_lowercase() == spelled)
                .or_else(|| {
                    parts.iter().position(|p| {
                        let p = p.to_lowercase();
                        p.chars().next() == spelled.chars().next() && p.len().abs_diff(spelled.len()) <= 2
                    })
                });
            if let Some(target) = target {
                parts[target] = capitalise(&spelled);
                field.value = parts.join(" ");
                field.confidence = (field.confidence + 0.05).min(0.95);
            }
        }
    }
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalises_names() {
        assert_eq!(capitalise("o'sullivan"), "O'Sullivan");
        assert_eq!(capitalise("marc-andré"), "Marc-André");
        assert_eq!(capitalise("mcdonald"), "McDonald");
        assert_eq!(capitalise("SMITH"), "Smith");
    }

    #[test]
    fn capitalising_after_mc_counts_characters_not_bytes() {
        // 'ı' (2 bytes) upper-cases to 'I' (1 byte): slicing by the upper-cased length used to panic.
        assert_eq!(capitalise("mcıa"), "McIa");
        assert_eq!(capitalise("mcéa"), "McÉa");
    }
}
