//! The crate's conformance suite (`testing::check_all`) over the local Whisper backend, directly and through
//! `Arc<dyn Transcriber>`, on the synthesised 16 kHz call and the µ-law silence.
//!
//! Needs the tiny.en ggml model and the synthesised audio like `tests/whisper_local.rs`; skips (saying so on
//! stderr) only when they are absent.
#![cfg(all(feature = "whisper-local", feature = "testing"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns panic on broken fixtures

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use callbook_transcribe::testing::{ConformanceFixture, check_all};
use callbook_transcribe::whisper_local::WhisperLocalTranscriber;
use callbook_transcribe::{AudioInput, Transcriber};

fn model_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CALLBOOK_TEST_WHISPER_MODEL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cached = PathBuf::from(std::env::var_os("HOME")?).join(".cache/callbook/models/ggml-tiny.en.bin");
    cached.is_file().then_some(cached)
}

fn speech_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CALLBOOK_TEST_SPEECH_DIR").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let dir = std::env::temp_dir().join(format!("callbook-whisper-conformance-{}", std::process::id()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synth-call.sh");
    Command::new("bash")
        .arg(script)
        .arg(&dir)
        .status()
        .ok()?
        .success()
        .then_some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_whisper_backend_passes_the_conformance_suite() {
    let (Some(model), Some(dir)) = (model_path(), speech_dir()) else {
        eprintln!(
            "skipping: no tiny.en ggml model (crates/transcribe/scripts/fetch-whisper-model.sh, \
             CALLBOOK_TEST_WHISPER_MODEL) or no synthesised speech (espeak-ng and sox)"
        );
        return;
    };
    let fixture = ConformanceFixture {
        speech: AudioInput::from_file(dir.join("call-16k-pcm.wav")).await.unwrap(),
        expected_words: ["Lopez", "42", "Oak", "Street", "Tuesday"]
            .map(String::from)
            .to_vec(),
        silence: AudioInput::from_file(dir.join("silence-8k-mulaw.wav"))
            .await
            .unwrap(),
    };
    let whisper = WhisperLocalTranscriber::builder(model)
        .with_threads(2)
        .build()
        .unwrap();
    check_all(&whisper, &fixture).await.unwrap();
    let shared: Arc<dyn Transcriber> = Arc::new(whisper);
    check_all(&shared, &fixture).await.unwrap();
}
