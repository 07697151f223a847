//! Splitting audio that is over a provider's limits (25 MiB, 1,400 s for the gpt-4o family) into parts cut
//! at silences with a small overlap, and stitching the parts' transcripts back with correct offsets.
//!
//! * [`plan_chunks`] — pure: from per-frame energies picks cut points at the quietest moment of the last
//!   third of each allowed stretch; chunks overlap by `overlap` seconds and cover the audio in order
//!   (property-tested).
//! * [`stitch`] — pure: shifts every part's segments and words by the part's start, keeps all of the earlier
//!   part's material and, from the later part, what ends after the material already kept: a segment that
//!   straddles the join is trimmed to the words said after it (by word times when the provider gave words,
//!   otherwise by dropping the leading words that repeat the kept text), so speech right after a cut is never
//!   lost and the result stays in time order; parts without segments are joined by text with the repeated
//!   words of the overlap removed.
//! * [`transcribe_in_chunks`] — decodes, plans, encodes each part as 16-bit PCM WAV (mono, at most 16 kHz),
//!   transcribes them in order and stitches.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::audio::{AudioInput, decode_pcm, encode_wav_pcm16, resample};
use crate::transcriber::TranscribeOptions;
use crate::transcript::{Transcript, TranscriptConfidence, Usage, Word};
use crate::{Error, Result};

/// Seconds of overlap between consecutive chunks.
pub const DEFAULT_OVERLAP_SECONDS: f64 = 2.0;
/// Energy frame length in seconds.
pub const FRAME_SECONDS: f64 = 0.02;

/// One planned chunk, in seconds from the start of the audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunk {
    /// Start (inclusive).
    pub start: f64,
    /// End (exclusive).
    pub end: f64,
}

/// Plans chunks over audio of `duration` seconds whose energy per [`FRAME_SECONDS`] frame is `energy`
/// (may be empty: cuts then fall at the maximum length). Each chunk is at most `max_seconds` long;
/// consecutive chunks overlap by `overlap` seconds (clamped to a quarter of `max_seconds`).
///
/// Guarantees (property-tested): the first chunk starts at 0, the last ends at `duration`, every chunk is
/// non-empty and at most `max_seconds` long, starts strictly increase, and each chunk starts no later than
/// the previous one ends (no gap).
pub fn plan_chunks(energy: &[f32], duration: f64, max_seconds: f64, overlap: f64) -> Vec<Chunk> {
    if duration.is_nan() || max_seconds.is_nan() || duration <= 0.0 || max_seconds <= 0.0 {
        return Vec::new();
    }
    if duration <= max_seconds {
        return vec![Chunk {
            start: 0.0,
            end: duration,
        }];
    }
    let overlap = overlap.clamp(0.0, max_seconds / 4.0);
    let mut chunks = Vec::new();
    let mut start = 0.0f64;
    loop {
        let limit = start + max_seconds;
        if limit >= duration {
            chunks.push(Chunk { start, end: duration });
            break;
        }
        // Search the last third of the allowed stretch (but past the overlap) for the quietest frame.
        let lo = (start + max_seconds * 2.0 / 3.0).max(start + overlap * 2.0);
        let mut cut = limit;
        let f_lo = (lo / FRAME_SECONDS).ceil() as usize;
        let f_hi = ((limit / FRAME_SECONDS).floor() as usize).min(energy.len());
        if f_lo < f_hi {
            let mut best = f32::INFINITY;
            for (f, &e) in energy.iter().enumerate().take(f_hi).skip(f_lo) {
                // Later frames win ties so chunks stay long.
                if e <= best {
                    best = e;
                    cut = ((f as f64) + 0.5) * FRAME_SECONDS;
                }
            }
        }
        let cut = cut.clamp(lo.min(limit), limit);
        chunks.push(Chunk { start, end: cut });
        start = (cut - overlap).max(start + max_seconds / 8.0);
    }
    chunks
}

/// RMS energy per [`FRAME_SECONDS`] frame of mono samples.
pub fn frame_energy(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let frame = ((f64::from(sample_rate) * FRAME_SECONDS) as usize).max(1);
    samples
        .chunks(frame)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt())
        .collect()
}

