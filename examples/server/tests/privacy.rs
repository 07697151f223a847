//! GDPR (issue 8): exports hold everything the API shows, byte for byte; erasing a customer or a tenant leaves
//! nothing of theirs in the database (every table, every column, scanned through SQL) or in the storage (every
//! file of the local directory, and of the s3s-fs data directory when `CALLBOOK_TEST_S3_*` is set), deletes the
//! provider's copies, keeps everyone else, refuses under a legal hold, and is audited without personal data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use api_common::{Backend, Env, OTHER_TOKEN, Person, TOKEN};
use callbook_jobs::{Call, Job};
use callbook_server::api;
use callbook_storage::{EncryptedStore, Keyring, RecordingStore, RecordingStoreExt};
use callbook_telephony::fake::FakeTelephony;
use callbook_telephony::telephony::CallSid;
use chrono::{TimeZone as _, Utc};
use serde_json::{Value, json};
use sha2::Digest;

const MARIA: Person = Person {
    name: "Maria Lopez",
    phone: "+19145552177",
    address: "42 Oak Street",
    marker: "MARIA-AUDIO-MARKER-7f3a",
};
const BOB: Person = Person {
    name: "Bob Okafor",
    phone: "+12125550123",
    address: "7 Elm Road",
    marker: "BOB-AUDIO-MARKER-91c2",
};

struct World {
    env: Env,
    telephony: FakeTelephony,
    storage_dir: Option<tempfile::TempDir>,
    s3_prefix: Option<String>,
}

#[derive(Clone, Copy)]
enum Storage {
    Local,
    S3,
}

/// An environment over `backend` with recordings in a local directory (or S3) and the fake telephony.
async fn world(backend: Backend, storage: Storage) -> Option<World> {
    let keyring = Keyring::new(Env::master_key());
    let (recordings, storage_dir, s3_prefix) = match storage {
        Storage::Local => {
            let dir = tempfile::tempdir().unwrap();
            let store = EncryptedStore::builder()
                .with_url(format!("file://{}", dir.path().display()))
                .with_keyring(keyring)
                .build()
                .unwrap();
            (store, Some(dir), None)
        }
        Storage::S3 => {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (Some(endpoint), Some(bucket), Some(id), Some(secret)) = (
                var("CALLBOOK_TEST_S3_ENDPOINT"),
                var("CALLBOOK_TEST_S3_BUCKET"),
                var("CALLBOOK_TEST_S3_ACCESS_KEY_ID"),
                var("CALLBOOK_TEST_S3_SECRET_ACCESS_KEY"),
            ) else {
                eprintln!("skipping the S3 erasure scan: CALLBOOK_TEST_S3_* is not set");
                return None;
            };
            // No prefix: s3s-fs names its metadata files after the base64 of the whole key, and a photo's key
            // under any prefix exceeds 255-byte file names. The scan keeps to this world's tenants (see
            // `storage_files`).
            let prefix = String::new();
            let store = EncryptedStore::builder()
                .with_url(format!("s3://{bucket}"))
                .with_s3_endpoint(endpoint)
                .with_s3_allow_http(true)
                .with_s3_region("us-east-1")
                .with_s3_credentials(id, secret)
                .with_keyring(keyring)
                .build()
                .unwrap();
            (store, None, Some(prefix))
        }
    };
    let env = Env::try_new_with(backend, Some(Arc::new(recordings))).await?;
    let telephony = FakeTelephony::new();
    let state = env
        .state
        .clone()
        .with_telephony(Arc::new(telephony.clone()))
        .with_public_url("https://callbook.example.com");
    let app = api::router(state.clone());
    Some(World {
        env: Env { app, state, ..env },
        telephony,
        storage_dir,
        s3_prefix,
    })
}

/// Seeds a person's call with a provider recording the fake telephony holds.
async fn seed(w: &World, tenant: &callbook_jobs::Tenant, n: u32, person: &Person) -> (Call, Job) {
    let call_sid = format!("CA{n:032x}");
    let info = w.telephony.add_completed_recording(
        &CallSid::new(call_sid.clone()),
        "audio/wav",
        person.audio(),
        12,
        1,
    );
    w.env
        .seed_person(
            tenant,
            &call_sid,
            info.sid.as_str(),
            person,
            Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, u32::min(n, 59)).unwrap(),
        )
        .await
}

