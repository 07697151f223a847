//! Stripe webhook verification and parsing.
//!
//! Stripe signs each delivery with the endpoint's signing secret (`whsec_…`) and sends
//! `Stripe-Signature: t=1492774577,v1=5257a869…[,v1=…][,v0=…]`. The signed payload is
//! `"{t}.{raw body}"`, the MAC is HMAC-SHA256 keyed with the secret's **text as given** (the `whsec_` prefix
//! included), hex-encoded. A delivery is genuine when any `v1` matches (several appear while a secret is
//! being rolled) and `t` is no older than the tolerance (300 s by default, as in Stripe's libraries). `v0`
//! signatures (test-mode legacy scheme) are ignored, as Stripe's libraries ignore them.
//!
//! Verify the **raw** body bytes before parsing anything: a re-serialised JSON body will not match.
//!
//! ```
//! use callbook_billing::webhook::WebhookVerifier;
//! use callbook_billing::BillingEventKind;
//! let verifier = WebhookVerifier::new("whsec_test_secret");
//! let body = br#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,
//!   "livemode":false,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1",
//!   "status":"paid","amount_due":1200,"amount_paid":1200,"currency":"usd"}}}"#;
//! let now = chrono::Utc::now();
//! let header = verifier.sign(body, now.timestamp());
//! let event = verifier.verify(body, Some(&header), now)?;
//! assert!(matches!(event.kind, BillingEventKind::InvoicePaid(ref i) if i.amount_paid.minor_units() == 1200));
//! assert!(verifier.verify(b"{}", Some(&header), now).is_err(), "a different body fails");
//! # Ok::<(), callbook_billing::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::{CustomerId, Invoice, Subscription};
use crate::wire;
use crate::{Error, Result};

/// Stripe's default tolerance between the signature's timestamp and now.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The header Stripe signs deliveries in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// A secret string (API key, signing secret) whose `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a webhook delivery was rejected. Never reveals what the signature should have been.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejected {
    /// No `Stripe-Signature` header, or an empty one.
    #[error("the Stripe-Signature header is missing")]
    MissingHeader,
    /// The header has no `t=` timestamp, or it is not a whole number of seconds.
    #[error("the Stripe-Signature header has no valid t= timestamp")]
    BadTimestamp,
    /// The header has no `v1=` signature.
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1Signature,
    /// The timestamp is older than the tolerance (a replayed delivery, or a clock far off).
    #[error("the signature timestamp is {age_seconds} s old, more than the {tolerance_seconds} s tolerance")]
    TooOld {
        /// How old the timestamp is.
        age_seconds: i64,
        /// The tolerance in force.
        tolerance_seconds: u64,
    },
    /// No `v1` signature matches the body and the signing secret.
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

/// Checks `Stripe-Signature` headers against one or more signing secrets.
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<Secret>,
    tolerance: Duration,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl WebhookVerifier {
    /// A verifier for the endpoint signing secret `secret` (`whsec_…`, used as given) with the default
    /// 300 s tolerance.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secrets: vec![Secret::new(secret)],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts signatures made with `secret` (while rolling the endpoint's secret).
    pub fn with_additional_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(Secret::new(secret));
        self
    }

    /// How old a signature's timestamp may be (default 300 s).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance in force.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Checks the signature only: `Ok` when some `v1` in `header` is the HMAC-SHA256 of `"{t}.{payload}"`
    /// under one of the secrets, compared in constant time, and `t` is within the tolerance of `now`.
    pub fn verify_signature(
        &self,
        payload: &[u8],
        header: Option<&str>,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), WebhookRejected> {
        // Same checks in the same order as Stripe's libraries (stripe-python `WebhookSignature.verify_header`,
        // cross-checked in tests/stripe_python_oracle.rs): header present, parsable, has a v1, some v1 matches,
        // and only then the timestamp's age.
        let header = header
            .filter(|h| !h.trim().is_empty())
            .ok_or(WebhookRejected::MissingHeader)?;
        let parsed = ParsedHeader::parse(header)?;
        let matches = self.secrets.iter().any(|secret| {
            let expected = mac(secret.expose(), parsed.timestamp, payload);
            // Hex text compared as bytes in constant time; a wrong length simply fails.
            parsed
                .v1
                .iter()
                .any(|candidate| bool::from(expected.as_bytes().ct_eq(candidate.as_bytes())))
        });
        if !matches {
            return Err(WebhookRejected::Mismatch);
        }
        let age = now.timestamp().saturating_sub(parsed.timestamp);
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if age > tolerance {
            return Err(WebhookRejected::TooOld {
                age_seconds: age,
                tolerance_seconds: self.tolerance.as_secs(),
            });
        }
        Ok(())
    }

    /// Verifies the signature and then parses the event. Nothing in `payload` is read before the signature
    /// passes.
    pub fn verify(&self, payload: &[u8], header: Option<&str>, now: DateTime<Utc>) -> Result<BillingEvent> {
        self.verify_signature(payload, header, now)?;
        BillingEvent::parse(payload)
    }

    /// A `Stripe-Signature` header value for `payload` at `timestamp`, signed with the first secret:
    /// `t={timestamp},v1={hex}`. For tests and fakes that deliver events.
    pub fn sign(&self, payload: &[u8], timestamp: i64) -> String {
        let secret = self.secrets.first().map_or("", Secret::expose);
        format!("t={timestamp},v1={}", mac(secret, timestamp, payload))
    }
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(payload);
    hex::encode(m.finalize().into_bytes())
}

