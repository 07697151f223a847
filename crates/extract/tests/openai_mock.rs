//! The OpenAI backend against a local mock server speaking the exact Chat Completions JSON: success (content and
//! tool-call variants), refusal, finish_reason length / content_filter, invalid JSON then one repair, and the
//! 429 / 5xx / `{error:{…}}` shapes. No live calls.

use std::sync::Arc;
use std::time::Duration;

use callbook_extract::openai::{OpenAiExtractor, Provider};
use callbook_extract::testing::{self, booking_call};
use callbook_extract::{Error, Extractor};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn answer() -> Value {
    json!({
        "call_kind": "live",
        "appointments": [{
            "evidence": "Tomorrow between 3 and 5 works.",
            "customer_name": "Maria Lopez",
            "customer_phone": "914-555-2177",
            "service_address": {"line1": "42 Oak Street", "line2": "Apt 3B", "city": "Yonkers", "region": null, "postal_code": "10701"},
            "date_phrase": "tomorrow between 3 and 5",
            "date": "2026-03-11",
            "time": "15:00",
            "job_description": "kitchen sink leaking under the cabinet",
            "price": {"amount": 89, "kind": "fee"},
            "urgency": "normal",
            "notes": null,
            "confidence": 0.9
        }],
        "confidence": 0.88
    })
}

fn completion(content: Option<&str>, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_773_165_900, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 812, "completion_tokens": 143, "total_tokens": 955,
                  "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
    })
}

async fn extractor(server: &MockServer) -> OpenAiExtractor {
    OpenAiExtractor::builder()
        .with_api_key("sk-test")
        .with_base_url(format!("{}/v1", server.uri()))
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|e| panic!("building the extractor: {e}"))
}

#[tokio::test]
async fn structured_answer_is_mapped_and_dates_re_resolved() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some(&answer().to_string()), "stop")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let openai = extractor(&server).await;
    let (transcript, context) = booking_call();
    let out = openai.extract(&transcript, &context).await.unwrap();
    let a = &out.appointments[0];
    assert_eq!(a.customer_phone.as_ref().unwrap().value, "+19145552177");
    assert_eq!(
        a.when.as_ref().unwrap().value.start.unwrap().to_rfc3339(),
        "2026-03-11T15:00:00-04:00"
    );
    assert!(!a.when.as_ref().unwrap().value.ambiguous);
    assert_eq!(a.price.as_ref().unwrap().value.amount.0, 8900);
    assert_eq!(out.extractor.name, "openai");
    assert_eq!(out.extractor.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(openai.usage().prompt_tokens, 812);
    // The extraction carries its own call's tokens, and they never appear in the JSON contract.
    let used = out.usage.unwrap();
    assert_eq!(
        (used.prompt_tokens, used.completion_tokens, used.total()),
        (812, 143, 955)
    );
    assert!(serde_json::to_value(&out).unwrap().get("usage").is_none());

    // The request carried the strict schema, the call's local time and weekday, and store=false.
    let request: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(request["response_format"]["type"], "json_schema");
    assert_eq!(request["response_format"]["json_schema"]["strict"], true);
    assert_eq!(request["store"], false);
    let user = request["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("2026-03-10 14:05 -04:00 (Tuesday)"), "{user}");
    assert!(user.contains("America/New_York"));
}

#[tokio::test]
async fn model_date_disagreeing_with_the_resolver_is_flagged() {
    let server = MockServer::start().await;
    let mut wrong = answer();
    wrong["appointments"][0]["date"] = json!("2026-03-12");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(Some(&wrong.to_string()), "stop")))
        .mount(&server)
        .await;
    let (transcript, context) = booking_call();
    let out = extractor(&server)
        .await
        .extract(&transcript, &context)
        .await
        .unwrap();
    let when = out.appointments[0].when.as_ref().unwrap();
    assert_eq!(
        when.value.date.unwrap().to_string(),
        "2026-03-11",
        "our resolver wins"
    );
    assert!(when.value.ambiguous);
    assert!(when.confidence < 0.9);
}

#[tokio::test]
async fn tool_call_variant_with_stop_finish_reason() {
    let server = MockServer::start().await;
    let body = json!({
        "id": "chatcmpl-2", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "call_extraction", "arguments": answer().to_string()}}]}}]
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let (transcript, context) = booking_call();
    let out = extractor(&server)
        .await
        .extract(&transcript, &context)
        .await
        .unwrap();
    assert_eq!(out.appointments.len(), 1);
}

#[tokio::test]
async fn refusal_length_and_content_filter() {
    let (transcript, context) = booking_call();
    let server = MockServer::start().await;
    let mut refusal = completion(None, "stop");
    refusal["choices"][0]["message"]["refusal"] = json!("I can't help with that.");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(refusal))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some("{\"call_kind\": \"li"), "length")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(None, "content_filter")))
        .mount(&server)
        .await;
    let openai = extractor(&server).await;
    assert!(
        matches!(openai.extract(&transcript, &context).await, Err(Error::Refused(m)) if m.contains("can't"))
    );
    assert!(matches!(
        openai.extract(&transcript, &context).await,
        Err(Error::Truncated)
    ));
    let filtered = openai.extract(&transcript, &context).await;
    assert!(matches!(filtered, Err(Error::ContentFiltered)));
    assert!(!filtered.unwrap_err().is_retryable());
}

