//! The OpenAI-compatible backend against a local mock server speaking each provider's exact shapes.
#![cfg(feature = "openai")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use callbook_transcribe::audio::{AudioInput, encode_wav_pcm16};
use callbook_transcribe::openai::{OpenAiTranscriber, Profile};
use callbook_transcribe::{Error, TranscribeOptions, Transcriber, Usage};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn tone_wav(seconds: f64) -> AudioInput {
    let n = (8000.0 * seconds) as usize;
    let samples: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin() * 0.4).collect();
    AudioInput::from_bytes(encode_wav_pcm16(&[samples], 8000).unwrap())
        .unwrap()
        .with_filename("call.wav")
}

/// One multipart part: (name, filename, content type, body).
type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// A small independent multipart/form-data parser for checking what the backend sent.
fn parts(req: &Request) -> Vec<Part> {
    let ct = req
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("multipart/form-data"), "{ct}");
    let boundary = ct.split("boundary=").nth(1).unwrap().trim_matches('"').to_owned();
    let delim = format!("--{boundary}").into_bytes();
    let body = &req.body;
    let mut positions = Vec::new();
    let mut i = 0;
    while i + delim.len() <= body.len() {
        if body[i..i + delim.len()] == delim[..] {
            positions.push(i);
            i += delim.len();
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for w in positions.windows(2) {
        let part = &body[w[0] + delim.len() + 2..w[1] - 2];
        let split = part.windows(4).position(|x| x == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let content = part[split + 4..].to_vec();
        let attr = |key: &str| {
            head.split(';')
                .map(str::trim)
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.split('"').next().unwrap().to_owned())
        };
        let content_type = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Content-Type: ")
                    .or_else(|| l.strip_prefix("content-type: "))
            })
            .map(str::to_owned);
        out.push((attr("name").unwrap(), attr("filename"), content_type, content));
    }
    out
}

fn field(parts: &[Part], name: &str) -> Vec<String> {
    parts
        .iter()
        .filter(|p| p.0 == name)
        .map(|p| String::from_utf8_lossy(&p.3).to_string())
        .collect()
}

fn verbose_json() -> serde_json::Value {
    // The shape of the spec's `CreateTranscriptionResponseVerboseJson` example.
    json!({
        "task": "transcribe",
        "language": "english",
        "duration": 3.0,
        "text": "Hi, this is Maria Lopez. My sink is leaking.",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 1.8, "text": " Hi, this is Maria Lopez.",
             "tokens": [50364, 2421, 11], "temperature": 0.0, "avg_logprob": -0.286,
             "compression_ratio": 1.236, "no_speech_prob": 0.0099},
            {"id": 1, "seek": 0, "start": 1.8, "end": 3.0, "text": " My sink is leaking.",
             "tokens": [50454, 1222], "temperature": 0.0, "avg_logprob": -0.5,
             "compression_ratio": 1.1, "no_speech_prob": 0.02}
        ],
        "words": [
            {"word": "Hi", "start": 0.0, "end": 0.3},
            {"word": "Maria", "start": 0.9, "end": 1.2}
        ],
        "usage": {"type": "duration", "seconds": 3}
    })
}

