//! Turning whisper.cpp's per-token output into [`Segment`]s and [`Word`]s (pure functions, no model needed).
//!
//! whisper.cpp reports, per segment, start and end in centiseconds, a no-speech probability and its tokens,
//! each with an id, its text bytes, its probability and (when token timestamps are on) its own start and end.
//! From these we derive what Whisper's Python implementation and OpenAI's `verbose_json` report:
//! `avg_logprob` is the mean natural log of the text tokens' probabilities (special tokens — timestamps,
//! end-of-text — excluded), and `compression_ratio` is computed from the text with
//! [`crate::confidence::compression_ratio`] since whisper.cpp does not report it.
//!
//! Words are rebuilt from tokens: a token whose text starts with a space starts a new word, any other token
//! (a sub-word piece or punctuation) continues the current one. A word's confidence is the **minimum** of its
//! tokens' probabilities: one bad token is enough to doubt a house number.
//!
//! Non-speech annotations (`[BLANK_AUDIO]`, `(wind howling)`, `*coughs*`), which Whisper models emit on
//! silence and noise, are removed: a segment that holds nothing else is dropped and counted as silence.

use crate::confidence::compression_ratio;
use crate::transcript::{Segment, SegmentStats, Word};

/// One token as whisper.cpp reported it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawToken {
    /// The token's text bytes (a token can end inside a multi-byte UTF-8 character).
    pub(crate) bytes: Vec<u8>,
    /// Probability of the token when it was chosen.
    pub(crate) p: f32,
    /// Start in centiseconds, or negative when unknown.
    pub(crate) t0: i64,
    /// End in centiseconds, or negative when unknown.
    pub(crate) t1: i64,
    /// Timestamp, end-of-text and other control tokens carry no text.
    pub(crate) special: bool,
}

/// One segment as whisper.cpp reported it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSegment {
    /// Start in centiseconds.
    pub(crate) t0: i64,
    /// End in centiseconds.
    pub(crate) t1: i64,
    /// whisper.cpp's no-speech probability (it is computed per 30 s window and repeated for its segments).
    pub(crate) no_speech_prob: f32,
    /// All tokens, special ones included.
    pub(crate) tokens: Vec<RawToken>,
}

/// Segments and words of one audio stream, plus how many segments held only non-speech annotations.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Mapped {
    pub(crate) segments: Vec<Segment>,
    pub(crate) words: Vec<Word>,
    pub(crate) dropped_non_speech: u32,
}

/// Lowest probability fed into `ln` (a zero probability would make the mean `-inf`).
const MIN_PROBABILITY: f64 = 1e-10;

/// Maps one stream's raw segments. `channel` is the 1-based channel when channels are transcribed apart.
pub(crate) fn map_segments(raw: &[RawSegment], channel: Option<u16>, want_words: bool) -> Mapped {
    let mut mapped = Mapped::default();
    for segment in raw {
        let start = centis_to_seconds(segment.t0);
        let end = centis_to_seconds(segment.t1).max(start);
        let words = build_words(&segment.tokens, start, end, channel);
        let kept = strip_annotations(&words);
        if kept.is_empty() {
            if !words.is_empty() {
                mapped.dropped_non_speech += 1;
            }
            continue;
        }
        let text = kept.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let text_tokens: Vec<f64> = segment
            .tokens
            .iter()
            .filter(|t| !t.special)
            .map(|t| f64::from(t.p).clamp(MIN_PROBABILITY, 1.0).ln())
            .collect();
        let avg_logprob =
            (!text_tokens.is_empty()).then(|| text_tokens.iter().sum::<f64>() / text_tokens.len() as f64);
        let stats = SegmentStats {
            avg_logprob,
            no_speech_prob: Some(f64::from(segment.no_speech_prob).clamp(0.0, 1.0)),
            compression_ratio: Some(compression_ratio(&text)),
            temperature: None,
        };
        mapped.segments.push(Segment {
            start,
            end,
            text,
            channel,
            speaker: None,
            confidence: None,
            stats,
        });
        if want_words {
            mapped.words.extend(kept);
        }
    }
    mapped
}

