//! Accounts: login sessions (cookie flags, CSRF, logout, password change), users and roles, API tokens
//! (shown once, hashed, scoped, revocable), login rate limits — on memory, SQLite and Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{Env, OTHER_TOKEN, TOKEN};
use callbook_jobs::Role;
use serde_json::{Value, json};
use sha2::Digest as _;

const PASSWORD: &str = "correct horse battery staple";

fn note(job: &callbook_jobs::Job) -> String {
    format!("/api/v1/jobs/{}/notes", job.id)
}

async fn login_sets_a_hardened_cookie_and_me_answers(env: Env) {
    let maria = env.add_user(env.tenant.id, "maria", Role::Admin, PASSWORD).await;
    let session = env.login("MARIA", PASSWORD).await;
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session.set_cookie.contains(flag), "{}", session.set_cookie);
    }
    // Served over plain http here: no `Secure` (the browser would drop the cookie).
    assert!(!session.set_cookie.contains("Secure"), "{}", session.set_cookie);
    let secret = session.cookie.strip_prefix("callbook_session=").unwrap();
    assert_eq!(secret.len(), 43);

    let (status, me) = env
        .as_session(&session, "GET", "/api/v1/auth/me", None, false)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["id"], maria.id.to_string());
    assert_eq!(me["user"]["login"], "maria");
    assert!(me["user"].get("password_hash").is_none(), "{me}");
    assert_eq!(me["tenant"]["id"], env.tenant.id.to_string());
    assert_eq!(me["tenant"]["name"], "Acme Plumbing");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["csrf_token"], session.csrf.as_str());
    // Bearer callers get no CSRF token (they need none).
    let (_, me) = env.get("/api/v1/auth/me").await;
    assert_eq!(
        (me["role"].as_str(), &me["user"], &me["csrf_token"]),
        (Some("owner"), &Value::Null, &Value::Null)
    );

    // Only the hash of the secret is stored: the session is found by SHA-256, never by the secret.
    let hash = sha2::Sha256::digest(secret.as_bytes()).to_vec();
    let stored = env
        .store
        .find_session(&hash, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id, maria.id);
    assert!(
        env.store
            .find_session(secret.as_bytes(), chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    // Behind https the cookie is `Secure`.
    let https = callbook_server::api::router(
        env.state
            .clone()
            .with_accounts(env.state.accounts.clone().with_secure_cookies(true)),
    );
    let response = tower::ServiceExt::oneshot(
        https,
        axum::http::Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"login": "maria", "password": PASSWORD}).to_string(),
            ))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let set = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure") && set.contains("HttpOnly"), "{set}");
}

async fn wrong_passwords_and_unknown_logins_are_the_same_401(env: Env) {
    env.add_user(env.tenant.id, "maria", Role::Staff, PASSWORD).await;
    for (login, password) in [
        ("maria", "wrong password here"),
        ("nobody", PASSWORD),
        ("maria", ""),
    ] {
        let (status, problem) = env
            .send(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"login": login, "password": password})),
                &[],
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str(), problem["detail"].as_str()),
            (
                401,
                Some("invalid_credentials"),
                Some("the login or the password is wrong")
            ),
            "{login}"
        );
    }
}

async fn cookie_writes_need_the_csrf_token(env: Env) {
    let (_, job) = env.seed_call("CA1").await;
    env.add_user(env.tenant.id, "sam", Role::Staff, PASSWORD).await;
    let session = env.login("sam", PASSWORD).await;
    let path = note(&job);
    let body = json!({"body": "ring twice"});

    // Without the token: refused, and nothing written.
    let (status, problem) = env
        .as_session(&session, "POST", &path, Some(body.clone()), false)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("csrf_failed")),
        "{problem}"
    );
    // A wrong token, or another session's token.
    let wrong = json!(session.csrf.replace(|c: char| c.is_ascii_alphabetic(), "A"));
    let (status, _) = env
        .send(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[
                ("cookie", &session.cookie),
                ("x-csrf-token", wrong.as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, 403);
    let (_, notes) = env.as_session(&session, "GET", &path, None, false).await;
    assert_eq!(notes, json!([]), "reads need no CSRF token");

    // With the token: written, by the user.
    let (status, created) = env
        .as_session(&session, "POST", &path, Some(body.clone()), true)
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created.to_string().contains("ring twice"));

    // A cross-site request carrying the right token is still refused (Origin / Sec-Fetch-Site).
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let (status, problem) = env
            .send(
                "POST",
                &path,
                None,
                Some(body.clone()),
                &[
                    ("cookie", &session.cookie),
                    ("x-csrf-token", &session.csrf),
                    header,
                ],
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("csrf_failed")),
            "{header:?}"
        );
    }
    // Same-origin browsers pass.
    let (status, _) = env
        .send(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[
                ("cookie", &session.cookie),
                ("x-csrf-token", &session.csrf),
                ("sec-fetch-site", "same-origin"),
                ("host", "callbook.local"),
                ("origin", "http://callbook.local"),
            ],
        )
        .await;
    assert_eq!(status, 201);

    // Bearer writes need no CSRF token, API tokens neither.
    let (status, _) = env
        .send("POST", &path, Some(TOKEN), Some(body.clone()), &[])
        .await;
    assert_eq!(status, 201);
    let (token, _) = env.api_token(TOKEN, "board", Some("staff")).await;
    let (status, _) = env.send("POST", &path, Some(&token), Some(body), &[]).await;
    assert_eq!(status, 201);
    let (_, notes) = env.get(&path).await;
    assert_eq!(notes.as_array().unwrap().len(), 4);
}

