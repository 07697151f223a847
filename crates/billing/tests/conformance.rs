//! The `BillingProvider` conformance suite on every backend: the in-memory fake (directly and through
//! `Arc<dyn BillingProvider>`) and the Stripe backend against `MockStripe`, a local server answering in
//! Stripe's wire format.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use callbook_billing::BillingProvider;
use callbook_billing::testing::{ConformanceFixture, check_all, conformance_fake};

#[tokio::test]
async fn fake_passes_the_suite() {
    let fixture = ConformanceFixture::standard();
    let fake = conformance_fake(&fixture);
    check_all(&fake, &fake, &fixture).await.unwrap();
}

#[tokio::test]
async fn fake_passes_the_suite_through_arc_dyn() {
    let fixture = ConformanceFixture::standard();
    let fake = conformance_fake(&fixture);
    let backend: Arc<dyn BillingProvider> = Arc::new(fake.clone());
    check_all(&backend, &fake, &fixture).await.unwrap();
}

#[cfg(feature = "stripe")]
mod stripe {
    use std::sync::Arc;
    use std::time::Duration;

    use callbook_billing::BillingProvider;
    use callbook_billing::stripe::StripeBilling;
    use callbook_billing::testing::mock_stripe::MockStripe;
    use callbook_billing::testing::{ConformanceFixture, MockStripeHarness, check_all};

    const KEY: &str = "sk_test_conformance0000";
    const WHSEC: &str = "whsec_conformance";

    fn backend(mock: &MockStripe, fixture: &ConformanceFixture) -> StripeBilling {
        let mut b = StripeBilling::builder()
            .with_secret_key(KEY)
            .with_webhook_secret(WHSEC)
            .with_base_url(mock.base_url())
            .with_retries(3, Duration::from_millis(5), Duration::from_millis(50));
        for (metric, event) in fixture.meters() {
            b = b.with_meter(&metric, &event);
        }
        b.build().unwrap()
    }

    fn harness<'a>(mock: &'a MockStripe, fixture: &ConformanceFixture) -> MockStripeHarness<'a> {
        MockStripeHarness {
            mock,
            meters: fixture.meters(),
            webhook_secret: WHSEC.into(),
        }
    }

    #[tokio::test]
    async fn stripe_backend_passes_the_suite_against_the_mock() {
        let fixture = ConformanceFixture::standard();
        let mock = MockStripe::start(KEY).await.unwrap();
        fixture.seed_mock(&mock);
        let stripe = backend(&mock, &fixture);
        check_all(&stripe, &harness(&mock, &fixture), &fixture)
            .await
            .unwrap();

        let requests = mock.requests();
        assert!(
            requests.iter().all(|r| r.authorized),
            "every request carried the key"
        );
        assert!(
            requests
                .iter()
                .all(|r| r.stripe_version.as_deref() == Some(callbook_billing::STRIPE_API_VERSION)),
            "every request pinned the API version"
        );
        assert!(
            requests
                .iter()
                .filter(|r| r.method == "POST")
                .all(|r| r.idempotency_key.is_some()),
            "every POST carried an idempotency key"
        );
    }

    #[tokio::test]
    async fn stripe_backend_passes_the_suite_through_arc_dyn() {
        let fixture = ConformanceFixture::standard();
        let mock = MockStripe::start(KEY).await.unwrap();
        fixture.seed_mock(&mock);
        let stripe: Arc<dyn BillingProvider> = Arc::new(backend(&mock, &fixture));
        check_all(&stripe, &harness(&mock, &fixture), &fixture)
            .await
            .unwrap();
    }
}
