//! PII redaction: pure functions, no provider needed.
//!
//! What is found and replaced (placeholders in brackets):
//!
//! * **Card numbers** `[CARD]` — 13–19 digits passing the Luhn check, written as digits or spoken as digit
//!   words ("four one one one…", "oh" = 0, "double five" = 55), grouped ("4111 1111 1111 1111",
//!   "4111-1111-…") or not. Digits separated only by spaces, hyphens, commas or full stops count as one run;
//!   every Luhn-valid 13–19-digit window of a run is redacted, so no such window survives.
//! * **Security codes** `[CVV]` — 3–4 digits shortly after "CVV", "CVC", "CID", "CSC", or after "security
//!   code", "code", "verification", "back" when a card is in context.
//! * **Expiry dates** `[EXPIRY]` — `MM/YY`, `MM/YYYY`, `MMYY`, a month name with a year, or spoken digits,
//!   shortly after "expires", "expiry", "expiration", "exp", "valid thru", when a card is in context.
//! * **US Social Security numbers** `[SSN]` — `AAA-GG-SSSS` / `AAA GG SSSS` with valid ranges (area not
//!   000, 666 or 9xx; group not 00; serial not 0000) anywhere, and any 9 digits (also spoken) after
//!   "social security" / "SSN".
//! * **E-mail addresses** `[EMAIL]` — optional ([`RedactionOptions::email`]).
//!
//! "Card in context" means a card word (card, credit, debit, Visa, Mastercard, Amex, Discover) or a detected
//! card number within 40 words. The result is a fixpoint: redacting redacted text changes nothing
//! (property-tested), and PII-free text comes back byte for byte.
//!
//! [`redact_transcript`] applies the same rules to a transcript's text, segments (as one continuous text, so
//! a card number read across two segments is still caught) and words, and drops the raw provider payload,
//! which would still hold the unredacted text.

use serde::{Deserialize, Serialize};

use crate::transcript::{Segment, Transcript, Word};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PiiKind {
    /// A payment card number (PCI).
    CardNumber,
    /// A card security code (CVV/CVC/CID; PCI).
    CardSecurityCode,
    /// A card expiry date (PCI).
    CardExpiry,
    /// A US Social Security number.
    Ssn,
    /// An e-mail address.
    Email,
}

impl PiiKind {
    /// The text that replaces it.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::CardNumber => "[CARD]",
            PiiKind::CardSecurityCode => "[CVV]",
            PiiKind::CardExpiry => "[EXPIRY]",
            PiiKind::Ssn => "[SSN]",
            PiiKind::Email => "[EMAIL]",
        }
    }

    /// Whether it is cardholder data under PCI DSS.
    pub fn is_pci(self) -> bool {
        matches!(
            self,
            PiiKind::CardNumber | PiiKind::CardSecurityCode | PiiKind::CardExpiry
        )
    }
}

/// Where something was redacted: byte offsets into the **input** text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiSpan {
    /// What was found.
    pub kind: PiiKind,
    /// Start byte offset in the input.
    pub start: usize,
    /// End byte offset (exclusive) in the input.
    pub end: usize,
}

/// What to redact. Cards (with CVV and expiry) and SSNs by default; e-mail addresses on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedactionOptions {
    /// Card numbers, security codes and expiry dates.
    pub cards: bool,
    /// US Social Security numbers.
    pub ssn: bool,
    /// E-mail addresses.
    pub email: bool,
}

impl Default for RedactionOptions {
    fn default() -> Self {
        RedactionOptions {
            cards: true,
            ssn: true,
            email: false,
        }
    }
}

impl RedactionOptions {
    /// Everything, e-mail included.
    pub fn all() -> Self {
        RedactionOptions {
            cards: true,
            ssn: true,
            email: true,
        }
    }
}

/// The result of [`redact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text with every finding replaced by its placeholder.
    pub text: String,
    /// The findings, in input order, as byte ranges of the input.
    pub spans: Vec<PiiSpan>,
    /// Whether any cardholder data (card number, CVV, expiry) was found.
    pub pci_detected: bool,
}

/// Redacts `text`.
pub fn redact(text: &str, options: &RedactionOptions) -> Redacted {
    let mut spans = find_spans(text, options);
    if spans.is_empty() {
        return Redacted {
            text: text.to_owned(),
            spans,
            pci_detected: false,
        };
    }
    let mut out = apply(text, &spans);
    // Replacing a finding can bring two others closer together (context windows count words). Run again until
    // nothing changes so the result is a fixpoint; spans of later rounds are mapped back to the input.
    for _ in 0..4 {
        let more = find_spans(&out, options);
        if more.is_empty() {
            break;
        }
        let mapped: Vec<PiiSpan> = more
            .iter()
            .map(|s| {
                let (start, end) = map_back(&spans, s.start, s.end);
                PiiSpan {
                    kind: s.kind,
                    start,
                    end,
                }
            })
            .collect();
        spans.extend(mapped);
        spans = normalise(spans);
        out = apply(text, &spans);
    }
    let pci_detected = spans.iter().any(|s| s.kind.is_pci());
    Redacted {
        text: out,
        spans,
        pci_detected,
    }
}

