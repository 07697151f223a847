//! Transcribing the channels of a multi-channel recording apart — Twilio's dual-channel recordings put the
//! caller on channel 1 and the business side on channel 2 — and merging the results in time order with each
//! segment and word tagged by its channel ([`crate::CALLER_CHANNEL`], [`crate::AGENT_CHANNEL`]).

use crate::Result;
use crate::audio::{AudioInput, decode_pcm, encode_wav_pcm16};
use crate::chunking::PartFuture;
use crate::transcriber::TranscribeOptions;
use crate::transcript::{Transcript, TranscriptConfidence, join_texts};

/// Splits a recording into one mono 16-bit PCM WAV per channel at the original sample rate, channel 1 first.
///
/// # Errors
/// [`crate::Error::UnsupportedAudio`] for audio that cannot be decoded locally (Opus);
/// [`crate::Error::InvalidAudio`] when decoding fails.
pub fn split_channels(audio: &AudioInput) -> Result<Vec<AudioInput>> {
    let decoded = decode_pcm(audio)?;
    decoded
        .channels
        .iter()
        .enumerate()
        .map(|(i, samples)| {
            let wav = encode_wav_pcm16(std::slice::from_ref(samples), decoded.sample_rate)?;
            let part = AudioInput::from_bytes(wav)?;
            Ok(match audio.filename() {
                Some(name) => part.with_filename(format!("{name}.ch{}.wav", i + 1)),
                None => part,
            })
        })
        .collect()
}

/// Merges per-channel transcripts (index 0 = channel 1): segments and words tagged with their channel and
/// sorted by start; the text follows the merged segments (or the channels in order when there are none).
pub fn merge_channels(parts: Vec<Transcript>) -> Transcript {
    let mut out = Transcript::default();
    let mut texts = Vec::new();
    let mut weight = 0.0;
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    let mut raws = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let channel = u16::try_from(i + 1).unwrap_or(u16::MAX);
        out.segments.extend(part.segments.into_iter().map(|mut s| {
            s.channel = Some(channel);
            s
        }));
        out.words.extend(part.words.into_iter().map(|mut w| {
            w.channel = Some(channel);
            w
        }));
        texts.push(part.text);
        if let Some(c) = part.confidence {
            let w = part.duration_seconds.unwrap_or(1.0).max(0.01);
            weight += w;
            sum += w * c.mean;
            min = min.min(c.min);
        }
        if out.language.is_none() {
            out.language = part.language;
        }
        out.duration_seconds = match (out.duration_seconds, part.duration_seconds) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        out.usage = match (out.usage.take(), part.usage) {
            (Some(a), Some(b)) => Some(a.combine(&b)),
            (a, b) => a.or(b),
        };
        if out.provider.is_empty() {
            out.provider = part.provider;
        }
        if out.model.is_none() {
            out.model = part.model;
        }
        if out.request_id.is_none() {
            out.request_id = part.request_id;
        }
        out.guards.dropped_silence += part.guards.dropped_silence;
        out.guards.dropped_repetition += part.guards.dropped_repetition;
        raws.push(part.raw.unwrap_or(serde_json::Value::Null));
    }
    out.segments.sort_by(|a, b| a.start.total_cmp(&b.start));
    out.words.sort_by(|a, b| a.start.total_cmp(&b.start));
    out.text = if out.segments.is_empty() {
        join_texts(texts.iter().map(String::as_str))
    } else {
        out.text_from_segments()
    };
    out.confidence = if out.segments.iter().any(|s| s.confidence.is_some()) {
        crate::confidence::summarize(&out.segments)
    } else {
        (weight > 0.0).then(|| TranscriptConfidence {
            mean: sum / weight,
            min,
        })
    };
    out.raw = Some(serde_json::Value::Array(raws));
    out.no_speech = out.text.trim().is_empty();
    out
}

/// Transcribes each channel with `transcribe_part` (in channel order) and merges them. Mono audio, or audio
/// that cannot be decoded locally, is passed through whole.
pub async fn transcribe_channels_apart<'a, F>(
    audio: &AudioInput,
    options: &TranscribeOptions,
    transcribe_part: F,
) -> Result<Transcript>
where
    F: Fn(AudioInput, TranscribeOptions) -> PartFuture<'a>,
{
    let mut part_options = options.clone();
    part_options.split_channels = false;
    if audio.channels().unwrap_or(1) < 2 || !audio.format().is_decodable() {
        return transcribe_part(audio.clone(), part_options).await;
    }
    let mut parts = Vec::new();
    for channel in split_channels(audio)? {
        parts.push(transcribe_part(channel, part_options.clone()).await?);
    }
    Ok(merge_channels(parts))
}
