//! The simulator endpoints: how `callbook simulate-call` and `callbook demo` hand a simulated call's audio to
//! a server that has no Twilio account.
//!
//! Without `TWILIO_AUTH_TOKEN` the server downloads recordings from its in-process
//! [`FakeTelephony`](callbook_telephony::fake::FakeTelephony), so whoever plays Twilio's part must first put
//! the audio there. These routes exist only then ([`router`] is empty otherwise, so they answer 404 on a
//! server with a Twilio account):
//!
//! - `POST /simulator/recordings?call_sid=CA…&duration=N` — body: the audio (`Content-Type` kept, default
//!   `audio/wav`; at most [`MAX_AUDIO_BYTES`], else 413). Registers a completed recording for the call and
//!   answers `201 {"recording_sid": "RE…", "duration": N}`. The caller then sends the signed recording
//!   callback naming that `RecordingSid`.
//! - `PUT /simulator/transcripts/{sha256}` — body: the transcript as UTF-8 text (plain lines, `Agent:` /
//!   `Caller:` labels kept). Writes `<sha256>.txt` into `CALLBOOK_DEMO_TRANSCRIPTS`, where the demo
//!   transcriber finds it for the audio with that SHA-256 (lower-case hex). 404 when the server does not use
//!   the demo transcriber. Answers 204.
//!
//! Both need `Authorization: Bearer <token>` with the token webhooks are verified with
//! (`DATA_DIR/simulator.token`), compared in constant time; 401 otherwise. Nothing is logged but sizes and
//! sids.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use callbook_telephony::telephony::CallSid;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::app::AppState;

/// Path of the recording upload.
pub const RECORDINGS_PATH: &str = "/simulator/recordings";
/// Path prefix of the transcript upload (`/simulator/transcripts/{sha256}`).
pub const TRANSCRIPTS_PATH: &str = "/simulator/transcripts";
/// The largest audio upload accepted (50 MiB).
pub const MAX_AUDIO_BYTES: usize = 50 * 1024 * 1024;
/// The largest transcript upload accepted (1 MiB).
pub const MAX_TRANSCRIPT_BYTES: usize = 1024 * 1024;

/// The simulator routes when the server runs the fake telephony, else an empty router (so they are 404).
pub fn router(state: &AppState) -> Router {
    if state.fake_telephony.is_none() {
        return Router::new();
    }
    Router::new()
        .route(
            RECORDINGS_PATH,
            post(upload_recording).layer(DefaultBodyLimit::max(MAX_AUDIO_BYTES)),
        )
        .route(
            "/simulator/transcripts/{sha256}",
            put(upload_transcript).layer(DefaultBodyLimit::max(MAX_TRANSCRIPT_BYTES)),
        )
        .with_state(state.clone())
}

/// The query of `POST /simulator/recordings`.
#[derive(Debug, Deserialize)]
pub struct RecordingQuery {
    /// The call's `CallSid` (`CA` + 32 hex digits).
    pub call_sid: String,
    /// The recording's length in seconds.
    pub duration: u32,
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(json!({ "status": status.as_u16(), "detail": detail })),
    )
        .into_response()
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    bool::from(
        given
            .trim()
            .as_bytes()
            .ct_eq(state.webhook_token.expose().as_bytes()),
    )
}

fn unauthorized() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "send `Authorization: Bearer <token>` with the server's simulator token (DATA_DIR/simulator.token)",
    )
}

fn valid_call_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("CA") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `POST /simulator/recordings`: registers the body as the call's completed recording in the fake telephony.
pub async fn upload_recording(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<RecordingQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let Some(fake) = state.fake_telephony.as_ref() else {
        return problem(StatusCode::NOT_FOUND, "this server uses a real Twilio account");
    };
    let Ok(Query(query)) = query else {
        return problem(
            StatusCode::BAD_REQUEST,
            "expected ?call_sid=CA…&duration=<seconds>",
        );
    };
    if !valid_call_sid(&query.call_sid) {
        return problem(
            StatusCode::BAD_REQUEST,
            "call_sid is not CA followed by 32 hex digits",
        );
    }
    let audio = match body {
        Ok(audio) => audio,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the audio is larger than {MAX_AUDIO_BYTES} bytes"),
            );
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    if audio.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "the audio is empty");
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("audio/"))
        .unwrap_or("audio/wav")
        .to_owned();
    let call_sid = CallSid::new(&query.call_sid);
    // The fake numbers its recordings from 1 in every process: a sid already handed out before a restart
    // would make the recording callback look like a repeat. Skip sids this database has seen.
    let bytes = audio.len();
    let mut recording =
        fake.add_completed_recording(&call_sid, &content_type, audio.clone(), query.duration, 1);
    for _ in 0..100_000 {
        let key = format!("simulator:recording:{}", recording.sid.as_str());
        match state.store.first_delivery(state.tenant.id, &key).await {
            Ok(true) => break,
            Ok(false) => {
                recording =
                    fake.add_completed_recording(&call_sid, &content_type, audio.clone(), query.duration, 1);
            }
            Err(e) => {
                tracing::error!(error = %e, "simulator: job store unavailable");
                return problem(StatusCode::SERVICE_UNAVAILABLE, "the job store is unavailable");
            }
        }
    }
    tracing::info!(recording = %recording.sid.as_str(), bytes, "simulator: recording registered");
    (
        StatusCode::CREATED,
        Json(json!({ "recording_sid": recording.sid.as_str(), "duration": query.duration })),
    )
        .into_response()
}

/// `PUT /simulator/transcripts/{sha256}`: the demo transcriber's sidecar for the audio with that hash.
pub async fn upload_transcript(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha256): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let Some(dir) = state.demo_transcripts_dir.as_ref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "this server does not use the demo transcriber (CALLBOOK_TRANSCRIBER=demo)",
        );
    };
    if sha256.len() != 64 || !sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return problem(
            StatusCode::BAD_REQUEST,
            "expected the audio's SHA-256 as 64 lower-case hex digits",
        );
    }
    let text = match body {
        Ok(text) => text,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the transcript is larger than {MAX_TRANSCRIPT_BYTES} bytes"),
            );
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    if std::str::from_utf8(&text).is_err() {
        return problem(StatusCode::BAD_REQUEST, "the transcript is not UTF-8 text");
    }
    let path = dir.join(format!("{sha256}.txt"));
    let written = async {
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::write(&path, &text).await
    }
    .await;
    match written {
        Ok(()) => {
            tracing::info!(bytes = text.len(), "simulator: transcript stored");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "simulator: cannot write the transcript");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "cannot write the transcript")
        }
    }
}