#[tokio::test]
async fn invalid_json_gets_one_repair_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some("Sure! Here is the JSON: {"), "stop")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some(&answer().to_string()), "stop")),
        )
        .mount(&server)
        .await;
    let (transcript, context) = booking_call();
    let out = extractor(&server)
        .await
        .extract(&transcript, &context)
        .await
        .unwrap();
    assert_eq!(out.appointments.len(), 1);
    // Both requests are billed to this extraction.
    assert_eq!(out.usage.unwrap().prompt_tokens, 2 * 812);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let repair: Value = serde_json::from_slice(&requests[1].body).unwrap();
    let messages = repair["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn invalid_twice_is_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(Some("{\"nope\": 1}"), "stop")))
        .expect(2)
        .mount(&server)
        .await;
    let (transcript, context) = booking_call();
    let result = extractor(&server).await.extract(&transcript, &context).await;
    assert!(matches!(result, Err(Error::InvalidOutput(m)) if m.contains("repair")));
}

#[tokio::test]
async fn error_shapes_map_to_semantic_errors() {
    let (transcript, context) = booking_call();
    let cases: Vec<(u16, Value, Option<&str>)> = vec![
        (
            429,
            json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
            Some("7"),
        ),
        (
            429,
            json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            None,
        ),
        (
            503,
            json!({"error": {"message": "The server is overloaded", "type": "server_error", "param": null, "code": null}}),
            None,
        ),
        (
            401,
            json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            None,
        ),
        (
            400,
            json!({"error": {"message": "Unsupported value: 'temperature'", "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}),
            None,
        ),
        (404, json!({"error": "model 'llama9' not found"}), None),
        (422, json!({"detail": [{"msg": "field required"}]}), None),
    ];
    for (status, body, retry_after) in cases {
        let server = MockServer::start().await;
        let mut response = ResponseTemplate::new(status).set_body_json(body);
        if let Some(seconds) = retry_after {
            response = response.insert_header("retry-after", seconds);
        }
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let error = extractor(&server)
            .await
            .extract(&transcript, &context)
            .await
            .unwrap_err();
        match status {
            429 if retry_after.is_some() => {
                assert!(
                    matches!(&error, Error::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
                    "{error:?}"
                );
                assert!(error.is_retryable());
            }
            429 => assert!(
                matches!(&error, Error::QuotaExceeded { .. }) && !error.is_retryable(),
                "{error:?}"
            ),
            503 => assert!(
                matches!(
                    &error,
                    Error::Unavailable {
                        status: Some(503),
                        ..
                    }
                ) && error.is_retryable()
            ),
            401 => assert!(matches!(&error, Error::Unauthenticated { .. })),
            400 => assert!(
                matches!(&error, Error::Provider { status: 400, code: Some(c), .. } if c == "unsupported_value")
            ),
            404 => assert!(
                matches!(&error, Error::Provider { status: 404, message, .. } if message.contains("llama9"))
            ),
            _ => assert!(
                matches!(&error, Error::Provider { status: 422, message, .. } if message.contains("field required"))
            ),
        }
    }
}

#[tokio::test]
async fn azure_profile_uses_deployment_url_and_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/extract-prod/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "azure-key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some(&answer().to_string()), "stop")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let azure = OpenAiExtractor::builder()
        .with_api_key("azure-key")
        .with_base_url(server.uri())
        .with_provider(Provider::Azure {
            deployment: "extract-prod".into(),
            api_version: "2024-10-21".into(),
        })
        .build()
        .unwrap();
    let (transcript, context) = booking_call();
    azure.extract(&transcript, &context).await.unwrap();
    let request: &Request = &server.received_requests().await.unwrap()[0];
    assert!(request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn compatible_server_without_a_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some(&answer().to_string()), "stop")),
        )
        .mount(&server)
        .await;
    let ollama = OpenAiExtractor::builder()
        .with_provider(Provider::Compatible)
        .with_base_url(format!("{}/v1", server.uri()))
        .with_model("llama3.1")
        .with_temperature(None)
        .build()
        .unwrap();
    let (transcript, context) = booking_call();
    ollama.extract(&transcript, &context).await.unwrap();
    let request: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(request.get("temperature").is_none());
    assert_eq!(request["model"], "llama3.1");
}

#[tokio::test]
async fn mocked_openai_passes_the_conformance_suite() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(Some(&answer().to_string()), "stop")),
        )
        .mount(&server)
        .await;
    testing::check_all(Arc::new(extractor(&server).await), || {}).await;
}

/// Splits `content` into tokens of at most 3 bytes with the given log-probability, the way a provider reports them.
fn logprob_tokens(content: &str, logprob: impl Fn(&str) -> f64) -> Value {
    let mut tokens = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let mut cut = rest.len().min(3);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (token, tail) = rest.split_at(cut);
        tokens.push(
            json!({"token": token, "logprob": logprob(token), "bytes": token.as_bytes(), "top_logprobs": []}),
        );
        rest = tail;
    }
    Value::Array(tokens)
}

#[tokio::test]
async fn logprobs_become_per_field_confidence() {
    let server = MockServer::start().await;
    let content = answer().to_string();
    // Every token is near-certain except those inside the phone number's digits.
    let mut body = completion(Some(&content), "stop");
    body["choices"][0]["logprobs"] = json!({
        "content": logprob_tokens(&content, |t| if t.chars().any(|c| c.is_ascii_digit()) && t.contains('5') { -1.2 } else { -0.01 }),
        "refusal": null
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let openai = OpenAiExtractor::builder()
        .with_api_key("sk-test")
        .with_base_url(format!("{}/v1", server.uri()))
        .with_logprobs(true)
        .build()
        .unwrap();
    let (transcript, context) = booking_call();
    let out = openai.extract(&transcript, &context).await.unwrap();
    let a = &out.appointments[0];
    let phone = a.customer_phone.as_ref().unwrap().confidence;
    let name = a.customer_name.as_ref().unwrap().confidence;
    assert!(name > 0.95, "name {name}");
    assert!(phone < 0.9 && phone < name - 0.1, "phone {phone}, name {name}");
    let request: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(request["logprobs"], true);
}
