//! `callbook extract --input IN.jsonl --output OUT.jsonl [--extractor rules|openai]` (DESIGN.md §5).
//!
//! The line format lives in [`callbook_extract::batch`]; this module streams the file line by line (bounded
//! memory), runs the lines in order and writes — and flushes — one output line per input line as soon as it is
//! produced. A bad line (invalid UTF-8, invalid JSON, a bad field, an extractor error or even a panic inside the
//! extractor) becomes `{"id", "error"}` and the run goes on.
//!
//! Provider trouble: a retryable error (HTTP 429, 5xx, timeout) is retried up to [`ATTEMPTS`] times in all,
//! waiting what `Retry-After` asks (at most [`MAX_WAIT`]) or a short backoff. An error that needs a human
//! (rejected credentials, exhausted quota, configuration) stops the run: the line in flight gets its error line,
//! later lines are not read, and the exit code is 2 with a message naming the problem.
//!
//! Exit codes: 0 when every line was extracted, 1 when some line became an error line, 2 when the run could not
//! start or was stopped (bad arguments, unreadable input, an error that needs a human).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callbook_extract::Extractor;
use callbook_extract::batch::{self, BatchOutput};
use serde_json::Value;

/// Tries per line for a retryable provider error (the first try included).
pub const ATTEMPTS: u32 = 3;
/// The longest wait between two tries, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The extractor to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractorChoice {
    /// The offline, deterministic rules extractor.
    Rules,
    /// The OpenAI-compatible chat backend (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).
    Openai,
}

impl ExtractorChoice {
    fn name(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Openai => "openai",
        }
    }
}

/// Arguments of `callbook extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSONL input: `{"id", "transcript", "call_started_at", "timezone", …}` per line.
    #[arg(long)]
    pub input: PathBuf,
    /// JSONL output: `{"id", "extraction"}` or `{"id", "error"}` per input line, in input order.
    #[arg(long)]
    pub output: PathBuf,
    /// Which extractor to use; default `CALLBOOK_EXTRACTOR`, else `openai` when `OPENAI_API_KEY` is set, else
    /// `rules`.
    #[arg(long, value_enum)]
    pub extractor: Option<ExtractorChoice>,
}

/// What became of one line.
enum Outcome {
    /// Write this line and go on.
    Line(BatchOutput),
    /// Write this line, then stop: the error needs a human.
    Stop(BatchOutput, String),
}

