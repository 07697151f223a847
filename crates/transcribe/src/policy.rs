//! Cross-cutting policy as decorators that implement [`Transcriber`] themselves.
//!
//! * [`Retrying`] — exponential backoff with downward jitter (`min(0.5 s · 2ⁿ, 8 s) × (1 − 0.25·rand)`, as
//!   the official OpenAI SDK), at most 2 retries by default, honouring the provider's `Retry-After` up to
//!   120 s and failing fast when it asks for longer (requeue the job instead). Only
//!   [`Error::is_retryable`] errors are retried, and a timeout at most once (the attempt may have been billed).
//! * [`WithTimeout`] — a deadline per call, optionally growing with the audio's duration.
//! * [`ConcurrencyLimited`] — at most N calls in flight (proactive throttling against rate limits).
//! * [`Fallback`] — the secondary transcribes when the primary fails; after a provider-side failure the
//!   primary is skipped for a cooldown. **An offline primary with a cloud secondary sends audio off-site on
//!   failure** ([`Fallback::sends_audio_off_site`]); unsupported audio goes to the secondary only with
//!   [`Fallback::with_fallback_on_unsupported_audio`].
//!
//! # Order
//!
//! Compose them, from the outside in, as
//!
//! ```text
//! Fallback( Retrying( ConcurrencyLimited( WithTimeout( primary ) ) ), secondary )
//! ```
//!
//! * the timeout is innermost so it bounds **each attempt**, not the whole retry sequence;
//! * the concurrency limit sits inside the retries so a backoff sleep does not hold a permit;
//! * retrying is the **only** layer that retries (the HTTP backend never does): stacked retries multiply;
//! * fallback is outermost so the secondary is used only after the primary's retries are spent.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use callbook_transcribe::fake::{ScriptedTranscriber, SidecarTranscriber};
//! use callbook_transcribe::policy::{ConcurrencyLimited, Fallback, Retrying, WithTimeout};
//! use callbook_transcribe::Transcriber;
//!
//! let primary = ScriptedTranscriber::new();
//! let stack: Arc<dyn Transcriber> = Arc::new(Fallback::new(
//!     Retrying::new(ConcurrencyLimited::new(WithTimeout::new(primary, Duration::from_secs(120)), 4)),
//!     SidecarTranscriber::new(),
//!     Duration::from_secs(60),
//! ));
//! assert_eq!(stack.provider(), "scripted");
//! ```

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::audio::AudioInput;
use crate::transcriber::{Capabilities, TranscribeOptions, Transcriber};
use crate::transcript::Transcript;
use crate::{Error, Result};

/// How [`Retrying`] retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2).
    pub max_retries: u32,
    /// First backoff (default 0.5 s).
    pub initial_delay: Duration,
    /// Longest backoff (default 8 s).
    pub max_delay: Duration,
    /// The longest server-directed wait honoured (default 120 s); a longer `Retry-After` fails fast.
    pub max_retry_after: Duration,
    /// How many timeouts may be retried (default 1: a timed-out attempt may have been billed).
    pub max_timeout_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(120),
            max_timeout_retries: 1,
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0-based) when the provider did not say: exponential with
    /// downward jitter, `min(initial · 2^retry, max) × (1 − 0.25 · jitter)` for `jitter` in 0..1.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let base = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        base.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0))
    }
}

/// Retries retryable errors with backoff. See the [module docs](self).
///
/// A retry repeats the whole call: for a recording the backend splits into parts (over a provider's limits),
/// one failed part makes the retry re-send — and re-bill — every part.
#[derive(Debug)]
pub struct Retrying<T> {
    inner: T,
    policy: RetryPolicy,
}

impl<T: Transcriber> Retrying<T> {
    /// Wraps `inner` with the default [`RetryPolicy`].
    pub fn new(inner: T) -> Self {
        Self::with_policy(inner, RetryPolicy::default())
    }

    /// Wraps `inner` with `policy`.
    pub fn with_policy(inner: T, policy: RetryPolicy) -> Self {
        Retrying { inner, policy }
    }

