//! The OpenAI-compatible backend (feature `openai`): one thin reqwest client for OpenAI, Azure OpenAI, Groq,
//! whisper.cpp's `whisper-server` and speaches, configured by a [`Profile`].
//!
//! | profile | default base URL | path | auth | `model` sent |
//! |---|---|---|---|---|
//! | [`Profile::OpenAi`] | `https://api.openai.com/v1` | `/audio/transcriptions` | `Authorization: Bearer` | yes (`whisper-1`) |
//! | [`Profile::Azure`] | your resource endpoint | `/openai/deployments/{deployment}/audio/transcriptions?api-version=…` | `api-key` header | no (the deployment decides) |
//! | [`Profile::Groq`] | `https://api.groq.com/openai/v1` | `/audio/transcriptions` | Bearer | yes (`whisper-large-v3-turbo`) |
//! | [`Profile::WhisperCpp`] | `http://127.0.0.1:8080` | `/inference` | none | no (the server's `-m`) |
//! | [`Profile::Speaches`] | `http://127.0.0.1:8000/v1` | `/audio/transcriptions` | none (Bearer if a key is set) | yes (a Hugging Face repo id) |
//!
//! Whisper-family models are asked for `verbose_json` (segments with `avg_logprob`, `no_speech_prob`,
//! `compression_ratio`, which feed [`crate::confidence`]); the gpt-4o transcribe family only speaks `json`,
//! so it gets `include[]=logprobs` and the transcript confidence comes from token log-probabilities. Array
//! fields go out as repeated `name[]` parts; the file part carries a name with an extension and a content
//! type. Responses are parsed leniently (duration as number or string, missing `usage`, unknown fields,
//! whisper.cpp's words nested in segments).
//!
//! Errors in every dialect — OpenAI's `{"error":{…}}`, whisper.cpp's `{"error":"…"}`, FastAPI's
//! `{"detail":…}` and plain text — become semantic [`Error`]s. 408, 409, 429 (except `insufficient_quota`),
//! 5xx and connection failures are retryable; `retry-after-ms`, `Retry-After` (seconds or HTTP date) and
//! Azure's "retry after N seconds" message are passed on as `retry_after`. This backend never retries by
//! itself: wrap it in [`crate::policy::Retrying`] (retry in exactly one layer).

mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::audio::AudioInput;
use crate::transcriber::{Capabilities, TranscribeOptions, Transcriber};
use crate::transcript::Transcript;
use crate::{Error, Result};

/// OpenAI's upload limit: 25 MiB.
pub const OPENAI_MAX_BYTES: u64 = 25 * 1024 * 1024;
/// The gpt-4o transcribe family's duration limit: 1,400 s.
pub const GPT4O_MAX_DURATION: Duration = Duration::from_secs(1400);
/// Default Azure `api-version` for audio transcription.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Which OpenAI-compatible server the backend talks to (see the table in the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// OpenAI's API.
    OpenAi,
    /// Azure OpenAI, classic deployment URLs. (For Azure's `/openai/v1/` surface use [`Profile::OpenAi`] with
    /// that base URL and [`OpenAiTranscriberBuilder::with_api_key_header`].)
    Azure,
    /// Groq's OpenAI-compatible API.
    Groq,
    /// whisper.cpp's `whisper-server`.
    WhisperCpp,
    /// speaches (formerly faster-whisper-server).
    Speaches,
}