/// Maps a range of the redacted text back to the input, widening it over any placeholder it touches.
fn map_back(spans: &[PiiSpan], start: usize, end: usize) -> (usize, usize) {
    (to_input(spans, start, false), to_input(spans, end, true))
}

fn to_input(spans: &[PiiSpan], p: usize, is_end: bool) -> usize {
    let mut delta: isize = 0; // input offset − output offset
    for s in spans {
        let ph = s.kind.placeholder().len();
        let s_out = (s.start as isize - delta) as usize;
        let e_out = s_out + ph;
        if p < s_out || (is_end && p == s_out) {
            break;
        }
        if p < e_out || (is_end && p == e_out) {
            return if is_end { s.end } else { s.start };
        }
        delta += (s.end - s.start) as isize - ph as isize;
    }
    (p as isize + delta) as usize
}

/// Sorts spans and merges overlapping ones (the earlier kind wins).
fn normalise(mut spans: Vec<PiiSpan>) -> Vec<PiiSpan> {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out: Vec<PiiSpan> = Vec::with_capacity(spans.len());
    for s in spans {
        if let Some(last) = out.last_mut()
            && s.start < last.end
        {
            last.end = last.end.max(s.end);
            continue;
        }
        out.push(s);
    }
    out
}

fn apply(text: &str, spans: &[PiiSpan]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for s in spans {
        out.push_str(&text[pos..s.start]);
        out.push_str(s.kind.placeholder());
        pos = s.end;
    }
    out.push_str(&text[pos..]);
    out
}

// ------------------------------------------------------------------------------------------------ scanning

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Plain,
    Card,
    /// cvv, cvc, cid, csc: a security code needs no further card context.
    CvvStrong,
    /// code, security, verification, back: a security code only with a card in context.
    CvvWeak,
    Expiry,
    Month,
    Ssn,
    /// A `[CARD]` placeholder: card context, like the number it replaced.
    CardPlaceholder,
}

#[derive(Debug, Clone, Copy)]
enum Tok {
    Digits,
    DigitWord(u8),
    Multiplier(u8),
    Word(Kw),
}

#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    tok: Tok,
    /// Ordinal of the word among all words and numbers of the text (plain words are counted, not stored).
    idx: u32,
}

/// The lower-cased word packed into an integer (words of at most 16 ASCII letters).
fn pack(word: &[u8]) -> Option<u128> {
    if word.is_empty() || word.len() > 16 {
        return None;
    }
    let mut key = 0u128;
    for &c in word {
        key = (key << 8) | u128::from(c.to_ascii_lowercase());
    }
    Some(key)
}

const VOCABULARY: &[(&[&str], Tok)] = &[
    (&["zero", "oh"], Tok::DigitWord(0)),
    (&["one"], Tok::DigitWord(1)),
    (&["two"], Tok::DigitWord(2)),
    (&["three"], Tok::DigitWord(3)),
    (&["four"], Tok::DigitWord(4)),
    (&["five"], Tok::DigitWord(5)),
    (&["six"], Tok::DigitWord(6)),
    (&["seven"], Tok::DigitWord(7)),
    (&["eight"], Tok::DigitWord(8)),
    (&["nine"], Tok::DigitWord(9)),
    (&["double"], Tok::Multiplier(2)),
    (&["triple"], Tok::Multiplier(3)),
    (
        &[
            "card",
            "cards",
            "credit",
            "debit",
            "visa",
            "mastercard",
            "amex",
            "discover",
        ],
        Tok::Word(Kw::Card),
    ),
    (
        &["cvv", "cvc", "cid", "csc", "cvv2", "cvc2"],
        Tok::Word(Kw::CvvStrong),
    ),
    (
        &["code", "security", "verification", "back", "pin"],
        Tok::Word(Kw::CvvWeak),
    ),
    (
        &[
            "expires",
            "expiry",
            "expiration",
            "exp",
            "expire",
            "expiring",
            "expired",
            "thru",
        ],
        Tok::Word(Kw::Expiry),
    ),
    (
        &[
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "jan",
            "feb",
            "mar",
            "apr",
            "jun",
            "jul",
            "aug",
            "sep",
            "sept",
            "oct",
            "nov",
            "dec",
        ],
        Tok::Word(Kw::Month),
    ),
    (&["social", "ssn"], Tok::Word(Kw::Ssn)),
];

const TABLE_BITS: u32 = 8;

/// An open-addressing table over the packed vocabulary: one multiply and usually one compare per word,
/// which keeps redaction near memory speed on text that is mostly plain words.
struct Vocabulary {
    slots: Vec<Option<(u128, Tok)>>,
}

