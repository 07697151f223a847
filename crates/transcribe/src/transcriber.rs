//! The [`Transcriber`] trait, its [`TranscribeOptions`] and the [`Capabilities`] a backend declares.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::audio::AudioInput;
use crate::transcript::Transcript;

/// Turns recorded audio into a [`Transcript`].
///
/// # Contract
///
/// Every backend guarantees:
///
/// * **No side effects.** Transcribing the same audio twice is safe; a retry may cost money but never
///   duplicates state. Backends never log transcript text, prompts or audio.
/// * **Bad audio is [`crate::Error::InvalidAudio`]**, raised before any network call when the bytes are empty,
///   truncated or of an unknown format (an [`AudioInput`] cannot be built from such bytes in the first place).
/// * **Silence is not invented away.** Audio without speech yields an empty `text` with
///   [`Transcript::no_speech`] set, never made-up words. Backends that report Whisper's decoder statistics run
///   them through [`crate::confidence::finalize`] (silence and repetition-loop segments dropped, confidence
///   filled in).
/// * **Segments are in time order**, with `start <= end`, and times relative to the start of the audio.
/// * **Errors are semantic**: retryable failures (rate limits, outages, timeouts) answer
///   [`crate::Error::is_retryable`] with `true`; anything else will fail the same way again.
/// * The transcript is **not** redacted: run [`crate::redact::redact_transcript`] before storing it or sending
///   it on.
#[async_trait]
pub trait Transcriber: Send + Sync + Debug + 'static {
    /// A short stable name of the backend (`openai`, `azure`, `groq`, `whisper.cpp`, `speaches`,
    /// `whisper-local`, `scripted`, `sidecar`), also written to [`Transcript::provider`].
    fn provider(&self) -> &str;

    /// What this backend can do and the limits it enforces.
    fn capabilities(&self) -> Capabilities;

    /// Transcribes one audio input.
    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript>;
}

/// The type-erased transcriber, as the pipeline holds it.
pub type DynTranscriber = dyn Transcriber;

// Compile-time check that the trait stays object-safe.
const _: Option<&dyn Transcriber> = None;

macro_rules! forward_transcriber {
    ($ty:ty) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: Transcriber + ?Sized> Transcriber for $ty {
            fn provider(&self) -> &str {
                (**self).provider()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn transcribe(
                &self,
                audio: &AudioInput,
                options: &TranscribeOptions,
            ) -> Result<Transcript> {
                (**self).transcribe(audio, options).await
            }
        }
    };
}
forward_transcriber!(Arc<T>);
forward_transcriber!(Box<T>);

/// What a backend can do and the limits it enforces, declared rather than guessed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capabilities {
    /// Returns time-stamped segments.
    pub segments: bool,
    /// Returns per-segment confidence (Whisper decoder statistics or token logprobs).
    pub confidence: bool,
    /// Can return word-level timestamps when [`TranscribeOptions::word_timestamps`] is set.
    pub word_timestamps: bool,
    /// Honours [`TranscribeOptions::language`].
    pub language_hint: bool,
    /// Honours [`TranscribeOptions::prompt`] / vocabulary.
    pub prompt: bool,
    /// The largest upload in bytes, when limited (25 MiB for OpenAI).
    pub max_bytes: Option<u64>,
    /// The longest audio accepted, when limited (1,400 s for the gpt-4o transcribe family).
    pub max_duration: Option<Duration>,
    /// Audio never leaves the machine.
    pub offline: bool,
}

/// Options for one transcription.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TranscribeOptions {
    /// ISO-639-1 language hint (`en`); improves accuracy and latency.
    pub language: Option<String>,
    /// Free-text prompt in the audio's language (style and context).
    pub prompt: Option<String>,
    /// Words the recogniser should expect: the business name, street names, trade terms ("PEX", "GFCI").
    pub vocabulary: Vec<String>,
    /// Ask for word-level timestamps (adds latency at some providers).
    pub word_timestamps: bool,
    /// Transcribe each channel of a multi-channel recording on its own (Twilio dual-channel: channel 1 is the
    /// caller) and tag segments with their channel. Backends that cannot do this mix down to mono.
    pub split_channels: bool,
    /// Override the backend's configured model for this request.
    pub model: Option<String>,
}

impl TranscribeOptions {
    /// No hints: auto language, no prompt, segment timestamps only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the language hint.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the free-text prompt.
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Adds words to expect.
    pub fn with_vocabulary<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.vocabulary.extend(words.into_iter().map(Into::into));
        self
    }

    /// Asks for word-level timestamps.
    pub fn with_word_timestamps(mut self, wanted: bool) -> Self {
        self.word_timestamps = wanted;
        self
    }

    /// Asks for channels to be transcribed apart.
    pub fn with_split_channels(mut self, wanted: bool) -> Self {
        self.split_channels = wanted;
        self
    }

    /// Overrides the model for this request.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The prompt a Whisper-style model should get: the free-text prompt followed by the vocabulary as a
    /// comma-separated list (Whisper conditions on prior text, so listing the words makes them likelier).
    /// `None` when there is neither.
    pub fn effective_prompt(&self) -> Option<String> {
        let vocabulary: Vec<&str> = self
            .vocabulary
            .iter()
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
            .collect();
        let prompt = self.prompt.as_deref().map(str::trim).filter(|p| !p.is_empty());
        match (prompt, vocabulary.is_empty()) {
            (None, true) => None,
            (Some(p), true) => Some(p.to_owned()),
            (None, false) => Some(format!("{}.", vocabulary.join(", "))),
            (Some(p), false) => Some(format!("{p} {}.", vocabulary.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_prompt_combines_prompt_and_vocabulary() {
        assert_eq!(TranscribeOptions::new().effective_prompt(), None);
        let o = TranscribeOptions::new().with_prompt("Call to Acme Plumbing.");
        assert_eq!(o.effective_prompt().as_deref(), Some("Call to Acme Plumbing."));
        let o = o.with_vocabulary(["PEX", " GFCI ", ""]);
        assert_eq!(
            o.effective_prompt().as_deref(),
            Some("Call to Acme Plumbing. PEX, GFCI.")
        );
        let o = TranscribeOptions::new().with_vocabulary(["Oak Street"]);
        assert_eq!(o.effective_prompt().as_deref(), Some("Oak Street."));
    }
}
