//! Confidence and hallucination guards, as pure functions every backend shares.
//!
//! The thresholds are Whisper's own (openai/whisper `transcribe.py`, whisper.cpp's server defaults):
//! a segment is **silence** when `no_speech_prob > 0.6` **and** `avg_logprob < −1`; a text whose gzip
//! compression ratio exceeds 2.4 is repetitive (the classic hallucination loop).
//!
//! * Segment confidence: `exp(avg_logprob) × (1 − no_speech_prob)`, capped at 0.3 when
//!   `compression_ratio > 2.4` ([`segment_confidence`]).
//! * Transcript confidence: the duration-weighted mean over segments and the minimum ([`summarize`]); for
//!   token-logprob providers (gpt-4o transcribe) `exp(mean logprob)` and the weakest token
//!   ([`confidence_from_logprobs`]).
//! * Guards ([`apply_guards`]): silence segments are dropped; repetition loops are dropped (a segment whose
//!   text loops on itself, [`is_repetition_loop`], and the third and later copies of a segment repeated
//!   verbatim in a row). Silent audio ends as an empty transcript with [`Transcript::no_speech`] set.
//!
//! [`finalize`] runs all of it on a [`Transcript`] and is what a backend calls last.

use std::io::Write;

use crate::transcript::{GuardReport, Segment, SegmentStats, Transcript, TranscriptConfidence};

/// `no_speech_prob` above which (together with a low `avg_logprob`) a segment is silence.
pub const NO_SPEECH_THRESHOLD: f64 = 0.6;
/// `avg_logprob` below which a decode counts as failed.
pub const LOGPROB_THRESHOLD: f64 = -1.0;
/// Compression ratio above which a text counts as repetitive.
pub const COMPRESSION_RATIO_THRESHOLD: f64 = 2.4;
/// The highest confidence a repetitive segment may get.
pub const REPETITIVE_CONFIDENCE_CAP: f64 = 0.3;
/// How many times in a row an n-gram must occur to count as a loop.
pub const LOOP_MIN_REPEATS: usize = 4;

/// `exp(avg_logprob) × (1 − no_speech_prob)`, capped at [`REPETITIVE_CONFIDENCE_CAP`] when the compression
/// ratio exceeds [`COMPRESSION_RATIO_THRESHOLD`]; `None` without `avg_logprob`. Always in 0..=1.
pub fn segment_confidence(stats: &SegmentStats) -> Option<f64> {
    let avg_logprob = stats.avg_logprob.filter(|v| v.is_finite())?;
    let no_speech = stats
        .no_speech_prob
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
        .clamp(0.0, 1.0);
    let mut conf = avg_logprob.min(0.0).exp() * (1.0 - no_speech);
    if stats
        .compression_ratio
        .is_some_and(|r| r > COMPRESSION_RATIO_THRESHOLD)
    {
        conf = conf.min(REPETITIVE_CONFIDENCE_CAP);
    }
    Some(conf.clamp(0.0, 1.0))
}

/// Whisper's silence rule: `no_speech_prob > 0.6` and `avg_logprob < −1`. False when either is unknown.
pub fn is_silence(stats: &SegmentStats) -> bool {
    matches!(
        (stats.no_speech_prob, stats.avg_logprob),
        (Some(ns), Some(lp)) if ns > NO_SPEECH_THRESHOLD && lp < LOGPROB_THRESHOLD
    )
}

/// Whisper's compression ratio: UTF-8 length of the text divided by its zlib-compressed length (0 for an
/// empty text). Backends that do not report it (whisper.cpp) compute it with this.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    if encoder.write_all(text.as_bytes()).is_err() {
        return 0.0;
    }
    match encoder.finish() {
        Ok(compressed) if !compressed.is_empty() => text.len() as f64 / compressed.len() as f64,
        _ => 0.0,
    }
}

fn normalised_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether a text loops on itself: some run of 1–8 words occurs [`LOOP_MIN_REPEATS`] or more times back to
/// back and the loop covers at least half of the text ("thank you thank you thank you thank you"), or the
/// text is long and compresses beyond [`COMPRESSION_RATIO_THRESHOLD`].
///
/// Short genuine repetitions ("no, no, no") are not loops.
pub fn is_repetition_loop(text: &str) -> bool {
    let words = normalised_words(text);
    if words.len() >= LOOP_MIN_REPEATS {
        for n in 1..=8.min(words.len() / LOOP_MIN_REPEATS) {
            let mut i = 0;
            while i + n <= words.len() {
                let mut repeats = 1;
                while i + (repeats + 1) * n <= words.len()
                    && words[i..i + n] == words[i + repeats * n..i + (repeats + 1) * n]
                {
                    repeats += 1;
                }
                // Single words need one more repeat to tell a loop from emphasis.
                let needed = if n == 1 {
                    LOOP_MIN_REPEATS + 1
                } else {
                    LOOP_MIN_REPEATS
                };
                if repeats >= needed && repeats * n * 2 >= words.len() {
                    return true;
                }
                i += 1;
            }
        }
    }
    text.len() >= 120 && compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD
}