#[tokio::test]
async fn openai_whisper_1_verbose_json_request_and_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(header("openai-project", "proj_1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_123")
                .set_body_json(verbose_json()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(format!("{}/v1", server.uri()))
        .with_api_key("sk-test")
        .with_project("proj_1")
        .build()
        .unwrap();
    assert!(
        !format!("{backend:?}").contains("sk-test"),
        "the key must not show in Debug"
    );
    let audio = tone_wav(3.0);
    let options = TranscribeOptions::new()
        .with_language("en")
        .with_prompt("Call to Acme Plumbing.")
        .with_vocabulary(["PEX", "Oak Street"])
        .with_word_timestamps(true);
    let t = backend.transcribe(&audio, &options).await.unwrap();

    let reqs = server.received_requests().await.unwrap();
    let p = parts(&reqs[0]);
    let file = p.iter().find(|p| p.0 == "file").unwrap();
    assert_eq!(file.1.as_deref(), Some("call.wav"));
    assert_eq!(file.2.as_deref(), Some("audio/wav"));
    assert_eq!(
        &file.3[..],
        &audio.bytes()[..],
        "the audio goes out byte for byte"
    );
    assert_eq!(field(&p, "model"), ["whisper-1"]);
    assert_eq!(field(&p, "response_format"), ["verbose_json"]);
    assert_eq!(field(&p, "timestamp_granularities[]"), ["segment", "word"]);
    assert_eq!(field(&p, "language"), ["en"]);
    assert_eq!(field(&p, "prompt"), ["Call to Acme Plumbing. PEX, Oak Street."]);
    assert_eq!(field(&p, "temperature"), ["0"]);
    assert!(field(&p, "include[]").is_empty());

    assert_eq!(t.text, "Hi, this is Maria Lopez. My sink is leaking.");
    assert_eq!(t.language_code().as_deref(), Some("en"));
    assert_eq!(t.duration_seconds, Some(3.0));
    assert_eq!(t.provider, "openai");
    assert_eq!(t.model.as_deref(), Some("whisper-1"));
    assert_eq!(t.request_id.as_deref(), Some("req_123"));
    assert_eq!(t.usage, Some(Usage::Duration { seconds: 3.0 }));
    assert_eq!(t.segments.len(), 2);
    assert_eq!(t.segments[0].text, "Hi, this is Maria Lopez.");
    let c0 = (-0.286f64).exp() * (1.0 - 0.0099);
    let c1 = (-0.5f64).exp() * (1.0 - 0.02);
    assert!((t.segments[0].confidence.unwrap() - c0).abs() < 1e-9);
    let conf = t.confidence.unwrap();
    assert!((conf.mean - (1.8 * c0 + 1.2 * c1) / 3.0).abs() < 1e-9);
    assert!((conf.min - c1).abs() < 1e-9);
    assert_eq!(t.words.len(), 2);
    assert_eq!(t.words[1].text, "Maria");
    assert!(t.raw.is_some());
    assert!(!t.no_speech);
}

#[tokio::test]
async fn gpt_4o_transcribe_uses_json_with_logprobs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "text": "Hello there.",
            "logprobs": [
                {"token": "Hello", "logprob": -0.1, "bytes": [72, 101, 108, 108, 111]},
                {"token": " there", "logprob": -0.3, "bytes": [32, 116, 104, 101, 114, 101]},
                {"token": ".", "logprob": -0.05, "bytes": [46]}
            ],
            "usage": {"type": "tokens", "input_tokens": 14, "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                      "output_tokens": 45, "total_tokens": 59}
        })))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(format!("{}/v1", server.uri()))
        .with_api_key("sk-test")
        .with_model("gpt-4o-transcribe")
        .build()
        .unwrap();
    assert_eq!(
        backend.capabilities().max_duration,
        Some(Duration::from_secs(1400))
    );
    let t = backend
        .transcribe(
            &tone_wav(1.0),
            &TranscribeOptions::new().with_word_timestamps(true),
        )
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let p = parts(&reqs[0]);
    assert_eq!(field(&p, "response_format"), ["json"]);
    assert_eq!(field(&p, "include[]"), ["logprobs"]);
    assert_eq!(field(&p, "model"), ["gpt-4o-transcribe"]);
    assert!(
        field(&p, "timestamp_granularities[]").is_empty(),
        "json does not take granularities"
    );
    assert_eq!(t.text, "Hello there.");
    let c = t.confidence.unwrap();
    assert!((c.mean - (-0.15f64).exp()).abs() < 1e-9);
    assert!((c.min - (-0.3f64).exp()).abs() < 1e-9);
    assert_eq!(
        t.usage,
        Some(Usage::Tokens {
            input_tokens: 14,
            output_tokens: 45,
            total_tokens: 59,
            audio_tokens: Some(14),
            text_tokens: Some(0)
        })
    );
}

