//! `callbook transcribe FILE…` (DESIGN.md §5).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `callbook transcribe`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Audio files to transcribe.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Runs the subcommand.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "`transcribe` is not built yet ({} file(s) given)",
        args.files.len()
    )
}