/// Duration-weighted mean and minimum of the segments' confidences (segments without one are skipped;
/// zero-length segments weigh as 10 ms). `None` when no segment has a confidence.
pub fn summarize(segments: &[Segment]) -> Option<TranscriptConfidence> {
    let mut weight = 0.0;
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    for s in segments {
        let Some(c) = s.confidence.filter(|c| c.is_finite()) else {
            continue;
        };
        let w = s.duration().max(0.01);
        weight += w;
        sum += w * c;
        min = min.min(c);
    }
    (weight > 0.0).then(|| TranscriptConfidence {
        mean: (sum / weight).clamp(0.0, 1.0),
        min: min.clamp(0.0, 1.0),
    })
}

/// Confidence from per-token log-probabilities (gpt-4o transcribe `logprobs[]`): `exp(mean)` and the
/// weakest token's probability. `None` for no tokens.
pub fn confidence_from_logprobs(logprobs: &[f64]) -> Option<TranscriptConfidence> {
    let finite: Vec<f64> = logprobs.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    Some(TranscriptConfidence {
        mean: mean.min(0.0).exp(),
        min: min.min(0.0).exp(),
    })
}

/// Drops silence segments and repetition loops; fills in missing segment confidences from their stats.
pub fn apply_guards(segments: Vec<Segment>) -> (Vec<Segment>, GuardReport) {
    let mut report = GuardReport::default();
    let mut kept: Vec<Segment> = Vec::with_capacity(segments.len());
    let mut same_in_a_row = 0usize;
    let mut last_text: Option<Vec<String>> = None;
    for mut seg in segments {
        if is_silence(&seg.stats) {
            report.dropped_silence += 1;
            continue;
        }
        if is_repetition_loop(&seg.text) {
            report.dropped_repetition += 1;
            continue;
        }
        let words = normalised_words(&seg.text);
        if words.is_empty() {
            // Nothing said: not a repetition, just nothing to keep.
            continue;
        }
        if last_text.as_ref() == Some(&words) {
            same_in_a_row += 1;
            // "Hello? Hello?" happens on phone calls; a third verbatim copy in a row is the decoder looping.
            if same_in_a_row >= 2 {
                report.dropped_repetition += 1;
                continue;
            }
        } else {
            same_in_a_row = 0;
        }
        last_text = Some(words);
        if seg.confidence.is_none() {
            seg.confidence = segment_confidence(&seg.stats);
        }
        kept.push(seg);
    }
    (kept, report)
}

