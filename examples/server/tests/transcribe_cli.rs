//! `callbook transcribe FILE…` run as a binary: the demo (sidecar) transcriber, the OpenAI transcriber
//! against a local mock, the environment's selection rules and the DESIGN.md §5 output shape.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use callbook_transcribe::audio::encode_wav_pcm16;
use serde_json::{Value, json};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callbook-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wav(seconds: f64, amplitude: f32) -> Vec<u8> {
    let n = (8000.0 * seconds) as usize;
    let samples: Vec<f32> = (0..n).map(|i| (i as f32 * 0.25).sin() * amplitude).collect();
    encode_wav_pcm16(&[samples], 8000).unwrap().to_vec()
}

fn callbook(env: &[(&str, &str)], args: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callbook"));
    cmd.arg("transcribe");
    for a in args {
        cmd.arg(a);
    }
    for k in [
        "CALLBOOK_TRANSCRIBER",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "CALLBOOK_WHISPER_MODEL",
        "CALLBOOK_TRANSCRIBE_MODEL",
        "CALLBOOK_TRANSCRIBE_PROFILE",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn demo_transcriber_reads_sidecars_and_reports_each_file() {
    let dir = temp_dir("demo");
    std::fs::write(dir.join("call.wav"), wav(4.0, 0.4)).unwrap();
    std::fs::write(
        dir.join("call.txt"),
        "Hi, this is Maria Lopez, my sink is leaking.\nMy card is 4111 1111 1111 1111, expires 12/27.\n",
    )
    .unwrap();
    std::fs::write(dir.join("silent.wav"), wav(2.0, 0.0)).unwrap();
    std::fs::write(
        dir.join("silent.transcript.json"),
        json!({"text": "Thank you.", "segments": [{"start": 0.0, "end": 2.0, "text": "Thank you.",
               "stats": {"avg_logprob": -1.4, "no_speech_prob": 0.95}}]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("nosidecar.wav"), wav(1.0, 0.4)).unwrap();
    std::fs::write(dir.join("notaudio.wav"), b"this is not audio").unwrap();
    let files = [
        "call.wav",
        "silent.wav",
        "nosidecar.wav",
        "notaudio.wav",
        "absent.wav",
    ]
    .map(|f| dir.join(f));
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = callbook(&[], &refs);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("sidecar"));
    let l = lines(&out);
    assert_eq!(l.len(), 5, "one line per file");
    for (line, file) in l.iter().zip(&files) {
        assert_eq!(line["file"], file.display().to_string());
    }

    let t = &l[0]["transcript"];
    assert_eq!(
        t["text"],
        "Hi, this is Maria Lopez, my sink is leaking. My card is [CARD], expires [EXPIRY]."
    );
    assert_eq!(t["duration_seconds"], 4.0);
    assert!(t["confidence"].is_null());
    assert!(t["language"].is_null());
    let segments = t["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[1]["text"], "My card is [CARD], expires [EXPIRY].");
    assert_eq!(segments[0]["start"], 0.0);
    assert!((segments[1]["end"].as_f64().unwrap() - 4.0).abs() < 1e-9);
    for key in ["start", "end", "text", "confidence"] {
        assert!(segments[0].get(key).is_some(), "segment key {key}");
    }
    let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["confidence", "duration_seconds", "language", "segments", "text"]
    );

    assert_eq!(l[1]["transcript"]["text"], "", "silence is not invented");
    assert_eq!(l[1]["transcript"]["segments"], json!([]));
    assert!(l[2]["error"].as_str().unwrap().contains("nosidecar.txt"));
    assert!(l[3]["error"].as_str().unwrap().contains("invalid audio"));
    assert!(l[4]["error"].as_str().unwrap().contains("absent.wav"));

    let out = callbook(&[("CALLBOOK_TRANSCRIBER", "demo")], &[&dir.join("call.wav")]);
    assert_eq!(out.status.code(), Some(0));
    let out = callbook(&[], &[&dir.join("call.wav")]);
    assert_eq!(out.status.code(), Some(0));
    let no_redact = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callbook"));
        cmd.args(["transcribe", "--no-redact"]).arg(dir.join("call.wav"));
        cmd.env_remove("OPENAI_API_KEY")
            .env_remove("CALLBOOK_WHISPER_MODEL")
            .env_remove("CALLBOOK_TRANSCRIBER");
        cmd.output().unwrap()
    };
    assert!(
        lines(&no_redact)[0]["transcript"]["text"]
            .as_str()
            .unwrap()
            .contains("4111 1111 1111 1111")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_selection_is_a_clear_error() {
    let dir = temp_dir("select");
    std::fs::write(dir.join("call.wav"), wav(1.0, 0.4)).unwrap();
    let out = callbook(&[("CALLBOOK_TRANSCRIBER", "vosk")], &[&dir.join("call.wav")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CALLBOOK_TRANSCRIBER"));
    assert!(out.stdout.is_empty());

    let out = callbook(&[("CALLBOOK_TRANSCRIBER", "openai")], &[&dir.join("call.wav")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OPENAI_API_KEY"));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(not(feature = "whisper-local"))]
#[test]
fn whisper_local_without_the_feature_says_how_to_get_it() {
    let dir = temp_dir("whisper");
    std::fs::write(dir.join("call.wav"), wav(1.0, 0.4)).unwrap();
    for env in [
        vec![("CALLBOOK_TRANSCRIBER", "whisper-local")],
        vec![("CALLBOOK_WHISPER_MODEL", "/models/ggml-tiny.en.bin")],
    ] {
        let out = callbook(&env, &[&dir.join("call.wav")]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--features whisper-local"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_transcriber_against_a_mock() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .and(header("authorization", "Bearer sk-cli"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "task": "transcribe", "language": "english", "duration": 3.0,
            "text": "Kitchen sink is leaking.",
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 3.0, "text": " Kitchen sink is leaking.",
                          "tokens": [], "temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 1.1,
                          "no_speech_prob": 0.01}],
            "usage": {"type": "duration", "seconds": 3}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = temp_dir("openai");
    std::fs::write(dir.join("call.wav"), wav(3.0, 0.4)).unwrap();
    let base = format!("{}/v1", server.uri());
    let file = dir.join("call.wav");
    let out = tokio::task::spawn_blocking(move || {
        callbook(
            &[("OPENAI_API_KEY", "sk-cli"), ("OPENAI_BASE_URL", &base)],
            &[&file],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("sk-cli"),
        "no secrets on stderr"
    );
    let l = lines(&out);
    let t = &l[0]["transcript"];
    assert_eq!(t["text"], "Kitchen sink is leaking.");
    assert_eq!(t["language"], "en");
    assert_eq!(t["duration_seconds"], 3.0);
    let c = (-0.25f64).exp() * 0.99;
    assert!((t["confidence"].as_f64().unwrap() - c).abs() < 1e-9);
    assert!((t["segments"][0]["confidence"].as_f64().unwrap() - c).abs() < 1e-9);
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "whisper-local")]
#[test]
fn whisper_local_with_a_missing_model_is_a_clear_error() {
    let dir = temp_dir("whisper-missing");
    std::fs::write(dir.join("call.wav"), wav(1.0, 0.4)).unwrap();
    let missing = dir.join("no-such-model.bin");
    let out = callbook(
        &[("CALLBOOK_WHISPER_MODEL", missing.to_str().unwrap())],
        &[&dir.join("call.wav")],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("whisper-local"), "{stderr}");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_channel_recordings_are_transcribed_channel_by_channel_unless_mono() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

    struct Answer(AtomicUsize);
    impl Respond for Answer {
        fn respond(&self, _req: &Request) -> ResponseTemplate {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let (start, text) = [(0.0, "Hi, my sink is leaking."), (1.0, "Sorry to hear that.")][n % 2];
            ResponseTemplate::new(200).set_body_json(json!({
                "language": "english", "duration": 3.0, "text": text,
                "segments": [{"start": start, "end": start + 0.5, "text": text,
                              "avg_logprob": -0.1, "no_speech_prob": 0.01}]
            }))
        }
    }

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Answer(AtomicUsize::new(0)))
        .mount(&server)
        .await;
    let dir = temp_dir("stereo");
    let tone: Vec<f32> = (0..24_000).map(|i| (i as f32 * 0.25).sin() * 0.4).collect();
    let stereo = encode_wav_pcm16(&[tone.clone(), tone], 8000).unwrap();
    std::fs::write(dir.join("call.wav"), &stereo).unwrap();
    let base = format!("{}/v1", server.uri());
    let run = |mono: bool| {
        let base = base.clone();
        let file = dir.join("call.wav");
        tokio::task::spawn_blocking(move || {
            let env = [("OPENAI_API_KEY", "sk-cli"), ("OPENAI_BASE_URL", base.as_str())];
            if mono {
                callbook(&env, &[Path::new("--mono"), &file])
            } else {
                callbook(&env, &[&file])
            }
        })
    };
    let out = run(false).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one upload per channel"
    );
    let t = &lines(&out)[0]["transcript"];
    assert_eq!(t["text"], "Hi, my sink is leaking. Sorry to hear that.");
    let keys: Vec<&String> = t["segments"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["confidence", "end", "start", "text"],
        "the DESIGN.md §5 shape"
    );

    let out = run(true).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        3,
        "--mono: one upload"
    );
    let _ = std::fs::remove_dir_all(dir);
}
