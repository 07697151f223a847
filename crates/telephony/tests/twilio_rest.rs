//! The Twilio REST backend against a local wiremock server speaking Twilio's exact JSON shapes
//! (fixtures in `tests/fixtures/twilio/`, taken from the shapes of Twilio's own SDK test fixtures).
//!
//! Every mock states how often it must be hit (`expect`), and every server has a catch-all that must never
//! be hit, so an unexpected extra request (a retried POST, a followed bad page token) fails the test.
#![cfg(feature = "twilio")]
// Helpers outside `#[test]` fns unwrap too: a failed unwrap there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use callbook_telephony::Error;
use callbook_telephony::telephony::{
    AudioFormat, CallSid, CallStatus, E164, HttpMethod, NumberCapabilities, NumberSearch, NumberSid,
    PageRequest, PageToken, PurchaseRequest, RecordingFilter, RecordingSid, RecordingStatus, Telephony,
    TelephonyExt, WebhookConfig,
};
use callbook_telephony::twilio::{TwilioTelephony, TwilioTelephonyBuilder};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{any, basic_auth, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AC: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN: &str = "auth-token-do-not-leak-7f3c";
const PN: &str = "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const RE: &str = "REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CA: &str = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn api(rest: &str) -> String {
    format!("/2010-04-01/Accounts/{AC}/{rest}")
}

fn fixture(name: &str) -> Value {
    let text = match name {
        "available_phone_numbers_local" => include_str!("fixtures/twilio/available_phone_numbers_local.json"),
        "incoming_phone_number" => include_str!("fixtures/twilio/incoming_phone_number.json"),
        "recording" => include_str!("fixtures/twilio/recording.json"),
        "call" => include_str!("fixtures/twilio/call.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// A builder pointed at `server`, with test-speed media retries.
fn builder(server: &MockServer) -> TwilioTelephonyBuilder {
    TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_auth_token(TOKEN)
        .with_base_url(server.uri())
        .with_media_not_found_retries(3, Duration::from_millis(10))
}

fn client(server: &MockServer) -> TwilioTelephony {
    builder(server).build().unwrap()
}

/// Any request no other mock answers fails the test when the server is dropped.
async fn forbid_other_requests(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .expect(0)
        .named("unexpected request")
        .mount(server)
        .await;
}

fn twilio_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

/// Decoded `key=value` pairs of a form body or query string.
fn pairs(encoded: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{encoded}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

fn e164(s: &str) -> E164 {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn search_sends_every_filter_and_parses_string_coordinates_and_upper_case_capabilities() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api("AvailablePhoneNumbers/US/Local.json")))
        .and(basic_auth(AC, TOKEN))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("available_phone_numbers_local")))
        .expect(1)
        .mount(&server)
        .await;

    let mut search = NumberSearch::local("us")
        .with_area_code(808)
        .with_contains("925*")
        .with_voice_enabled(true)
        .with_postal_code("96720")
        .with_region("HI")
        .with_limit(2);
    search.sms_enabled = Some(false);
    search.in_locality = Some("Hilo".into());
    search.near_number = Some(e164("+18089250000"));
    search.exclude_all_address_required = true;
    let numbers = client(&server).search_available_numbers(&search).await.unwrap();

    let requests = received(&server).await;
    let mut query = pairs(requests[0].url.query().unwrap());
    query.sort();
    let expected: Vec<(String, String)> = [
        ("AreaCode", "808"),
        ("Contains", "925*"),
        ("ExcludeAllAddressRequired", "true"),
        ("InLocality", "Hilo"),
        ("InPostalCode", "96720"),
        ("InRegion", "HI"),
        ("NearNumber", "+18089250000"),
        ("PageSize", "2"),
        ("SmsEnabled", "false"),
        ("VoiceEnabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(query, expected);
    assert!(
        requests[0]
            .url
            .query()
            .unwrap()
            .contains("NearNumber=%2B18089250000"),
        "+ must be percent-encoded"
    );
    let agent = requests[0].headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("callbook-telephony/"), "{agent}");

    assert_eq!(numbers.len(), 2);
    let first = &numbers[0];
    assert_eq!(first.phone_number.as_str(), "+18089251571");
    assert_eq!(first.friendly_name, "(808) 925-1571");
    assert_eq!(first.locality.as_deref(), Some("Hilo"));
    assert_eq!(first.region.as_deref(), Some("HI"));
    assert_eq!(first.postal_code.as_deref(), Some("96720"));
    assert_eq!(first.iso_country, "US");
    assert_eq!(first.address_requirements, "none");
    assert_eq!(
        first.capabilities,
        NumberCapabilities {
            voice: true,
            sms: false,
            mms: true,
            fax: false
        }
    );
    assert_eq!(
        numbers[1].capabilities,
        NumberCapabilities {
            voice: true,
            sms: true,
            mms: false,
            fax: false
        }
    );
    assert_eq!(numbers[1].address_requirements, "any");
}

#[tokio::test]
async fn search_toll_free_uses_its_own_resource_and_rejects_bad_countries_locally() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api("AvailablePhoneNumbers/GB/TollFree.json")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"available_phone_numbers": [], "uri": "/x"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let twilio = client(&server);
    assert!(
        twilio
            .search_available_numbers(&NumberSearch::toll_free("GB"))
            .await
            .unwrap()
            .is_empty()
    );
    let requests = received(&server).await;
    assert_eq!(requests[0].url.query(), None, "no filters set, none sent");

    let err = twilio
        .search_available_numbers(&NumberSearch::local("U/S"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { code: None, .. }), "{err:?}");
}

#[tokio::test]
async fn purchase_posts_the_form_with_webhooks_and_parses_the_201() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let mut bought = fixture("incoming_phone_number");
    bought["voice_url"] = json!("https://hooks.example.com/webhooks/twilio/voice");
    bought["status_callback"] = json!("https://hooks.example.com/webhooks/twilio/status");
    bought["friendly_name"] = json!("Front desk");
    Mock::given(method("POST"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .and(basic_auth(AC, TOKEN))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(bought))
        .expect(1)
        .mount(&server)
        .await;

    let request = PurchaseRequest::new(e164("+18089255327"))
        .with_friendly_name("Front desk")
        .with_webhooks(WebhookConfig::callbook("https://hooks.example.com/"));
    let owned = client(&server).purchase_number(&request).await.unwrap();

    let requests = received(&server).await;
    let mut form = pairs(std::str::from_utf8(&requests[0].body).unwrap());
    form.sort();
    let expected: Vec<(String, String)> = [
        ("FriendlyName", "Front desk"),
        ("PhoneNumber", "+18089255327"),
        (
            "StatusCallback",
            "https://hooks.example.com/webhooks/twilio/status",
        ),
        ("StatusCallbackMethod", "POST"),
        ("VoiceFallbackMethod", "POST"),
        ("VoiceMethod", "POST"),
        ("VoiceUrl", "https://hooks.example.com/webhooks/twilio/voice"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);

    assert_eq!(owned.sid.as_str(), PN);
    assert_eq!(owned.account_sid.as_str(), AC);
    assert_eq!(owned.phone_number.as_str(), "+18089255327");
    assert_eq!(owned.friendly_name, "Front desk");
    assert_eq!(
        owned.webhooks.voice_url.as_deref(),
        Some("https://hooks.example.com/webhooks/twilio/voice")
    );
    assert_eq!(
        owned.webhooks.status_callback.as_deref(),
        Some("https://hooks.example.com/webhooks/twilio/status")
    );
    assert_eq!(owned.webhooks.voice_fallback_url, None);
    assert_eq!(
        owned.capabilities,
        NumberCapabilities {
            voice: true,
            sms: false,
            mms: true,
            fax: false
        }
    );
    assert_eq!(
        owned.created_at,
        Some(Utc.with_ymd_and_hms(2015, 7, 30, 23, 19, 4).unwrap())
    );
}

#[tokio::test]
async fn purchase_of_an_unavailable_number_is_number_unavailable_after_exactly_one_request() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("POST"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .respond_with(twilio_error(400, 21422, "PhoneNumber is not available."))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .purchase_number(&PurchaseRequest::new(e164("+18089255327")))
        .await
        .unwrap_err();
    match &err {
        Error::NumberUnavailable { code, message } => {
            assert_eq!(*code, 21422);
            assert_eq!(message, "PhoneNumber is not available.");
        }
        other => panic!("expected NumberUnavailable, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn fetch_number_maps_empty_and_null_urls_to_none() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let mut number = fixture("incoming_phone_number");
    number["voice_fallback_url"] = json!("");
    number["voice_method"] = json!("GET");
    Mock::given(method("GET"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(number))
        .expect(1)
        .mount(&server)
        .await;
    let owned = client(&server).fetch_number(&NumberSid::new(PN)).await.unwrap();
    assert_eq!(owned.webhooks.voice_url, None, "null");
    assert_eq!(owned.webhooks.voice_fallback_url, None, "empty string");
    assert_eq!(owned.webhooks.status_callback, None, "empty string");
    assert_eq!(owned.webhooks.voice_method, HttpMethod::Get);
    assert_eq!(owned.friendly_name, "(808) 925-5327");
}

#[tokio::test]
async fn configure_sends_empty_strings_to_clear_unset_urls() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let mut updated = fixture("incoming_phone_number");
    updated["voice_url"] = json!("https://hooks.example.com/voice");
    Mock::given(method("POST"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(updated))
        .expect(1)
        .mount(&server)
        .await;
    let mut webhooks = WebhookConfig::callbook("https://hooks.example.com");
    webhooks.voice_url = Some("https://hooks.example.com/voice".into());
    webhooks.status_callback = None;
    webhooks.status_callback_method = HttpMethod::Get;
    let owned = client(&server)
        .configure_number(&NumberSid::new(PN), &webhooks)
        .await
        .unwrap();
    assert_eq!(
        owned.webhooks.voice_url.as_deref(),
        Some("https://hooks.example.com/voice")
    );

    let requests = received(&server).await;
    let form: HashMap<String, String> = pairs(std::str::from_utf8(&requests[0].body).unwrap())
        .into_iter()
        .collect();
    assert_eq!(form.len(), 6, "{form:?}");
    assert_eq!(form["VoiceUrl"], "https://hooks.example.com/voice");
    assert_eq!(form["VoiceFallbackUrl"], "");
    assert_eq!(form["StatusCallback"], "");
    assert_eq!(form["VoiceMethod"], "POST");
    assert_eq!(form["StatusCallbackMethod"], "GET");
}

#[tokio::test]
async fn release_number_is_a_delete_answered_204() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .and(basic_auth(AC, TOKEN))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).release_number(&NumberSid::new(PN)).await.unwrap();
}

fn number_page(sids: &[&str], next: Option<&str>) -> Value {
    let numbers: Vec<Value> = sids
        .iter()
        .enumerate()
        .map(|(i, sid)| {
            let mut n = fixture("incoming_phone_number");
            n["sid"] = json!(sid);
            n["phone_number"] = json!(format!("+1808925{:04}", sid.len() * 100 + i));
            n
        })
        .collect();
    json!({
        "incoming_phone_numbers": numbers,
        "next_page_uri": next,
        "first_page_uri": api("IncomingPhoneNumbers.json?PageSize=1000&Page=0"),
        "previous_page_uri": null,
        "page": 0,
        "page_size": 1000,
        "start": 0,
        "end": sids.len(),
        "uri": api("IncomingPhoneNumbers.json?PageSize=1000&Page=0"),
    })
}

#[tokio::test]
async fn list_all_numbers_follows_a_next_page_uri_chain_verbatim() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let page2 = format!(
        "{}?PageSize=1000&Page=1&PageToken=PAPN0002",
        api("IncomingPhoneNumbers.json")
    );
    let page3 = format!(
        "{}?PageSize=1000&Page=2&PageToken=PAPN0004",
        api("IncomingPhoneNumbers.json")
    );
    Mock::given(method("GET"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .and(query_param("PageSize", "1000"))
        .and(query_param_is_missing("PageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(number_page(&["PN01", "PN02"], Some(&page2))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .and(query_param("PageToken", "PAPN0002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(number_page(&["PN03", "PN04"], Some(&page3))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .and(query_param("PageToken", "PAPN0004"))
        .respond_with(ResponseTemplate::new(200).set_body_json(number_page(&["PN05"], None)))
        .expect(1)
        .mount(&server)
        .await;

    // Through `Arc<dyn Telephony>`, as the server uses it.
    let twilio: Arc<dyn Telephony> = Arc::new(client(&server));
    let all = twilio.list_all_numbers().await.unwrap();
    let sids: Vec<&str> = all.iter().map(|n| n.sid.as_str()).collect();
    assert_eq!(sids, ["PN01", "PN02", "PN03", "PN04", "PN05"]);

    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[1].url.query(),
        Some("PageSize=1000&Page=1&PageToken=PAPN0002"),
        "followed verbatim"
    );
    assert_eq!(
        requests[2].url.query(),
        Some("PageSize=1000&Page=2&PageToken=PAPN0004")
    );
    for r in &requests {
        assert!(r.headers.contains_key("authorization"));
    }
}

#[tokio::test]
async fn page_tokens_outside_this_accounts_listing_are_rejected_without_a_request() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let twilio = client(&server);
    let bad = [
        format!(
            "https://evil.example{}",
            api("IncomingPhoneNumbers.json?PageToken=PA1")
        ),
        format!("//evil.example{}", api("IncomingPhoneNumbers.json?PageToken=PA1")),
        format!("@evil.example{}", api("IncomingPhoneNumbers.json?PageToken=PA1")),
        "/2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/IncomingPhoneNumbers.json?PageToken=PA1"
            .to_owned(),
        api("Recordings.json?PageToken=PA1"),
        api("IncomingPhoneNumbers/../../../Other.json?PageToken=PA1"),
        api("IncomingPhoneNumbers.json?PageToken=PA1 #x"),
        "/v1/Services?PageToken=PA1".to_owned(),
        "PA1".to_owned(),
        String::new(),
    ];
    for token in bad {
        let err = twilio
            .list_numbers(&PageRequest::after(PageToken::new(token.clone())))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { code: None, .. }),
            "{token}: {err:?}"
        );
    }
    let err = twilio
        .list_recordings(
            &RecordingFilter::default(),
            &PageRequest::after(PageToken::new(api("IncomingPhoneNumbers.json?PageToken=PA1"))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Recordings and calls
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn fetch_recording_reads_string_numbers_and_rfc2822_dates() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Recordings/{RE}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("recording")))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server)
        .fetch_recording(&RecordingSid::new(RE))
        .await
        .unwrap();
    assert_eq!(r.sid.as_str(), RE);
    assert_eq!(r.account_sid.as_str(), AC);
    assert_eq!(r.call_sid.as_str(), CA);
    assert_eq!(r.status, RecordingStatus::Completed);
    assert_eq!(r.duration_seconds, Some(4));
    assert_eq!(r.channels, 1);
    assert_eq!(r.source.as_deref(), Some("RecordVerb"));
    assert_eq!(r.error_code, None);
    assert_eq!(
        r.started_at,
        Some(Utc.with_ymd_and_hms(2016, 10, 14, 21, 56, 34).unwrap())
    );
    assert_eq!(
        r.created_at,
        Some(Utc.with_ymd_and_hms(2016, 10, 14, 21, 56, 34).unwrap())
    );
}

#[tokio::test]
async fn list_recordings_sends_the_filter_with_an_encoded_inequality_and_parses_the_page() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let mut absent = fixture("recording");
    absent["sid"] = json!("REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    absent["status"] = json!("absent");
    absent["duration"] = json!("-1");
    absent["error_code"] = json!(16101);
    absent["channels"] = json!(2);
    absent["date_created"] = json!("Thu, 02 May 2024 08:00:00 +0000");
    let mut completed = fixture("recording");
    completed["date_created"] = json!("Wed, 01 May 2024 18:00:00 +0000");
    // Same day, before the instant asked for: Twilio's day filter lets it through, the client drops it.
    let mut earlier = fixture("recording");
    earlier["sid"] = json!("REcccccccccccccccccccccccccccccccc");
    earlier["date_created"] = json!("Wed, 01 May 2024 09:00:00 +0000");
    let next = format!(
        "{}?CallSid={CA}&DateCreated%3E=2024-05-01&PageSize=2&Page=1&PageToken=PARE1",
        api("Recordings.json")
    );
    Mock::given(method("GET"))
        .and(path(api("Recordings.json")))
        .and(query_param("CallSid", CA))
        .and(query_param("DateCreated>", "2024-05-01"))
        .and(query_param("PageSize", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recordings": [absent, completed, earlier],
            "next_page_uri": next,
            "page": 0, "page_size": 2, "start": 0, "end": 1, "uri": "/x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut filter = RecordingFilter::default();
    filter.call_sid = Some(CallSid::new(CA));
    filter.created_on_or_after = Some(Utc.with_ymd_and_hms(2024, 5, 1, 17, 30, 0).unwrap());
    let page = client(&server)
        .list_recordings(&filter, &PageRequest::first(2))
        .await
        .unwrap();

    let raw = received(&server).await[0].url.query().unwrap().to_owned();
    assert!(raw.contains("DateCreated%3E=2024-05-01"), "{raw}");
    let sids: Vec<&str> = page.items.iter().map(|r| r.sid.as_str()).collect();
    assert_eq!(
        sids,
        ["REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", RE],
        "newest first, the earlier one dropped"
    );
    assert_eq!(page.items[0].status, RecordingStatus::Absent);
    assert_eq!(page.items[0].duration_seconds, None, "-1 while unknown");
    assert_eq!(page.items[0].error_code, Some(16101));
    assert_eq!(page.items[0].channels, 2);
    assert_eq!(page.items[1].status, RecordingStatus::Completed);
    assert_eq!(page.items[1].duration_seconds, Some(4));
    assert_eq!(page.next.as_ref().map(PageToken::as_str), Some(next.as_str()));
}

#[tokio::test]
async fn recording_media_404s_briefly_then_downloads() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let media_path = api(&format!("Recordings/{RE}.wav"));
    Mock::given(method("GET"))
        .and(path(media_path.clone()))
        .respond_with(twilio_error(404, 20404, "The requested resource was not found"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(media_path))
        .and(basic_auth(AC, TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec(), "audio/x-wav"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let media = client(&server)
        .download_recording(&RecordingSid::new(RE), AudioFormat::Wav)
        .await
        .unwrap();
    assert_eq!(media.content_type, "audio/x-wav");
    assert_eq!(&media.bytes[..4], b"RIFF");
    assert_eq!(media.bytes.len(), 16);
}

#[tokio::test]
async fn recording_media_still_missing_after_the_retries_is_not_found() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Recordings/{RE}.mp3"))))
        .respond_with(twilio_error(404, 20404, "The requested resource was not found"))
        .expect(3)
        .mount(&server)
        .await;
    let twilio = builder(&server)
        .with_media_not_found_retries(2, Duration::from_millis(1))
        .build()
        .unwrap();
    let err = twilio
        .download_recording(&RecordingSid::new(RE), AudioFormat::Mp3)
        .await
        .unwrap_err();
    match err {
        Error::NotFound { resource, .. } => assert!(resource.contains(RE), "{resource}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn media_redirect_to_another_host_does_not_carry_credentials() {
    let api_server = MockServer::start().await;
    let storage = MockServer::start().await;
    forbid_other_requests(&api_server).await;
    forbid_other_requests(&storage).await;
    let storage_url = format!("{}/bucket/{RE}.mp3?X-Amz-Signature=abc", storage.uri());
    Mock::given(method("GET"))
        .and(path(api(&format!("Recordings/{RE}.mp3"))))
        .and(basic_auth(AC, TOKEN))
        .respond_with(ResponseTemplate::new(302).insert_header("location", storage_url.as_str()))
        .expect(1)
        .mount(&api_server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/bucket/{RE}.mp3")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"ID3\x04mp3-bytes".to_vec(), "audio/mpeg"))
        .expect(1)
        .mount(&storage)
        .await;

    let media = client(&api_server)
        .download_recording(&RecordingSid::new(RE), AudioFormat::Mp3)
        .await
        .unwrap();
    assert_eq!(media.content_type, "audio/mpeg");
    assert_eq!(&media.bytes[..], b"ID3\x04mp3-bytes");

    let at_storage = received(&storage).await;
    assert_eq!(at_storage.len(), 1);
    assert!(
        !at_storage[0].headers.contains_key("authorization"),
        "credentials leaked to another host: {:?}",
        at_storage[0].headers
    );
    assert!(
        received(&api_server).await[0]
            .headers
            .contains_key("authorization")
    );
}

#[tokio::test]
async fn delete_recording_is_a_delete_answered_204() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("Recordings/{RE}.json"))))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .delete_recording(&RecordingSid::new(RE))
        .await
        .unwrap();
}

#[tokio::test]
async fn fetch_call_reads_the_duration_string_and_an_empty_one() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("call")))
        .expect(1)
        .mount(&server)
        .await;
    let unanswered = "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let mut no_answer = fixture("call");
    no_answer["sid"] = json!(unanswered);
    no_answer["status"] = json!("no-answer");
    no_answer["duration"] = json!("");
    no_answer["start_time"] = json!(null);
    no_answer["parent_call_sid"] = json!(CA);
    no_answer["direction"] = json!("outbound-dial");
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{unanswered}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(no_answer))
        .expect(1)
        .mount(&server)
        .await;
    let twilio = client(&server);

    let call = twilio.fetch_call(&CallSid::new(CA)).await.unwrap();
    assert_eq!(call.sid.as_str(), CA);
    assert_eq!(call.account_sid.as_str(), AC);
    assert_eq!(call.from, "+15017122661");
    assert_eq!(call.to, "+18089255327");
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.direction, "inbound");
    assert_eq!(call.duration_seconds, Some(15));
    assert_eq!(
        call.started_at,
        Some(Utc.with_ymd_and_hms(2010, 8, 31, 20, 36, 29).unwrap())
    );
    assert_eq!(
        call.ended_at,
        Some(Utc.with_ymd_and_hms(2010, 8, 31, 20, 36, 44).unwrap())
    );
    assert_eq!(call.parent_call_sid, None);

    let call = twilio.fetch_call(&CallSid::new(unanswered)).await.unwrap();
    assert_eq!(call.status, CallStatus::NoAnswer);
    assert_eq!(call.duration_seconds, None);
    assert_eq!(call.started_at, None);
    assert_eq!(call.parent_call_sid, Some(CallSid::new(CA)));
}

