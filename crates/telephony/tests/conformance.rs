//! The `Telephony` conformance suite on every backend: the in-memory fake (directly and through
//! `Arc<dyn Telephony>`) and the Twilio REST backend against `MockTwilioApi`, a local server answering in
//! Twilio's wire format over a fake.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::Telephony;
use callbook_telephony::testing::{check_all, seed_fixture};

#[tokio::test]
async fn fake_passes_the_suite() {
    let fake = FakeTelephony::new();
    let fixture = seed_fixture(&fake);
    check_all(&fake, &fixture).await.unwrap();
}

#[tokio::test]
async fn fake_passes_the_suite_through_arc_dyn() {
    let fake = FakeTelephony::new();
    let fixture = seed_fixture(&fake);
    let backend: Arc<dyn Telephony> = Arc::new(fake);
    check_all(&backend, &fixture).await.unwrap();
}

#[cfg(feature = "twilio")]
mod twilio {
    use std::time::Duration;

    use callbook_telephony::Error;
    use callbook_telephony::fake::FakeTelephony;
    use callbook_telephony::telephony::{AudioFormat, NumberSearch, PurchaseRequest, Telephony};
    use callbook_telephony::testing::twilio_api::{Fault, MockTwilioApi};
    use callbook_telephony::testing::{check_all, seed_fixture};
    use callbook_telephony::twilio::TwilioTelephony;

    const TOKEN: &str = "mock-auth-token";

    fn client(mock: &MockTwilioApi) -> TwilioTelephony {
        TwilioTelephony::builder()
            .with_account_sid(mock.fake().account_sid().as_str())
            .with_auth_token(TOKEN)
            .with_base_url(mock.base_url())
            .with_max_retry_delay(Duration::from_millis(20))
            .with_media_not_found_retries(0, Duration::from_millis(1))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn twilio_backend_passes_the_suite_against_the_mock_api() {
        let fake = FakeTelephony::new();
        let fixture = seed_fixture(&fake);
        let mock = MockTwilioApi::start(fake, TOKEN).await.unwrap();
        let twilio = client(&mock);
        check_all(&twilio, &fixture).await.unwrap();
        assert!(
            mock.requests().iter().all(|r| r.authenticated),
            "every request carried valid credentials"
        );
    }

    #[tokio::test]
    async fn wrong_token_is_unauthenticated_and_not_retried() {
        let mock = MockTwilioApi::start(FakeTelephony::new(), TOKEN).await.unwrap();
        let twilio = TwilioTelephony::builder()
            .with_account_sid(mock.fake().account_sid().as_str())
            .with_auth_token("wrong")
            .with_base_url(mock.base_url())
            .build()
            .unwrap();
        let err = twilio
            .search_available_numbers(&NumberSearch::local("US"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unauthenticated {
                    code: Some(20003),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        assert_eq!(mock.requests().len(), 1);
    }

    #[tokio::test]
    async fn reads_survive_an_html_502_and_a_429() {
        let fake = FakeTelephony::new();
        let fixture = seed_fixture(&fake);
        let mock = MockTwilioApi::start(fake, TOKEN).await.unwrap();
        mock.push_fault(Fault::html_bad_gateway());
        mock.push_fault(Fault::rate_limited(0));
        let twilio = client(&mock);
        let media = twilio
            .download_recording(&fixture.recording_sid, AudioFormat::Wav)
            .await
            .unwrap();
        assert_eq!(media.bytes, fixture.recording_audio);
        assert_eq!(mock.requests().len(), 3, "two faults, then the real answer");
    }

    #[tokio::test]
    async fn a_purchase_is_never_retried() {
        let fake = FakeTelephony::new();
        let mock = MockTwilioApi::start(fake.clone(), TOKEN).await.unwrap();
        let offer = fake
            .search_available_numbers(&NumberSearch::local("US"))
            .await
            .unwrap()
            .remove(0);
        mock.push_fault(Fault::html_bad_gateway());
        let twilio = client(&mock);
        let err = twilio
            .purchase_number(&PurchaseRequest::new(offer.phone_number.clone()))
            .await
            .unwrap_err();
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
        assert!(!err.to_string().contains("<html>"), "no HTML in errors: {err}");
        assert_eq!(mock.requests().len(), 1, "the POST was sent once");
        // The number is still on offer: the 502 came before the fake was touched.
        let again = fake
            .search_available_numbers(&NumberSearch::local("US"))
            .await
            .unwrap();
        assert!(again.iter().any(|n| n.phone_number == offer.phone_number));
    }

    #[tokio::test]
    async fn api_key_credentials_are_accepted_once_added() {
        let fake = FakeTelephony::new();
        let fixture = seed_fixture(&fake);
        let mock = MockTwilioApi::start(fake, TOKEN).await.unwrap();
        let twilio = TwilioTelephony::builder()
            .with_account_sid(mock.fake().account_sid().as_str())
            .with_api_key("SK00000000000000000000000000000009", "key-secret")
            .with_base_url(mock.base_url())
            .build()
            .unwrap();
        let err = twilio.fetch_call(&fixture.call_sid).await.unwrap_err();
        assert!(
            matches!(err, Error::Unauthenticated { .. }),
            "unknown key rejected: {err:?}"
        );
        mock.add_api_key("SK00000000000000000000000000000009", "key-secret");
        let call = twilio.fetch_call(&fixture.call_sid).await.unwrap();
        assert_eq!(call.sid, fixture.call_sid);
    }
}