fn centis_to_seconds(centis: i64) -> f64 {
    centis.max(0) as f64 / 100.0
}

/// Groups text tokens into words; times fall back to the segment's and are clamped into it.
fn build_words(tokens: &[RawToken], seg_start: f64, seg_end: f64, channel: Option<u16>) -> Vec<Word> {
    struct Pending {
        bytes: Vec<u8>,
        start: Option<f64>,
        end: Option<f64>,
        min_p: f64,
    }
    let finish = |pending: Pending, out: &mut Vec<Word>| {
        let text = String::from_utf8_lossy(&pending.bytes).trim().to_owned();
        if text.is_empty() {
            return;
        }
        let start = pending.start.unwrap_or(seg_start).clamp(seg_start, seg_end);
        let end = pending.end.unwrap_or(seg_end).clamp(start, seg_end);
        out.push(Word {
            start,
            end,
            text,
            confidence: Some(pending.min_p.clamp(0.0, 1.0)),
            channel,
        });
    };
    let mut words = Vec::new();
    let mut current: Option<Pending> = None;
    for token in tokens.iter().filter(|t| !t.special) {
        let starts_word = token.bytes.first() == Some(&b' ');
        if starts_word && let Some(done) = current.take() {
            finish(done, &mut words);
        }
        let t0 = (token.t0 >= 0).then(|| centis_to_seconds(token.t0));
        let t1 = (token.t1 >= 0).then(|| centis_to_seconds(token.t1));
        let p = f64::from(token.p);
        match &mut current {
            Some(word) => {
                word.bytes.extend_from_slice(&token.bytes);
                word.end = t1.or(word.end);
                word.min_p = word.min_p.min(p);
            }
            None => {
                current = Some(Pending {
                    bytes: token.bytes.clone(),
                    start: t0,
                    end: t1,
                    min_p: p,
                });
            }
        }
    }
    if let Some(done) = current {
        finish(done, &mut words);
    }
    words
}

