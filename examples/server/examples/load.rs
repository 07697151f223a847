//! The load generator and the ceiling server of the webhook benchmark (`examples/server/bench/run.sh`,
//! figures in `examples/server/BENCHMARKS.md`). Not part of the server: run it by hand or from `run.sh`.
//!
//! ```text
//! cargo run --release -p callbook-server --example load -- ceiling --listen 127.0.0.1:18081
//! cargo run --release -p callbook-server --example load -- max  --base http://127.0.0.1:18080 --token T --conns 64 --secs 10
//! cargo run --release -p callbook-server --example load -- rate --base http://127.0.0.1:18080 --token T --rate 5000 --secs 10
//! cargo run --release -p callbook-server --example load -- sse  --base http://127.0.0.1:18080 --token T --admin A --clients 1000
//! ```
//!
//! Every request is a Twilio voice webhook (`POST /webhooks/twilio/voice`, form body, `X-Twilio-Signature`
//! over `--base` + path with the auth token `--token`, as `callbook_telephony::signature` computes it) with
//! its own `CallSid`, signed just before it is sent (the signing is not timed). `max` is closed-loop (each of
//! `--conns` keep-alive connections sends its next request when the previous one is answered); `rate` is
//! open-loop at a constant offered rate, latency counted from the request's *scheduled* time, so a stalled
//! server is not hidden (no coordinated omission). Each run prints one JSON line on stdout.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use callbook_telephony::fake::FAKE_ACCOUNT_SID;
use callbook_telephony::form::FormParams;
use callbook_telephony::signature::{SIGNATURE_HEADER, SignatureAlgorithm, compute_signature};
use clap::{Parser, Subcommand};
use futures_util::StreamExt as _;
use serde_json::json;

/// The TwiML the ceiling server answers: the same shape as the server's voicemail greeting.
const FIXED_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna" language="en-US">Thanks for calling Rivera and Sons Plumbing. This call is recorded. An automated assistant transcribes your message so we can book your visit. After the beep, please tell us your name, your address, what you need and when.</Say><Record maxLength="300" playBeep="true" recordingStatusCallback="http://127.0.0.1/webhooks/twilio/recording" recordingStatusCallbackEvent="completed absent" /><Say>Thank you. We will get back to you shortly. Goodbye.</Say></Response>"#;

const VOICE_PATH: &str = "/webhooks/twilio/voice";
const CALLER: &str = "+19145552177";
const LINE: &str = "+14155550100";

