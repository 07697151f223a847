//! Test support (feature `testing`): the [`Transcriber`] conformance suite, written once and run against
//! every backend (and through `Arc<dyn Transcriber>`), and [`QueuedTranscriber`], a scripted test double.
//!
//! A backend passes the suite when [`check_all`] returns `Ok`. The suite needs two recordings the backend
//! will transcribe — one with speech whose key words are known, one of silence — described by a
//! [`ConformanceFixture`]. For fakes and mock servers the test scripts the answers; for a real model
//! (local Whisper) the fixture is synthesised speech.
//!
//! Not a stable API: checks may be added.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::audio::AudioInput;
use crate::transcriber::{Capabilities, TranscribeOptions, Transcriber};
use crate::transcript::Transcript;
use crate::{Error, Result};

/// What the suite transcribes.
#[derive(Debug, Clone)]
pub struct ConformanceFixture {
    /// Audio with speech.
    pub speech: AudioInput,
    /// Words (case-insensitive) the transcript of `speech` must contain.
    pub expected_words: Vec<String>,
    /// Audio without speech.
    pub silence: AudioInput,
}

/// A failed conformance check: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {problem}")]
pub struct ConformanceFailure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub problem: String,
}

fn fail(check: &'static str, problem: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        check,
        problem: problem.into(),
    }
}

/// Runs every check.
pub async fn check_all(t: &dyn Transcriber, fixture: &ConformanceFixture) -> Result<(), ConformanceFailure> {
    check_speech_is_transcribed(t, fixture).await?;
    check_transcript_invariants(t, fixture).await?;
    check_silence_is_not_invented(t, fixture).await?;
    check_repeatable(t, fixture).await?;
    check_capabilities_are_honest(t, fixture).await?;
    Ok(())
}

fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect()
}

/// The speech comes back with its key words, no `no_speech` flag, and the backend's provider name.
pub async fn check_speech_is_transcribed(
    t: &dyn Transcriber,
    fixture: &ConformanceFixture,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "speech_is_transcribed";
    let tr = t
        .transcribe(&fixture.speech, &TranscribeOptions::new().with_language("en"))
        .await
        .map_err(|e| fail(CHECK, format!("transcribe failed: {e}")))?;
    let text = format!(" {} ", normalise(&tr.text));
    let missing: Vec<&String> = fixture
        .expected_words
        .iter()
        .filter(|w| !text.contains(&format!(" {} ", normalise(w).trim())))
        .collect();
    if !missing.is_empty() {
        return Err(fail(CHECK, format!("missing words {missing:?}")));
    }
    if tr.no_speech {
        return Err(fail(CHECK, "speech flagged as no_speech"));
    }
    if tr.provider.is_empty() {
        return Err(fail(CHECK, "empty provider"));
    }
    Ok(())
}

/// Segments are ordered, `start <= end`, inside the audio; confidences are in 0..=1; the text is trimmed.
pub async fn check_transcript_invariants(
    t: &dyn Transcriber,
    fixture: &ConformanceFixture,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "transcript_invariants";
    let tr = t
        .transcribe(
            &fixture.speech,
            &TranscribeOptions::new().with_word_timestamps(true),
        )
        .await
        .map_err(|e| fail(CHECK, format!("transcribe failed: {e}")))?;
    if tr.text != tr.text.trim() {
        return Err(fail(CHECK, "text is not trimmed"));
    }
    let duration = tr
        .duration_seconds
        .or(fixture.speech.duration_seconds())
        .unwrap_or(f64::INFINITY);
    let mut last = f64::NEG_INFINITY;
    for (i, s) in tr.segments.iter().enumerate() {
        if s.start > s.end || s.start < last - 1e-6 || s.end > duration + 1.0 {
            return Err(fail(
                CHECK,
                format!(
                    "segment {i} [{}, {}] out of order or beyond {duration} s",
                    s.start, s.end
                ),
            ));
        }
        last = s.start;
        if s.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(fail(CHECK, format!("segment {i} confidence out of range")));
        }
    }
    if let Some(c) = tr.confidence
        && (!(0.0..=1.0).contains(&c.mean) || !(0.0..=1.0).contains(&c.min) || c.min > c.mean + 1e-9)
    {
        return Err(fail(CHECK, format!("transcript confidence {c:?} invalid")));
    }
    for (i, w) in tr.words.iter().enumerate() {
        if w.start > w.end || w.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(fail(CHECK, format!("word {i} invalid")));
        }
    }
    Ok(())
}

