//! `callbook extract --input IN.jsonl --output OUT.jsonl [--extractor rules|openai]` (DESIGN.md §5).
//!
//! The line format lives in [`callbook_extract::batch`]; this module reads the file, runs the lines in order and
//! writes one output line per input line. A bad line becomes `{"id", "error"}` and the run goes on.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use callbook_extract::batch;

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
    let name = batch::choose_extractor(
        args.extractor.as_deref(),
        std::env::var("CALLBOOK_EXTRACTOR").ok().as_deref(),
        std::env::var("OPENAI_API_KEY").ok().as_deref(),
    );
    let extractor =
        batch::extractor_from_name(&name).with_context(|| format!("setting up the {name} extractor"))?;
    let input = tokio::fs::read_to_string(&args.input)
        .await
        .with_context(|| format!("reading {}", args.input.display()))?;
    let file =
        std::fs::File::create(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let (mut extracted, mut failed) = (0usize, 0usize);
    for line in input.lines().filter(|line| !line.trim().is_empty()) {
        let record = batch::process_line(extractor.as_ref(), line).await;
        if record.error.is_some() {
            failed += 1;
        } else {
            extracted += 1;
        }
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("callbook extract: {extracted} extracted, {failed} failed (extractor {name})");
    Ok(ExitCode::SUCCESS)
}