async fn zip_entries(bytes: Vec<u8>) -> BTreeMap<String, Vec<u8>> {
    let mut reader = async_zip::tokio::read::seek::ZipFileReader::with_tokio(std::io::Cursor::new(bytes))
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for i in 0..reader.file().entries().len() {
        let name = reader.file().entries()[i].filename().as_str().unwrap().to_owned();
        let mut data = Vec::new();
        reader
            .reader_with_entry(i)
            .await
            .unwrap()
            .read_to_end_checked(&mut data)
            .await
            .unwrap();
        out.insert(name, data);
    }
    out
}

async fn export(env: &Env, path: &str) -> BTreeMap<String, Vec<u8>> {
    let response = env.raw("GET", path, Some(TOKEN), None, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    zip_entries(bytes.to_vec()).await
}

fn json_of(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(
        files
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing: {:?}", files.keys())),
    )
    .unwrap()
}

/// Every file is in the manifest with its size and SHA-256, and the manifest lists nothing else.
fn check_manifest(files: &BTreeMap<String, Vec<u8>>) -> Value {
    let manifest = json_of(files, "manifest.json");
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len() - 1, "{manifest}");
    for f in listed {
        let data = &files[f["path"].as_str().unwrap()];
        assert_eq!(f["size"], json!(data.len()));
        let hex: String = sha2::Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f["sha256"], json!(hex));
    }
    manifest
}

/// The export's view of a call equals what `GET /calls/{id}` shows, and its audio is byte-identical.
async fn check_exported_call(env: &Env, files: &BTreeMap<String, Vec<u8>>, call: &Call, person: &Person) {
    let (status, api) = env.get(&format!("/api/v1/calls/{}", call.id)).await;
    assert_eq!(status, 200);
    let exported = json_of(files, &format!("calls/{}.json", call.id));
    for key in ["call", "transcript", "extraction", "corrections"] {
        assert_eq!(exported[key], api[key], "{key} of call {}", call.id);
    }
    let audio: Vec<_> = files
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("calls/{}/audio/", call.id)))
        .collect();
    assert_eq!(audio.len(), 1, "{:?}", files.keys());
    assert_eq!(audio[0].1.as_slice(), person.audio().as_ref());
}

async fn check_exported_job(env: &Env, files: &BTreeMap<String, Vec<u8>>, job: &Job) {
    let exported = json_of(files, &format!("jobs/{}.json", job.id));
    let (_, api_job) = env.get(&format!("/api/v1/jobs/{}", job.id)).await;
    let (_, notes) = env.get(&format!("/api/v1/jobs/{}/notes", job.id)).await;
    let (_, history) = env.get(&format!("/api/v1/jobs/{}/history", job.id)).await;
    let (_, photos) = env.get(&format!("/api/v1/jobs/{}/photos", job.id)).await;
    assert_eq!(exported["job"], api_job, "job {}", job.id);
    assert_eq!(exported["notes"], notes);
    assert_eq!(exported["history"], history);
    assert_eq!(exported["photos"], photos);
    for photo in photos.as_array().unwrap() {
        let path = format!("jobs/{}/photos/{}", job.id, photo["id"].as_str().unwrap());
        let response = env
            .raw(
                "GET",
                &format!("/api/v1/jobs/{}/photos/{}", job.id, photo["id"].as_str().unwrap()),
                Some(TOKEN),
                None,
                &[],
            )
            .await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(files[&path], bytes.to_vec(), "{path}");
    }
}

/// A tiny valid PNG (signature + IHDR), enough for the photo sniffer.
fn png() -> Vec<u8> {
    let mut png = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    png.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]);
    png.extend_from_slice(b"PHOTO-OF-MARIAS-SINK");
    png
}