/// Silence yields an empty transcript flagged `no_speech`, never invented text.
pub async fn check_silence_is_not_invented(
    t: &dyn Transcriber,
    fixture: &ConformanceFixture,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "silence_is_not_invented";
    let tr = t
        .transcribe(&fixture.silence, &TranscribeOptions::new())
        .await
        .map_err(|e| fail(CHECK, format!("transcribe failed: {e}")))?;
    if !tr.text.is_empty() || !tr.no_speech || !tr.segments.is_empty() {
        return Err(fail(
            CHECK,
            format!(
                "got {} chars of text, {} segments, no_speech {}",
                tr.text.len(),
                tr.segments.len(),
                tr.no_speech
            ),
        ));
    }
    Ok(())
}

/// Transcribing the same audio twice gives the same text (no hidden state between calls).
pub async fn check_repeatable(
    t: &dyn Transcriber,
    fixture: &ConformanceFixture,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "repeatable";
    let o = TranscribeOptions::new().with_language("en");
    let a = t
        .transcribe(&fixture.speech, &o)
        .await
        .map_err(|e| fail(CHECK, e.to_string()))?;
    let b = t
        .transcribe(&fixture.speech, &o)
        .await
        .map_err(|e| fail(CHECK, e.to_string()))?;
    if a.text != b.text {
        return Err(fail(CHECK, "two transcriptions of the same audio differ"));
    }
    Ok(())
}

/// What the capabilities deny is not delivered: no segments without `segments`, no words without
/// `word_timestamps` or when not asked for.
pub async fn check_capabilities_are_honest(
    t: &dyn Transcriber,
    fixture: &ConformanceFixture,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "capabilities_are_honest";
    let caps: Capabilities = t.capabilities();
    let tr = t
        .transcribe(&fixture.speech, &TranscribeOptions::new())
        .await
        .map_err(|e| fail(CHECK, e.to_string()))?;
    if !caps.segments && !tr.segments.is_empty() {
        return Err(fail(CHECK, "segments returned but not declared"));
    }
    if !caps.word_timestamps && !tr.words.is_empty() {
        return Err(fail(CHECK, "words returned but not declared"));
    }
    if let Some(max) = caps.max_bytes
        && max == 0
    {
        return Err(fail(CHECK, "max_bytes of 0"));
    }
    Ok(())
}

/// A scripted test double: answers calls from a queue, in order, and fails with [`Error::NoTranscript`]
/// when the queue runs out. Counts calls and the most calls in flight at once. Clones share the queue.
#[derive(Clone, Default)]
pub struct QueuedTranscriber {
    queue: Arc<Mutex<VecDeque<Result<Transcript>>>>,
    stats: Arc<Mutex<(usize, usize, usize)>>, // (calls, in flight, max in flight)
    delay: Duration,
}

impl std::fmt::Debug for QueuedTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedTranscriber")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl QueuedTranscriber {
    /// A double that answers with `responses`, one per call.
    pub fn new(responses: impl IntoIterator<Item = Result<Transcript>>) -> Self {
        QueuedTranscriber {
            queue: Arc::new(Mutex::new(responses.into_iter().collect())),
            ..Default::default()
        }
    }

    /// Each call takes `delay` (tokio time, so paused-clock tests stay instant).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Calls received so far.
    pub fn calls(&self) -> usize {
        self.stats.lock().map(|s| s.0).unwrap_or(0)
    }

    /// The most calls that were in flight at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.stats.lock().map(|s| s.2).unwrap_or(0)
    }
}

#[async_trait]
impl Transcriber for QueuedTranscriber {
    fn provider(&self) -> &str {
        "queued"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            segments: true,
            confidence: true,
            word_timestamps: true,
            offline: true,
            ..Capabilities::default()
        }
    }

    async fn transcribe(&self, _audio: &AudioInput, _options: &TranscribeOptions) -> Result<Transcript> {
        if let Ok(mut s) = self.stats.lock() {
            s.0 += 1;
            s.1 += 1;
            s.2 = s.2.max(s.1);
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let next = self.queue.lock().ok().and_then(|mut q| q.pop_front());
        if let Ok(mut s) = self.stats.lock() {
            s.1 -= 1;
        }
        next.unwrap_or_else(|| {
            Err(Error::NoTranscript {
                message: "the queued transcriber's script ran out".into(),
            })
        })
    }
}
