//! Every signature vector of `shared/reference/twilio.md` §1.8, positive and negative.
//!
//! Each test names the official SDK test the vector comes from:
//! [py] twilio-python tests/unit/test_request_validator.py, [node] twilio-node spec/validation.spec.js and
//! spec/unit/webhooks/webhooks.spec.js, [java] twilio-java src/test/java/com/twilio/security/RequestValidatorTest.java,
//! [go] twilio-go client/request_validator_test.go, [rb] twilio-ruby spec/security/request_validator_spec.rb,
//! [cs] twilio-csharp test/Twilio.Test/Security/RequestValidatorTest.cs, [py913] twilio 9.13.0 (SharedKey).
//! "self-derived" vectors were computed with the Python library and `openssl dgst` independently.

use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{
    SignatureAlgorithm, SignatureRejected, WebhookBody, WebhookRequest, WebhookVerifier, compute_signature,
};

const T: &str = "12345";
const U: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const BODY_B: &[u8] = br#"{"property": "value", "boolean": true}"#;
const SHA_B: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const SHA_EMPTY_OBJECT: &str = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn p5() -> FormParams {
    FormParams::from_pairs([
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ])
}

fn with(mut base: FormParams, extra: &[(&str, &str)]) -> FormParams {
    for (k, v) in extra {
        base.push(*k, *v);
    }
    base
}

fn sign(url: &str, params: &FormParams) -> String {
    compute_signature(T.as_bytes(), SignatureAlgorithm::HmacSha1, url, params)
}

fn verify_params(url: &str, params: &FormParams, signature: &str) -> Result<(), SignatureRejected> {
    let req = WebhookRequest {
        url,
        signature: Some(signature),
        signature_settings: None,
        body: WebhookBody::Params(params),
    };
    WebhookVerifier::new(T).verify(&req)
}

/// Verifies through the raw-body path too, so both entry points are held to the vector.
fn accepts(url: &str, params: &FormParams, signature: &str) {
    assert_eq!(
        verify_params(url, params, signature),
        Ok(()),
        "params path, url {url}"
    );
    let body = params.encode();
    let req = WebhookRequest::form(url, body.as_bytes()).with_signature(signature);
    assert_eq!(
        WebhookVerifier::new(T).verify(&req),
        Ok(()),
        "raw form path, url {url}"
    );
}

fn rejects(url: &str, params: &FormParams, signature: &str) {
    assert_eq!(
        verify_params(url, params, signature),
        Err(SignatureRejected::Mismatch),
        "url {url}"
    );
}

