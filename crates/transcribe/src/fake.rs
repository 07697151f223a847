//! Transcribers that need no model and no network, clearly named as what they are:
//!
//! * [`ScriptedTranscriber`] — deterministic: the SHA-256 of the audio selects a scripted transcript (or a
//!   scripted error); unscripted audio is an error ([`Error::NoTranscript`]), never a made-up transcript. For
//!   tests and pipelines that need exact, repeatable output.
//! * [`SidecarTranscriber`] — for demos: the transcript is supplied in a file next to the audio
//!   (`call.wav` → `call.transcript.json` or `call.txt`). It does not listen to the audio at all.
//!
//! Both validate the audio like a real backend (an [`AudioInput`] is sniffed before it exists), fill in the
//! duration and duration-based usage from the audio, and run [`crate::confidence::finalize`], so silence and
//! repetition guards behave as with a real backend.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::audio::AudioInput;
use crate::transcriber::{Capabilities, TranscribeOptions, Transcriber};
use crate::transcript::{Segment, Transcript, Usage};
use crate::{Error, Result};

type ErrorFactory = Arc<dyn Fn() -> Error + Send + Sync>;

#[derive(Clone)]
enum Scripted {
    Transcript(Box<Transcript>),
    Failure(ErrorFactory),
}

/// One call a [`ScriptedTranscriber`] received.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedCall {
    /// SHA-256 of the audio.
    pub audio_sha256: String,
    /// The options it was called with.
    pub options: TranscribeOptions,
}

/// A deterministic transcriber: audio hash → scripted transcript or error. See the [module docs](self).
#[derive(Clone, Default)]
pub struct ScriptedTranscriber {
    script: Arc<Mutex<HashMap<String, Scripted>>>,
    calls: Arc<Mutex<Vec<ScriptedCall>>>,
}

impl std::fmt::Debug for ScriptedTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scripted = self.script.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("ScriptedTranscriber")
            .field("scripted", &scripted)
            .finish_non_exhaustive()
    }
}

impl ScriptedTranscriber {
    /// An empty script: every call fails with [`Error::NoTranscript`] until audio is scripted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripts the transcript for this audio (keyed by the SHA-256 of its bytes).
    pub fn script(&self, audio: &AudioInput, transcript: Transcript) -> &Self {
        self.script_hash(audio.sha256_hex(), transcript)
    }

    /// Scripts the transcript for audio with this lower-case hex SHA-256.
    pub fn script_hash(&self, sha256_hex: impl Into<String>, transcript: Transcript) -> &Self {
        if let Ok(mut script) = self.script.lock() {
            script.insert(sha256_hex.into(), Scripted::Transcript(Box::new(transcript)));
        }
        self
    }

    /// Scripts a plain-text transcript: one segment over the whole audio.
    pub fn script_text(&self, audio: &AudioInput, text: &str) -> &Self {
        let end = audio.duration_seconds().unwrap_or(0.0);
        self.script(
            audio,
            Transcript {
                text: text.trim().to_owned(),
                segments: if text.trim().is_empty() {
                    Vec::new()
                } else {
                    vec![Segment {
                        start: 0.0,
                        end,
                        text: text.trim().to_owned(),
                        ..Default::default()
                    }]
                },
                ..Default::default()
            },
        )
    }

    /// Scripts a failure for this audio: every call returns a fresh error from `make`.
    pub fn script_error(
        &self,
        audio: &AudioInput,
        make: impl Fn() -> Error + Send + Sync + 'static,
    ) -> &Self {
        if let Ok(mut script) = self.script.lock() {
            script.insert(audio.sha256_hex(), Scripted::Failure(Arc::new(make)));
        }
        self
    }

    /// The calls received so far, in order.
    pub fn calls(&self) -> Vec<ScriptedCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Transcriber for ScriptedTranscriber {
    fn provider(&self) -> &str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            segments: true,
            confidence: true,
            word_timestamps: true,
            language_hint: true,
            prompt: true,
            offline: true,
            ..Capabilities::default()
        }
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        let hash = audio.sha256_hex();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(ScriptedCall {
                audio_sha256: hash.clone(),
                options: options.clone(),
            });
        }
        let entry = self.script.lock().ok().and_then(|s| s.get(&hash).cloned());
        match entry {
            Some(Scripted::Transcript(t)) => Ok(complete(*t, audio, options, "scripted")),
            Some(Scripted::Failure(make)) => Err(make()),
            None => Err(Error::NoTranscript {
                message: format!("no transcript scripted for audio sha256 {hash}"),
            }),
        }
    }
}

/// Fills in what every backend fills in, then runs the guards.
fn complete(
    mut t: Transcript,
    audio: &AudioInput,
    options: &TranscribeOptions,
    provider: &str,
) -> Transcript {
    if t.provider.is_empty() {
        t.provider = provider.to_owned();
    }
    if t.duration_seconds.is_none() {
        t.duration_seconds = audio.duration_seconds();
    }
    if t.language.is_none() {
        t.language.clone_from(&options.language);
    }
    if t.usage.is_none() {
        t.usage = t.duration_seconds.map(|seconds| Usage::Duration { seconds });
    }
    if !options.word_timestamps {
        t.words.clear();
    }
    crate::confidence::finalize(&mut t);
    t
}

