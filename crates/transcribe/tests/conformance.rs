//! The conformance suite over every backend this crate ships without a model: the scripted and sidecar
//! fakes, the OpenAI-compatible backend against a mock server, the decorator stack, and each again through
//! `Arc<dyn Transcriber>`.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callbook_transcribe::audio::{AudioInput, encode_wav_pcm16, sha256_hex};
use callbook_transcribe::fake::{ScriptedTranscriber, SidecarTranscriber};
use callbook_transcribe::policy::{ConcurrencyLimited, Fallback, Retrying, WithTimeout};
use callbook_transcribe::testing::{ConformanceFixture, check_all};
use callbook_transcribe::{Segment, SegmentStats, Transcriber, Transcript};

const SPEECH_TEXT: &str = "Hi, this is Maria Lopez. Can someone come Tuesday at 3 pm to 42 Oak Street?";

fn speech_wav() -> Vec<u8> {
    let samples: Vec<f32> = (0..8000 * 4).map(|i| (i as f32 * 0.2).sin() * 0.3).collect();
    encode_wav_pcm16(&[samples], 8000).unwrap().to_vec()
}

fn silence_wav() -> Vec<u8> {
    encode_wav_pcm16(&[vec![0.0; 8000 * 2]], 8000).unwrap().to_vec()
}

fn fixture() -> ConformanceFixture {
    ConformanceFixture {
        speech: AudioInput::from_bytes(speech_wav()).unwrap(),
        expected_words: ["Maria", "Lopez", "Tuesday", "Oak", "Street"]
            .map(String::from)
            .to_vec(),
        silence: AudioInput::from_bytes(silence_wav()).unwrap(),
    }
}

