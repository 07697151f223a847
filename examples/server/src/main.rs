//! `callbook` — the Callbook reference server and its command-line tools.
//!
//! The subcommands are the contract of DESIGN.md §5: `serve` (default), `demo`, `extract`, `transcribe`,
//! `simulate-call`, `migrate`. Each lives in its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod extract;
mod transcribe;

/// Turns a trades business's phone calls into booked jobs.
#[derive(Debug, Parser)]
#[command(name = "callbook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference server (the default).
    Serve,
    /// Transcribe audio files; prints one JSON object per file on its own line.
    Transcribe(transcribe::Args),
    /// Extract appointments from transcripts: JSONL in, JSONL out, input order kept.
    Extract(extract::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Err(anyhow::anyhow!(
            "the reference server is not built yet (issue \"callbook-server\"); \
             `callbook transcribe` and `callbook extract` work today"
        )),
        Command::Transcribe(args) => transcribe::run(args).await,
        Command::Extract(args) => extract::run(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("callbook: {error:#}");
            ExitCode::from(2)
        }
    }
}