impl Vocabulary {
    fn slot(key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
    }

    fn build() -> Self {
        let mut slots = vec![None; 1 << TABLE_BITS];
        for (words, tok) in VOCABULARY {
            for word in *words {
                let Some(key) = pack(word.as_bytes()) else {
                    continue;
                };
                let mut i = Self::slot(key);
                while slots[i].is_some() {
                    i = (i + 1) & ((1 << TABLE_BITS) - 1);
                }
                slots[i] = Some((key, *tok));
            }
        }
        Vocabulary { slots }
    }

    fn get(&self, word: &[u8]) -> Tok {
        let Some(key) = pack(word) else {
            return Tok::Word(Kw::Plain);
        };
        let mut i = Self::slot(key);
        while let Some((k, tok)) = self.slots[i] {
            if k == key {
                return tok;
            }
            i = (i + 1) & ((1 << TABLE_BITS) - 1);
        }
        Tok::Word(Kw::Plain)
    }
}

fn vocabulary() -> &'static Vocabulary {
    static VOCAB: std::sync::OnceLock<Vocabulary> = std::sync::OnceLock::new();
    VOCAB.get_or_init(Vocabulary::build)
}

fn classify(word: &[u8]) -> Tok {
    vocabulary().get(word)
}

/// Tokenizes into numbers, digit words and keywords; plain words are only counted (in `idx`).
fn tokenize(text: &str, tokens: &mut Vec<Token>) {
    let b = text.as_bytes();
    let mut i = 0;
    let mut idx = 0u32;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            tokens.push(Token {
                start,
                end: i,
                tok: Tok::Digits,
                idx,
            });
            idx += 1;
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word = &b[start..i];
            // Split a trailing digit run off a word ("cvv2" stays whole, "card4111…" does not).
            let alpha_end = word
                .iter()
                .position(|c| c.is_ascii_digit())
                .map_or(i, |p| start + p);
            let alpha = &b[start..alpha_end];
            if alpha_end < i && matches!(classify(word), Tok::Word(Kw::CvvStrong)) {
                tokens.push(Token {
                    start,
                    end: i,
                    tok: Tok::Word(Kw::CvvStrong),
                    idx,
                });
                idx += 1;
                continue;
            }
            let mut tok = classify(alpha);
            if start > 0 && b[start - 1] == b'[' && b.get(alpha_end) == Some(&b']') {
                tok = if alpha == b"CARD" {
                    Tok::Word(Kw::CardPlaceholder)
                } else {
                    Tok::Word(Kw::Plain)
                };
            }
            if !matches!(tok, Tok::Word(Kw::Plain)) {
                tokens.push(Token {
                    start,
                    end: alpha_end,
                    tok,
                    idx,
                });
            }
            idx += 1;
            i = alpha_end;
        } else {
            i += 1;
        }
    }
}

fn is_separator_gap(gap: &[u8]) -> bool {
    gap.iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'-' | b',' | b'.'))
}

/// Short words a caller says while reading out a card number.
const FILLERS: &[&str] = &[
    "um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "okay", "ok", "so", "and", "like", "then",
    "yeah", "yes", "right", "sorry",
];

/// Separators with at most two filler words among them.
fn is_filler_gap(gap: &[u8]) -> bool {
    let mut words = 0;
    for word in gap.split(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'-' | b',' | b'.')) {
        if word.is_empty() {
            continue;
        }
        words += 1;
        if words > 2 || !FILLERS.iter().any(|f| f.as_bytes().eq_ignore_ascii_case(word)) {
            return false;
        }
    }
    true
}

/// A run of digits: written or spoken, with the tokens it came from.
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    /// Index of the first token.
    tok: usize,
    /// Digits: range into the shared digit buffer.
    d0: usize,
    d1: usize,
    /// Written digits (not spoken).
    written: bool,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    u0: usize,
    u1: usize,
}

