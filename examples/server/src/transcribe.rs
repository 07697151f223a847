//! `callbook transcribe FILE…` (DESIGN.md §5).
//!
//! Prints one JSON object per file, on its own line and in argument order:
//! `{"file", "transcript": {"text", "language", "duration_seconds", "confidence", "segments": [{"start",
//! "end", "text", "confidence"}]}}`, or `{"file", "error"}` when that file fails (the run goes on). The exit
//! code is 0 when every file was transcribed, 1 when any failed, 2 when the transcriber cannot be set up.
//!
//! The transcriber comes from the environment: `CALLBOOK_TRANSCRIBER` = `openai` | `whisper-local` | `demo`;
//! by default `openai` when `OPENAI_API_KEY` is set, else `whisper-local` when `CALLBOOK_WHISPER_MODEL` is
//! set, else `demo` (the sidecar transcriber: `call.wav` is "transcribed" from `call.transcript.json` or
//! `call.txt` next to it). The channels of a two-channel recording are transcribed apart unless `--mono` is
//! given. Card numbers, security codes, expiry dates and SSNs are redacted from the output
//! unless `--no-redact` is given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use callbook_transcribe::fake::SidecarTranscriber;
use callbook_transcribe::openai::OpenAiTranscriberBuilder;
use callbook_transcribe::policy::Retrying;
use callbook_transcribe::redact::{RedactionOptions, redact_transcript};
use callbook_transcribe::{AudioInput, TranscribeOptions, Transcriber, Transcript};
use serde_json::json;

/// Arguments of `callbook transcribe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files to transcribe.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print card numbers, security codes, expiry dates and SSNs as heard instead of redacting them.
    #[arg(long)]
    pub no_redact: bool,
    /// Language hint (ISO-639-1, e.g. `en`).
    #[arg(long)]
    pub language: Option<String>,
    /// Mix a multi-channel recording down to mono. By default each channel of a two-channel recording
    /// (Twilio: the caller on channel 1, the business on channel 2) is transcribed apart and the segments are
    /// merged in time order, so the two sides do not talk over each other in one stream.
    #[arg(long)]
    pub mono: bool,
}

/// Which transcriber the environment selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    OpenAi,
    WhisperLocal,
    Demo,
}