/// Removes non-speech annotations: closed `[…]`, `(…)` and `*…*` spans, which may run over several words.
///
/// A word survives when it has a letter or digit outside every span; its text then keeps only what lies
/// outside. Words without any letter or digit (a lone dash) survive unless they touch a span. An opening
/// bracket that is never closed in the segment is ordinary text, and so is a span with a digit in it (an area
/// code in parentheses is speech, not an annotation).
fn strip_annotations(words: &[Word]) -> Vec<Word> {
    // Work on the segment's characters, each tagged with the index of the word it belongs to.
    let chars: Vec<(usize, char)> = words
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            w.text
                .chars()
                .map(move |c| (i, c))
                .chain(std::iter::once((i, ' ')))
        })
        .collect();
    let mut in_span = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        let close = match chars[i].1 {
            '[' => Some(']'),
            '(' => Some(')'),
            '*' => Some('*'),
            _ => None,
        };
        if let Some(close) = close
            && let Some(offset) = chars[i + 1..].iter().position(|&(_, c)| c == close)
        {
            let end = i + 1 + offset;
            // Whisper's annotations are words ("[BLANK_AUDIO]", "(wind howling)"); a bracketed span with a
            // digit is speech the caller said, such as the area code in "(914) 555-2177".
            if !chars[i + 1..end].iter().any(|&(_, c)| c.is_ascii_digit()) {
                in_span[i..=end].fill(true);
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
    words
        .iter()
        .enumerate()
        .filter_map(|(index, word)| {
            let mine: Vec<(char, bool)> = chars
                .iter()
                .zip(&in_span)
                .filter(|((w, c), _)| *w == index && *c != ' ')
                .map(|(&(_, c), &span)| (c, span))
                .collect();
            let touches_span = mine.iter().any(|&(_, span)| span);
            if !touches_span {
                return Some(word.clone());
            }
            let outside: String = mine.iter().filter(|(_, span)| !span).map(|&(c, _)| c).collect();
            let outside = outside.trim();
            if !outside.chars().any(char::is_alphanumeric) {
                return None;
            }
            Some(Word {
                text: outside.to_owned(),
                ..word.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, p: f32, t0: i64, t1: i64) -> RawToken {
        RawToken {
            bytes: text.as_bytes().to_vec(),
            p,
            t0,
            t1,
            special: false,
        }
    }

    fn special(t: i64) -> RawToken {
        RawToken {
            bytes: b"[_TT_1]".to_vec(),
            p: 0.05,
            t0: t,
            t1: t,
            special: true,
        }
    }

    fn seg(t0: i64, t1: i64, ns: f32, tokens: Vec<RawToken>) -> RawSegment {
        RawSegment {
            t0,
            t1,
            no_speech_prob: ns,
            tokens,
        }
    }

    #[test]
    fn segments_get_times_in_seconds_text_and_stats_from_text_tokens_only() {
        let raw = [seg(
            0,
            850,
            0.1,
            vec![
                special(0),
                tok(" Hi", 0.5, 0, 28),
                tok(",", 1.0, 53, 56),
                tok(" Oak", 0.25, 424, 454),
                tok(" Street", 1.0, 454, 506),
                special(850),
            ],
        )];
        let mapped = map_segments(&raw, None, true);
        assert_eq!(mapped.segments.len(), 1);
        let s = &mapped.segments[0];
        assert_eq!((s.start, s.end), (0.0, 8.5));
        assert_eq!(s.text, "Hi, Oak Street");
        let expected = (0.5f64.ln() + 0.0 + 0.25f64.ln() + 0.0) / 4.0;
        assert!((s.stats.avg_logprob.unwrap() - expected).abs() < 1e-6);
        assert!((s.stats.no_speech_prob.unwrap() - 0.1).abs() < 1e-6);
        assert!(s.stats.compression_ratio.unwrap() > 0.0);
        assert_eq!(s.channel, None);

        let words: Vec<(&str, f64, f64)> = mapped
            .words
            .iter()
            .map(|w| (w.text.as_str(), w.start, w.end))
            .collect();
        assert_eq!(
            words,
            vec![("Hi,", 0.0, 0.56), ("Oak", 4.24, 4.54), ("Street", 4.54, 5.06)]
        );
        // A word's confidence is its weakest token.
        assert_eq!(mapped.words[0].confidence, Some(0.5));
        assert_eq!(mapped.words[1].confidence, Some(0.25));
    }

    #[test]
    fn sub_word_tokens_join_and_multibyte_characters_split_across_tokens_survive() {
        let e_acute = "é".as_bytes();
        let raw = [seg(
            100,
            300,
            0.0,
            vec![
                tok(" Jos", 0.9, 100, 150),
                RawToken {
                    bytes: vec![e_acute[0]],
                    p: 0.8,
                    t0: 150,
                    t1: 160,
                    special: false,
                },
                RawToken {
                    bytes: vec![e_acute[1]],
                    p: 0.7,
                    t0: 160,
                    t1: 170,
                    special: false,
                },
                tok(" Lopez", 0.95, 180, 290),
            ],
        )];
        let mapped = map_segments(&raw, Some(1), true);
        assert_eq!(mapped.segments[0].text, "José Lopez");
        assert_eq!(mapped.segments[0].channel, Some(1));
        assert_eq!(mapped.words[0].text, "José");
        assert_eq!((mapped.words[0].start, mapped.words[0].end), (1.0, 1.7));
        assert!((mapped.words[0].confidence.unwrap() - 0.7).abs() < 1e-6);
        assert!(mapped.words.iter().all(|w| w.channel == Some(1)));
    }

    #[test]
    fn unknown_token_times_fall_back_to_the_segment_and_stay_inside_it() {
        let raw = [seg(
            200,
            400,
            0.0,
            vec![tok(" one", 0.9, -1, -1), tok(" two", 0.9, 150, 999)],
        )];
        let mapped = map_segments(&raw, None, true);
        let times: Vec<(f64, f64)> = mapped.words.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(times, vec![(2.0, 4.0), (2.0, 4.0)]);
    }

    #[test]
    fn words_are_left_out_unless_asked_for() {
        let raw = [seg(0, 100, 0.0, vec![tok(" hello", 0.9, 0, 100)])];
        let mapped = map_segments(&raw, None, false);
        assert_eq!(mapped.segments.len(), 1);
        assert!(mapped.words.is_empty());
    }

    #[test]
    fn annotation_only_segments_are_dropped_as_non_speech() {
        let blank = seg(
            0,
            952,
            0.94,
            ["[", "BL", "ANK", "_", "AUD", "IO", "]"]
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    tok(
                        &if i == 0 { format!(" {t}") } else { (*t).to_owned() },
                        0.9,
                        0,
                        900,
                    )
                })
                .collect(),
        );
        let wind = seg(
            0,
            258,
            0.88,
            vec![
                tok(" (", 0.3, 1, 20),
                tok("wind", 0.2, 20, 99),
                tok(" how", 0.25, 99, 158),
                tok("ling)", 0.9, 158, 236),
            ],
        );
        let stars = seg(
            300,
            400,
            0.5,
            vec![
                tok(" *", 0.5, 300, 310),
                tok("cough", 0.5, 310, 390),
                tok("s*", 0.5, 390, 400),
            ],
        );
        let mapped = map_segments(&[blank, wind, stars], None, true);
        assert!(mapped.segments.is_empty(), "{:?}", mapped.segments);
        assert!(mapped.words.is_empty());
        assert_eq!(mapped.dropped_non_speech, 3);
    }

    #[test]
    fn annotations_inside_speech_are_removed_and_the_speech_kept() {
        let raw = [seg(
            0,
            500,
            0.1,
            vec![
                tok(" [", 0.9, 0, 10),
                tok("MUSIC", 0.9, 10, 50),
                tok("]", 0.9, 50, 60),
                tok(" Hello", 0.9, 100, 150),
                tok(" (laughs)", 0.9, 150, 200),
                tok(" there.", 0.9, 200, 250),
            ],
        )];
        let mapped = map_segments(&raw, None, true);
        assert_eq!(mapped.segments[0].text, "Hello there.");
        let words: Vec<&str> = mapped.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, vec!["Hello", "there."]);
        assert_eq!(mapped.dropped_non_speech, 0);
    }

    #[test]
    fn a_bracketed_area_code_is_speech_not_an_annotation() {
        let raw = [seg(
            0,
            300,
            0.1,
            vec![
                tok(" call", 0.9, 0, 50),
                tok(" (914)", 0.9, 50, 100),
                tok(" 555-2177", 0.9, 100, 200),
                tok(" (coughs)", 0.9, 200, 300),
            ],
        )];
        let mapped = map_segments(&raw, None, true);
        assert_eq!(mapped.segments[0].text, "call (914) 555-2177");
        let words: Vec<&str> = mapped.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, vec!["call", "(914)", "555-2177"]);
    }

    #[test]
    fn an_unclosed_bracket_is_ordinary_text() {
        let raw = [seg(
            0,
            100,
            0.1,
            vec![tok(" call", 0.9, 0, 50), tok(" (555", 0.9, 50, 100)],
        )];
        let mapped = map_segments(&raw, None, false);
        assert_eq!(mapped.segments[0].text, "call (555");
    }

    #[test]
    fn segments_without_text_tokens_are_skipped_without_counting() {
        let raw = [seg(0, 100, 0.9, vec![special(0), special(100)])];
        let mapped = map_segments(&raw, None, true);
        assert!(mapped.segments.is_empty());
        assert_eq!(mapped.dropped_non_speech, 0);
    }

    #[test]
    fn a_zero_probability_token_gives_a_finite_logprob() {
        let raw = [seg(0, 100, 0.0, vec![tok(" x", 0.0, 0, 100)])];
        let mapped = map_segments(&raw, None, false);
        let lp = mapped.segments[0].stats.avg_logprob.unwrap();
        assert!(lp.is_finite() && lp < -20.0);
    }
}
