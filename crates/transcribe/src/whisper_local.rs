//! Local Whisper transcription with whisper.cpp (feature `whisper-local`): no audio leaves the machine.
//!
//! [`WhisperLocalTranscriber`] runs a Whisper model in ggml format (the format of whisper.cpp's `ggml-*.bin`
//! files) in-process through [`whisper-rs`](https://docs.rs/whisper-rs), which builds the vendored whisper.cpp
//! with cmake. We chose whisper-rs because it vendors whisper.cpp (no download at build time), builds in about a
//! minute, and exposes what confidence needs: per-token probabilities and timestamps and the per-window
//! no-speech probability. (`ct2rs`, the CTranslate2 binding, took 15 minutes to build and its simple decoding
//! path transcribed worse.)
//!
//! How a request runs:
//!
//! 1. The audio is decoded with [`crate::audio::decode_pcm`] and mixed and resampled to 16 kHz mono with
//!    [`crate::audio::to_mono_16k`] (8 kHz phone audio included); with
//!    [`TranscribeOptions::split_channels`] each channel is transcribed on its own and its segments are
//!    tagged with the 1-based channel (Twilio's channel 1 is the caller).
//! 2. A stream whose loudest 30 ms frame stays below the silence gate (−60 dBFS by default) is not given to
//!    the model at all: there is nothing to hear, and Whisper models tend to invent a polite "Thank you." on
//!    silence.
//! 3. Inference runs on [`tokio::task::spawn_blocking`], never on the async runtime, with beam search
//!    (5 beams by default: greedy decoding hallucinated on band-limited µ-law phone audio in our tests) and
//!    whisper.cpp's temperature fallback. At most [`WhisperLocalBuilder::with_max_concurrent`] inferences
//!    run at once (1 by default: each already uses the configured threads). When the caller stops waiting
//!    (a timeout, a dropped future), inference is aborted at the next encoder or decoder step.
//! 4. Segments keep whisper.cpp's timestamps; `avg_logprob` is the mean log-probability of their text
//!    tokens and `no_speech_prob` whisper.cpp's own. Non-speech annotations such as `[BLANK_AUDIO]` or
//!    `(wind howling)` are removed, and [`crate::confidence::finalize`] drops silence and repetition loops and
//!    fills in the confidences. Silence therefore yields an empty transcript with
//!    [`Transcript::no_speech`] set.
//!
//! whisper.cpp's own log output is switched off (in debug builds it prints decoded tokens, i.e. transcript
//! text). This module logs, through `tracing`, only durations, counts and the model name.
//!
//! ```no_run
//! use callbook_transcribe::whisper_local::WhisperLocalTranscriber;
//! use callbook_transcribe::{AudioInput, TranscribeOptions, Transcriber};
//!
//! # async fn run() -> callbook_transcribe::Result<()> {
//! let whisper = WhisperLocalTranscriber::builder("models/ggml-tiny.en.bin")
//!     .with_threads(2)
//!     .build()?; // loads the model: do it once, at start-up
//! let audio = AudioInput::from_file("call.wav").await?;
//! let options = TranscribeOptions::new().with_vocabulary(["Acme Plumbing", "Oak Street"]);
//! let transcript = whisper.transcribe(&audio, &options).await?;
//! println!("{} segments, confidence {:?}", transcript.segments.len(), transcript.confidence);
//! # Ok(()) }
//! ```

mod mapping;
mod model_file;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use self::mapping::{RawSegment, RawToken};
use crate::audio::{
    AudioInput, DecodedAudio, WHISPER_SAMPLE_RATE, channel_16k, decode_pcm, samples_loudest_frame_dbfs,
    to_mono_16k,
};
use crate::confidence::finalize;
use crate::transcriber::{Capabilities, TranscribeOptions, Transcriber};
use crate::transcript::{Segment, Transcript, Usage, Word};
use crate::{Error, Result};

