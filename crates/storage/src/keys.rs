//! The key hierarchy: master keys (key-encryption keys) wrap per-tenant (and optionally per-customer) data
//! keys, which are stored wrapped as small objects in the same object store.
//!
//! ```text
//! master key (KEK, id "k2")  ── from CALLBOOK_MASTER_KEY, never stored by this crate
//!   └─ wraps ─▶ data key of tenant t1           keys/t1/tenant/{key id}.dek         (JSON, AES-256-GCM-wrapped)
//!   └─ wraps ─▶ data key of customer u9 of t1   keys/t1/customers/u9/{key id}.dek
//!                 └─ HKDF per blob ─▶ blob key ─▶ segments
//! ```
//!
//! * **Durable and shared**: the wrapped data keys live in the object store, so every server instance that
//!   has the master key sees the same data keys.
//! * **First key, concurrently**: each data key is stored at its own path named by its random id, and every
//!   blob header names the id it used. Two instances creating a tenant's first key at the same moment both
//!   succeed and never overwrite each other; every blob stays readable and later puts all pick the smallest
//!   id. This does not rely on conditional puts (`If-None-Match: *`), which real S3 honours but several
//!   S3-compatible servers, s3s-fs among them, silently ignore (our conformance suite caught exactly that).
//! * **Rotation**: put a new master key first in the [`Keyring`], keep the old one after it, and run
//!   [`RecordingStore::rewrap_data_keys`](crate::RecordingStore::rewrap_data_keys): every data key is
//!   unwrapped with the old and wrapped with the new master key. Blobs are not touched (their headers name
//!   the data key, not the master key). Once the report shows nothing left under the old key, drop it.
//! * **Shredding** first writes a tombstone for the scope (`tombstones/{tenant}/tenant.tomb` or
//!   `tombstones/{tenant}/customers/{customer}.tomb`), then a marker per destroyed key id
//!   (`tombstones/{tenant}/keys/{key id}.tomb`), then deletes the wrapped data key. While the tombstone exists no
//!   new data key is created for the scope (a racing put fails with [`Error::KeyShredded`]), and every blob
//!   encrypted under a destroyed key, in every copy and backup, reads as [`Error::KeyShredded`] — also after
//!   the scope was reinstated and has a new key (the per-key marker outlives the tombstone), never decrypted
//!   with the wrong key.
//! * **Rotation and shredding should not overlap**: a rewrap that races a shred re-checks the tombstone
//!   after writing and deletes the key again, but run them at different times.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ids::{CustomerId, TenantId};
use crate::{Error, Result};

/// The environment variable holding the master key(s).
pub const MASTER_KEY_ENV: &str = "CALLBOOK_MASTER_KEY";

