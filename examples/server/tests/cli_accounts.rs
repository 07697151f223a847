//! `callbook tenant create` and `callbook user add` on a data directory the server never used: they print a
//! one-time password once, and the server started afterwards on the same directory logs those users in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Command;

use axum::body::Body;
use axum::http::Request;
use callbook_server::app;
use callbook_server::config::Config;
use callbook_server::ops::Metrics;
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn callbook(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command
        .current_dir(dir)
        .env_clear()
        .env("CALLBOOK_DATA_DIR", dir.join("data"))
        .env("CALLBOOK_TENANT_NAME", "Bootstrap Plumbing");
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
}

/// The value after `label` on stdout (`password Xk7…  (shown once …)`).
fn field(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn accounts_made_before_the_server_ran_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let output = callbook(dir.path())
        .args([
            "tenant",
            "create",
            "--name",
            "Rivera Plumbing",
            "--zone",
            "America/New_York",
            "--owner",
            "maria",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rivera = field(&stdout, "tenant");
    let maria_password = field(&stdout, "password");
    assert!(maria_password.len() >= 12, "{stdout}");
    assert!(stdout.contains("Rivera Plumbing (America/New_York)"), "{stdout}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&maria_password));

    let output = callbook(dir.path())
        .args(["user", "add", "--login", "sam", "--role", "admin"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bootstrap = field(&stdout, "tenant");
    let sam_password = field(&stdout, "password");
    assert_ne!(bootstrap, rivera);
    assert_ne!(sam_password, maria_password);

    // Bad input: a clear message, exit 2, nothing created.
    let output = callbook(dir.path())
        .args(["user", "add", "--login", "kim", "--role", "emperor"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--role"));

    // The server on the same data directory: its bootstrap tenant is the one `user add` used.
    let env: HashMap<String, String> = [
        ("CALLBOOK_DATA_DIR", dir.path().join("data").display().to_string()),
        ("CALLBOOK_TENANT_NAME", "Bootstrap Plumbing".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let state = app::build(&config, Metrics::local()).await.unwrap().state;
    assert_eq!(state.tenant.id.to_string(), bootstrap);
    let router = app::router(state);
    for (login, password, tenant, role) in [
        ("maria", &maria_password, &rivera, "owner"),
        ("sam", &sam_password, &bootstrap, "admin"),
    ] {
        let response = router
            .clone()
            .oneshot(
                Request::post("/api/v1/auth/login")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"login": login, "password": password}).to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{login}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let me: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (me["tenant"]["id"].as_str(), me["role"].as_str()),
            (Some(tenant.as_str()), Some(role))
        );
    }
}

/// `callbook serve` on a fresh data directory makes the dashboard's first owner: the password is in
/// `DATA_DIR/owner.password` (0600), never on stdout/stderr, and it signs in; a second start changes nothing.
#[tokio::test]
async fn the_first_start_makes_an_owner_whose_password_is_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env: HashMap<String, String> = [
        ("CALLBOOK_DATA_DIR", data.display().to_string()),
        ("CALLBOOK_TENANT_NAME", "Bootstrap Plumbing".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let built = app::build(&config, Metrics::local()).await.unwrap();
    let store = built.state.store.clone();
    let tenant = built.state.tenant.clone();
    let line = callbook_server::cli_accounts::first_owner(&config, store.as_ref(), &tenant)
        .await
        .unwrap();
    let path = data.join("owner.password");
    assert!(
        line.contains("/app") && line.contains(&path.display().to_string()),
        "{line}"
    );
    let password = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(password.len() >= 12);
    assert!(!line.contains(&password));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let users = store.list_users(tenant.id).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].login, "owner");
    assert_eq!(users[0].role, callbook_jobs::Role::Owner);

    // the password signs in
    let router = app::router(built.state);
    let response = router
        .oneshot(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"login": "owner", "password": password}).to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // a second start: no new user, the file untouched, the plain dashboard line
    let again = callbook_server::cli_accounts::first_owner(&config, store.as_ref(), &tenant)
        .await
        .unwrap();
    assert!(!again.contains("owner.password"), "{again}");
    assert_eq!(store.list_users(tenant.id).await.unwrap().len(), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), password);
}
