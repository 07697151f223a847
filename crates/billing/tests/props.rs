//! Properties of the webhook verifier and the usage identifiers: no input makes them panic, signing and
//! verifying round-trip, and any change to a signed body is caught.
#![allow(clippy::unwrap_used)]

use callbook_billing::webhook::{WebhookRejected, WebhookVerifier};
use callbook_billing::{BillingEvent, UsageReport};
use chrono::DateTime;
use proptest::prelude::*;

proptest! {
    #[test]
    fn verification_never_panics(header in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..300), now in 0i64..4_000_000_000) {
        let v = WebhookVerifier::new("whsec_prop");
        let _ = v.verify(&body, Some(&header), DateTime::from_timestamp(now, 0).unwrap());
        let _ = BillingEvent::parse(&body);
    }

    #[test]
    fn sign_then_verify_round_trips(
        secret in "whsec_[A-Za-z0-9]{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..500),
        t in 0i64..4_000_000_000,
    ) {
        let v = WebhookVerifier::new(secret);
        let header = v.sign(&body, t);
        prop_assert!(v.verify_signature(&body, Some(&header), DateTime::from_timestamp(t, 0).unwrap()).is_ok());
    }

    #[test]
    fn any_changed_byte_is_caught(
        body in proptest::collection::vec(any::<u8>(), 1..300),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let v = WebhookVerifier::new("whsec_prop");
        let t = 1_700_000_000;
        let header = v.sign(&body, t);
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert_eq!(
            v.verify_signature(&tampered, Some(&header), DateTime::from_timestamp(t, 0).unwrap()),
            Err(WebhookRejected::Mismatch)
        );
    }

    #[test]
    fn derived_identifiers_are_always_valid(
        tenant in "\\PC{1,80}",
        metric in "[a-z_]{1,30}",
        period in "[0-9]{4}-[0-9]{2}",
        before in 0u64..1_000_000,
        added in 0u64..1_000_000,
    ) {
        let now = chrono::Utc::now();
        let total = UsageReport::period_total(tenant.as_str(), &metric, &period, before, now);
        prop_assert!(total.validate_at(now).is_ok());
        let inc = UsageReport::increment(tenant.as_str(), &metric, &period, before, before + added, now).unwrap();
        prop_assert!(inc.validate_at(now).is_ok());
        prop_assert_eq!(inc.quantity, added);
        prop_assert_ne!(total.identifier, inc.identifier);
    }
}
