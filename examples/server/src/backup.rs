//! `callbook backup DIR` and `callbook restore DIR`: a consistent, verifiable copy of an embedded deployment.
//!
//! A backup directory holds
//!
//! * `callbook.db` — an online snapshot of the SQLite database made with `VACUUM INTO`, which reads inside one
//!   transaction: the copy is consistent even while the server keeps writing, and is compacted;
//! * `objects/…` — every object of the recording store (`CALLBOOK_STORAGE_URL`, local directory **or** S3),
//!   copied byte for byte through `object_store`: encrypted blobs, the wrapped data keys and legal holds. They
//!   stay encrypted; nothing is decrypted on the way;
//! * `manifest.json` — format version, when, the master key ids the data keys are wrapped with, row counts, and
//!   the size and SHA-256 of every file, so a restore proves the copy is complete and unaltered before it
//!   touches anything.
//!
//! **The master key is not in the backup** (a backup that carries its own key is plaintext with extra steps):
//! keep `CALLBOOK_MASTER_KEY` (or `DATA_DIR/master.key`) in a password manager or secret store, separately.
//! `restore` refuses to run without a keyring that holds the key ids the manifest names.
//!
//! Order and consistency: the database is snapshotted **first**, then the objects are listed and copied. A
//! recording stored between the two is an extra object nothing points to (harmless); one deleted in between (a
//! retention purge, an erasure) is missing from the copy, as it would be from the live system. Objects still
//! being written by `LocalFileSystem` (`…#tmp` names) are skipped.
//!
//! Postgres deployments are backed up with Postgres's own tools (`pg_dump`, or base backups + WAL archiving for
//! point-in-time recovery; see the README) and the object store with its own replication or versioning:
//! `backup` refuses a `postgres://` database with that advice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use crate::app;
use crate::config::Config;

/// The manifest's format version; `restore` refuses other versions.
pub const FORMAT: u32 = 1;
/// The database file's name inside a backup directory.
pub const DATABASE_FILE: &str = "callbook.db";
/// The directory of the recording store's objects inside a backup directory.
pub const OBJECTS_DIR: &str = "objects";
/// The manifest's name inside a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// `callbook backup DIR`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup: a new or empty directory.
    pub dir: PathBuf,
}

/// `callbook restore DIR`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A directory written by `callbook backup`.
    pub dir: PathBuf,
    /// Replace an existing database file, and make a recording store that already holds objects exactly the
    /// backup's (objects the backup does not have are deleted). Stop the server first.
    #[arg(long)]
    pub force: bool,
}

/// What a backup holds; written as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The `callbook` version that wrote it.
    pub callbook_version: String,
    /// When the database snapshot was taken (RFC 3339).
    pub created_at: String,
    /// The master key ids the data keys in `objects/` are wrapped with (the keyring's ids at backup time).
    pub master_key_ids: Vec<String>,
    /// Row counts of the snapshot (`tenants`, `calls`, `jobs`, `customers`).
    pub counts: BTreeMap<String, i64>,
    /// The database file.
    pub database: FileEntry,
    /// Every object of the recording store, by its path in the store (= its path under `objects/`).
    pub objects: Vec<FileEntry>,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to its root (the backup directory, or the object store).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// What [`backup`] and [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The manifest written or verified.
    pub manifest: Manifest,
    /// Total bytes of the objects.
    pub object_bytes: u64,
}

impl Summary {
    fn describe(&self, verb: &str, dir: &Path) -> String {
        let counts: Vec<String> = self
            .manifest
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        format!(
            "{verb} {}: database {} bytes ({}), {} objects ({} bytes)",
            dir.display(),
            self.manifest.database.bytes,
            counts.join(", "),
            self.manifest.objects.len(),
            self.object_bytes
        )
    }
}

/// The SQLite file of the configured database, or an error explaining what to do for other databases.
fn sqlite_database(config: &Config) -> anyhow::Result<PathBuf> {
    let url = config.database_url.expose();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!(
            "CALLBOOK_DATABASE_URL is Postgres: back it up with pg_dump or base backups + WAL archiving \
             (point-in-time recovery; see the README's \"Backups\" section), and the recordings with the \
             object store's replication or versioning"
        );
    }
    app::sqlite_file(url).with_context(|| {
        format!(
            "CALLBOOK_DATABASE_URL: {} is not an SQLite database file",
            crate::config::redact_url(url)
        )
    })
}

/// The recording store's raw object store (no keyring needed: objects are copied encrypted).
fn object_store(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    // The keyring only matters for encrypting and decrypting; a throwaway one opens the raw objects.
    let keyring = callbook_storage::Keyring::new(callbook_storage::MasterKey::generate(Some("backup"))?);
    Ok(app::recording_store(config, keyring)?.object_store().clone())
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn file_entry(path: &str, bytes: &[u8]) -> FileEntry {
    FileEntry {
        path: path.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex_sha256(bytes),
    }
}

/// Whether `path` is a file `LocalFileSystem` is still writing (`name#n`), not an object.
fn is_partial_write(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|name| name.contains('#'))
}