/// A demo transcriber that reads the transcript from a file next to the audio. See the [module docs](self).
///
/// For audio read from `DIR/call.wav` it looks, in order, for `DIR/call.transcript.json` (a serialised
/// [`Transcript`]) and `DIR/call.txt` (plain text: each non-empty line becomes a segment, timed in
/// proportion to its length over the audio's duration). Audio without a path is looked up in the
/// directories given with [`SidecarTranscriber::with_dir`], by file name stem or by SHA-256
/// (`<sha256>.transcript.json` / `<sha256>.txt`). A missing sidecar is [`Error::NoTranscript`].
#[derive(Debug, Clone, Default)]
pub struct SidecarTranscriber {
    dirs: Vec<PathBuf>,
}

impl SidecarTranscriber {
    /// Looks only next to the audio file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also looks in `dir` (by file name stem and by SHA-256 of the audio).
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    fn candidates(&self, audio: &AudioInput) -> Vec<PathBuf> {
        let mut stems: Vec<(PathBuf, String)> = Vec::new();
        if let Some(path) = audio.path()
            && let Some(stem) = path.file_stem()
        {
            let dir = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            stems.push((dir, stem.to_string_lossy().into_owned()));
        }
        let hash = audio.sha256_hex();
        for dir in &self.dirs {
            if let Some(name) = audio.filename()
                && let Some(stem) = Path::new(name).file_stem()
            {
                stems.push((dir.clone(), stem.to_string_lossy().into_owned()));
            }
            stems.push((dir.clone(), hash.clone()));
        }
        stems
            .into_iter()
            .flat_map(|(dir, stem)| {
                [
                    dir.join(format!("{stem}.transcript.json")),
                    dir.join(format!("{stem}.txt")),
                ]
            })
            .collect()
    }
}

#[async_trait]
impl Transcriber for SidecarTranscriber {
    fn provider(&self) -> &str {
        "sidecar"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            segments: true,
            offline: true,
            ..Capabilities::default()
        }
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        let candidates = self.candidates(audio);
        for path in &candidates {
            let content = match tokio::fs::read_to_string(path).await {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::Local {
                        message: format!("cannot read sidecar transcript {}", path.display()),
                        source: Some(Box::new(e)),
                    });
                }
            };
            let is_json = path.to_string_lossy().ends_with(".json");
            let transcript = if is_json {
                serde_json::from_str::<Transcript>(&content).map_err(|e| Error::Local {
                    message: format!("sidecar transcript {} is not a transcript JSON", path.display()),
                    source: Some(Box::new(e)),
                })?
            } else {
                text_transcript(&content, audio.duration_seconds().unwrap_or(0.0))
            };
            let mut t = complete(transcript, audio, options, "sidecar");
            t.provider = "sidecar".into();
            return Ok(t);
        }
        let tried: Vec<String> = candidates
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        Err(Error::NoTranscript {
            message: format!("no sidecar transcript (looked for {})", tried.join(", ")),
        })
    }
}

fn text_transcript(content: &str, duration: f64) -> Transcript {
    let lines: Vec<&str> = content.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let total: usize = lines.iter().map(|l| l.chars().count()).sum();
    let mut segments = Vec::with_capacity(lines.len());
    let mut at = 0.0;
    for line in &lines {
        let share = if total == 0 {
            0.0
        } else {
            duration * line.chars().count() as f64 / total as f64
        };
        segments.push(Segment {
            start: at,
            end: (at + share).min(duration.max(at)),
            text: (*line).to_owned(),
            ..Default::default()
        });
        at += share;
    }
    Transcript {
        text: crate::transcript::join_texts(lines.iter().copied()),
        segments,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(seconds: u32) -> AudioInput {
        let samples = vec![0.1f32; 8000 * seconds as usize];
        AudioInput::from_bytes(crate::audio::encode_wav_pcm16(&[samples], 8000).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn scripted_is_deterministic_and_fails_when_unscripted() {
        let fake = ScriptedTranscriber::new();
        let a = wav(2);
        let b = wav(3);
        fake.script_text(&a, "Hi, this is Maria.");
        let opts = TranscribeOptions::new().with_language("en");
        let t1 = fake.transcribe(&a, &opts).await.unwrap();
        let t2 = fake.transcribe(&a, &opts).await.unwrap();
        assert_eq!(t1, t2);
        assert_eq!(t1.text, "Hi, this is Maria.");
        assert_eq!(t1.duration_seconds, Some(2.0));
        assert_eq!(t1.language.as_deref(), Some("en"));
        assert_eq!(t1.provider, "scripted");
        assert_eq!(t1.usage, Some(Usage::Duration { seconds: 2.0 }));
        assert!(matches!(
            fake.transcribe(&b, &opts).await,
            Err(Error::NoTranscript { .. })
        ));
        fake.script_error(&b, || Error::Timeout);
        assert!(matches!(fake.transcribe(&b, &opts).await, Err(Error::Timeout)));
        assert_eq!(fake.calls().len(), 4);
        assert_eq!(fake.calls()[0].audio_sha256, a.sha256_hex());
    }

    #[test]
    fn text_sidecars_are_timed_by_length() {
        let t = text_transcript("Caller: hello\n\nAgent: hi there, how can I help\n", 10.0);
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].start, 0.0);
        assert!((t.segments[1].end - 10.0).abs() < 1e-9);
        assert_eq!(t.text, "Caller: hello Agent: hi there, how can I help");
    }
}
