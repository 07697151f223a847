//! Bearer tokens: who is calling and for which tenant.
//!
//! The API asks an [`Authenticator`] to turn the `Authorization: Bearer <token>` header into a [`Principal`]
//! (a tenant and an actor). Today there is one implementation, [`AdminToken`]: the bootstrap token
//! (`CALLBOOK_ADMIN_TOKEN`) grants the bootstrap tenant. Users and per-user API tokens (issue 8) add another
//! implementation; the handlers do not change.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use callbook_jobs::{Actor, Role, TenantId, UserId};
use subtle::ConstantTimeEq;

use super::ApiState;
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
fn role_rank(role: Role) -> u8 {
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

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
        state
            .auth
            .authenticate(token)
            .await
            .ok_or_else(|| ApiError::unauthorized("the token is not valid"))
    }
}

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
