//! `callbook extract` against bad bytes and a flaky provider: the real binary, real files, a local mock server.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const CALL: &str = r#"{"id": "ok-1", "call_started_at": "2026-03-10T14:05:00-04:00", "timezone": "America/New_York", "transcript": "Caller: Hi, my sink is leaking, can you come tomorrow at 3?"}"#;

fn run(name: &str, input: &[u8], env: &[(&str, &str)]) -> (std::process::Output, Vec<Value>) {
    let dir = std::env::temp_dir().join(format!("callbook-extract-robust-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let (input_path, output_path): (PathBuf, PathBuf) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    std::fs::write(&input_path, input).unwrap_or_else(|e| panic!("writing the input: {e}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command
        .arg("extract")
        .arg("--input")
        .arg(&input_path)
        .arg("--output")
        .arg(&output_path)
        .env_remove("OPENAI_API_KEY")
        .env_remove("CALLBOOK_EXTRACTOR")
        .env_remove("OPENAI_BASE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running callbook: {e}"));
    let lines = std::fs::read_to_string(&output_path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("output line is not JSON: {e}")))
        .collect();
    (output, lines)
}

#[test]
fn a_non_utf8_line_becomes_an_error_line_and_the_run_goes_on() {
    let mut input = Vec::new();
    input.extend_from_slice(CALL.as_bytes());
    input.extend_from_slice(b"\n{\"id\": \"latin-1\", \"transcript\": \"Caller: caf\xe9\"}\n\xff\xfe\n");
    input.extend_from_slice(CALL.replace("ok-1", "ok-2").as_bytes());
    let (output, lines) = run("utf8", &input, &[("CALLBOOK_EXTRACTOR", "rules")]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["id"], "ok-1");
    assert!(lines[0]["extraction"].is_object());
    assert_eq!(lines[1]["id"], "latin-1");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("invalid UTF-8"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["id"], Value::Null);
    assert!(lines[2]["error"].as_str().unwrap().contains("invalid UTF-8"));
    assert_eq!(lines[3]["id"], "ok-2");
    assert!(lines[3]["extraction"].is_object());
}

#[tokio::test]
async fn a_rate_limit_is_retried_honouring_retry_after() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(serde_json::json!({"error": {
                    "message": "Rate limit reached for requests", "type": "requests",
                    "param": null, "code": "rate_limit_exceeded"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let answer = serde_json::json!({"call_kind": "spam", "appointments": [], "confidence": 0.9});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.to_string(), "refusal": null}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        })))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let (output, lines) = tokio::task::spawn_blocking(move || {
        run(
            "retry",
            CALL.as_bytes(),
            &[
                ("CALLBOOK_EXTRACTOR", "openai"),
                ("OPENAI_API_KEY", "sk-test"),
                ("OPENAI_BASE_URL", base.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["extraction"]["call_kind"], "spam", "{}", lines[0]);
}