/// The provider name written to [`Transcript::provider`].
pub const PROVIDER: &str = "whisper-local";
/// Environment variable holding the path of the ggml model file.
pub const MODEL_ENV: &str = "CALLBOOK_WHISPER_MODEL";
/// Environment variable overriding the number of CPU threads per transcription.
pub const THREADS_ENV: &str = "CALLBOOK_WHISPER_THREADS";
/// Environment variable overriding the beam size (1 = greedy decoding).
pub const BEAM_SIZE_ENV: &str = "CALLBOOK_WHISPER_BEAM_SIZE";
/// Default beam width. Greedy decoding (1) is faster but hallucinated on band-limited phone audio.
pub const DEFAULT_BEAM_SIZE: u32 = 5;
/// whisper.cpp runs at most 8 decoders, so beams wider than 8 are rejected.
pub const MAX_BEAM_SIZE: u32 = 8;
/// Default silence gate: a stream whose loudest 30 ms frame is quieter than this (dBFS RMS) is not transcribed.
pub const DEFAULT_SILENCE_GATE_DBFS: f64 = crate::audio::DEFAULT_SILENCE_GATE_DBFS;

/// Sample rate whisper.cpp expects.
const SAMPLE_RATE: usize = 16_000;
/// whisper.cpp refuses input shorter than 100 ms; shorter audio is padded with silence to this length.
const MIN_SAMPLES: usize = SAMPLE_RATE; // 1 s

/// Builds a [`WhisperLocalTranscriber`]; [`build`](Self::build) validates the settings and loads the model.
///
/// ```no_run
/// use callbook_transcribe::whisper_local::WhisperLocalBuilder;
///
/// let whisper = WhisperLocalBuilder::new("models/ggml-tiny.en.bin")
///     .with_threads(4)
///     .with_beam_size(5)
///     .with_language("en")
///     .build()?;
/// # Ok::<(), callbook_transcribe::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WhisperLocalBuilder {
    model_path: Option<PathBuf>,
    threads: Option<usize>,
    beam_size: u32,
    language: Option<String>,
    max_concurrent: usize,
    silence_gate_dbfs: Option<f64>,
    flash_attention: bool,
    env_problems: Vec<String>,
}

