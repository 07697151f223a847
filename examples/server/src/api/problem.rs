//! Errors as RFC 9457 problem documents (`application/problem+json`) with a stable `code`.
//!
//! Handlers return [`ApiError`]; its [`IntoResponse`] writes the document. Store and storage errors are mapped by
//! kind, never by message: a database error becomes `500 internal` with a generic detail (the message may hold
//! SQL or values), so nothing internal reaches a client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The limit of JSON request bodies (1 MiB, enforced by [`crate::hardening`]); larger ones are `413`.
pub const JSON_LIMIT: usize = 1024 * 1024;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field, as the request spells it (e.g. `scheduled_end`, `appointments[0].when`).
    pub field: String,
    /// What is wrong with it (never the submitted value).
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:callbook:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this occurrence.
    pub detail: String,
    /// The stable machine-readable code: `not_found`, `unauthorized`, `validation_failed`, `version_conflict`,
    /// `precondition_required`, `payload_too_large`, `unsupported_media_type`, `bad_signature` …
    pub code: String,
    /// Per-field errors for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The version currently stored, for `version_conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// An error a handler returns; rendered as a [`Problem`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    current_version: Option<i64>,
    /// Seconds for `Retry-After` (`429 rate_limited`).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            current_version: None,
            retry_after: None,
        }
    }

    /// `404 not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            format!("{what} not found"),
        )
    }

    /// `401 unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    /// `403` with a code (`bad_signature`, `link_expired`).
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "Forbidden", detail)
    }

    /// `400 bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", detail)
    }

    /// `422 validation_failed` with field errors.
    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Validation failed",
            detail,
        );
        e.errors = errors;
        e
    }

    /// `422 validation_failed` for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldProblem {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// `409 version_conflict`.
    pub fn version_conflict(expected: i64, actual: i64) -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "Version conflict",
            format!(
                "the record is at version {actual}, not {expected}: re-read it and apply the change again"
            ),
        );
        e.current_version = Some(actual);
        e
    }

    /// `409` with a code (`invalid_state`, `already_exists`, `double_booked`).
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    /// `428 precondition_required`.
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "Precondition required",
            "send the version you edited in `If-Match: \"<version>\"` or a `version` field",
        )
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// `415 unsupported_media_type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            detail,
        )
    }

    /// `416 range_not_satisfiable`.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            "Range not satisfiable",
            format!("the recording has {size} bytes"),
        )
    }

    /// `503 unavailable`.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "a backend is unavailable; try again shortly",
        )
    }

    /// `500 internal` (the cause is logged by kind only, never sent).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side",
        )
    }

    // ---- issue 8 (accounts, hardening)
    /// `400` with a code (`tenant_required`).
    pub fn bad_request_code(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    /// `401` with a code (`invalid_credentials`).
    pub fn unauthorized_code(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Unauthorized", detail)
    }

    /// `429 rate_limited`, answered with `Retry-After: {retry_after_secs}`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            format!("too many requests: try again in {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// `503 timeout`: the request took longer than the server allows.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            "the request took too long; try again",
        )
    }
    // ---- end issue 8

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The document.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:callbook:problem:{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
            current_version: self.current_version,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self.problem())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<callbook_jobs::Error> for ApiError {
    fn from(error: callbook_jobs::Error) -> Self {
        use callbook_jobs::Error as E;
        match error {
            E::NotFound { entity } => ApiError::not_found(entity),
            E::InvalidInput(fields) => ApiError::validation(
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field.to_owned(),
                        message: f.message,
                    })
                    .collect(),
            ),
            E::Conflict { expected, actual, .. } => ApiError::version_conflict(expected, actual),
            E::AlreadyExists { entity } => {
                ApiError::conflict("already_exists", format!("{entity} already exists"))
            }
            E::DoubleBooked { conflicting } => ApiError::conflict(
                "double_booked",
                format!("the slot overlaps {} other job(s)", conflicting.len()),
            ),
            E::InvalidState(message) => ApiError::conflict("invalid_state", message),
            E::Unavailable { .. } => {
                tracing::warn!(kind = "unavailable", "job store unavailable");
                ApiError::unavailable()
            }
            other => {
                // The message of a database error may carry SQL or values: log the kind only.
                let kind = match other {
                    E::Config(_) => "config",
                    E::Migration { .. } => "migration",
                    E::LeaseLost => "lease_lost",
                    _ => "database",
                };
                tracing::error!(kind, "job store error");
                ApiError::internal()
            }
        }
    }
}

impl From<callbook_storage::Error> for ApiError {
    fn from(error: callbook_storage::Error) -> Self {
        use callbook_storage::Error as E;
        match error {
            E::NotFound { .. } => ApiError::not_found("recording"),
            E::KeyShredded { .. } => ApiError::not_found("recording"),
            E::Unavailable { .. } => ApiError::unavailable(),
            _ => {
                tracing::error!("recording store error");
                ApiError::internal()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::unsupported_media_type("send the body as `Content-Type: application/json`")
            }
            JsonRejection::JsonDataError(e) => ApiError::invalid("body", e.body_text()),
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("the body is not valid JSON"),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::payload_too_large(JSON_LIMIT)
            }
            other => ApiError::bad_request(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // An id that does not parse names nothing that exists.
        ApiError::not_found("record")
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::invalid("query", rejection.body_text())
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_never_leak_their_message() {
        let err: ApiError = callbook_jobs::Error::Database {
            source: "SELECT * FROM customers WHERE name = 'Maria'".into(),
        }
        .into();
        let doc = serde_json::to_string(&err.problem()).unwrap();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!doc.contains("SELECT") && !doc.contains("Maria"), "{doc}");
    }

    #[test]
    fn conflicts_carry_the_current_version() {
        let err: ApiError = callbook_jobs::Error::Conflict {
            entity: "job",
            expected: 1,
            actual: 3,
        }
        .into();
        let p = err.problem();
        assert_eq!(
            (p.status, p.code.as_str(), p.current_version),
            (409, "version_conflict", Some(3))
        );
        assert_eq!(p.type_uri, "urn:callbook:problem:version_conflict");
    }
}