#[tokio::test]
async fn azure_uses_the_deployment_url_api_version_and_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/callbook-whisper/audio/transcriptions"))
        .and(query_param("api-version", "2024-06-01"))
        .and(header("api-key", "azure-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("apim-request-id", "az-1")
                .set_body_json(verbose_json()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::Azure)
        .with_base_url(server.uri())
        .with_api_key("azure-key")
        .with_azure_deployment("callbook-whisper")
        .with_azure_api_version("2024-06-01")
        .with_model("whisper")
        .build()
        .unwrap();
    let t = backend
        .transcribe(&tone_wav(1.0), &TranscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(t.provider, "azure");
    assert_eq!(t.request_id.as_deref(), Some("az-1"));
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
    assert!(
        field(&parts(&reqs[0]), "model").is_empty(),
        "the deployment decides the model"
    );
}

#[tokio::test]
async fn groq_extra_fields_and_string_duration_are_tolerated() {
    let server = MockServer::start().await;
    let mut body = verbose_json();
    body["duration"] = json!("3.5");
    body["x_groq"] = json!({"id": "req_01abc"});
    body["usage"] = json!({"type": "duration", "seconds": 3.5, "queue_time": 0.01, "total_time": 0.2});
    Mock::given(method("POST"))
        .and(path("/openai/v1/audio/transcriptions"))
        .and(header("authorization", "Bearer gsk-test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::Groq)
        .with_base_url(format!("{}/openai/v1", server.uri()))
        .with_api_key("gsk-test")
        .build()
        .unwrap();
    let t = backend
        .transcribe(&tone_wav(1.0), &TranscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(t.duration_seconds, Some(3.5));
    assert_eq!(t.usage, Some(Usage::Duration { seconds: 3.5 }));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(field(&parts(&reqs[0]), "model"), ["whisper-large-v3-turbo"]);
}

#[tokio::test]
async fn whisper_cpp_server_shape_and_string_errors() {
    let server = MockServer::start().await;
    // whisper.cpp's verbose_json: no seek/compression_ratio, words nested in segments with probability,
    // no usage.
    Mock::given(method("POST"))
        .and(path("/inference"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "task": "transcribe", "language": "english", "duration": 2.0,
            "text": " Kitchen sink.",
            "segments": [{"id": 0, "text": " Kitchen sink.", "start": 0.0, "end": 2.0,
                          "tokens": [1, 2], "words": [
                              {"word": " Kitchen", "start": 0.1, "end": 0.6, "t_dtw": -1, "probability": 0.91},
                              {"word": " sink.", "start": 0.6, "end": 1.1, "t_dtw": -1, "probability": 0.87}],
                          "temperature": 0.0, "avg_logprob": -0.2, "no_speech_prob": 0.01}]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/inference"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "failed to read audio data"})))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::WhisperCpp)
        .with_base_url(server.uri())
        .build()
        .unwrap();
    let t = backend
        .transcribe(
            &tone_wav(2.0),
            &TranscribeOptions::new().with_word_timestamps(true),
        )
        .await
        .unwrap();
    assert_eq!(t.provider, "whisper.cpp");
    assert_eq!(t.text, "Kitchen sink.");
    assert_eq!(t.words.len(), 2);
    assert_eq!(t.words[0].confidence, Some(0.91));
    assert!(
        t.segments[0].stats.compression_ratio.is_some(),
        "computed locally"
    );
    assert_eq!(
        t.usage,
        Some(Usage::Duration { seconds: 2.0 }),
        "metered from the duration"
    );
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
    assert!(field(&parts(&reqs[0]), "model").is_empty());

    let err = backend
        .transcribe(&tone_wav(2.0), &TranscribeOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { status: Some(500), message, .. } if message == "failed to read audio data"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn speaches_fastapi_detail_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"detail": "Model 'Systran/faster-whisper-small' is not installed locally."}),
        ))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::Speaches)
        .with_base_url(format!("{}/v1", server.uri()))
        .build()
        .unwrap();
    let err = backend
        .transcribe(&tone_wav(1.0), &TranscribeOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { message } if message.contains("not installed")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(field(&parts(&reqs[0]), "model"), ["Systran/faster-whisper-small"]);
}

async fn error_for(template: ResponseTemplate) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .build()
        .unwrap()
        .transcribe(&tone_wav(0.5), &TranscribeOptions::new())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn http_statuses_map_to_semantic_errors() {
    let openai_error = |message: &str, kind: &str, code: &str| json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    let e = error_for(ResponseTemplate::new(401).set_body_json(openai_error(
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    )))
    .await;
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");

    let e = error_for(
        ResponseTemplate::new(413).set_body_string("Maximum content size limit (26214400) exceeded"),
    )
    .await;
    assert!(
        matches!(&e, Error::AudioTooLarge { message } if message.contains("26214400")),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    let e = error_for(
        ResponseTemplate::new(429)
            .insert_header("retry-after-ms", "1500")
            .insert_header("retry-after", "2")
            .insert_header("x-ratelimit-remaining-requests", "0")
            .insert_header("x-ratelimit-reset-requests", "1s")
            .set_body_json(openai_error(
                "Rate limit reached for requests",
                "requests",
                "rate_limit_exceeded",
            )),
    )
    .await;
    assert!(
        matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500)),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let e = error_for(ResponseTemplate::new(429).set_body_json(openai_error(
        "You exceeded your current quota",
        "insufficient_quota",
        "insufficient_quota",
    )))
    .await;
    assert!(matches!(e, Error::QuotaExceeded { .. }) && !e.is_retryable());

    let e = error_for(
        ResponseTemplate::new(503)
            .insert_header("retry-after", "3")
            .set_body_json(openai_error(
                "The server is overloaded",
                "server_error",
                "server_is_overloaded",
            )),
    )
    .await;
    assert!(
        matches!(e, Error::Unavailable { status: Some(503), retry_after: Some(d), .. } if d == Duration::from_secs(3)),
        "{e:?}"
    );

    let e = error_for(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;
    assert!(
        matches!(
            &e,
            Error::Unavailable {
                status: Some(502),
                ..
            }
        ) && e.is_retryable()
    );

    let e = error_for(ResponseTemplate::new(400).set_body_json(openai_error(
        "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
        "invalid_request_error",
        "invalid_value",
    )))
    .await;
    assert!(matches!(e, Error::InvalidAudio { .. }), "{e:?}");

    let e = error_for(ResponseTemplate::new(200).set_body_string("not json")).await;
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");

    for status in [408, 409] {
        let e = error_for(ResponseTemplate::new(status).set_body_string("")).await;
        assert!(e.is_retryable(), "{status}: {e:?}");
    }
}

#[tokio::test]
async fn slow_responses_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(verbose_json()),
        )
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = backend
        .transcribe(&tone_wav(0.5), &TranscribeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_retryable_unavailable() {
    // Bind a port, then free it, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = OpenAiTranscriber::builder(Profile::WhisperCpp)
        .with_base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = backend
        .transcribe(&tone_wav(0.5), &TranscribeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { status: None, .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn silence_is_an_empty_flagged_transcript() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "task": "transcribe", "language": "english", "duration": 5.0, "text": " Thank you.",
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 5.0, "text": " Thank you.", "tokens": [],
                          "temperature": 0.0, "avg_logprob": -1.45, "compression_ratio": 0.7, "no_speech_prob": 0.93}]
        })))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .build()
        .unwrap();
    let t = backend
        .transcribe(&tone_wav(5.0), &TranscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(t.text, "");
    assert!(t.no_speech);
    assert_eq!(t.guards.dropped_silence, 1);
}

#[test]
fn build_validates_configuration() {
    assert!(matches!(
        OpenAiTranscriber::builder(Profile::OpenAi).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        OpenAiTranscriber::builder(Profile::Azure).with_api_key("k").with_base_url("https://x.openai.azure.com").build(),
        Err(Error::Config(m)) if m.contains("deployment")
    ));
    assert!(matches!(
        OpenAiTranscriber::builder(Profile::Azure)
            .with_api_key("k")
            .with_base_url("https://x.openai.azure.com")
            .with_azure_deployment("d")
            .build(),
        Err(Error::Config(m)) if m.contains("model behind the deployment")
    ));
    // A key that cannot go into a header is configuration, not a retryable transport failure.
    let err = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_api_key("sk-bad\nkey")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("header")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(!format!("{err:?}").contains("sk-bad"), "the key never shows");
    assert!(matches!(
        OpenAiTranscriber::builder(Profile::WhisperCpp)
            .with_base_url("not a url")
            .build(),
        Err(Error::Config(_))
    ));
    let b = OpenAiTranscriber::builder(Profile::WhisperCpp)
        .with_base_url("http://127.0.0.1:9")
        .with_path("/v1/audio/transcriptions")
        .build()
        .unwrap();
    assert_eq!(b.url(), "http://127.0.0.1:9/v1/audio/transcriptions");
}

/// Answers each chunk with one segment saying which request it was.
struct CountingResponder(std::sync::atomic::AtomicUsize);

impl Respond for CountingResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = parts(req);
        let file = &p.iter().find(|p| p.0 == "file").unwrap().3;
        let part = AudioInput::from_bytes(file.clone()).unwrap();
        let d = part.duration_seconds().unwrap();
        ResponseTemplate::new(200).set_body_json(json!({
            "language": "english", "duration": d, "text": format!("part{n}"),
            "segments": [{"start": 3.0, "end": 4.0, "text": format!("part{n}"), "avg_logprob": -0.1, "no_speech_prob": 0.0}],
            "usage": {"type": "duration", "seconds": d}
        }))
    }
}

