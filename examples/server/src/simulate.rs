//! `callbook simulate-call`: plays Twilio's part of one voicemail call against a running server.
//!
//! The requests are the ones Twilio sends (form bodies signed with `X-Twilio-Signature` over the server's
//! public URL, built by [`CallSimulator`]): the voice webhook, the `<Record action>`, the recording callback
//! and the call's `completed` status. Between them the audio (and, for the demo transcriber, its transcript)
//! is uploaded to the server's simulator endpoints ([`crate::simulator`]), because a server without a Twilio
//! account downloads recordings from its own in-process fake.
//!
//! `--transcript F` alone synthesises a short WAV unique to the transcript (a tone whose pitch and length
//! derive from the transcript's SHA-256, with the hash's bits in the lowest sample bits) and uploads the
//! transcript for it; `--audio F --transcript F` uploads real audio with its transcript; `--audio F` alone
//! leaves the transcription to the server's transcriber.
//!
//! Exit codes: 0 played (and, with `--wait`, processed), 1 the server refused or did not finish in time,
//! 2 bad arguments or unreadable files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use callbook_jobs::{CallState, Job};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::simulator::{CallSimulator, SimulatedRequest};
use callbook_telephony::telephony::{CallSid, CallStatus};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long `--wait` waits for the call to be processed.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// `callbook simulate-call` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The caller's recording (WAV, MP3 …).
    #[arg(long, value_name = "FILE", required_unless_present = "transcript")]
    pub audio: Option<PathBuf>,
    /// What the caller says (plain text; `Agent:` / `Caller:` labelled lines keep their turns). Without
    /// `--audio` a short tone stands in for the audio; the server must use the demo transcriber.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// The caller's number (E.164).
    #[arg(long, default_value = "+14155550123")]
    pub from: String,
    /// The business number called (E.164); an unknown number becomes a phone line of the bootstrap tenant.
    #[arg(long, default_value = "+14155550100")]
    pub to: String,
    /// The server's public URL, exactly as its CALLBOOK_PUBLIC_URL (signatures cover it)
    /// [default: $CALLBOOK_PUBLIC_URL, else http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The server's data directory, for simulator.token and admin.token [default: $CALLBOOK_DATA_DIR, else
    /// ./callbook-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The token webhooks are signed with [default: $TWILIO_AUTH_TOKEN, else DATA_DIR/simulator.token].
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    /// Wait (up to 60 s) until the server has processed the call and print the outcome and booked jobs.
    #[arg(long)]
    pub wait: bool,
}