#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Webhook load generator and fixed-TwiML ceiling server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Target {
    /// Base URL of the target; also the public URL the signatures are computed over.
    #[arg(long)]
    base: String,
    /// Twilio auth token the target verifies with.
    #[arg(long)]
    token: String,
    /// Label printed in the JSON line.
    #[arg(long, default_value = "target")]
    label: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// An axum server answering `POST /webhooks/twilio/voice` with fixed TwiML (no verification, no database).
    Ceiling {
        /// Address to listen on.
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
    /// Closed loop: `--conns` connections as fast as the target answers, for `--secs`.
    Max {
        #[command(flatten)]
        target: Target,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        conns: usize,
        /// Duration in seconds.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Open loop: a constant offered rate for `--secs`.
    Rate {
        #[command(flatten)]
        target: Target,
        /// Offered requests per second.
        #[arg(long, default_value_t = 5000)]
        rate: u64,
        /// Duration in seconds.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Requests in progress at most (connections); later ones wait, their wait counted as latency.
        #[arg(long, default_value_t = 1000)]
        max_inflight: usize,
    },
    /// Live events: `--clients` SSE streams on `/api/v1/events`, then `--events` voice webhooks one after the
    /// other; per client and event, the delay from sending the webhook to receiving its `call.received`.
    Sse {
        #[command(flatten)]
        target: Target,
        /// The admin token (`DATA_DIR/admin.token`).
        #[arg(long)]
        admin: String,
        /// Connected SSE clients.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Events triggered (one at a time).
        #[arg(long, default_value_t = 5)]
        events: usize,
    },
}

/// Signs voice webhooks with unique `CallSid`s.
struct Signer {
    url: String,
    token: String,
    run: u32,
    next: AtomicU64,
}

impl Signer {
    fn new(target: &Target) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        Self {
            url: format!("{}{VOICE_PATH}", target.base.trim_end_matches('/')),
            token: target.token.clone(),
            run: nanos ^ std::process::id(),
            next: AtomicU64::new(0),
        }
    }

    /// A signed request: (signature, body).
    fn next(&self) -> (String, String) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let call_sid = format!("CA{:08x}{n:024x}", self.run);
        let params = FormParams::from_pairs([
            ("AccountSid", FAKE_ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call_sid.as_str()),
            ("CallStatus", "ringing"),
            ("Called", LINE),
            ("Caller", CALLER),
            ("Direction", "inbound"),
            ("From", CALLER),
            ("FromCountry", "US"),
            ("To", LINE),
            ("ToCountry", "US"),
        ]);
        let signature = compute_signature(
            self.token.as_bytes(),
            SignatureAlgorithm::HmacSha1,
            &self.url,
            &params,
        );
        (signature, params.encode())
    }

    async fn send(&self, http: &reqwest::Client) -> Result<u16, reqwest::Error> {
        let (signature, body) = self.next();
        self.send_signed(http, signature, body).await
    }

    async fn send_signed(
        &self,
        http: &reqwest::Client,
        signature: String,
        body: String,
    ) -> Result<u16, reqwest::Error> {
        let response = http
            .post(&self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        // Read the whole answer: the request is done when the TwiML is in.
        response.bytes().await?;
        Ok(status)
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    ok: u64,
    non_2xx: u64,
    errors: u64,
}

impl Tally {
    fn record(&mut self, outcome: Result<u16, reqwest::Error>, latency: Duration) {
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                self.ok += 1;
                self.latencies_us.push(latency.as_micros() as u64);
            }
            Ok(_) => self.non_2xx += 1,
            Err(_) => self.errors += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
    }
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

fn report(mode: &str, label: &str, extra: serde_json::Value, mut tally: Tally, elapsed: Duration) {
    tally.latencies_us.sort_unstable();
    let l = &tally.latencies_us;
    let mut line = json!({
        "mode": mode,
        "label": label,
        "ok": tally.ok,
        "non_2xx": tally.non_2xx,
        "errors": tally.errors,
        "secs": elapsed.as_secs_f64(),
        "rps": tally.ok as f64 / elapsed.as_secs_f64(),
        "p50_ms": percentile_ms(l, 50.0),
        "p90_ms": percentile_ms(l, 90.0),
        "p99_ms": percentile_ms(l, 99.0),
        "max_ms": percentile_ms(l, 100.0),
    });
    if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
        line.extend(extra.clone());
    }
    println!("{line}");
}

fn client(pool: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

async fn ceiling(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        VOICE_PATH,
        post(|| async { ([("content-type", "text/xml; charset=utf-8")], FIXED_TWIML) }),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!("ceiling: ready on http://{listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(callbook_server::serve::shutdown_signal())
        .await
        .context("serving")
}

async fn max(target: Target, conns: usize, secs: f64) -> anyhow::Result<()> {
    let http = client(conns)?;
    let signer = Arc::new(Signer::new(&target));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let http = http.clone();
        let signer = signer.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let (signature, body) = signer.next();
                let sent = Instant::now();
                let outcome = signer.send_signed(&http, signature, body).await;
                tally.record(outcome, sent.elapsed());
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.context("load task")?);
    }
    let elapsed = started.elapsed();
    report("max", &target.label, json!({ "conns": conns }), tally, elapsed);
    Ok(())
}

async fn run_rate(target: Target, rate: u64, secs: f64, max_inflight: usize) -> anyhow::Result<()> {
    let http = client(max_inflight)?;
    let permits = Arc::new(tokio::sync::Semaphore::new(max_inflight));
    let signer = Arc::new(Signer::new(&target));
    let total = (rate as f64 * secs) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Result<u16, reqwest::Error>, Duration)>();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut dispatched = 0u64;
    while dispatched < total {
        ticker.tick().await;
        // Everything whose scheduled time has come goes out now, stamped with its scheduled time.
        let due = ((started.elapsed().as_secs_f64() / interval.as_secs_f64()) as u64 + 1).min(total);
        while dispatched < due {
            let scheduled = started + interval.mul_f64(dispatched as f64);
            let (http, signer, tx) = (http.clone(), signer.clone(), tx.clone());
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let outcome = signer.send(&http).await;
                let _ = tx.send((outcome, scheduled.elapsed()));
            });
            dispatched += 1;
        }
    }
    drop(tx);
    let mut tally = Tally::default();
    while let Some((outcome, latency)) = rx.recv().await {
        tally.record(outcome, latency);
    }
    let elapsed = started.elapsed();
    report(
        "rate",
        &target.label,
        json!({ "offered_rps": rate, "dispatched": dispatched, "max_inflight": max_inflight }),
        tally,
        elapsed,
    );
    Ok(())
}

