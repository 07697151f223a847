//! `callbook simulate-call` against a running `callbook serve`, and the simulator endpoints it uses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BOOKING: &str = "Hi, this is Maria Lopez. My kitchen sink is leaking under the cabinet.\n\
    Could you come tomorrow between 3 and 5? I'm at 42 Oak Street, Apt 3B, Yonkers.\n\
    My number is 914-555-0177. Thanks.";

fn callbook(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command.current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `callbook serve` on a free port whose public URL is that address.
struct Server {
    _child: Killed,
    base: String,
    data: std::path::PathBuf,
    dir: tempfile::TempDir,
}

fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The public URL must be known before start-up (webhooks are signed over it): pick a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = callbook(dir.path())
        .arg("serve")
        .env("CALLBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("CALLBOOK_PUBLIC_URL", &base)
        .env("CALLBOOK_DATA_DIR", &data)
        .env("CALLBOOK_TIMEZONE", "America/New_York")
        .env("RUST_LOG", "warn")
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
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server never said it was ready");
        if line.contains("callbook: ready on http://") {
            break;
        }
    }
    Server {
        _child: child,
        base,
        data,
        dir,
    }
}

fn token(server: &Server, name: &str) -> String {
    std::fs::read_to_string(server.data.join(name))
        .unwrap()
        .trim()
        .to_owned()
}