/// The server refused a request or did not finish in time: exit code 1. The message says what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A server to play calls against.
#[derive(Clone)]
pub struct Target {
    base: String,
    send_base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The server at `base` (its public URL), signing webhooks and authenticating uploads with `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            send_base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Sends the requests to `base` instead of the public URL they are signed for (the demo talks to its
    /// own listener directly).
    pub fn sending_to(mut self, base: &str) -> Self {
        self.send_base = base.trim_end_matches('/').to_owned();
        self
    }

    /// The public URL the webhooks are signed for.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// One call to play.
#[derive(Clone, Default)]
pub struct CallSpec {
    /// Caller (E.164).
    pub from: String,
    /// Number called (E.164).
    pub to: String,
    /// The audio; `None` synthesises a tone from the transcript.
    pub audio: Option<Bytes>,
    /// The transcript for the demo transcriber.
    pub transcript: Option<String>,
}

impl std::fmt::Debug for CallSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSpec")
            .field("audio_bytes", &self.audio.as_ref().map(Bytes::len))
            .field("has_transcript", &self.transcript.is_some())
            .finish_non_exhaustive()
    }
}

/// A call the server accepted.
#[derive(Debug, Clone)]
pub struct Played {
    /// The `CallSid` it was played with.
    pub call_sid: String,
    /// The recording sid the server registered.
    pub recording_sid: String,
    /// The verbs of the server's TwiML answer, e.g. `["Say", "Say", "Record"]`.
    pub answer_verbs: Vec<String>,
}

/// A job booked from a call.
#[derive(Debug, Clone)]
pub struct BookedJob {
    /// Title.
    pub title: String,
    /// Pipeline stage (`quote_requested` …).
    pub stage: String,
    /// When, in the schedule's zone (`2026-11-25 14:00 America/New_York`), if scheduled.
    pub when: Option<String>,
    /// The customer's name, if linked.
    pub customer: Option<String>,
}

/// What the server made of a call.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The call's id in the API.
    pub call_id: String,
    /// The final processing state (`done`, `no_appointment`, `needs_review`, `dead`).
    pub state: String,
    /// Jobs booked from it.
    pub jobs: Vec<BookedJob>,
}

/// A short mono 8 kHz WAV unique to `transcript`: a tone whose pitch (300–1199 Hz) and length (2–5 s) come
/// from the transcript's SHA-256, with the hash's 256 bits in the lowest bit of the first 256 samples.
pub fn tone_for(transcript: &str) -> (Bytes, u32) {
    let hash = Sha256::digest(transcript.as_bytes());
    let freq = 300.0 + f64::from(u16::from_be_bytes([hash[0], hash[1]]) % 900);
    let seconds = 2 + u32::from(hash[2] % 4);
    let rate = 8000u32;
    let pcm = (0..rate * seconds)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            #[allow(clippy::cast_possible_truncation)]
            let mut s = ((t * freq * std::f64::consts::TAU).sin() * 8000.0) as i16;
            if i < 256 {
                let bit = (hash[(i / 8) as usize] >> (i % 8)) & 1;
                s = (s & !1) | i16::from(bit);
            }
            // Exact: encode_wav_pcm16 scales by 32767 and rounds back to `s`.
            f32::from(s) / 32767.0
        })
        .collect();
    let audio = callbook_transcribe::audio::encode_wav_pcm16(&[pcm], rate)
        .unwrap_or_else(|_| unreachable!("one non-empty channel at 8 kHz always encodes"));
    (audio, seconds)
}

/// The length of the audio in whole seconds (at least 1), or 30 when its headers do not tell.
fn audio_seconds(audio: &[u8]) -> u32 {
    callbook_transcribe::AudioInput::from_bytes(Bytes::copy_from_slice(audio))
        .ok()
        .and_then(|a| a.duration_seconds())
        .map_or(30, |s| (s as u32).max(1))
}

fn content_type_of(audio: &[u8]) -> &'static str {
    if audio.starts_with(b"ID3") || audio.starts_with(&[0xFF, 0xFB]) {
        "audio/mpeg"
    } else if audio.starts_with(b"OggS") {
        "audio/ogg"
    } else {
        "audio/wav"
    }
}

fn random_call_sid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("CA{hex}")
}

/// The verbs of a TwiML document, in order (`Say`, `Record`, `Dial` …).
fn twiml_verbs(xml: &str) -> Vec<String> {
    let inner = xml.split_once("<Response>").map_or("", |(_, rest)| rest);
    let mut verbs = Vec::new();
    let mut depth = 0usize;
    let mut rest = inner;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if let Some(_closing) = tag.strip_prefix('/') {
            depth = depth.saturating_sub(1);
        } else if !tag.starts_with('?') && !tag.starts_with('!') {
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            if depth == 0 && !name.is_empty() && name != "Response" {
                verbs.push(name);
            }
            if !tag.ends_with('/') {
                depth += 1;
            }
        }
        rest = &rest[end.min(rest.len())..];
    }
    verbs
}

impl Target {
    async fn send(&self, request: &SimulatedRequest) -> Result<reqwest::Response, Refused> {
        let mut builder = self
            .http
            .post(format!("{}{}", self.send_base, request.path_and_query()))
            .body(request.body.clone());
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let response = builder.send().await.map_err(|e| self.unreachable(&e))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            403 => Err(Refused(format!(
                "the server rejected the signature of the {:?} webhook: is --server the server's \
                 CALLBOOK_PUBLIC_URL ({}), and --auth-token (or DATA_DIR/simulator.token) the token it verifies with?",
                request.kind, self.base
            ))),
            code => Err(Refused(format!(
                "the server answered {code} to the {:?} webhook: {}",
                request.kind,
                response.text().await.unwrap_or_default()
            ))),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Refused {
        Refused(format!("cannot reach the server at {}: {e}", self.base))
    }

    async fn upload(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, Refused> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 => Err(Refused(format!(
                "the server refused the {what} upload (401): --auth-token (or DATA_DIR/simulator.token) is not \
                 the token of the server at {}",
                self.base
            ))),
            404 => Err(Refused(format!(
                "the server has no simulator endpoint for the {what} (404): it must run without a Twilio \
                 account{}",
                if what == "transcript" {
                    " and with the demo transcriber (CALLBOOK_TRANSCRIBER=demo)"
                } else {
                    ""
                }
            ))),
            code => Err(Refused(format!(
                "the server answered {code} to the {what} upload: {}",
                response.text().await.unwrap_or_default()
            ))),
        }
    }

    /// Plays one voicemail call: voice webhook, uploads, `<Record action>`, recording callback, `completed`.
    pub async fn play(&self, spec: &CallSpec) -> Result<Played, Refused> {
        let (audio, seconds) = match (&spec.audio, &spec.transcript) {
            (Some(audio), _) => (audio.clone(), audio_seconds(audio)),
            (None, Some(text)) => tone_for(text),
            (None, None) => return Err(Refused("nothing to play: give audio or a transcript".into())),
        };
        let sim = CallSimulator::new(FakeTelephony::new(), self.token.as_str(), &self.base);
        let mut call = sim.place_call(&spec.from, &spec.to);
        // The local fake numbers calls from 1 in every process: a random sid keeps runs apart.
        call.call_sid = CallSid::new(random_call_sid());

        let answer = self.send(&sim.incoming_call(&call)).await?;
        let answer_verbs = twiml_verbs(&answer.text().await.unwrap_or_default());
        if !answer_verbs.iter().any(|v| v == "Record" || v == "Dial") {
            return Err(Refused(format!(
                "the server answered the call without recording it (TwiML verbs: {})",
                answer_verbs.join(", ")
            )));
        }

        if let Some(text) = &spec.transcript {
            let hash = callbook_transcribe::audio::sha256_hex(&audio);
            let request = self
                .http
                .put(format!("{}/simulator/transcripts/{hash}", self.send_base))
                .header("content-type", "text/plain; charset=utf-8")
                .body(text.clone());
            self.upload(request, "transcript").await?;
        }
        let request = self
            .http
            .post(format!("{}/simulator/recordings", self.send_base))
            .query(&[
                ("call_sid", call.call_sid.as_str()),
                ("duration", &seconds.to_string()),
            ])
            .header("content-type", content_type_of(&audio))
            .body(audio.clone());
        let uploaded: Value = self
            .upload(request, "recording")
            .await?
            .json()
            .await
            .map_err(|e| Refused(format!("the recording upload's answer is not JSON: {e}")))?;
        let recording_sid = uploaded["recording_sid"]
            .as_str()
            .ok_or_else(|| Refused("the recording upload's answer has no recording_sid".into()))?
            .to_owned();
        let recording = callbook_telephony::telephony::RecordingSid::new(&recording_sid);

        self.send(&sim.record_done(&call, &recording, seconds, "hangup"))
            .await?;
        self.send(&sim.recording_status(&call, &recording, "completed", Some(seconds)))
            .await?;
        self.send(&sim.call_status(&mut call, CallStatus::Completed, Some(seconds + 8)))
            .await?;
        Ok(Played {
            call_sid: call.call_sid.as_str().to_owned(),
            recording_sid,
            answer_verbs,
        })
    }
}

/// Reads the API with the admin token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    admin_token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// The API of the server at `base`, with `admin_token`.
    pub fn new(base: &str, admin_token: &str) -> Self {
        Self {
            base: format!("{}/api/v1", base.trim_end_matches('/')),
            admin_token: admin_token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn get(&self, path: &str) -> Result<Value, Refused> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .map_err(|e| Refused(format!("cannot reach the API at {}: {e}", self.base)))?;
        match response.status().as_u16() {
            200 => response
                .json()
                .await
                .map_err(|e| Refused(format!("the API's answer to {path} is not JSON: {e}"))),
            401 => Err(Refused(
                "the API refused the admin token (401): is --data-dir the server's CALLBOOK_DATA_DIR?".into(),
            )),
            code => Err(Refused(format!("the API answered {code} to {path}"))),
        }
    }

    /// Waits until the call played with `call_sid` is final, then reads its jobs.
    pub async fn wait_for(&self, call_sid: &str, timeout: Duration) -> Result<Outcome, Refused> {
        let started = Instant::now();
        let mut call_id: Option<String> = None;
        loop {
            if call_id.is_none() {
                let list = self.get("/calls?limit=200").await?;
                call_id = list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["provider_call_id"] == call_sid)
                    .and_then(|c| c["id"].as_str())
                    .map(str::to_owned);
            }
            if let Some(id) = &call_id {
                let detail = self.get(&format!("/calls/{id}")).await?;
                let state = detail["state"].as_str().unwrap_or_default().to_owned();
                if state.parse::<CallState>().is_ok_and(|s| s.is_final()) {
                    let jobs = self.jobs_of(id).await?;
                    return Ok(Outcome {
                        call_id: id.clone(),
                        state,
                        jobs,
                    });
                }
            }
            if started.elapsed() > timeout {
                return Err(Refused(format!(
                    "the call was not processed within {} s ({}): is the server's worker running?",
                    timeout.as_secs(),
                    if call_id.is_some() {
                        "still in progress"
                    } else {
                        "not listed by the API"
                    }
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn jobs_of(&self, call_id: &str) -> Result<Vec<BookedJob>, Refused> {
        let list = self.get("/jobs?limit=500").await?;
        let mut out = Vec::new();
        for item in list["items"].as_array().into_iter().flatten() {
            let Ok(job) = serde_json::from_value::<Job>(item.clone()) else {
                continue;
            };
            if job.source.is_none_or(|s| s.call_id.to_string() != call_id) {
                continue;
            }
            let customer = match job.customer_id {
                Some(id) => self.get(&format!("/customers/{id}")).await?["customer"]["name"]
                    .as_str()
                    .map(str::to_owned),
                None => None,
            };
            let when = job.schedule.as_ref().map(|s| {
                format!(
                    "{} {}",
                    s.start
                        .with_timezone(&s.timezone.tz())
                        .format("%a %Y-%m-%d %H:%M"),
                    s.timezone.name()
                )
            });
            out.push(BookedJob {
                title: job.title,
                stage: serde_json::to_value(job.stage)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                when,
                customer,
            });
        }
        Ok(out)
    }
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (is --data-dir the server's data directory?)",
            path.display()
        )
    })?;
    Ok(token.trim().to_owned())
}

/// `callbook simulate-call`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let transcript = match &args.transcript {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--transcript: cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let audio = match &args.audio {
        Some(path) => {
            Some(Bytes::from(std::fs::read(path).with_context(|| {
                format!("--audio: cannot read {}", path.display())
            })?))
        }
        None => None,
    };
    for (flag, number) in [("--from", &args.from), ("--to", &args.to)] {
        callbook_jobs::PhoneNumber::parse(number)
            .map_err(|_| anyhow::anyhow!("{flag}: {number:?} is not an E.164 number like +14155550123"))?;
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let server = args
        .server
        .clone()
        .or_else(|| env("CALLBOOK_PUBLIC_URL"))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| env("CALLBOOK_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./callbook-data"));
    let token = match args.auth_token.clone().or_else(|| env("TWILIO_AUTH_TOKEN")) {
        Some(token) => token,
        None => read_token(&data_dir.join("simulator.token"))?,
    };
    let target = Target::new(&server, &token);
    let spec = CallSpec {
        from: args.from.clone(),
        to: args.to.clone(),
        audio,
        transcript,
    };
    let played = match target.play(&spec).await {
        Ok(played) => played,
        Err(Refused(message)) => {
            eprintln!("callbook: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("call        {}", played.call_sid);
    println!("answered    {}", played.answer_verbs.join(", "));
    println!("recording   {}", played.recording_sid);
    if !args.wait {
        println!("status      sent; the server processes the call in the background");
        return Ok(ExitCode::SUCCESS);
    }
    let admin = match env("CALLBOOK_ADMIN_TOKEN") {
        Some(token) => token,
        None => read_token(&data_dir.join("admin.token"))?,
    };
    let api = ApiClient::new(&server, &admin);
    match api.wait_for(&played.call_sid, WAIT_TIMEOUT).await {
        Ok(outcome) => {
            println!("outcome     {}", outcome.state);
            for job in &outcome.jobs {
                println!(
                    "job         {} | {} | {} | {}",
                    job.title,
                    job.when.as_deref().unwrap_or("unscheduled"),
                    job.customer.as_deref().unwrap_or("no customer"),
                    job.stage
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Refused(message)) => {
            eprintln!("callbook: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_differ_per_transcript_and_are_wavs() {
        let (a, sa) = tone_for("Caller: my sink leaks");
        let (b, _) = tone_for("Caller: my sink leaks!");
        assert_ne!(a, b);
        assert_eq!(tone_for("Caller: my sink leaks").0, a);
        assert!(a.starts_with(b"RIFF"));
        assert_eq!(audio_seconds(&a), sa);
        assert!((2..=5).contains(&sa));
    }

    #[test]
    fn twiml_verbs_are_top_level_only() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="x">Hi</Say><Say>Rec</Say><Record action="/a" maxLength="300"/><Say>Bye</Say></Response>"#;
        assert_eq!(twiml_verbs(xml), ["Say", "Say", "Record", "Say"]);
        assert_eq!(
            twiml_verbs("<Response><Dial record=\"x\"><Number>+1</Number></Dial></Response>"),
            ["Dial"]
        );
    }

    #[test]
    fn random_sids_look_like_twilio_sids() {
        let a = random_call_sid();
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("CA"));
        assert_ne!(a, random_call_sid());
    }
}