#[tokio::test]
async fn over_limit_audio_is_split_and_stitched_with_offsets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(CountingResponder(Default::default()))
        .mount(&server)
        .await;
    // 60 s at 8 kHz with a silent second every 6 s; chunks of at most ~19 s (20 s limit × 0.95).
    let samples: Vec<f32> = (0..8000 * 60)
        .map(|i| {
            if (i / 8000) % 6 == 5 {
                0.0
            } else {
                (i as f32 * 0.3).sin() * 0.4
            }
        })
        .collect();
    let audio = AudioInput::from_bytes(encode_wav_pcm16(&[samples], 8000).unwrap()).unwrap();
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_max_duration(Some(Duration::from_secs(20)))
        .build()
        .unwrap();
    let t = backend
        .transcribe(&audio, &TranscribeOptions::new())
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs.len() >= 4, "{} requests", reqs.len());
    assert_eq!(t.segments.len(), reqs.len());
    let mut last_start = -1.0;
    for (i, s) in t.segments.iter().enumerate() {
        assert_eq!(s.text, format!("part{i}"));
        assert!(s.start > last_start);
        last_start = s.start;
    }
    // Every cut falls in a silent second (6k+5..6k+6 s); chunk starts (= segment start − 3) sit 2 s before it.
    for s in &t.segments[1..] {
        let cut = s.start - 3.0 + 2.0;
        assert!((cut % 6.0) >= 5.0 - 1e-6, "cut at {cut}");
    }
    assert_eq!(t.duration_seconds, Some(60.0));
    match t.usage {
        Some(Usage::Duration { seconds }) => assert!(seconds > 60.0, "overlaps are billed too: {seconds}"),
        other => panic!("{other:?}"),
    }
}

