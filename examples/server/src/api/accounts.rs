//! Accounts: login sessions, users and API tokens of a tenant.
//!
//! * `POST /auth/login {login, password, tenant?}` checks the login rate limits **before** looking at the
//!   password ([`crate::hardening::LoginLimits`]), verifies the argon2id hash (a login nobody has is verified
//!   against a dummy hash, so both take as long), and sets the session cookie (`callbook_session`: a random
//!   secret whose SHA-256 is stored; `HttpOnly; SameSite=Lax; Path=/`, `Secure` under https). On the server a
//!   session ends after [`Accounts::session_idle`] without use (each use, at most once a minute, moves the expiry
//!   ahead); the cookie itself lives that long from the login, so a browser logs in again at least that often
//!   (an absolute lifetime, as OWASP recommends). A login that exists in
//!   several tenants with this password needs `tenant` (`400 tenant_required`, whose problem document lists
//!   those businesses in `tenants: [{id, name}]` so a login page can offer a choice); a wrong password is
//!   `401 invalid_credentials` whether or not the login exists, so the answer never tells which tenants have it
//!   (the list is only ever given after a correct password).
//! * `POST /auth/logout` ends the session; `GET /auth/me` says who is logged in and gives the CSRF token that
//!   cookie-authenticated writes send in `X-CSRF-Token` ([`super::auth`]).
//! * `GET/POST /users`, `PATCH/DELETE /users/{id}` (admin or owner; only an owner makes or changes owners; no
//!   one grants a role above their own), `POST /users/{id}/password` (oneself, or an admin; ends the user's
//!   sessions; changing one's own needs the current password). A user created without a password gets a generated one-time password, shown once.
//! * `GET/POST /tokens`, `DELETE /tokens/{id}`: API tokens (`cb_…`) shown once at creation, stored hashed,
//!   scoped to the tenant, with a role no higher than their creator's; staff see and revoke their own.
//!
//! Passwords, tokens, cookies and CSRF tokens are never logged; request types redact them in `Debug`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use callbook_jobs::{ApiToken, ApiTokenId, NewApiToken, NewSession, Role, TenantId, User, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::ApiState;
use super::auth::{Principal, role_at_most};
use super::auth_secrets::{
    CsrfKey, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, PasswordHashing, SESSION_COOKIE, clear_session_cookie,
    cookie, generate_password, new_api_token, random_secret, secret_hash, session_cookie,
};
use super::problem::{ApiError, ApiResult, Problem};
use crate::hardening::{ClientIp, LoginLimits, Rate};

/// How long an unused session lives (sliding).
pub const SESSION_IDLE: Duration = Duration::from_secs(14 * 24 * 3600);

/// The account settings of the API: CSRF key, password hashing, login limits, session lifetime, cookie flags.
#[derive(Clone, Debug)]
pub struct Accounts {
    /// Derives the CSRF token of a session.
    pub csrf: CsrfKey,
    /// argon2id parameters.
    pub hashing: PasswordHashing,
    /// Login attempts per client IP and per login name.
    pub login_limits: Arc<LoginLimits>,
    /// How long an unused session lives.
    pub session_idle: Duration,
    /// Sets `Secure` on the session cookie (the server is reached over https).
    pub secure_cookies: bool,
    /// API requests per principal (tenant and actor); `None` is off.
    pub api_limit: Option<Arc<crate::hardening::Limiter<String>>>,
    /// When expired sessions were last purged (unix seconds); logins purge at most hourly.
    last_purge: Arc<AtomicI64>,
}

impl Accounts {
    /// Accounts with `csrf`, default hashing, 5 logins per minute per IP and per login, 14-day sessions and
    /// cookies without `Secure`.
    pub fn new(csrf: CsrfKey) -> Self {
        Self {
            csrf,
            hashing: PasswordHashing::default(),
            login_limits: Arc::new(LoginLimits::new(Some(Rate::new(5, Duration::from_secs(60), 5)))),
            session_idle: SESSION_IDLE,
            secure_cookies: false,
            api_limit: None,
            last_purge: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Sets the login limit (`None` turns it off).
    pub fn with_login_rate(mut self, rate: Option<Rate>) -> Self {
        self.login_limits = Arc::new(LoginLimits::new(rate));
        self
    }

    /// Limits API requests per principal (`CALLBOOK_RATE_LIMIT_API`; `None` is off).
    pub fn with_api_rate(mut self, rate: Option<Rate>) -> Self {
        self.api_limit = rate.map(|r| Arc::new(crate::hardening::Limiter::new(r)));
        self
    }

    /// Sets `Secure` on session cookies (when `CALLBOOK_PUBLIC_URL` is https).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Sets the password hashing parameters.
    pub fn with_hashing(mut self, hashing: PasswordHashing) -> Self {
        self.hashing = hashing;
        self
    }

    /// Sets how long an unused session lives.
    pub fn with_session_idle(mut self, idle: Duration) -> Self {
        self.session_idle = idle;
        self
    }
}

/// The client address a login is charged to: the hardening layer's [`ClientIp`], else the socket peer.
#[derive(Debug, Clone, Copy)]
pub struct LoginIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for LoginIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ClientIp>() {
            Some(ClientIp(ip)) => *ip,
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        };
        Ok(LoginIp(ip))
    }
}

