//! Who is calling, for which tenant, with which role.
//!
//! Handlers take a [`Principal`] (a tenant, an actor, a role and maybe a user); its extractor accepts, in order:
//!
//! 1. `Authorization: Bearer cb_…` — an **API token** from the store (only its SHA-256 is stored; revoked
//!    tokens fail; the role is the token's, capped by its user's current role; `last_used_at` is touched at most
//!    once a minute).
//! 2. `Authorization: Bearer <anything else>` — the [`Authenticator`] of the state: in the server
//!    [`AdminToken`], the bootstrap token (`CALLBOOK_ADMIN_TOKEN`) as owner of the bootstrap tenant.
//! 3. The **session cookie** `callbook_session` (see [`super::accounts`]): an unexpired session of an existing
//!    user, with a sliding expiry. Unsafe methods (POST, PUT, PATCH, DELETE) must also send `X-CSRF-Token` (the
//!    HMAC of the session secret, [`super::auth_secrets::CsrfKey`]) and, when the browser sends them, an
//!    `Origin` of this server and `Sec-Fetch-Site: same-origin`; bearer requests need no CSRF token (a browser
//!    never adds an `Authorization` header on its own).
//!
//! Anything else is `401`; a failed CSRF check is `403 csrf_failed`. A principal is then charged against the
//! per-principal API limit ([`super::Accounts::with_api_rate`], `429 rate_limited` with `Retry-After`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use callbook_jobs::{Actor, Role, TenantId, UserId};
use chrono::Utc;
use subtle::ConstantTimeEq;

use super::ApiState;
use super::auth_secrets::{API_TOKEN_PREFIX, CSRF_HEADER, SESSION_COOKIE, cookie, secret_hash};
use super::problem::ApiError;

/// Who a request acts as: every query is scoped to `tenant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant the token belongs to.
    pub tenant: TenantId,
    /// Recorded as the author of changes (notes, moves, merges).
    pub actor: Actor,
    /// What the principal may do: owner > admin > staff.
    pub role: Role,
    /// The signed-in user (sessions, user-bound API tokens); `None` for the bootstrap admin token and
    /// tenant-wide API tokens.
    pub user: Option<UserId>,
}

impl Principal {
    /// `Ok` when the principal's role is `at_least` or higher (owner > admin > staff), else
    /// `403 insufficient_role`.
    ///
    /// ```
    /// use callbook_jobs::{Actor, Role, TenantId};
    /// use callbook_server::api::Principal;
    ///
    /// let staff = Principal { tenant: TenantId::new(), actor: Actor::System("t".into()), role: Role::Staff, user: None };
    /// assert!(staff.require(Role::Staff).is_ok());
    /// assert_eq!(staff.require(Role::Admin).unwrap_err().status(), 403);
    /// ```
    pub fn require(&self, at_least: Role) -> Result<(), ApiError> {
        if role_rank(self.role) >= role_rank(at_least) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_role",
                format!("this needs the {at_least} role or higher"),
            ))
        }
    }
}

/// Owner 3, admin 2, staff 1 (unknown future roles rank lowest).
pub(crate) fn role_rank(role: Role) -> u8 {
    match role {
        Role::Owner => 3,
        Role::Admin => 2,
        Role::Staff => 1,
    }
}

/// Turns a bearer token into a [`Principal`].
///
/// # Contract
///
/// Returns `None` for every token it does not know, compares secrets in constant time, and never logs tokens.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// The principal of `token`, or `None` when the token is unknown.
    async fn authenticate(&self, token: &str) -> Option<Principal>;
}

// Compile-time check that the trait stays object-safe.
const _: Option<&dyn Authenticator> = None;

/// The bootstrap admin token (`CALLBOOK_ADMIN_TOKEN`) → the bootstrap tenant, acting as `system:admin`.
#[derive(Clone)]
pub struct AdminToken {
    token: Arc<[u8]>,
    tenant: TenantId,
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("token", &"[redacted]")
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl AdminToken {
    /// The shortest admin token accepted, in bytes.
    pub const MIN_LEN: usize = 16;

    /// An authenticator for one token. A token shorter than [`AdminToken::MIN_LEN`] bytes is refused (`None`):
    /// a guessable token must not open the API.
    pub fn new(token: impl AsRef<str>, tenant: TenantId) -> Option<Self> {
        let token = token.as_ref().trim();
        (token.len() >= Self::MIN_LEN).then(|| Self {
            token: Arc::from(token.as_bytes()),
            tenant,
        })
    }
}

#[async_trait]
impl Authenticator for AdminToken {
    async fn authenticate(&self, token: &str) -> Option<Principal> {
        // `ct_eq` on slices of different lengths is false without looking at the bytes; the length of the
        // configured token is not a secret worth hiding.
        bool::from(token.as_bytes().ct_eq(&self.token)).then(|| Principal {
            tenant: self.tenant,
            actor: Actor::System("admin".into()),
            role: Role::Owner,
            user: None,
        })
    }
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    /// Bearer first (`cb_…` API tokens from the store, anything else through [`ApiState::auth`]), else the
    /// session cookie — whose unsafe requests (POST, PUT, PATCH, DELETE) must pass the CSRF check.
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let principal = authenticate(parts, state).await?;
        if let Some(limiter) = &state.accounts.api_limit
            && let Err(wait) = limiter.check(&format!("{}/{}", principal.tenant, principal.actor))
        {
            tracing::warn!(
                kind = "rate_limited",
                "API request refused by the per-principal limit"
            );
            return Err(ApiError::rate_limited(crate::hardening::retry_after_secs(wait)));
        }
        Ok(principal)
    }
}

