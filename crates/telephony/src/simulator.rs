//! [`CallSimulator`]: plays Twilio's part of a call — correctly signed webhook requests for the whole
//! lifecycle, and the recording registered in a [`FakeTelephony`] so it can be downloaded.
//!
//! Used by tests, demos and `callbook simulate-call`. The requests carry exactly the parameters and headers
//! Twilio sends (form body, `X-Twilio-Signature` over the public URL, `I-Twilio-Idempotency-Token`), so a
//! server that accepts them accepts Twilio. Serve the fake over HTTP with
//! `testing::twilio_api::MockTwilioApi` (feature `testing`) when the server under test runs the real Twilio
//! backend in another process.
//!
//! ```
//! use callbook_telephony::fake::FakeTelephony;
//! use callbook_telephony::signature::{WebhookVerifier, WebhookRequest};
//! use callbook_telephony::simulator::{CallSimulator, WebhookKind};
//!
//! let fake = FakeTelephony::new();
//! let sim = CallSimulator::new(fake.clone(), "test-auth-token", "https://hooks.example.com");
//! let call = sim.place_call("+14155551234", "+14155550100");
//! let requests = sim.voicemail_lifecycle(&call, bytes::Bytes::from_static(b"RIFF....WAVE"), 12);
//! assert_eq!(requests[0].kind, WebhookKind::Voice);
//!
//! // Every request verifies against the public URL with the auth token.
//! let verifier = WebhookVerifier::new("test-auth-token");
//! for r in &requests {
//!     let req = WebhookRequest::form(&r.url, r.body.as_bytes()).with_signature(r.signature());
//!     assert!(verifier.verify(&req).is_ok());
//! }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::fake::FakeTelephony;
use crate::form::FormParams;
use crate::signature::{
    IDEMPOTENCY_TOKEN_HEADER, SIGNATURE_HEADER, Secret, SignatureAlgorithm, compute_signature,
};
use crate::telephony::{AccountSid, CallInfo, CallSid, CallStatus, RecordingSid};

/// Which webhook a simulated request is for (and so which path it goes to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookKind {
    /// The number's voice URL; answered with TwiML.
    Voice,
    /// The number's status callback.
    Status,
    /// The `recordingStatusCallback`.
    Recording,
    /// The `<Record action>`.
    RecordDone,
}

/// The webhook URLs Twilio would call, as configured (public, absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrls {
    /// Voice URL.
    pub voice: String,
    /// Status callback URL.
    pub status: String,
    /// Recording status callback URL.
    pub recording: String,
    /// `<Record action>` URL.
    pub record_done: String,
}

impl WebhookUrls {
    /// Callbook's paths (DESIGN.md §5) under `public_base_url`.
    pub fn callbook(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            voice: format!("{base}/webhooks/twilio/voice"),
            status: format!("{base}/webhooks/twilio/status"),
            recording: format!("{base}/webhooks/twilio/recording"),
            record_done: format!("{base}/webhooks/twilio/record-done"),
        }
    }

    fn for_kind(&self, kind: WebhookKind) -> &str {
        match kind {
            WebhookKind::Voice => &self.voice,
            WebhookKind::Status => &self.status,
            WebhookKind::Recording => &self.recording,
            WebhookKind::RecordDone => &self.record_done,
        }
    }
}

/// One signed webhook request, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct SimulatedRequest {
    /// Which webhook.
    pub kind: WebhookKind,
    /// Always `POST`.
    pub method: &'static str,
    /// The absolute public URL (what was signed).
    pub url: String,
    /// Headers: `Content-Type`, `X-Twilio-Signature`, `I-Twilio-Idempotency-Token`, `User-Agent`.
    pub headers: Vec<(String, String)>,
    /// The form-encoded body.
    pub body: String,
}