async fn api(server: &Server, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}/api/v1{path}", server.base))
        .bearer_auth(token(server, "admin.token"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn simulate_call_books_a_job_on_a_running_server_and_a_forged_token_is_refused() {
    let server = serve();
    let transcript = server.dir.path().join("call.txt");
    std::fs::write(&transcript, BOOKING).unwrap();

    let output = callbook(server.dir.path())
        .arg("simulate-call")
        .arg("--transcript")
        .arg(&transcript)
        .args(["--from", "+19145550177", "--server", &server.base, "--data-dir"])
        .arg(&server.data)
        .arg("--wait")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("answered    Say"), "{stdout}");
    assert!(stdout.contains("Record"), "{stdout}");
    assert!(stdout.contains("outcome     done"), "{stdout}");
    assert!(stdout.contains("Maria Lopez"), "{stdout}");
    assert!(stdout.contains("quote_requested"), "{stdout}");
    assert!(stdout.contains("America/New_York"), "{stdout}");

    // The API agrees: one job, in quote_requested, for the caller.
    let jobs = api(&server, "/jobs").await;
    let items = jobs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{jobs}");
    assert_eq!(items[0]["stage"], "quote_requested");
    let customer = api(
        &server,
        &format!("/customers/{}", items[0]["customer_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(customer["customer"]["name"], "Maria Lopez");
    let calls = api(&server, "/calls").await;
    assert_eq!(calls["items"].as_array().unwrap().len(), 1);
    assert_eq!(calls["items"][0]["processing"]["state"], "done");

    // A forged token: exit 1, the reason, and nothing new on the server.
    let output = callbook(server.dir.path())
        .arg("simulate-call")
        .arg("--transcript")
        .arg(&transcript)
        .args([
            "--server",
            &server.base,
            "--auth-token",
            "forged-token-0123456789",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the server rejected the signature"), "{stderr}");
    assert!(stderr.contains("CALLBOOK_PUBLIC_URL"), "{stderr}");
    let calls = api(&server, "/calls").await;
    assert_eq!(calls["items"].as_array().unwrap().len(), 1);

    // Real audio with its transcript: the audio is what the server stores and transcribes.
    let audio = server.dir.path().join("call.wav");
    let (wav, _) = callbook_server::simulate::tone_for("any audio will do");
    std::fs::write(&audio, &wav).unwrap();
    let second = server.dir.path().join("second.txt");
    std::fs::write(
        &second,
        "Hi, this is Tom Baker at 5 Pine Road, Rye. The toilet upstairs keeps running.\n\
         Can someone come Friday at 10 am? My number is 914-555-0190.",
    )
    .unwrap();
    let output = callbook(server.dir.path())
        .arg("simulate-call")
        .arg("--audio")
        .arg(&audio)
        .arg("--transcript")
        .arg(&second)
        .args(["--from", "+19145550190", "--server", &server.base, "--data-dir"])
        .arg(&server.data)
        .arg("--wait")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Tom Baker"), "{stdout}");
    let hash = callbook_transcribe::audio::sha256_hex(&wav);
    assert!(
        server
            .data
            .join("demo-transcripts")
            .join(format!("{hash}.txt"))
            .is_file()
    );
    let jobs = api(&server, "/jobs").await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 2, "{jobs}");

    // Signed for another URL than the server's public one: refused the same way.
    let elsewhere = server.base.replace("127.0.0.1", "localhost");
    let output = callbook(server.dir.path())
        .arg("simulate-call")
        .arg("--transcript")
        .arg(&transcript)
        .args(["--server", &elsewhere, "--data-dir"])
        .arg(&server.data)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // Neither --audio nor --transcript.
    let output = callbook(dir.path()).arg("simulate-call").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    // A missing file.
    let output = callbook(dir.path())
        .args(["simulate-call", "--transcript", "nope.txt"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.txt"));
    // A number that is not E.164.
    std::fs::write(dir.path().join("t.txt"), "hello").unwrap();
    let output = callbook(dir.path())
        .args(["simulate-call", "--transcript", "t.txt", "--from", "12"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--from"));
}

#[tokio::test]
async fn the_recording_endpoint_authenticates_caps_and_registers() {
    let server = serve();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/simulator/recordings?call_sid=CA0123456789abcdef0123456789abcdef&duration=7",
        server.base
    );
    let sim = token(&server, "simulator.token");

    // No or a wrong token: 401.
    let r = http.post(&url).body("RIFF").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&url)
        .bearer_auth("wrong")
        .body("RIFF")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Too large: 413.
    let r = http
        .post(&url)
        .bearer_auth(&sim)
        .body(vec![0u8; 50 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A bad call sid: 400.
    let r = http
        .post(format!(
            "{}/simulator/recordings?call_sid=CA12&duration=7",
            server.base
        ))
        .bearer_auth(&sim)
        .body("RIFF")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The happy path: a recording sid, twice distinct.
    let a: Value = http
        .post(&url)
        .bearer_auth(&sim)
        .header("content-type", "audio/wav")
        .body("RIFF....WAVE")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["duration"], 7);
    let sid = a["recording_sid"].as_str().unwrap();
    assert!(sid.starts_with("RE") && sid.len() == 34, "{a}");
    let b: Value = http
        .post(&url)
        .bearer_auth(&sim)
        .body("RIFF....WAVE")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(a["recording_sid"], b["recording_sid"]);

    // The transcript endpoint writes the demo transcriber's sidecar; a bad hash is 400.
    let hash = "a".repeat(64);
    let r = http
        .put(format!("{}/simulator/transcripts/{hash}", server.base))
        .bearer_auth(&sim)
        .body("Caller: hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let written =
        std::fs::read_to_string(server.data.join("demo-transcripts").join(format!("{hash}.txt"))).unwrap();
    assert_eq!(written, "Caller: hello");
    let r = http
        .put(format!("{}/simulator/transcripts/..%2Fx", server.base))
        .bearer_auth(&sim)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn there_is_no_simulator_with_a_twilio_account() {
    use callbook_server::{app, config::Config, ops::Metrics};
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let config = Config::from_lookup(|k| match k {
        "CALLBOOK_DATA_DIR" => Some(data.clone()),
        "TWILIO_ACCOUNT_SID" => Some("AC00000000000000000000000000000001".to_owned()),
        "TWILIO_AUTH_TOKEN" => Some("test-auth-token".to_owned()),
        "TWILIO_API_BASE_URL" => Some("http://127.0.0.1:9".to_owned()),
        _ => None,
    })
    .unwrap();
    let built = app::build(&config, Metrics::local()).await.unwrap();
    let response = app::router(built.state)
        .oneshot(
            axum::http::Request::post(
                "/simulator/recordings?call_sid=CA0123456789abcdef0123456789abcdef&duration=7",
            )
            .header("authorization", "Bearer test-auth-token")
            .body(axum::body::Body::from("RIFF"))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