struct ParsedHeader {
    timestamp: i64,
    v1: Vec<String>,
}

impl ParsedHeader {
    /// `key=value` pairs separated by commas, split as Stripe's libraries split them (keys and signatures
    /// exactly as sent, the timestamp as a decimal integer); unknown keys are ignored.
    fn parse(header: &str) -> std::result::Result<Self, WebhookRejected> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            // `key=value[=ignored]`: like Stripe's libraries (`split("=", 2)`), a value ends at the next `=`.
            let mut parts = item.splitn(3, '=');
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                // A bare `t` or `v1` cannot be read; Stripe's libraries reject the header for it.
                if item == "t" || item == "v1" {
                    return Err(WebhookRejected::BadTimestamp);
                }
                continue;
            };
            match key {
                // The first `t` counts, as in Stripe's libraries.
                "t" if timestamp.is_none() => {
                    let parsed = value.trim().parse::<i64>();
                    timestamp = Some(parsed.map_err(|_| WebhookRejected::BadTimestamp)?);
                }
                "v1" => v1.push(value.to_owned()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookRejected::BadTimestamp)?;
        if v1.is_empty() {
            return Err(WebhookRejected::NoV1Signature);
        }
        Ok(Self { timestamp, v1 })
    }
}

/// A verified Stripe event. `Debug` leaves out [`BillingEvent::raw`], which can hold names and e-mail
/// addresses.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct BillingEvent {
    /// Stripe's event id (`evt_…`): deliveries are retried, so dedupe on it.
    pub id: String,
    /// The event type as Stripe spells it, e.g. `invoice.paid`.
    pub event_type: String,
    /// When the event happened.
    pub created: Option<DateTime<Utc>>,
    /// Live mode or test mode.
    pub livemode: bool,
    /// What happened, typed.
    pub kind: BillingEventKind,
    /// The whole event as Stripe sent it.
    pub raw: serde_json::Value,
}