/// A 256-bit master key (key-encryption key) with an id. `Debug` shows only the id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// A master key from raw bytes. Without an id, the id is a fingerprint (`fp-` + 8 hex digits of
    /// SHA-256 over a label and the key), so the same key always gets the same id.
    ///
    /// The bytes are copied into zeroize-on-drop storage and `key` is overwritten with zeros, so no
    /// unprotected copy of the key is left behind by this call (also on error).
    pub fn from_bytes(id: Option<&str>, key: &mut [u8; 32]) -> Result<Self> {
        let stored = Zeroizing::new(*key);
        zeroize::Zeroize::zeroize(key);
        let key = stored;
        let id = match id {
            Some(id) => {
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                {
                    return Err(Error::Config(
                        "master key id must be 1-64 ASCII letters, digits, '-', '_' or '.'".into(),
                    ));
                }
                id.to_owned()
            }
            None => {
                let digest = Sha256::new()
                    .chain_update(b"callbook master key id\0")
                    .chain_update(key.as_ref())
                    .finalize();
                format!("fp-{}", hex::encode(&digest[..4]))
            }
        };
        Ok(Self { id, key })
    }

    /// A master key from standard base64 (32 bytes once decoded).
    pub fn from_base64(id: Option<&str>, b64: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            B64.decode(b64.trim())
                .map_err(|_| Error::Config("master key is not valid base64".into()))?,
        );
        if bytes.len() != 32 {
            return Err(Error::Config(format!(
                "master key must be 32 bytes, got {}",
                bytes.len()
            )));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes);
        Self::from_bytes(id, &mut key)
    }

    /// A fresh random master key (for first start and tests).
    pub fn generate(id: Option<&str>) -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|e| Error::Config(format!("no OS randomness: {e}")))?;
        Self::from_bytes(id, &mut key)
    }

    /// The key id stored next to every data key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `id:base64`, the form [`Keyring::parse`] reads. This is the secret itself: write it only to a
    /// protected file or secret manager, never to logs.
    pub fn export(&self) -> String {
        format!("{}:{}", self.id, B64.encode(self.key.as_ref()))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

/// The master keys in use: the first (primary) wraps new data keys, the others only unwrap old ones.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring with one master key.
    pub fn new(primary: MasterKey) -> Self {
        Self { keys: vec![primary] }
    }

    /// Adds an older master key, still accepted for unwrapping.
    pub fn with_previous(mut self, key: MasterKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Parses `[id:]base64[,[id:]base64…]`, primary first (the form of `CALLBOOK_MASTER_KEY`).
    pub fn parse(spec: &str) -> Result<Self> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let key = match part.split_once(':') {
                Some((id, b64)) => MasterKey::from_base64(Some(id), b64)?,
                None => MasterKey::from_base64(None, part)?,
            };
            if keys.iter().any(|k: &MasterKey| k.id == key.id) {
                return Err(Error::Config(format!("master key id {:?} appears twice", key.id)));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(Error::Config(format!("{MASTER_KEY_ENV} holds no key")));
        }
        Ok(Self { keys })
    }

    /// Reads [`MASTER_KEY_ENV`].
    pub fn from_env() -> Result<Self> {
        let spec = std::env::var(MASTER_KEY_ENV)
            .map_err(|_| Error::Config(format!("{MASTER_KEY_ENV} is not set")))?;
        Self::parse(&spec)
    }

    /// The key new data keys are wrapped with.
    pub fn primary(&self) -> &MasterKey {
        &self.keys[0]
    }

    /// The ids of every key, primary first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Which data key: a tenant's, or one customer's within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// The tenant-wide data key.
    Tenant(TenantId),
    /// A customer's own data key (shreddable on its own).
    Customer(TenantId, CustomerId),
}

impl KeyScope {
    /// The tenant that owns the key.
    pub fn tenant(&self) -> &TenantId {
        match self {
            KeyScope::Tenant(t) | KeyScope::Customer(t, _) => t,
        }
    }

    /// The string written into blob headers.
    pub fn as_header_string(&self) -> String {
        match self {
            KeyScope::Tenant(t) => format!("tenant/{t}"),
            KeyScope::Customer(t, c) => format!("tenant/{t}/customer/{c}"),
        }
    }

    /// Parses [`KeyScope::as_header_string`].
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            ["tenant", t] => Some(KeyScope::Tenant(TenantId::new(*t).ok()?)),
            ["tenant", t, "customer", c] => Some(KeyScope::Customer(
                TenantId::new(*t).ok()?,
                CustomerId::new(*c).ok()?,
            )),
            _ => None,
        }
    }

    /// The folder holding this scope's wrapped data keys.
    pub(crate) fn key_prefix(&self) -> String {
        match self {
            KeyScope::Tenant(t) => format!("keys/{t}/tenant"),
            KeyScope::Customer(t, c) => format!("keys/{t}/customers/{c}"),
        }
    }

    /// The scope's tombstone, written before its keys are destroyed.
    pub(crate) fn tombstone_path(&self) -> Path {
        match self {
            KeyScope::Tenant(t) => Path::from(format!("tombstones/{t}/tenant.tomb")),
            KeyScope::Customer(t, c) => Path::from(format!("tombstones/{t}/customers/{c}.tomb")),
        }
    }

    /// The marker left for one destroyed key id (outlives a reinstated scope).
    fn shredded_key_path(&self, key_id: &[u8; 16]) -> Path {
        Path::from(format!(
            "tombstones/{}/keys/{}.tomb",
            self.tenant(),
            hex::encode(key_id)
        ))
    }

    /// The tombstones that stop this scope: a customer is also stopped by its tenant's.
    fn tombstones(&self) -> Vec<Path> {
        match self {
            KeyScope::Tenant(_) => vec![self.tombstone_path()],
            KeyScope::Customer(t, _) => vec![
                KeyScope::Tenant(t.clone()).tombstone_path(),
                self.tombstone_path(),
            ],
        }
    }

    fn key_path(&self, key_id: &[u8; 16]) -> Path {
        Path::from(format!("{}/{}.dek", self.key_prefix(), hex::encode(key_id)))
    }

    fn from_object_path(path: &str) -> Option<(Self, [u8; 16])> {
        let parts: Vec<&str> = path.split('/').collect();
        let (scope, file) = match parts.as_slice() {
            ["keys", t, "tenant", file] => (KeyScope::Tenant(TenantId::new(*t).ok()?), *file),
            ["keys", t, "customers", c, file] => (
                KeyScope::Customer(TenantId::new(*t).ok()?, CustomerId::new(*c).ok()?),
                *file,
            ),
            _ => return None,
        };
        let id = hex::decode(file.strip_suffix(".dek")?).ok()?.try_into().ok()?;
        Some((scope, id))
    }
}