/// Answers the first upload as the caller and the second as the agent, checking each is a mono WAV.
struct ByChannel(std::sync::atomic::AtomicUsize);

impl Respond for ByChannel {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = parts(req);
        let file = p.iter().find(|p| p.0 == "file").unwrap();
        let part = AudioInput::from_bytes(file.3.clone()).unwrap();
        assert_eq!(part.channels(), Some(1), "each channel goes up on its own");
        assert!(file.1.as_deref().unwrap().ends_with(&format!(".ch{}.wav", n + 1)));
        let (start, text) = if n == 0 {
            (0.0, "Hi, my sink is leaking.")
        } else {
            (0.5, "Sorry to hear that.")
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "language": "english", "duration": 1.0, "text": text,
            "segments": [{"start": start, "end": start + 0.4, "text": text, "avg_logprob": -0.1, "no_speech_prob": 0.01}],
            "usage": {"type": "duration", "seconds": 1.0}
        }))
    }
}

#[tokio::test]
async fn twilio_dual_channel_is_transcribed_channel_by_channel() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ByChannel(Default::default()))
        .expect(2)
        .mount(&server)
        .await;
    let stereo = std::fs::read(format!(
        "{}/tests/fixtures/tone_8k_ulaw_stereo.wav",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let audio = AudioInput::from_bytes(stereo).unwrap().with_filename("call.wav");
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .build()
        .unwrap();
    let t = backend
        .transcribe(&audio, &TranscribeOptions::new().with_split_channels(true))
        .await
        .unwrap();
    let got: Vec<(Option<u16>, &str)> = t.segments.iter().map(|s| (s.channel, s.text.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                Some(callbook_transcribe::CALLER_CHANNEL),
                "Hi, my sink is leaking."
            ),
            (Some(callbook_transcribe::AGENT_CHANNEL), "Sorry to hear that.")
        ]
    );
    assert_eq!(t.text, "Hi, my sink is leaking. Sorry to hear that.");
    assert_eq!(t.usage, Some(Usage::Duration { seconds: 2.0 }));
    assert_eq!(t.duration_seconds, Some(1.0));
}

