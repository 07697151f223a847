//! `callbook demo`: starts the server from the environment (embedded defaults, `CALLBOOK_DATA_DIR` default
//! `./callbook-data`, the same directory `callbook serve` uses, so the demo's jobs are still there after it)
//! and plays a handful of realistic voicemails through it, exactly as `callbook simulate-call` does: over the
//! socket, with signed webhooks, the audio and transcript uploads, and the recording callback. It prints a
//! line per call as the worker finishes it, then keeps serving until Ctrl-C / SIGTERM (`--exit`: returns once
//! the calls are processed).
//!
//! The demo always uses the fake telephony and the demo transcriber (each call's audio is a tone standing in
//! for the voice; its transcript is the sidecar); the extractor is the configured one (`rules` by default).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::app;
use crate::config::{Config, TranscriberKind};
use crate::ops::Metrics;
use crate::serve;
use crate::simulate::{ApiClient, CallSpec, Target};

/// One embedded call.
#[derive(Debug, Clone, Copy)]
pub struct DemoCall {
    /// Short label for the table.
    pub label: &'static str,
    /// The caller's number (fictional 555-01xx range).
    pub from: &'static str,
    /// What the caller says.
    pub transcript: &'static str,
}

/// The business number the demo calls go to.
pub const DEMO_LINE: &str = "+14155550100";

/// The embedded calls, in the order they are played. They are voicemails (the server answers with a
/// greeting and `<Record>`), so they are the caller's words only. With the `rules` extractor the first three
/// book one job each (the extractor books at most one appointment per call) and the last two end
/// `no_appointment`; `tests/demo.rs` checks that.
pub const CALLS: [DemoCall; 5] = [
    DemoCall {
        label: "plumbing booking",
        from: "+19145550177",
        transcript: "Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
            Could you come tomorrow between 3 and 5? I'm at 42 Oak Street, Apt 3B, Yonkers.\n\
            My number is 914-555-0177. Thanks.",
    },
    DemoCall {
        label: "HVAC emergency",
        from: "+17185550142",
        transcript: "Hello, this is David Chen at 17 Birch Lane, Scarsdale. Our furnace stopped and we have \
            no heat at all, and there's a baby at home.\n\
            This is an emergency, please send someone tonight at 7 pm if you can.\n\
            Call me back at 718-555-0142.",
    },
    DemoCall {
        label: "electrician",
        from: "+12125550163",
        transcript: "Hi, it's Priya Shah, 9 Elm Court, White Plains.\n\
            The breaker panel in the garage keeps tripping and half the outlets are dead.\n\
            Could an electrician come Monday at 9 am? You can reach me at 212-555-0163.",
    },
    DemoCall {
        label: "price shopping",
        from: "+16465550188",
        transcript: "Hi, I'm just calling around to compare prices. How much do you charge to replace a water \
            heater? I'm not ready to book anything yet, just want a rough quote. Thanks.",
    },
    DemoCall {
        label: "wrong number",
        from: "+13475550119",
        transcript: "Oh, sorry, I think I dialed the wrong number. I was trying to reach my sister. Bye.",
    },
];

/// `callbook demo` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many of the embedded calls to play (1–5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub calls: u8,
    /// Return once the calls are processed instead of serving on.
    #[arg(long)]
    pub exit: bool,
}

/// `text` cut to `max` characters, with `…` when cut.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// `callbook demo`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RUST_LOG").is_some() {
        serve::init_logging();
    }
    let mut config = Config::from_env()?;
    if config.twilio.uses_rest() {
        anyhow::bail!(
            "callbook demo plays calls into the fake telephony: unset TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN \
             (or use `callbook simulate-call` against a server)"
        );
    }
    config.transcriber = TranscriberKind::Demo;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("CALLBOOK_LISTEN: cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("listener address")?;
    let local_base = format!("http://{local}");
    if std::env::var("CALLBOOK_PUBLIC_URL").map_or(true, |v| v.trim().is_empty()) {
        config.public_url = local_base.clone();
    }
    let built = app::build(&config, Metrics::local()).await?;
    for line in &built.report {
        eprintln!("callbook: {line}");
    }
    // the dashboard's first owner only when the demo keeps serving (`--exit` leaves the accounts alone)
    let dashboard = if args.exit {
        None
    } else {
        Some(
            crate::cli_accounts::first_owner(&config, built.state.store.as_ref(), &built.state.tenant)
                .await?,
        )
    };
    let token = built.state.webhook_token.expose().to_owned();
    let (admin, _) = app::admin_token(&config)?;
    let bearer = if config.admin_token.is_some() {
        "$CALLBOOK_ADMIN_TOKEN".to_owned()
    } else {
        format!("$(cat {})", config.data_dir.join("admin.token").display())
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve_on(listener, built, async {
        let _ = stop_rx.await;
    }));

    // Webhooks are signed for the public URL but sent to this process directly.
    let target = Target::new(&config.public_url, &token).sending_to(&local_base);
    let api = ApiClient::new(&local_base, admin.expose());
    let calls = &CALLS[..usize::from(args.calls)];
    let mut played = Vec::new();
    let mut failed = false;
    for call in calls {
        let spec = CallSpec {
            from: call.from.to_owned(),
            to: DEMO_LINE.to_owned(),
            audio: None,
            transcript: Some(call.transcript.to_owned()),
        };
        match target.play(&spec).await {
            Ok(p) => played.push((call, p)),
            Err(e) => {
                eprintln!("callbook: demo call {:?} was refused: {e}", call.label);
                failed = true;
            }
        }
    }
    println!(
        "{:<24} {:<16} {:<40} {:<38} customer",
        "call", "outcome", "job", "when"
    );
    for (call, p) in &played {
        match api.wait_for(&p.call_sid, Duration::from_secs(60)).await {
            Ok(outcome) if outcome.jobs.is_empty() => {
                println!(
                    "{:<24} {:<16} {:<40} {:<38} -",
                    call.label, outcome.state, "-", "-"
                );
            }
            Ok(outcome) => {
                for job in &outcome.jobs {
                    println!(
                        "{:<24} {:<16} {:<40} {:<38} {}",
                        call.label,
                        outcome.state,
                        short(&job.title, 40),
                        job.when.as_deref().unwrap_or("unscheduled"),
                        job.customer.as_deref().unwrap_or("-")
                    );
                }
            }
            Err(e) => {
                eprintln!("callbook: demo call {:?}: {e}", call.label);
                failed = true;
            }
        }
    }
    println!();
    println!("the jobs:   curl -H \"Authorization: Bearer {bearer}\" {local_base}/api/v1/jobs");
    println!(
        "your call:  callbook simulate-call --transcript FILE --server {} --data-dir {} --wait",
        config.public_url,
        config.data_dir.display()
    );
    if let Some(dashboard) = dashboard {
        println!("{dashboard}");
    }
    if !args.exit {
        println!("serving on {local_base}; Ctrl-C to stop");
        serve::shutdown_signal().await;
    }
    let _ = stop_tx.send(());
    server.await.context("server task")??;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