/// What Whisper produces on silence: a hallucinated phrase with a high no-speech probability.
fn hallucinated_silence() -> Transcript {
    Transcript {
        text: "Thank you.".into(),
        segments: vec![Segment {
            start: 0.0,
            end: 2.0,
            text: "Thank you.".into(),
            stats: SegmentStats {
                avg_logprob: Some(-1.3),
                no_speech_prob: Some(0.92),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn scripted() -> ScriptedTranscriber {
    let f = fixture();
    let fake = ScriptedTranscriber::new();
    fake.script_text(&f.speech, SPEECH_TEXT);
    fake.script(&f.silence, hallucinated_silence());
    fake
}

#[tokio::test]
async fn scripted_fake_conforms() {
    let fake = scripted();
    check_all(&fake, &fixture()).await.unwrap();
    let dynamic: Arc<dyn Transcriber> = Arc::new(fake);
    check_all(&dynamic, &fixture()).await.unwrap();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callbook-transcribe-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn sidecar_fake_conforms() {
    let dir = temp_dir("sidecar");
    std::fs::write(dir.join("speech.wav"), speech_wav()).unwrap();
    std::fs::write(dir.join("speech.txt"), format!("{SPEECH_TEXT}\n")).unwrap();
    std::fs::write(dir.join("silence.wav"), silence_wav()).unwrap();
    std::fs::write(
        dir.join("silence.transcript.json"),
        serde_json::to_string(&hallucinated_silence()).unwrap(),
    )
    .unwrap();
    let f = ConformanceFixture {
        speech: AudioInput::from_file(dir.join("speech.wav")).await.unwrap(),
        silence: AudioInput::from_file(dir.join("silence.wav")).await.unwrap(),
        ..fixture()
    };
    let sidecar = SidecarTranscriber::new();
    check_all(&sidecar, &f).await.unwrap();
    let t = sidecar.transcribe(&f.speech, &Default::default()).await.unwrap();
    assert_eq!(t.provider, "sidecar");
    assert_eq!(t.text, SPEECH_TEXT);

    // Audio held in memory is found in a configured directory by its hash.
    let in_memory = AudioInput::from_bytes(speech_wav()).unwrap();
    let hashed = temp_dir("sidecar-hash");
    std::fs::write(
        hashed.join(format!("{}.txt", sha256_hex(&speech_wav()))),
        "by hash",
    )
    .unwrap();
    let t = SidecarTranscriber::new()
        .with_dir(&hashed)
        .transcribe(&in_memory, &Default::default())
        .await
        .unwrap();
    assert_eq!(t.text, "by hash");

    // Missing sidecar: a clear error naming what was looked for.
    std::fs::remove_file(dir.join("speech.txt")).unwrap();
    let err = sidecar
        .transcribe(&f.speech, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("speech.txt"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(hashed);
}

#[cfg(feature = "openai")]
mod openai_mock {
    use super::*;
    use callbook_transcribe::openai::{OpenAiTranscriber, Profile};
    use serde_json::json;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    /// Answers like OpenAI's verbose_json, choosing the answer by the SHA-256 of the uploaded file.
    struct ByAudioHash;

    fn file_part(req: &Request) -> Vec<u8> {
        // The file part is the only binary part; find the WAV inside the body.
        let body = &req.body;
        let start = body.windows(4).position(|w| w == b"RIFF").unwrap();
        let len = u32::from_le_bytes(body[start + 4..start + 8].try_into().unwrap()) as usize + 8;
        body[start..start + len].to_vec()
    }

    impl Respond for ByAudioHash {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let hash = sha256_hex(&file_part(req));
            if hash == sha256_hex(&speech_wav()) {
                ResponseTemplate::new(200).set_body_json(json!({
                    "task": "transcribe", "language": "english", "duration": 4.0, "text": SPEECH_TEXT,
                    "segments": [
                        {"id": 0, "seek": 0, "start": 0.0, "end": 1.9, "text": " Hi, this is Maria Lopez.",
                         "tokens": [], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01},
                        {"id": 1, "seek": 0, "start": 1.9, "end": 4.0,
                         "text": " Can someone come Tuesday at 3 pm to 42 Oak Street?",
                         "tokens": [], "temperature": 0.0, "avg_logprob": -0.3, "compression_ratio": 1.3, "no_speech_prob": 0.02}
                    ],
                    "words": [{"word": "Hi", "start": 0.0, "end": 0.2}],
                    "usage": {"type": "duration", "seconds": 4}
                }))
            } else if hash == sha256_hex(&silence_wav()) {
                ResponseTemplate::new(200).set_body_json(json!({
                    "task": "transcribe", "language": "english", "duration": 2.0, "text": " Thank you.",
                    "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 2.0, "text": " Thank you.", "tokens": [],
                                  "temperature": 0.0, "avg_logprob": -1.3, "compression_ratio": 0.6, "no_speech_prob": 0.92}],
                    "usage": {"type": "duration", "seconds": 2}
                }))
            } else {
                ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Invalid file format.",
                    "type": "invalid_request_error", "param": null, "code": null}}))
            }
        }
    }

    async fn backend() -> (MockServer, OpenAiTranscriber) {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(ByAudioHash)
            .mount(&server)
            .await;
        let backend = OpenAiTranscriber::builder(Profile::OpenAi)
            .with_base_url(format!("{}/v1", server.uri()))
            .with_api_key("sk-test")
            .build()
            .unwrap();
        (server, backend)
    }

    #[tokio::test]
    async fn openai_backend_against_the_mock_conforms() {
        let (_server, backend) = backend().await;
        check_all(&backend, &fixture()).await.unwrap();
        let dynamic: Arc<dyn Transcriber> = Arc::new(backend);
        check_all(&dynamic, &fixture()).await.unwrap();
    }

    #[tokio::test]
    async fn the_documented_decorator_stack_conforms() {
        let (_server, backend) = backend().await;
        let stack: Arc<dyn Transcriber> = Arc::new(Fallback::new(
            Retrying::new(ConcurrencyLimited::new(
                WithTimeout::new(backend, Duration::from_secs(30)),
                2,
            )),
            scripted(),
            Duration::from_secs(60),
        ));
        check_all(&stack, &fixture()).await.unwrap();
        assert_eq!(stack.provider(), "openai");
    }
}
