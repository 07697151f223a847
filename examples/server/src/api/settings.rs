//! Tenant settings: a typed, validated view of `Tenant.settings` plus the tenant profile.
//!
//! The settings document is JSON the server owns; these sections are validated on every write (every bad
//! field is reported at once, `422 validation_failed` with `errors[]`):
//!
//! | section | fields | read by |
//! |---|---|---|
//! | `voice` | `greeting`, `recording_notice`, `ai_disclosure`, `voicemail_prompt`, `goodbye`, `no_message` (text ≤ 1000), `say_voice`, `language`, `max_message_seconds` (10–3600), `lines["+E164"]` per-line overrides of the same keys plus `forward_to` | the voice webhook |
//! | `filtering` | `block`, `allow` (E.164 numbers or prefixes: `+` and 1–15 digits), `min_call_seconds` (0–600), `reject_anonymous`, `reject_failed_attestation` (Twilio `StirVerstat` `TN-Validation-Failed-*`) | the voice and recording webhooks |
//! | `retention` | `audio_days`, `transcript_days`, `extraction_days` (0–36500 or `null` = keep) | [`crate::retention`] |
//! | `extraction` | `review_threshold` (0–1) | the pipeline worker |
//! | `profile` | `services` (≤ 100 names), `vocabulary` (≤ 200 words, passed to the transcriber) | the pipeline worker |
//! | `notifications` | per-user preferences (`users["<uuid>"]`), callbook-pipeline's schema | the notifiers |
//! | `phone_lines` | managed by `/phone-lines` (read-only here) | the phone-line endpoints |
//!
//! Routes: `GET /settings` (the document, `ETag`), `PATCH /settings` (a JSON merge patch, RFC 7396, needs
//! `If-Match`; admin), `GET/PUT /settings/profile` (name, zone, opening hours, services, vocabulary; admin for
//! `PUT`), `GET/PUT /settings/notifications/me` (the signed-in user's own preferences).
//!
//! **Concurrency**: the `ETag` is a SHA-256 of the tenant's name, zone, hours and settings (the store keeps no
//! settings version). Writes need `If-Match` (`428` without, `412 precondition_failed` when stale). Writes in
//! one process are serialised; two processes writing at the same instant can still race (last write wins).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use callbook_jobs::{OpeningHours, PhoneNumber, Role, Tenant, TenantProfile, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Principal;
use super::lines::LineError;
use super::problem::{ApiError, FieldProblem, Problem};

/// Serialises settings writes in this process (read-check-write of the document).
pub(crate) static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Text settings callers hear.
const VOICE_TEXTS: [&str; 6] = [
    "greeting",
    "recording_notice",
    "ai_disclosure",
    "voicemail_prompt",
    "goodbye",
    "no_message",
];

/// Top-level sections a `PATCH` may touch.
const PATCHABLE: [&str; 6] = [
    "voice",
    "filtering",
    "retention",
    "extraction",
    "profile",
    "notifications",
];

/// The settings document's `ETag`: a hash of everything a settings write can change.
pub fn etag(tenant: &Tenant) -> String {
    let doc = json!({
        "name": tenant.name,
        "timezone": tenant.timezone.name(),
        "hours": tenant.business_hours,
        "settings": tenant.settings,
    });
    let digest = Sha256::digest(doc.to_string().as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn precondition_failed() -> LineError {
    LineError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "Precondition failed",
        "the settings changed since you read them: read them again (new ETag) and re-apply your change",
    )
}

/// Checks `If-Match` against the tenant's current ETag.
fn check_if_match(headers: &HeaderMap, tenant: &Tenant) -> Result<(), LineError> {
    let sent = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| LineError::from(ApiError::precondition_required()))?;
    if sent == "*" {
        return Ok(());
    }
    let current = etag(tenant);
    let weakless = |s: &str| s.trim_start_matches("W/").to_owned();
    if sent.split(',').any(|t| weakless(t.trim()) == current) {
        Ok(())
    } else {
        Err(precondition_failed())
    }
}

