//! `callbook backup` / `callbook restore`: a restored deployment has every call, job and recording of the
//! original; damaged backups, a missing master key and overwrites are refused; the snapshot is consistent while
//! the database is being written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use callbook_jobs::{Call, Customer, CustomerInput, JobFilter, JobStore, Page, Tenant};
use callbook_storage::{ArtefactKind, EncryptedStore, Keyring, RecordingKey, RecordingStore};

const PAGE: Page = Page {
    offset: 0,
    limit: 500,
};

fn callbook(cwd: &Path, data: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbook"));
    command.current_dir(cwd).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
        .args(args)
        .env("CALLBOOK_LISTEN", "127.0.0.1:0")
        .env("CALLBOOK_DATA_DIR", data)
        .env("CALLBOOK_TIMEZONE", "America/New_York");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn open(data: &Path) -> (Arc<dyn JobStore>, Tenant) {
    let store = callbook_jobs::open(&format!("sqlite://{}", data.join("callbook.db").display()))
        .await
        .unwrap();
    let tenant = store.list_tenants(PAGE).await.unwrap().remove(0);
    (store, tenant)
}

fn recordings(data: &Path) -> EncryptedStore {
    let spec = std::fs::read_to_string(data.join("master.key")).unwrap();
    EncryptedStore::builder()
        .with_url(format!("file://{}", data.join("recordings").display()))
        .with_keyring(Keyring::parse(spec.trim()).unwrap())
        .build()
        .unwrap()
}

fn recording_key(call: &Call) -> RecordingKey {
    let canonical = call
        .recording
        .as_ref()
        .and_then(|r| r.storage_key.as_deref())
        .expect("every demo call has stored audio");
    let parts: Vec<&str> = canonical.split('/').collect();
    RecordingKey::new(
        parts[0].parse().unwrap(),
        parts[1].parse().unwrap(),
        ArtefactKind::parse(parts[2]).unwrap(),
        parts[3].parse().unwrap(),
    )
}

async fn audio(store: &EncryptedStore, call: &Call) -> Vec<u8> {
    store
        .get_recording(&recording_key(call))
        .await
        .unwrap()
        .collect_verified()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_restored_backup_has_every_call_job_and_recording() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let out = callbook(dir.path(), &original, &["demo", "--exit"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let backup = dir.path().join("backup");
    let out = callbook(dir.path(), &original, &["backup", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("5 calls"), "{}", text(&out));
    assert!(text(&out).contains("master key is not in the backup"));
    // The backup holds no key material in the clear and no plaintext master key.
    let master = std::fs::read_to_string(original.join("master.key")).unwrap();
    assert!(!backup.join("master.key").exists());
    for entry in walk(&backup) {
        let bytes = std::fs::read(&entry).unwrap();
        let secret = master.trim().rsplit(':').next().unwrap().as_bytes();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{} holds the master key",
            entry.display()
        );
    }

    // A second backup into the same (now non-empty) directory is refused.
    let again = callbook(dir.path(), &original, &["backup", backup.to_str().unwrap()], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // Restore into a fresh data directory that has only the master key.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(original.join("master.key"), restored.join("master.key")).unwrap();
    let out = callbook(dir.path(), &restored, &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (store_a, tenant_a) = open(&original).await;
    let (store_b, tenant_b) = open(&restored).await;
    assert_eq!(tenant_a, tenant_b);
    let calls_a = store_a.list_calls(tenant_a.id, None, PAGE).await.unwrap();
    let calls_b = store_b.list_calls(tenant_b.id, None, PAGE).await.unwrap();
    assert_eq!(calls_a.len(), 5);
    assert_eq!(calls_a, calls_b);
    let jobs_a = store_a
        .list_jobs(tenant_a.id, &JobFilter::default(), PAGE)
        .await
        .unwrap();
    let jobs_b = store_b
        .list_jobs(tenant_b.id, &JobFilter::default(), PAGE)
        .await
        .unwrap();
    assert_eq!(jobs_a.len(), 3);
    assert_eq!(jobs_a, jobs_b);
    for call in &calls_a {
        let transcript_a = store_a.get_transcript(tenant_a.id, call.id).await.unwrap();
        let transcript_b = store_b.get_transcript(tenant_b.id, call.id).await.unwrap();
        assert!(transcript_a.is_some());
        assert_eq!(transcript_a, transcript_b);
    }
    let (rec_a, rec_b) = (recordings(&original), recordings(&restored));
    for call in &calls_a {
        let (a, b) = (audio(&rec_a, call).await, audio(&rec_b, call).await);
        assert!(a.len() > 1_000, "{} bytes", a.len());
        assert_eq!(a, b, "audio of call {}", call.id);
    }

    // Restoring over the restored deployment needs --force.
    let out = callbook(dir.path(), &restored, &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    // --force makes the store exactly the backup's: an object the backup lacks goes.
    let stray = restored.join("recordings").join("stray-object");
    std::fs::write(&stray, b"not in the backup").unwrap();
    let out = callbook(
        dir.path(),
        &restored,
        &["restore", "--force", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stray.exists());
    assert_eq!(audio(&rec_b, &calls_a[0]).await, audio(&rec_a, &calls_a[0]).await);

    // Without the master key, or with another one, restore refuses before writing anything.
    let keyless = dir.path().join("keyless");
    let out = callbook(dir.path(), &keyless, &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no master key"), "{}", text(&out));
    assert!(!keyless.join("callbook.db").exists());
    let other_key = callbook_storage::MasterKey::generate(Some("other")).unwrap();
    let out = callbook(
        dir.path(),
        &keyless,
        &["restore", backup.to_str().unwrap()],
        &[("CALLBOOK_MASTER_KEY", &other_key.export())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("lacks master key ids"), "{}", text(&out));
    assert!(!keyless.join("callbook.db").exists());

    // A damaged object fails the manifest check; nothing is restored.
    let victim = walk(&backup.join("objects"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/audio/"))
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::copy(original.join("master.key"), damaged.join("master.key")).unwrap();
    let out = callbook(dir.path(), &damaged, &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    assert!(!damaged.join("callbook.db").exists());
    assert!(!damaged.join("recordings").exists());
}

#[tokio::test]
async fn a_backup_taken_while_the_database_is_written_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = callbook(dir.path(), &data, &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let store = callbook_jobs::open(&format!("sqlite://{}", data.join("callbook.db").display()))
        .await
        .unwrap();
    let tenant = store
        .create_tenant(callbook_jobs::NewTenant::new(
            "Online Plumbing",
            callbook_jobs::TimeZone::UTC,
        ))
        .await
        .unwrap();

    // A writer adds customers while the backup runs.
    let writer_store = store.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_stop = stop.clone();
    let writer = tokio::spawn(async move {
        let mut written = 0u32;
        while !writer_stop.load(std::sync::atomic::Ordering::Relaxed) || written < 50 {
            let input = CustomerInput {
                name: Some(format!("Customer {written}")),
                ..CustomerInput::default()
            };
            writer_store.create_customer(tenant.id, input).await.unwrap();
            written += 1;
        }
        written
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let backup = dir.path().join("backup");
    let data_for_backup = data.clone();
    let cwd = dir.path().to_owned();
    let backup_dir = backup.clone();
    let out = tokio::task::spawn_blocking(move || {
        callbook(
            &cwd,
            &data_for_backup,
            &["backup", backup_dir.to_str().unwrap()],
            &[],
        )
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The snapshot is a sound database whose customers are a prefix of what was written, and the manifest
    // counts agree with it.
    let snapshot = callbook_jobs::open(&format!("sqlite://{}", backup.join("callbook.db").display()))
        .await
        .unwrap();
    let customers: Vec<Customer> = snapshot.list_customers(tenant.id, PAGE).await.unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["counts"]["customers"].as_i64().unwrap(),
        customers.len() as i64
    );
    assert!(customers.len() as u32 <= written);
    let mut names: Vec<String> = customers.iter().map(|c| c.name.clone()).collect();
    names.sort_by_key(|n| n.trim_start_matches("Customer ").parse::<u32>().unwrap());
    let expected: Vec<String> = (0..customers.len()).map(|i| format!("Customer {i}")).collect();
    assert_eq!(names, expected, "the snapshot is a consistent prefix");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