/// A login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login (case-insensitive).
    pub login: String,
    /// The password.
    pub password: String,
    /// The tenant id, needed only when the login and password match users of several tenants (the
    /// `400 tenant_required` answer then lists them: [`TenantRequired`]).
    #[schema(value_type = Option<String>)]
    pub tenant: Option<String>,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Login.
    pub login: String,
    /// `owner`, `admin` or `staff`.
    #[schema(value_type = String)]
    pub role: Role,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            login: user.login.clone(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// A tenant as `/auth/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Id.
    #[schema(value_type = String)]
    pub id: TenantId,
    /// Name.
    pub name: String,
}

/// The `400 tenant_required` problem of a login whose login and password match users of several tenants: the
/// usual problem document plus those tenants, so the client can ask which one and send its `id` as `tenant`.
/// Only given after a correct password; a wrong one is a plain `401 invalid_credentials`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantRequired {
    /// The problem (`code`: `tenant_required`).
    #[serde(flatten)]
    pub problem: Problem,
    /// The tenants this login and password belong to, by name.
    pub tenants: Vec<TenantView>,
}

impl IntoResponse for TenantRequired {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::BAD_REQUEST, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(super::problem::PROBLEM_JSON),
        );
        response
    }
}

/// Who is logged in.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The user (`null` for the bootstrap admin token and tenant-wide API tokens).
    pub user: Option<UserView>,
    /// The tenant.
    pub tenant: TenantView,
    /// The effective role.
    #[schema(value_type = String)]
    pub role: Role,
    /// For session cookies: the value of `X-CSRF-Token` on writes (`null` for bearer tokens).
    pub csrf_token: Option<String>,
}

impl fmt::Debug for Me {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Me")
            .field("user", &self.user)
            .field("tenant", &self.tenant)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized_code("invalid_credentials", "the login or the password is wrong")
}

fn check_new_password(password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

async fn hash(state: &ApiState, password: Zeroizing<String>) -> ApiResult<String> {
    state
        .accounts
        .hashing
        .hash_blocking(password)
        .await
        .ok_or_else(ApiError::internal)
}

/// Logs in with a password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = Me, description = "Logged in; `Set-Cookie: callbook_session=…`"),
        (status = 400, body = TenantRequired,
            description = "`tenant_required`: the login and password match users of several tenants, listed in \
                `tenants`; send one's `id` as `tenant`"),
        (status = 401, body = Problem, description = "`invalid_credentials`"),
        (status = 422, body = Problem), (status = 429, body = Problem, description = "`Retry-After` seconds")))]