/// An unwrapped data key; zeroed on drop, never printed.
pub(crate) struct DataKey {
    pub(crate) id: [u8; 16],
    pub(crate) key: Zeroizing<[u8; 32]>,
}

/// What is stored at `keys/…`: the data key wrapped by a master key.
#[derive(Serialize, Deserialize)]
struct WrappedKeyRecord {
    format: u32,
    scope: String,
    key_id: String,
    kek_id: String,
    nonce: String,
    wrapped: String,
    created_at: i64,
}

/// Outcome of [`RecordingStore::rewrap_data_keys`](crate::RecordingStore::rewrap_data_keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapReport {
    /// Wrapped data keys found.
    pub examined: u64,
    /// Rewrapped under the primary master key by this run.
    pub rewrapped: u64,
    /// Already wrapped by the primary master key.
    pub already_current: u64,
    /// Keys that could not be rewrapped (storage path and reason); re-run after fixing.
    pub failures: Vec<(String, String)>,
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut out)
        .map_err(|e| Error::Config(format!("no OS randomness: {e}")))?;
    Ok(out)
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    random()
}

fn aad(scope: &str, key_id: &str) -> Vec<u8> {
    format!("callbook data key v1\0{scope}\0{key_id}").into_bytes()
}

/// Wrapped data keys in an object store.
pub(crate) struct KeyStore<'a> {
    pub(crate) store: &'a dyn ObjectStore,
    pub(crate) keyring: &'a Keyring,
}