impl SimulatedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `X-Twilio-Signature` value.
    pub fn signature(&self) -> &str {
        self.header(SIGNATURE_HEADER).unwrap_or_default()
    }
    /// The path and query of `url` (what to send to a server at another address).
    pub fn path_and_query(&self) -> &str {
        let after_scheme = self.url.find("://").map_or(0, |i| i + 3);
        self.url[after_scheme..]
            .find('/')
            .map_or("/", |i| &self.url[after_scheme + i..])
    }
}

impl std::fmt::Debug for SimulatedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedRequest")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A call in progress in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedCall {
    /// The call's sid.
    pub call_sid: CallSid,
    /// Caller.
    pub from: String,
    /// Number called.
    pub to: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    sequence: u64,
}

/// Produces signed webhook requests for simulated calls. See the [module docs](self).
#[derive(Debug)]
pub struct CallSimulator {
    fake: FakeTelephony,
    auth_token: Secret,
    urls: WebhookUrls,
    idempotency_counter: AtomicU64,
}

impl CallSimulator {
    /// A simulator for `fake`'s account, signing with `auth_token`, calling Callbook's webhook paths under
    /// `public_base_url`.
    pub fn new(fake: FakeTelephony, auth_token: impl Into<Secret>, public_base_url: &str) -> Self {
        Self::with_urls(fake, auth_token, WebhookUrls::callbook(public_base_url))
    }

    /// A simulator calling arbitrary webhook URLs.
    pub fn with_urls(fake: FakeTelephony, auth_token: impl Into<Secret>, urls: WebhookUrls) -> Self {
        Self {
            fake,
            auth_token: auth_token.into(),
            urls,
            idempotency_counter: AtomicU64::new(0),
        }
    }

    /// The fake holding the simulated calls and recordings.
    pub fn fake(&self) -> &FakeTelephony {
        &self.fake
    }

    /// The account the simulated calls belong to.
    pub fn account_sid(&self) -> AccountSid {
        self.fake.account_sid()
    }

    /// A new inbound call from `from` to `to` (registered in the fake, status `ringing`).
    pub fn place_call(&self, from: &str, to: &str) -> SimulatedCall {
        let call_sid = CallSid::new(self.fake.mint_sid("CA"));
        let started_at = Utc::now();
        self.fake.add_call(CallInfo {
            sid: call_sid.clone(),
            account_sid: self.fake.account_sid(),
            from: from.to_owned(),
            to: to.to_owned(),
            status: CallStatus::Ringing,
            direction: "inbound".to_owned(),
            started_at: Some(started_at),
            ended_at: None,
            duration_seconds: None,
            parent_call_sid: None,
        });
        SimulatedCall {
            call_sid,
            from: from.to_owned(),
            to: to.to_owned(),
            started_at,
            sequence: 0,
        }
    }

    /// The incoming-call request to the voice URL.
    pub fn incoming_call(&self, call: &SimulatedCall) -> SimulatedRequest {
        let params = self.call_params(call, "ringing");
        self.signed(WebhookKind::Voice, params)
    }

    /// The `<Record action>` request after the caller finished (`digits`: `#`, `hangup`, …).
    pub fn record_done(
        &self,
        call: &SimulatedCall,
        recording: &RecordingSid,
        duration: u32,
        digits: &str,
    ) -> SimulatedRequest {
        let mut params = self.call_params(call, "in-progress");
        params.push("RecordingSid", recording.as_str());
        params.push("RecordingUrl", self.recording_url(recording));
        params.push("RecordingDuration", duration.to_string());
        params.push("Digits", digits);
        self.signed(WebhookKind::RecordDone, params)
    }