/// Runs the subcommand.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = batch::choose_extractor(
        args.extractor.map(ExtractorChoice::name),
        std::env::var("CALLBOOK_EXTRACTOR").ok().as_deref(),
        std::env::var("OPENAI_API_KEY").ok().as_deref(),
    );
    let extractor =
        batch::extractor_from_name(&name).with_context(|| format!("setting up the {name} extractor"))?;
    let input =
        std::fs::File::open(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let mut input = std::io::BufReader::new(input);
    let file =
        std::fs::File::create(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let (mut extracted, mut failed) = (0usize, 0usize);
    let mut raw = Vec::new();
    let mut number = 0usize;
    loop {
        raw.clear();
        let read = input
            .read_until(b'\n', &mut raw)
            .with_context(|| format!("reading {}", args.input.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        let outcome = match std::str::from_utf8(&raw) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => process(&extractor, line).await,
            Err(error) => Outcome::Line(invalid_utf8(&raw, error)),
        };
        let (record, stop) = match outcome {
            Outcome::Line(record) => (record, None),
            Outcome::Stop(record, why) => (record, Some(why)),
        };
        if record.error.is_some() {
            failed += 1;
        } else {
            extracted += 1;
        }
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        out.flush()
            .with_context(|| format!("writing {}", args.output.display()))?;
        if let Some(why) = stop {
            anyhow::bail!(
                "stopped at input line {number} after {extracted} extracted, {failed} failed \
                 (extractor {name}): {why}; fix this and run again"
            );
        }
    }
    out.flush()
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("callbook extract: {extracted} extracted, {failed} failed (extractor {name})");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The error line of a line that is not UTF-8; keeps the `id` when the bytes before the first bad one show it.
fn invalid_utf8(bytes: &[u8], error: std::str::Utf8Error) -> BatchOutput {
    BatchOutput {
        id: recover_id(bytes),
        extraction: None,
        error: Some(format!(
            "invalid UTF-8 at byte {} of the line",
            error.valid_up_to()
        )),
    }
}

/// The `id` of a line whose JSON cannot be read whole: a string or number `"id"` value in its valid prefix.
fn recover_id(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let Some(at) = text.find("\"id\"") else {
        return Value::Null;
    };
    let rest = text[at + 4..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return Value::Null;
    };
    let mut values = serde_json::Deserializer::from_str(rest.trim_start()).into_iter::<Value>();
    match values.next() {
        Some(Ok(value @ (Value::String(_) | Value::Number(_))))
            if !value.to_string().contains('\u{fffd}') =>
        {
            value
        }
        _ => Value::Null,
    }
}

/// Runs one (UTF-8) line: parse, extract with retries, a panic caught and reported as this line's error.
async fn process(extractor: &Arc<dyn Extractor>, line: &str) -> Outcome {
    let input = match batch::parse_line(line) {
        Ok(input) => input,
        Err(error) => {
            return Outcome::Line(BatchOutput {
                id: error.id,
                extraction: None,
                error: Some(error.message),
            });
        }
    };
    let id = input.id.clone();
    let input = Arc::new(input);
    let error_line = |message: String| BatchOutput {
        id: id.clone(),
        extraction: None,
        error: Some(message),
    };
    let mut attempt = 1;
    loop {
        // A spawned task turns a panic inside the extractor into a `JoinError` instead of ending the batch.
        let task = {
            let extractor = Arc::clone(extractor);
            let input = Arc::clone(&input);
            tokio::spawn(async move { extractor.extract(&input.transcript, &input.context).await })
        };
        let error = match task.await {
            Ok(Ok(extraction)) => {
                return Outcome::Line(BatchOutput {
                    id: id.clone(),
                    extraction: Some(extraction),
                    error: None,
                });
            }
            Ok(Err(error)) => error,
            Err(join) if join.is_panic() => {
                return Outcome::Line(error_line(
                    "internal error: the extractor panicked on this line".to_owned(),
                ));
            }
            Err(join) => return Outcome::Line(error_line(format!("internal error: {join}"))),
        };
        if error.needs_operator() {
            let message = error.to_string();
            return Outcome::Stop(error_line(message.clone()), message);
        }
        if error.is_retryable() && attempt < ATTEMPTS {
            let backoff = Duration::from_millis(500 * 2u64.pow(attempt - 1));
            tokio::time::sleep(error.retry_after().unwrap_or(backoff).min(MAX_WAIT)).await;
            attempt += 1;
            continue;
        }
        let message = if attempt > 1 {
            format!("{error} (after {attempt} attempts)")
        } else {
            error.to_string()
        };
        return Outcome::Line(error_line(message));
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use callbook_extract::fake::ScriptedExtractor;
    use callbook_extract::{CallContext, Error, Extraction, ExtractorInfo, Transcript};

    use super::*;

    const LINE: &str = r#"{"id": "p-1", "transcript": "Caller: hi", "call_started_at": "2026-03-10T14:05:00Z", "timezone": "UTC"}"#;

    /// An extractor that panics on every call (what `async_trait` expands to, written out).
    #[derive(Debug)]
    struct Panicking;

    impl Extractor for Panicking {
        fn info(&self) -> ExtractorInfo {
            ExtractorInfo::builtin("panicking", None)
        }

        fn extract<'a, 'b, 'c, 'f>(
            &'a self,
            _: &'b Transcript,
            _: &'c CallContext,
        ) -> Pin<Box<dyn Future<Output = callbook_extract::Result<Extraction>> + Send + 'f>>
        where
            'a: 'f,
            'b: 'f,
            'c: 'f,
            Self: 'f,
        {
            Box::pin(async { panic!("boom") })
        }
    }

    fn line_of(outcome: Outcome) -> BatchOutput {
        match outcome {
            Outcome::Line(line) => line,
            Outcome::Stop(_, why) => panic!("unexpected stop: {why}"),
        }
    }

    #[tokio::test]
    async fn a_panicking_extractor_gives_an_error_line() {
        let extractor: Arc<dyn Extractor> = Arc::new(Panicking);
        let first = line_of(process(&extractor, LINE).await);
        assert_eq!(first.id, "p-1");
        assert!(
            first.error.as_deref().unwrap_or("").contains("panicked"),
            "{first:?}"
        );
        // And the next line is processed too.
        let second = line_of(process(&extractor, LINE).await);
        assert!(second.error.is_some());
    }

    fn rate_limited() -> Error {
        Error::RateLimited {
            retry_after: Some(Duration::ZERO),
            message: "slow down".to_owned(),
        }
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_then_reported() {
        let scripted = Arc::new(
            ScriptedExtractor::new()
                .then_error(rate_limited())
                .then_error(Error::Unavailable {
                    status: Some(503),
                    message: "down".to_owned(),
                })
                .then_extraction(Extraction::empty(
                    callbook_extract::CallKind::Empty,
                    0.9,
                    ExtractorInfo::builtin("fake", None),
                )),
        );
        let extractor: Arc<dyn Extractor> = scripted.clone();
        let line = line_of(process(&extractor, LINE).await);
        assert!(line.extraction.is_some(), "{line:?}");
        assert_eq!(scripted.requests().len(), 3);

        let scripted = Arc::new(
            ScriptedExtractor::new()
                .then_error(rate_limited())
                .then_error(rate_limited())
                .then_error(rate_limited())
                .then_extraction(Extraction::empty(
                    callbook_extract::CallKind::Empty,
                    0.9,
                    ExtractorInfo::builtin("fake", None),
                )),
        );
        let extractor: Arc<dyn Extractor> = scripted.clone();
        let line = line_of(process(&extractor, LINE).await);
        assert!(
            line.error.as_deref().unwrap_or("").contains("after 3 attempts"),
            "{line:?}"
        );
        assert_eq!(scripted.remaining(), 1, "three tries, no more");
    }

    #[tokio::test]
    async fn errors_that_need_a_human_stop_the_batch() {
        let extractor: Arc<dyn Extractor> =
            Arc::new(ScriptedExtractor::new().then_error(Error::QuotaExceeded {
                message: "You exceeded your current quota".to_owned(),
            }));
        match process(&extractor, LINE).await {
            Outcome::Stop(line, why) => {
                assert_eq!(line.id, "p-1");
                assert!(why.contains("quota"), "{why}");
            }
            Outcome::Line(line) => panic!("expected a stop, got {line:?}"),
        }
    }

    #[test]
    fn recovers_the_id_from_a_line_with_a_bad_byte() {
        assert_eq!(
            recover_id(b"{\"id\": \"fc-9\", \"transcript\": \"caf\xe9\"}"),
            "fc-9"
        );
        assert_eq!(recover_id(b"{\"id\" : 17, \"x\": \"\xff\"}"), 17);
        assert_eq!(recover_id(b"{\"transcript\": \"\xff\"}"), Value::Null);
        assert_eq!(recover_id(b"{\"id\": \"a\xffb\"}"), Value::Null);
    }
}