impl WhisperLocalBuilder {
    /// A builder for the ggml model at `model_path`, with beam search ([`DEFAULT_BEAM_SIZE`]), up to 4 threads
    /// (fewer on smaller machines), automatic language (English for `.en` models), one inference at a time
    /// and the −60 dBFS silence gate.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        let mut builder = Self::empty();
        builder.model_path = Some(model_path.into());
        builder
    }

    fn empty() -> Self {
        Self {
            model_path: None,
            threads: None,
            beam_size: DEFAULT_BEAM_SIZE,
            language: None,
            max_concurrent: 1,
            silence_gate_dbfs: Some(DEFAULT_SILENCE_GATE_DBFS),
            flash_attention: false,
            env_problems: Vec::new(),
        }
    }

    /// A builder filled from the process environment; see [`from_env_with`](Self::from_env_with).
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// A builder filled from `lookup`, asked for each variable by name; empty values count as unset.
    ///
    /// | variable | sets |
    /// |---|---|
    /// | `CALLBOOK_WHISPER_MODEL` | the model path (required) |
    /// | `CALLBOOK_WHISPER_THREADS` | [`with_threads`](Self::with_threads) |
    /// | `CALLBOOK_WHISPER_BEAM_SIZE` | [`with_beam_size`](Self::with_beam_size) |
    ///
    /// Malformed numbers are reported by [`build`](Self::build), naming the variable.
    ///
    /// ```
    /// use callbook_transcribe::whisper_local::WhisperLocalBuilder;
    /// use callbook_transcribe::Error;
    ///
    /// let err = WhisperLocalBuilder::from_env_with(|_| None).build().unwrap_err();
    /// assert!(matches!(err, Error::Config(ref m) if m.contains("CALLBOOK_WHISPER_MODEL")));
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = Self::empty();
        builder.model_path = get(MODEL_ENV).map(PathBuf::from);
        if let Some(threads) = get(THREADS_ENV) {
            match threads.parse::<usize>() {
                Ok(n) => builder.threads = Some(n),
                Err(_) => builder.env_problems.push(format!(
                    "{THREADS_ENV} must be a positive whole number, not {threads:?}"
                )),
            }
        }
        if let Some(beam) = get(BEAM_SIZE_ENV) {
            match beam.parse::<u32>() {
                Ok(n) => builder.beam_size = n,
                Err(_) => builder.env_problems.push(format!(
                    "{BEAM_SIZE_ENV} must be a whole number from 1 to {MAX_BEAM_SIZE}, not {beam:?}"
                )),
            }
        }
        builder
    }

    /// CPU threads per transcription (default: the machine's parallelism, at most 4).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Beam width, 1 to [`MAX_BEAM_SIZE`]; 1 means greedy decoding (faster, but it hallucinated on phone audio).
    pub fn with_beam_size(mut self, beam_size: u32) -> Self {
        self.beam_size = beam_size;
        self
    }

    /// Default language (ISO-639-1, e.g. `es`) when a request gives none; without it a multilingual model
    /// detects the language. English-only (`.en`) models accept only `en`.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// How many transcriptions may run at the same time (default 1); further requests wait their turn.
    /// Each one uses [`with_threads`](Self::with_threads) threads and its own decoder state.
    pub fn with_max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// The silence gate in dBFS (default [`DEFAULT_SILENCE_GATE_DBFS`]), or `None` to give every stream to the
    /// model. Streams whose loudest 30 ms frame is quieter are reported as no speech without running the model.
    pub fn with_silence_gate(mut self, dbfs: Option<f64>) -> Self {
        self.silence_gate_dbfs = dbfs;
        self
    }

    /// Use whisper.cpp's flash attention (default off). It can be faster on some CPUs; token timestamps
    /// stay heuristic either way.
    pub fn with_flash_attention(mut self, enabled: bool) -> Self {
        self.flash_attention = enabled;
        self
    }

    /// Validates the settings and loads the model. **Blocking**: it reads the model file (75 MB for
    /// tiny.en, 1.5 GB for large models) — call it at start-up or inside `spawn_blocking`.
    ///
    /// Fails with [`Error::Config`] when the model path is missing, does not exist, is not a file, is not a
    /// whisper.cpp ggml model or cannot be loaded (truncated, corrupt), or when a setting is out of range.
    pub fn build(self) -> Result<WhisperLocalTranscriber> {
        if let Some(problem) = self.env_problems.first() {
            return Err(Error::Config(problem.clone()));
        }
        let model_path = self.model_path.ok_or_else(|| {
            Error::Config(format!(
                "no whisper model: set {MODEL_ENV} to the path of a ggml model file"
            ))
        })?;
        let threads = self.threads.unwrap_or_else(default_threads);
        if threads == 0 || threads > 256 {
            return Err(Error::Config(format!(
                "whisper threads must be 1 to 256, not {threads}"
            )));
        }
        if !(1..=MAX_BEAM_SIZE).contains(&self.beam_size) {
            return Err(Error::Config(format!(
                "whisper beam size must be 1 to {MAX_BEAM_SIZE}, not {}",
                self.beam_size
            )));
        }
        if self.max_concurrent == 0 {
            return Err(Error::Config("whisper max_concurrent must be at least 1".into()));
        }
        if let Some(gate) = self.silence_gate_dbfs
            && !(gate.is_finite() && gate <= 0.0)
        {
            return Err(Error::Config(format!(
                "whisper silence gate must be a dBFS value ≤ 0, not {gate}"
            )));
        }
        check_model_file(&model_path)?;

        install_log_silencer();
        let started = Instant::now();
        let mut context_params = WhisperContextParameters::default();
        context_params.use_gpu(false).flash_attn(self.flash_attention);
        let context = WhisperContext::new_with_params(&model_path, context_params).map_err(|e| {
            Error::Config(format!(
                "whisper.cpp could not load the model at {} ({e}); is the file complete and a Whisper ggml model?",
                model_path.display()
            ))
        })?;
        let multilingual = context.is_multilingual();
        let default_language = match self.language.as_deref().map(normalise_language) {
            None | Some(None) => None,
            Some(Some(lang)) => Some(check_language(&lang, multilingual).map_err(Error::Config)?),
        };
        let model_name = model_name(&model_path);
        tracing::info!(
            model = %model_name,
            multilingual,
            threads,
            beam_size = self.beam_size,
            load_ms = started.elapsed().as_millis() as u64,
            "loaded local whisper model"
        );
        let eot = context.token_eot();
        Ok(WhisperLocalTranscriber {
            inner: Arc::new(Inner {
                context,
                model_path,
                model_name,
                multilingual,
                eot,
                threads,
                beam_size: self.beam_size,
                default_language,
                silence_gate_dbfs: self.silence_gate_dbfs,
                permits: Arc::new(Semaphore::new(self.max_concurrent)),
            }),
        })
    }
}