/// Stitches transcripts of overlapping chunks (in order) into one, with times relative to the whole audio.
///
/// # Errors
/// [`Error::InvalidAudio`] when `parts` and `chunks` differ in length.
pub fn stitch(chunks: &[Chunk], parts: Vec<Transcript>) -> Result<Transcript> {
    if chunks.len() != parts.len() {
        return Err(Error::invalid_audio("chunk and transcript counts differ"));
    }
    let mut out = Transcript::default();
    let mut texts: Vec<String> = Vec::new();
    let mut conf_weight = 0.0;
    let mut conf_sum = 0.0;
    let mut conf_min = f64::INFINITY;
    let mut raws = Vec::new();
    let mut request_ids = Vec::new();
    for (i, (chunk, part)) in chunks.iter().zip(parts).enumerate() {
        let mut words: Vec<Word> = part
            .words
            .iter()
            .cloned()
            .map(|mut w| {
                w.start += chunk.start;
                w.end += chunk.start;
                w
            })
            .collect();
        // Words: keep a later chunk's word only when its middle falls after the last kept word's end.
        let words_end = out.words.last().map_or(f64::NEG_INFINITY, |w| w.end);
        words.retain(|w| i == 0 || (w.start + w.end) / 2.0 >= words_end - JOIN_TOLERANCE);
        for mut s in part.segments.iter().cloned() {
            s.start += chunk.start;
            s.end += chunk.start;
            let kept_end = out.segments.last().map_or(f64::NEG_INFINITY, |k| k.end);
            if i == 0 || s.start >= kept_end - JOIN_TOLERANCE {
                out.segments.push(s);
                continue;
            }
            if s.end <= kept_end + JOIN_TOLERANCE {
                // Entirely inside material already kept from the previous chunk.
                continue;
            }
            // Straddles the join: keep only what was said after the kept end.
            let inside: Vec<&Word> = words
                .iter()
                .filter(|w| w.start >= s.start - JOIN_TOLERANCE && w.end <= s.end + JOIN_TOLERANCE)
                .collect();
            let (start, text) = if inside.is_empty() {
                (kept_end, drop_repeated_prefix(&out.text_from_segments(), &s.text))
            } else {
                let after: Vec<&&Word> = inside
                    .iter()
                    .filter(|w| (w.start + w.end) / 2.0 >= kept_end)
                    .collect();
                (
                    after.first().map_or(kept_end, |w| w.start.max(kept_end)),
                    crate::transcript::join_texts(after.iter().map(|w| w.text.as_str())),
                )
            };
            if text.trim().is_empty() {
                continue;
            }
            s.start = start;
            s.text = text;
            out.segments.push(s);
        }
        out.words.extend(words);
        texts.push(part.text.clone());
        if let Some(c) = part.confidence {
            let w = (chunk.end - chunk.start).max(0.01);
            conf_weight += w;
            conf_sum += c.mean * w;
            conf_min = conf_min.min(c.min);
        }
        if out.language.is_none() {
            out.language = part.language.clone();
        }
        out.usage = match (out.usage.take(), &part.usage) {
            (Some(a), Some(b)) => Some(a.combine(b)),
            (a, b) => a.or_else(|| b.clone()),
        };
        if out.provider.is_empty() {
            out.provider = part.provider.clone();
        }
        if out.model.is_none() {
            out.model = part.model.clone();
        }
        out.guards.dropped_silence += part.guards.dropped_silence;
        out.guards.dropped_repetition += part.guards.dropped_repetition;
        if let Some(id) = part.request_id {
            request_ids.push(id);
        }
        raws.push(part.raw.unwrap_or(serde_json::Value::Null));
    }
    let with_segments = !out.segments.is_empty();
    out.text = if with_segments {
        out.text_from_segments()
    } else {
        join_overlapping_texts(&texts)
    };
    out.confidence = if with_segments {
        crate::confidence::summarize(&out.segments)
    } else {
        (conf_weight > 0.0).then(|| TranscriptConfidence {
            mean: conf_sum / conf_weight,
            min: conf_min,
        })
    };
    out.duration_seconds = chunks.last().map(|c| c.end);
    out.request_id = (!request_ids.is_empty()).then(|| request_ids.join(","));
    out.raw = Some(serde_json::Value::Array(raws));
    out.no_speech = out.text.trim().is_empty();
    Ok(out)
}

/// Seconds of slack when comparing times from two chunks' transcripts.
const JOIN_TOLERANCE: f64 = 0.05;