/// The principal of a request (see the module docs), before rate limiting.
async fn authenticate(parts: &Parts, state: &ApiState) -> Result<Principal, ApiError> {
    if let Some(header) = parts.headers.get(header::AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
        let principal = if token.starts_with(API_TOKEN_PREFIX) {
            api_token_principal(state, token).await?
        } else {
            state.auth.authenticate(token).await
        };
        return principal.ok_or_else(|| ApiError::unauthorized("the token is not valid"));
    }
    if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
        let secret = secret.to_owned();
        let principal = session_principal(state, &secret)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the session has ended: log in again"))?;
        if !parts.method.is_safe() {
            check_csrf(parts, state, &secret)?;
        }
        return Ok(principal);
    }
    Err(ApiError::unauthorized(
        "send `Authorization: Bearer <token>` or log in (session cookie)",
    ))
}

// ---- issue 8: API tokens and sessions

/// Record a use of a token or session at most this often (a write per request would be a write per read).
pub const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The lower of two roles.
pub(crate) fn min_role(a: Role, b: Role) -> Role {
    if role_rank(a) <= role_rank(b) { a } else { b }
}

/// Whether `role` is `at_most` or lower.
pub(crate) fn role_at_most(role: Role, at_most: Role) -> bool {
    role_rank(role) <= role_rank(at_most)
}

/// The principal of an API token (`cb_…`): unrevoked, its role capped by its user's current role.
async fn api_token_principal(state: &ApiState, token: &str) -> Result<Option<Principal>, ApiError> {
    let Some(stored) = state.store.find_api_token(&secret_hash(token)).await? else {
        return Ok(None);
    };
    let mut role = stored.role;
    if let Some(user) = stored.user_id {
        match state.store.get_user(stored.tenant_id, user).await {
            Ok(user) => role = min_role(role, user.role),
            Err(callbook_jobs::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let now = Utc::now();
    if stored.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY)
        && state.store.touch_api_token(stored.id, now).await.is_err()
    {
        tracing::warn!(kind = "token_touch", "could not record an API token's use");
    }
    Ok(Some(Principal {
        tenant: stored.tenant_id,
        actor: match stored.user_id {
            Some(user) => Actor::User(user),
            None => Actor::System(format!("token:{}", stored.id)),
        },
        role,
        user: stored.user_id,
    }))
}

/// The principal of a session cookie secret: an unexpired session of a user that still exists. Slides the
/// session's expiry (at most once per [`TOUCH_EVERY`]).
pub(crate) async fn session_principal(state: &ApiState, secret: &str) -> Result<Option<Principal>, ApiError> {
    let now = Utc::now();
    let Some(session) = state.store.find_session(&secret_hash(secret), now).await? else {
        return Ok(None);
    };
    let user = match state.store.get_user(session.tenant_id, session.user_id).await {
        Ok(user) => user,
        Err(callbook_jobs::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if now - session.last_seen_at >= TOUCH_EVERY {
        let idle =
            chrono::TimeDelta::from_std(state.accounts.session_idle).unwrap_or(chrono::TimeDelta::days(14));
        if state
            .store
            .touch_session(session.id, now, now + idle)
            .await
            .is_err()
        {
            tracing::warn!(kind = "session_touch", "could not slide a session");
        }
    }
    Ok(Some(Principal {
        tenant: session.tenant_id,
        actor: Actor::User(user.id),
        role: user.role,
        user: Some(user.id),
    }))
}

/// The origin (`scheme://host[:port]`) of a base URL.
fn origin_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |i| &url[..after + i])
}

/// A cookie-authenticated write must carry the session's CSRF token in `X-CSRF-Token`, and — when the browser
/// says where the request comes from (`Origin`, `Sec-Fetch-Site`) — come from this site.
fn check_csrf(parts: &Parts, state: &ApiState, secret: &str) -> Result<(), ApiError> {
    let refuse = |detail: &str| Err(ApiError::forbidden("csrf_failed", detail.to_owned()));
    if let Some(site) = parts.headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return refuse("cross-site requests may not write with the session cookie");
    }
    if let Some(origin) = parts.headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let same = if state.public_url.is_empty() {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
        } else {
            origin == origin_of(&state.public_url)
        };
        if !same {
            return refuse("the request's Origin is not this server");
        }
    }
    let given = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given.is_empty() || !state.accounts.csrf.verify(secret, given) {
        return refuse("send the session's CSRF token (GET /api/v1/auth/me) in `X-CSRF-Token`");
    }
    Ok(())
}
// ---- end issue 8

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admin_token_matches_exactly() {
        let tenant = TenantId::new();
        let auth = AdminToken::new("s3cret-admin-token-0123", tenant).unwrap();
        assert_eq!(
            auth.authenticate("s3cret-admin-token-0123")
                .await
                .map(|p| p.tenant),
            Some(tenant)
        );
        for bad in [
            "",
            "s3cret-admin-token-012",
            "s3cret-admin-token-01234",
            "S3cret-admin-token-0123",
        ] {
            assert!(auth.authenticate(bad).await.is_none(), "{bad}");
        }
        assert!(!format!("{auth:?}").contains("s3cret"));
        assert!(AdminToken::new("short", tenant).is_none());
    }
}