impl fmt::Debug for BillingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingEvent")
            .field("id", &self.id)
            .field("event_type", &self.event_type)
            .field("created", &self.created)
            .field("livemode", &self.livemode)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The typed content of a [`BillingEvent`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BillingEventKind {
    /// `customer.subscription.created`.
    SubscriptionCreated(Subscription),
    /// `customer.subscription.updated`, `.paused`, `.resumed`, `.trial_will_end` and other subscription
    /// changes: the subscription's new state.
    SubscriptionUpdated(Subscription),
    /// `customer.subscription.deleted`: it ended.
    SubscriptionDeleted(Subscription),
    /// `invoice.finalized`: a new invoice to list.
    InvoiceFinalized(Invoice),
    /// `invoice.paid`.
    InvoicePaid(Invoice),
    /// `invoice.payment_failed`: tell the owner.
    InvoicePaymentFailed(Invoice),
    /// Another `invoice.*` event (created, updated, voided, marked uncollectible, …).
    InvoiceUpdated(Invoice),
    /// `customer.deleted`.
    CustomerDeleted(CustomerId),
    /// Any other event type, kept by name (the payload is in [`BillingEvent::raw`]).
    Other(String),
}

impl BillingEvent {
    /// Parses a Stripe event body. Call only after the signature is verified (or use
    /// [`WebhookVerifier::verify`]).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let raw: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| Error::MalformedWebhook(format!("body is not JSON ({:?} error)", e.classify())))?;
        let event: wire::Event = serde_json::from_value(raw.clone())
            .map_err(|e| Error::MalformedWebhook(format!("not a Stripe event: {e}")))?;
        if !event.object.is_empty() && event.object != "event" {
            return Err(Error::MalformedWebhook(format!(
                "object is {:?}, not \"event\"",
                event.object
            )));
        }
        let object = event.data.object;
        let kind = match event.event_type.as_str() {
            t if t.starts_with("customer.subscription.") => {
                let sub: wire::StripeSubscription = decode(object, t)?;
                let sub = sub.into_domain();
                match t {
                    "customer.subscription.created" => BillingEventKind::SubscriptionCreated(sub),
                    "customer.subscription.deleted" => BillingEventKind::SubscriptionDeleted(sub),
                    _ => BillingEventKind::SubscriptionUpdated(sub),
                }
            }
            t if t.starts_with("invoice.") && !t.starts_with("invoice_payment.") => {
                let inv: wire::StripeInvoice = decode(object, t)?;
                let inv = inv.into_domain();
                match t {
                    "invoice.finalized" => BillingEventKind::InvoiceFinalized(inv),
                    "invoice.paid" => BillingEventKind::InvoicePaid(inv),
                    "invoice.payment_failed" => BillingEventKind::InvoicePaymentFailed(inv),
                    _ => BillingEventKind::InvoiceUpdated(inv),
                }
            }
            "customer.deleted" => {
                let c: wire::Customer = decode(object, "customer.deleted")?;
                BillingEventKind::CustomerDeleted(CustomerId::new(c.id))
            }
            other => BillingEventKind::Other(other.to_owned()),
        };
        Ok(Self {
            id: event.id,
            event_type: event.event_type,
            created: event.created.and_then(wire::timestamp),
            livemode: event.livemode,
            kind,
            raw,
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(object: serde_json::Value, event_type: &str) -> Result<T> {
    serde_json::from_value(object)
        .map_err(|e| Error::MalformedWebhook(format!("{event_type}: data.object is not as documented: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    #[test]
    fn header_parsing_names_the_problem() {
        let v = WebhookVerifier::new("whsec_x");
        let now = at(1_700_000_000);
        assert_eq!(
            v.verify_signature(b"{}", None, now),
            Err(WebhookRejected::MissingHeader)
        );
        assert_eq!(
            v.verify_signature(b"{}", Some("  "), now),
            Err(WebhookRejected::MissingHeader)
        );
        assert_eq!(
            v.verify_signature(b"{}", Some("v1=abc"), now),
            Err(WebhookRejected::BadTimestamp)
        );
        assert_eq!(
            v.verify_signature(b"{}", Some("t=12x,v1=abc"), now),
            Err(WebhookRejected::BadTimestamp)
        );
        assert_eq!(
            v.verify_signature(b"{}", Some("t=1700000000,v0=abc"), now),
            Err(WebhookRejected::NoV1Signature)
        );
        assert_eq!(
            v.verify_signature(b"{}", Some("t=1700000000,v1=abc"), now),
            Err(WebhookRejected::Mismatch)
        );
    }

    #[test]
    fn any_v1_may_match_and_v0_is_ignored() {
        let v = WebhookVerifier::new("whsec_x");
        let good = v.sign(b"{}", 1_700_000_000);
        let sig = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1700000000,v1=deadbeef,v0={sig},v1={sig}");
        assert_eq!(
            v.verify_signature(b"{}", Some(&header), at(1_700_000_000)),
            Ok(())
        );
        let only_v0 = format!("t=1700000000,v0={sig},v1=00");
        assert_eq!(
            v.verify_signature(b"{}", Some(&only_v0), at(1_700_000_000)),
            Err(WebhookRejected::Mismatch)
        );
    }

    #[test]
    fn unknown_event_types_are_kept() {
        let e = BillingEvent::parse(
            br#"{"id":"evt_1","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, BillingEventKind::Other("charge.refunded".into()));
        let upcoming = BillingEvent::parse(
            br#"{"id":"evt_2","object":"event","type":"invoice.upcoming","data":{"object":{"object":"invoice","customer":"cus_1","amount_due":300,"currency":"usd","customer_email":"owner@example.com"}}}"#,
        )
        .unwrap();
        assert!(
            matches!(upcoming.kind, BillingEventKind::InvoiceUpdated(ref i) if i.amount_due.minor_units() == 300)
        );
        assert!(
            !format!("{upcoming:?}").contains("owner@"),
            "Debug leaves the raw payload out"
        );
        assert!(matches!(
            BillingEvent::parse(b"not json"),
            Err(Error::MalformedWebhook(_))
        ));
        assert!(matches!(
            BillingEvent::parse(br#"{"id":"x","object":"customer","type":"a","data":{"object":{}}}"#),
            Err(Error::MalformedWebhook(_))
        ));
    }
}
