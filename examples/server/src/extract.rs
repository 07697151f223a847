//! `callbook extract --input IN.jsonl --output OUT.jsonl [--extractor rules|openai]` (DESIGN.md §5).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `callbook extract`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSONL input: `{"id", "transcript", "call_started_at", "timezone", …}` per line.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// JSONL output: `{"id", "extraction"}` or `{"id", "error"}` per input line, in input order.
    #[arg(long)]
    pub(crate) output: PathBuf,
    /// Which extractor to use; default `openai` when `OPENAI_API_KEY` is set, else `rules`.
    #[arg(long)]
    pub(crate) extractor: Option<String>,
}

/// Runs the subcommand.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`extract` is not built yet (input {})", args.input.display())
}