async fn add_note_and_photo(env: &Env, job: &Job, note: &str) {
    let (status, body) = env
        .send(
            "POST",
            &format!("/api/v1/jobs/{}/notes", job.id),
            Some(TOKEN),
            Some(json!({"body": note})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/jobs/{}/photos", job.id))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "image/png")
        .body(axum::body::Body::from(png()))
        .unwrap();
    let response = env.request(request).await;
    assert_eq!(response.status(), 201);
}

// ------------------------------------------------------------------------------------------- the scans

/// Every text rendering of every row of every table of the database, per table.
async fn database_text(url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if url.starts_with("sqlite:") {
        use sqlx::{Connection as _, Row as _};
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        assert!(tables.len() > 10, "{tables:?}");
        for table in tables {
            let mut text = String::new();
            let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
            for column in columns {
                // Text as stored, and blobs read as text (JSON documents may be stored as blobs).
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT CAST(\"{column}\" AS TEXT), hex(\"{column}\") FROM \"{table}\""
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for row in rows {
                    let value: Option<Vec<u8>> = row.try_get(0).ok();
                    if let Some(value) = value {
                        text.push_str(&String::from_utf8_lossy(&value));
                    }
                    // Ids stored as 16-byte blobs show up in their hex form.
                    let hex: Option<String> = row.try_get(1).ok();
                    text.push('|');
                    text.push_str(&hex.unwrap_or_default());
                    text.push('\n');
                }
            }
            out.push((table, text));
        }
    } else {
        use sqlx::{Connection as _, Row as _};
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        assert!(tables.len() > 10, "{tables:?}");
        for table in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM \"{table}\" t")))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            let mut text = String::new();
            for row in rows {
                text.push_str(&row.get::<String, _>(0));
                text.push('\n');
            }
            out.push((table, text));
        }
    }
    out
}

/// Every file under `dir`: (path relative to `dir`, bytes).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The storage files this world wrote: the local directory, or this test's prefix in the s3s-fs data dir.
fn storage_files(w: &World) -> Option<Vec<(String, Vec<u8>)>> {
    if let Some(dir) = &w.storage_dir {
        return Some(files_under(dir.path()));
    }
    let prefix = w.s3_prefix.as_ref()?;
    let Ok(data) = std::env::var("CALLBOOK_TEST_S3_DATA_DIR") else {
        eprintln!("skipping the S3 file scan: CALLBOOK_TEST_S3_DATA_DIR (the s3s-fs root) is not set");
        return None;
    };
    // The bucket is shared with every other S3 test running at the same time (and they reuse the fake
    // telephony's recording sids), so only this world's two tenants' objects are scanned: every object of a
    // tenant has the tenant id in its path.
    let tenants = [w.env.tenant.id.to_string(), w.env.other.id.to_string()];
    let files = files_under(Path::new(&data));
    Some(
        files
            .into_iter()
            .filter(|(p, _)| p.contains(prefix.as_str()) && tenants.iter().any(|t| p.contains(t.as_str())))
            .collect(),
    )
}

/// Needles that identify a person (or their records) anywhere.
fn needles(person: &Person, ids: &[String]) -> Vec<String> {
    let mut n = vec![
        person.name.to_owned(),
        person.phone.to_owned(),
        person.phone.trim_start_matches("+1").to_owned(),
        person.address.to_owned(),
        person.marker.to_owned(),
    ];
    n.extend(ids.iter().cloned());
    n
}

/// Whether a needle is an opaque id (a UUID or provider sid) rather than personal data.
fn is_id(needle: &str) -> bool {
    needle.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && needle.chars().any(|c| c.is_ascii_digit())
        && !needle.starts_with('+')
        && needle.len() >= 20
}

async fn assert_database_free_of(env: &Env, needles: &[String], keep: &[String]) {
    let Some(url) = &env.db_url else {
        return; // the in-memory store has no file to scan (its API checks run on every backend)
    };
    let tables = database_text(url).await;
    for (table, text) in &tables {
        for n in needles {
            // The audit log keeps the erased records' opaque ids (the proof of erasure), never personal data.
            if table.contains("audit") && is_id(n) {
                continue;
            }
            let hex = n.replace('-', "").to_uppercase();
            let found = text.find(n.as_str()).or_else(|| {
                (uuid::Uuid::parse_str(n).is_ok())
                    .then(|| text.find(&hex))
                    .flatten()
            });
            if let Some(at) = found {
                let start = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
                let end = text[at..]
                    .char_indices()
                    .nth(200)
                    .map_or(text.len(), |(i, _)| at + i);
                panic!("table {table} still holds {n:?}: …{}…", &text[start..end]);
            }
        }
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        // The raw files too: the store runs SQLite with `secure_delete` and truncates the WAL after an
        // erasure, so deleted rows do not linger in free pages or old WAL frames.
        let raw = std::fs::read(path).unwrap_or_default();
        let mut wal = std::fs::read(format!("{path}-wal")).unwrap_or_default();
        wal.extend(raw);
        for n in needles.iter().filter(|n| !is_id(n)) {
            assert!(
                !contains(&wal, n),
                "the SQLite file or its WAL still holds {n:?} after the erasure"
            );
        }
    }
    let all: String = tables.iter().map(|(_, t)| t.as_str()).collect();
    for k in keep {
        let hex = k.replace('-', "").to_uppercase();
        assert!(
            all.contains(k.as_str()) || (uuid::Uuid::parse_str(k).is_ok() && all.contains(&hex)),
            "the database lost {k:?}, which was not erased"
        );
    }
}