pub async fn login(
    State(state): State<ApiState>,
    LoginIp(ip): LoginIp,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(request) = body?;
    let password = Zeroizing::new(request.password);
    let login = request.login.trim().to_owned();
    if login.is_empty() || login.len() > 200 {
        return Err(ApiError::invalid("login", "must be 1 to 200 characters"));
    }
    // Before the password is looked at: during a lockout the right password is refused too.
    if let Err(wait) = state.accounts.login_limits.check(ip, &login) {
        tracing::warn!(kind = "login_rate_limited", "login refused by the rate limit");
        return Ok(crate::hardening::too_many_requests(wait));
    }
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        // Same work as a wrong password.
        let _ = state
            .accounts
            .hashing
            .verify_blocking(Zeroizing::new(String::new()), vec![None])
            .await;
        return Err(invalid_credentials());
    }
    let mut users = state.store.find_users_by_login(&login).await?;
    if let Some(tenant) = &request.tenant {
        let tenant: Option<TenantId> = tenant.trim().parse().ok();
        users.retain(|u| Some(u.tenant_id) == tenant);
    }
    // Bounded work per attempt; more look-alike logins than this is not a real set-up.
    users.truncate(8);
    let hashes: Vec<Option<String>> = if users.is_empty() {
        vec![None]
    } else {
        users.iter().map(|u| u.password_hash.clone()).collect()
    };
    let matches = state.accounts.hashing.verify_blocking(password, hashes).await;
    let matched: Vec<&User> = users
        .iter()
        .zip(matches)
        .filter_map(|(u, ok)| ok.then_some(u))
        .collect();
    let user = match matched.as_slice() {
        [] => {
            tracing::info!(kind = "login_failed", "login failed");
            return Err(invalid_credentials());
        }
        [user] => (*user).clone(),
        several => {
            // The password was right for each: naming the businesses tells the user nothing they cannot reach.
            let mut tenants = Vec::with_capacity(several.len());
            for user in several {
                let tenant = state.store.get_tenant(user.tenant_id).await?;
                tenants.push(TenantView {
                    id: tenant.id,
                    name: tenant.name,
                });
            }
            tenants.sort_by_key(|t| t.name.to_lowercase());
            let problem = ApiError::bad_request_code(
                "tenant_required",
                "name the tenant (`tenant`: its id, one of `tenants`) to log in to",
            )
            .problem();
            return Ok(TenantRequired { problem, tenants }.into_response());
        }
    };
    let secret = Zeroizing::new(random_secret());
    let idle =
        chrono::TimeDelta::from_std(state.accounts.session_idle).unwrap_or(chrono::TimeDelta::days(14));
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect());
    state
        .store
        .create_session(
            user.tenant_id,
            NewSession {
                user_id: user.id,
                token_hash: secret_hash(&secret),
                expires_at: Utc::now() + idle,
                user_agent,
            },
        )
        .await?;
    purge_expired_sessions(&state);
    let tenant = state.store.get_tenant(user.tenant_id).await?;
    tracing::info!(kind = "login", user = %user.id, tenant = %user.tenant_id, "logged in");
    let me = Me {
        user: Some(UserView::from(&user)),
        tenant: TenantView {
            id: tenant.id,
            name: tenant.name,
        },
        role: user.role,
        csrf_token: Some(state.accounts.csrf.token(&secret)),
    };
    let mut response = Json(me).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(
            &secret,
            state.accounts.session_idle,
            state.accounts.secure_cookies,
        ),
    );
    Ok(response)
}

/// Deletes expired sessions in the background, at most once an hour per process (logins trigger it).
fn purge_expired_sessions(state: &ApiState) {
    let now = Utc::now();
    let last = state.accounts.last_purge.load(Ordering::Relaxed);
    if now.timestamp() - last < 3600
        || state
            .accounts
            .last_purge
            .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        if store.purge_expired_sessions(now).await.is_err() {
            tracing::warn!(kind = "session_purge", "could not purge expired sessions");
        }
    });
}

/// Ends the session of the cookie (bearer tokens are revoked through `/tokens`).
#[utoipa::path(post, path = "/auth/logout", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 204, description = "Logged out; the cookie is cleared"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`csrf_failed`")))]
pub async fn logout(
    State(state): State<ApiState>,
    _principal: Principal,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.store.delete_session(&secret_hash(secret)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clear_session_cookie(state.accounts.secure_cookies),
    );
    Ok(response)
}

/// Who is logged in, and the CSRF token of a session.
#[utoipa::path(get, path = "/auth/me", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
) -> ApiResult<Json<Me>> {
    let user = match principal.user {
        Some(id) => Some(UserView::from(&state.store.get_user(principal.tenant, id).await?)),
        None => None,
    };
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let csrf_token = if headers.contains_key(header::AUTHORIZATION) {
        None
    } else {
        cookie(&headers, SESSION_COOKIE).map(|secret| state.accounts.csrf.token(secret))
    };
    Ok(Json(Me {
        user,
        tenant: TenantView {
            id: tenant.id,
            name: tenant.name,
        },
        role: principal.role,
        csrf_token,
    }))
}

fn parse_user_id(id: &str) -> ApiResult<UserId> {
    id.parse().map_err(|_| ApiError::not_found("user"))
}

/// The tenant's users, by login.
#[utoipa::path(get, path = "/users", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<ApiState>,
    principal: Principal,
) -> ApiResult<Json<Vec<UserView>>> {
    principal.require(Role::Admin)?;
    let users = state.store.list_users(principal.tenant).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// The login (unique in the tenant, case-insensitively).
    pub login: String,
    /// `owner`, `admin` or `staff` — at most the creator's own role.
    #[schema(value_type = String)]
    pub role: Role,
    /// At least 12 characters; omitted: a one-time password is generated and returned once.
    pub password: Option<String>,
}