#[tokio::test]
async fn request_construction_errors_are_config_not_retryable() {
    let server = MockServer::start().await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_organization("org\nwith-newline")
        .build()
        .unwrap();
    let err = backend
        .transcribe(&tone_wav(1.0), &TranscribeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn azure_gpt_4o_deployment_gets_json_with_logprobs_and_no_model_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/transcribe/audio/transcriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"text": "Hello."})))
        .expect(1)
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::Azure)
        .with_base_url(server.uri())
        .with_api_key("azure-key")
        .with_azure_deployment("transcribe")
        .with_model("gpt-4o-transcribe")
        .build()
        .unwrap();
    assert_eq!(
        backend.capabilities().max_duration,
        Some(Duration::from_secs(1400))
    );
    let t = backend
        // A per-request model cannot change what the deployment runs.
        .transcribe(&tone_wav(1.0), &TranscribeOptions::new().with_model("whisper-1"))
        .await
        .unwrap();
    assert_eq!(t.text, "Hello.");
    let reqs = server.received_requests().await.unwrap();
    let p = parts(&reqs[0]);
    assert_eq!(field(&p, "response_format"), ["json"]);
    assert_eq!(field(&p, "include[]"), ["logprobs"]);
    assert!(field(&p, "model").is_empty());
}

#[tokio::test]
async fn the_diarize_model_is_not_asked_for_logprobs_or_a_prompt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"text": "Hello."})))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_model("gpt-4o-transcribe-diarize")
        .build()
        .unwrap();
    backend
        .transcribe(
            &tone_wav(1.0),
            &TranscribeOptions::new().with_prompt("Callbook Plumbing"),
        )
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let p = parts(&reqs[0]);
    assert_eq!(field(&p, "response_format"), ["json"]);
    assert!(field(&p, "include[]").is_empty());
    assert!(field(&p, "prompt").is_empty());
    assert_eq!(field(&p, "chunking_strategy"), ["auto"]);
}

/// 1,500 s of tone at 1 kHz (3 MB): over the gpt-4o family's 1,400 s, under every byte limit.
fn long_low_rate_wav() -> AudioInput {
    let samples: Vec<f32> = (0..1000 * 1500).map(|i| (i as f32 * 0.9).sin() * 0.4).collect();
    AudioInput::from_bytes(encode_wav_pcm16(&[samples], 1000).unwrap()).unwrap()
}

