//! Signing then verifying always succeeds; a single change to the URL's path or query, to one parameter's
//! value, to the token or to the signature is always rejected; arbitrary headers and bodies never panic.
#![no_main]

use arbitrary::Arbitrary;
use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{
    SignatureAlgorithm, WebhookBody, WebhookRequest, WebhookVerifier, compute_signature,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Mutation {
    UrlChar { at: usize, to: char },
    ParamValue { at: usize },
    Token,
    SignatureChar { at: usize },
}

#[derive(Debug, Arbitrary)]
struct Input {
    https: bool,
    host: String,
    port: Option<u16>,
    path_and_query: String,
    params: Vec<(String, String)>,
    token: String,
    mutation: Mutation,
    raw_signature: String,
    raw_settings: Option<String>,
    raw_body: Vec<u8>,
    json: bool,
}

fuzz_target!(|input: Input| {
    // Arbitrary headers and bodies: must not panic, whatever the outcome.
    let verifier = WebhookVerifier::new(input.token.as_str()).with_lenient_query(true);
    let junk_url = format!("{}{}", input.host, input.path_and_query);
    let mut junk = if input.json {
        WebhookRequest::json(&junk_url, &input.raw_body)
    } else {
        WebhookRequest::form(&junk_url, &input.raw_body)
    }
    .with_signature(&input.raw_signature);
    junk.signature_settings = input.raw_settings.as_deref();
    let _ = verifier.verify(&junk);

    // Round trip and single-change rejection on well-formed requests.
    let host: String = input.host.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    if host.is_empty() || input.token.is_empty() {
        return;
    }
    let tail: String = input.path_and_query.chars().filter(|c| *c != '#').collect();
    let scheme = if input.https { "https" } else { "http" };
    let port = input.port.map(|p| format!(":{p}")).unwrap_or_default();
    let prefix = format!("{scheme}://{host}{port}/");
    let url = format!("{prefix}{tail}");
    let params = FormParams::from_pairs(input.params.iter().cloned());
    let verifier = WebhookVerifier::new(input.token.as_str());
    let signature = compute_signature(input.token.as_bytes(), SignatureAlgorithm::HmacSha1, &url, &params);
    let request = WebhookRequest { url: &url, signature: Some(&signature), signature_settings: None, body: WebhookBody::Params(&params) };
    assert!(verifier.verify(&request).is_ok(), "round trip failed");

    match input.mutation {
        Mutation::UrlChar { at, to } => {
            let chars: Vec<char> = tail.chars().collect();
            if chars.is_empty() || to == '#' {
                return;
            }
            let at = at % chars.len();
            if chars[at] == to {
                return;
            }
            let mut changed = chars;
            changed[at] = to;
            let mutated = format!("{prefix}{}", changed.into_iter().collect::<String>());
            let r = WebhookRequest { url: &mutated, ..request };
            assert!(verifier.verify(&r).is_err(), "accepted a changed URL");
        }
        Mutation::ParamValue { at } => {
            if input.params.is_empty() {
                return;
            }
            let at = at % input.params.len();
            let name = &input.params[at].0;
            if input.params.iter().filter(|(k, _)| k == name).count() != 1 {
                return; // repeated names are signed as a set of values; a change may be a no-op
            }
            let mut pairs = input.params.clone();
            pairs[at].1.push('x');
            let mutated = FormParams::from_pairs(pairs);
            let r = WebhookRequest { body: WebhookBody::Params(&mutated), ..request };
            assert!(verifier.verify(&r).is_err(), "accepted a changed parameter");
        }
        Mutation::Token => {
            let other = WebhookVerifier::new(format!("{}x", input.token));
            assert!(other.verify(&request).is_err(), "accepted a signature under another token");
        }
        Mutation::SignatureChar { at } => {
            let mut bytes = signature.clone().into_bytes();
            let at = at % bytes.len();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let mutated = String::from_utf8(bytes).unwrap_or_default();
            let r = WebhookRequest { signature: Some(&mutated), ..request };
            assert!(verifier.verify(&r).is_err(), "accepted a changed signature");
        }
    }
});