#[test]
fn v01_documented_example_all_sdks() {
    // [py] test_compute_signature / [node] / [java] / [rb] / [cs]
    assert_eq!(sign(U, &p5()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    accepts(U, &p5(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

#[test]
fn v02_adds_default_port_https() {
    // [py]/[node]/[java]/[rb]/[cs] "adds port https": signed with :443, validator given U.
    assert_eq!(
        sign("https://mycompany.com:443/myapp.php?foo=1&bar=2", &p5()),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    accepts(U, &p5(), "kvajT1Ptam85bY51eRf/AJRuM3w=");
}

#[test]
fn v03_adds_default_port_http() {
    // same files, "adds port http"
    assert_eq!(
        sign("http://mycompany.com:80/myapp.php?foo=1&bar=2", &p5()),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    accepts(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "0ZXoZLH/DfblKGATFgpif+LLRf4=",
    );
}

#[test]
fn v04_http_with_custom_port() {
    // same files, "http with port"
    let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(sign(url, &p5()), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
    accepts(url, &p5(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
}

#[test]
fn v05_https_with_custom_port() {
    // [cs] TestValidateAddsCustomPortHttps
    let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(sign(url, &p5()), "CYn1h0gLBdNxDGkKJg6hYohgeD8=");
    accepts(url, &p5(), "CYn1h0gLBdNxDGkKJg6hYohgeD8=");
}

#[test]
fn v06_removes_port_on_https() {
    // [py] test_validation_removes_port_on_https; [node]; [java]; [rb]; [cs]
    accepts(
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &p5(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    );
}

#[test]
fn v07_repeated_names_distinct_sorted_values() {
    // [py] MultiDict and Django QueryDict tests; [node] "multiple params and values"
    let params = FormParams::from_pairs([
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]);
    assert_eq!(sign(U, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    accepts(U, &params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

#[test]
fn v08_array_values_any_order() {
    // [node] spec/validation.spec.js
    for order in [["+1325xxxxxxx", "+1415xxxxxxx"], ["+1415xxxxxxx", "+1325xxxxxxx"]] {
        let params = FormParams::from_pairs(order.map(|v| ("MessagingBinding.Address", v)));
        assert_eq!(sign(U, &params), "83O6e2vORAoJHUNzJjDWN1jz+BA=");
        accepts(U, &params, "83O6e2vORAoJHUNzJjDWN1jz+BA=");
    }
}

fn verify_json(url: &str, body: &[u8], signature: &str) -> Result<(), SignatureRejected> {
    WebhookVerifier::new(T).verify(&WebhookRequest::json(url, body).with_signature(signature))
}

#[test]
fn v09_json_body_with_query() {
    // [py], [node], [java], [go], [rb], [cs]
    let url = format!("{U}&bodySHA256={SHA_B}");
    assert_eq!(verify_json(&url, BODY_B, "a9nBmqA0ju/hNViExpshrM61xv4="), Ok(()));
}

#[test]
fn v10_json_body_without_other_query() {
    // [node], [java], [go], [rb], [cs]
    let url = format!("https://mycompany.com/myapp.php?bodySHA256={SHA_B}");
    assert_eq!(verify_json(&url, BODY_B, "y77kIzt2vzLz71DgmJGsen2scGs="), Ok(()));
}

#[test]
fn v11_json_empty_body_needs_port_variants() {
    // [node] "empty body": signed with :443, validator given the URL without it.
    let url = format!("{U}&bodySHA256={SHA_EMPTY_OBJECT}");
    assert_eq!(verify_json(&url, b"{}", "Ldidvp12m26NI7eqEvxnEpkd9Hc="), Ok(()));
}

#[test]
fn v12_apostrophe_reencoding_is_opt_in() {
    // [node]: Twilio signed `%27`, the validator sees the raw `'`.
    let raw = "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It's+amazing";
    let signed = "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It%27s+amazing";
    assert_eq!(sign(signed, &p5()), "TfZzewPq8wqrGlMfyAud8+/IvJ0=");
    assert_eq!(sign(raw, &p5()), "dsq4Ehbj6cs+KdTkpF5sSSplOWw=");
    rejects(raw, &p5(), "TfZzewPq8wqrGlMfyAud8+/IvJ0=");
    let lenient = WebhookVerifier::new(T).with_lenient_query(true);
    let req = WebhookRequest {
        url: raw,
        signature: Some("TfZzewPq8wqrGlMfyAud8+/IvJ0="),
        signature_settings: None,
        body: WebhookBody::Params(&p5()),
    };
    assert_eq!(lenient.verify(&req), Ok(()));
    // And the reverse (twilio-node#1059): received `%27`, Twilio signed `'`.
    let req = WebhookRequest {
        url: signed,
        signature: Some("dsq4Ehbj6cs+KdTkpF5sSSplOWw="),
        signature_settings: None,
        body: WebhookBody::Params(&p5()),
    };
    assert_eq!(lenient.verify(&req), Ok(()));
}

#[test]
fn v13_userinfo_user_and_password() {
    // [node]; [rb]
    let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(sign(url, &p5()), "CukzLTc1tT5dXEDIHm/tKBanW10=");
    assert_eq!(
        sign("https://user:pass@mycompany.com:443/myapp.php?foo=1&bar=2", &p5()),
        "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="
    );
    accepts(url, &p5(), "CukzLTc1tT5dXEDIHm/tKBanW10=");
    accepts(url, &p5(), "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=");
}

#[test]
fn v14_userinfo_user_only() {
    // [node]; [rb]
    let url = "https://user@mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(sign(url, &p5()), "2YRLlVAflCqxaNicjMpJcSTgzSs=");
    accepts(url, &p5(), "2YRLlVAflCqxaNicjMpJcSTgzSs=");
    accepts(url, &p5(), "aZfj4hyX1MLZhSS6QIL18Vn2/RA=");
}

#[test]
fn v15_url_only() {
    // [java] testValidateWithEmptyParams
    assert_eq!(sign(U, &FormParams::default()), "zYQTYrRWXE7LtzbG4PfP7/bkkGo=");
    let req = WebhookRequest::url_only(U).with_signature("zYQTYrRWXE7LtzbG4PfP7/bkkGo=");
    assert_eq!(WebhookVerifier::new(T).verify(&req), Ok(()));
}

#[test]
fn v16_no_query() {
    // [java] testValidateWithNoQueryParams
    accepts(
        "https://mycompany.com/myapp.php",
        &p5(),
        "1xaxFBvyzXYvWplzNOSs28HWO94=",
    );
}

#[test]
fn v17_query_parameters_stay_in_the_url_only() {
    // [java]
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&type=thiswontbeusedinthesignaturegeneratorandsoshouldbeignored";
    accepts(url, &p5(), "hYkNsTBttoNGkyCS0p+wWmQoRTg=");
}

#[test]
fn v18_escapes_in_query_kept_verbatim() {
    // [java]
    accepts(
        "https://mycompany.com/myapp.php?foo=hello%20world&bar=test%2Bvalue",
        &p5(),
        "er2tvAP1Wx+iuTTE2BPgvEaN1cs=",
    );
}

#[test]
fn v19_special_characters_and_unicode_values() {
    // [java]
    let params = FormParams::from_pairs([
        ("Message", "Hello & goodbye! @#$%^*()"),
        ("From", "+1 (415) 867-5309"),
        ("Special", "unicode: ñáéíóú"),
    ]);
    accepts(U, &params, "dCPiR4WtQ6QFN6pJh81CtlCcWLQ=");
}

#[test]
fn v20_empty_values_contribute_the_name() {
    // [java]
    let params = FormParams::from_pairs([
        ("Digits", ""),
        ("CallSid", "CA1234567890ABCDE"),
        ("EmptyParam", ""),
    ]);
    accepts(U, &params, "9HHp/OqQMEwdrVebHDdA/+tqjX8=");
    let params = FormParams::from_pairs([
        ("Digits", ""),
        ("CallSid", "CA1234567890ABCDE"),
        ("NullParam", ""),
    ]);
    accepts(U, &params, "L9lTTwIlxM1xGAtLRwhOSZggRhM=");
}

#[test]
fn v21_names_sorted() {
    // [java]
    let params = FormParams::from_pairs([
        ("Zebra", "last"),
        ("Alpha", "first"),
        ("Beta", "second"),
        ("Gamma", "third"),
    ]);
    accepts(U, &params, "enveUe73ZTVLAekHxez3Qx6JuuQ=");
}

#[test]
fn v22_raw_utf8_url() {
    // [java]: url::Url would percent-encode this and break it.
    accepts(
        "https://mycompany.com/webhook/España?año=2023",
        &p5(),
        "G/Hx6mqqnjUNlPAoi2Sp9bGst0g=",
    );
}

#[test]
fn v23_case_sensitive_name_sort() {
    // [java]
    let params = FormParams::from_pairs([
        ("callSid", "lowercase"),
        ("CallSid", "uppercase"),
        ("CALLSID", "allcaps"),
    ]);
    accepts(U, &params, "jDK7WKT8wiNrwggd4ceTv4e1MJ4=");
}

#[test]
fn v24_double_slash_path_kept() {
    // [java]
    accepts(
        "https://mycompany.com:443//myapp.php?foo=1&bar=2",
        &p5(),
        "A9lH3u16NjyiiM/+wylw5rirFUs=",
    );
}

#[test]
fn v25_host_case_preserved() {
    // [cs]
    let url = "https://MyCompany.com/myapp.php?foo=1&bar=2";
    accepts(url, &p5(), "g9IN/x4Cft2g517EjYvEvM/W7LU=");
    rejects(url, &p5(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

#[test]
fn v26_host_case_with_port_and_http() {
    // [cs]
    accepts(
        "https://MyCompany.com:1234/myapp.php?foo=1&bar=2",
        &p5(),
        "PCqOZm8cnu/L6+u5i5fuEd+Iac4=",
    );
    accepts(
        "http://MyCompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "XY7AlKOKL6im4yWyX84gldUrtis=",
    );
}

#[test]
fn v27_userinfo_and_scheme_case_preserved() {
    // [cs]
    accepts(
        "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "PJ08CxXr7KLPjEQCTc8LkUSMwSM=",
    );
    accepts(
        "HTTP://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "hy/l8pca+LFms4cvRdv8uiP6NGc=",
    );
    accepts(
        "http://Username:Password@MyCompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "SkTSKyDJH9kUlhItI0slbgZ1UsI=",
    );
    rejects(
        "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
        &p5(),
        "SkTSKyDJH9kUlhItI0slbgZ1UsI=",
    );
}

#[test]
fn v28_prefix_names_sort_by_bytes() {
    // [go] client/request_validator_test.go
    let params = with(
        p5(),
        &[("Reason", "Participant"), ("ReasonConferenceEnded", "test")],
    );
    accepts(U, &params, "vOEb5UThFn24KEfnOFLQY2AE5FY=");
    accepts(
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params,
        "n2xBNyzSW7rfYStDtOFiFMv7qNo=",
    );
    rejects(U, &params, "95+Bu0JVPi0r/SsESZCVf0dWAjw=");
}

#[test]
fn v29_form_body() {
    // [go] ValidateBody form case
    let body = b"property=value&boolean=true";
    let req = WebhookRequest::form(U, body).with_signature("NBdBDr/T/lgjI+tlgpXjKZQZs/k=");
    assert_eq!(WebhookVerifier::new(T).verify(&req), Ok(()));
}

#[test]
fn s1_shared_key_hmac_sha256() {
    // [py913] self-derived with the 9.13.0 code and openssl.
    assert_eq!(
        compute_signature(T.as_bytes(), SignatureAlgorithm::HmacSha256, U, &p5()),
        "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s="
    );
    let body = p5().encode();
    let verifier = WebhookVerifier::new("auth-token-not-used").with_shared_key("webhooks_sharedkey_1", T);
    let req = WebhookRequest::form(U, body.as_bytes())
        .with_signature("033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=")
        .with_signature_settings("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256");
    assert_eq!(verifier.verify(&req), Ok(()));
    // The same signature under the wrong algorithm, an unknown key, or an unknown algorithm is rejected.
    let wrong_alg = req.with_signature_settings("key=webhooks_sharedkey_1,algorithm=HMAC_SHA1");
    assert_eq!(verifier.verify(&wrong_alg), Err(SignatureRejected::Mismatch));
    let unknown_key = req.with_signature_settings("key=other,algorithm=HMAC_SHA256");
    assert_eq!(verifier.verify(&unknown_key), Err(SignatureRejected::UnknownKey));
    let unknown_alg = req.with_signature_settings("key=webhooks_sharedkey_1,algorithm=HMAC_SHA512");
    assert!(matches!(
        verifier.verify(&unknown_alg),
        Err(SignatureRejected::UnsupportedAlgorithm(_))
    ));
    // Without the settings header it is a classic auth-token signature: the shared key does not apply.
    let classic = WebhookRequest::form(U, body.as_bytes())
        .with_signature("033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=");
    assert_eq!(verifier.verify(&classic), Err(SignatureRejected::Mismatch));
}

#[test]
fn g1_get_signs_the_whole_url() {
    // self-derived (twilio.md §1.2)
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&CallSid=CA1234567890ABCDE&From=%2B14158675309";
    let req = WebhookRequest::url_only(url).with_signature("RIMf50SFlDW3jmEv8PRsPRhtiQo=");
    assert_eq!(WebhookVerifier::new(T).verify(&req), Ok(()));
}

const AC1: &str = "AC00000000000000000000000000000001";
const CA2: &str = "CA00000000000000000000000000000002";
const RE3: &str = "RE00000000000000000000000000000003";

#[test]
fn r1_realistic_inbound_call() {
    // self-derived, realistic inbound-call shape
    let params = FormParams::from_pairs([
        ("AccountSid", AC1),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", CA2),
        ("CallStatus", "ringing"),
        ("Called", "+15005550006"),
        ("CalledCity", ""),
        ("CalledCountry", "US"),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", "+14155551234"),
        ("CallerCity", "SAN FRANCISCO"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94103"),
        ("Direction", "inbound"),
        ("From", "+14155551234"),
        ("FromCity", "SAN FRANCISCO"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94103"),
        ("To", "+15005550006"),
        ("ToCity", ""),
        ("ToCountry", "US"),
        ("ToState", ""),
        ("ToZip", ""),
    ]);
    accepts(
        "https://example.com/twilio/voice",
        &params,
        "LyvnaEbgTZXb/bxtKas+d4k+JWE=",
    );
}

#[test]
fn r2_recording_callback_with_query() {
    // self-derived
    let url_value = format!("https://api.twilio.com/2010-04-01/Accounts/{AC1}/Recordings/{RE3}");
    let params = FormParams::from_pairs([
        ("AccountSid", AC1),
        ("CallSid", CA2),
        ("RecordingChannels", "1"),
        ("RecordingDuration", "42"),
        ("RecordingSid", RE3),
        ("RecordingSource", "RecordVerb"),
        ("RecordingStartTime", "Mon, 22 Aug 2011 20:58:45 +0000"),
        ("RecordingStatus", "completed"),
        ("RecordingTrack", "both"),
        ("RecordingUrl", url_value.as_str()),
    ]);
    accepts(
        "https://example.com/twilio/recording?job=42",
        &params,
        "Ms7go/DLYwdugtxNyJuXojy9/AU=",
    );
    rejects(
        "https://example.com/twilio/recording?job=43",
        &params,
        "Ms7go/DLYwdugtxNyJuXojy9/AU=",
    );
}

// ---- negative cases from the SDK test suites ----

#[test]
fn wrong_signature_is_rejected() {
    // [py] test_validation_fails / [node] "WRONG_SIGNATURE"
    rejects(U, &p5(), "WRONG_SIGNATURE");
    rejects(U, &p5(), "RSOYDt4T1cUTdK1PDd93/VVr8B8");
    let other_params = with(p5(), &[("Extra", "1")]);
    rejects(U, &other_params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    let wrong_token = WebhookVerifier::new("54321");
    let req = WebhookRequest {
        url: U,
        signature: Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        signature_settings: None,
        body: WebhookBody::Params(&p5()),
    };
    assert_eq!(wrong_token.verify(&req), Err(SignatureRejected::Mismatch));
}

#[test]
fn missing_or_empty_signature_is_rejected() {
    // [node]: a missing header is answered 400, an empty one 403 — both are rejections here.
    let body = p5().encode();
    let v = WebhookVerifier::new(T);
    assert_eq!(
        v.verify(&WebhookRequest::form(U, body.as_bytes())),
        Err(SignatureRejected::MissingSignature)
    );
    assert_eq!(
        v.verify(&WebhookRequest::form(U, body.as_bytes()).with_signature("")),
        Err(SignatureRejected::MissingSignature)
    );
}

#[test]
fn json_without_body_hash_fails_closed() {
    // twilio.md §1.3: twilio-python#885, twilio-agent-connect-python PR #85.
    let sig = sign(U, &FormParams::default());
    assert_eq!(
        verify_json(U, BODY_B, &sig),
        Err(SignatureRejected::MissingBodyHash)
    );
}

#[test]
fn json_with_wrong_body_hash_is_rejected() {
    // [node]: the V09 URL with its last hex character dropped → 403.
    let truncated = &SHA_B[..SHA_B.len() - 1];
    let url = format!("{U}&bodySHA256={truncated}");
    let sig = sign(&url, &FormParams::default());
    assert_eq!(
        verify_json(&url, BODY_B, &sig),
        Err(SignatureRejected::BodyHashMismatch)
    );
    // A forged body under a genuine URL+signature (the replay attack of PR #85).
    let url = format!("{U}&bodySHA256={SHA_B}");
    assert_eq!(
        verify_json(
            &url,
            br#"{"property": "evil", "boolean": true}"#,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ),
        Err(SignatureRejected::BodyHashMismatch)
    );
    // A form body cannot dodge the hash check by claiming to be a form.
    let req =
        WebhookRequest::form(&url, br#"{"property": "evil"}"#).with_signature("a9nBmqA0ju/hNViExpshrM61xv4=");
    assert_eq!(
        WebhookVerifier::new(T).verify(&req),
        Err(SignatureRejected::BodyHashMismatch)
    );
}

#[test]
fn node_webhooks_spec_port_forms_validate_each_other() {
    // [node] spec/unit/webhooks/webhooks.spec.js, key `s3cr3t`.
    let v = WebhookVerifier::new("s3cr3t");
    let plain = "https://example.com/path?test=param";
    let with_port = "https://example.com:443/path?test=param";
    assert_eq!(
        compute_signature(
            b"s3cr3t",
            SignatureAlgorithm::HmacSha1,
            plain,
            &FormParams::default()
        ),
        "loLgTitFAoWx57yy5oEU4Hlddzw="
    );
    assert_eq!(
        compute_signature(
            b"s3cr3t",
            SignatureAlgorithm::HmacSha1,
            with_port,
            &FormParams::default()
        ),
        "IdwMFypqvNxti3YgvWWmfcNL26M="
    );
    for url in [plain, with_port] {
        for sig in ["loLgTitFAoWx57yy5oEU4Hlddzw=", "IdwMFypqvNxti3YgvWWmfcNL26M="] {
            assert_eq!(
                v.verify(&WebhookRequest::url_only(url).with_signature(sig)),
                Ok(()),
                "{url} {sig}"
            );
        }
    }
    let other = WebhookRequest::url_only("https://example.com/path?test=param2")
        .with_signature("loLgTitFAoWx57yy5oEU4Hlddzw=");
    assert_eq!(v.verify(&other), Err(SignatureRejected::Mismatch));
}

#[test]
fn fragment_is_ignored_and_secondary_token_accepted() {
    // Connection overrides (#rc=3&rp=all) never reach the server; strip them if a caller passes them.
    accepts(
        "https://mycompany.com/myapp.php?foo=1&bar=2#rc=3&rp=all",
        &p5(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    );
    let rotating = WebhookVerifier::new("new-primary").with_auth_token(T);
    let req = WebhookRequest {
        url: U,
        signature: Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        signature_settings: None,
        body: WebhookBody::Params(&p5()),
    };
    assert_eq!(rotating.verify(&req), Ok(()));
}

#[test]
fn proxy_case_uses_the_public_url_not_the_internal_one() {
    // twilio.md §7: request arrives on http://10.0.0.5:8080/…, configured public https://hooks.example.com/…
    use callbook_telephony::signature::public_request_url;
    let public = public_request_url("https://hooks.example.com/", "/webhooks/twilio/voice?x=1");
    let sig = sign(&public, &p5());
    accepts(&public, &p5(), &sig);
    rejects("http://10.0.0.5:8080/webhooks/twilio/voice?x=1", &p5(), &sig);
}
