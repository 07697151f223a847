//! Job validation shared by every backend: one function builds a job from [`NewJob`], one applies a
//! [`JobPatch`], and both check the result the same way.

use chrono::{DateTime, Utc};

use crate::error::{Error, FieldError, Result};
use crate::ids::{JobId, TenantId};
use crate::model::*;

/// Builds the job a [`NewJob`] describes (stage, position and version are filled in by the caller) and
/// validates it.
pub(crate) fn job_from_new(
    tenant: TenantId,
    new: &NewJob,
    tenant_zone: TimeZone,
    now: DateTime<Utc>,
) -> Result<Job> {
    let mut errors = Vec::new();
    let schedule = match (new.scheduled_start, new.scheduled_end) {
        (Some(start), Some(end)) => Some(Schedule {
            start: to_micros(start),
            end: to_micros(end),
            timezone: new.timezone.unwrap_or(tenant_zone),
        }),
        (None, None) => None,
        (Some(_), None) => {
            errors.push(FieldError::new(
                "scheduled_end",
                "required when scheduled_start is set",
            ));
            None
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "scheduled_start",
                "required when scheduled_end is set",
            ));
            None
        }
    };
    let job = Job {
        id: JobId::new(),
        tenant_id: tenant,
        customer_id: new.customer_id,
        source: new.source,
        title: new.title.trim().to_owned(),
        description: new.description.clone(),
        address: new.address.clone(),
        schedule,
        recurrence: new.recurrence.as_ref().map(|r| r.trim().to_owned()),
        price: new.price.clone(),
        urgency: new.urgency,
        notes: new.notes.clone(),
        stage: Stage::QuoteRequested,
        position: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    validate_job(&job, &mut errors);
    if errors.is_empty() {
        Ok(job)
    } else {
        Err(Error::InvalidInput(errors))
    }
}

/// Applies a patch to a copy of the job and validates the result (version and `updated_at` are the caller's).
pub(crate) fn apply_patch(job: &Job, patch: JobPatch) -> Result<Job> {
    let mut next = job.clone();
    if let Some(title) = patch.title {
        next.title = title.trim().to_owned();
    }
    if let Some(description) = patch.description {
        next.description = description;
    }
    if let Some(address) = patch.address {
        next.address = address;
    }
    if let Some(schedule) = patch.schedule {
        next.schedule = schedule.map(|s| Schedule {
            start: to_micros(s.start),
            end: to_micros(s.end),
            timezone: s.timezone,
        });
    }
    if let Some(recurrence) = patch.recurrence {
        next.recurrence = recurrence.map(|r| r.trim().to_owned());
    }
    if let Some(price) = patch.price {
        next.price = price;
    }
    if let Some(urgency) = patch.urgency {
        next.urgency = urgency;
    }
    if let Some(notes) = patch.notes {
        next.notes = notes;
    }
    if let Some(customer) = patch.customer_id {
        next.customer_id = customer;
    }
    let mut errors = Vec::new();
    validate_job(&next, &mut errors);
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(Error::InvalidInput(errors))
    }
}

fn validate_job(job: &Job, errors: &mut Vec<FieldError>) {
    no_nul("title", &job.title, errors);
    no_nul("description", &job.description, errors);
    no_nul("notes", job.notes.as_deref().unwrap_or(""), errors);
    no_nul("recurrence", job.recurrence.as_deref().unwrap_or(""), errors);
    no_nul_address("address", &job.address, errors);
    let len = job.title.chars().count();
    if len == 0 {
        errors.push(FieldError::new("title", "must not be empty"));
    } else if len > 200 {
        errors.push(FieldError::new("title", "must be at most 200 characters"));
    }
    if let Some(s) = &job.schedule
        && s.end <= s.start
    {
        errors.push(FieldError::new("scheduled_end", "must be after scheduled_start"));
    }
    if let Some(price) = &job.price {
        price.validate("price", errors);
    }
    if let Some(rule) = &job.recurrence {
        match &job.schedule {
            None => errors.push(FieldError::new("recurrence", "needs a schedule to repeat")),
            Some(s) => {
                if let Err(message) = crate::calendar::parse_rrule(rule, s) {
                    errors.push(FieldError::new("recurrence", message));
                }
            }
        }
    }
}