/// Runs the guards over a transcript and fills in what can be derived. Call it last in a backend.
///
/// * Segments go through [`apply_guards`]; when any was dropped, `text` is rebuilt from the rest and words
///   inside dropped segments are removed.
/// * Without segments, a `text` that is a repetition loop is dropped.
/// * `confidence` is set from the segments when the backend did not set it.
/// * `no_speech` is set when nothing remains.
pub fn finalize(transcript: &mut Transcript) {
    if transcript.segments.is_empty() {
        if is_repetition_loop(&transcript.text) {
            transcript.text.clear();
            transcript.guards.dropped_repetition += 1;
        }
    } else {
        let before: Vec<(f64, f64)> = transcript.segments.iter().map(|s| (s.start, s.end)).collect();
        let (kept, report) = apply_guards(std::mem::take(&mut transcript.segments));
        let dropped = report.dropped_silence + report.dropped_repetition;
        transcript.guards.dropped_silence += report.dropped_silence;
        transcript.guards.dropped_repetition += report.dropped_repetition;
        if dropped > 0 || kept.len() != before.len() {
            transcript.text = crate::transcript::join_texts(kept.iter().map(|s| s.text.as_str()));
            transcript.words.retain(|w| {
                let mid = (w.start + w.end) / 2.0;
                kept.iter().any(|s| mid >= s.start - 0.05 && mid <= s.end + 0.05)
            });
        }
        transcript.segments = kept;
        if transcript.confidence.is_none() {
            transcript.confidence = summarize(&transcript.segments);
        }
    }
    transcript.text = transcript.text.trim().to_owned();
    transcript.no_speech = transcript.text.is_empty();
    if transcript.no_speech {
        transcript.words.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64, text: &str, lp: f64, ns: f64) -> Segment {
        Segment {
            start,
            end,
            text: text.into(),
            stats: SegmentStats {
                avg_logprob: Some(lp),
                no_speech_prob: Some(ns),
                compression_ratio: Some(compression_ratio(text)),
                temperature: Some(0.0),
            },
            ..Default::default()
        }
    }

    #[test]
    fn segment_confidence_follows_the_formula() {
        // The spec's example segment: avg_logprob −0.286, no_speech 0.0099, ratio 1.236.
        let c = segment_confidence(&SegmentStats {
            avg_logprob: Some(-0.286),
            no_speech_prob: Some(0.0099),
            compression_ratio: Some(1.236),
            temperature: None,
        })
        .unwrap();
        assert!((c - (-0.286f64).exp() * (1.0 - 0.0099)).abs() < 1e-12, "{c}");
        let capped = segment_confidence(&SegmentStats {
            avg_logprob: Some(-0.01),
            no_speech_prob: Some(0.0),
            compression_ratio: Some(3.1),
            temperature: None,
        })
        .unwrap();
        assert_eq!(capped, REPETITIVE_CONFIDENCE_CAP);
        assert_eq!(segment_confidence(&SegmentStats::default()), None);
    }

    #[test]
    fn silence_needs_both_conditions() {
        let s = |ns, lp| SegmentStats {
            no_speech_prob: Some(ns),
            avg_logprob: Some(lp),
            ..Default::default()
        };
        assert!(is_silence(&s(0.9, -1.5)));
        assert!(!is_silence(&s(0.9, -0.5)), "confident text over noise is kept");
        assert!(!is_silence(&s(0.3, -1.5)));
        assert!(!is_silence(&SegmentStats::default()));
    }

    #[test]
    fn loops_are_detected_but_emphasis_is_not() {
        assert!(is_repetition_loop("Thank you. Thank you. Thank you. Thank you."));
        assert!(is_repetition_loop(
            "I'm going to go ahead and I'm going to go ahead and I'm going to go ahead and I'm going to go ahead and"
        ));
        assert!(is_repetition_loop("the the the the the the"));
        assert!(!is_repetition_loop("No, no, no, that's the wrong address."));
        assert!(!is_repetition_loop(
            "Hi, this is Maria Lopez, my kitchen sink is leaking, can someone come next Tuesday at 3 pm?"
        ));
        assert!(compression_ratio(&"you ".repeat(100)) > COMPRESSION_RATIO_THRESHOLD);
        assert!(compression_ratio("My kitchen sink is leaking under the cabinet.") < 2.0);
    }

    #[test]
    fn finalize_drops_silence_and_loops_and_weights_confidence() {
        let mut t = Transcript {
            text: "original".into(),
            segments: vec![
                seg(0.0, 4.0, "My sink is leaking.", -0.1, 0.01),
                seg(4.0, 6.0, "Thank you.", -1.6, 0.95),
                seg(6.0, 8.0, "Hello?", -0.2, 0.02),
                seg(8.0, 9.0, "Hello?", -0.2, 0.02),
                seg(9.0, 10.0, "Hello?", -0.2, 0.02),
                seg(10.0, 20.0, &"you know ".repeat(10), -0.3, 0.1),
            ],
            ..Default::default()
        };
        finalize(&mut t);
        assert_eq!(t.text, "My sink is leaking. Hello? Hello?");
        assert_eq!(t.guards.dropped_silence, 1);
        assert_eq!(t.guards.dropped_repetition, 2);
        assert!(!t.no_speech);
        let c = t.confidence.unwrap();
        let a = (-0.1f64).exp() * 0.99;
        let b = (-0.2f64).exp() * 0.98;
        assert!((c.mean - (4.0 * a + 3.0 * b) / 7.0).abs() < 1e-9);
        assert!((c.min - b).abs() < 1e-9);
    }

    #[test]
    fn silent_audio_gives_an_empty_flagged_transcript() {
        let mut t = Transcript {
            text: "Thank you for watching.".into(),
            segments: vec![seg(0.0, 30.0, "Thank you for watching.", -1.4, 0.97)],
            ..Default::default()
        };
        finalize(&mut t);
        assert_eq!(t.text, "");
        assert!(t.no_speech);
        assert!(t.segments.is_empty());
        assert_eq!(t.confidence, None);
    }

    #[test]
    fn logprob_confidence() {
        let c = confidence_from_logprobs(&[-0.1, -0.3, -2.0]).unwrap();
        assert!((c.mean - (-0.8f64).exp()).abs() < 1e-12);
        assert!((c.min - (-2.0f64).exp()).abs() < 1e-12);
        assert_eq!(confidence_from_logprobs(&[]), None);
    }
}