/// `next` without the longest run of its leading words (up to 30) that repeats the end of `kept`.
fn drop_repeated_prefix(kept: &str, next: &str) -> String {
    let joined = join_overlapping_texts(&[kept.to_owned(), next.to_owned()]);
    let kept_words = kept.split_whitespace().count();
    joined
        .split_whitespace()
        .skip(kept_words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Joins texts of overlapping chunks, dropping the longest run of words (up to 30) that ends one text and
/// starts the next.
fn join_overlapping_texts(texts: &[String]) -> String {
    let norm = |w: &str| {
        w.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let mut words: Vec<&str> = Vec::new();
    for text in texts {
        let next: Vec<&str> = text.split_whitespace().collect();
        let max = next.len().min(words.len()).min(30);
        let mut skip = 0;
        for k in (1..=max).rev() {
            let tail = &words[words.len() - k..];
            if tail.iter().zip(&next[..k]).all(|(a, b)| norm(a) == norm(b)) {
                skip = k;
                break;
            }
        }
        words.extend_from_slice(&next[skip..]);
    }
    words.join(" ")
}

/// A future returned by the per-part transcription callback.
pub type PartFuture<'a> = Pin<Box<dyn Future<Output = Result<Transcript>> + Send + 'a>>;

/// Decodes `audio`, plans chunks that fit `max_bytes` (as 16-bit mono WAV) and `max_duration`, transcribes
/// each part with `transcribe_part` in order and stitches the results.
///
/// # Errors
/// [`Error::AudioTooLarge`] when the audio cannot be decoded locally (Opus) and so cannot be split; the first
/// error of any part otherwise.
pub async fn transcribe_in_chunks<'a, F>(
    audio: &AudioInput,
    options: &TranscribeOptions,
    max_bytes: Option<u64>,
    max_duration: Option<Duration>,
    transcribe_part: F,
) -> Result<Transcript>
where
    F: Fn(AudioInput, TranscribeOptions) -> PartFuture<'a>,
{
    let decoded = match decode_pcm(audio) {
        Ok(d) => d,
        Err(Error::UnsupportedAudio { reason }) => {
            return Err(Error::AudioTooLarge {
                message: format!("over the provider's limits and cannot be split locally: {reason}"),
            });
        }
        Err(e) => return Err(e),
    };
    let frames = decoded.frames();
    let n = decoded.channels.len().max(1) as f32;
    let mono: Vec<f32> = (0..frames)
        .map(|i| decoded.channels.iter().map(|c| c[i]).sum::<f32>() / n)
        .collect();
    let rate = decoded.sample_rate.min(crate::audio::WHISPER_SAMPLE_RATE);
    let mono = resample(&mono, decoded.sample_rate, rate);
    let duration = mono.len() as f64 / f64::from(rate);
    let mut max_seconds = max_duration.map_or(f64::INFINITY, |d| d.as_secs_f64() * 0.95);
    if let Some(bytes) = max_bytes {
        max_seconds = max_seconds.min((bytes as f64 * 0.95 - 1024.0) / (f64::from(rate) * 2.0));
    }
    if max_seconds.is_nan() || max_seconds <= DEFAULT_OVERLAP_SECONDS * 4.0 {
        return Err(Error::AudioTooLarge {
            message: "the provider's limits are too small to split this audio".into(),
        });
    }
    let energy = frame_energy(&mono, rate);
    let chunks = plan_chunks(&energy, duration, max_seconds, DEFAULT_OVERLAP_SECONDS);
    let mut parts = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let a = ((chunk.start * f64::from(rate)) as usize).min(mono.len());
        let b = ((chunk.end * f64::from(rate)).ceil() as usize).min(mono.len());
        let wav = encode_wav_pcm16(&[mono[a..b].to_vec()], rate)?;
        let mut part = AudioInput::from_bytes(wav)?;
        if let Some(name) = audio.filename() {
            part = part.with_filename(format!("{name}.part.wav"));
        }
        parts.push(transcribe_part(part, options.clone()).await?);
    }
    let mut stitched = stitch(&chunks, parts)?;
    if stitched.usage.is_none() {
        stitched.usage = Some(Usage::Duration { seconds: duration });
    }
    Ok(stitched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Segment;

    #[test]
    fn short_audio_is_one_chunk() {
        assert_eq!(
            plan_chunks(&[], 10.0, 20.0, 2.0),
            vec![Chunk {
                start: 0.0,
                end: 10.0
            }]
        );
    }

    #[test]
    fn cuts_fall_in_silence() {
        // 100 s of "speech" with a silent frame at 55 s.
        let mut energy = vec![1.0f32; 5000];
        energy[2750] = 0.0;
        let chunks = plan_chunks(&energy, 100.0, 60.0, 2.0);
        assert_eq!(chunks.len(), 2);
        assert!((chunks[0].end - 55.01).abs() < 1e-6, "{:?}", chunks);
        assert!((chunks[1].start - 53.01).abs() < 1e-6);
        assert_eq!(chunks[1].end, 100.0);
    }

    #[test]
    fn stitching_offsets_and_deduplicates_the_overlap() {
        let chunks = [
            Chunk {
                start: 0.0,
                end: 10.0,
            },
            Chunk {
                start: 8.0,
                end: 18.0,
            },
        ];
        let seg = |s: f64, e: f64, t: &str| Segment {
            start: s,
            end: e,
            text: t.into(),
            confidence: Some(0.9),
            ..Default::default()
        };
        let a = Transcript {
            text: "one two".into(),
            segments: vec![seg(0.0, 5.0, "one"), seg(8.0, 9.5, "two")],
            usage: Some(Usage::Duration { seconds: 10.0 }),
            ..Default::default()
        };
        let b = Transcript {
            text: "two three".into(),
            segments: vec![seg(0.0, 1.5, "two"), seg(2.0, 6.0, "three")],
            usage: Some(Usage::Duration { seconds: 10.0 }),
            ..Default::default()
        };
        let t = stitch(&chunks, vec![a, b]).unwrap();
        // The overlap's midpoint is 9 s: "two" from chunk 1 (starts at 8) stays, chunk 2's copy (8) goes.
        let texts: Vec<(&str, f64)> = t.segments.iter().map(|s| (s.text.as_str(), s.start)).collect();
        assert_eq!(texts, vec![("one", 0.0), ("two", 8.0), ("three", 10.0)]);
        assert_eq!(t.text, "one two three");
        assert_eq!(t.duration_seconds, Some(18.0));
        assert_eq!(t.usage, Some(Usage::Duration { seconds: 20.0 }));
    }

    fn seg(s: f64, e: f64, t: &str) -> Segment {
        Segment {
            start: s,
            end: e,
            text: t.into(),
            ..Default::default()
        }
    }

    fn word(s: f64, e: f64, t: &str) -> Word {
        Word {
            start: s,
            end: e,
            text: t.into(),
            ..Default::default()
        }
    }

    #[test]
    fn speech_after_the_cut_in_a_segment_spanning_the_join_is_kept() {
        // Cut at 10 s with 2 s of overlap: the second chunk's first segment starts at its local 0 (8 s).
        let chunks = [
            Chunk {
                start: 0.0,
                end: 10.0,
            },
            Chunk {
                start: 8.0,
                end: 20.0,
            },
        ];
        let a = Transcript {
            segments: vec![seg(0.0, 5.0, "Hi there."), seg(6.0, 9.9, "My card is")],
            ..Default::default()
        };
        let b = Transcript {
            segments: vec![seg(0.0, 4.0, "card is 4111 1111"), seg(4.5, 8.0, "thanks.")],
            ..Default::default()
        };
        let t = stitch(&chunks, vec![a, b]).unwrap();
        assert_eq!(t.text, "Hi there. My card is 4111 1111 thanks.");
        let starts: Vec<f64> = t.segments.iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![0.0, 6.0, 9.9, 12.5]);
    }

    #[test]
    fn words_trim_a_segment_spanning_the_join() {
        let chunks = [
            Chunk {
                start: 0.0,
                end: 10.0,
            },
            Chunk {
                start: 8.0,
                end: 20.0,
            },
        ];
        let a = Transcript {
            segments: vec![seg(6.0, 9.5, "the leak")],
            words: vec![word(6.0, 7.0, "the"), word(7.0, 9.5, "leak")],
            ..Default::default()
        };
        let b = Transcript {
            // Local times: "leak" at 8.0–9.5 absolute, then speech after the cut.
            segments: vec![seg(0.0, 4.0, "leak is upstairs")],
            words: vec![
                word(0.0, 1.5, "leak"),
                word(2.5, 3.0, "is"),
                word(3.0, 4.0, "upstairs"),
            ],
            ..Default::default()
        };
        let t = stitch(&chunks, vec![a, b]).unwrap();
        assert_eq!(t.text, "the leak is upstairs");
        let words: Vec<&str> = t.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, vec!["the", "leak", "is", "upstairs"]);
        assert_eq!(t.segments[1].start, 10.5);
        assert!(t.segments.windows(2).all(|p| p[0].start <= p[1].start));
    }

    #[test]
    fn text_only_parts_drop_repeated_words() {
        assert_eq!(
            join_overlapping_texts(&[
                "my sink is leaking under".into(),
                "leaking under the cabinet".into()
            ]),
            "my sink is leaking under the cabinet"
        );
    }
}
