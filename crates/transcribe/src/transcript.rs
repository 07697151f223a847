//! What a transcriber returns: [`Transcript`], its [`Segment`]s and [`Word`]s, [`Usage`] for metering and
//! [`TranscriptConfidence`].
//!
//! Times are seconds from the start of the audio as `f64` (what every provider sends). All types are plain
//! structs with public fields and `Default`, so a backend builds them with `..Default::default()`.

use serde::{Deserialize, Serialize};

/// Channel number of the caller in a Twilio two-channel recording (channels are numbered from 1, as Twilio
/// numbers them: the parent call leg, i.e. the caller on an inbound call, is channel 1).
pub const CALLER_CHANNEL: u16 = 1;
/// Channel number of the business side (agent, forwarded-to phone) in a Twilio two-channel recording.
pub const AGENT_CHANNEL: u16 = 2;

/// A transcript of one audio file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Transcript {
    /// The full text (segments joined by spaces, after the hallucination guards).
    pub text: String,
    /// Language as the provider reports it: an ISO-639-1 code (`en`) or a full name (`english`, from
    /// OpenAI's `verbose_json`). Use [`Transcript::language_code`] for a normalised code.
    pub language: Option<String>,
    /// Duration of the audio in seconds, when known.
    pub duration_seconds: Option<f64>,
    /// Time-stamped segments in order; empty when the provider returned only text.
    pub segments: Vec<Segment>,
    /// Word-level timestamps, when requested and available.
    pub words: Vec<Word>,
    /// Transcript-level confidence, when the provider gave the numbers to derive it.
    pub confidence: Option<TranscriptConfidence>,
    /// True when the audio held no speech: the transcript is then empty and was not invented.
    pub no_speech: bool,
    /// What the hallucination guards removed.
    pub guards: GuardReport,
    /// Which backend produced it (`openai`, `azure`, `groq`, `whisper.cpp`, `speaches`, `whisper-local`,
    /// `scripted`, `sidecar`…).
    pub provider: String,
    /// The model that produced it, when known.
    pub model: Option<String>,
    /// The provider's request id (`x-request-id`), for support tickets.
    pub request_id: Option<String>,
    /// What the provider will bill, for metering.
    pub usage: Option<Usage>,
    /// The provider's raw response, as an escape hatch. May contain transcript text: treat as personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

impl Transcript {
    /// The language as a lower-case ISO-639-1 code when it can be derived (`english` → `en`).
    pub fn language_code(&self) -> Option<String> {
        let lang = self.language.as_deref()?.trim().to_ascii_lowercase();
        if lang.len() == 2 {
            return Some(lang);
        }
        let code = match lang.as_str() {
            "english" => "en",
            "spanish" => "es",
            "french" => "fr",
            "german" => "de",
            "italian" => "it",
            "portuguese" => "pt",
            "dutch" => "nl",
            "polish" => "pl",
            "russian" => "ru",
            "chinese" => "zh",
            "japanese" => "ja",
            "korean" => "ko",
            "vietnamese" => "vi",
            "arabic" => "ar",
            "hindi" => "hi",
            "tagalog" => "tl",
            _ => return None,
        };
        Some(code.to_owned())
    }

    /// Rebuilds [`Transcript::text`] from the segments (used after segments were dropped or redacted).
    pub fn text_from_segments(&self) -> String {
        join_texts(self.segments.iter().map(|s| s.text.as_str()))
    }
}

/// Joins pieces of text with single spaces, trimming each.
pub(crate) fn join_texts<'a>(pieces: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for piece in pieces {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

/// One time-stamped stretch of speech.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Segment {
    /// Start, seconds from the start of the audio.
    pub start: f64,
    /// End, seconds from the start of the audio.
    pub end: f64,
    /// The text, trimmed.
    pub text: String,
    /// The audio channel it came from (1-based; see [`CALLER_CHANNEL`]), when channels were transcribed apart.
    pub channel: Option<u16>,
    /// A speaker label from a diarizing provider, when known.
    pub speaker: Option<String>,
    /// Confidence in 0..=1 ([`crate::confidence::segment_confidence`]), when the provider gave the numbers.
    pub confidence: Option<f64>,
    /// The decoder's raw statistics, kept so the confidence formula can change later.
    pub stats: SegmentStats,
}

impl Segment {
    /// Duration in seconds (never negative).
    pub fn duration(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }
}