fn with_etag<T: Serialize>(tenant: &Tenant, body: T) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(tenant)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

// ------------------------------------------------------------------------------------------- validation

fn problem(errors: &mut Vec<FieldProblem>, field: impl Into<String>, message: impl Into<String>) {
    errors.push(FieldProblem {
        field: field.into(),
        message: message.into(),
    });
}

/// Whether `s` is an E.164 number or prefix: `+` then 1–15 digits.
pub fn is_e164_prefix(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn check_text(errors: &mut Vec<FieldProblem>, path: &str, v: &Value, max: usize, allow_empty: bool) {
    match v.as_str() {
        Some(s) if s.chars().count() > max => problem(errors, path, format!("at most {max} characters")),
        Some(s) if !allow_empty && s.trim().is_empty() => problem(errors, path, "must not be empty"),
        Some(_) => {}
        None => problem(errors, path, "must be a string"),
    }
}

fn check_int(errors: &mut Vec<FieldProblem>, path: &str, v: &Value, min: u64, max: u64, nullable: bool) {
    if nullable && v.is_null() {
        return;
    }
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => {}
        _ => problem(
            errors,
            path,
            format!(
                "must be a whole number from {min} to {max}{}",
                if nullable { " or null" } else { "" }
            ),
        ),
    }
}

fn check_bool(errors: &mut Vec<FieldProblem>, path: &str, v: &Value) {
    if !v.is_boolean() {
        problem(errors, path, "must be true or false");
    }
}

fn check_object<'a>(
    errors: &mut Vec<FieldProblem>,
    path: &str,
    v: &'a Value,
) -> Option<&'a Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        _ => {
            problem(errors, path, "must be an object");
            None
        }
    }
}

fn unknown(errors: &mut Vec<FieldProblem>, path: &str, key: &str) {
    problem(errors, format!("{path}.{key}"), "unknown setting");
}

fn check_voice_fields(errors: &mut Vec<FieldProblem>, path: &str, map: &Map<String, Value>, line: bool) {
    for (k, v) in map {
        let p = format!("{path}.{k}");
        match k.as_str() {
            k if VOICE_TEXTS.contains(&k) => check_text(errors, &p, v, 1000, line),
            "say_voice" => check_text(errors, &p, v, 64, false),
            "language" => match v.as_str() {
                Some(s)
                    if !s.is_empty()
                        && s.len() <= 16
                        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {}
                _ => problem(errors, &p, "must be a language tag such as en-US"),
            },
            "max_message_seconds" => check_int(errors, &p, v, 10, 3600, false),
            "forward_to" if line || path == "voice" => match v.as_str() {
                Some("") => {}
                Some(s) if PhoneNumber::parse(s).is_ok() => {}
                _ => problem(errors, &p, "must be an E.164 number or empty"),
            },
            "lines" if !line => {
                if let Some(lines) = check_object(errors, &p, v) {
                    for (number, over) in lines {
                        let lp = format!("voice.lines[\"{number}\"]");
                        if PhoneNumber::parse(number).is_err() {
                            problem(errors, &lp, "the key must be an E.164 number");
                        }
                        if let Some(over) = check_object(errors, &lp, over) {
                            check_voice_fields(errors, &lp, over, true);
                        }
                    }
                }
            }
            other => unknown(errors, path, other),
        }
    }
}

