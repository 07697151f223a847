//! E-mail notifications against real SMTP servers on loopback: Python's aiosmtpd (`CALLBOOK_TEST_SMTP_PYTHON`,
//! set up by `.ci/setup.d/70-smtp-sink.sh`) and a small SMTP server in this file for error replies.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callbook_jobs::{
    Actor, InMemoryJobStore, Job, JobBoard, JobStore, NewJob, NewTenant, Role, Tenant, TenantStore, TimeZone,
    UserId,
};
use callbook_pipeline::notify::{EmailNotifier, Event, EventKind, Notifier, NotifyError};
use chrono::{TimeZone as _, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

struct Fixture {
    store: Arc<InMemoryJobStore>,
    tenant: Tenant,
    job: Job,
    wants_mail: UserId,
}

/// A tenant in New York with: a user who wants e-mail (default kinds), one with an address but only live, one
/// without an address, and a settings entry for a user who is not in the tenant.
async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryJobStore::new());
    let tenant = store
        .create_tenant(NewTenant::new(
            "Acme Plumbing",
            TimeZone::parse("America/New_York").unwrap(),
        ))
        .await
        .unwrap();
    let a = store
        .create_user(tenant.id, "ana", Role::Owner, None)
        .await
        .unwrap();
    let b = store
        .create_user(tenant.id, "bob", Role::Staff, None)
        .await
        .unwrap();
    let _c = store
        .create_user(tenant.id, "cy", Role::Staff, None)
        .await
        .unwrap();
    let tenant = store
        .update_tenant_settings(
            tenant.id,
            json!({"notifications": {"users": {
                a.id.to_string(): {"email": "ana@example.com"},
                b.id.to_string(): {"email": "bob@example.com", "channels": ["live", "in_app"]},
                UserId::new().to_string(): {"email": "stranger@example.com"},
            }}}),
        )
        .await
        .unwrap();
    let mut new = NewJob::titled("Kitchen sink leak");
    new.scheduled_start = Some(Utc.with_ymd_and_hms(2026, 11, 25, 20, 0, 0).unwrap());
    new.scheduled_end = Some(Utc.with_ymd_and_hms(2026, 11, 25, 22, 0, 0).unwrap());
    new.timezone = Some(TimeZone::parse("America/New_York").unwrap());
    let job = store
        .create_job(tenant.id, new, Actor::System("pipeline".into()))
        .await
        .unwrap();
    Fixture {
        store,
        tenant,
        job,
        wants_mail: a.id,
    }
}

fn created(f: &Fixture) -> Event {
    Event::new(f.tenant.id, EventKind::JobCreated, Utc::now())
        .with_job(f.job.id)
        .with_data(json!({"stage": "quote_requested"}))
        .with_dedupe_key(format!("job.created:{}", f.job.id))
}

fn notifier(f: &Fixture, port: u16) -> EmailNotifier {
    EmailNotifier::builder(f.store.clone() as Arc<dyn JobStore>)
        .with_url(format!("smtp://127.0.0.1:{port}"))
        .with_from("Callbook <callbook@example.org>")
        .with_public_url("https://callbook.example.org/")
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Checks one received job.created message (raw RFC 5322 bytes).
fn check_job_mail(raw: &[u8], f: &Fixture) {
    let message = MessageParser::default().parse(raw).expect("a parseable message");
    let to: Vec<String> = message
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address().map(str::to_owned))
        .collect();
    assert_eq!(to, ["ana@example.com"]);
    assert_eq!(message.subject(), Some("New job: Kitchen sink leak"));
    let text = message.body_text(0).unwrap();
    assert!(text.contains("Kitchen sink leak"), "{text}");
    assert!(
        text.contains("Wed 25 Nov 2026 15:00 – 17:00 (America/New_York)"),
        "{text}"
    );
    assert!(text.contains("Stage: quote_requested"), "{text}");
    assert!(
        text.contains(&format!("https://callbook.example.org/jobs/{}", f.job.id)),
        "{text}"
    );

    let calendars: Vec<_> = message
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .collect();
    assert_eq!(calendars.len(), 1, "one text/calendar part");
    let part = calendars[0];
    let ct = part.content_type().unwrap();
    assert_eq!(
        ct.attribute("charset").map(str::to_ascii_lowercase).as_deref(),
        Some("utf-8")
    );
    assert_eq!(ct.attribute("method"), Some("PUBLISH"));
    assert_eq!(part.attachment_name(), Some("job.ics"));
    // aiosmtpd's maildir stores lines with `\n`: restore the wire's CRLF before checking.
    let ics = std::str::from_utf8(part.contents())
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");

    assert!(ics.contains("METHOD:PUBLISH\r\n"), "{ics}");
    assert!(ics.contains("ORGANIZER:mailto:callbook@example.org\r\n"), "{ics}");
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    assert!(unfolded.contains("SUMMARY:Kitchen sink leak\r\n"), "{unfolded}");
    assert!(
        unfolded.contains("DTSTART;TZID=America/New_York:20261125T150000\r\n"),
        "{unfolded}"
    );
    assert!(unfolded.contains(&format!("UID:job-{}@callbook\r\n", f.job.id)));
    // Parsed by the icalendar crate's parser.
    let calendar = icalendar::parser::read_calendar(&unfolded).expect("icalendar parses it");
    let event = calendar
        .components
        .iter()
        .find(|c| c.name == "VEVENT")
        .expect("a VEVENT");
    let prop = |name: &str| {
        event
            .properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.val.as_str().to_owned())
    };
    assert_eq!(prop("SUMMARY").as_deref(), Some("Kitchen sink leak"));
    assert_eq!(prop("DTSTART").as_deref(), Some("20261125T150000"));
    // And by libical, when the checker is there.
    match std::env::var("CALLBOOK_ICALCHECK") {
        Ok(checker) if !checker.is_empty() => {
            let mut child = Command::new(&checker)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(ics.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            let report = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "libical: {report}");
            // 2026-11-25 15:00 America/New_York = 20:00 UTC.
            let start = Utc.with_ymd_and_hms(2026, 11, 25, 20, 0, 0).unwrap().timestamp();
            assert!(
                report.contains(&format!("EVENT job-{}@callbook {start} ", f.job.id)),
                "{report}"
            );
        }
        _ => eprintln!("CALLBOOK_ICALCHECK not set: the .ics is checked with the icalendar parser only"),
    }
}

