//! A Postgres database for tests: `CALLBOOK_TEST_DATABASE_URL` when set (CI starts a throwaway cluster and
//! exports it); otherwise a throwaway cluster this process starts from the Debian Postgres binaries (as user
//! `postgres` when running as root) and that a watchdog stops when the process exits; otherwise `None` and a
//! message on stderr. Every caller gets a fresh, empty database, so migrations always run from empty.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ADMIN_URL: OnceLock<Option<String>> = OnceLock::new();

fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_pg_user(root: bool, program: &str) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> Option<String> {
    let Some(bin) = find_bin() else {
        eprintln!(
            "skipping Postgres tests: CALLBOOK_TEST_DATABASE_URL is unset and no Postgres binaries were found \
             under /usr/lib/postgresql"
        );
        return None;
    };
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("callbook-jobs-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    if root {
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .ok()?
            .success();
        assert!(ok, "chown of the Postgres test directory failed");
    }
    let data = dir.join("data");
    let status = as_pg_user(root, bin.join("initdb").to_str()?)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    assert!(status.success(), "initdb failed");
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    // The watchdog runs Postgres in the background and stops it once this test process is gone.
    let script = format!(
        "{postgres} -D {data} -c listen_addresses=127.0.0.1 -p {port} -k {dir} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 >{dir}/log 2>&1 & pg=$!; \
         while [ -d /proc/{pid} ]; do sleep 1; done; kill -INT $pg; wait $pg; rm -rf {dir}",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
        pid = std::process::id(),
    );
    as_pg_user(root, "sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the test Postgres did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    eprintln!(
        "started a throwaway Postgres on 127.0.0.1:{port} (set CALLBOOK_TEST_DATABASE_URL to use another)"
    );
    Some(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn admin_url() -> Option<String> {
    ADMIN_URL
        .get_or_init(|| match std::env::var("CALLBOOK_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => start_cluster(),
        })
        .clone()
}

/// The URL of a fresh, empty database, or `None` (with a message on stderr) when Postgres is unavailable.
pub(crate) async fn fresh_database(what: &str) -> Option<String> {
    let admin = admin_url().or_else(|| {
        eprintln!("skipping Postgres: {what}");
        None
    })?;
    let name = format!("cbtest_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("connect to the test Postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create a test database");
    pool.close().await;
    let base = admin.split('?').next().unwrap_or(&admin);
    let cut = base.rfind('/').expect("database URL has a path");
    Some(format!("{}/{}", &base[..cut], name))
}