#[tokio::test]
async fn duration_limits_follow_the_requests_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(CountingResponder(Default::default()))
        .mount(&server)
        .await;
    let audio = long_low_rate_wav();
    let whisper = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .build()
        .unwrap();
    whisper
        .transcribe(&audio, &TranscribeOptions::new().with_model("gpt-4o-transcribe"))
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2, "a gpt-4o request is split at 1,400 s");
    assert!(
        reqs.iter()
            .all(|r| field(&parts(r), "model") == ["gpt-4o-transcribe"])
    );
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(CountingResponder(Default::default()))
        .mount(&server)
        .await;
    let gpt = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_model("gpt-4o-transcribe")
        .build()
        .unwrap();
    gpt.transcribe(&audio, &TranscribeOptions::new().with_model("whisper-1"))
        .await
        .unwrap();
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "whisper-1 has no duration limit"
    );
}

fn tone_at_dbfs(dbfs: f64, seconds: f64) -> AudioInput {
    // A sine's RMS is its amplitude / √2.
    let amplitude = 10f64.powf(dbfs / 20.0) * std::f64::consts::SQRT_2;
    let samples: Vec<f32> = (0..(8000.0 * seconds) as usize)
        .map(|i| ((i as f64 * 0.3).sin() * amplitude) as f32)
        .collect();
    AudioInput::from_bytes(encode_wav_pcm16(&[samples], 8000).unwrap()).unwrap()
}

#[tokio::test]
async fn audio_below_the_silence_gate_is_not_uploaded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"text": "Thank you."})))
        .mount(&server)
        .await;
    let backend = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_model("gpt-4o-transcribe")
        .build()
        .unwrap();
    for quiet in [
        AudioInput::from_bytes(encode_wav_pcm16(&[vec![0.0; 16_000]], 8000).unwrap()).unwrap(),
        tone_at_dbfs(-70.0, 2.0),
    ] {
        let t = backend
            .transcribe(&quiet, &TranscribeOptions::new())
            .await
            .unwrap();
        assert!(t.no_speech);
        assert_eq!(t.text, "");
        assert_eq!(t.provider, "openai");
        assert_eq!(t.duration_seconds, Some(2.0));
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "silence is not uploaded"
    );
    // Quiet speech above the gate is uploaded; with the gate off, so is silence.
    let t = backend
        .transcribe(&tone_at_dbfs(-50.0, 1.0), &TranscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(t.text, "Thank you.");
    let ungated = OpenAiTranscriber::builder(Profile::OpenAi)
        .with_base_url(server.uri())
        .with_api_key("sk-test")
        .with_model("gpt-4o-transcribe")
        .with_silence_gate(None)
        .build()
        .unwrap();
    ungated
        .transcribe(&tone_at_dbfs(-70.0, 1.0), &TranscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert!(matches!(
        OpenAiTranscriber::builder(Profile::OpenAi)
            .with_api_key("k")
            .with_silence_gate(Some(3.0))
            .build(),
        Err(Error::Config(_))
    ));
}

#[test]
fn a_fallback_from_an_offline_primary_to_the_cloud_is_reported() {
    use callbook_transcribe::fake::SidecarTranscriber;
    use callbook_transcribe::policy::Fallback;
    let cloud = || {
        OpenAiTranscriber::builder(Profile::OpenAi)
            .with_api_key("sk-test")
            .build()
            .unwrap()
    };
    let cooldown = Duration::from_secs(30);
    assert!(Fallback::new(SidecarTranscriber::new(), cloud(), cooldown).sends_audio_off_site());
    assert!(!Fallback::new(cloud(), SidecarTranscriber::new(), cooldown).sends_audio_off_site());
    assert!(
        !Fallback::new(SidecarTranscriber::new(), SidecarTranscriber::new(), cooldown).sends_audio_off_site()
    );
}
