//! End-to-end tests of `callbook extract` (DESIGN.md §5): the real binary, real files.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callbook-extract-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn run(dir: &Path, input: &str, args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, Vec<Value>) {
    let input_path = dir.join("in.jsonl");
    let output_path = dir.join("out.jsonl");
    std::fs::write(&input_path, input).unwrap_or_else(|e| panic!("writing the input: {e}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command
        .arg("extract")
        .arg("--input")
        .arg(&input_path)
        .arg("--output")
        .arg(&output_path)
        .args(args)
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

const CALL: &str = r#"{"id": "fc-1", "call_started_at": "2026-03-10T14:05:00-04:00", "timezone": "America/New_York", "business_name": "Rivera & Sons Plumbing", "transcript": "Agent: Rivera and Sons Plumbing, this is Dana.\nCaller: Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\nAgent: We can come tomorrow between 3 and 5. The service call is $89.\nCaller: Tomorrow between 3 and 5 works.\nAgent: Address?\nCaller: 42 Oak Street, Apt 3B, Yonkers, 10701.\nAgent: Phone?\nCaller: 914-555-2177.\nAgent: You're all set, see you tomorrow."}"#;

#[test]
fn extracts_in_order_and_keeps_going_after_bad_lines() {
    let dir = scratch("order");
    let input = format!(
        "{CALL}\nnot json at all\n{}\n\n{}\n",
        r#"{"id": "bad-zone", "transcript": "Caller: hi", "call_started_at": "2026-03-10T14:05:00-04:00", "timezone": "Mars/Olympus"}"#,
        r#"{"id": 42, "transcript": "Caller: press one now to lower your credit card processing rates, this is your final notice", "call_started_at": "2026-03-10T14:05:00Z", "timezone": "UTC"}"#,
    );
    let (output, lines) = run(&dir, &input, &["--extractor", "rules"], &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "some lines failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines.len(), 4, "one output line per non-empty input line");

    let first = &lines[0];
    assert_eq!(first["id"], "fc-1");
    let extraction = &first["extraction"];
    assert_eq!(extraction["call_kind"], "live");
    assert_eq!(extraction["extractor"]["name"], "rules");
    let appointment = &extraction["appointments"][0];
    assert_eq!(appointment["customer_name"]["value"], "Maria Lopez");
    assert_eq!(appointment["customer_phone"]["value"], "+19145552177");
    assert_eq!(appointment["service_address"]["value"]["line1"], "42 Oak Street");
    assert_eq!(appointment["service_address"]["value"]["line2"], "Apt 3B");
    assert_eq!(appointment["service_address"]["value"]["postal_code"], "10701");
    assert_eq!(appointment["when"]["value"]["date"], "2026-03-11");
    assert_eq!(appointment["when"]["value"]["time"], "15:00");
    assert_eq!(appointment["when"]["value"]["start"], "2026-03-11T15:00:00-04:00");
    assert_eq!(appointment["when"]["value"]["end"], "2026-03-11T17:00:00-04:00");
    assert_eq!(appointment["price"]["value"]["amount"], "89.00");
    assert_eq!(appointment["price"]["value"]["kind"], "fee");

    assert_eq!(lines[1]["id"], Value::Null);
    assert!(lines[1]["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(lines[2]["id"], "bad-zone");
    assert!(lines[2]["error"].as_str().unwrap().contains("Mars/Olympus"));
    assert_eq!(lines[3]["id"], 42);
    assert_eq!(lines[3]["extraction"]["call_kind"], "spam");
    assert_eq!(lines[3]["extraction"]["appointments"], Value::Array(vec![]));
    // The summary goes to stderr and carries no transcript text.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 extracted, 2 failed"), "{stderr}");
    assert!(!stderr.contains("Maria"));
}

#[test]
fn default_extractor_is_rules_without_an_api_key() {
    let dir = scratch("default");
    let (output, lines) = run(&dir, CALL, &[], &[]);
    assert!(output.status.success());
    assert_eq!(lines[0]["extraction"]["extractor"]["name"], "rules");
}

#[test]
fn callbook_extractor_overrides_the_api_key_default() {
    let dir = scratch("override");
    let (output, lines) = run(
        &dir,
        CALL,
        &[],
        &[("OPENAI_API_KEY", "sk-test"), ("CALLBOOK_EXTRACTOR", "rules")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines[0]["extraction"]["extractor"]["name"], "rules");
}

#[test]
fn unknown_extractor_is_a_clear_error() {
    let dir = scratch("unknown");
    let (output, _) = run(&dir, CALL, &["--extractor", "magic"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'magic'"), "{stderr}");
    assert!(stderr.contains("rules") && stderr.contains("openai"), "{stderr}");
    let (output, _) = run(&dir, CALL, &[], &[("CALLBOOK_EXTRACTOR", "magic")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown extractor"));
}

#[test]
fn missing_input_file_is_a_clear_error() {
    let dir = scratch("missing");
    let output = Command::new(env!("CARGO_BIN_EXE_callbook"))
        .args(["extract", "--input"])
        .arg(dir.join("nope.jsonl"))
        .arg("--output")
        .arg(dir.join("out.jsonl"))
        .args(["--extractor", "rules"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.jsonl"));
}

#[tokio::test]
async fn openai_is_the_default_with_an_api_key_and_talks_to_the_configured_server() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let answer = serde_json::json!({"call_kind": "spam", "appointments": [], "confidence": 0.9});
    let completion = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer.to_string(), "refusal": null}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    });
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-cli-test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion))
        .expect(1)
        .mount(&server)
        .await;
    let dir = scratch("openai");
    let base = format!("{}/v1", server.uri());
    let (output, lines) = tokio::task::spawn_blocking(move || {
        run(
            &dir,
            CALL,
            &[],
            &[
                ("OPENAI_API_KEY", "sk-cli-test"),
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
    assert_eq!(lines[0]["extraction"]["extractor"]["name"], "openai");
    assert_eq!(lines[0]["extraction"]["call_kind"], "spam");
}

#[tokio::test]
async fn bad_credentials_stop_the_run_with_exit_code_2() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {
            "message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})))
        .mount(&server)
        .await;
    let dir = scratch("openai-error");
    let base = format!("{}/v1", server.uri());
    let input = format!("{CALL}\n{CALL}\n");
    let (output, lines) = tokio::task::spawn_blocking(move || {
        run(
            &dir,
            &input,
            &["--extractor", "openai"],
            &[("OPENAI_API_KEY", "sk-bad"), ("OPENAI_BASE_URL", base.as_str())],
        )
    })
    .await
    .unwrap();
    // Bad credentials fail every line the same way: the run stops after the first with exit code 2.
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rejected the credentials"), "{stderr}");
    assert!(!stderr.contains("sk-bad"));
    assert_eq!(lines.len(), 1);
    for line in &lines {
        assert_eq!(line["id"], "fc-1");
        assert!(
            line["error"]
                .as_str()
                .unwrap()
                .contains("rejected the credentials"),
            "{line}"
        );
        assert!(!line["error"].as_str().unwrap().contains("sk-bad"));
    }
}
