//! The local Whisper backend on real speech: a call synthesised with espeak-ng, converted with sox to 8 kHz
//! µ-law (phone quality, band-passed to 300–3400 Hz) and to 16 kHz PCM, transcribed with Whisper tiny.en.
//!
//! Needs the ggml model (`CALLBOOK_TEST_WHISPER_MODEL`, made by `scripts/fetch-whisper-model.sh`; the default
//! cache path `~/.cache/callbook/models/ggml-tiny.en.bin` is tried too) and the synthesised audio
//! (`CALLBOOK_TEST_SPEECH_DIR`, made by `scripts/synth-call.sh`, or generated here when espeak-ng and sox are
//! on PATH). `.ci/setup.d/30-transcribe-whisper.sh` provides both in CI. Tests skip, saying so on stderr,
//! only when they are absent.
//!
//! Recognisers vary, so the tests compare normalised key words (name, street, weekday, time), not a golden
//! string.
#![cfg(feature = "whisper-local")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns panic on broken fixtures, as tests do

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use callbook_transcribe::audio::encode_wav_pcm16;
use callbook_transcribe::whisper_local::{WhisperLocalBuilder, WhisperLocalTranscriber};
use callbook_transcribe::{AudioInput, Error, TranscribeOptions, Transcriber, Transcript, decode_pcm};

// ------------------------------------------------------------------------------------------------ fixtures

fn model_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CALLBOOK_TEST_WHISPER_MODEL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cached = PathBuf::from(std::env::var_os("HOME")?).join(".cache/callbook/models/ggml-tiny.en.bin");
    cached.is_file().then_some(cached)
}

fn speech_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CALLBOOK_TEST_SPEECH_DIR").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        let dir = std::env::temp_dir().join(format!("callbook-whisper-speech-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synth-call.sh");
        let status = Command::new("bash").arg(&script).arg(&dir).status().ok()?;
        status.success().then_some(dir)
    })
    .clone()
}

/// The shared transcriber: tiny.en, 2 threads, beam search (the defaults otherwise). Loaded once.
fn whisper() -> Option<&'static WhisperLocalTranscriber> {
    static WHISPER: OnceLock<Option<WhisperLocalTranscriber>> = OnceLock::new();
    WHISPER
        .get_or_init(|| {
            let path = model_path()?;
            Some(
                WhisperLocalTranscriber::builder(path)
                    .with_threads(2)
                    .build()
                    .expect("the test model loads"),
            )
        })
        .as_ref()
}

/// One inference at a time across the tests: on a 2-core machine, parallel whisper.cpp runs (each with 2
/// busy-waiting threads) slow each other down far more than they gain.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

macro_rules! require {
    ($e:expr, $what:literal) => {
        match $e {
            Some(v) => v,
            None => {
                eprintln!(concat!(
                    "skipping: ",
                    $what,
                    " (run crates/transcribe/scripts/fetch-whisper-model.sh, or set CALLBOOK_TEST_WHISPER_MODEL; \
                     speech needs espeak-ng and sox)"
                ));
                return;
            }
        }
    };
}

async fn speech(name: &str) -> Option<AudioInput> {
    let path = speech_dir()?.join(name);
    Some(
        AudioInput::from_file(&path)
            .await
            .expect("the synthesised audio is valid"),
    )
}

// ------------------------------------------------------------------------------------------------ key words

/// Lower-case words without punctuation; digits split from letters ("3pm" → "3", "pm"); number words up to
/// 99 as digits ("forty two" → "42", "three" → "3").
fn normalised_words(text: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    for piece in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
        let mut current = String::new();
        for c in piece.chars() {
            if !current.is_empty()
                && current
                    .chars()
                    .last()
                    .is_some_and(|p| p.is_ascii_digit() != c.is_ascii_digit())
            {
                raw.push(std::mem::take(&mut current));
            }
            current.push(c);
        }
        if !current.is_empty() {
            raw.push(current);
        }
    }
    const UNITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let word = raw[i].as_str();
        if let Some(t) = TENS.iter().position(|t| *t == word) {
            let tens = (t + 2) * 10;
            match raw.get(i + 1).and_then(|n| UNITS.iter().position(|u| u == n)) {
                Some(u) if u > 0 => {
                    out.push((tens + u).to_string());
                    i += 2;
                }
                _ => {
                    out.push(tens.to_string());
                    i += 1;
                }
            }
        } else if let Some(u) = UNITS.iter().position(|u| *u == word) {
            out.push(u.to_string());
            i += 1;
        } else {
            out.push(word.to_owned());
            i += 1;
        }
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            row.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(row[j] + 1),
            );
        }
        prev = row;
    }
    prev[b.len()]
}