impl KeyStore<'_> {
    fn wrap(&self, scope: &KeyScope, key: &DataKey, kek: &MasterKey) -> Result<Vec<u8>> {
        let scope_s = scope.as_header_string();
        let key_id = hex::encode(key.id);
        let nonce: [u8; 12] = random()?;
        let aead = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(kek.bytes()));
        let wrapped = aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.key.as_ref(),
                    aad: &aad(&scope_s, &key_id),
                },
            )
            .map_err(|_| Error::Config("key wrapping failed".into()))?;
        let record = WrappedKeyRecord {
            format: 1,
            scope: scope_s,
            key_id,
            kek_id: kek.id.clone(),
            nonce: B64.encode(nonce),
            wrapped: B64.encode(wrapped),
            created_at: chrono::Utc::now().timestamp(),
        };
        serde_json::to_vec(&record).map_err(|e| Error::Config(format!("serialising a wrapped key: {e}")))
    }

    fn unwrap(&self, scope: &KeyScope, bytes: &[u8]) -> Result<(DataKey, String)> {
        let corrupt = |what: &str| {
            Error::integrity(format!(
                "wrapped data key for {}: {what}",
                scope.as_header_string()
            ))
        };
        let record: WrappedKeyRecord =
            serde_json::from_slice(bytes).map_err(|_| corrupt("not valid JSON"))?;
        if record.format != 1 || record.scope != scope.as_header_string() {
            return Err(corrupt("wrong format or scope"));
        }
        let kek = self
            .keyring
            .get(&record.kek_id)
            .ok_or_else(|| Error::MasterKeyMissing {
                kek_id: record.kek_id.clone(),
            })?;
        let id: [u8; 16] = hex::decode(&record.key_id)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| corrupt("bad key id"))?;
        let nonce = B64.decode(&record.nonce).map_err(|_| corrupt("bad nonce"))?;
        if nonce.len() != 12 {
            return Err(corrupt("bad nonce"));
        }
        let wrapped = B64
            .decode(&record.wrapped)
            .map_err(|_| corrupt("bad ciphertext"))?;
        let aead = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(kek.bytes()));
        let plain = Zeroizing::new(
            aead.decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: &aad(&record.scope, &record.key_id),
                },
            )
            .map_err(|_| corrupt("does not authenticate under its master key"))?,
        );
        if plain.len() != 32 {
            return Err(corrupt("wrong key length"));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&plain);
        Ok((DataKey { id, key }, record.kek_id))
    }

    /// The ids of the scope's data keys, sorted.
    async fn key_ids(&self, scope: &KeyScope) -> Result<Vec<[u8; 16]>> {
        use futures_util::TryStreamExt;
        let metas: Vec<_> = self
            .store
            .list(Some(&Path::from(scope.key_prefix())))
            .try_collect()
            .await?;
        let mut ids: Vec<[u8; 16]> = metas
            .iter()
            .filter_map(|m| KeyScope::from_object_path(m.location.as_ref()))
            .filter(|(s, _)| s == scope)
            .map(|(_, id)| id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Loads one data key by id, or `None` when it does not exist.
    async fn load(&self, scope: &KeyScope, key_id: &[u8; 16]) -> Result<Option<DataKey>> {
        match self.store.get(&scope.key_path(key_id)).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(Error::from_store)?;
                let (key, _) = self.unwrap(scope, &bytes)?;
                if key.id != *key_id {
                    return Err(Error::integrity("wrapped data key stored under another id"));
                }
                Ok(Some(key))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn exists(&self, path: &Path) -> Result<bool> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the scope (or, for a customer, its tenant) is shredded and not reinstated.
    pub(crate) async fn is_shredded(&self, scope: &KeyScope) -> Result<bool> {
        for path in scope.tombstones() {
            if self.exists(&path).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn shredded(scope: &KeyScope) -> Error {
        Error::KeyShredded {
            scope: scope.as_header_string(),
        }
    }

    /// Loads the data key a blob names. A missing key whose id was shredded, in a shredded scope or in a
    /// scope without any key is [`Error::KeyShredded`]; a missing key in a live scope that has other keys
    /// means the blob's header was tampered with.
    pub(crate) async fn load_for_blob(&self, scope: &KeyScope, key_id: &[u8; 16]) -> Result<DataKey> {
        if let Some(key) = self.load(scope, key_id).await? {
            return Ok(key);
        }
        if self.exists(&scope.shredded_key_path(key_id)).await?
            || self.is_shredded(scope).await?
            || self.key_ids(scope).await?.is_empty()
        {
            Err(Self::shredded(scope))
        } else {
            Err(Error::integrity(
                "blob names a data key its scope does not have (tampered header)",
            ))
        }
    }

    /// Writes the scope's tombstone (before anything is destroyed).
    pub(crate) async fn write_tombstone(&self, scope: &KeyScope) -> Result<()> {
        let marker = serde_json::json!({ "shredded_at": chrono::Utc::now().to_rfc3339() }).to_string();
        self.store
            .put(&scope.tombstone_path(), PutPayload::from(marker.into_bytes()))
            .await?;
        Ok(())
    }

    /// Removes the scope's tombstone, so new data keys can be created for it again.
    pub(crate) async fn remove_tombstone(&self, scope: &KeyScope) -> Result<()> {
        match self.store.delete(&scope.tombstone_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The scope's data key for new blobs, created when the scope has none.
    ///
    /// Keys live at unique paths (`{scope}/{key id}.dek`), so concurrent creators never overwrite each
    /// other, with or without conditional-put support in the store: if two instances create the first key
    /// at the same moment, both keys are stored, each blob names the one it used, and from then on every
    /// instance picks the smallest id. Shredding deletes all of them.
    ///
    /// A shredded scope (tombstone present) gets no key: [`Error::KeyShredded`]. The tombstone is checked
    /// again after the new key is written, and the key deleted if a shred started meanwhile, so a put racing
    /// a shred never leaves a key the shred did not see.
    pub(crate) async fn get_or_create(&self, scope: &KeyScope) -> Result<DataKey> {
        if self.is_shredded(scope).await? {
            return Err(Self::shredded(scope));
        }
        if let Some(id) = self.key_ids(scope).await?.first()
            && let Some(key) = self.load(scope, id).await?
        {
            return Ok(key);
        }
        let mut fresh = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(fresh.as_mut())
            .map_err(|e| Error::Config(format!("no OS randomness: {e}")))?;
        let key = DataKey {
            id: random()?,
            key: fresh,
        };
        let record = self.wrap(scope, &key, self.keyring.primary())?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let path = scope.key_path(&key.id);
        match self
            .store
            .put_opts(&path, PutPayload::from(record.clone()), opts)
            .await
        {
            Ok(_) => {}
            // Key paths are unique (random id), so a plain put is just as safe where `Create` is unsupported.
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                self.store.put(&path, PutPayload::from(record)).await?;
            }
            Err(e) => return Err(e.into()),
        }
        if self.is_shredded(scope).await? {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            return Err(Self::shredded(scope));
        }
        tracing::info!(scope = %scope.as_header_string(), "created data key");
        Ok(key)
    }

    /// Deletes every wrapped key of the scope, leaving a shredded-key marker for each first. Returns how
    /// many this call deleted.
    pub(crate) async fn destroy(&self, scope: &KeyScope) -> Result<u64> {
        let mut destroyed = 0;
        for id in self.key_ids(scope).await? {
            self.mark_shredded(scope, &id).await?;
            match self.store.delete(&scope.key_path(&id)).await {
                Ok(()) => destroyed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(destroyed)
    }

    /// Leaves the per-key marker that makes blobs under this key read as shredded for good.
    pub(crate) async fn mark_shredded(&self, scope: &KeyScope, key_id: &[u8; 16]) -> Result<()> {
        self.store
            .put(&scope.shredded_key_path(key_id), PutPayload::from_static(b"{}"))
            .await?;
        Ok(())
    }

    /// Parses a wrapped-key path (`keys/…/{id}.dek`) into its scope and key id.
    pub(crate) fn parse_key_path(path: &str) -> Option<(KeyScope, [u8; 16])> {
        KeyScope::from_object_path(path)
    }

    /// Rewraps every data key under the primary master key.
    pub(crate) async fn rewrap_all(&self) -> Result<RewrapReport> {
        use futures_util::TryStreamExt;
        let mut report = RewrapReport::default();
        let metas: Vec<_> = self.store.list(Some(&Path::from("keys"))).try_collect().await?;
        for meta in metas {
            let Some((scope, _)) = KeyScope::from_object_path(meta.location.as_ref()) else {
                continue;
            };
            report.examined += 1;
            match self.rewrap_one(&scope, &meta.location).await {
                Ok(true) => report.rewrapped += 1,
                Ok(false) => report.already_current += 1,
                Err(e) => report.failures.push((meta.location.to_string(), e.to_string())),
            }
        }
        Ok(report)
    }

    /// Rewraps one key; if the scope was shredded while we wrote, deletes the key again (stores that ignore
    /// `If-Match`, and the local head-then-put fallback, can otherwise resurrect it).
    async fn rewrap_one(&self, scope: &KeyScope, path: &Path) -> Result<bool> {
        let rewrapped = self.rewrap_one_unchecked(scope, path).await?;
        if rewrapped && self.is_shredded(scope).await? {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(false);
        }
        Ok(rewrapped)
    }

    async fn rewrap_one_unchecked(&self, scope: &KeyScope, path: &Path) -> Result<bool> {
        let got = match self.store.get(path).await {
            Ok(got) => got,
            // Shredded meanwhile: nothing to rewrap, and we must not resurrect it.
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let version = object_store::UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got.bytes().await?;
        let (key, kek_id) = self.unwrap(scope, &bytes)?;
        if kek_id == self.keyring.primary().id {
            return Ok(false);
        }
        let record = self.wrap(scope, &key, self.keyring.primary())?;
        // Conditional update where the store supports it, so a concurrent shred is never undone.
        let opts = PutOptions {
            mode: PutMode::Update(version),
            ..Default::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from(record.clone()), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                // The local file system has no conditional update: re-check existence right before the write.
                match self.store.head(path).await {
                    Ok(_) => {
                        self.store.put(path, PutPayload::from(record)).await?;
                        Ok(true)
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