/// Offline transcription with a local Whisper model; see the [module docs](self).
///
/// Cheap to clone: clones share the loaded model.
#[derive(Clone)]
pub struct WhisperLocalTranscriber {
    inner: Arc<Inner>,
}

struct Inner {
    context: WhisperContext,
    model_path: PathBuf,
    model_name: String,
    multilingual: bool,
    /// Token ids from here on are control tokens (end-of-text, language, timestamps).
    eot: i32,
    threads: usize,
    beam_size: u32,
    default_language: Option<String>,
    /// Level (dBFS, loudest 30 ms frame) below which a stream counts as silent.
    silence_gate_dbfs: Option<f64>,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for WhisperLocalTranscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("WhisperLocalTranscriber")
            .field("model_path", &inner.model_path)
            .field("model", &inner.model_name)
            .field("multilingual", &inner.multilingual)
            .field("threads", &inner.threads)
            .field("beam_size", &inner.beam_size)
            .field("default_language", &inner.default_language)
            .finish_non_exhaustive()
    }
}

impl WhisperLocalTranscriber {
    /// A [`WhisperLocalBuilder`] for the ggml model at `model_path`.
    pub fn builder(model_path: impl Into<PathBuf>) -> WhisperLocalBuilder {
        WhisperLocalBuilder::new(model_path)
    }

    /// Loads the model at `model_path` with the default settings. Blocking, like
    /// [`WhisperLocalBuilder::build`].
    pub fn new(model_path: impl Into<PathBuf>) -> Result<Self> {
        WhisperLocalBuilder::new(model_path).build()
    }

    /// Loads the model named by `CALLBOOK_WHISPER_MODEL` (settings from the other variables of
    /// [`WhisperLocalBuilder::from_env_with`]). Blocking, like [`WhisperLocalBuilder::build`].
    pub fn from_env() -> Result<Self> {
        WhisperLocalBuilder::from_env().build()
    }

    /// The model's name, from its file name (`ggml-tiny.en.bin` → `tiny.en`).
    pub fn model(&self) -> &str {
        &self.inner.model_name
    }

    /// Whether the model handles languages other than English.
    pub fn is_multilingual(&self) -> bool {
        self.inner.multilingual
    }

    /// CPU threads per transcription.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Beam width (1 = greedy).
    pub fn beam_size(&self) -> u32 {
        self.inner.beam_size
    }
}

#[async_trait]
impl Transcriber for WhisperLocalTranscriber {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            segments: true,
            confidence: true,
            word_timestamps: true,
            language_hint: true,
            prompt: true,
            max_bytes: None,
            max_duration: None,
            offline: true,
        }
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        // Everything that can be checked without the model is checked before queueing.
        let request = self.inner.request(options)?;
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::local("the local whisper transcriber was shut down"))?;
        let abort = AbortOnDrop::new();
        let flag = abort.flag();
        let inner = Arc::clone(&self.inner);
        let audio = audio.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The permit lives as long as the inference, even when the caller has stopped waiting.
            let _permit = permit;
            inner.run(&audio, &request, &flag)
        });
        let result = task.await.map_err(|e| Error::Local {
            message: "the local whisper inference task failed".into(),
            source: Some(Box::new(e)),
        });
        abort.disarm();
        result?
    }
}

/// Per-request settings, validated.
#[derive(Debug, Clone)]
struct Request {
    language: Option<String>,
    prompt: Option<String>,
    want_words: bool,
    split_channels: bool,
}

impl Inner {
    fn request(&self, options: &TranscribeOptions) -> Result<Request> {
        if let Some(model) = options.model.as_deref().map(str::trim).filter(|m| !m.is_empty())
            && model != self.model_name
            && Path::new(model).file_name() != self.model_path.file_name()
        {
            return Err(Error::InvalidRequest {
                code: Some("model_not_loaded".into()),
                message: format!(
                    "the local whisper backend has model {:?} loaded and cannot switch to {model:?} per request",
                    self.model_name
                ),
            });
        }
        let language =
            match options.language.as_deref().map(normalise_language) {
                Some(Some(lang)) => Some(check_language(&lang, self.multilingual).map_err(|message| {
                    Error::InvalidRequest {
                        code: Some("unsupported_language".into()),
                        message,
                    }
                })?),
                Some(None) | None => self.default_language.clone(),
            };
        // A NUL would make whisper-rs panic; it has no meaning in a prompt anyway.
        let prompt = options
            .effective_prompt()
            .map(|p| p.replace('\0', " ").trim().to_owned())
            .filter(|p| !p.is_empty());
        Ok(Request {
            language,
            prompt,
            want_words: options.word_timestamps,
            split_channels: options.split_channels,
        })
    }