/// The facts a booking needs, checked as words: the caller's name (the surname exactly, the first name within
/// one letter: "Marie" for "Maria" is a recogniser's variation, not a failure), the street address, the
/// weekday and the time.
fn assert_key_facts(transcript: &Transcript) {
    let words = normalised_words(&transcript.text);
    let has = |w: &str| words.iter().any(|x| x == w);
    let followed_by = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    let missing: Vec<&str> = [
        ("lopez", has("lopez")),
        ("maria", words.iter().any(|w| edit_distance(w, "maria") <= 1)),
        ("42 oak", followed_by("42", "oak")),
        ("oak street", followed_by("oak", "street")),
        ("tuesday", has("tuesday")),
        ("10", has("10")),
        ("morning", has("morning")),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(w, _)| w)
    .collect();
    // Test audio is synthetic, so printing the transcript here reveals no one's data.
    assert!(missing.is_empty(), "missing {missing:?} in {:?}", transcript.text);
}

fn assert_well_formed(t: &Transcript, audio: &AudioInput) {
    let duration = t.duration_seconds.expect("duration is reported");
    if let Some(expected) = audio.duration_seconds() {
        assert!(
            (duration - expected).abs() < 0.05,
            "duration {duration} vs {expected}"
        );
    }
    assert!(
        (14.0..16.0).contains(&duration),
        "the call is about 15 s, got {duration}"
    );
    assert_eq!(t.provider, "whisper-local");
    assert_eq!(t.model.as_deref(), Some("tiny.en"));
    assert_eq!(t.language.as_deref(), Some("en"));
    assert!(!t.no_speech);
    assert!(matches!(t.usage, Some(callbook_transcribe::Usage::Duration { seconds }) if seconds == duration));
    assert!(!t.segments.is_empty());
    let mut last_start = 0.0;
    for s in &t.segments {
        assert!(
            s.start >= last_start && s.start <= s.end && s.end <= duration + 0.5,
            "{s:?}"
        );
        last_start = s.start;
        let c = s.confidence.expect("segments carry confidence");
        assert!((0.0..=1.0).contains(&c));
        let lp = s.stats.avg_logprob.expect("avg_logprob");
        assert!(
            lp < 0.0 && lp > -3.0,
            "clear speech has a moderate avg_logprob, got {lp}"
        );
        assert!(s.stats.no_speech_prob.is_some() && s.stats.compression_ratio.is_some());
    }
    let conf = t.confidence.expect("transcript confidence");
    assert!(
        conf.min <= conf.mean && conf.mean <= 1.0 && conf.min > 0.05,
        "{conf:?}"
    );
    assert_eq!(t.text, t.text_from_segments());
    let raw = t.raw.as_ref().expect("raw decoder numbers");
    assert_eq!(raw["engine"], "whisper.cpp");
    assert_eq!(raw["beam_size"], 5);
    assert!(
        !raw.to_string().to_lowercase().contains("lopez"),
        "the raw payload holds numbers, not text"
    );
}

// ------------------------------------------------------------------------------------------------ speech

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcribes_the_8khz_mulaw_phone_call_with_its_key_facts() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("call-8k-mulaw.wav").await, "no synthesised speech");
    assert_eq!(audio.sample_rate(), Some(8000));
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new())
        .await
        .unwrap();
    assert_well_formed(&t, &audio);
    assert_key_facts(&t);
    assert!(t.words.is_empty(), "words only when asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcribes_the_16khz_pcm_call_with_its_key_facts() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("call-16k-pcm.wav").await, "no synthesised speech");
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new())
        .await
        .unwrap();
    assert_well_formed(&t, &audio);
    assert_key_facts(&t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_prompt_and_vocabulary_are_accepted_and_keep_the_facts() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("call-8k-mulaw.wav").await, "no synthesised speech");
    let options = TranscribeOptions::new()
        .with_language("EN")
        .with_prompt("Thanks for calling Acme Plumbing.\0")
        .with_vocabulary(["Oak Street", "garbage disposal"]);
    let t = whisper.transcribe(&audio, &options).await.unwrap();
    assert_key_facts(&t);
    assert!(
        !normalised_words(&t.text).contains(&"acme".to_owned()),
        "the prompt is not echoed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn word_timestamps_follow_the_speech_in_order() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("call-16k-pcm.wav").await, "no synthesised speech");
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new().with_word_timestamps(true))
        .await
        .unwrap();
    assert!(
        t.words.len() >= 20,
        "about 30 words were spoken, got {}",
        t.words.len()
    );
    let find = |w: &str| {
        t.words
            .iter()
            .find(|x| normalised_words(&x.text).first().map(String::as_str) == Some(w))
            .unwrap_or_else(|| panic!("no word {w:?} in {:?}", t.text))
    };
    let (lopez, oak, tuesday, morning) = (find("lopez"), find("oak"), find("tuesday"), find("morning"));
    assert!(
        lopez.end <= oak.start + 0.01
            && oak.end <= tuesday.start + 0.01
            && tuesday.end <= morning.start + 0.01
    );
    // espeak-ng says "Tuesday" roughly two thirds into the call.
    let duration = t.duration_seconds.unwrap();
    assert!(
        tuesday.start > duration * 0.4 && tuesday.start < duration * 0.9,
        "{tuesday:?}"
    );
    let mut last = 0.0;
    for w in &t.words {
        assert!(w.start >= last - 0.011 && w.start <= w.end, "{w:?}");
        last = w.start;
        assert!(w.confidence.is_some_and(|c| (0.0..=1.0).contains(&c)));
        assert!(
            t.segments.iter().any(|s| w.start >= s.start && w.end <= s.end),
            "{w:?} lies inside a segment"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_channels_tag_the_callers_segments_with_channel_1() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("call-16k-pcm.wav").await, "no synthesised speech");
    // A Twilio-style two-channel recording: the caller on channel 1, a silent agent line on channel 2.
    let caller = decode_pcm(&audio).unwrap().channels.remove(0);
    let agent = vec![0.0; caller.len()];
    let stereo = AudioInput::from_bytes(encode_wav_pcm16(&[caller, agent], 16_000).unwrap()).unwrap();
    let t = whisper
        .transcribe(
            &stereo,
            &TranscribeOptions::new()
                .with_split_channels(true)
                .with_word_timestamps(true),
        )
        .await
        .unwrap();
    assert_key_facts(&t);
    assert!(
        t.segments.iter().all(|s| s.channel == Some(1)),
        "{:?}",
        t.segments
    );
    assert!(t.words.iter().all(|w| w.channel == Some(1)));
    assert_eq!(t.raw.as_ref().unwrap()["streams"][1]["skipped"], "silence gate");
}