fn find_spans(text: &str, options: &RedactionOptions) -> Vec<PiiSpan> {
    let mut spans = Vec::new();
    if options.email {
        find_emails(text, &mut spans);
    }
    if !(options.cards || options.ssn) {
        return normalise(spans);
    }
    let b = text.as_bytes();
    let mut tokens = Vec::new();
    tokenize(text, &mut tokens);

    // Units: written digit runs, spoken digits, "double five".
    let mut digits: Vec<u8> = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    let mut t = 0;
    while t < tokens.len() {
        let tk = tokens[t];
        match tk.tok {
            Tok::Digits => {
                let d0 = digits.len();
                digits.extend(b[tk.start..tk.end].iter().map(|c| c - b'0'));
                units.push(Unit {
                    start: tk.start,
                    end: tk.end,
                    tok: t,
                    d0,
                    d1: digits.len(),
                    written: true,
                });
            }
            Tok::DigitWord(d) => {
                let d0 = digits.len();
                digits.push(d);
                units.push(Unit {
                    start: tk.start,
                    end: tk.end,
                    tok: t,
                    d0,
                    d1: d0 + 1,
                    written: false,
                });
            }
            Tok::Multiplier(n) => {
                if let Some(next) = tokens.get(t + 1)
                    && next.idx == tk.idx + 1
                    && let Tok::DigitWord(d) = next.tok
                    && is_separator_gap(&b[tk.end..next.start])
                {
                    let d0 = digits.len();
                    digits.extend(std::iter::repeat_n(d, n as usize));
                    units.push(Unit {
                        start: tk.start,
                        end: next.end,
                        tok: t,
                        d0,
                        d1: digits.len(),
                        written: false,
                    });
                    t += 1;
                }
            }
            Tok::Word(_) => {}
        }
        t += 1;
    }
    if units.is_empty() {
        return normalise(spans);
    }

    // Groups: units separated only by separators.
    let mut groups: Vec<Group> = Vec::new();
    let mut g0 = 0;
    for u in 1..=units.len() {
        if u == units.len() || !is_separator_gap(&b[units[u - 1].end..units[u].start]) {
            groups.push(Group { u0: g0, u1: u });
            g0 = u;
        }
    }

    // Card numbers.
    let mut card_anchor_tokens: Vec<u32> = tokens
        .iter()
        .filter(|t| matches!(t.tok, Tok::Word(Kw::Card | Kw::CardPlaceholder)))
        .map(|t| t.idx)
        .collect();
    let mut unit_used = vec![false; units.len()];
    if options.cards {
        // With a card word nearby, short filler words ("4111 1111, um, 1111 1111") do not end a card number.
        let mut card_groups: Vec<Group> = Vec::new();
        let mut g0 = 0;
        for u in 1..=units.len() {
            if u == units.len()
                || !(is_separator_gap(&b[units[u - 1].end..units[u].start])
                    || (is_filler_gap(&b[units[u - 1].end..units[u].start])
                        && card_words_near(&tokens, units[u - 1].tok)))
            {
                card_groups.push(Group { u0: g0, u1: u });
                g0 = u;
            }
        }
        for g in &card_groups {
            let (d0, d1) = (units[g.u0].d0, units[g.u1 - 1].d1);
            let run = &digits[d0..d1];
            if run.len() < 13 {
                continue;
            }
            // Windows start and end on unit boundaries ("4111 1111 1111 1111 12 27" holds a card and an
            // expiry). With a card word nearby, any digit window counts: a transcriber may glue an extra
            // digit onto a card number, and over-redacting there is the safe side.
            let aggressive = card_words_near(&tokens, units[g.u0].tok);
            let mut covered = vec![false; run.len()];
            let mut any = false;
            let starts: Vec<usize> = if aggressive {
                (0..run.len()).collect()
            } else {
                (g.u0..g.u1).map(|u| units[u].d0 - d0).collect()
            };
            let ends: Vec<bool> = {
                let mut e = vec![aggressive; run.len() + 1];
                for u in g.u0..g.u1 {
                    e[units[u].d1 - d0] = true;
                }
                e
            };
            for a in starts {
                for len in 13..=19 {
                    if a + len > run.len() {
                        break;
                    }
                    if ends[a + len] && luhn_valid(&run[a..a + len]) {
                        covered[a..a + len].iter_mut().for_each(|c| *c = true);
                        any = true;
                    }
                }
            }
            if !any {
                continue;
            }
            // Redact every unit holding a covered digit; contiguous units become one span.
            let mut open: Option<(usize, usize)> = None;
            for u in g.u0..g.u1 {
                let hit = covered[units[u].d0 - d0..units[u].d1 - d0].iter().any(|&c| c);
                if hit {
                    unit_used[u] = true;
                    card_anchor_tokens.push(tokens[units[u].tok].idx);
                    open = Some(match open {
                        Some((s, _)) => (s, units[u].end),
                        None => (units[u].start, units[u].end),
                    });
                } else if let Some((s, e)) = open.take() {
                    spans.push(PiiSpan {
                        kind: PiiKind::CardNumber,
                        start: s,
                        end: e,
                    });
                }
            }
            if let Some((s, e)) = open {
                spans.push(PiiSpan {
                    kind: PiiKind::CardNumber,
                    start: s,
                    end: e,
                });
            }
        }
    }
    card_anchor_tokens.sort_unstable();
    // Closures take a position in `tokens`; distances are counted in words (`idx`).
    let card_near = |pos: usize| {
        let idx = tokens[pos].idx;
        let lo = idx.saturating_sub(40);
        let hi = idx + 40;
        let i = card_anchor_tokens.partition_point(|&a| a < lo);
        card_anchor_tokens.get(i).is_some_and(|&a| a <= hi)
    };
    let words_before = |pos: usize, within: u32| {
        let idx = tokens[pos].idx;
        tokens[..pos]
            .iter()
            .rev()
            .take_while(move |t| t.idx + within >= idx)
    };
    // The nearest code/expiry keyword within a few words before a number decides what the number is.
    let nearest_keyword = |pos: usize| {
        words_before(pos, 6).find_map(|t| match t.tok {
            Tok::Word(k @ (Kw::Expiry | Kw::CvvStrong | Kw::CvvWeak)) => Some(k),
            _ => None,
        })
    };
    let keyword_before = |pos: usize, within: u32, want: &dyn Fn(Kw) -> bool| {
        words_before(pos, within).any(|t| matches!(t.tok, Tok::Word(k) if want(k)))
    };

    for (gi, g) in groups.iter().enumerate() {
        if (g.u0..g.u1).any(|u| unit_used[u]) {
            continue;
        }
        let first = units[g.u0];
        let last = units[g.u1 - 1];
        let n = last.d1 - first.d0;
        let run = &digits[first.d0..last.d1];

        if options.cards {
            // Expiry: "12/27", "12 / 2027", "1227", "December 2027", "one two two seven".
            let nearest = nearest_keyword(first.tok);
            if nearest == Some(Kw::Expiry) && card_near(first.tok) {
                let next = groups.get(gi + 1).copied();
                let slash_pair = next.filter(|ng| {
                    let nu = units[ng.u0];
                    let gap = &b[last.end..nu.start];
                    (1..=2).contains(&n)
                        && ng.u1 - ng.u0 == 1
                        && matches!(units[ng.u0].d1 - units[ng.u0].d0, 2 | 4)
                        && gap.iter().filter(|&&c| c == b'/').count() == 1
                        && gap.iter().all(|&c| c == b'/' || c == b' ')
                });
                if let Some(ng) = slash_pair {
                    spans.push(PiiSpan {
                        kind: PiiKind::CardExpiry,
                        start: first.start,
                        end: units[ng.u0].end,
                    });
                    mark(&mut unit_used, ng.u0, ng.u1);
                    continue;
                }
                let month_before = first.tok > 0
                    && tokens[first.tok - 1].idx + 1 == tokens[first.tok].idx
                    && matches!(tokens[first.tok - 1].tok, Tok::Word(Kw::Month))
                    && matches!(n, 2 | 4);
                if month_before {
                    spans.push(PiiSpan {
                        kind: PiiKind::CardExpiry,
                        start: tokens[first.tok - 1].start,
                        end: last.end,
                    });
                    continue;
                }
                if matches!(n, 3 | 4 | 6) && plausible_expiry(run) {
                    spans.push(PiiSpan {
                        kind: PiiKind::CardExpiry,
                        start: first.start,
                        end: last.end,
                    });
                    continue;
                }
            }
            // Security code.
            if matches!(n, 3 | 4)
                && (nearest == Some(Kw::CvvStrong) || (nearest == Some(Kw::CvvWeak) && card_near(first.tok)))
            {
                spans.push(PiiSpan {
                    kind: PiiKind::CardSecurityCode,
                    start: first.start,
                    end: last.end,
                });
                continue;
            }
        }

        if options.ssn {
            let shaped = g.u1 - g.u0 == 3
                && (g.u0..g.u1).all(|u| units[u].written)
                && units[g.u0].d1 - units[g.u0].d0 == 3
                && units[g.u0 + 1].d1 - units[g.u0 + 1].d0 == 2
                && units[g.u0 + 2].d1 - units[g.u0 + 2].d0 == 4
                && (g.u0..g.u1 - 1).all(|u| {
                    let gap = &b[units[u].end..units[u + 1].start];
                    gap == b"-" || gap == b" "
                });
            let context = n == 9 && keyword_before(first.tok, 10, &|k| k == Kw::Ssn);
            if (shaped && valid_ssn(run)) || context {
                spans.push(PiiSpan {
                    kind: PiiKind::Ssn,
                    start: first.start,
                    end: last.end,
                });
            }
        }
    }
    normalise(spans)
}

