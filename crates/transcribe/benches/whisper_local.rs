//! Real-time factor of the local Whisper backend on the synthesised 8 kHz µ-law phone call, Whisper tiny.en.
//!
//! `cargo bench -p callbook-transcribe --features whisper-local --bench whisper_local`
//!
//! Measures the whole `Transcriber::transcribe` path (µ-law decoding, 8 → 16 kHz resampling, inference on a
//! blocking thread, mapping, guards) for three configurations in the same run: the default (beam search
//! 5, 2 threads, the goal being ≥ 10× faster than real time) against two baselines, greedy decoding with 2
//! threads and beam search with 1 thread. Figures depend heavily on what else runs on the machine: the
//! load average before and after is printed with them.
//!
//! Needs the ggml model (`CALLBOOK_TEST_WHISPER_MODEL` or `~/.cache/callbook/models/ggml-tiny.en.bin`, from
//! `scripts/fetch-whisper-model.sh`) and the call (`CALLBOOK_TEST_SPEECH_DIR`, or espeak-ng and sox on
//! PATH); without them it says so and exits. `CALLBOOK_BENCH_RUNS` sets the timed runs per configuration
//! (default 5, after one warm-up run).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark with broken fixtures should stop loudly

fn main() {
    bench::run();
}

mod bench {
    use std::path::PathBuf;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use callbook_transcribe::whisper_local::WhisperLocalTranscriber;
    use callbook_transcribe::{AudioInput, TranscribeOptions, Transcriber, decode_pcm, to_mono_16k};

    fn model_path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("CALLBOOK_TEST_WHISPER_MODEL").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        let cached = PathBuf::from(std::env::var_os("HOME")?).join(".cache/callbook/models/ggml-tiny.en.bin");
        cached.is_file().then_some(cached)
    }

    fn call_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("CALLBOOK_TEST_SPEECH_DIR").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(dir).join("call-8k-mulaw.wav"));
        }
        let dir = std::env::temp_dir().join(format!("callbook-whisper-bench-{}", std::process::id()));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/synth-call.sh");
        let ok = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .status()
            .ok()?
            .success();
        ok.then(|| dir.join("call-8k-mulaw.wav"))
    }

    fn load_average() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    }

    fn median(times: &mut [Duration]) -> Duration {
        times.sort();
        times[times.len() / 2]
    }

    pub(super) fn run() {
        let (Some(model), Some(call)) = (model_path(), call_path()) else {
            eprintln!(
                "skipping the whisper_local benchmark: no tiny.en ggml model (scripts/fetch-whisper-model.sh) or \
                 no synthesised call (espeak-ng and sox)"
            );
            return;
        };
        let runs: usize = std::env::var("CALLBOOK_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
            .max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let audio = runtime.block_on(AudioInput::from_file(&call)).unwrap();
        let seconds = audio.duration_seconds().unwrap();
        println!(
            "whisper_local benchmark: tiny.en on a {seconds:.2} s 8 kHz µ-law call, {runs} timed runs each"
        );
        println!("load average before: {}", load_average());

        let started = Instant::now();
        let samples = to_mono_16k(&decode_pcm(&audio).unwrap());
        println!(
            "decode + 8→16 kHz resample alone: {:.1} ms ({} samples)",
            started.elapsed().as_secs_f64() * 1000.0,
            samples.len()
        );

        let configs: [(&'static str, u32, usize); 3] = [
            ("beam 5, 2 threads (default)", 5, 2),
            ("greedy, 2 threads", 1, 2),
            ("beam 5, 1 thread", 5, 1),
        ];
        let options = TranscribeOptions::new();
        let mut backends = Vec::new();
        for (name, beam, threads) in configs {
            let started = Instant::now();
            let whisper = WhisperLocalTranscriber::builder(&model)
                .with_beam_size(beam)
                .with_threads(threads)
                .build()
                .unwrap();
            let load = started.elapsed();
            // One warm-up run each (page cache, allocator).
            let words = runtime
                .block_on(whisper.transcribe(&audio, &options))
                .unwrap()
                .text
                .split_whitespace()
                .count();
            backends.push((name, whisper, load, words, Vec::with_capacity(runs)));
        }
        // Round-robin, so that load from other processes falls on every configuration alike.
        for _ in 0..runs {
            for (_, whisper, _, _, times) in &mut backends {
                let started = Instant::now();
                runtime.block_on(whisper.transcribe(&audio, &options)).unwrap();
                times.push(started.elapsed());
            }
        }
        let mut medians = Vec::new();
        for (name, _, load, words, times) in &mut backends {
            let min = *times.iter().min().unwrap();
            let median = median(times);
            println!(
                "{name:<28} median {:>7.1} ms  min {:>7.1} ms  real-time factor {:>5.1}× (best {:>5.1}×)  \
                 model load {:>5.1} ms  {words} words",
                median.as_secs_f64() * 1000.0,
                min.as_secs_f64() * 1000.0,
                seconds / median.as_secs_f64(),
                seconds / min.as_secs_f64(),
                load.as_secs_f64() * 1000.0,
            );
            medians.push(median);
        }
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "same-run ratios of median times: beam 5 / greedy = {:.2}; 1 thread / 2 threads = {:.2}",
            ratio(medians[0], medians[1]),
            ratio(medians[2], medians[0]),
        );
        let goal = seconds / medians[0].as_secs_f64();
        println!(
            "goal ≥ 10× real time with the default: {} ({goal:.1}×)",
            if goal >= 10.0 {
                "met"
            } else {
                "NOT met on this run"
            }
        );
        println!(
            "load average after: {} (2 cores; other builds share them)",
            load_average()
        );
    }
}