impl Profile {
    /// The name written to [`Transcript::provider`].
    pub fn name(self) -> &'static str {
        match self {
            Profile::OpenAi => "openai",
            Profile::Azure => "azure",
            Profile::Groq => "groq",
            Profile::WhisperCpp => "whisper.cpp",
            Profile::Speaches => "speaches",
        }
    }

    /// Parses `openai`, `azure`, `groq`, `whisper.cpp` (or `whispercpp`), `speaches`.
    pub fn parse(name: &str) -> Option<Profile> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "openai" => Profile::OpenAi,
            "azure" | "azure-openai" => Profile::Azure,
            "groq" => Profile::Groq,
            "whisper.cpp" | "whispercpp" | "whisper-cpp" => Profile::WhisperCpp,
            "speaches" => Profile::Speaches,
            _ => return None,
        })
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            Profile::OpenAi => Some("https://api.openai.com/v1"),
            Profile::Azure => None,
            Profile::Groq => Some("https://api.groq.com/openai/v1"),
            Profile::WhisperCpp => Some("http://127.0.0.1:8080"),
            Profile::Speaches => Some("http://127.0.0.1:8000/v1"),
        }
    }

    fn default_model(self) -> Option<&'static str> {
        match self {
            Profile::OpenAi => Some("whisper-1"),
            Profile::Groq => Some("whisper-large-v3-turbo"),
            Profile::Speaches => Some("Systran/faster-whisper-small"),
            Profile::Azure | Profile::WhisperCpp => None,
        }
    }

    fn sends_model(self) -> bool {
        !matches!(self, Profile::Azure | Profile::WhisperCpp)
    }

    fn max_bytes(self) -> Option<u64> {
        match self {
            Profile::OpenAi | Profile::Azure | Profile::Groq => Some(OPENAI_MAX_BYTES),
            Profile::WhisperCpp | Profile::Speaches => None,
        }
    }
}

/// A secret that never shows in `Debug`.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Bearer(Secret),
    Header(String, Secret),
}

/// Whether a model only speaks `json` (the gpt-4o transcribe family, including `gpt-4o-transcribe-diarize`,
/// and `gpt-transcribe`): no segments, and a 1,400 s limit.
pub fn is_token_logprob_model(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("gpt-4o") || m.starts_with("gpt-transcribe") || m.contains("-transcribe")
}

/// Whether a model is a diarizing one (`gpt-4o-transcribe-diarize`): it rejects `include[]=logprobs` and
/// `prompt`, and needs `chunking_strategy` for audio over 30 s.
fn is_diarize_model(model: &str) -> bool {
    model.to_ascii_lowercase().contains("diarize")
}

/// Builds an [`OpenAiTranscriber`]: `new(profile)`, `from_env()`, `with_*`, `build()`.
#[derive(Debug, Clone)]
pub struct OpenAiTranscriberBuilder {
    profile: Profile,
    base_url: Option<String>,
    path: Option<String>,
    api_key: Option<Secret>,
    api_key_header: Option<String>,
    model: Option<String>,
    azure_deployment: Option<String>,
    azure_api_version: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    max_bytes: Option<Option<u64>>,
    max_duration: Option<Option<Duration>>,
    logprobs_param: String,
    silence_gate: Option<f64>,
}

impl OpenAiTranscriberBuilder {
    /// A builder for `profile` with its defaults.
    pub fn new(profile: Profile) -> Self {
        OpenAiTranscriberBuilder {
            profile,
            base_url: None,
            path: None,
            api_key: None,
            api_key_header: None,
            model: None,
            azure_deployment: None,
            azure_api_version: None,
            organization: None,
            project: None,
            timeout: None,
            connect_timeout: Duration::from_secs(10),
            max_bytes: None,
            max_duration: None,
            logprobs_param: "include[]".into(),
            silence_gate: Some(crate::audio::DEFAULT_SILENCE_GATE_DBFS),
        }
    }