/// A card word within 40 words before or 10 after the token at `pos`.
fn card_words_near(tokens: &[Token], pos: usize) -> bool {
    let idx = tokens[pos].idx;
    let before = tokens[..pos].iter().rev().take_while(|t| t.idx + 40 >= idx);
    let after = tokens[pos..].iter().take_while(|t| t.idx <= idx + 10);
    before
        .chain(after)
        .any(|t| matches!(t.tok, Tok::Word(Kw::Card | Kw::CardPlaceholder)))
}

fn mark(used: &mut [bool], u0: usize, u1: usize) {
    used[u0..u1].iter_mut().for_each(|u| *u = true);
}

fn plausible_expiry(run: &[u8]) -> bool {
    let month = match run.len() {
        3 => run[0],
        _ => run[0] * 10 + run[1],
    };
    (1..=12).contains(&month)
}

fn valid_ssn(d: &[u8]) -> bool {
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = d[3] * 10 + d[4];
    let serial = d[5..9].iter().any(|&x| x != 0);
    area != 0 && area != 666 && area < 900 && group != 0 && serial
}

/// The Luhn check on decimal digits (values 0–9, most significant first).
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let d = u32::from(d);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    sum.is_multiple_of(10)
}

fn find_emails(text: &str, spans: &mut Vec<PiiSpan>) {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let domain = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
    let mut from = 0;
    while let Some(off) = b[from..].iter().position(|&c| c == b'@') {
        let at = from + off;
        from = at + 1;
        let mut s = at;
        while s > 0 && local(b[s - 1]) {
            s -= 1;
        }
        while s < at && b[s] == b'.' {
            s += 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if s == at || e == at + 1 {
            continue;
        }
        let dom = &b[at + 1..e];
        let Some(dot) = dom.iter().rposition(|&c| c == b'.') else {
            continue;
        };
        let tld = &dom[dot + 1..];
        if tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) && dot > 0 {
            spans.push(PiiSpan {
                kind: PiiKind::Email,
                start: s,
                end: e,
            });
            from = e;
        }
    }
}