impl fmt::Debug for UserCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCreate")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A user with the password generated for it (shown once).
#[derive(Serialize, ToSchema)]
pub struct UserWithPassword {
    /// The user.
    pub user: UserView,
    /// The generated one-time password; `null` when the request chose the password.
    pub password: Option<String>,
}

impl fmt::Debug for UserWithPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserWithPassword")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Refuses granting `role` (or touching a user who has it) above what the principal may.
fn may_grant(principal: &Principal, role: Role) -> ApiResult<()> {
    if role == Role::Owner {
        principal.require(Role::Owner)?;
    }
    if role_at_most(role, principal.role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "insufficient_role",
            format!("granting the {role} role needs that role or higher"),
        ))
    }
}

/// The password of the request, or a generated one (returned so it can be shown once).
fn chosen_or_generated(password: Option<String>) -> ApiResult<(Zeroizing<String>, Option<String>)> {
    match password {
        Some(p) => {
            let p = Zeroizing::new(p);
            check_new_password(&p)?;
            Ok((p, None))
        }
        None => {
            let generated = generate_password();
            Ok((Zeroizing::new(generated.clone()), Some(generated)))
        }
    }
}

/// Creates a user (admin or owner).
#[utoipa::path(post, path = "/users", tag = "accounts", request_body = UserCreate,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = UserWithPassword), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<UserCreate>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<UserWithPassword>)> {
    principal.require(Role::Admin)?;
    let Json(input) = body?;
    may_grant(&principal, input.role)?;
    let login = input.login.trim().to_owned();
    if login.is_empty() || login.len() > 200 || login.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid(
            "login",
            "must be 1 to 200 characters without spaces",
        ));
    }
    let (password, generated) = chosen_or_generated(input.password)?;
    let phc = hash(&state, password).await?;
    let user = state
        .store
        .create_user(principal.tenant, &login, input.role, Some(phc))
        .await?;
    tracing::info!(kind = "user_created", user = %user.id, "user created");
    Ok((
        StatusCode::CREATED,
        Json(UserWithPassword {
            user: UserView::from(&user),
            password: generated,
        }),
    ))
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The new role.
    #[schema(value_type = String)]
    pub role: Role,
}