// ------------------------------------------------------------------------------------------------ silence

fn assert_nothing_invented(t: &Transcript) {
    assert!(t.no_speech, "silence is flagged: {:?}", t.text);
    assert_eq!(t.text, "");
    assert!(t.segments.is_empty() && t.words.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_gives_an_empty_transcript_flagged_as_no_speech() {
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = require!(speech("silence-8k-mulaw.wav").await, "no synthesised speech");
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new().with_word_timestamps(true))
        .await
        .unwrap();
    assert_nothing_invented(&t);
    assert!((t.duration_seconds.unwrap() - 8.0).abs() < 0.01);
    assert_eq!(t.raw.as_ref().unwrap()["streams"][0]["skipped"], "silence gate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_gate_the_model_hears_silence_and_noise_and_invents_nothing() {
    let _serial = serial().await;
    let model = require!(model_path(), "no tiny.en ggml model");
    let dir = require!(speech_dir(), "no synthesised speech");
    let whisper = WhisperLocalBuilder::new(model)
        .with_threads(2)
        .with_silence_gate(None)
        .build()
        .unwrap();
    // Whisper tiny.en answers these with "[BLANK_AUDIO]" and "(wind howling)"-style annotations, which are
    // not speech.
    let noise = dir.join("brown-noise-16k.wav");
    let status = Command::new("sox")
        .args([
            "-R",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
        ])
        .arg(&noise)
        .args(["synth", "6", "brownnoise", "vol", "0.1"])
        .status()
        .unwrap();
    assert!(status.success());
    for file in [dir.join("silence-8k-mulaw.wav"), noise] {
        let audio = AudioInput::from_file(&file).await.unwrap();
        let t = whisper
            .transcribe(&audio, &TranscribeOptions::new())
            .await
            .unwrap();
        assert_nothing_invented(&t);
        assert!(
            t.raw.as_ref().unwrap()["streams"][0]["segments"].is_array(),
            "the model ran"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50ms_blip_is_padded_and_transcribed_without_error() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let blip: Vec<f32> = (0..400).map(|i| (i as f32 * 0.35).sin() * 0.5).collect();
    let audio = AudioInput::from_bytes(encode_wav_pcm16(&[blip], 8000).unwrap()).unwrap();
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new())
        .await
        .unwrap();
    assert!((t.duration_seconds.unwrap() - 0.05).abs() < 0.001);
    assert!(t.segments.iter().all(|s| s.end <= 1.01));
}

// ------------------------------------------------------------------------------------------------ failures

#[tokio::test]
async fn undecodable_audio_is_invalid_audio() {
    let whisper = require!(whisper(), "no tiny.en ggml model");
    // A WAV whose header promises PCM but whose data chunk is cut off after the header.
    let mut wav = encode_wav_pcm16(&[vec![0.1; 1600]], 16_000).unwrap().to_vec();
    wav.truncate(44);
    match AudioInput::from_bytes(wav) {
        Err(e) => assert!(e.is_audio_problem(), "{e}"),
        Ok(audio) => {
            let err = whisper
                .transcribe(&audio, &TranscribeOptions::new())
                .await
                .unwrap_err();
            assert!(matches!(err, Error::InvalidAudio { .. }), "{err}");
        }
    }
    // MP3 framing with garbage inside: recognised by its magic bytes, undecodable.
    let mut mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    mp3.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    if let Ok(audio) = AudioInput::from_bytes(mp3) {
        let err = whisper
            .transcribe(&audio, &TranscribeOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidAudio { .. }), "{err}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn requests_the_model_cannot_serve_are_rejected_before_inference() {
    let _serial = serial().await;
    let whisper = require!(whisper(), "no tiny.en ggml model");
    let audio = AudioInput::from_bytes(encode_wav_pcm16(&[vec![0.0; 8000]], 8000).unwrap()).unwrap();
    let err = whisper
        .transcribe(&audio, &TranscribeOptions::new().with_language("es"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest { ref code, .. } if code.as_deref() == Some("unsupported_language")),
        "{err}"
    );
    let err = whisper
        .transcribe(&audio, &TranscribeOptions::new().with_model("whisper-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest { ref code, .. } if code.as_deref() == Some("model_not_loaded")),
        "{err}"
    );
    // The loaded model by name, or "auto" language, are fine.
    let options = TranscribeOptions::new()
        .with_model("tiny.en")
        .with_language("auto");
    assert!(whisper.transcribe(&audio, &options).await.unwrap().no_speech);
}

#[test]
fn missing_or_corrupt_models_are_config_errors() {
    let model = require!(model_path(), "no tiny.en ggml model");
    let dir = std::env::temp_dir().join(format!("callbook-whisper-bad-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = std::fs::read(&model).unwrap();
    let cases: Vec<(&str, PathBuf)> = vec![
        ("missing", dir.join("does-not-exist.bin")),
        ("directory", dir.clone()),
        ("empty", write(&dir, "empty.bin", b"")),
        (
            "not ggml",
            write(&dir, "text.bin", b"this is not a model, just text"),
        ),
        ("gguf", write(&dir, "model.gguf", b"GGUF\x03\x00\x00\x00rest")),
        ("header only", write(&dir, "header.bin", &real[..48])),
        ("truncated", write(&dir, "truncated.bin", &real[..real.len() / 3])),
    ];
    for (what, path) in cases {
        let err = WhisperLocalTranscriber::new(&path).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{what}: {err}");
        assert!(!err.is_retryable());
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let err = WhisperLocalBuilder::from_env_with(|_| None).build().unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("CALLBOOK_WHISPER_MODEL")),
        "{err}"
    );
    let err = WhisperLocalBuilder::new(&model)
        .with_language("de")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("English-only")),
        "{err}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn the_model_is_described_without_loading_twice() {
    let whisper = require!(whisper(), "no tiny.en ggml model");
    assert_eq!(whisper.model(), "tiny.en");
    assert!(!whisper.is_multilingual());
    assert_eq!((whisper.threads(), whisper.beam_size()), (2, 5));
    let caps = whisper.capabilities();
    assert!(caps.offline && caps.segments && caps.confidence && caps.word_timestamps);
    assert_eq!(caps.max_bytes, None);
    let debug = format!("{whisper:?}");
    assert!(debug.contains("tiny.en") && debug.contains("beam_size"));
    // Clones share the loaded model.
    let clone = whisper.clone();
    assert_eq!(clone.model(), whisper.model());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_transcription_frees_the_backend_for_the_next_one() {
    let _serial = serial().await;
    let model = require!(model_path(), "no tiny.en ggml model");
    let audio = require!(speech("call-16k-pcm.wav").await, "no synthesised speech");
    // Its own instance, so other tests' inferences do not queue behind the abandoned one.
    let whisper = WhisperLocalBuilder::new(model).with_threads(2).build().unwrap();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        whisper.transcribe(&audio, &TranscribeOptions::new()),
    )
    .await;
    assert!(
        abandoned.is_err(),
        "the first transcription was cut off by the timeout"
    );
    // The next one waits for the aborted inference to stop, then runs normally.
    let t = whisper
        .transcribe(&audio, &TranscribeOptions::new())
        .await
        .unwrap();
    assert_key_facts(&t);
}

#[test]
fn key_word_normalisation() {
    assert_eq!(
        normalised_words("Hi, this is Marie Lopez. 42 Oak St.; forty two; Tuesday at 3pm, three-thirty"),
        [
            "hi", "this", "is", "marie", "lopez", "42", "oak", "st", "42", "tuesday", "at", "3", "pm", "3",
            "30"
        ]
    );
    assert_eq!(edit_distance("marie", "maria"), 1);
    assert_eq!(edit_distance("mario", "maria"), 1);
    assert_eq!(edit_distance("mark", "maria"), 2);
}