    /// A recording status callback (`in-progress`, `completed`, `absent`).
    pub fn recording_status(
        &self,
        call: &SimulatedCall,
        recording: &RecordingSid,
        status: &str,
        duration: Option<u32>,
    ) -> SimulatedRequest {
        let mut params = FormParams::default();
        params.push("AccountSid", self.fake.account_sid().as_str());
        params.push("CallSid", call.call_sid.as_str());
        params.push("RecordingSid", recording.as_str());
        params.push("RecordingUrl", self.recording_url(recording));
        params.push("RecordingStatus", status);
        params.push(
            "RecordingDuration",
            duration.map(|d| d.to_string()).unwrap_or_else(|| "-1".to_owned()),
        );
        params.push("RecordingChannels", "1");
        params.push("RecordingSource", "RecordVerb");
        params.push("RecordingTrack", "both");
        params.push("RecordingStartTime", call.started_at.to_rfc2822());
        if status == "absent" {
            params.push("ErrorCode", "16101");
        }
        self.signed(WebhookKind::Recording, params)
    }

    /// A call status callback; advances the call's sequence number.
    pub fn call_status(
        &self,
        call: &mut SimulatedCall,
        status: CallStatus,
        duration: Option<u32>,
    ) -> SimulatedRequest {
        // Keep the fake's view of the call in step; the call is always known to the fake that minted it.
        let _ = self
            .fake
            .set_call_status(&call.call_sid, status.clone(), duration);
        let mut params = self.call_params(call, status.as_str());
        if let Some(d) = duration {
            params.push("CallDuration", d.to_string());
        }
        params.push("Timestamp", Utc::now().to_rfc2822());
        params.push("CallbackSource", "call-progress-events");
        params.push("SequenceNumber", call.sequence.to_string());
        call.sequence += 1;
        self.signed(WebhookKind::Status, params)
    }

    /// The whole voicemail call, in Twilio's order: incoming call → recording `in-progress` → `<Record
    /// action>` → recording `completed` (audio registered in the fake, downloadable from here on) → call
    /// `completed`. Returns the requests to send, in order.
    pub fn voicemail_lifecycle(
        &self,
        call: &SimulatedCall,
        audio: Bytes,
        duration_seconds: u32,
    ) -> Vec<SimulatedRequest> {
        let mut call = call.clone();
        let content_type = if audio.starts_with(b"ID3") || audio.starts_with(&[0xFF, 0xFB]) {
            "audio/mpeg"
        } else {
            "audio/x-wav"
        };
        let mut out = vec![self.incoming_call(&call)];
        let recording = self.fake.start_recording(&call.call_sid, 1, "RecordVerb");
        out.push(self.recording_status(&call, &recording, "in-progress", None));
        out.push(self.record_done(&call, &recording, duration_seconds, "hangup"));
        // The recording was started by the fake above, so completing it cannot fail.
        let _ = self
            .fake
            .complete_recording(&recording, content_type, audio, duration_seconds);
        out.push(self.recording_status(&call, &recording, "completed", Some(duration_seconds)));
        out.push(self.call_status(&mut call, CallStatus::Completed, Some(duration_seconds + 3)));
        out
    }

    /// The same request again, as Twilio sends it on a retry: same body, same signature, same idempotency token.
    pub fn retry_of(request: &SimulatedRequest) -> SimulatedRequest {
        request.clone()
    }

    fn recording_url(&self, recording: &RecordingSid) -> String {
        format!(
            "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{}",
            self.fake.account_sid(),
            recording
        )
    }

    fn call_params(&self, call: &SimulatedCall, status: &str) -> FormParams {
        let account = self.fake.account_sid();
        FormParams::from_pairs([
            ("AccountSid", account.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call.call_sid.as_str()),
            ("CallStatus", status),
            ("Called", call.to.as_str()),
            ("Caller", call.from.as_str()),
            ("Direction", "inbound"),
            ("From", call.from.as_str()),
            ("FromCountry", "US"),
            ("To", call.to.as_str()),
            ("ToCountry", "US"),
        ])
    }