/// Validates a whole settings document; every problem is returned.
pub fn validate(settings: &Value) -> Vec<FieldProblem> {
    let mut errors = Vec::new();
    let Some(doc) = check_object(&mut errors, "settings", settings) else {
        return errors;
    };
    if let Some(v) = doc.get("voice")
        && let Some(m) = check_object(&mut errors, "voice", v)
    {
        check_voice_fields(&mut errors, "voice", m, false);
    }
    if let Some(v) = doc.get("filtering")
        && let Some(m) = check_object(&mut errors, "filtering", v)
    {
        for (k, v) in m {
            let p = format!("filtering.{k}");
            match k.as_str() {
                "block" | "allow" => match v.as_array() {
                    Some(list) if list.len() <= 10_000 => {
                        for (i, item) in list.iter().enumerate() {
                            if !item.as_str().is_some_and(is_e164_prefix) {
                                problem(
                                    &mut errors,
                                    format!("{p}[{i}]"),
                                    "must be + and 1–15 digits (a number or prefix)",
                                );
                            }
                        }
                    }
                    _ => problem(
                        &mut errors,
                        &p,
                        "must be a list of at most 10000 numbers or prefixes",
                    ),
                },
                "min_call_seconds" => check_int(&mut errors, &p, v, 0, 600, false),
                "reject_anonymous" | "reject_failed_attestation" => check_bool(&mut errors, &p, v),
                other => unknown(&mut errors, "filtering", other),
            }
        }
    }
    if let Some(v) = doc.get("retention")
        && let Some(m) = check_object(&mut errors, "retention", v)
    {
        for (k, v) in m {
            match k.as_str() {
                "audio_days" | "transcript_days" | "extraction_days" => check_int(
                    &mut errors,
                    &format!("retention.{k}"),
                    v,
                    0,
                    u64::from(crate::retention::MAX_DAYS),
                    true,
                ),
                other => unknown(&mut errors, "retention", other),
            }
        }
    }
    if let Some(v) = doc.get("extraction")
        && let Some(m) = check_object(&mut errors, "extraction", v)
    {
        for (k, v) in m {
            match k.as_str() {
                "review_threshold" => {
                    if !v.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)) {
                        problem(
                            &mut errors,
                            "extraction.review_threshold",
                            "must be a number from 0 to 1",
                        );
                    }
                }
                other => unknown(&mut errors, "extraction", other),
            }
        }
    }
    if let Some(v) = doc.get("profile")
        && let Some(m) = check_object(&mut errors, "profile", v)
    {
        for (k, v) in m {
            let (max_items, max_len) = match k.as_str() {
                "services" => (100, 100),
                "vocabulary" => (200, 64),
                other => {
                    unknown(&mut errors, "profile", other);
                    continue;
                }
            };
            match v.as_array() {
                Some(list) if list.len() <= max_items => {
                    for (i, item) in list.iter().enumerate() {
                        check_text(&mut errors, &format!("profile.{k}[{i}]"), item, max_len, false);
                    }
                }
                _ => problem(
                    &mut errors,
                    format!("profile.{k}"),
                    format!("must be a list of at most {max_items} strings"),
                ),
            }
        }
    }
    if let Some(v) = doc.get("notifications")
        && let Some(m) = check_object(&mut errors, "notifications", v)
        && let Some(users) = m.get("users")
        && let Some(users) = check_object(&mut errors, "notifications.users", users)
    {
        for (id, prefs) in users {
            let p = format!("notifications.users[\"{id}\"]");
            if id.parse::<callbook_jobs::UserId>().is_err() {
                problem(&mut errors, &p, "the key must be a user id");
            }
            validate_user_prefs(&mut errors, &p, prefs);
        }
    }
    errors
}