    /// Decodes, gates, transcribes and maps one request. Runs on a blocking thread.
    fn run(&self, audio: &AudioInput, request: &Request, abort: &Arc<AtomicBool>) -> Result<Transcript> {
        let started = Instant::now();
        let decoded = decode_pcm(audio)?;
        let duration = decoded.duration_seconds();
        let mut transcript = Transcript {
            language: Some(request.language.clone().unwrap_or_else(|| "en".to_owned())),
            duration_seconds: Some(duration),
            provider: PROVIDER.to_owned(),
            model: Some(self.model_name.clone()),
            usage: Some(Usage::Duration { seconds: duration }),
            ..Default::default()
        };
        let mut segments: Vec<Segment> = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        let mut raw_streams = Vec::new();
        for (channel, samples) in streams(&decoded, request.split_channels) {
            let peak_dbfs = samples_loudest_frame_dbfs(&samples, WHISPER_SAMPLE_RATE);
            if self.silence_gate_dbfs.is_some_and(|gate| peak_dbfs < gate) {
                raw_streams.push(serde_json::json!({
                    "channel": channel,
                    "skipped": "silence gate",
                    "peak_dbfs": peak_dbfs,
                }));
                continue;
            }
            let (raw, language) = self.infer(&samples, request, abort)?;
            if self.multilingual
                && let Some(lang) = language
            {
                transcript.language = Some(lang.to_owned());
            }
            let mapped = mapping::map_segments(&raw, channel, request.want_words);
            transcript.guards.dropped_silence += mapped.dropped_non_speech;
            raw_streams.push(serde_json::json!({
                "channel": channel,
                "peak_dbfs": peak_dbfs,
                "language": language,
                "segments": raw.iter().map(|s| serde_json::json!({
                    "t0_centis": s.t0,
                    "t1_centis": s.t1,
                    "no_speech_prob": s.no_speech_prob,
                    "tokens": s.tokens.iter().filter(|t| !t.special).count(),
                })).collect::<Vec<_>>(),
            }));
            segments.extend(mapped.segments);
            words.extend(mapped.words);
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.channel.cmp(&b.channel)));
        words.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.channel.cmp(&b.channel)));
        transcript.text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        transcript.segments = segments;
        transcript.words = words;
        // Decoder numbers only: no text, so the raw payload is no more sensitive than the transcript.
        transcript.raw = Some(serde_json::json!({
            "engine": "whisper.cpp",
            "whisper_cpp_version": whisper_rs::WHISPER_CPP_VERSION,
            "model": self.model_name,
            "beam_size": self.beam_size,
            "threads": self.threads,
            "streams": raw_streams,
        }));
        finalize(&mut transcript);
        let elapsed = started.elapsed().as_secs_f64();
        tracing::debug!(
            model = %self.model_name,
            audio_seconds = duration,
            elapsed_seconds = elapsed,
            real_time_factor = if elapsed > 0.0 { duration / elapsed } else { 0.0 },
            segments = transcript.segments.len(),
            no_speech = transcript.no_speech,
            "local whisper transcription finished"
        );
        Ok(transcript)
    }

    /// Runs whisper.cpp over 16 kHz mono samples; returns its segments and the language it used.
    fn infer(
        &self,
        samples: &[f32],
        request: &Request,
        abort: &Arc<AtomicBool>,
    ) -> Result<(Vec<RawSegment>, Option<&'static str>)> {
        let mut state = self.context.create_state().map_err(|e| Error::Local {
            message: "whisper.cpp could not allocate a decoder state".into(),
            source: Some(Box::new(e)),
        })?;
        let strategy = if self.beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: self.beam_size as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 5 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(i32::try_from(self.threads).unwrap_or(i32::MAX));
        params.set_translate(false);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_token_timestamps(request.want_words);
        let language = match (&request.language, self.multilingual) {
            (Some(lang), _) => lang.clone(),
            (None, false) => "en".to_owned(),
            (None, true) => "auto".to_owned(),
        };
        params.set_language(Some(&language));
        if let Some(prompt) = &request.prompt {
            params.set_initial_prompt(prompt);
        }
        // whisper-rs's safe abort callback casts its user data back to the closure's type while it stores a
        // `Box<dyn FnMut>`; passing a `Box<dyn FnMut() -> bool>` as the closure makes both types the same.
        let flag = Arc::clone(abort);
        let should_abort: Box<dyn FnMut() -> bool> = Box::new(move || flag.load(Ordering::Relaxed));
        params.set_abort_callback_safe(should_abort);

        let padded;
        let samples = if samples.len() < MIN_SAMPLES {
            padded = [samples, &vec![0.0; MIN_SAMPLES - samples.len()]].concat();
            &padded[..]
        } else {
            samples
        };
        if let Err(e) = state.full(params, samples) {
            if abort.load(Ordering::Relaxed) {
                return Err(Error::local(
                    "local whisper transcription was abandoned by its caller",
                ));
            }
            return Err(Error::Local {
                message: "whisper.cpp inference failed".into(),
                source: Some(Box::new(e)),
            });
        }
        let language = whisper_rs::get_lang_str(state.full_lang_id_from_state());
        Ok((self.raw_segments(&state), language))
    }

    fn raw_segments(&self, state: &WhisperState) -> Vec<RawSegment> {
        state
            .as_iter()
            .map(|segment| RawSegment {
                t0: segment.start_timestamp(),
                t1: segment.end_timestamp(),
                no_speech_prob: segment.no_speech_probability(),
                tokens: (0..segment.n_tokens())
                    .filter_map(|i| segment.get_token(i))
                    .map(|token| {
                        let data = token.token_data();
                        RawToken {
                            bytes: token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                            p: data.p,
                            t0: data.t0,
                            t1: data.t1,
                            special: data.id >= self.eot,
                        }
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The audio streams to transcribe: the mono mix, or each channel tagged with its 1-based number.
fn streams(decoded: &DecodedAudio, split_channels: bool) -> Vec<(Option<u16>, Vec<f32>)> {
    if split_channels && decoded.channels.len() > 1 {
        (0..decoded.channels.len())
            .filter_map(|i| {
                let channel = u16::try_from(i + 1).ok()?;
                Some((Some(channel), channel_16k(decoded, i)?))
            })
            .collect()
    } else {
        vec![(None, to_mono_16k(decoded))]
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// `ggml-tiny.en.bin` → `tiny.en`; other names lose only their extension.
fn model_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = stem.strip_prefix("ggml-").unwrap_or(&stem);
    if name.is_empty() {
        "whisper".to_owned()
    } else {
        name.to_owned()
    }
}

/// Lower-cased language code, or `None` for "detect it" (`auto`, empty).
fn normalise_language(language: &str) -> Option<String> {
    let lang = language.trim().to_ascii_lowercase();
    (!lang.is_empty() && lang != "auto").then_some(lang)
}

fn check_language(lang: &str, multilingual: bool) -> std::result::Result<String, String> {
    if !multilingual {
        return if lang == "en" {
            Ok(lang.to_owned())
        } else {
            Err(format!(
                "the local whisper model is English-only and cannot transcribe language {lang:?}"
            ))
        };
    }
    install_log_silencer(); // whisper.cpp prints unknown language codes to stderr otherwise
    match whisper_rs::get_lang_id(lang) {
        Some(_) => Ok(lang.to_owned()),
        None => Err(format!("Whisper does not know the language {lang:?}")),
    }
}

/// Checks the model file before whisper.cpp sees it, so a wrong path or a truncated download gets a clear
/// message instead of a garbage model (see [`model_file`]).
fn check_model_file(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Config(format!(
            "whisper model {shown} cannot be read ({e}); set {MODEL_ENV} to a ggml model file, e.g. one made by \
             crates/transcribe/scripts/fetch-whisper-model.sh"
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::Config(format!("whisper model {shown} is not a file")));
    }
    let mut file = std::io::BufReader::new(
        std::fs::File::open(path)
            .map_err(|e| Error::Config(format!("whisper model {shown} cannot be read ({e})")))?,
    );
    model_file::inspect(&mut file).map_err(|problem| {
        Error::Config(format!(
            "{shown} is not a usable whisper.cpp ggml model: {problem}. Use whisper.cpp's ggml-*.bin files or convert \
             a model with crates/transcribe/scripts/ct2_whisper_to_ggml.py"
        ))
    })?;
    Ok(())
}

/// whisper.cpp prints model details and, in debug builds, every decoded token to stderr. Route its log
/// callbacks to whisper-rs's hooks, which drop everything (no log backend feature is enabled).
fn install_log_silencer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(whisper_rs::install_logging_hooks);
}

/// Sets its flag when dropped unless disarmed: tells a running inference that nobody waits for it any more.
struct AbortOnDrop {
    flag: Arc<AtomicBool>,
    armed: bool,
}

impl AbortOnDrop {
    fn new() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            armed: true,
        }
    }

    fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_come_from_the_file_name() {
        assert_eq!(model_name(Path::new("/m/ggml-tiny.en.bin")), "tiny.en");
        assert_eq!(model_name(Path::new("base.bin")), "base");
        assert_eq!(model_name(Path::new("/m/ggml-.bin")), "whisper");
    }

    #[test]
    fn languages_are_normalised_and_checked_against_the_model() {
        assert_eq!(normalise_language(" EN "), Some("en".to_owned()));
        assert_eq!(normalise_language("auto"), None);
        assert_eq!(normalise_language(""), None);
        assert_eq!(check_language("en", false), Ok("en".to_owned()));
        assert!(check_language("es", false).unwrap_err().contains("English-only"));
        assert_eq!(check_language("es", true), Ok("es".to_owned()));
        assert!(check_language("xx", true).is_err());
    }

    #[test]
    fn the_silence_gate_measures_the_loudest_frame() {
        let rate = WHISPER_SAMPLE_RATE;
        assert_eq!(samples_loudest_frame_dbfs(&[], rate), -200.0);
        let mut samples = vec![0.0f32; 16_000];
        assert_eq!(samples_loudest_frame_dbfs(&samples, rate), -200.0);
        // One 30 ms burst at 0.5 amplitude is enough to count as sound.
        samples[4800..5280].iter_mut().for_each(|s| *s = 0.5);
        assert!((samples_loudest_frame_dbfs(&samples, rate) - 20.0 * 0.5f64.log10()).abs() < 1e-9);
        // RMS 0.001 is exactly the default gate.
        let quiet = vec![0.001f32; 16_000];
        assert!((samples_loudest_frame_dbfs(&quiet, rate) - DEFAULT_SILENCE_GATE_DBFS).abs() < 1e-6);
    }

    #[test]
    fn env_settings_are_read_and_bad_numbers_named() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let b = WhisperLocalBuilder::from_env_with(env(&[
            (MODEL_ENV, " /m/ggml-tiny.en.bin "),
            (THREADS_ENV, "3"),
            (BEAM_SIZE_ENV, "2"),
        ]));
        assert_eq!(b.model_path.as_deref(), Some(Path::new("/m/ggml-tiny.en.bin")));
        assert_eq!((b.threads, b.beam_size), (Some(3), 2));
        let err = WhisperLocalBuilder::from_env_with(env(&[(MODEL_ENV, "/m/x.bin"), (THREADS_ENV, "two")]))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains(THREADS_ENV)),
            "{err}"
        );
        let err = WhisperLocalBuilder::from_env_with(env(&[(MODEL_ENV, "/m/x.bin"), (BEAM_SIZE_ENV, "-1")]))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains(BEAM_SIZE_ENV)),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_settings_are_config_errors_before_the_model_is_touched() {
        for builder in [
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_threads(0),
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_beam_size(0),
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_beam_size(MAX_BEAM_SIZE + 1),
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_max_concurrent(0),
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_silence_gate(Some(3.0)),
            WhisperLocalBuilder::new("/nonexistent/ggml.bin").with_silence_gate(Some(f64::NAN)),
        ] {
            let err = builder.build().unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if !m.contains("/nonexistent")),
                "{err}"
            );
        }
    }

    #[test]
    fn abort_on_drop_sets_the_flag_only_when_not_disarmed() {
        let guard = AbortOnDrop::new();
        let flag = guard.flag();
        drop(guard);
        assert!(flag.load(Ordering::Relaxed));
        let guard = AbortOnDrop::new();
        let flag = guard.flag();
        guard.disarm();
        assert!(!flag.load(Ordering::Relaxed));
    }
}