async fn sse(target: Target, admin: String, clients: usize, events: usize) -> anyhow::Result<()> {
    let events_url = format!("{}/api/v1/events", target.base.trim_end_matches('/'));
    // One connection per SSE client.
    let streams = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .context("building the SSE client")?;
    let (connected_tx, mut connected_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let mut tasks = Vec::with_capacity(clients);
    for client_no in 0..clients {
        let (streams, url, admin) = (streams.clone(), events_url.clone(), admin.clone());
        let (connected_tx, got_tx) = (connected_tx.clone(), got_tx.clone());
        tasks.push(tokio::spawn(async move {
            let response = streams
                .get(&url)
                .bearer_auth(&admin)
                .header("accept", "text/event-stream")
                .send()
                .await;
            let response = match response {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => {
                    eprintln!("sse client {client_no}: HTTP {}", r.status());
                    let _ = connected_tx.send(false);
                    return;
                }
                Err(e) => {
                    eprintln!("sse client {client_no}: {e}");
                    let _ = connected_tx.send(false);
                    return;
                }
            };
            let _ = connected_tx.send(true);
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                let now = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if block
                        .lines()
                        .any(|l| l.starts_with("event:") && l.contains("call.received"))
                    {
                        let _ = got_tx.send((client_no, now));
                    }
                }
            }
        }));
    }
    drop(connected_tx);
    let mut connected = 0usize;
    let mut failed = 0usize;
    while connected + failed < clients {
        match tokio::time::timeout(Duration::from_secs(30), connected_rx.recv()).await {
            Ok(Some(true)) => connected += 1,
            Ok(Some(false)) => failed += 1,
            _ => break,
        }
    }
    eprintln!("sse: {connected} clients connected, {failed} failed");
    let http = client(4)?;
    let signer = Signer::new(&target);
    let mut latencies_us = Vec::new();
    let mut received_all = Vec::new();
    for _ in 0..events {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Nothing from before this event counts.
        while got_rx.try_recv().is_ok() {}
        let sent = Instant::now();
        let status = signer.send(&http).await.context("sending the trigger webhook")?;
        anyhow::ensure!((200..300).contains(&status), "trigger webhook answered {status}");
        let mut seen = vec![false; clients];
        let mut received = 0usize;
        let window = sent + Duration::from_secs(5);
        while received < connected {
            let left = window.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, got_rx.recv()).await {
                Ok(Some((client_no, at))) if !seen[client_no] => {
                    seen[client_no] = true;
                    received += 1;
                    latencies_us.push(at.duration_since(sent).as_micros() as u64);
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        received_all.push(received);
    }
    for task in &tasks {
        task.abort();
    }
    latencies_us.sort_unstable();
    let l = &latencies_us;
    let within_1s = l.iter().filter(|&&us| us <= 1_000_000).count();
    println!(
        "{}",
        json!({
            "mode": "sse",
            "label": target.label,
            "clients": clients,
            "connected": connected,
            "events": events,
            "received_per_event": received_all,
            "deliveries": l.len(),
            "expected_deliveries": connected * events,
            "within_1s": within_1s,
            "p50_ms": percentile_ms(l, 50.0),
            "p99_ms": percentile_ms(l, 99.0),
            "max_ms": percentile_ms(l, 100.0),
        })
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ceiling { listen } => ceiling(listen).await,
        Command::Max { target, conns, secs } => max(target, conns, secs).await,
        Command::Rate {
            target,
            rate,
            secs,
            max_inflight,
        } => run_rate(target, rate, secs, max_inflight).await,
        Command::Sse {
            target,
            admin,
            clients,
            events,
        } => sse(target, admin, clients, events).await,
    }
}