// ------------------------------------------------------------------------------------------------ transcripts

/// What [`redact_transcript`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptRedaction {
    /// Findings in [`Transcript::text`], as byte ranges of the original text.
    pub text_spans: Vec<PiiSpan>,
    /// Whether cardholder data was found anywhere (text, segments or words).
    pub pci_detected: bool,
    /// Number of findings per kind in the text (or the segments, when the text had fewer).
    pub counts: Vec<(PiiKind, u32)>,
}

/// Redacts a transcript's text, segments and words consistently and drops its raw payload.
///
/// Segments are redacted as one text (joined with spaces) so a number read across a segment boundary is
/// caught; the placeholder goes into the segment where the finding starts. Words are redacted the same way:
/// a word touched by a finding becomes the placeholder (its time stretched over the finding's words) and the
/// finding's other words are removed.
///
/// Segments and words tagged with different channels (a dual-channel call transcribed apart) are redacted
/// channel by channel, so an agent's "Okay." between two halves of the caller's card number does not hide
/// it; the transcript text is then rebuilt from the redacted segments ([`TranscriptRedaction::text_spans`]
/// still describes the original interleaved text).
pub fn redact_transcript(
    transcript: &Transcript,
    options: &RedactionOptions,
) -> (Transcript, TranscriptRedaction) {
    let mut out = transcript.clone();
    out.raw = None;
    let text = redact(&transcript.text, options);
    out.text = text.text;

    let (segments, seg_pci, seg_spans) =
        redact_by_channel(&transcript.segments, options, |s| &s.text, |s| s.channel);
    out.segments = segments
        .into_iter()
        .zip(&transcript.segments)
        .map(|(new, old)| Segment {
            text: new,
            ..old.clone()
        })
        .collect();

    let (word_texts, word_pci, _) = redact_by_channel(&transcript.words, options, |w| &w.text, |w| w.channel);
    let mut words: Vec<Word> = Vec::with_capacity(transcript.words.len());
    for (new, old) in word_texts.into_iter().zip(&transcript.words) {
        if new.is_empty() && !old.text.is_empty() {
            // Swallowed by a finding that started in an earlier word: stretch that word.
            if let Some(prev) = words.last_mut() {
                prev.end = prev.end.max(old.end);
            }
            continue;
        }
        words.push(Word {
            text: new,
            ..old.clone()
        });
    }
    out.words = words;
    // Channels transcribed apart: the merged text interleaves the speakers ("4111 1111" / agent "Okay." /
    // "1111 1111"), so it is rebuilt from the segments, which were redacted channel by channel.
    let multi_channel = transcript
        .segments
        .iter()
        .filter_map(|s| s.channel)
        .any(|c| Some(c) != transcript.segments.first().and_then(|s| s.channel));
    if multi_channel && transcript.text == transcript.text_from_segments() {
        out.text = out.text_from_segments();
    }

    let mut counts: Vec<(PiiKind, u32)> = Vec::new();
    let source = if seg_spans.len() > text.spans.len() {
        &seg_spans
    } else {
        &text.spans
    };
    for s in source {
        match counts.iter_mut().find(|(k, _)| *k == s.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.kind, 1)),
        }
    }
    let report = TranscriptRedaction {
        pci_detected: text.pci_detected || seg_pci || word_pci,
        text_spans: text.spans,
        counts,
    };
    (out, report)
}