async fn logout_and_password_changes_end_sessions(env: Env) {
    let env = env.relaxed_logins();
    let sam = env.add_user(env.tenant.id, "sam", Role::Staff, PASSWORD).await;
    let session = env.login("sam", PASSWORD).await;
    let (status, _) = env
        .as_session(&session, "POST", "/api/v1/auth/logout", None, false)
        .await;
    assert_eq!(status, 403, "logout is a write: CSRF applies");
    let response = env
        .raw(
            "POST",
            "/api/v1/auth/logout",
            None,
            None,
            &[("cookie", &session.cookie), ("x-csrf-token", &session.csrf)],
        )
        .await;
    assert_eq!(response.status(), 204);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, problem) = env
        .as_session(&session, "GET", "/api/v1/auth/me", None, false)
        .await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")));

    // A password change (by the user themself) ends every session of the user …
    let first = env.login("sam", PASSWORD).await;
    let second = env.login("sam", PASSWORD).await;
    let new_password = "a much better passphrase";
    let path = format!("/api/v1/users/{}/password", sam.id);
    let (status, body) = env
        .as_session(
            &first,
            "POST",
            &path,
            Some(json!({"password": "short", "current_password": PASSWORD})),
            true,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
    let (status, body) = env
        .as_session(
            &first,
            "POST",
            &path,
            Some(json!({"password": new_password})),
            true,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("invalid_credentials")),
        "changing one's own password needs the current one"
    );
    let (status, _) = env
        .as_session(
            &first,
            "POST",
            &path,
            Some(json!({"password": new_password, "current_password": "not the password"})),
            true,
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = env
        .as_session(
            &first,
            "POST",
            &path,
            Some(json!({"password": new_password, "current_password": PASSWORD})),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password"], Value::Null);
    for session in [&first, &second] {
        let (status, _) = env
            .as_session(session, "GET", "/api/v1/auth/me", None, false)
            .await;
        assert_eq!(status, 401);
    }
    // … the old password no longer works, the new one does.
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "sam", "password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    let session = env.login("sam", new_password).await;
    // An admin resets it to a generated one-time password, shown once.
    let (status, body) = env.send("POST", &path, Some(TOKEN), Some(json!({})), &[]).await;
    assert_eq!(status, 200, "{body}");
    let generated = body["password"].as_str().unwrap().to_owned();
    assert!(generated.len() >= 12);
    let (status, _) = env
        .as_session(&session, "GET", "/api/v1/auth/me", None, false)
        .await;
    assert_eq!(status, 401);
    env.login("sam", &generated).await;
    // Staff cannot change someone else's password.
    let other = env.add_user(env.tenant.id, "kim", Role::Staff, PASSWORD).await;
    let sam_session = env.login("sam", &generated).await;
    let (status, _) = env
        .as_session(
            &sam_session,
            "POST",
            &format!("/api/v1/users/{}/password", other.id),
            Some(json!({"password": "kim's new password!"})),
            true,
        )
        .await;
    assert_eq!(status, 403);
}

async fn api_tokens_are_shown_once_hashed_scoped_and_revocable(env: Env) {
    let (token, created) = env.api_token(TOKEN, "zapier", None).await;
    assert!(token.starts_with("cb_") && token.len() == 46, "{token}");
    assert_eq!(created["role"], "owner", "defaults to the creator's role");
    assert_eq!(created["prefix"], &token[..11]);
    assert_eq!(created["user_id"], Value::Null);
    let (status, jobs) = env.send("GET", "/api/v1/jobs", Some(&token), None, &[]).await;
    assert_eq!(status, 200, "{jobs}");

    // The list never shows the secret again; the store holds only its SHA-256.
    let (status, list) = env.get("/api/v1/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&token[11..]), "{list}");
    assert!(
        list[0]["last_used_at"].is_string(),
        "the use was recorded: {list}"
    );
    let hash = sha2::Sha256::digest(token.as_bytes()).to_vec();
    let stored = env.store.find_api_token(&hash).await.unwrap().unwrap();
    assert_eq!(stored.tenant_id, env.tenant.id);

    // Scoped to its tenant: the other tenant's tokens do not list it and cannot revoke it.
    let (_, theirs) = env
        .send("GET", "/api/v1/tokens", Some(OTHER_TOKEN), None, &[])
        .await;
    assert_eq!(theirs, json!([]));
    let path = format!("/api/v1/tokens/{}", created["id"].as_str().unwrap());
    let (status, _) = env.send("DELETE", &path, Some(OTHER_TOKEN), None, &[]).await;
    assert_eq!(status, 404);

    // Revoked: 401 at once; revoking again keeps the first time.
    let (status, revoked) = env.send("DELETE", &path, Some(TOKEN), None, &[]).await;
    assert_eq!(status, 200, "{revoked}");
    let (status, problem) = env.send("GET", "/api/v1/jobs", Some(&token), None, &[]).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")));
    let (_, again) = env.send("DELETE", &path, Some(TOKEN), None, &[]).await;
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    // A made-up `cb_` token is 401 too.
    let (status, _) = env
        .send(
            "GET",
            "/api/v1/jobs",
            Some("cb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 401);
}

async fn nobody_grants_more_than_their_role(env: Env) {
    let admin = env.add_user(env.tenant.id, "ada", Role::Admin, PASSWORD).await;
    env.add_user(env.tenant.id, "sam", Role::Staff, PASSWORD).await;
    let staff = env.login("sam", PASSWORD).await;
    let ada = env.login("ada", PASSWORD).await;

    // Staff: no users at all, no tokens above staff.
    let (status, problem) = env
        .as_session(
            &staff,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "eve", "role": "staff"})),
            true,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("insufficient_role"))
    );
    let (status, _) = env.as_session(&staff, "GET", "/api/v1/users", None, false).await;
    assert_eq!(status, 403);
    let (status, problem) = env
        .as_session(
            &staff,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "admin"})),
            true,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("insufficient_role"))
    );
    let (status, mine) = env
        .as_session(
            &staff,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "mine"})),
            true,
        )
        .await;
    assert_eq!((status, mine["role"].as_str()), (201, Some("staff")));
    // A staff token cannot make users either.
    let staff_token = mine["token"].as_str().unwrap();
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/users",
            Some(staff_token),
            Some(json!({"login": "eve", "role": "staff"})),
            &[],
        )
        .await;
    assert_eq!(status, 403);

    // Admin: staff and admins, never owners; cannot touch the owner.
    let (status, _) = env
        .as_session(
            &ada,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "olga", "role": "owner"})),
            true,
        )
        .await;
    assert_eq!(status, 403);
    let (status, created) = env
        .as_session(
            &ada,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "eve", "role": "staff"})),
            true,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let one_time = created["password"].as_str().unwrap();
    assert!(one_time.len() >= 12);
    assert!(created["user"].get("password_hash").is_none());
    env.login("eve", one_time).await;
    let (status, problem) = env
        .as_session(
            &ada,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "fay", "role": "staff", "password": "too short"})),
            true,
        )
        .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("password"))
    );
    let (status, _) = env
        .as_session(
            &ada,
            "POST",
            "/api/v1/users",
            Some(json!({"login": "EVE", "role": "staff"})),
            true,
        )
        .await;
    assert_eq!(status, 409, "logins are unique per tenant, case-insensitively");
    let (status, _) = env
        .as_session(
            &ada,
            "PATCH",
            &format!("/api/v1/users/{}", admin.id),
            Some(json!({"role": "owner"})),
            true,
        )
        .await;
    assert_eq!(status, 403, "an admin cannot make itself owner");

    // The owner (bootstrap token) can, and the tenant keeps at least one owner.
    let (status, promoted) = env
        .send(
            "PATCH",
            &format!("/api/v1/users/{}", admin.id),
            Some(TOKEN),
            Some(json!({"role": "owner"})),
            &[],
        )
        .await;
    assert_eq!(
        (status, promoted["role"].as_str()),
        (200, Some("owner")),
        "{promoted}"
    );
    let (status, problem) = env
        .send(
            "PATCH",
            &format!("/api/v1/users/{}", admin.id),
            Some(TOKEN),
            Some(json!({"role": "staff"})),
            &[],
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_state")),
        "last owner"
    );

    // Deleting a user ends their sessions and tokens.
    let (status, users) = env.get("/api/v1/users").await;
    assert_eq!(status, 200);
    let sam_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "sam")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/users/{sam_id}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = env.as_session(&staff, "GET", "/api/v1/jobs", None, false).await;
    assert_eq!(status, 401);
    let (status, _) = env
        .send("GET", "/api/v1/jobs", Some(staff_token), None, &[])
        .await;
    assert_eq!(status, 401);
}

