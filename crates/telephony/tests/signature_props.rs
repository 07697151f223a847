//! Property tests for signing and verification: sign→verify round-trips for arbitrary URLs and parameters,
//! and any single change to the URL, a parameter, the token or the signature is rejected.

use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{
    SignatureAlgorithm, WebhookBody, WebhookRequest, WebhookVerifier, compute_signature,
};
use proptest::prelude::*;

fn url_strategy() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![Just("https"), Just("http"), Just("HTTPS")],
        "[A-Za-z0-9.-]{1,20}",
        proptest::option::of(1u16..=65535),
        // Path and query: any characters but the fragment marker, including non-ASCII and escapes.
        "[^#]{0,40}",
    )
        .prop_map(|(scheme, host, port, tail)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            (format!("{scheme}://{host}{port}/"), tail)
        })
}

fn params_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("[A-Za-z][A-Za-z0-9]{0,12}", ".{0,20}"), 0..8)
}

fn verify(token: &str, url: &str, params: &FormParams, signature: &str) -> bool {
    let request = WebhookRequest {
        url,
        signature: Some(signature),
        signature_settings: None,
        body: WebhookBody::Params(params),
    };
    WebhookVerifier::new(token).verify(&request).is_ok()
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(
        (prefix, tail) in url_strategy(),
        pairs in params_strategy(),
        token in "[ -~]{1,40}",
    ) {
        let url = format!("{prefix}{tail}");
        let params = FormParams::from_pairs(pairs);
        let signature = compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, &url, &params);
        prop_assert!(verify(&token, &url, &params, &signature));
        // And through the raw form body, which is what servers receive.
        let body = params.encode();
        let request = WebhookRequest::form(&url, body.as_bytes()).with_signature(&signature);
        prop_assert!(WebhookVerifier::new(token.as_str()).verify(&request).is_ok());
    }

    #[test]
    fn a_changed_url_is_rejected(
        (prefix, tail) in url_strategy(),
        pairs in params_strategy(),
        token in "[ -~]{1,40}",
        at in any::<prop::sample::Index>(),
        replacement in "[^#]",
    ) {
        let chars: Vec<char> = tail.chars().collect();
        prop_assume!(!chars.is_empty());
        let i = at.index(chars.len());
        let new: char = replacement.chars().next().unwrap_or('x');
        prop_assume!(chars[i] != new);
        let url = format!("{prefix}{tail}");
        let mut changed = chars;
        changed[i] = new;
        let mutated = format!("{prefix}{}", changed.into_iter().collect::<String>());
        let params = FormParams::from_pairs(pairs);
        let signature = compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, &url, &params);
        prop_assert!(!verify(&token, &mutated, &params, &signature));
    }

    #[test]
    fn a_changed_parameter_is_rejected(
        (prefix, tail) in url_strategy(),
        pairs in params_strategy(),
        token in "[ -~]{1,40}",
        at in any::<prop::sample::Index>(),
        suffix in ".{1,3}",
    ) {
        prop_assume!(!pairs.is_empty());
        let i = at.index(pairs.len());
        // A repeated name is signed as its set of values, so only single-valued names are sure to change.
        prop_assume!(pairs.iter().filter(|(k, _)| *k == pairs[i].0).count() == 1);
        let url = format!("{prefix}{tail}");
        let params = FormParams::from_pairs(pairs.clone());
        let signature = compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, &url, &params);
        let mut changed = pairs;
        changed[i].1.push_str(&suffix);
        prop_assert!(!verify(&token, &url, &FormParams::from_pairs(changed.clone()), &signature));
        // Dropping the parameter is a change too.
        changed.remove(i);
        prop_assert!(!verify(&token, &url, &FormParams::from_pairs(changed), &signature));
    }

    #[test]
    fn another_token_or_signature_is_rejected(
        (prefix, tail) in url_strategy(),
        pairs in params_strategy(),
        token in "[ -~]{1,40}",
        other in "[ -~]{1,40}",
        at in any::<prop::sample::Index>(),
    ) {
        prop_assume!(token != other);
        let url = format!("{prefix}{tail}");
        let params = FormParams::from_pairs(pairs);
        let signature = compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, &url, &params);
        prop_assert!(!verify(&other, &url, &params, &signature));
        let mut bytes = signature.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(!verify(&token, &url, &params, &mutated));
    }
}