    /// The wrapped transcriber.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

#[async_trait]
impl<T: Transcriber> Transcriber for Retrying<T> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        let mut retries = 0u32;
        let mut timeouts = 0u32;
        loop {
            let err = match self.inner.transcribe(audio, options).await {
                Ok(t) => return Ok(t),
                Err(e) => e,
            };
            if !err.is_retryable() || retries >= self.policy.max_retries {
                return Err(err);
            }
            if matches!(err, Error::Timeout) {
                if timeouts >= self.policy.max_timeout_retries {
                    return Err(err);
                }
                timeouts += 1;
            }
            let delay = match err.retry_after() {
                Some(d) if d > self.policy.max_retry_after => return Err(err),
                Some(d) => d,
                None => self.policy.backoff(retries, rand::random::<f64>()),
            };
            tracing::debug!(
                provider = self.inner.provider(),
                retry = retries + 1,
                delay_ms = delay.as_millis() as u64,
                "retrying transcription"
            );
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }
}

/// Fails a call with [`Error::Timeout`] when it takes longer than its deadline.
#[derive(Debug)]
pub struct WithTimeout<T> {
    inner: T,
    base: Duration,
    per_audio_second: f64,
    max: Duration,
}

impl<T: Transcriber> WithTimeout<T> {
    /// A fixed deadline per call.
    pub fn new(inner: T, timeout: Duration) -> Self {
        WithTimeout {
            inner,
            base: timeout,
            per_audio_second: 0.0,
            max: Duration::MAX,
        }
    }

    /// Adds `factor` seconds per second of audio to the deadline (local Whisper on a slow CPU, long calls),
    /// never beyond `max`.
    pub fn with_per_audio_second(mut self, factor: f64, max: Duration) -> Self {
        self.per_audio_second = factor.max(0.0);
        self.max = max;
        self
    }

    /// The deadline for this audio.
    pub fn deadline_for(&self, audio: &AudioInput) -> Duration {
        let extra = audio.duration_seconds().unwrap_or(0.0) * self.per_audio_second;
        self.base
            .saturating_add(Duration::from_secs_f64(extra.clamp(0.0, 1e9)))
            .min(self.max)
    }
}

#[async_trait]
impl<T: Transcriber> Transcriber for WithTimeout<T> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        match tokio::time::timeout(self.deadline_for(audio), self.inner.transcribe(audio, options)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout),
        }
    }
}

/// At most `limit` calls in flight; the rest wait in FIFO order.
#[derive(Debug)]
pub struct ConcurrencyLimited<T> {
    inner: T,
    permits: Semaphore,
}

impl<T: Transcriber> ConcurrencyLimited<T> {
    /// Wraps `inner`; `limit` is at least 1.
    pub fn new(inner: T, limit: usize) -> Self {
        ConcurrencyLimited {
            inner,
            permits: Semaphore::new(limit.max(1)),
        }
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

#[async_trait]
impl<T: Transcriber> Transcriber for ConcurrencyLimited<T> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::local("the concurrency limiter was closed"))?;
        self.inner.transcribe(audio, options).await
    }
}

/// Uses `secondary` when `primary` fails; after a provider-side failure of the primary (retryable, quota,
/// credentials) the primary is skipped for `cooldown`. Audio problems ([`Error::InvalidAudio`]) are returned
/// as they are: another backend would reject the same bytes. Audio the primary cannot handle
/// ([`Error::UnsupportedAudio`], e.g. Opus for the local Whisper backend) is returned as it is too, unless
/// [`Fallback::with_fallback_on_unsupported_audio`] says otherwise.
///
/// **Privacy: an offline primary with a cloud secondary (`Fallback(whisper-local, openai)`) sends the
/// recording off-site whenever the primary fails** (a missing model, a crash, a timeout…). Use it only where
/// that is acceptable; [`Fallback::sends_audio_off_site`] tells whether a stack does so.
#[derive(Debug)]
pub struct Fallback<P, S> {
    primary: P,
    secondary: S,
    cooldown: Duration,
    fall_back_on_unsupported_audio: bool,
    primary_down_until: Mutex<Option<Instant>>,
}

impl<P: Transcriber, S: Transcriber> Fallback<P, S> {
    /// `primary` first, `secondary` when it fails; the primary rests for `cooldown` after an outage.
    pub fn new(primary: P, secondary: S, cooldown: Duration) -> Self {
        Fallback {
            primary,
            secondary,
            cooldown,
            fall_back_on_unsupported_audio: false,
            primary_down_until: Mutex::new(None),
        }
    }