async fn a_login_in_several_tenants_needs_the_tenant(env: Env) {
    env.add_user(env.tenant.id, "pat", Role::Staff, PASSWORD).await;
    env.add_user(env.other.id, "pat", Role::Admin, PASSWORD).await;
    let (status, problem) = env_send(&env, json!({"login": "pat", "password": PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("tenant_required")));
    // The answer lists the login's businesses by id and name (sorted by name), for a login page to offer.
    let mut expected = vec![
        json!({"id": env.tenant.id.to_string(), "name": env.tenant.name}),
        json!({"id": env.other.id.to_string(), "name": env.other.name}),
    ];
    expected.sort_by_key(|t| t["name"].as_str().unwrap().to_lowercase());
    assert_eq!(problem["tenants"], Value::Array(expected), "{problem}");
    // Only with the right password does the login learn it must name a tenant, or which tenants it has.
    let (status, problem) = env_send(&env, json!({"login": "pat", "password": "not the password"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert!(problem.get("tenants").is_none(), "{problem}");
    for tenant in [&env.tenant, &env.other] {
        assert!(!problem.to_string().contains(&tenant.name), "{problem}");
        assert!(!problem.to_string().contains(&tenant.id.to_string()), "{problem}");
    }
    // A login in one tenant only logs straight in: no list.
    env.add_user(env.other.id, "solo", Role::Staff, PASSWORD).await;
    let (status, me) = env_send(&env, json!({"login": "solo", "password": PASSWORD})).await;
    assert_eq!(status, 200, "{me}");
    assert!(me.get("tenants").is_none());
    let (status, me) = env_send(
        &env,
        json!({"login": "pat", "password": PASSWORD, "tenant": env.other.id.to_string()}),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["tenant"]["id"].as_str(), me["role"].as_str()),
        (Some(env.other.id.to_string().as_str()), Some("admin"))
    );
}

async fn env_send(env: &Env, body: Value) -> (u16, Value) {
    env.send("POST", "/api/v1/auth/login", None, Some(body), &[])
        .await
}

async fn brute_force_hits_the_login_rate_limit(env: Env) {
    env.add_user(env.tenant.id, "maria", Role::Staff, PASSWORD).await;
    for i in 0..5 {
        let (status, _) = env_send(
            &env,
            json!({"login": "maria", "password": format!("guess number {i}")}),
        )
        .await;
        assert_eq!(status, 401, "attempt {i}");
    }
    // Locked out: even the right password is refused until the window has passed.
    let response = env
        .raw(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "Maria", "password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let problem: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(problem["code"], "rate_limited");
    assert!(!problem.to_string().contains("set-cookie"));
    // Other logins are not locked out by it.
    env.add_user(env.tenant.id, "kim", Role::Staff, PASSWORD).await;
    env.login("kim", PASSWORD).await;
}

async fn idle_sessions_expire(env: Env) {
    let state = env.state.clone().with_accounts(
        env.state
            .accounts
            .clone()
            .with_session_idle(std::time::Duration::from_secs(1)),
    );
    let env = Env {
        app: callbook_server::api::router(state.clone()),
        state,
        ..env
    };
    env.add_user(env.tenant.id, "maria", Role::Staff, PASSWORD).await;
    let session = env.login("maria", PASSWORD).await;
    assert!(
        session.set_cookie.contains("Max-Age=1;"),
        "{}",
        session.set_cookie
    );
    let (status, _) = env
        .as_session(&session, "GET", "/api/v1/auth/me", None, false)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, problem) = env
        .as_session(&session, "GET", "/api/v1/auth/me", None, false)
        .await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")));
}

on_every_backend!(
    login_sets_a_hardened_cookie_and_me_answers,
    wrong_passwords_and_unknown_logins_are_the_same_401,
    cookie_writes_need_the_csrf_token,
    logout_and_password_changes_end_sessions,
    api_tokens_are_shown_once_hashed_scoped_and_revocable,
    nobody_grants_more_than_their_role,
    a_login_in_several_tenants_needs_the_tenant,
    brute_force_hits_the_login_rate_limit,
    idle_sessions_expire,
);