fn assert_storage_free_of(w: &World, needles: &[String], keep_paths: &[String]) {
    let Some(files) = storage_files(w) else { return };
    for (path, bytes) in &files {
        // Crypto-shredding leaves a tombstone named by the (random) tenant/customer id, so no new key is
        // ever made for it; it holds no personal data, which the byte checks below still verify.
        let tombstone = path.contains("tombstones/");
        for n in needles {
            let personal = !n.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            if personal || !tombstone {
                assert!(!path.contains(n.as_str()), "storage path {path} names {n:?}");
                assert!(!contains(bytes, n), "storage file {path} holds {n:?}");
            }
        }
    }
    for k in keep_paths {
        assert!(
            files.iter().any(|(p, _)| p.contains(k.as_str())),
            "storage lost {k:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------- the tests

async fn customer_export_and_erasure(backend: Backend, storage: Storage) {
    let Some(w) = world(backend, storage).await else {
        return;
    };
    let env = &w.env;
    let tenant = env.tenant.clone();
    let (maria_call, maria_job) = seed(&w, &tenant, 1, &MARIA).await;
    let (bob_call, bob_job) = seed(&w, &tenant, 2, &BOB).await;
    add_note_and_photo(env, &maria_job, "Maria's gate code is 1234").await;
    add_note_and_photo(env, &bob_job, "Bob prefers mornings").await;
    let maria = maria_job.customer_id.unwrap();
    let bob = bob_job.customer_id.unwrap();
    assert_ne!(maria, bob);

    // Export: everything the API shows about Maria, and nothing of Bob.
    let files = export(env, &format!("/api/v1/customers/{maria}/export")).await;
    let manifest = check_manifest(&files);
    assert_eq!(manifest["scope"], "customer");
    assert_eq!(manifest["counts"]["calls"], 1);
    assert_eq!(manifest["counts"]["jobs"], 1);
    assert_eq!(manifest["counts"]["photos"], 1);
    let (_, profile) = env.get(&format!("/api/v1/customers/{maria}")).await;
    assert_eq!(
        json_of(&files, &format!("customers/{maria}.json")),
        profile["customer"]
    );
    check_exported_call(env, &files, &maria_call, &MARIA).await;
    check_exported_job(env, &files, &maria_job).await;
    assert!(
        files
            .keys()
            .all(|k| !k.contains(&bob_call.id.to_string()) && !k.contains(&bob_job.id.to_string()))
    );
    let all: Vec<u8> = files.values().flatten().copied().collect();
    assert!(!contains(&all, BOB.name) && !contains(&all, BOB.marker));
    // Another tenant cannot export or erase her, staff-level checks aside.
    let (status, _) = env
        .send(
            "GET",
            &format!("/api/v1/customers/{maria}/export"),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{maria}"),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);

    // A legal hold on her call refuses the erasure and deletes nothing.
    let (status, hold) = env
        .send(
            "POST",
            "/api/v1/legal-holds",
            Some(TOKEN),
            Some(json!({"scope": "call", "call_id": maria_call.id})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    let (status, body) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{maria}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("legal_hold")),
        "{body}"
    );
    assert_eq!(env.get(&format!("/api/v1/calls/{}", maria_call.id)).await.0, 200);
    let (_, holds) = env.get("/api/v1/legal-holds").await;
    assert_eq!(
        holds,
        json!([{"scope": "call", "call_id": maria_call.id.to_string()}])
    );
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/legal-holds/{}", maria_call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);

    // Erase.
    let maria_sid = maria_call
        .recording
        .as_ref()
        .unwrap()
        .provider_recording_id
        .clone();
    let sid = callbook_telephony::telephony::RecordingSid::new(maria_sid.clone());
    assert!(w.telephony.has_recording_media(&sid));
    let (status, receipt) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{maria}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["calls"], 1);
    assert_eq!(receipt["jobs"], 1);
    assert_eq!(receipt["provider_recordings_deleted"], 1);
    assert!(receipt["blobs_deleted"].as_u64().unwrap() >= 2, "{receipt}");
    assert!(
        !w.telephony.has_recording_media(&sid),
        "the provider's copy is gone"
    );
    let bob_sid = callbook_telephony::telephony::RecordingSid::new(
        bob_call.recording.as_ref().unwrap().provider_recording_id.clone(),
    );
    assert!(
        w.telephony.has_recording_media(&bob_sid),
        "Bob's provider copy stays"
    );
    // Idempotent: a second erasure finds nothing.
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{maria}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);

    // The API shows nothing of her; Bob is intact.
    assert_eq!(env.get(&format!("/api/v1/customers/{maria}")).await.0, 404);
    assert_eq!(env.get(&format!("/api/v1/calls/{}", maria_call.id)).await.0, 404);
    assert_eq!(env.get(&format!("/api/v1/jobs/{}", maria_job.id)).await.0, 404);
    assert_eq!(env.get(&format!("/api/v1/customers/{bob}")).await.0, 200);
    let (_, bob_detail) = env.get(&format!("/api/v1/calls/{}", bob_call.id)).await;
    assert!(
        bob_detail["transcript"]["text"]
            .as_str()
            .unwrap()
            .contains(BOB.name)
    );
    let key = api_common_key(&bob_call);
    assert_eq!(env.recordings.get_bytes(&key).await.unwrap(), BOB.audio());

    // Audited with ids and counts, never her data.
    let (_, audit) = env.get("/api/v1/audit").await;
    let text = audit.to_string();
    for action in [
        "customer.exported",
        "customer.erased",
        "legal_hold.placed",
        "legal_hold.released",
    ] {
        assert!(text.contains(action), "{action} not audited: {text}");
    }
    for pii in [MARIA.name, MARIA.phone, MARIA.address] {
        assert!(!text.contains(pii), "the audit log holds {pii}");
    }

    // The database and the storage hold nothing of hers.
    let ids = vec![
        maria.to_string(),
        maria_call.id.to_string(),
        maria_job.id.to_string(),
        maria_sid,
    ];
    let keep = vec![BOB.name.to_owned(), bob.to_string(), bob_call.id.to_string()];
    assert_database_free_of(env, &needles(&MARIA, &ids), &keep).await;
    assert_storage_free_of(
        &w,
        &needles(&MARIA, &ids),
        &[bob_call.id.to_string(), format!("job-{}", bob_job.id)],
    );
}

fn api_common_key(call: &Call) -> callbook_storage::RecordingKey {
    callbook_server::privacy::key_from_canonical(
        call.tenant_id,
        call.recording.as_ref().unwrap().storage_key.as_deref().unwrap(),
    )
    .unwrap()
}

async fn tenant_export_and_erasure(backend: Backend, storage: Storage) {
    let Some(w) = world(backend, storage).await else {
        return;
    };
    let billing = callbook_billing::fake::FakeBilling::new().with_default_price("price_test");
    let World {
        env,
        telephony,
        storage_dir,
        s3_prefix,
    } = w;
    let w = World {
        env: env.with_billing(Arc::new(billing.clone())),
        telephony,
        storage_dir,
        s3_prefix,
    };
    let env = &w.env;
    let tenant = env.tenant.clone();
    let other = env.other.clone();
    let (maria_call, maria_job) = seed(&w, &tenant, 1, &MARIA).await;
    let (bob_call, bob_job) = seed(&w, &tenant, 2, &BOB).await;
    add_note_and_photo(env, &maria_job, "Maria's gate code is 1234").await;
    // The other tenant's caller: must survive.
    const ZED: Person = Person {
        name: "Zed Quinn",
        phone: "+13125550199",
        address: "1 Lake Shore Drive",
        marker: "ZED-AUDIO-MARKER-44aa",
    };
    let (zed_call, _) = seed(&w, &other, 3, &ZED).await;

    // Export: every call and job of the tenant, as the API lists them.
    let files = export(env, "/api/v1/export").await;
    let manifest = check_manifest(&files);
    assert_eq!(manifest["scope"], "tenant");
    assert_eq!(manifest["counts"]["calls"], 2);
    assert_eq!(manifest["counts"]["jobs"], 2);
    assert_eq!(manifest["counts"]["customers"], 2);
    let (_, calls) = env.get("/api/v1/calls?limit=500").await;
    for call in calls["items"].as_array().unwrap() {
        let id = call["id"].as_str().unwrap();
        assert_eq!(json_of(&files, &format!("calls/{id}.json"))["call"], *call);
    }
    check_exported_call(env, &files, &maria_call, &MARIA).await;
    check_exported_call(env, &files, &bob_call, &BOB).await;
    check_exported_job(env, &files, &maria_job).await;
    check_exported_job(env, &files, &bob_job).await;
    let (_, jobs) = env.get("/api/v1/jobs?limit=500").await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 2);
    let tenant_doc = json_of(&files, "tenant.json");
    assert_eq!(tenant_doc["id"], json!(tenant.id));
    assert!(json_of(&files, "users.json").as_array().is_some());
    assert!(!String::from_utf8_lossy(&files["users.json"]).contains("password"));
    assert!(json_of(&files, "audit.json").as_array().is_some());
    let all: Vec<u8> = files.values().flatten().copied().collect();
    assert!(!contains(&all, ZED.name) && !contains(&all, &other.id.to_string()));

    // Owner only, with the exact name; a tenant-wide legal hold refuses.
    let (status, body) = env
        .send(
            "DELETE",
            "/api/v1/tenant",
            Some(TOKEN),
            Some(json!({"confirm": "acme plumbing"})),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("confirm")),
        "{body}"
    );
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/legal-holds",
            Some(TOKEN),
            Some(json!({"scope": "tenant"})),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = env
        .send(
            "DELETE",
            "/api/v1/tenant",
            Some(TOKEN),
            Some(json!({"confirm": tenant.name})),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("legal_hold")),
        "{body}"
    );
    let (status, _) = env
        .send("DELETE", "/api/v1/legal-holds/tenant", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 204);

    // The tenant pays for a number and a subscription: both must end with it.
    let (status, line) = env
        .send(
            "POST",
            "/api/v1/phone-lines",
            Some(TOKEN),
            Some(json!({"phone_number": "+14155550100"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{line}");
    let (status, subscription) = env
        .send("POST", "/api/v1/billing/subscription", Some(TOKEN), None, &[])
        .await;
    assert!(status == 200 || status == 201, "{status} {subscription}");
    let owned = |t: &callbook_telephony::fake::FakeTelephony| {
        let t = t.clone();
        async move {
            use callbook_telephony::telephony::{PageRequest, Telephony};
            t.list_numbers(&PageRequest::first(100))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!(owned(&w.telephony).await, 1);

    let (status, receipt) = env
        .send(
            "DELETE",
            "/api/v1/tenant",
            Some(TOKEN),
            Some(json!({"confirm": tenant.name})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(owned(&w.telephony).await, 0, "the tenant's number is released");
    let subscription = callbook_billing::BillingProvider::subscription_status(
        &billing,
        &callbook_billing::TenantId::new(tenant.id.to_string()),
    )
    .await
    .unwrap();
    assert!(
        subscription
            .as_ref()
            .is_none_or(|s| s.status == callbook_billing::SubscriptionStatus::Canceled),
        "{subscription:?}"
    );
    assert_eq!(receipt["scope"], "tenant");
    assert_eq!(receipt["calls"], 2);
    assert_eq!(receipt["provider_recordings_deleted"], 2);
    assert!(receipt["keys_destroyed"].as_u64().unwrap() >= 1, "{receipt}");
    for call in [&maria_call, &bob_call] {
        let sid = callbook_telephony::telephony::RecordingSid::new(
            call.recording.as_ref().unwrap().provider_recording_id.clone(),
        );
        assert!(!w.telephony.has_recording_media(&sid));
    }
    assert!(env.store.get_tenant(tenant.id).await.is_err());
    // The other tenant is intact.
    let (status, zed) = env
        .send(
            "GET",
            &format!("/api/v1/calls/{}", zed_call.id),
            Some(OTHER_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert!(zed["transcript"]["text"].as_str().unwrap().contains(ZED.name));
    assert_eq!(
        env.recordings
            .get_bytes(&api_common_key(&zed_call))
            .await
            .unwrap(),
        ZED.audio()
    );

    let mut ids = vec![
        tenant.id.to_string(),
        maria_call.id.to_string(),
        bob_call.id.to_string(),
        maria_job.id.to_string(),
        bob_job.id.to_string(),
        "Acme Plumbing".to_owned(),
    ];
    ids.extend(needles(&BOB, &[]));
    let keep = vec![ZED.name.to_owned(), other.id.to_string()];
    assert_database_free_of(env, &needles(&MARIA, &ids), &keep).await;
    assert_storage_free_of(&w, &needles(&MARIA, &ids), &[zed_call.id.to_string()]);
    // The storage holds no key material of the deleted tenant either.
    let st = callbook_storage::TenantId::new(tenant.id.to_string()).unwrap();
    assert!(
        env.recordings
            .list_recordings(&st, None)
            .await
            .unwrap()
            .is_empty()
    );
}

const STAFF: &str = "test-staff-token-0123456789abcdef";

/// api_common's admin tokens plus a staff token of the first tenant.
#[derive(Debug)]
struct WithStaff(Arc<dyn api::Authenticator>, callbook_jobs::TenantId);

#[async_trait::async_trait]
impl api::Authenticator for WithStaff {
    async fn authenticate(&self, token: &str) -> Option<api::Principal> {
        if token == STAFF {
            return Some(api::Principal {
                tenant: self.1,
                actor: callbook_jobs::Actor::System("staff".into()),
                role: callbook_jobs::Role::Staff,
                user: None,
            });
        }
        self.0.authenticate(token).await
    }
}

async fn roles_and_problems(backend: Backend) {
    let Some(w) = world(backend, Storage::Local).await else {
        return;
    };
    let mut state = w.env.state.clone();
    state.auth = Arc::new(WithStaff(state.auth.clone(), w.env.tenant.id));
    let app = api::router(state.clone());
    let env = &Env { app, state, ..w.env };
    let (_, job) = env.seed_call("CA1").await;
    let customer = job.customer_id.unwrap();
    // Staff may not export, erase, hold or read the audit log; only the owner erases the tenant.
    for (method, path, body) in [
        ("GET", format!("/api/v1/customers/{customer}/export"), None),
        ("GET", "/api/v1/export".to_owned(), None),
        ("DELETE", format!("/api/v1/customers/{customer}"), None),
        (
            "DELETE",
            format!("/api/v1/calls/{}", job.source.unwrap().call_id),
            None,
        ),
        (
            "DELETE",
            "/api/v1/tenant".to_owned(),
            Some(json!({"confirm": "Acme Plumbing"})),
        ),
        ("GET", "/api/v1/legal-holds".to_owned(), None),
        (
            "POST",
            "/api/v1/legal-holds".to_owned(),
            Some(json!({"scope": "tenant"})),
        ),
        ("DELETE", "/api/v1/legal-holds/tenant".to_owned(), None),
        ("GET", "/api/v1/audit".to_owned(), None),
        (
            "DELETE",
            format!("/api/v1/phone-lines/{}", uuid::Uuid::now_v7()),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/phone-lines/{}/credentials", uuid::Uuid::now_v7()),
            Some(
                json!({"account_sid": "AC00000000000000000000000000000001", "auth_token": "0123456789abcdef"}),
            ),
        ),
        ("PATCH", "/api/v1/settings".to_owned(), Some(json!({}))),
    ] {
        let (status, problem) = env.send(method, &path, Some(STAFF), body, &[]).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("insufficient_role")),
            "{method} {path}"
        );
    }
    assert_eq!(
        env.get(&format!("/api/v1/customers/{customer}")).await.0,
        200,
        "nothing was erased"
    );
    let (status, _) = env.send("GET", "/api/v1/export", None, None, &[]).await;
    assert_eq!(status, 401);
    let (status, body) = env
        .send("DELETE", "/api/v1/customers/not-an-id", Some(TOKEN), None, &[])
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = env
        .send(
            "POST",
            "/api/v1/legal-holds",
            Some(TOKEN),
            Some(json!({"scope": "galaxy"})),
            &[],
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/legal-holds",
            Some(TOKEN),
            Some(json!({"scope": "call", "call_id": uuid::Uuid::now_v7()})),
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .send("DELETE", "/api/v1/tenant", Some(TOKEN), Some(json!({})), &[])
        .await;
    assert_eq!(status, 422);
}

mod customer_erasure_local {
    use super::*;
    #[tokio::test]
    async fn memory() {
        customer_export_and_erasure(Backend::Memory, Storage::Local).await;
    }
    #[tokio::test]
    async fn sqlite() {
        customer_export_and_erasure(Backend::Sqlite, Storage::Local).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        customer_export_and_erasure(Backend::Postgres, Storage::Local).await;
    }
}

mod tenant_erasure_local {
    use super::*;
    #[tokio::test]
    async fn memory() {
        tenant_export_and_erasure(Backend::Memory, Storage::Local).await;
    }
    #[tokio::test]
    async fn sqlite() {
        tenant_export_and_erasure(Backend::Sqlite, Storage::Local).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        tenant_export_and_erasure(Backend::Postgres, Storage::Local).await;
    }
}

mod roles {
    use super::*;
    #[tokio::test]
    async fn memory() {
        roles_and_problems(Backend::Memory).await;
    }
    #[tokio::test]
    async fn sqlite() {
        roles_and_problems(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_erasure_s3() {
    customer_export_and_erasure(Backend::Sqlite, Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_erasure_s3() {
    tenant_export_and_erasure(Backend::Sqlite, Storage::S3).await;
}

#[tokio::test]
async fn a_provider_failure_stops_the_erasure_before_any_row_goes() {
    let w = world(Backend::Memory, Storage::Local).await.unwrap();
    let (call, job) = seed(&w, &w.env.tenant.clone(), 1, &MARIA).await;
    // No telephony: the provider copy cannot be deleted, so nothing of the rows is.
    let state = w.env.state.clone();
    let mut state_without = state.clone();
    state_without.telephony = None;
    let env = Env {
        app: api::router(state_without),
        ..w.env
    };
    let customer = job.customer_id.unwrap();
    let (status, body) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{customer}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("provider_error")),
        "{body}"
    );
    assert_eq!(env.get(&format!("/api/v1/calls/{}", call.id)).await.0, 200);
    // With the provider back, the retry completes.
    let env = Env {
        app: api::router(state),
        ..env
    };
    let (status, _) = env
        .send(
            "DELETE",
            &format!("/api/v1/customers/{customer}"),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(env.get(&format!("/api/v1/calls/{}", call.id)).await.0, 404);
}

#[tokio::test]
async fn a_call_of_nobody_can_be_erased_on_its_own() {
    let w = world(Backend::Sqlite, Storage::Local).await.unwrap();
    let env = &w.env;
    let tenant = env.tenant.clone();
    let (call, job) = seed(&w, &tenant, 1, &MARIA).await;
    let (bob_call, _) = seed(&w, &tenant, 2, &BOB).await;
    add_note_and_photo(env, &job, "a note").await;
    let sid = callbook_telephony::telephony::RecordingSid::new(
        call.recording.as_ref().unwrap().provider_recording_id.clone(),
    );
    let (status, receipt) = env
        .send(
            "DELETE",
            &format!("/api/v1/calls/{}", call.id),
            Some(TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        (receipt["calls"].as_u64(), receipt["jobs"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(receipt["provider_recordings_deleted"], 1);
    assert!(!w.telephony.has_recording_media(&sid));
    assert_eq!(env.get(&format!("/api/v1/calls/{}", call.id)).await.0, 404);
    assert_eq!(env.get(&format!("/api/v1/jobs/{}", job.id)).await.0, 404);
    assert_eq!(env.get(&format!("/api/v1/calls/{}", bob_call.id)).await.0, 200);
    assert_storage_free_of(
        &w,
        &[
            call.id.to_string(),
            format!("job-{}", job.id),
            MARIA.marker.to_owned(),
        ],
        &[bob_call.id.to_string()],
    );
    let (_, audit) = env.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("call.erased"));
}