    /// Reads the environment.
    ///
    /// * `CALLBOOK_TRANSCRIBE_PROFILE` — `openai` (default), `azure`, `groq`, `whisper.cpp`, `speaches`;
    /// * `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORGANIZATION`, `OPENAI_PROJECT`;
    /// * `CALLBOOK_TRANSCRIBE_MODEL` — the model; for Azure (required there) the model *behind the
    ///   deployment* (`whisper`, `gpt-4o-transcribe`…): it picks the request shape and limits and is not sent;
    /// * Azure: `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY` (else `OPENAI_API_KEY`),
    ///   `AZURE_OPENAI_DEPLOYMENT`, `AZURE_OPENAI_API_VERSION`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown profile name.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let profile = match var("CALLBOOK_TRANSCRIBE_PROFILE") {
            Some(p) => Profile::parse(&p).ok_or_else(|| {
                Error::Config(format!(
                    "CALLBOOK_TRANSCRIBE_PROFILE={p:?} is not one of openai, azure, groq, whisper.cpp, speaches"
                ))
            })?,
            None => Profile::OpenAi,
        };
        let mut b = Self::new(profile);
        if profile == Profile::Azure {
            b.base_url = var("AZURE_OPENAI_ENDPOINT").or_else(|| var("OPENAI_BASE_URL"));
            b.api_key = var("AZURE_OPENAI_API_KEY")
                .or_else(|| var("OPENAI_API_KEY"))
                .map(Secret);
            b.azure_deployment = var("AZURE_OPENAI_DEPLOYMENT");
            b.azure_api_version = var("AZURE_OPENAI_API_VERSION");
        } else {
            b.base_url = var("OPENAI_BASE_URL");
            b.api_key = var("OPENAI_API_KEY").map(Secret);
        }
        b.model = var("CALLBOOK_TRANSCRIBE_MODEL");
        b.organization = var("OPENAI_ORGANIZATION");
        b.project = var("OPENAI_PROJECT");
        Ok(b)
    }

    /// The server's base URL (tests point it at a local mock). For Azure: the resource endpoint.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Overrides the path appended to the base URL (e.g. `/v1/audio/transcriptions` for a whisper.cpp
    /// server started with `--inference-path`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret(key.into()));
        self
    }

    /// Sends the key in this header instead of `Authorization: Bearer` (Azure uses `api-key`).
    pub fn with_api_key_header(mut self, header: impl Into<String>) -> Self {
        self.api_key_header = Some(header.into());
        self
    }

    /// The model (`whisper-1`, `gpt-4o-transcribe`, `whisper-large-v3`, a speaches repo id…). For Azure and
    /// whisper.cpp it names the model behind the deployment/server: it picks the request shape
    /// (`verbose_json` for Whisper, `json` + logprobs for the gpt-4o family) and limits, and is not sent.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Azure: the deployment name.
    pub fn with_azure_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.azure_deployment = Some(deployment.into());
        self
    }

    /// Azure: the `api-version` query parameter (default [`DEFAULT_AZURE_API_VERSION`]).
    pub fn with_azure_api_version(mut self, version: impl Into<String>) -> Self {
        self.azure_api_version = Some(version.into());
        self
    }

    /// OpenAI: the `OpenAI-Organization` header.
    pub fn with_organization(mut self, org: impl Into<String>) -> Self {
        self.organization = Some(org.into());
        self
    }

    /// OpenAI: the `OpenAI-Project` header.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// A fixed total timeout per request. Default: 30 s + 1 s per second of audio, at most 10 min.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The connect timeout (default 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Overrides the upload size limit (`None`: unlimited).
    pub fn with_max_bytes(mut self, max: Option<u64>) -> Self {
        self.max_bytes = Some(max);
        self
    }

    /// Overrides the duration limit (`None`: unlimited). Default: 1,400 s for the gpt-4o family.
    pub fn with_max_duration(mut self, max: Option<Duration>) -> Self {
        self.max_duration = Some(max);
        self
    }

    /// The multipart name of the logprobs request (`include[]` by default; some servers want `include`).
    pub fn with_logprobs_param(mut self, name: impl Into<String>) -> Self {
        self.logprobs_param = name.into();
        self
    }

    /// The silence gate in dBFS (default [`crate::audio::DEFAULT_SILENCE_GATE_DBFS`], −60), or `None` to upload
    /// everything. Audio that can be decoded locally and whose loudest 30 ms frame is quieter is returned as
    /// an empty `no_speech` transcript without an upload.
    pub fn with_silence_gate(mut self, dbfs: Option<f64>) -> Self {
        self.silence_gate = dbfs;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`Error::Config`] when a required setting is missing (the key for OpenAI and Groq, the endpoint,
    /// deployment and the deployment's model for Azure), the base URL is not a URL or the API key cannot be
    /// sent in an HTTP header.
    pub fn build(self) -> Result<OpenAiTranscriber> {
        let profile = self.profile;
        let base = self
            .base_url
            .clone()
            .or_else(|| profile.default_base_url().map(str::to_owned))
            .ok_or_else(|| Error::Config(format!("{} needs a base URL (endpoint)", profile.name())))?;
        let base = base.trim_end_matches('/').to_owned();
        let path = match (&self.path, profile) {
            (Some(p), _) => p.clone(),
            (None, Profile::Azure) => {
                let deployment = self.azure_deployment.as_deref().ok_or_else(|| {
                    Error::Config("azure needs a deployment name (AZURE_OPENAI_DEPLOYMENT)".into())
                })?;
                format!("/openai/deployments/{deployment}/audio/transcriptions")
            }
            (None, Profile::WhisperCpp) => "/inference".into(),
            (None, _) => "/audio/transcriptions".into(),
        };
        let mut url = reqwest::Url::parse(&format!("{base}{path}"))
            .map_err(|e| Error::Config(format!("invalid base URL for {}: {e}", profile.name())))?;
        if profile == Profile::Azure {
            let version = self
                .azure_api_version
                .clone()
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned());
            url.query_pairs_mut().append_pair("api-version", &version);
        }
        let auth = match (self.api_key.clone(), profile, &self.api_key_header) {
            (Some(key), _, Some(header)) => Auth::Header(header.clone(), key),
            (Some(key), Profile::Azure, None) => Auth::Header("api-key".into(), key),
            (Some(key), _, None) => Auth::Bearer(key),
            (None, Profile::OpenAi | Profile::Groq | Profile::Azure, _) => {
                return Err(Error::Config(format!(
                    "{} needs an API key (OPENAI_API_KEY)",
                    profile.name()
                )));
            }
            (None, _, _) => Auth::None,
        };
        if let Auth::Bearer(Secret(key)) | Auth::Header(_, Secret(key)) = &auth
            && reqwest::header::HeaderValue::from_str(key).is_err()
        {
            return Err(Error::Config(
                "the API key holds characters not allowed in an HTTP header".into(),
            ));
        }
        let model = self
            .model
            .clone()
            .or_else(|| profile.default_model().map(str::to_owned));
        if let Some(gate) = self.silence_gate
            && (gate.is_nan() || gate > 0.0)
        {
            return Err(Error::Config(format!(
                "the silence gate must be a dBFS value ≤ 0, not {gate}"
            )));
        }
        if profile == Profile::Azure && model.is_none() {
            return Err(Error::Config(
                "azure needs the model behind the deployment (CALLBOOK_TRANSCRIBE_MODEL, e.g. whisper or \
                 gpt-4o-transcribe): it decides the request shape and is not sent"
                    .into(),
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("callbook-transcribe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(OpenAiTranscriber {
            profile,
            url,
            auth,
            model,
            organization: self.organization,
            project: self.project,
            timeout: self.timeout,
            max_bytes: self.max_bytes.unwrap_or_else(|| profile.max_bytes()),
            max_duration: self.max_duration,
            logprobs_param: self.logprobs_param,
            silence_gate: self.silence_gate,
            client,
        })
    }
}

/// The OpenAI-compatible transcriber. Build it with [`OpenAiTranscriberBuilder`].
#[derive(Debug, Clone)]
pub struct OpenAiTranscriber {
    profile: Profile,
    url: reqwest::Url,
    auth: Auth,
    model: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    timeout: Option<Duration>,
    max_bytes: Option<u64>,
    /// An explicit duration limit; otherwise it follows the effective model ([`Self::max_duration_for`]).
    max_duration: Option<Option<Duration>>,
    logprobs_param: String,
    silence_gate: Option<f64>,
    client: reqwest::Client,
}

impl OpenAiTranscriber {
    /// Shorthand for [`OpenAiTranscriberBuilder::new`].
    pub fn builder(profile: Profile) -> OpenAiTranscriberBuilder {
        OpenAiTranscriberBuilder::new(profile)
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The full request URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The model a request uses: the request's `options.model` where the profile sends a model, else the
    /// configured one (Azure and whisper.cpp: the model behind the deployment/server).
    fn effective_model<'a>(&'a self, options: &'a TranscribeOptions) -> Option<&'a str> {
        match options.model.as_deref() {
            Some(m) if self.profile.sends_model() => Some(m),
            _ => self.model.as_deref(),
        }
    }

    /// The duration limit for `model`: the configured one, else 1,400 s for the gpt-4o family.
    fn max_duration_for(&self, model: Option<&str>) -> Option<Duration> {
        match self.max_duration {
            Some(d) => d,
            None => model
                .filter(|m| is_token_logprob_model(m))
                .map(|_| GPT4O_MAX_DURATION),
        }
    }

    fn timeout_for(&self, audio: &AudioInput) -> Duration {
        self.timeout.unwrap_or_else(|| {
            let secs = 30.0 + audio.duration_seconds().unwrap_or(60.0);
            Duration::from_secs_f64(secs.min(600.0))
        })
    }

    fn form(
        &self,
        audio: &AudioInput,
        options: &TranscribeOptions,
        model: Option<&str>,
    ) -> Result<reqwest::multipart::Form> {
        let file = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::from(audio.bytes().clone()),
            audio.len() as u64,
        )
        .file_name(audio.upload_filename())
        .mime_str(audio.format().mime_type())
        .map_err(|e| Error::Config(format!("bad content type: {e}")))?;
        let mut form = reqwest::multipart::Form::new().part("file", file);
        if self.profile.sends_model()
            && let Some(model) = model
        {
            form = form.text("model", model.to_owned());
        }
        let token_model = model.is_some_and(is_token_logprob_model);
        let diarize = model.is_some_and(is_diarize_model);
        if diarize {
            form = form
                .text("response_format", "json")
                .text("chunking_strategy", "auto");
        } else if token_model {
            form = form
                .text("response_format", "json")
                .text(self.logprobs_param.clone(), "logprobs");
        } else {
            form = form
                .text("response_format", "verbose_json")
                .text("timestamp_granularities[]", "segment");
            if options.word_timestamps {
                form = form.text("timestamp_granularities[]", "word");
            }
        }
        form = form.text("temperature", "0");
        if let Some(language) = &options.language {
            form = form.text("language", language.clone());
        }
        if let Some(prompt) = options.effective_prompt()
            && !diarize
        {
            form = form.text("prompt", prompt);
        }
        Ok(form)
    }

    fn check_limits(&self, audio: &AudioInput, model: Option<&str>) -> Result<()> {
        if let Some(max) = self.max_bytes
            && audio.len() as u64 > max
        {
            return Err(Error::AudioTooLarge {
                message: format!("{} bytes is over the {max}-byte limit", audio.len()),
            });
        }
        if let (Some(max), Some(d)) = (self.max_duration_for(model), audio.duration_seconds())
            && d > max.as_secs_f64()
        {
            return Err(Error::AudioTooLarge {
                message: format!("{d:.0} s is over the {} s limit", max.as_secs()),
            });
        }
        Ok(())
    }

    async fn send(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        let model = self.effective_model(options);
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout_for(audio))
            .multipart(self.form(audio, options, model)?);
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(key) => request.bearer_auth(&key.0),
            Auth::Header(name, key) => request.header(name.as_str(), &key.0),
        };
        if let Some(org) = &self.organization {
            request = request.header("OpenAI-Organization", org);
        }
        if let Some(project) = &self.project {
            request = request.header("OpenAI-Project", project);
        }
        // Request construction errors (a header value that cannot be sent…) are configuration, not retryable.
        let request = request.build().map_err(|e| {
            Error::Config(format!(
                "cannot build the transcription request: {}",
                e.without_url()
            ))
        })?;
        let response = self.client.execute(request).await.map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = ["x-request-id", "apim-request-id", "x-groq-id"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned));
        let body = response.bytes().await.map_err(transport_error)?;
        if !status.is_success() {
            let err = wire::map_error(status.as_u16(), &headers, &body);
            tracing::warn!(
                provider = self.profile.name(),
                status = status.as_u16(),
                request_id = request_id.as_deref().unwrap_or("-"),
                retryable = err.is_retryable(),
                "transcription request failed"
            );
            return Err(err);
        }
        let mut transcript = wire::parse_transcript(&body, audio)?;
        transcript.provider = self.profile.name().to_owned();
        transcript.model = model.map(str::to_owned);
        transcript.request_id = request_id;
        if transcript.language.is_none() {
            transcript.language.clone_from(&options.language);
        }
        crate::confidence::finalize(&mut transcript);
        Ok(transcript)
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    if e.is_builder() {
        Error::Config(format!(
            "cannot build the transcription request: {}",
            e.without_url()
        ))
    } else if e.is_timeout() {
        Error::Timeout
    } else if e.is_connect() {
        Error::Unavailable {
            status: None,
            retry_after: None,
            message: "cannot connect to the transcription server".into(),
        }
    } else {
        Error::Transport {
            source: Box::new(e.without_url()),
        }
    }
}