/// Changes a user's role (admin or owner; owners only by an owner; the last owner stays).
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", request_body = UserUpdate,
    params(("id" = String, Path, description = "User id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<UserUpdate>, JsonRejection>,
) -> ApiResult<Json<UserView>> {
    principal.require(Role::Admin)?;
    let id = parse_user_id(&id)?;
    let target = state.store.get_user(principal.tenant, id).await?;
    let Json(update) = body?;
    may_grant(&principal, target.role)?;
    may_grant(&principal, update.role)?;
    let user = state
        .store
        .set_user_role(principal.tenant, id, update.role)
        .await?;
    Ok(Json(UserView::from(&user)))
}

/// Deletes a user with their sessions and API tokens (admin or owner; owners only by an owner).
#[utoipa::path(delete, path = "/users/{id}", tag = "accounts",
    params(("id" = String, Path, description = "User id")), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_user(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(Role::Admin)?;
    let id = parse_user_id(&id)?;
    let target = state.store.get_user(principal.tenant, id).await?;
    may_grant(&principal, target.role)?;
    state.store.delete_user(principal.tenant, id).await?;
    tracing::info!(kind = "user_deleted", user = %id, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The new password (at least 12 characters); omitted: a one-time password is generated and returned.
    pub password: Option<String>,
    /// The current password: required when users change their own (a stolen session cannot lock them out).
    pub current_password: Option<String>,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordChange { .. }")
    }
}

/// Sets a user's password (oneself with the current password, or an admin; an owner's only by an owner) and
/// ends the user's sessions.
#[utoipa::path(post, path = "/users/{id}/password", tag = "accounts", request_body = PasswordChange,
    params(("id" = String, Path, description = "User id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = UserWithPassword), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`insufficient_role`, or `invalid_credentials`"),
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn set_password(
    State(state): State<ApiState>,
    principal: Principal,
    LoginIp(ip): LoginIp,
    Path(id): Path<String>,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> ApiResult<Response> {
    let id = parse_user_id(&id)?;
    let target = state.store.get_user(principal.tenant, id).await?;
    let Json(change) = body?;
    if principal.user == Some(id) {
        // Guessing the current password here is a login attempt: same limits.
        if let Err(wait) = state.accounts.login_limits.check(ip, &target.login) {
            return Ok(crate::hardening::too_many_requests(wait));
        }
        let current = Zeroizing::new(change.current_password.unwrap_or_default());
        let ok = state
            .accounts
            .hashing
            .verify_blocking(current, vec![target.password_hash.clone()])
            .await;
        if ok != [true] {
            return Err(ApiError::forbidden(
                "invalid_credentials",
                "send your current password in `current_password`",
            ));
        }
    } else {
        principal.require(Role::Admin)?;
        may_grant(&principal, target.role)?;
    }
    let (password, generated) = chosen_or_generated(change.password)?;
    let phc = hash(&state, password).await?;
    let user = state.store.set_user_password(principal.tenant, id, &phc).await?;
    tracing::info!(kind = "password_changed", user = %id, "password changed; sessions ended");
    Ok(Json(UserWithPassword {
        user: UserView::from(&user),
        password: generated,
    })
    .into_response())
}

/// An API token as the API shows it (never the secret, except once at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ApiTokenId,
    /// What it is for.
    pub name: String,
    /// Its role.
    #[schema(value_type = String)]
    pub role: Role,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// The user it acts as (`null`: tenant-wide).
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last used (to the minute).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            role: t.role,
            prefix: t.prefix.clone(),
            user_id: t.user_id,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Whether the principal may see and revoke `token`: admins all of the tenant's, others their own.
fn may_manage(principal: &Principal, token: &ApiToken) -> bool {
    principal.require(Role::Admin).is_ok() || (token.user_id.is_some() && token.user_id == principal.user)
}

/// The tenant's API tokens (staff: their own), newest first.
#[utoipa::path(get, path = "/tokens", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = Problem)))]
pub async fn list_tokens(
    State(state): State<ApiState>,
    principal: Principal,
) -> ApiResult<Json<Vec<TokenView>>> {
    let tokens = state.store.list_api_tokens(principal.tenant).await?;
    Ok(Json(
        tokens
            .iter()
            .filter(|t| may_manage(&principal, t))
            .map(TokenView::from)
            .collect(),
    ))
}

/// A new API token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// What it is for (1–100 characters).
    pub name: String,
    /// Its role, at most the creator's (default: the creator's).
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
}

/// A created token: the secret is in `token`, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// `cb_…`: send it as `Authorization: Bearer cb_…`. It is not stored and cannot be shown again.
    pub token: String,
    /// The token's record.
    #[serde(flatten)]
    pub info: TokenView,
}

impl fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token", &"[redacted]")
            .field("info", &self.info)
            .finish()
    }
}

/// Creates an API token acting as the caller (its user, or tenant-wide for the bootstrap token).
#[utoipa::path(post, path = "/tokens", tag = "accounts", request_body = TokenCreate,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = CreatedToken), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<TokenCreate>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let Json(input) = body?;
    let role = input.role.unwrap_or(principal.role);
    if !role_at_most(role, principal.role) {
        return Err(ApiError::forbidden(
            "insufficient_role",
            format!(
                "a token cannot have a higher role than its creator ({})",
                principal.role
            ),
        ));
    }
    let secret = new_api_token();
    let prefix: String = secret.chars().take(11).collect();
    let token = state
        .store
        .create_api_token(
            principal.tenant,
            NewApiToken {
                name: input.name.trim().to_owned(),
                user_id: principal.user,
                role,
                prefix,
                token_hash: secret_hash(&secret),
            },
        )
        .await?;
    tracing::info!(kind = "token_created", token = %token.id, "API token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: secret,
            info: TokenView::from(&token),
        }),
    ))
}

/// Revokes an API token (admins any of the tenant's, others their own); revoking twice is harmless.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Token id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = TokenView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let id: ApiTokenId = id.parse().map_err(|_| ApiError::not_found("API token"))?;
    let tokens = state.store.list_api_tokens(principal.tenant).await?;
    let token = tokens
        .iter()
        .find(|t| t.id == id)
        .filter(|t| may_manage(&principal, t))
        .ok_or_else(|| ApiError::not_found("API token"))?;
    let revoked = state.store.revoke_api_token(principal.tenant, token.id).await?;
    tracing::info!(kind = "token_revoked", token = %revoked.id, "API token revoked");
    Ok(Json(TokenView::from(&revoked)))
}