fn choose(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Choice> {
    let set = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    match set("CALLBOOK_TRANSCRIBER").as_deref().map(str::trim) {
        Some("openai") => Ok(Choice::OpenAi),
        Some("whisper-local") => Ok(Choice::WhisperLocal),
        Some("demo") => Ok(Choice::Demo),
        Some(other) => {
            anyhow::bail!("CALLBOOK_TRANSCRIBER={other:?} is not one of `openai`, `whisper-local`, `demo`")
        }
        None if set("OPENAI_API_KEY").is_some() => Ok(Choice::OpenAi),
        None if set("CALLBOOK_WHISPER_MODEL").is_some() => Ok(Choice::WhisperLocal),
        None => Ok(Choice::Demo),
    }
}

pub(crate) fn transcriber(choice: Choice) -> anyhow::Result<Arc<dyn Transcriber>> {
    Ok(match choice {
        Choice::OpenAi => {
            let backend = OpenAiTranscriberBuilder::from_env()
                .and_then(OpenAiTranscriberBuilder::build)
                .context("CALLBOOK_TRANSCRIBER=openai")?;
            Arc::new(Retrying::new(backend))
        }
        Choice::Demo => Arc::new(SidecarTranscriber::new()),
        Choice::WhisperLocal => whisper_local()?,
    })
}

// ---- whisper-local: the local Whisper backend plugs in here (feature `whisper-local`, which enables
// ---- `callbook-transcribe/whisper-local`). It reads CALLBOOK_WHISPER_MODEL and its own settings.
#[cfg(feature = "whisper-local")]
fn whisper_local() -> anyhow::Result<Arc<dyn Transcriber>> {
    let backend = callbook_transcribe::whisper_local::WhisperLocalTranscriber::from_env()
        .context("CALLBOOK_TRANSCRIBER=whisper-local")?;
    Ok(Arc::new(backend))
}

#[cfg(not(feature = "whisper-local"))]
fn whisper_local() -> anyhow::Result<Arc<dyn Transcriber>> {
    anyhow::bail!(
        "CALLBOOK_TRANSCRIBER=whisper-local (or CALLBOOK_WHISPER_MODEL without OPENAI_API_KEY) needs the local \
         Whisper backend, which this `callbook` was built without: rebuild with \
         `cargo build -p callbook-server --features whisper-local` (needs cmake and a C/C++ compiler), or set \
         CALLBOOK_TRANSCRIBER=openai or demo"
    )
}
// ---- end whisper-local

/// The DESIGN.md §5 shape of one transcript.
fn transcript_json(t: &Transcript) -> serde_json::Value {
    json!({
        "text": t.text,
        "language": t.language_code().or_else(|| t.language.clone()),
        "duration_seconds": t.duration_seconds,
        "confidence": t.confidence.map(|c| c.mean),
        "segments": t.segments.iter().map(|s| json!({
            "start": s.start,
            "end": s.end,
            "text": s.text.trim(),
            "confidence": s.confidence,
        })).collect::<Vec<_>>(),
    })
}

async fn transcribe_file(
    transcriber: &dyn Transcriber,
    path: &Path,
    options: &TranscribeOptions,
    redact: bool,
) -> Result<serde_json::Value, String> {
    let audio = AudioInput::from_file(path).await.map_err(|e| e.to_string())?;
    let transcript = transcriber
        .transcribe(&audio, options)
        .await
        .map_err(|e| e.to_string())?;
    let transcript = if redact {
        redact_transcript(&transcript, &RedactionOptions::default()).0
    } else {
        transcript
    };
    Ok(transcript_json(&transcript))
}

/// Runs the subcommand.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let choice = choose(|k| std::env::var(k).ok())?;
    let transcriber = transcriber(choice)?;
    eprintln!(
        "callbook transcribe: using the {} transcriber{}",
        transcriber.provider(),
        if args.no_redact { " (no redaction)" } else { "" }
    );
    let mut options = TranscribeOptions::new().with_split_channels(!args.mono);
    if let Some(language) = &args.language {
        options = options.with_language(language.clone());
    }
    let mut failed = false;
    let stdout = std::io::stdout();
    for path in &args.files {
        let file = path.display().to_string();
        let line = match transcribe_file(transcriber.as_ref(), path, &options, !args.no_redact).await {
            Ok(transcript) => json!({"file": file, "transcript": transcript}),
            Err(error) => {
                failed = true;
                json!({"file": file, "error": error})
            }
        };
        let mut out = stdout.lock();
        writeln!(out, "{line}").context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_environment_selects_the_transcriber() {
        assert_eq!(choose(env(&[])).unwrap(), Choice::Demo);
        assert_eq!(choose(env(&[("OPENAI_API_KEY", "sk")])).unwrap(), Choice::OpenAi);
        assert_eq!(
            choose(env(&[("CALLBOOK_WHISPER_MODEL", "m.bin")])).unwrap(),
            Choice::WhisperLocal
        );
        assert_eq!(
            choose(env(&[
                ("OPENAI_API_KEY", "sk"),
                ("CALLBOOK_WHISPER_MODEL", "m.bin")
            ]))
            .unwrap(),
            Choice::OpenAi
        );
        assert_eq!(
            choose(env(&[("OPENAI_API_KEY", "sk"), ("CALLBOOK_TRANSCRIBER", "demo")])).unwrap(),
            Choice::Demo
        );
        assert_eq!(choose(env(&[("OPENAI_API_KEY", "")])).unwrap(), Choice::Demo);
        let err = choose(env(&[("CALLBOOK_TRANSCRIBER", "vosk")])).unwrap_err();
        assert!(err.to_string().contains("CALLBOOK_TRANSCRIBER"), "{err}");
    }
}