/// [`redact_pieces`] on each channel's items separately (items without a channel form one group), so
/// another speaker's interjection does not split a number one speaker read out.
fn redact_by_channel<T>(
    items: &[T],
    options: &RedactionOptions,
    text_of: impl Fn(&T) -> &String,
    channel_of: impl Fn(&T) -> Option<u16>,
) -> (Vec<String>, bool, Vec<PiiSpan>) {
    let mut channels: Vec<Option<u16>> = items.iter().map(&channel_of).collect();
    channels.sort_unstable();
    channels.dedup();
    if channels.len() <= 1 {
        return redact_pieces(items, options, text_of);
    }
    let mut texts = vec![String::new(); items.len()];
    let mut pci = false;
    let mut spans = Vec::new();
    for channel in channels {
        let picked: Vec<(usize, &T)> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| channel_of(i) == channel)
            .collect();
        let refs: Vec<&T> = picked.iter().map(|&(_, i)| i).collect();
        let (pieces, p, s) = redact_pieces(&refs, options, |i: &&T| text_of(i));
        for ((index, _), piece) in picked.into_iter().zip(pieces) {
            texts[index] = piece;
        }
        pci |= p;
        spans.extend(s);
    }
    (texts, pci, spans)
}

/// Redacts pieces of text as one space-joined text and hands each piece its share of the result.
fn redact_pieces<T>(
    items: &[T],
    options: &RedactionOptions,
    text_of: impl Fn(&T) -> &String,
) -> (Vec<String>, bool, Vec<PiiSpan>) {
    let mut joined = String::new();
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        if !joined.is_empty() {
            joined.push(' ');
        }
        let start = joined.len();
        joined.push_str(text_of(item));
        ranges.push((start, joined.len()));
    }
    let found = redact(&joined, options);
    if found.spans.is_empty() {
        return (
            items.iter().map(|i| text_of(i).clone()).collect(),
            false,
            Vec::new(),
        );
    }
    let pieces = ranges
        .iter()
        .map(|&(start, end)| {
            let mut piece = String::new();
            let mut pos = start;
            let mut continued = false;
            for s in &found.spans {
                if s.end <= start || s.start >= end {
                    continue;
                }
                if s.start >= start {
                    piece.push_str(&joined[pos..s.start]);
                    piece.push_str(s.kind.placeholder());
                } else {
                    continued = true;
                }
                pos = s.end.min(end);
            }
            if pos < end {
                let rest = &joined[pos..end];
                // The piece starts where a finding from the previous piece ended: drop the separator.
                piece.push_str(if continued && piece.is_empty() {
                    rest.trim_start()
                } else {
                    rest
                });
            }
            piece
        })
        .collect();
    (pieces, found.pci_detected, found.spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> String {
        redact(text, &RedactionOptions::all()).text
    }

    #[test]
    fn luhn_matches_published_test_numbers() {
        let digits = |s: &str| s.bytes().map(|c| c - b'0').collect::<Vec<_>>();
        for valid in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
        ] {
            assert!(luhn_valid(&digits(valid)), "{valid}");
        }
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert!(!luhn_valid(&[]));
    }

    #[test]
    fn filler_words_inside_a_card_number_do_not_split_it() {
        assert_eq!(
            r("my card number is 4111 1111, um, 1111 1111 thanks"),
            "my card number is [CARD] thanks"
        );
        assert_eq!(
            r("the card is four one one one one one one one uh one one one one and one one one one"),
            "the card is [CARD]"
        );
        // Without a card in context, fillers still separate numbers (no card is invented).
        assert_eq!(
            r("call 4111 1111, um, 1111 1111"),
            "call 4111 1111, um, 1111 1111"
        );
        // A non-filler word still ends the number.
        assert!(!r("card 4111 1111 then plumber 1111 1111").contains("[CARD]"));
    }

    #[test]
    fn an_interjection_on_the_other_channel_does_not_split_a_card_number() {
        let seg = |start: f64, channel: u16, text: &str| Segment {
            start,
            end: start + 1.0,
            text: text.into(),
            channel: Some(channel),
            ..Default::default()
        };
        let mut t = Transcript {
            segments: vec![
                seg(0.0, 1, "my card is 4111 1111"),
                seg(1.0, 2, "Okay."),
                seg(2.0, 1, "1111 1111 thanks"),
            ],
            ..Default::default()
        };
        t.words = t
            .segments
            .iter()
            .flat_map(|s| {
                s.text.split(' ').map(|w| Word {
                    start: s.start,
                    end: s.end,
                    text: w.into(),
                    channel: s.channel,
                    ..Default::default()
                })
            })
            .collect();
        t.text = t.text_from_segments();
        let (out, report) = redact_transcript(&t, &RedactionOptions::all());
        assert!(report.pci_detected);
        assert_eq!(out.text, "my card is [CARD] Okay. thanks");
        let segs: Vec<&str> = out.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(segs, vec!["my card is [CARD]", "Okay.", "thanks"]);
        assert!(
            out.words.iter().all(|w| !w.text.contains("1111")),
            "{:?}",
            out.words
        );
    }

    #[test]
    fn card_numbers_in_every_spelling() {
        assert_eq!(
            r("my card is 4111 1111 1111 1111 thanks"),
            "my card is [CARD] thanks"
        );
        assert_eq!(r("it's 4111-1111-1111-1111."), "it's [CARD].");
        assert_eq!(r("number 4111111111111111"), "number [CARD]");
        assert_eq!(r("Amex 3782 822463 10005"), "Amex [CARD]");
        assert_eq!(
            r("four one one one, one one one one, one one one one, one one one one"),
            "[CARD]"
        );
        assert_eq!(
            r(
                "it's double five double five double five double five double five double five four four four four"
            ),
            "it's [CARD]",
        );
        // Not Luhn-valid: left alone.
        assert_eq!(
            r("order 4111 1111 1111 1112 shipped"),
            "order 4111 1111 1111 1112 shipped"
        );
        // A phone number is not a card.
        assert_eq!(r("call me at 914 555 2177"), "call me at 914 555 2177");
    }

    #[test]
    fn cvv_and_expiry_only_in_card_context() {
        let red = redact(
            "Visa 4111 1111 1111 1111, expires 12/27, and the security code is 123.",
            &RedactionOptions::default(),
        );
        assert_eq!(
            red.text,
            "Visa [CARD], expires [EXPIRY], and the security code is [CVV]."
        );
        assert!(red.pci_detected);
        assert_eq!(
            red.spans.iter().map(|s| s.kind).collect::<Vec<_>>(),
            [
                PiiKind::CardNumber,
                PiiKind::CardExpiry,
                PiiKind::CardSecurityCode
            ]
        );
        assert_eq!(
            r("card ending, expiration December 2027, cvv four five six"),
            "card ending, expiration [EXPIRY], cvv [CVV]"
        );
        assert_eq!(r("the cvv is 9876"), "the cvv is [CVV]");
        // Without a card in context a gate code stays.
        assert_eq!(r("the gate code is 1234"), "the gate code is 1234");
        assert_eq!(r("the warranty expires 1227"), "the warranty expires 1227");
    }

    #[test]
    fn ssn_with_shape_or_context() {
        assert_eq!(r("SSN 123-45-6789 ok"), "SSN [SSN] ok");
        assert_eq!(r("it is 123 45 6789"), "it is [SSN]");
        assert_eq!(
            r("bad 666-45-6789 and 000-12-3456"),
            "bad 666-45-6789 and 000-12-3456"
        );
        assert_eq!(
            r("my social is one two three four five six seven eight nine"),
            "my social is [SSN]"
        );
        assert_eq!(r("zip 123456789"), "zip 123456789");
    }

    #[test]
    fn email_is_optional() {
        let text = "mail maria.lopez+home@example.co.uk.";
        assert_eq!(r(text), "mail [EMAIL].");
        assert_eq!(redact(text, &RedactionOptions::default()).text, text);
        assert_eq!(r("at @ sign and a@b"), "at @ sign and a@b");
    }

    #[test]
    fn spans_point_into_the_input() {
        let text = "card 4111111111111111 cvv 123";
        let red = redact(text, &RedactionOptions::default());
        assert_eq!(&text[red.spans[0].start..red.spans[0].end], "4111111111111111");
        assert_eq!(&text[red.spans[1].start..red.spans[1].end], "123");
    }

    #[test]
    fn transcripts_are_redacted_consistently() {
        let t = Transcript {
            text: "My card is 4111 1111 1111 1111 thanks".into(),
            segments: vec![
                Segment {
                    start: 0.0,
                    end: 2.0,
                    text: "My card is 4111 1111".into(),
                    ..Default::default()
                },
                Segment {
                    start: 2.0,
                    end: 4.0,
                    text: "1111 1111 thanks".into(),
                    ..Default::default()
                },
            ],
            words: ["My", "card", "is", "4111", "1111", "1111", "1111", "thanks"]
                .iter()
                .enumerate()
                .map(|(i, w)| Word {
                    start: i as f64 * 0.5,
                    end: i as f64 * 0.5 + 0.4,
                    text: (*w).into(),
                    ..Default::default()
                })
                .collect(),
            raw: Some(serde_json::json!({"text": "4111 1111 1111 1111"})),
            ..Default::default()
        };
        let (red, report) = redact_transcript(&t, &RedactionOptions::default());
        assert!(report.pci_detected);
        assert_eq!(red.text, "My card is [CARD] thanks");
        assert_eq!(red.segments[0].text, "My card is [CARD]");
        assert_eq!(red.segments[1].text, "thanks");
        let words: Vec<&str> = red.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["My", "card", "is", "[CARD]", "thanks"]);
        assert_eq!(red.words[3].start, 1.5);
        assert_eq!(red.words[3].end, 3.4);
        assert_eq!(red.raw, None);
        assert_eq!(report.counts, vec![(PiiKind::CardNumber, 1)]);
    }
}