/// Whether two half-open intervals overlap.
pub(crate) fn overlaps(schedule: &Schedule, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    schedule.start < end && schedule.end > start
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and wraps it in `%…%`.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The job text filter, as the in-memory store applies it (ASCII case-insensitive substring).
pub(crate) fn job_text_matches(job: &Job, text: &str) -> bool {
    let needle = text.to_ascii_lowercase();
    job.title.to_ascii_lowercase().contains(&needle)
        || job.description.to_ascii_lowercase().contains(&needle)
        || job
            .notes
            .as_deref()
            .is_some_and(|n| n.to_ascii_lowercase().contains(&needle))
}

/// Postgres cannot store NUL in text or `\u0000` in JSONB, so every backend rejects it the same way.
const NUL_MESSAGE: &str = "must not contain NUL characters";

/// Adds a field error when `text` contains NUL.
pub(crate) fn no_nul(field: &'static str, text: &str, errors: &mut Vec<FieldError>) {
    if text.contains('\0') {
        errors.push(FieldError::new(field, NUL_MESSAGE));
    }
}

/// Adds a field error when any part of `address` contains NUL.
pub(crate) fn no_nul_address(field: &'static str, address: &Address, errors: &mut Vec<FieldError>) {
    let parts = [
        &address.line1,
        &address.line2,
        &address.city,
        &address.region,
        &address.postal_code,
        &address.country,
    ];
    if parts
        .iter()
        .any(|p| p.as_deref().is_some_and(|t| t.contains('\0')))
    {
        errors.push(FieldError::new(field, NUL_MESSAGE));
    }
}

/// [`Error::InvalidInput`] when `text` contains NUL.
pub(crate) fn check_text(field: &'static str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(field, NUL_MESSAGE));
    }
    Ok(())
}

/// [`Error::InvalidInput`] when any string or key in the JSON document contains NUL.
pub(crate) fn check_document(field: &'static str, doc: &serde_json::Value) -> Result<()> {
    fn has_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(has_nul),
            serde_json::Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if has_nul(doc) {
        return Err(Error::invalid(field, NUL_MESSAGE));
    }
    Ok(())
}

/// An error reason as stored in `last_error`: NUL (which Postgres cannot store) becomes U+FFFD, so recording
/// a provider's odd error message can never itself fail.
pub(crate) fn error_text(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// The longest `User-Agent` a session keeps, in characters (longer ones are cut, they are informational).
pub(crate) const USER_AGENT_MAX_CHARS: usize = 512;

fn check_hash(hash: &[u8], errors: &mut Vec<FieldError>) {
    if hash.len() != TOKEN_HASH_LEN {
        errors.push(FieldError::new("token_hash", "must be a SHA-256 hash (32 bytes)"));
    }
}

/// [`NewSession`]: a 32-byte hash, an expiry after `now`, no NUL in the user agent. Returns the user agent to
/// store (at most [`USER_AGENT_MAX_CHARS`]).
pub(crate) fn new_session(session: &NewSession, now: DateTime<Utc>) -> Result<Option<String>> {
    let mut errors = Vec::new();
    check_hash(&session.token_hash, &mut errors);
    if to_micros(session.expires_at) <= now {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if let Some(ua) = &session.user_agent {
        no_nul("user_agent", ua, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::InvalidInput(errors));
    }
    Ok(session
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()))
}

/// [`NewApiToken`]: a 32-byte hash, name 1–100 characters (trimmed), prefix at most 16, no NUL. Returns the
/// trimmed name.
pub(crate) fn new_api_token(token: &NewApiToken) -> Result<String> {
    let mut errors = Vec::new();
    check_hash(&token.token_hash, &mut errors);
    let name = token.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    } else if name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be at most 100 characters"));
    }
    no_nul("name", name, &mut errors);
    if token.prefix.chars().count() > 16 {
        errors.push(FieldError::new("prefix", "must be at most 16 characters"));
    }
    no_nul("prefix", &token.prefix, &mut errors);
    if errors.is_empty() {
        Ok(name.to_owned())
    } else {
        Err(Error::InvalidInput(errors))
    }
}

/// A password hash: a non-empty PHC string without NUL.
pub(crate) fn password_hash(hash: &str) -> Result<()> {
    if hash.trim().is_empty() {
        return Err(Error::invalid("password_hash", "must not be empty"));
    }
    check_text("password_hash", hash)
}

/// [`PhoneLineUpdate`]: no NUL in the provider number id.
pub(crate) fn phone_line_update(update: &PhoneLineUpdate) -> Result<()> {
    if let Some(Some(id)) = &update.provider_number_id {
        check_text("provider_number_id", id)?;
    }
    Ok(())
}

/// A [`TenantProfile`] as the [`NewTenant`] that `validate_tenant` checks.
pub(crate) fn profile_as_new_tenant(profile: &TenantProfile) -> NewTenant {
    NewTenant {
        name: profile.name.clone(),
        timezone: profile.timezone,
        business_hours: profile.business_hours.clone(),
        settings: serde_json::Value::Null,
    }
}

/// Whether a notification payload names any of `ids` (their hyphenated UUID text anywhere in the JSON).
pub(crate) fn payload_names(payload: &serde_json::Value, ids: &[String]) -> bool {
    let text = payload.to_string();
    ids.iter().any(|id| text.contains(id.as_str()))
}
