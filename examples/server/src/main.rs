//! `callbook` — the Callbook reference server and its command-line tools.
//!
//! The subcommands are the contract of DESIGN.md §5: `serve` (default), `demo`, `extract`, `transcribe`,
//! `simulate-call`, `migrate`, and the operations commands `backup`, `restore`, `tenant create`, `user add` and
//! `retention run`, `billing report`. Each lives in its own module of the `callbook_server` library.

use std::process::ExitCode;

use callbook_server::{backup, billing, cli_accounts, demo, extract, retention, serve, simulate, transcribe};
use clap::{Parser, Subcommand};

/// Turns a trades business's phone calls into booked jobs.
#[derive(Debug, Parser)]
#[command(name = "callbook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference server (the default): Twilio webhooks, health, metrics and the worker.
    Serve,
    /// Apply pending database migrations (CALLBOOK_DATABASE_URL) and exit.
    Migrate,
    /// Transcribe audio files; prints one JSON object per file on its own line.
    Transcribe(transcribe::Args),
    /// Extract appointments from transcripts: JSONL in, JSONL out, input order kept.
    Extract(extract::Args),
    /// Start the server and play a handful of realistic calls through it, so jobs appear.
    Demo(demo::Args),
    /// Play Twilio's part of one voicemail call against a running server (signed webhooks, audio upload).
    SimulateCall(simulate::Args),
    /// Write a consistent backup of the SQLite database and the recording store into a new directory.
    Backup(backup::BackupArgs),
    /// Restore a backup made by `callbook backup` into the configured database and recording store.
    Restore(backup::RestoreArgs),
    /// Tenants: `tenant create --name N --zone Z --owner LOGIN` (prints the owner's one-time password).
    Tenant(cli_accounts::TenantArgs),
    /// Users: `user add --login L --role R [--tenant ID]` (bootstrap tenant by default).
    User(cli_accounts::UserArgs),

    /// Retention: delete what each tenant's policy says has expired (legal holds are kept).
    #[command(subcommand)]
    Retention(RetentionCommand),

    /// Billing: `billing report [--dry-run]` reports usage to the billing provider now.
    #[command(subcommand)]
    Billing(BillingCommand),
}

#[derive(Debug, Subcommand)]
enum BillingCommand {
    /// Report every billed tenant's usage since the last report now and print the report as JSON.
    Report {
        /// Say what would be reported, send and record nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Run retention once for every tenant now and print the report as JSON.
    Run {
        /// Count what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run().await,
        Command::Migrate => serve::migrate().await,
        Command::Transcribe(args) => transcribe::run(args).await,
        Command::Extract(args) => extract::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::SimulateCall(args) => simulate::run(args).await,
        Command::Backup(args) => backup::run_backup(args).await,
        Command::Restore(args) => backup::run_restore(args).await,
        Command::Tenant(args) => cli_accounts::tenant(args).await,
        Command::User(args) => cli_accounts::user(args).await,
        Command::Retention(RetentionCommand::Run { dry_run }) => retention::run_cli(dry_run).await,
        Command::Billing(BillingCommand::Report { dry_run }) => billing::run_cli(dry_run).await,
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("callbook: {error:#}");
            ExitCode::from(2)
        }
    }
}