// ------------------------------------------------------------------------------------------------ aiosmtpd

struct Aiosmtpd {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn aiosmtpd() -> Option<Aiosmtpd> {
    let Ok(python) = std::env::var("CALLBOOK_TEST_SMTP_PYTHON") else {
        eprintln!(
            "CALLBOOK_TEST_SMTP_PYTHON not set (.ci/setup.d/70-smtp-sink.sh): skipping the aiosmtpd test"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let port = free_port();
    let child = Command::new(PathBuf::from(python))
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let sink = Aiosmtpd { child, dir, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(sink);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aiosmtpd did not start listening on {port}");
}

fn maildir(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[tokio::test]
async fn aiosmtpd_receives_one_job_mail_with_a_valid_ics() {
    let Some(sink) = aiosmtpd().await else { return };
    let f = fixture().await;
    let email = notifier(&f, sink.port);
    let event = created(&f);
    email.notify(&event).await.unwrap();
    let mails = maildir(sink.dir.path());
    assert_eq!(mails.len(), 1, "only the user who wants e-mail, once");
    check_job_mail(&mails[0], &f);
    let parsed = MessageParser::default().parse(&mails[0][..]).unwrap();
    assert_eq!(
        parsed.header("X-RcptTo").and_then(|h| h.as_text()),
        Some("ana@example.com")
    );

    // The same event again (a pipeline retry), and a new event with the same dedupe key: no second mail.
    email.notify(&event).await.unwrap();
    let again = created(&f);
    assert_ne!(again.id, event.id);
    email.notify(&again).await.unwrap();
    assert_eq!(maildir(sink.dir.path()).len(), 1);

    // Kinds that are not mailed send nothing; call.dead is mailed without an attachment.
    email
        .notify(&Event::new(f.tenant.id, EventKind::JobMoved, Utc::now()).with_job(f.job.id))
        .await
        .unwrap();
    let call = callbook_jobs::CallId::new();
    email
        .notify(&Event::new(f.tenant.id, EventKind::CallDead, Utc::now()).with_call(call))
        .await
        .unwrap();
    let mails = maildir(sink.dir.path());
    assert_eq!(mails.len(), 2);
    let dead = mails
        .iter()
        .map(|m| MessageParser::default().parse(&m[..]).unwrap())
        .find(|m| m.subject() == Some("A call could not be processed"))
        .expect("the call.dead mail");
    assert_eq!(dead.attachment_count(), 0);
    assert!(dead.body_text(0).unwrap().contains(&format!("/calls/{call}")));
    let _ = f.wants_mail;
}

// ------------------------------------------------------------------------------------------------ scripted SMTP

/// A small SMTP server: answers every command, with `rcpt_reply` to `RCPT TO` and `data_reply` after the
/// message; keeps the messages it accepted.
async fn scripted_smtp(rcpt_reply: &'static str, data_reply: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP ready\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: String = match verb.as_str() {
                        "EHLO" => "250-sink\r\n250 8BITMIME\r\n".into(),
                        "HELO" | "MAIL" | "RSET" | "NOOP" => "250 OK\r\n".into(),
                        "RCPT" => format!("{rcpt_reply}\r\n"),
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut message = String::new();
                            loop {
                                line.clear();
                                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                message.push_str(&line);
                            }
                            if data_reply.starts_with('2') {
                                store.lock().unwrap().push(message);
                            }
                            format!("{data_reply}\r\n")
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => "502 not implemented\r\n".into(),
                    };
                    write.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn the_scripted_server_receives_the_same_mail() {
    let (port, received) = scripted_smtp("250 OK", "250 queued").await;
    let f = fixture().await;
    notifier(&f, port).notify(&created(&f)).await.unwrap();
    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    check_job_mail(mails[0].as_bytes(), &f);
}

#[tokio::test]
async fn a_451_is_retryable_and_a_550_is_permanent() {
    for (rcpt, data, retryable, code) in [
        ("451 4.3.0 try again later", "250 OK", true, 451),
        ("250 OK", "451 4.3.0 local error", true, 451),
        ("550 5.1.1 mailbox unavailable", "250 OK", false, 550),
        ("250 OK", "554 5.6.0 rejected", false, 554),
    ] {
        let (port, received) = scripted_smtp(rcpt, data).await;
        let f = fixture().await;
        let err = notifier(&f, port).notify(&created(&f)).await.unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{rcpt} / {data}: {err}");
        assert!(
            matches!(err, NotifyError::Smtp { code: Some(c), .. } if c == code),
            "{err}"
        );
        assert!(
            !err.to_string().contains("example.com"),
            "no address in errors: {err}"
        );
        assert!(received.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn an_unreachable_server_is_retryable_and_claims_nothing() {
    let port = free_port(); // nothing listens there
    let f = fixture().await;
    let event = created(&f);
    let err = notifier(&f, port).notify(&event).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(matches!(err, NotifyError::Smtp { code: None, .. }), "{err}");
    // The retry, once the server is up, still sends.
    let (port, received) = scripted_smtp("250 OK", "250 OK").await;
    notifier(&f, port).notify(&event).await.unwrap();
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[test]
fn bad_configuration_is_a_clear_permanent_error() {
    let store = Arc::new(InMemoryJobStore::new()) as Arc<dyn JobStore>;
    for (url, from) in [
        ("not a url", "a@example.org"),
        ("smtp://127.0.0.1:25", "not an address"),
    ] {
        let err = EmailNotifier::from_url(url, from, store.clone()).unwrap_err();
        assert!(
            matches!(err, NotifyError::Config(_)) && !err.is_retryable(),
            "{err}"
        );
    }
    let err = EmailNotifier::builder(store.clone()).build().unwrap_err();
    assert!(err.to_string().contains("CALLBOOK_SMTP_URL"), "{err}");
    let ok = EmailNotifier::from_url("smtp://user:secret@127.0.0.1:2525", "a@example.org", store).unwrap();
    assert!(!format!("{ok:?}").contains("secret"));
}

#[tokio::test]
async fn a_refused_recipient_is_not_mailed_again_by_a_retry() {
    // The documented at-most-once trade-off: the key is claimed before sending.
    let (port, _) = scripted_smtp("451 4.3.0 try again later", "250 OK").await;
    let f = fixture().await;
    let event = created(&f);
    assert!(
        notifier(&f, port)
            .notify(&event)
            .await
            .unwrap_err()
            .is_retryable()
    );
    let (port, received) = scripted_smtp("250 OK", "250 OK").await;
    notifier(&f, port).notify(&event).await.unwrap();
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unscheduled_jobs_bad_addresses_and_review_mails() {
    let (port, received) = scripted_smtp("250 OK", "250 OK").await;
    let f = fixture().await;
    let dave = f
        .store
        .create_user(f.tenant.id, "dave", Role::Staff, None)
        .await
        .unwrap();
    let mut settings = f.tenant.settings.clone();
    settings["notifications"]["users"][dave.id.to_string()] = json!({"email": "not an address"});
    f.store
        .update_tenant_settings(f.tenant.id, settings)
        .await
        .unwrap();
    let job = f
        .store
        .create_job(
            f.tenant.id,
            NewJob::titled("Quote for a boiler"),
            Actor::System("pipeline".into()),
        )
        .await
        .unwrap();
    let email = notifier(&f, port);
    email
        .notify(&Event::new(f.tenant.id, EventKind::JobCreated, Utc::now()).with_job(job.id))
        .await
        .unwrap();
    let call = callbook_jobs::CallId::new();
    email
        .notify(&Event::new(f.tenant.id, EventKind::CallNeedsReview, Utc::now()).with_call(call))
        .await
        .unwrap();
    // A job.created without a job id sends nothing and does not fail.
    email
        .notify(&Event::new(f.tenant.id, EventKind::JobCreated, Utc::now()))
        .await
        .unwrap();
    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "only ana; dave's address is skipped");
    let job_mail = MessageParser::default().parse(mails[0].as_bytes()).unwrap();
    assert_eq!(job_mail.subject(), Some("New job: Quote for a boiler"));
    assert_eq!(job_mail.attachment_count(), 0, "no .ics for an unscheduled job");
    assert!(job_mail.body_text(0).unwrap().contains("When: not scheduled yet"));
    let review = MessageParser::default().parse(mails[1].as_bytes()).unwrap();
    assert_eq!(review.subject(), Some("A call needs review"));
    assert!(
        review
            .body_text(0)
            .unwrap()
            .contains(&format!("https://callbook.example.org/calls/{call}"))
    );
    // A job of another tenant is not found: a clear, permanent error.
    let err = email
        .notify(
            &Event::new(f.tenant.id, EventKind::JobCreated, Utc::now()).with_job(callbook_jobs::JobId::new()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::Store(_)) && !err.is_retryable(),
        "{err}"
    );
}