#[async_trait]
impl Transcriber for OpenAiTranscriber {
    fn provider(&self) -> &str {
        self.profile.name()
    }

    fn capabilities(&self) -> Capabilities {
        let token_model = self.model.as_deref().is_some_and(is_token_logprob_model);
        Capabilities {
            segments: !token_model,
            confidence: true,
            word_timestamps: !token_model,
            language_hint: true,
            prompt: true,
            max_bytes: self.max_bytes,
            max_duration: self.max_duration_for(self.model.as_deref()),
            offline: false,
        }
    }

    async fn transcribe(&self, audio: &AudioInput, options: &TranscribeOptions) -> Result<Transcript> {
        if let Some(silent) = self.silent_transcript(audio, options) {
            return Ok(silent);
        }
        if options.split_channels && audio.channels().unwrap_or(1) > 1 {
            return crate::channels::transcribe_channels_apart(audio, options, |part, opts| {
                Box::pin(async move { self.transcribe(&part, &opts).await })
            })
            .await;
        }
        let model = self.effective_model(options);
        if self.check_limits(audio, model).is_err() {
            return crate::chunking::transcribe_in_chunks(
                audio,
                options,
                self.max_bytes,
                self.max_duration_for(model),
                |part, opts| Box::pin(async move { self.transcribe_one(&part, &opts).await }),
            )
            .await;
        }
        self.send(audio, options).await
    }
}

impl OpenAiTranscriber {
    /// An empty `no_speech` transcript when the silence gate is on and the audio decodes locally to nothing
    /// louder than the gate (undecodable audio, e.g. Opus, is uploaded as it is).
    fn silent_transcript(&self, audio: &AudioInput, options: &TranscribeOptions) -> Option<Transcript> {
        let gate = self.silence_gate?;
        if !audio.format().is_decodable() {
            return None;
        }
        let decoded = crate::audio::decode_pcm(audio).ok()?;
        if !crate::audio::is_silent(&decoded, gate) {
            return None;
        }
        tracing::debug!(provider = self.profile.name(), "silence gate: audio not uploaded");
        Some(Transcript {
            provider: self.profile.name().to_owned(),
            model: self.effective_model(options).map(str::to_owned),
            duration_seconds: Some(decoded.duration_seconds()),
            language: options.language.clone(),
            no_speech: true,
            ..Default::default()
        })
    }

    /// Sends one request without splitting (used for each chunk of an over-limit recording).
    pub(crate) async fn transcribe_one(
        &self,
        audio: &AudioInput,
        options: &TranscribeOptions,
    ) -> Result<Transcript> {
        self.check_limits(audio, self.effective_model(options))?;
        self.send(audio, options).await
    }
}