fn validate_user_prefs(errors: &mut Vec<FieldProblem>, path: &str, prefs: &Value) {
    use callbook_pipeline::notify::{Channel, EventKind};
    let Some(m) = check_object(errors, path, prefs) else {
        return;
    };
    for (k, v) in m {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "email" => match v.as_str() {
                Some(s)
                    if s.len() <= 254
                        && s.split_once('@')
                            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) => {}
                _ if v.is_null() => {}
                _ => problem(errors, &p, "must be an e-mail address or null"),
            },
            "channels" | "kinds" if v.is_null() => {}
            "channels" => match v.as_array() {
                Some(list) => {
                    for (i, c) in list.iter().enumerate() {
                        if c.as_str().and_then(Channel::parse).is_none() {
                            problem(errors, format!("{p}[{i}]"), "must be live, email or in_app");
                        }
                    }
                }
                None => problem(errors, &p, "must be a list of channels or null"),
            },
            "kinds" => match v.as_array() {
                Some(list) => {
                    for (i, c) in list.iter().enumerate() {
                        if c.as_str().and_then(EventKind::parse).is_none() {
                            problem(
                                errors,
                                format!("{p}[{i}]"),
                                "must be an event kind such as job.created",
                            );
                        }
                    }
                }
                None => problem(errors, &p, "must be a list of event kinds or null"),
            },
            other => unknown(errors, path, other),
        }
    }
}

/// RFC 7396 JSON merge patch: objects merge recursively, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

// --------------------------------------------------------------------------------------------- handlers

/// The tenant's settings document (see the module docs for its sections), with its `ETag`.
#[utoipa::path(get, path = "/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Object, headers(("ETag" = String, description = "the document's version"))),
        (status = 401, body = Problem)))]
pub async fn get_settings(
    State(state): State<ApiState>,
    principal: Principal,
) -> Result<Response, LineError> {
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let mut settings = tenant.settings.clone();
    if principal.require(Role::Admin).is_err() {
        // Staff read the working settings, not the account's: no billing section, and only their own
        // notification preferences (others' e-mail addresses are theirs).
        if let Some(object) = settings.as_object_mut() {
            object.remove("billing");
        }
        if let Some(users) = settings
            .get_mut("notifications")
            .and_then(|n| n.get_mut("users"))
            .and_then(Value::as_object_mut)
        {
            let own = principal.user.map(|u| u.to_string());
            users.retain(|id, _| own.as_deref() == Some(id.as_str()));
        }
    }
    // The ETag is of the whole document, so an admin's write check is unaffected by what staff see.
    Ok(with_etag(&tenant, settings))
}