    fn signed(&self, kind: WebhookKind, params: FormParams) -> SimulatedRequest {
        let url = self.urls.for_kind(kind).to_owned();
        let signature = compute_signature(
            self.auth_token.expose().as_bytes(),
            SignatureAlgorithm::HmacSha1,
            &url,
            &params,
        );
        let n = self.idempotency_counter.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}-{}-{n:08}", self.fake.account_sid(), rand::random::<u64>());
        SimulatedRequest {
            kind,
            method: "POST",
            url,
            headers: vec![
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                (SIGNATURE_HEADER.to_owned(), signature),
                (IDEMPOTENCY_TOKEN_HEADER.to_owned(), token),
                ("User-Agent".to_owned(), "TwilioProxy/1.1".to_owned()),
            ],
            body: params.encode(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CallStatusEvent, IncomingCall, RecordActionEvent, RecordingStatusEvent};
    use crate::signature::{WebhookRequest, WebhookVerifier};
    use crate::telephony::{AudioFormat, RecordingStatus, Telephony};

    #[tokio::test]
    async fn lifecycle_is_signed_parsable_and_serves_the_recording() {
        let fake = FakeTelephony::new();
        let sim = CallSimulator::new(fake.clone(), "tok", "https://hooks.example.com/");
        let call = sim.place_call("+14155551234", "+14155550100");
        let audio = Bytes::from_static(b"RIFF\x24\x00\x00\x00WAVEfmt ");
        let reqs = sim.voicemail_lifecycle(&call, audio.clone(), 12);
        let kinds: Vec<_> = reqs.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                WebhookKind::Voice,
                WebhookKind::Recording,
                WebhookKind::RecordDone,
                WebhookKind::Recording,
                WebhookKind::Status
            ]
        );
        let verifier = WebhookVerifier::new("tok");
        let wrong = WebhookVerifier::new("other");
        for r in &reqs {
            let req = WebhookRequest::form(&r.url, r.body.as_bytes()).with_signature(r.signature());
            assert_eq!(verifier.verify(&req), Ok(()), "{:?}", r.kind);
            assert!(wrong.verify(&req).is_err());
        }
        assert_eq!(reqs[0].path_and_query(), "/webhooks/twilio/voice");
        let incoming = IncomingCall::parse(reqs[0].body.as_bytes()).unwrap();
        assert_eq!(incoming.call.call_sid, call.call_sid);
        assert_eq!(incoming.call.from.as_deref(), Some("+14155551234"));
        let done = RecordActionEvent::parse(reqs[2].body.as_bytes()).unwrap();
        assert!(done.caller_hung_up());
        let completed = RecordingStatusEvent::parse(reqs[3].body.as_bytes()).unwrap();
        assert_eq!(completed.status, RecordingStatus::Completed);
        let status = CallStatusEvent::parse(reqs[4].body.as_bytes()).unwrap();
        assert_eq!(status.sequence_number, Some(0));

        let media = fake
            .download_recording(&completed.recording_sid, AudioFormat::Wav)
            .await
            .unwrap();
        assert_eq!(media.bytes, audio);
        assert_eq!(
            fake.fetch_call(&call.call_sid).await.unwrap().status,
            CallStatus::Completed
        );

        let tokens: std::collections::HashSet<_> = reqs
            .iter()
            .map(|r| r.header(IDEMPOTENCY_TOKEN_HEADER).unwrap().to_owned())
            .collect();
        assert_eq!(
            tokens.len(),
            reqs.len(),
            "each distinct request has its own idempotency token"
        );
        assert_eq!(
            CallSimulator::retry_of(&reqs[3]).header(IDEMPOTENCY_TOKEN_HEADER),
            reqs[3].header(IDEMPOTENCY_TOKEN_HEADER)
        );
    }

    #[test]
    fn in_progress_recording_is_not_downloadable_yet() {
        let fake = FakeTelephony::new();
        let sim = CallSimulator::new(fake.clone(), "tok", "https://h");
        let call = sim.place_call("+14155551234", "+14155550100");
        let rec = fake.start_recording(&call.call_sid, 1, "RecordVerb");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let err = rt
            .block_on(fake.download_recording(&rec, AudioFormat::Wav))
            .unwrap_err();
        assert!(matches!(err, crate::Error::NotFound { .. }));
    }
}