    /// Whether audio the primary reports as [`Error::UnsupportedAudio`] goes to the secondary (default
    /// `false`: the error is returned). With an offline primary and a cloud secondary, `true` uploads every
    /// recording the primary cannot decode.
    pub fn with_fallback_on_unsupported_audio(mut self, yes: bool) -> Self {
        self.fall_back_on_unsupported_audio = yes;
        self
    }

    /// Whether a failure of an offline primary sends audio to a secondary that is not offline.
    pub fn sends_audio_off_site(&self) -> bool {
        self.primary.capabilities().offline && !self.secondary.capabilities().offline
    }

    /// Whether the primary is being skipped right now.
    pub fn primary_cooling_down(&self) -> bool {
        self.primary_down_until
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|until| Instant::now() < until)
    }

    fn mark_primary_down(&self) {
        if let Ok(mut g) = self.primary_down_until.lock() {
            *g = Some(Instant::now() + self.cooldown);
        }
    }
}

#[async_trait]
impl<P: Transcriber, S: Transcriber> Transcriber for Fallback<P, S> {
    fn provider(&self) -> &str {
        self.primary.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.primary.capabilities()
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        if !self.primary_cooling_down() {
            match self.primary.transcribe(audio, options).await {
                Ok(t) => return Ok(t),
                Err(e) if e.is_audio_problem() => return Err(e),
                Err(e @ Error::UnsupportedAudio { .. }) if !self.fall_back_on_unsupported_audio => {
                    return Err(e);
                }
                Err(e) => {
                    let outage = e.is_retryable()
                        || matches!(
                            e,
                            Error::QuotaExceeded { .. }
                                | Error::Unauthenticated { .. }
                                | Error::Forbidden { .. }
                        );
                    if outage {
                        self.mark_primary_down();
                    }
                    tracing::warn!(
                        primary = self.primary.provider(),
                        secondary = self.secondary.provider(),
                        outage,
                        "primary transcriber failed; falling back"
                    );
                }
            }
        }
        self.secondary.transcribe(audio, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::QueuedTranscriber;

    fn audio() -> AudioInput {
        AudioInput::from_bytes(crate::audio::encode_wav_pcm16(&[vec![0.1; 800]], 8000).unwrap()).unwrap()
    }

    fn ok(text: &str) -> Result<Transcript> {
        Ok(Transcript {
            text: text.into(),
            ..Default::default()
        })
    }

    fn unavailable(retry_after: Option<Duration>) -> Result<Transcript> {
        Err(Error::Unavailable {
            status: Some(503),
            retry_after,
            message: String::new(),
        })
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(750));
        assert_eq!(p.backoff(10, 0.0), Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn retrying_honours_retry_after_and_gives_up() {
        let q = QueuedTranscriber::new([unavailable(Some(Duration::from_secs(3))), ok("done")]);
        let r = Retrying::new(q.clone());
        let start = Instant::now();
        assert_eq!(
            r.transcribe(&audio(), &TranscribeOptions::new())
                .await
                .unwrap()
                .text,
            "done"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(q.calls(), 2);

        let q = QueuedTranscriber::new([
            unavailable(None),
            unavailable(None),
            unavailable(None),
            ok("late"),
        ]);
        let r = Retrying::new(q.clone());
        assert!(r.transcribe(&audio(), &TranscribeOptions::new()).await.is_err());
        assert_eq!(q.calls(), 3, "first attempt + 2 retries");

        // A wait beyond the cap fails fast.
        let q = QueuedTranscriber::new([
            Err(Error::RateLimited {
                retry_after: Some(Duration::from_secs(86400)),
                message: String::new(),
            }),
            ok("never"),
        ]);
        let r = Retrying::new(q.clone());
        let start = Instant::now();
        assert!(matches!(
            r.transcribe(&audio(), &TranscribeOptions::new()).await,
            Err(Error::RateLimited { .. })
        ));
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(q.calls(), 1);

        // Not retryable: one call.
        let q = QueuedTranscriber::new([
            Err(Error::QuotaExceeded {
                message: String::new(),
            }),
            ok("x"),
        ]);
        assert!(
            Retrying::new(q.clone())
                .transcribe(&audio(), &TranscribeOptions::new())
                .await
                .is_err()
        );
        assert_eq!(q.calls(), 1);

        // Timeouts are retried once.
        let q = QueuedTranscriber::new([Err(Error::Timeout), Err(Error::Timeout), ok("x")]);
        assert!(matches!(
            Retrying::new(q.clone())
                .transcribe(&audio(), &TranscribeOptions::new())
                .await,
            Err(Error::Timeout)
        ));
        assert_eq!(q.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_fires() {
        let q = QueuedTranscriber::new([ok("slow")]).with_delay(Duration::from_secs(10));
        let t = WithTimeout::new(q.clone(), Duration::from_secs(5));
        assert!(matches!(
            t.transcribe(&audio(), &TranscribeOptions::new()).await,
            Err(Error::Timeout)
        ));
        let t =
            WithTimeout::new(q, Duration::from_secs(5)).with_per_audio_second(100.0, Duration::from_secs(60));
        assert_eq!(t.deadline_for(&audio()), Duration::from_secs(15));
        assert_eq!(
            t.transcribe(&audio(), &TranscribeOptions::new())
                .await
                .unwrap()
                .text,
            "slow"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_limited() {
        let q = QueuedTranscriber::new((0..4).map(|i| ok(&i.to_string()))).with_delay(Duration::from_secs(1));
        let limited = std::sync::Arc::new(ConcurrencyLimited::new(q.clone(), 2));
        let start = Instant::now();
        let a = audio();
        let opts = TranscribeOptions::new();
        let (r1, r2, r3, r4) = tokio::join!(
            limited.transcribe(&a, &opts),
            limited.transcribe(&a, &opts),
            limited.transcribe(&a, &opts),
            limited.transcribe(&a, &opts)
        );
        assert!(r1.is_ok() && r2.is_ok() && r3.is_ok() && r4.is_ok());
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "4 calls of 1 s, 2 at a time"
        );
        assert_eq!(q.max_in_flight(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn fallback_uses_secondary_and_cools_down() {
        let primary = QueuedTranscriber::new([unavailable(None), ok("primary")]);
        let secondary = QueuedTranscriber::new([ok("secondary 1"), ok("secondary 2")]);
        let f = Fallback::new(primary.clone(), secondary.clone(), Duration::from_secs(30));
        let opts = TranscribeOptions::new();
        assert_eq!(f.transcribe(&audio(), &opts).await.unwrap().text, "secondary 1");
        assert!(f.primary_cooling_down());
        assert_eq!(f.transcribe(&audio(), &opts).await.unwrap().text, "secondary 2");
        assert_eq!(primary.calls(), 1, "skipped while cooling down");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(f.transcribe(&audio(), &opts).await.unwrap().text, "primary");

        // Bad audio is not retried elsewhere.
        let primary = QueuedTranscriber::new([Err(Error::invalid_audio("corrupt"))]);
        let secondary = QueuedTranscriber::new([ok("never")]);
        let f = Fallback::new(primary, secondary.clone(), Duration::from_secs(30));
        assert!(matches!(
            f.transcribe(&audio(), &opts).await,
            Err(Error::InvalidAudio { .. })
        ));
        assert_eq!(secondary.calls(), 0);
    }

    #[tokio::test]
    async fn unsupported_audio_falls_back_only_when_asked() {
        let unsupported = || {
            Err(Error::UnsupportedAudio {
                reason: "opus".into(),
            })
        };
        let opts = TranscribeOptions::new();
        let secondary = QueuedTranscriber::new([ok("cloud")]);
        let f = Fallback::new(
            QueuedTranscriber::new([unsupported()]),
            secondary.clone(),
            Duration::from_secs(30),
        );
        assert!(matches!(
            f.transcribe(&audio(), &opts).await,
            Err(Error::UnsupportedAudio { .. })
        ));
        assert_eq!(secondary.calls(), 0, "not sent elsewhere by default");
        assert!(!f.primary_cooling_down());
        let f = Fallback::new(
            QueuedTranscriber::new([unsupported()]),
            secondary.clone(),
            Duration::from_secs(30),
        )
        .with_fallback_on_unsupported_audio(true);
        assert_eq!(f.transcribe(&audio(), &opts).await.unwrap().text, "cloud");
        assert_eq!(secondary.calls(), 1);
    }
}