/// Changes settings with a JSON merge patch (RFC 7396: `null` removes a key, objects merge). The result is
/// validated as a whole: `422` lists every bad field and nothing is saved. Needs `If-Match` and the admin role.
/// A `retention` section set to `null` falls back to the defaults.
#[utoipa::path(patch, path = "/settings", tag = "settings", security(("bearer" = [])), request_body = Object,
    params(("If-Match" = String, Header, description = "the ETag you read")),
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn patch_settings(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, LineError> {
    principal.require(Role::Admin)?;
    let Json(patch) = body?;
    let Some(map) = patch.as_object() else {
        return Err(ApiError::invalid("body", "must be a JSON object (a merge patch)").into());
    };
    let mut errors = Vec::new();
    for key in map.keys() {
        if !PATCHABLE.contains(&key.as_str()) {
            let message = if key == "phone_lines" {
                "managed through /phone-lines"
            } else {
                "unknown settings section"
            };
            problem(&mut errors, key.clone(), message);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let _guard = WRITE_LOCK.lock().await;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    check_if_match(&headers, &tenant)?;
    let mut settings = tenant.settings.clone();
    merge_patch(&mut settings, &patch);
    let errors = validate(&settings);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let tenant = state
        .store
        .update_tenant_settings(principal.tenant, settings)
        .await?;
    audit(
        &state,
        &principal,
        "settings.updated",
        json!({"sections": map.keys().collect::<Vec<_>>()}),
    )
    .await;
    Ok(with_etag(&tenant, tenant.settings.clone()))
}

async fn audit(state: &ApiState, principal: &Principal, action: &str, details: Value) {
    super::privacy::audit(
        state,
        principal,
        action,
        "tenant",
        principal.tenant.to_string(),
        details,
    )
    .await;
}

/// The business profile.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    /// Business name (said in the greeting as `{business}`).
    pub name: String,
    /// IANA zone, e.g. `America/New_York`.
    pub timezone: String,
    /// Opening hours: `weekday` 1 = Monday … 7 = Sunday, `open`/`close` as `HH:MM[:SS]`.
    #[schema(value_type = Vec<Object>)]
    pub business_hours: Vec<OpeningHours>,
    /// Services offered (free text, shown to staff).
    #[serde(default)]
    pub services: Vec<String>,
    /// Words and names the transcriber should expect (brands, street names, jargon).
    #[serde(default)]
    pub vocabulary: Vec<String>,
}

fn profile_of(tenant: &Tenant) -> Profile {
    let list = |key: &str| -> Vec<String> {
        tenant.settings["profile"][key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    Profile {
        name: tenant.name.clone(),
        timezone: tenant.timezone.name().to_owned(),
        business_hours: tenant.business_hours.clone(),
        services: list("services"),
        vocabulary: list("vocabulary"),
    }
}

/// The business profile: name, zone, opening hours, services and transcription vocabulary.
#[utoipa::path(get, path = "/settings/profile", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = Problem)))]
pub async fn get_profile(State(state): State<ApiState>, principal: Principal) -> Result<Response, LineError> {
    let tenant = state.store.get_tenant(principal.tenant).await?;
    Ok(with_etag(&tenant, profile_of(&tenant)))
}

/// Replaces the business profile. Needs `If-Match` (the settings ETag) and the admin role.
#[utoipa::path(put, path = "/settings/profile", tag = "settings", security(("bearer" = [])), request_body = Profile,
    params(("If-Match" = String, Header, description = "the ETag you read")),
    responses((status = 200, body = Profile), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn put_profile(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<Profile>, JsonRejection>,
) -> Result<Response, LineError> {
    principal.require(Role::Admin)?;
    let Json(profile) = body?;
    let mut errors = Vec::new();
    if profile.name.trim().is_empty() || profile.name.chars().count() > 200 {
        problem(&mut errors, "name", "must be 1–200 characters");
    }
    let timezone = TimeZone::parse(&profile.timezone).ok();
    if timezone.is_none() {
        problem(
            &mut errors,
            "timezone",
            "must be an IANA zone such as America/New_York",
        );
    }
    for (i, h) in profile.business_hours.iter().enumerate() {
        if !(1..=7).contains(&h.weekday) {
            problem(
                &mut errors,
                format!("business_hours[{i}].weekday"),
                "must be 1 (Monday) to 7 (Sunday)",
            );
        }
        if h.open >= h.close {
            problem(
                &mut errors,
                format!("business_hours[{i}].close"),
                "must be after open",
            );
        }
    }
    let _guard = WRITE_LOCK.lock().await;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let mut settings = tenant.settings.clone();
    merge_patch(
        &mut settings,
        &json!({"profile": {"services": profile.services, "vocabulary": profile.vocabulary}}),
    );
    errors.extend(validate(&settings));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    check_if_match(&headers, &tenant)?;
    let Some(timezone) = timezone else {
        return Err(ApiError::invalid("timezone", "must be an IANA zone").into());
    };
    state
        .store
        .update_tenant_profile(
            principal.tenant,
            TenantProfile {
                name: profile.name.trim().to_owned(),
                timezone,
                business_hours: profile.business_hours.clone(),
            },
        )
        .await?;
    let tenant = state
        .store
        .update_tenant_settings(principal.tenant, settings)
        .await?;
    audit(&state, &principal, "settings.profile_updated", json!({})).await;
    Ok(with_etag(&tenant, profile_of(&tenant)))
}

/// One user's notification preferences (callbook-pipeline's schema; `null` = the defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct NotificationPrefs {
    /// Where e-mail goes; no e-mail without it.
    pub email: Option<String>,
    /// `live`, `email`, `in_app`; `null` = all.
    pub channels: Option<Vec<String>>,
    /// Event kinds (`job.created`, `call.needs_review` …); `null` = all.
    pub kinds: Option<Vec<String>>,
}

fn my_user(principal: &Principal) -> Result<callbook_jobs::UserId, LineError> {
    principal.user.ok_or_else(|| {
        LineError::new(
            StatusCode::CONFLICT,
            "no_user",
            "No user",
            "this token belongs to no user: sign in as a user to set personal notification preferences",
        )
    })
}

/// The signed-in user's notification preferences.
#[utoipa::path(get, path = "/settings/notifications/me", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = NotificationPrefs), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn get_my_notifications(
    State(state): State<ApiState>,
    principal: Principal,
) -> Result<Response, LineError> {
    let user = my_user(&principal)?;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let entry = &tenant.settings["notifications"]["users"][user.to_string()];
    let prefs: NotificationPrefs = serde_json::from_value(entry.clone()).unwrap_or_default();
    Ok(with_etag(&tenant, prefs))
}

/// Replaces the signed-in user's notification preferences (validated like `PATCH /settings`). Needs
/// `If-Match`.
#[utoipa::path(put, path = "/settings/notifications/me", tag = "settings", security(("bearer" = [])),
    request_body = NotificationPrefs,
    params(("If-Match" = String, Header, description = "the ETag you read")),
    responses((status = 200, body = NotificationPrefs), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn put_my_notifications(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<NotificationPrefs>, JsonRejection>,
) -> Result<Response, LineError> {
    let user = my_user(&principal)?;
    let Json(prefs) = body?;
    let _guard = WRITE_LOCK.lock().await;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    check_if_match(&headers, &tenant)?;
    let mut settings = tenant.settings.clone();
    let entry = serde_json::to_value(&prefs).map_err(|_| LineError::from(ApiError::internal()))?;
    let users = settings
        .as_object_mut()
        .map(|m| m.entry("notifications").or_insert_with(|| json!({})))
        .and_then(|n| {
            if !n.is_object() {
                *n = json!({});
            }
            n.as_object_mut()
        })
        .map(|n| n.entry("users").or_insert_with(|| json!({})));
    match users {
        Some(Value::Object(users)) => {
            users.insert(user.to_string(), entry);
        }
        _ => return Err(ApiError::internal().into()),
    }
    let errors: Vec<FieldProblem> = validate(&settings)
        .into_iter()
        .filter(|e| e.field.starts_with("notifications"))
        .map(|e| FieldProblem {
            field: e
                .field
                .rsplit_once("\"].")
                .map_or(e.field.clone(), |(_, rest)| rest.to_owned()),
            message: e.message,
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let tenant = state
        .store
        .update_tenant_settings(principal.tenant, settings)
        .await?;
    Ok(with_etag(&tenant, prefs))
}

/// Body of `POST /settings/filtering/block`: a number (or prefix), or a call whose caller to block.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BlockRequest {
    /// An E.164 number or prefix.
    pub number: Option<String>,
    /// A call of the tenant: its caller is blocked ("mark as spam").
    pub call_id: Option<String>,
}

/// Adds a caller to the block list ("mark as spam"): future calls from it are rejected before they are
/// answered. Idempotent. Staff may do it; no `If-Match` is needed (adding to a set commutes). Audited without
/// the number.
#[utoipa::path(post, path = "/settings/filtering/block", tag = "settings", security(("bearer" = [])),
    request_body = BlockRequest,
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn block_caller(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<BlockRequest>, JsonRejection>,
) -> Result<Response, LineError> {
    let Json(body) = body?;
    let number = match (body.number.as_deref().map(str::trim), body.call_id.as_deref()) {
        (Some(n), None) if is_e164_prefix(n) => n.to_owned(),
        (Some(_), None) => return Err(ApiError::invalid("number", "must be + and 1–15 digits").into()),
        (None, Some(call)) => {
            let id: callbook_jobs::CallId = call.parse().map_err(|_| ApiError::not_found("call"))?;
            let call = state.store.get_call(principal.tenant, id).await?;
            call.from
                .map(|f| f.as_str().to_owned())
                .ok_or_else(|| ApiError::invalid("call_id", "the caller withheld their number"))?
        }
        _ => return Err(ApiError::invalid("body", "send either `number` or `call_id`").into()),
    };
    let _guard = WRITE_LOCK.lock().await;
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let mut settings = tenant.settings.clone();
    if !settings["filtering"].is_object() {
        settings["filtering"] = json!({});
    }
    if !settings["filtering"]["block"].is_array() {
        settings["filtering"]["block"] = json!([]);
    }
    let added = match settings["filtering"]["block"].as_array_mut() {
        Some(list) if !list.iter().any(|v| v.as_str() == Some(number.as_str())) => {
            list.push(json!(number));
            true
        }
        _ => false,
    };
    let tenant = if added {
        let errors = validate(&settings);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let tenant = state
            .store
            .update_tenant_settings(principal.tenant, settings)
            .await?;
        audit(
            &state,
            &principal,
            "filtering.blocked",
            json!({"via_call": body.call_id.is_some()}),
        )
        .await;
        tenant
    } else {
        tenant
    };
    Ok(with_etag(&tenant, json!({"blocked": true, "added": added})))
}

// ------------------------------------------------------------------------------------------ call filter

/// The call-filtering settings, as the webhooks read them (`settings["filtering"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Numbers or prefixes always rejected.
    pub block: Vec<String>,
    /// When non-empty, only callers matching one of these get through.
    pub allow: Vec<String>,
    /// Recordings shorter than this are not transcribed (0 = off).
    pub min_call_seconds: u32,
    /// Reject callers who withhold their number.
    pub reject_anonymous: bool,
    /// Reject callers whose STIR/SHAKEN verification failed (`StirVerstat: TN-Validation-Failed-*`).
    pub reject_failed_attestation: bool,
}

impl CallFilter {
    /// Reads `settings["filtering"]` (invalid parts are ignored; the settings API refuses them).
    pub fn from_settings(settings: &Value) -> Self {
        let f = &settings["filtering"];
        let list = |k: &str| -> Vec<String> {
            f[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .filter(|s| is_e164_prefix(s))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            block: list("block"),
            allow: list("allow"),
            min_call_seconds: f["min_call_seconds"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            reject_anonymous: f["reject_anonymous"].as_bool().unwrap_or(false),
            reject_failed_attestation: f["reject_failed_attestation"].as_bool().unwrap_or(false),
        }
    }

    /// Why a caller is refused (`blocked`, `not_allowed`, `anonymous`, `failed_attestation`), or `None`.
    /// `from` is the caller as Twilio sends it (`+1…`, or `anonymous`/`restricted`/empty when withheld);
    /// `stir_verstat` is Twilio's `StirVerstat` parameter.
    pub fn refuse(&self, from: Option<&str>, stir_verstat: Option<&str>) -> Option<&'static str> {
        let number = from.map(str::trim).filter(|f| is_e164_prefix(f));
        if let Some(n) = number
            && self.block.iter().any(|p| n.starts_with(p.as_str()))
        {
            return Some("blocked");
        }
        if self.reject_failed_attestation
            && stir_verstat.is_some_and(|v| v.trim().starts_with("TN-Validation-Failed"))
        {
            return Some("failed_attestation");
        }
        match number {
            None if self.reject_anonymous => return Some("anonymous"),
            None if !self.allow.is_empty() => return Some("not_allowed"),
            Some(n) if !self.allow.is_empty() && !self.allow.iter().any(|p| n.starts_with(p.as_str())) => {
                return Some("not_allowed");
            }
            _ => {}
        }
        None
    }
}

/// Field name → value pairs, for tests and docs of the default document.
pub fn defaults() -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        (
            "filtering",
            json!({"block": [], "allow": [], "min_call_seconds": 0,
            "reject_anonymous": false, "reject_failed_attestation": false}),
        ),
        (
            "retention",
            json!({"audio_days": 90, "transcript_days": null, "extraction_days": null}),
        ),
        ("extraction", json!({"review_threshold": 0.5})),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // RFC 7396 appendix A examples.
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [{"b": "c"}]});
        merge_patch(&mut t, &json!({"a": [1]}));
        assert_eq!(t, json!({"a": [1]}));
        let mut t = json!(["a", "b"]);
        merge_patch(&mut t, &json!({"a": "b"}));
        assert_eq!(t, json!({"a": "b"}));
        let mut t = json!({"e": null});
        merge_patch(&mut t, &json!({"a": 1}));
        assert_eq!(t, json!({"e": null, "a": 1}));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let doc = json!({
            "voice": {"greeting": 5, "max_message_seconds": 1, "lines": {"nope": {"forward_to": "x"}}},
            "filtering": {"block": ["+1", "12"], "min_call_seconds": 601, "reject_anonymous": "yes", "x": 1},
            "retention": {"audio_days": -1, "transcript_days": null},
            "extraction": {"review_threshold": 2},
            "profile": {"vocabulary": [""]},
            "notifications": {"users": {"not-a-uuid": {"channels": ["pigeon"]}}}
        });
        let fields: Vec<String> = validate(&doc).into_iter().map(|e| e.field).collect();
        for f in [
            "voice.greeting",
            "voice.max_message_seconds",
            "voice.lines[\"nope\"]",
            "voice.lines[\"nope\"].forward_to",
            "filtering.block[1]",
            "filtering.min_call_seconds",
            "filtering.reject_anonymous",
            "filtering.x",
            "retention.audio_days",
            "extraction.review_threshold",
            "profile.vocabulary[0]",
            "notifications.users[\"not-a-uuid\"]",
            "notifications.users[\"not-a-uuid\"].channels[0]",
        ] {
            assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
        }
        assert_eq!(fields.len(), 13, "{fields:?}");
        let mut ok = crate::app::default_settings();
        assert!(validate(&ok).is_empty(), "{:?}", validate(&ok));
        for (k, v) in defaults() {
            ok[k] = v;
        }
        assert!(validate(&ok).is_empty(), "{:?}", validate(&ok));
        assert_eq!(CallFilter::from_settings(&ok), CallFilter::default());
        assert_eq!(
            crate::retention::RetentionSettings::from_settings(&ok),
            crate::retention::RetentionSettings::default()
        );
    }

    #[test]
    fn the_filter_blocks_allows_and_checks_attestation() {
        let f = CallFilter::from_settings(&json!({"filtering": {"block": ["+1900", "+15550001111"],
            "allow": [], "reject_anonymous": true, "reject_failed_attestation": true}}));
        assert_eq!(f.refuse(Some("+19005551234"), None), Some("blocked"));
        assert_eq!(f.refuse(Some("+15550001111"), None), Some("blocked"));
        assert_eq!(f.refuse(Some("+15550001112"), None), None);
        assert_eq!(f.refuse(Some("anonymous"), None), Some("anonymous"));
        assert_eq!(f.refuse(None, None), Some("anonymous"));
        assert_eq!(
            f.refuse(Some("+15550001112"), Some("TN-Validation-Failed-B")),
            Some("failed_attestation")
        );
        assert_eq!(
            f.refuse(Some("+15550001112"), Some("TN-Validation-Passed-A")),
            None
        );
        assert_eq!(f.refuse(Some("+15550001112"), Some("No-TN-Validation")), None);
        let allow = CallFilter::from_settings(&json!({"filtering": {"allow": ["+44"]}}));
        assert_eq!(allow.refuse(Some("+447700900123"), None), None);
        assert_eq!(allow.refuse(Some("+15550001112"), None), Some("not_allowed"));
        assert_eq!(allow.refuse(None, None), Some("not_allowed"));
        assert_eq!(
            CallFilter::default().refuse(None, Some("TN-Validation-Failed-A")),
            None
        );
    }
}