async fn row_counts(db: &Path) -> anyhow::Result<BTreeMap<String, i64>> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = SqliteConnection::connect(&url)
        .await
        .with_context(|| format!("opening the snapshot {}", db.display()))?;
    let mut counts = BTreeMap::new();
    let queries = [
        ("tenants", "SELECT count(*) FROM tenants"),
        ("calls", "SELECT count(*) FROM calls"),
        ("jobs", "SELECT count(*) FROM jobs"),
        ("customers", "SELECT count(*) FROM customers"),
    ];
    for (table, query) in queries {
        let n: i64 = sqlx::query_scalar(query)
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("counting {table} in the snapshot"))?;
        counts.insert(table.to_owned(), n);
    }
    conn.close().await.ok();
    Ok(counts)
}

/// Writes a backup of the configured deployment into `dir` (created; must be empty if it exists).
pub async fn backup(config: &Config, dir: &Path) -> anyhow::Result<Summary> {
    let db = sqlite_database(config)?;
    if !db.exists() {
        bail!(
            "{} does not exist: nothing to back up (has the server run with this CALLBOOK_DATA_DIR?)",
            db.display()
        );
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty: back up into a new directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keyring_ids = match &config.master_key {
        Some(keyring) => keyring.ids().into_iter().map(str::to_owned).collect(),
        None => match std::fs::read_to_string(config.data_dir.join("master.key")) {
            Ok(spec) => callbook_storage::Keyring::parse(spec.trim())
                .context("DATA_DIR/master.key is not a valid master key")?
                .ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            Err(_) => Vec::new(),
        },
    };

    // 1. The database, online: VACUUM INTO reads one consistent snapshot.
    let snapshot = dir.join(DATABASE_FILE);
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    {
        let url = format!("sqlite://{}", db.display());
        let mut conn = SqliteConnection::connect(&url)
            .await
            .with_context(|| format!("opening {}", db.display()))?;
        sqlx::query("VACUUM INTO ?1")
            .bind(snapshot.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await
            .context("VACUUM INTO (the database snapshot)")?;
        conn.close().await.ok();
    }
    let counts = row_counts(&snapshot).await?;
    let db_bytes = tokio::fs::read(&snapshot).await?;
    let database = file_entry(DATABASE_FILE, &db_bytes);
    drop(db_bytes);

    // 2. The recording store's objects, as stored (encrypted).
    let store = object_store(config)?;
    let mut listed: Vec<object_store::ObjectMeta> = store
        .list(None)
        .try_collect()
        .await
        .context("listing the recording store")?;
    listed.sort_by(|a, b| a.location.cmp(&b.location));
    let mut objects = Vec::with_capacity(listed.len());
    let mut object_bytes = 0;
    for meta in listed {
        let path = meta.location.to_string();
        if is_partial_write(&path) {
            continue;
        }
        let bytes = match store.get(&meta.location).await {
            Ok(result) => result.bytes().await.context("reading an object")?,
            // Deleted since the listing (retention, erasure): not part of the copy.
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e).context("reading an object"),
        };
        let target = dir.join(OBJECTS_DIR).join(&path);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&target, &bytes)
            .await
            .with_context(|| format!("writing {}", target.display()))?;
        object_bytes += bytes.len() as u64;
        objects.push(file_entry(&path, &bytes));
    }

    let manifest = Manifest {
        format: FORMAT,
        callbook_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        master_key_ids: keyring_ids,
        counts,
        database,
        objects,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    tokio::fs::write(dir.join(MANIFEST_FILE), json).await?;
    Ok(Summary {
        manifest,
        object_bytes,
    })
}

/// Reads `dir/manifest.json` and checks every file it names (size and SHA-256) before anything is restored.
pub async fn verify(dir: &Path) -> anyhow::Result<Manifest> {
    let raw = tokio::fs::read(dir.join(MANIFEST_FILE))
        .await
        .with_context(|| format!("{} has no {MANIFEST_FILE}: not a callbook backup", dir.display()))?;
    let manifest: Manifest =
        serde_json::from_slice(&raw).with_context(|| format!("{MANIFEST_FILE} is not valid"))?;
    if manifest.format != FORMAT {
        bail!(
            "backup format {} is not supported (this callbook reads format {FORMAT})",
            manifest.format
        );
    }
    if manifest.database.path != DATABASE_FILE {
        bail!(
            "the manifest names the database {:?}, not {DATABASE_FILE}: not a callbook backup",
            manifest.database.path
        );
    }
    check(&manifest.database, dir.join(&manifest.database.path)).await?;
    for entry in &manifest.objects {
        if entry.path.split('/').any(|part| part == ".." || part.is_empty()) {
            bail!("the manifest names an unsafe path: {}", entry.path);
        }
        check(entry, dir.join(OBJECTS_DIR).join(&entry.path)).await?;
    }
    Ok(manifest)
}

/// Checks one file of a backup against its manifest entry.
async fn check(entry: &FileEntry, file: PathBuf) -> anyhow::Result<()> {
    let bytes = tokio::fs::read(&file)
        .await
        .with_context(|| format!("the backup is incomplete: {} is missing", entry.path))?;
    if bytes.len() as u64 != entry.bytes || hex_sha256(&bytes) != entry.sha256 {
        bail!(
            "the backup is damaged: {} does not match the manifest",
            entry.path
        );
    }
    Ok(())
}

/// Restores the backup in `dir` into the configured database file and recording store.
///
/// Verifies the whole backup first; refuses to overwrite an existing database or to write into a store that
/// already holds objects unless `force`; refuses when the configured keyring lacks a master key id the backup's
/// data keys are wrapped with. The restored database is migrated to this version.
pub async fn restore(config: &Config, dir: &Path, force: bool) -> anyhow::Result<Summary> {
    let db = sqlite_database(config)?;
    let manifest = verify(dir).await?;

    let keyring = match &config.master_key {
        Some(keyring) => Some(keyring.clone()),
        None => match std::fs::read_to_string(config.data_dir.join("master.key")) {
            Ok(spec) => Some(
                callbook_storage::Keyring::parse(spec.trim())
                    .context("DATA_DIR/master.key is not a valid master key")?,
            ),
            Err(_) => None,
        },
    };
    if !manifest.objects.is_empty() {
        let Some(keyring) = keyring else {
            bail!(
                "no master key: set CALLBOOK_MASTER_KEY (or put master.key in CALLBOOK_DATA_DIR) to the key \
                 the backup was made with (ids {:?}); a new key could not read the restored recordings",
                manifest.master_key_ids
            );
        };
        let have: Vec<&str> = keyring.ids();
        let missing: Vec<&String> = manifest
            .master_key_ids
            .iter()
            .filter(|id| !have.contains(&id.as_str()))
            .collect();
        if !missing.is_empty() {
            bail!(
                "the configured keyring lacks master key ids {missing:?} the backup's data keys are wrapped \
                 with: restore with the key the backup was made with"
            );
        }
    }

    if db.exists() && !force {
        bail!(
            "{} exists: restore refuses to overwrite a database (pass --force to replace it)",
            db.display()
        );
    }
    let store = object_store(config)?;
    if !force {
        let mut existing = store.list(None);
        if existing.try_next().await?.is_some() {
            bail!(
                "the recording store ({}) already holds objects: restore into an empty one (or pass --force)",
                config.storage_url
            );
        }
    }

    // Objects first: a crash leaves no database pointing at missing audio.
    let mut object_bytes = 0;
    for entry in &manifest.objects {
        let bytes = tokio::fs::read(dir.join(OBJECTS_DIR).join(&entry.path)).await?;
        object_bytes += bytes.len() as u64;
        let path = ObjectPath::parse(&entry.path)
            .with_context(|| format!("{} is not a valid object path", entry.path))?;
        store
            .put(&path, PutPayload::from(bytes))
            .await
            .with_context(|| format!("writing object {}", entry.path))?;
    }

    // With --force the store becomes exactly the backup's: objects the backup does not have (newer
    // recordings, keys or holds) would otherwise sit beside a database that knows nothing of them.
    if force {
        let wanted: std::collections::HashSet<&str> =
            manifest.objects.iter().map(|e| e.path.as_str()).collect();
        let present: Vec<object_store::ObjectMeta> = store.list(None).try_collect().await?;
        for meta in present {
            if !wanted.contains(meta.location.as_ref()) {
                match store.delete(&meta.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e).context("removing an object the backup does not have"),
                }
            }
        }
    }

    // Then the database: written beside the target and renamed over it (atomic on one file system).
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    let partial = db.with_extension("db.restoring");
    tokio::fs::copy(dir.join(&manifest.database.path), &partial).await?;
    for suffix in ["-wal", "-shm"] {
        let stale = PathBuf::from(format!("{}{suffix}", db.display()));
        match tokio::fs::remove_file(&stale).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", stale.display())),
        }
    }
    tokio::fs::rename(&partial, &db)
        .await
        .with_context(|| format!("moving the restored database to {}", db.display()))?;

    // Migrate a backup from an older version (opening the store does).
    app::open_store(config).await?;
    Ok(Summary {
        manifest,
        object_bytes,
    })
}

/// `callbook backup DIR`.
pub async fn run_backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let summary = backup(&config, &args.dir).await?;
    println!("{}", summary.describe("backed up into", &args.dir));
    println!(
        "the master key is not in the backup: keep CALLBOOK_MASTER_KEY or {} safe separately",
        config.data_dir.join("master.key").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `callbook restore DIR [--force]`.
pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let summary = restore(&config, &args.dir, args.force).await?;
    println!("{}", summary.describe("restored from", &args.dir));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_are_recognised() {
        assert!(is_partial_write("t/c/audio/rec.wav#1"));
        assert!(!is_partial_write("t/c/audio/rec.wav"));
        assert!(!is_partial_write("keys/t/tenant/abc"));
    }
}