/// Whisper's per-segment decoder statistics (all optional: not every provider sends every one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentStats {
    /// Mean log-probability of the segment's tokens.
    pub avg_logprob: Option<f64>,
    /// Probability that the segment is not speech.
    pub no_speech_prob: Option<f64>,
    /// gzip compression ratio of the text; high values mean repetition (hallucination).
    pub compression_ratio: Option<f64>,
    /// Decoding temperature that produced the segment.
    pub temperature: Option<f64>,
}

/// One word with its timing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Word {
    /// Start, seconds from the start of the audio.
    pub start: f64,
    /// End, seconds from the start of the audio.
    pub end: f64,
    /// The word as transcribed (may carry punctuation).
    pub text: String,
    /// Probability in 0..=1, when the provider gave one.
    pub confidence: Option<f64>,
    /// The audio channel it came from (1-based), when channels were transcribed apart.
    pub channel: Option<u16>,
}

/// Transcript-level confidence: the duration-weighted mean over segments and the weakest segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TranscriptConfidence {
    /// Duration-weighted mean of segment confidences (or `exp(mean token logprob)` without segments).
    pub mean: f64,
    /// The lowest segment (or token) confidence.
    pub min: f64,
}

/// What the hallucination guards removed from a transcript.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardReport {
    /// Segments dropped as silence (`no_speech_prob > 0.6` and `avg_logprob < −1`).
    pub dropped_silence: u32,
    /// Segments dropped as repetition loops.
    pub dropped_repetition: u32,
}

/// What the provider bills for a transcription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Usage {
    /// Billed by audio duration (whisper-1, Groq; and our own measurement for servers that send nothing).
    Duration {
        /// Seconds of audio.
        seconds: f64,
    },
    /// Billed by tokens (the gpt-4o transcribe family).
    Tokens {
        /// Input tokens (audio + text prompt).
        input_tokens: u64,
        /// Output tokens.
        output_tokens: u64,
        /// Total tokens.
        total_tokens: u64,
        /// Audio input tokens, when broken down.
        audio_tokens: Option<u64>,
        /// Text input tokens, when broken down.
        text_tokens: Option<u64>,
    },
}

impl Usage {
    /// Adds two usages of the same kind (for stitched chunks); a mismatch keeps `self`.
    pub fn combine(&self, other: &Usage) -> Usage {
        match (self, other) {
            (Usage::Duration { seconds: a }, Usage::Duration { seconds: b }) => {
                Usage::Duration { seconds: a + b }
            }
            (
                Usage::Tokens {
                    input_tokens: a_in,
                    output_tokens: a_out,
                    total_tokens: a_total,
                    audio_tokens: a_audio,
                    text_tokens: a_text,
                },
                Usage::Tokens {
                    input_tokens: b_in,
                    output_tokens: b_out,
                    total_tokens: b_total,
                    audio_tokens: b_audio,
                    text_tokens: b_text,
                },
            ) => Usage::Tokens {
                input_tokens: a_in + b_in,
                output_tokens: a_out + b_out,
                total_tokens: a_total + b_total,
                audio_tokens: add_opt(*a_audio, *b_audio),
                text_tokens: add_opt(*a_text, *b_text),
            },
            _ => self.clone(),
        }
    }
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_are_normalised() {
        let mut t = Transcript {
            language: Some("english".into()),
            ..Default::default()
        };
        assert_eq!(t.language_code().as_deref(), Some("en"));
        t.language = Some("EN".into());
        assert_eq!(t.language_code().as_deref(), Some("en"));
        t.language = Some("klingon".into());
        assert_eq!(t.language_code(), None);
    }

    #[test]
    fn usage_serialises_as_openai_tagged_union() {
        let u = Usage::Duration { seconds: 12.5 };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            serde_json::json!({"type": "duration", "seconds": 12.5})
        );
        let sum = u.combine(&Usage::Duration { seconds: 2.5 });
        assert_eq!(sum, Usage::Duration { seconds: 15.0 });
    }

    #[test]
    fn text_is_rebuilt_from_segments() {
        let t = Transcript {
            segments: vec![
                Segment {
                    text: " Hello ".into(),
                    ..Default::default()
                },
                Segment {
                    text: "".into(),
                    ..Default::default()
                },
                Segment {
                    text: "there.".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(t.text_from_segments(), "Hello there.");
    }
}
