//! The login page: `GET /app/login?next=/app/…`.
//!
//! The form posts nothing itself: `assets/login.js` sends `{login, password[, tenant]}` to
//! `POST /api/v1/auth/login` (which sets the session cookie), shows the API's answer (wrong password, the
//! `Retry-After` of a `429`; after `400 tenant_required`, a "Business" choice of the businesses the answer
//! lists) and then goes to `next` — only a path under `/app` of this site, never another origin. A signed-in
//! visitor goes straight to `next`.

use axum::Router;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::{PREFIX, Viewer, WebError, bare_layout};
use crate::api::ApiState;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/app/login", get(login_page))
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// `next` when it is a path of the dashboard on this origin (`/app`, `/app/…`, `/app?…`), else `/app`: no
/// open redirect through `//host`, `/\host`, schemes or encoded tricks.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return PREFIX.to_owned();
    };
    let ok = next.len() <= 2000
        && (next == PREFIX
            || next.starts_with("/app/")
            || next.starts_with("/app?")
            || next.starts_with("/app#"))
        && !next.contains('\\')
        && !next.contains("//")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.starts_with("/app/login");
    if ok { next.to_owned() } else { PREFIX.to_owned() }
}

async fn login_page(viewer: Result<Viewer, WebError>, Query(query): Query<LoginQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    if viewer.is_ok() {
        return Redirect::to(&next).into_response();
    }
    let body = html! {
        div.login-box.card {
            h1 { span.brand-mark aria-hidden="true" { "☎" } " Callbook" }
            p.muted { "Sign in to your business's dashboard." }
            form #login-form .stack method="post" action="/app/login" data-next=(next) novalidate {
                div.field {
                    label for="login" { "Login" }
                    input #login name="login" type="text" autocomplete="username" autocapitalize="none"
                        spellcheck="false" required autofocus;
                    span.error data-error-for="login" {}
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required
                        aria-describedby="login-error";
                    span.error data-error-for="password" {}
                }
                div #tenant-field .field hidden {
                    // filled by login.js from the `tenants` of a `400 tenant_required` answer
                    fieldset #tenant-choice .choice-group aria-describedby="tenant-hint" {
                        legend { "Business" }
                        div #tenant-options .stack {}
                    }
                    // without a list (an older server): the business ID by hand
                    div #tenant-id .field hidden {
                        label for="tenant" { "Business ID" }
                        input #tenant name="tenant" type="text" autocomplete="off" spellcheck="false"
                            aria-describedby="tenant-hint";
                    }
                    span.hint #tenant-hint {
                        "This login belongs to more than one business: choose the one to sign in to."
                    }
                    span.error data-error-for="tenant" {}
                }
                p #login-error .error role="alert" {}
                button.button.primary.block type="submit" { "Sign in" }
            }
            noscript { p.error { "The dashboard needs JavaScript to sign in." } }
        }
    };
    bare_layout("Sign in", &["login.js"], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next(None), "/app");
        assert_eq!(safe_next(Some("/app")), "/app");
        assert_eq!(safe_next(Some("/app/board?x=1")), "/app/board?x=1");
        assert_eq!(safe_next(Some("/app?tab=2")), "/app?tab=2");
        for bad in [
            "https://evil.example/app",
            "//evil.example/app",
            "/app//evil.example",
            "/\\evil.example",
            "/app\\..\\x",
            "/apps",
            "/api/v1/auth/me",
            "javascript:alert(1)",
            "/app/login?next=//x",
            "/app/\nx",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/app", "{bad:?}");
        }
    }
}
