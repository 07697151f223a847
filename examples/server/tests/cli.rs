//! The `callbook` binary: `serve` (the default) starts with nothing configured and stops gracefully on
//! SIGTERM; a bad setting stops start-up naming the variable; `migrate` migrates and exits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn callbook(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command.current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = callbook(dir.path())
        .env("CALLBOOK_TIMEZONE", "Mars/Base")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"CALLBOOK_TIMEZONE: "Mars/Base" is not an IANA time zone"#),
        "{stderr}"
    );
    // Nothing was created.
    assert!(!dir.path().join("callbook-data").exists());
}

#[test]
fn migrate_creates_and_migrates_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = callbook(dir.path()).arg("migrate").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("is migrated"), "{stderr}");
    assert!(dir.path().join("callbook-data/callbook.db").is_file());
    // Twice is fine.
    assert!(
        callbook(dir.path())
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[tokio::test]
async fn serve_starts_with_nothing_configured_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = callbook(dir.path())
        .env("CALLBOOK_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no ready line; got {seen:#?}"));
        if let Some(address) = line.strip_prefix("callbook: ready on ") {
            break address.to_owned();
        }
        seen.push(line);
    };
    let report = seen.join("\n");
    for part in [
        "sqlite://./callbook-data/callbook.db",
        "fake telephony",
        "demo",
        "rules",
        "admin.token",
    ] {
        assert!(report.contains(part), "{part} missing from {report}");
    }
    assert!(dir.path().join("callbook-data/master.key").is_file());
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // The worker's own metrics reach the process-wide recorder: the queue gauges (refreshed when the loop
    // starts) with their help texts.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = reqwest::get(format!("{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("callbook_pipeline_queue_due") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains("callbook_pipeline_queue_due 0"), "{metrics}");
    assert!(
        metrics.contains("# HELP callbook_pipeline_queue_due Calls a worker could claim now."),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"callbook_pipeline_queue_calls{state="queued"} 0"#),
        "{metrics}"
    );
    // The REST API answers with the admin token the report pointed to.
    let token = std::fs::read_to_string(dir.path().join("callbook-data/admin.token")).unwrap();
    let jobs = reqwest::Client::new()
        .get(format!("{address}/api/v1/jobs"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), 200);

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l == "callbook: stopped"), "{rest:#?}");
}