#[tokio::test]
async fn ids_that_would_change_the_path_are_not_found_without_a_request() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let twilio = client(&server);
    for id in ["RE1/../../Calls/CA1", "RE1?x=1", "RE1%2F", "", "RE1#"] {
        let err = twilio.fetch_recording(&RecordingSid::new(id)).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{id}: {err:?}");
        let err = twilio
            .download_recording(&RecordingSid::new(id), AudioFormat::Wav)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{id}: {err:?}");
    }
    assert!(matches!(
        twilio.fetch_call(&CallSid::new("../x")).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        twilio.release_number(&NumberSid::new("PN/x")).await,
        Err(Error::NotFound { .. })
    ));
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Errors, retries, transport
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn unauthenticated_is_not_retried() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .respond_with(twilio_error(401, 20003, "Authenticate"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .fetch_number(&NumberSid::new(PN))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unauthenticated { code: Some(20003), message } if message == "Authenticate"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn forbidden_is_forbidden() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(twilio_error(
            403,
            20008,
            "Resource not accessible with Test Account Credentials",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).fetch_call(&CallSid::new(CA)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Forbidden {
                code: Some(20008),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn not_found_names_the_resource_and_is_not_retried() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Recordings/{RE}.json"))))
        .respond_with(twilio_error(
            404,
            20404,
            "The requested resource /2010-04-01/Accounts/AC…/Recordings/RE….json was not found",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .fetch_recording(&RecordingSid::new(RE))
        .await
        .unwrap_err();
    match &err {
        Error::NotFound { resource, message } => {
            assert_eq!(resource, &format!("recording {RE}"));
            assert!(message.contains("was not found"), "{message}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn rate_limited_get_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(twilio_error(429, 20429, "Too Many Requests").insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("call")))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let call = client(&server).fetch_call(&CallSid::new(CA)).await.unwrap();
    assert_eq!(call.sid.as_str(), CA);
    assert_eq!(call.duration_seconds, Some(15));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 honoured, waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_is_capped_by_max_retry_delay_and_retries_run_out() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Recordings/{RE}.json"))))
        .respond_with(twilio_error(429, 20429, "Too Many Requests").insert_header("retry-after", "3600"))
        .expect(3)
        .mount(&server)
        .await;
    let twilio = builder(&server)
        .with_max_rate_limit_retries(2)
        .with_max_retry_delay(Duration::from_millis(5))
        .build()
        .unwrap();
    let err = twilio.fetch_recording(&RecordingSid::new(RE)).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)), "{err:?}");
}

#[tokio::test]
async fn rate_limited_post_is_not_retried_and_reports_retry_after() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("POST"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .respond_with(twilio_error(429, 20429, "Too Many Requests").insert_header("retry-after", "7"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .configure_number(
            &NumberSid::new(PN),
            &WebhookConfig::callbook("https://hooks.example.com"),
        )
        .await
        .unwrap_err();
    match &err {
        Error::RateLimited { retry_after, message } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert_eq!(message, "Too Many Requests");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn html_502_is_unavailable_without_the_page_and_gets_is_retried() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let html = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>\
                <p>upstream +14155551234 internal-host-17</p></body></html>";
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html.as_bytes().to_vec(), "text/html"))
        .expect(3)
        .mount(&server)
        .await;
    let twilio = builder(&server).with_max_rate_limit_retries(2).build().unwrap();
    let err = twilio.fetch_call(&CallSid::new(CA)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        !text.contains('<') && !text.contains("upstream") && !text.contains("+1415"),
        "{text}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_errors_on_a_post_are_not_retried() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("POST"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .purchase_number(&PurchaseRequest::new(e164("+18089255327")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_json_in_a_200_is_a_decode_error() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"{\"sid\": \"CA1\", \"from\": +1415555".to_vec(),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).fetch_call(&CallSid::new(CA)).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(!err.to_string().contains("1415555"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_200_that_is_not_a_twilio_resource_is_a_decode_error() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("IncomingPhoneNumbers/{PN}.json"))))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sid": PN, "account_sid": AC, "phone_number": "not-a-number"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .fetch_number(&NumberSid::new(PN))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn rfc9457_problem_details_are_mapped() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let problem = |status: u16, code: u32, title: &str, detail: &str| {
        ResponseTemplate::new(status).set_body_raw(
            serde_json::to_vec(&json!({
                "type": format!("https://www.twilio.com/docs/errors/{code}"),
                "title": title,
                "status": status,
                "code": code,
                "detail": detail,
                "instance": "/2010-04-01/whatever",
            }))
            .unwrap(),
            "application/problem+json",
        )
    };
    Mock::given(method("GET"))
        .and(path(api("AvailablePhoneNumbers/US/Local.json")))
        .respond_with(problem(400, 21457, "Bad request", "AreaCode is not supported"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .respond_with(problem(
            404,
            20404,
            "Not Found",
            "The requested call was not found",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .respond_with(problem(400, 21421, "Bad request", "PhoneNumber is invalid"))
        .expect(1)
        .mount(&server)
        .await;
    let twilio = client(&server);

    let err = twilio
        .search_available_numbers(&NumberSearch::local("US").with_area_code(212))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { code: Some(21457), message } if message == "AreaCode is not supported"),
        "{err:?}"
    );
    let err = twilio.fetch_call(&CallSid::new(CA)).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { message, .. } if message == "The requested call was not found"),
        "{err:?}"
    );
    let err = twilio
        .purchase_number(&PurchaseRequest::new(e164("+18089255327")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NumberUnavailable { code: 21421, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("POST"))
        .and(path(api("IncomingPhoneNumbers.json")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(fixture("incoming_phone_number"))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let twilio = builder(&server)
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = twilio
        .purchase_number(&PurchaseRequest::new(e164("+18089255327")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_retryable() {
    // A port that was just free: nothing listens there (wiremock pools its servers, so one cannot be used).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("http://127.0.0.1:{port}");
    let twilio = TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_auth_token(TOKEN)
        .with_base_url(uri)
        .with_max_rate_limit_retries(1)
        .build()
        .unwrap();
    let err = twilio.fetch_call(&CallSid::new(CA)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable { status: None, .. } | Error::Transport { .. }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration and credentials
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_key_authenticates_as_key_and_secret_with_the_account_in_the_path() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let sk = "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{sk}:key-secret"))
    );
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .and(header("authorization", expected.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("call")))
        .expect(1)
        .mount(&server)
        .await;
    let twilio = builder(&server).with_api_key(sk, "key-secret").build().unwrap();
    assert_eq!(
        twilio.fetch_call(&CallSid::new(CA)).await.unwrap().sid.as_str(),
        CA
    );
}

#[tokio::test]
async fn a_sub_account_can_be_managed_with_the_parents_credentials() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    let parent = "ACcccccccccccccccccccccccccccccccc";
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .and(basic_auth(parent, "parent-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("call")))
        .expect(1)
        .mount(&server)
        .await;
    let twilio = TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_api_key(parent, "parent-token")
        .with_base_url(server.uri())
        .build()
        .unwrap();
    assert_eq!(twilio.account_sid().as_str(), AC);
    twilio.fetch_call(&CallSid::new(CA)).await.unwrap();
}

#[test]
fn debug_output_never_shows_secrets() {
    let builder = TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_auth_token(TOKEN)
        .with_api_key("SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "api-secret-do-not-leak");
    let shown = format!("{builder:?} {builder:#?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("api-secret-do-not-leak"),
        "{shown}"
    );
    assert!(
        shown.contains(AC),
        "the account is not secret and helps debugging"
    );

    let twilio = builder.build().unwrap();
    let shown = format!("{twilio:?} {twilio:#?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("api-secret-do-not-leak"),
        "{shown}"
    );

    let only_token = TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_auth_token(TOKEN)
        .build()
        .unwrap();
    assert!(!format!("{only_token:?}").contains(TOKEN));
}

#[tokio::test]
async fn from_env_with_reads_the_twilio_variables() {
    let server = MockServer::start().await;
    forbid_other_requests(&server).await;
    Mock::given(method("GET"))
        .and(path(api(&format!("Calls/{CA}.json"))))
        .and(basic_auth(AC, TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("call")))
        .expect(1)
        .mount(&server)
        .await;
    let env: HashMap<&str, String> = HashMap::from([
        ("TWILIO_ACCOUNT_SID", AC.to_owned()),
        ("TWILIO_AUTH_TOKEN", TOKEN.to_owned()),
        ("TWILIO_API_BASE_URL", format!("{}/", server.uri())),
        ("TWILIO_API_KEY", String::new()),
    ]);
    let twilio = TwilioTelephonyBuilder::from_env_with(|name| env.get(name).cloned())
        .build()
        .unwrap();
    assert_eq!(twilio.base_url(), server.uri());
    twilio.fetch_call(&CallSid::new(CA)).await.unwrap();

    let with_key = TwilioTelephonyBuilder::from_env_with(|name| match name {
        "TWILIO_ACCOUNT_SID" => Some(AC.to_owned()),
        "TWILIO_API_KEY" => Some("SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_owned()),
        "TWILIO_API_SECRET" => Some("s".to_owned()),
        _ => None,
    })
    .build()
    .unwrap();
    assert_eq!(with_key.base_url(), "https://api.twilio.com");

    let missing =
        TwilioTelephonyBuilder::from_env_with(|name| (name == "TWILIO_ACCOUNT_SID").then(|| AC.to_owned()));
    assert!(matches!(missing.build(), Err(Error::Config(m)) if m.contains("TWILIO_AUTH_TOKEN")));
    let bad_sid = TwilioTelephonyBuilder::from_env_with(|name| match name {
        "TWILIO_ACCOUNT_SID" => Some("SK123".to_owned()),
        "TWILIO_AUTH_TOKEN" => Some("t".to_owned()),
        _ => None,
    });
    assert!(matches!(bad_sid.build(), Err(Error::Config(m)) if m.contains("TWILIO_ACCOUNT_SID")));
}

#[test]
fn capabilities_are_all_supported() {
    let twilio = TwilioTelephony::builder()
        .with_account_sid(AC)
        .with_auth_token(TOKEN)
        .build()
        .unwrap();
    let caps = twilio.capabilities();
    assert!(caps.buy_numbers && caps.delete_recordings && caps.mp3_download);
}
