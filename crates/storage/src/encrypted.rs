//! [`EncryptedStore`]: the [`RecordingStore`] over any `object_store` backend, and its builder.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::format::{
    BlobHeader, DEFAULT_SEGMENT_SIZE, HeaderError, Layout, MAX_HEADER_LEN, SegmentCipher, SegmentDecryptor,
    SegmentEncryptor, TRAILER_LEN, open_trailer,
};
use crate::ids::{CallId, CustomerId, RecordingKey, TenantId};
use crate::keys::{KeyScope, KeyStore, Keyring, RewrapReport, random_bytes};
use crate::recording::{
    ByteStream, RecordingMeta, RecordingOptions, RecordingStore, RecordingStream, ShredReport, StoredObject,
    check_content_type,
};
use crate::retention::{LegalHold, PurgeReport, RetentionPolicy};
use crate::{Error, Result};

/// The environment variable naming the storage URL.
pub const STORAGE_URL_ENV: &str = "CALLBOOK_STORAGE_URL";

/// How many list-keys → delete → list-blobs → delete rounds a shred runs at most before reporting that
/// data kept appearing (a put racing the shred).
const SHRED_ROUNDS: usize = 5;

/// Default size of one multipart part of ciphertext (S3's minimum part size is 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 5 * 1024 * 1024;

/// Builds an [`EncryptedStore`] from a URL (`memory://`, `file:///path`, `s3://bucket/prefix`) or an
/// existing `object_store` instance.
#[derive(Clone, Default)]
pub struct StoreBuilder {
    url: Option<String>,
    object_store: Option<Arc<dyn ObjectStore>>,
    keyring: Option<Keyring>,
    segment_size: Option<u32>,
    part_size: Option<usize>,
    s3: S3Settings,
}

#[derive(Clone, Default)]
struct S3Settings {
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: bool,
    access_key_id: Option<String>,
    secret_access_key: Option<zeroize::Zeroizing<String>>,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("url", &self.url)
            .field("object_store", &self.object_store.as_ref().map(|s| s.to_string()))
            .field("keyring", &self.keyring.as_ref().map(Keyring::ids))
            .field("segment_size", &self.segment_size)
            .field("part_size", &self.part_size)
            .field("s3_endpoint", &self.s3.endpoint)
            .field("s3_region", &self.s3.region)
            .field("s3_allow_http", &self.s3.allow_http)
            .field("s3_access_key_id", &self.s3.access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3.secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl StoreBuilder {
    /// An empty builder: set a URL (or object store) and a keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads [`STORAGE_URL_ENV`] (default `file://./callbook-data/recordings`) and `CALLBOOK_MASTER_KEY`.
    /// S3 settings come from the usual `AWS_*` variables at [`build`](Self::build) time.
    pub fn from_env() -> Result<Self> {
        let url =
            std::env::var(STORAGE_URL_ENV).unwrap_or_else(|_| "file://./callbook-data/recordings".into());
        Ok(Self::new().with_url(url).with_keyring(Keyring::from_env()?))
    }

    /// The storage URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Uses an existing object store instead of a URL (any `object_store` backend, or a decorated one).
    pub fn with_object_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.object_store = Some(store);
        self
    }

    /// The master keys.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Plaintext bytes per segment for new blobs (power of two, 256 B – 16 MiB; default 64 KiB).
    pub fn with_segment_size(mut self, size: u32) -> Self {
        self.segment_size = Some(size);
        self
    }

    /// Ciphertext buffered before switching to a multipart upload, and the part size (default 5 MiB; S3
    /// requires at least 5 MiB).
    pub fn with_part_size(mut self, size: usize) -> Self {
        self.part_size = Some(size);
        self
    }

    /// S3 endpoint override for S3-compatible servers (MinIO, s3s-fs, R2…).
    pub fn with_s3_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.s3.endpoint = Some(endpoint.into());
        self
    }

    /// S3 region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`).
    pub fn with_s3_region(mut self, region: impl Into<String>) -> Self {
        self.s3.region = Some(region.into());
        self
    }

    /// Allows a plain-HTTP endpoint (loopback test servers only).
    pub fn with_s3_allow_http(mut self, allow: bool) -> Self {
        self.s3.allow_http = allow;
        self
    }

    /// Static S3 credentials (default: the `AWS_*` environment / instance credentials).
    pub fn with_s3_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.s3.access_key_id = Some(access_key_id.into());
        self.s3.secret_access_key = Some(zeroize::Zeroizing::new(secret_access_key.into()));
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<EncryptedStore> {
        let keyring = self.keyring.ok_or_else(|| {
            Error::Config("no master key: set CALLBOOK_MASTER_KEY or call with_keyring".into())
        })?;
        let segment_size = self.segment_size.unwrap_or(DEFAULT_SEGMENT_SIZE);
        if !segment_size.is_power_of_two()
            || !(crate::format::MIN_SEGMENT_SIZE..=crate::format::MAX_SEGMENT_SIZE).contains(&segment_size)
        {
            return Err(Error::Config(format!(
                "segment size {segment_size} is not a power of two in 256..=16 MiB"
            )));
        }
        let part_size = self.part_size.unwrap_or(DEFAULT_PART_SIZE).max(1024);
        let (store, description): (Arc<dyn ObjectStore>, String) = match (self.object_store, self.url) {
            (Some(store), _) => {
                let d = store.to_string();
                (store, d)
            }
            (None, Some(url)) => open_url(&url, &self.s3)?,
            (None, None) => return Err(Error::Config("no storage URL or object store given".into())),
        };
        Ok(EncryptedStore {
            inner: Arc::new(Inner {
                store,
                description,
                keyring,
                segment_size,
                part_size,
            }),
        })
    }
}

fn open_url(url: &str, s3: &S3Settings) -> Result<(Arc<dyn ObjectStore>, String)> {
    let _ = s3;
    if let Some(rest) = url.strip_prefix("memory://") {
        if !rest.is_empty() {
            return Err(Error::Config("memory:// takes no path".into()));
        }
        return Ok((Arc::new(InMemory::new()), "memory://".into()));
    }
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(Error::Config(
                "file:// needs a directory, e.g. file:///var/lib/callbook".into(),
            ));
        }
        std::fs::create_dir_all(path)
            .map_err(|e| Error::Config(format!("cannot create storage directory {path:?}: {e}")))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
            .map_err(|e| Error::Config(format!("storage directory {path:?}: {e}")))?
            .with_automatic_cleanup(true);
        return Ok((Arc::new(fs), format!("file://{path}")));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config("s3:// needs a bucket: s3://bucket/prefix".into()));
        }
        return open_s3(bucket, prefix.trim_matches('/'), s3);
    }
    Err(Error::Config(format!(
        "unsupported storage URL scheme in {url:?}: use memory://, file:///path or s3://bucket/prefix"
    )))
}

#[cfg(feature = "s3")]
fn open_s3(bucket: &str, prefix: &str, s3: &S3Settings) -> Result<(Arc<dyn ObjectStore>, String)> {
    use object_store::aws::AmazonS3Builder;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if s3.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret.as_str());
    }
    let store = builder.build().map_err(|e| Error::Config(format!("S3: {e}")))?;
    let description = format!("s3://{bucket}/{prefix}");
    if prefix.is_empty() {
        Ok((Arc::new(store), description))
    } else {
        let prefix = Path::parse(prefix).map_err(|e| Error::Config(format!("S3 prefix: {e}")))?;
        Ok((
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix)),
            description,
        ))
    }
}

#[cfg(not(feature = "s3"))]
fn open_s3(_: &str, _: &str, _: &S3Settings) -> Result<(Arc<dyn ObjectStore>, String)> {
    Err(Error::Config(
        "this build of callbook-storage has no S3 support (cargo feature `s3`)".into(),
    ))
}

/// Envelope-encrypted recording storage on an `object_store` backend. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct EncryptedStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    description: String,
    keyring: Keyring,
    segment_size: u32,
    part_size: usize,
}

impl fmt::Debug for EncryptedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedStore")
            .field("backend", &self.inner.description)
            .field("master_keys", &self.inner.keyring.ids())
            .field("segment_size", &self.inner.segment_size)
            .finish()
    }
}

fn not_found_is_ok(result: object_store::Result<()>) -> Result<()> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn to_datetime(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

impl EncryptedStore {
    /// A builder.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::new()
    }

    /// An in-memory store (tests, demos): the same code path as every other backend.
    pub fn in_memory(keyring: Keyring) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: Arc::new(InMemory::new()),
                description: "memory://".into(),
                keyring,
                segment_size: DEFAULT_SEGMENT_SIZE,
                part_size: DEFAULT_PART_SIZE,
            }),
        }
    }

    /// The underlying object store holding ciphertext, wrapped keys and hold markers (for tools and tests;
    /// writing to it directly bypasses every guarantee).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// Where the blob of `key` is stored in the object store.
    pub fn object_path(key: &RecordingKey) -> Path {
        Path::from(key.object_path())
    }

    /// The backend, e.g. `s3://bucket/prefix` (no credentials).
    pub fn describe(&self) -> &str {
        &self.inner.description
    }

    fn keys(&self) -> KeyStore<'_> {
        KeyStore {
            store: self.inner.store.as_ref(),
            keyring: &self.inner.keyring,
        }
    }

    /// Parses and checks a header against the key it was read for, and derives its cipher.
    async fn open_header(
        &self,
        key: &RecordingKey,
        header: &BlobHeader,
        header_bytes: &[u8],
    ) -> Result<SegmentCipher> {
        if header.location != key.canonical() {
            return Err(Error::integrity(
                "blob header names another location (moved or copied blob)",
            ));
        }
        let scope = KeyScope::parse(&header.key_scope)
            .filter(|s| s.tenant() == &key.tenant)
            .ok_or_else(|| Error::integrity("blob header names a data key of another tenant"))?;
        let data_key = self.keys().load_for_blob(&scope, &header.key_id).await?;
        SegmentCipher::for_blob(&data_key.key, header, header_bytes)
    }

    fn customer_of(header: &BlobHeader) -> Option<CustomerId> {
        match KeyScope::parse(&header.key_scope) {
            Some(KeyScope::Customer(_, c)) => Some(c),
            _ => None,
        }
    }

    async fn read_header(&self, path: &Path, size: u64) -> Result<(BlobHeader, Vec<u8>)> {
        let end = size.min(MAX_HEADER_LEN as u64);
        let bytes = self.inner.store.get_range(path, 0..end).await?;
        match BlobHeader::parse(&bytes) {
            Ok((header, len)) => Ok((header, bytes[..len].to_vec())),
            Err(HeaderError::Incomplete { .. }) => Err(Error::integrity("blob truncated inside its header")),
            Err(e) => Err(e.into()),
        }
    }

    async fn holds_cover(&self, tenant: &TenantId, call: Option<&CallId>) -> Result<bool> {
        let mut holds = vec![LegalHold::Tenant(tenant.clone())];
        if let Some(call) = call {
            holds.push(LegalHold::Call(tenant.clone(), call.clone()));
        }
        for hold in holds {
            match self.inner.store.head(&Path::from(hold.object_path())).await {
                Ok(_) => return Ok(true),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    async fn list_prefix(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>> {
        Ok(self
            .inner
            .store
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await?)
    }

    async fn exists(&self, path: &Path) -> Result<bool> {
        match self.inner.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's blobs whose header names the customer's key scope.
    async fn customer_blobs(&self, tenant: &TenantId, scope: &KeyScope) -> Result<Vec<(RecordingKey, u64)>> {
        let scope_string = scope.as_header_string();
        let mut blobs = Vec::new();
        for meta in self.list_prefix(&format!("tenants/{tenant}")).await? {
            let Some(key) = RecordingKey::from_object_path(meta.location.as_ref()) else {
                continue;
            };
            match self.read_header(&meta.location, meta.size).await {
                Ok((header, _)) if header.key_scope == scope_string => blobs.push((key, meta.size)),
                Ok(_) | Err(Error::Integrity { .. }) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(blobs)
    }

    async fn check_customer_holds(&self, tenant: &TenantId, blobs: &[(RecordingKey, u64)]) -> Result<()> {
        for (key, _) in blobs {
            if self.holds_cover(tenant, Some(&key.call)).await? {
                return Err(Error::LegalHold {
                    what: format!("call {} of tenant {}", key.call, tenant),
                });
            }
        }
        if self.holds_cover(tenant, None).await? {
            return Err(Error::LegalHold {
                what: format!("tenant {tenant}"),
            });
        }
        Ok(())
    }

    async fn delete_blobs(&self, blobs: Vec<(RecordingKey, u64)>, report: &mut ShredReport) {
        for (key, size) in blobs {
            match not_found_is_ok(self.inner.store.delete(&Self::object_path(&key)).await) {
                Ok(()) => {
                    report.blobs_deleted += 1;
                    report.bytes_deleted += size;
                }
                Err(e) => report.failures.push((key.object_path(), e.to_string())),
            }
        }
    }
}

#[async_trait]
impl RecordingStore for EncryptedStore {
    async fn put_recording(
        &self,
        key: &RecordingKey,
        options: RecordingOptions,
        mut body: ByteStream,
    ) -> Result<RecordingMeta> {
        check_content_type(&options.content_type)?;
        let scope = match &options.customer {
            Some(c) => KeyScope::Customer(key.tenant.clone(), c.clone()),
            None => KeyScope::Tenant(key.tenant.clone()),
        };
        let data_key = self.keys().get_or_create(&scope).await?;
        let created_at = Utc::now().timestamp();
        let header = BlobHeader {
            segment_size: self.inner.segment_size,
            salt: random_bytes()?,
            nonce_prefix: random_bytes()?,
            created_at,
            key_scope: scope.as_header_string(),
            key_id: data_key.id,
            content_type: options.content_type.clone(),
            location: key.canonical(),
        };
        let header_bytes = header.encode().map_err(|e| Error::InvalidInput(e.to_string()))?;
        let cipher = SegmentCipher::for_blob(&data_key.key, &header, &header_bytes)?;
        drop(data_key);
        let mut encryptor = SegmentEncryptor::new(cipher, self.inner.segment_size);
        let path = Self::object_path(key);
        let part_size = self.inner.part_size;
        let mut out = header_bytes;
        // Aborts the multipart upload if this future is dropped before it completes (e.g. the caller's
        // request was cancelled), so no incomplete S3 upload is left behind.
        let mut upload = AbortOnDrop(None);

        let result: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|source| Error::Body { source })?;
                encryptor.push(&chunk, &mut out)?;
                if out.len() >= part_size {
                    if upload.0.is_none() {
                        let multipart = self.inner.store.put_multipart(&path).await?;
                        upload.0 = Some(WriteMultipart::new_with_chunk_size(multipart, part_size));
                    }
                    if let Some(up) = upload.0.as_mut() {
                        // At most two parts in flight: memory stays bounded for any recording length.
                        up.wait_for_capacity(2).await?;
                        up.put(Bytes::from(std::mem::take(&mut out)));
                    }
                }
            }
            Ok(())
        }
        .await;
        let trailer = match result.and_then(|()| encryptor.finish(&mut out)) {
            Ok(trailer) => trailer,
            Err(e) => {
                if let Some(up) = upload.0.take() {
                    let _ = up.abort().await;
                }
                return Err(e);
            }
        };
        let stored_size = match upload.0.as_mut() {
            Some(up) => {
                let total = Layout::body_len(trailer.size, self.inner.segment_size);
                up.put(Bytes::from(out));
                // Upload every part while the guard still holds the upload; only the final complete call
                // runs unguarded (a drop there leaves the upload to the bucket's lifecycle rule).
                up.wait_for_capacity(0).await?;
                if let Some(up) = upload.0.take() {
                    up.finish().await?;
                }
                total + header_len_of(&header)?
            }
            None => {
                let len = out.len() as u64;
                self.inner.store.put(&path, PutPayload::from(out)).await?;
                len
            }
        };
        Ok(RecordingMeta {
            key: key.clone(),
            content_type: options.content_type,
            size: trailer.size,
            sha256: trailer.sha256,
            stored_size,
            created_at: to_datetime(created_at),
            customer: options.customer,
        })
    }

    async fn get_recording(&self, key: &RecordingKey) -> Result<RecordingStream> {
        let path = Self::object_path(key);
        let got = self.inner.store.get(&path).await?;
        let size = got.meta.size;
        let mut source = into_large_chunks(got);
        let mut buf: Vec<u8> = Vec::new();
        let (header, header_len) = loop {
            match BlobHeader::parse(&buf) {
                Ok(parsed) => break parsed,
                Err(HeaderError::Incomplete { .. }) => match source.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk?),
                    None => return Err(Error::integrity("blob truncated inside its header")),
                },
                Err(e) => return Err(e.into()),
            }
        };
        let cipher = self.open_header(key, &header, &buf[..header_len]).await?;
        let layout = Layout::for_body(size - header_len as u64, header.segment_size)?;
        let mut decryptor = SegmentDecryptor::new(cipher, layout);
        let mut ready = Vec::new();
        decryptor.push(&buf[header_len..], &mut ready)?;
        drop(buf);
        // Verify the first segment (or the trailer of an empty recording) before returning, so a wrong key
        // or tampered header is an error here rather than in the middle of a response.
        let mut ended = false;
        while ready.is_empty() && decryptor.finish().is_err() {
            match source.next().await {
                Some(chunk) => decryptor.push(&chunk?, &mut ready)?,
                None => {
                    decryptor.finish()?;
                }
            }
        }
        if decryptor.finish().is_ok() {
            // Everything was verified already; the source must be exhausted.
            while let Some(chunk) = source.next().await {
                decryptor.push(&chunk?, &mut ready)?;
            }
            ended = true;
        }
        struct State {
            source: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
            decryptor: SegmentDecryptor,
            ready: VecDeque<Bytes>,
            ended: bool,
        }
        let state = State {
            source,
            decryptor,
            ready: ready.into(),
            ended,
        };
        let inner = futures_util::stream::try_unfold(state, |mut st| async move {
            loop {
                if let Some(chunk) = st.ready.pop_front() {
                    return Ok(Some((chunk, st)));
                }
                if st.ended {
                    return Ok(None);
                }
                match st.source.next().await {
                    Some(chunk) => {
                        let chunk = chunk.map_err(Error::from_store)?;
                        let mut out = Vec::new();
                        st.decryptor.push(&chunk, &mut out)?;
                        st.ready.extend(out);
                    }
                    None => {
                        st.decryptor.finish()?;
                        st.ended = true;
                    }
                }
            }
        })
        .boxed();
        Ok(RecordingStream {
            key: key.clone(),
            content_type: header.content_type,
            size: layout.plaintext_len(),
            created_at: to_datetime(header.created_at),
            inner,
        })
    }

    async fn get_recording_range(&self, key: &RecordingKey, range: std::ops::Range<u64>) -> Result<Bytes> {
        if range.end.saturating_sub(range.start) > crate::recording::MAX_RANGE_LEN {
            return Err(Error::InvalidInput(format!(
                "range {}..{} is longer than the {} bytes one range read may return; clamp it",
                range.start,
                range.end,
                crate::recording::MAX_RANGE_LEN
            )));
        }
        let path = Self::object_path(key);
        let meta = self.inner.store.head(&path).await?;
        let (header, header_bytes) = self.read_header(&path, meta.size).await?;
        let cipher = self.open_header(key, &header, &header_bytes).await?;
        let header_len = header_bytes.len() as u64;
        let layout = Layout::for_body(meta.size - header_len, header.segment_size)?;
        // The trailer authenticates the length, so a truncated blob cannot pass for a shorter recording.
        let trailer_bytes = self
            .inner
            .store
            .get_range(&path, meta.size - TRAILER_LEN as u64..meta.size)
            .await?;
        let trailer = open_trailer(&cipher, &layout, &trailer_bytes)?;
        if range.start > range.end || range.end > trailer.size {
            return Err(Error::InvalidInput(format!(
                "range {}..{} is outside the recording (0..{})",
                range.start, range.end, trailer.size
            )));
        }
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let seg = layout.segment_size();
        let (first, last) = (range.start / seg, (range.end - 1) / seg);
        let (start, _) = layout.segment_span(first);
        let (last_start, last_len) = layout.segment_span(last);
        let ciphertext = self
            .inner
            .store
            .get_range(
                &path,
                header_len + start..header_len + last_start + last_len as u64,
            )
            .await?;
        let plain = crate::format::open_data_segments(&cipher, &layout, first, &ciphertext)?;
        let offset = (range.start - first * seg) as usize;
        Ok(Bytes::from(plain).slice(offset..offset + (range.end - range.start) as usize))
    }

    async fn head_recording(&self, key: &RecordingKey) -> Result<RecordingMeta> {
        let path = Self::object_path(key);
        let meta = self.inner.store.head(&path).await?;
        let (header, header_bytes) = self.read_header(&path, meta.size).await?;
        let cipher = self.open_header(key, &header, &header_bytes).await?;
        let body_len = meta.size - header_bytes.len() as u64;
        let layout = Layout::for_body(body_len, header.segment_size)?;
        let trailer_bytes = self
            .inner
            .store
            .get_range(&path, meta.size - TRAILER_LEN as u64..meta.size)
            .await?;
        let trailer = open_trailer(&cipher, &layout, &trailer_bytes)?;
        Ok(RecordingMeta {
            key: key.clone(),
            customer: Self::customer_of(&header),
            content_type: header.content_type,
            size: trailer.size,
            sha256: trailer.sha256,
            stored_size: meta.size,
            created_at: to_datetime(header.created_at),
        })
    }

    async fn delete_recording(&self, key: &RecordingKey) -> Result<()> {
        not_found_is_ok(self.inner.store.delete(&Self::object_path(key)).await)
    }

    async fn list_recordings(&self, tenant: &TenantId, call: Option<&CallId>) -> Result<Vec<StoredObject>> {
        let prefix = match call {
            Some(call) => format!("tenants/{tenant}/calls/{call}"),
            None => format!("tenants/{tenant}"),
        };
        let mut out: Vec<StoredObject> = self
            .list_prefix(&prefix)
            .await?
            .into_iter()
            .filter_map(|m| {
                let key = RecordingKey::from_object_path(m.location.as_ref())?;
                (key.tenant == *tenant).then_some(StoredObject {
                    key,
                    stored_size: m.size,
                    last_modified: m.last_modified,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn place_legal_hold(&self, hold: &LegalHold) -> Result<()> {
        let marker = serde_json::json!({ "placed_at": Utc::now().to_rfc3339() }).to_string();
        self.inner
            .store
            .put(
                &Path::from(hold.object_path()),
                PutPayload::from(marker.into_bytes()),
            )
            .await?;
        Ok(())
    }

    async fn release_legal_hold(&self, hold: &LegalHold) -> Result<()> {
        not_found_is_ok(self.inner.store.delete(&Path::from(hold.object_path())).await)
    }

    async fn legal_holds(&self, tenant: &TenantId) -> Result<Vec<LegalHold>> {
        let mut holds: Vec<LegalHold> = self
            .list_prefix(&format!("holds/{tenant}"))
            .await?
            .iter()
            .filter_map(|m| LegalHold::from_object_path(m.location.as_ref()))
            .filter(|h| h.tenant() == tenant)
            .collect();
        holds.sort();
        Ok(holds)
    }

    async fn purge_expired(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        tenant: Option<&TenantId>,
    ) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        let prefix = match tenant {
            Some(t) => format!("tenants/{t}"),
            None => "tenants".to_owned(),
        };
        // Stream the listing: memory stays bounded however many tenants and blobs there are.
        let mut listing = self.inner.store.list(Some(&Path::from(prefix)));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let Some(key) = RecordingKey::from_object_path(meta.location.as_ref()) else {
                continue;
            };
            report.examined += 1;
            // A retention so long that the expiry overflows never expires (no overflow panic).
            let expired = policy.retention(key.kind).is_some_and(|keep| {
                meta.last_modified
                    .checked_add_signed(keep)
                    .is_some_and(|expiry| expiry <= now)
            });
            if !expired {
                report.retained += 1;
                continue;
            }
            // Re-check holds right before deleting: a hold placed during this run is honoured.
            match self.holds_cover(&key.tenant, Some(&key.call)).await {
                Ok(true) => {
                    report.held += 1;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    report.failures.push((meta.location.to_string(), e.to_string()));
                    continue;
                }
            }
            // Re-head right before deleting: a recording re-put since the listing is new data, not expired.
            match self.inner.store.head(&meta.location).await {
                Ok(current) if changed_since_listing(&meta, &current) => {
                    report.retained += 1;
                    continue;
                }
                Ok(_) => {}
                // Another purger (or a delete) got there first: not ours to count.
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => {
                    report.failures.push((meta.location.to_string(), e.to_string()));
                    continue;
                }
            }
            match self.inner.store.delete(&meta.location).await {
                Ok(()) => {
                    report.deleted += 1;
                    report.bytes_deleted += meta.size;
                }
                // The store says someone else deleted it between our head and delete.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => report.failures.push((meta.location.to_string(), e.to_string())),
            }
        }
        if report.deleted > 0 || !report.failures.is_empty() {
            tracing::info!(
                examined = report.examined,
                deleted = report.deleted,
                held = report.held,
                failures = report.failures.len(),
                "retention purge"
            );
        }
        Ok(report)
    }

    async fn shred_tenant(&self, tenant: &TenantId) -> Result<ShredReport> {
        if let Some(hold) = self.legal_holds(tenant).await?.into_iter().next() {
            return Err(Error::LegalHold {
                what: format!("{hold:?}"),
            });
        }
        let scope = KeyScope::Tenant(tenant.clone());
        let keys = self.keys();
        let had_tombstone = keys.is_shredded(&scope).await?;
        // Tombstone first: from now on no put creates a new key for the tenant or its customers.
        keys.write_tombstone(&scope).await?;
        // Re-check holds right before destroying anything: a hold placed meanwhile is honoured.
        if let Some(hold) = self.legal_holds(tenant).await?.into_iter().next() {
            if !had_tombstone {
                keys.remove_tombstone(&scope).await?;
            }
            return Err(Error::LegalHold {
                what: format!("{hold:?}"),
            });
        }
        let mut report = ShredReport::default();
        let mut settled = false;
        for _ in 0..SHRED_ROUNDS {
            // Keys first: from this moment every copy of every blob is unreadable.
            let key_objects = self.list_prefix(&format!("keys/{tenant}")).await?;
            for meta in &key_objects {
                if let Some((key_scope, id)) = KeyStore::parse_key_path(meta.location.as_ref()) {
                    keys.mark_shredded(&key_scope, &id).await?;
                }
                match self.inner.store.delete(&meta.location).await {
                    Ok(()) => report.keys_destroyed += 1,
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let blobs: Vec<_> = self
                .list_prefix(&format!("tenants/{tenant}"))
                .await?
                .into_iter()
                .filter_map(|m| Some((RecordingKey::from_object_path(m.location.as_ref())?, m.size)))
                .collect();
            if key_objects.is_empty() && blobs.is_empty() {
                settled = true;
                break;
            }
            self.delete_blobs(blobs, &mut report).await;
        }
        if !settled {
            report.failures.push((
                format!("tenants/{tenant}"),
                format!("keys or blobs still appeared after {SHRED_ROUNDS} rounds; run the shred again"),
            ));
        }
        tracing::info!(tenant = %tenant, keys = report.keys_destroyed, blobs = report.blobs_deleted, "shredded tenant");
        Ok(report)
    }

    async fn shred_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<ShredReport> {
        let scope = KeyScope::Customer(tenant.clone(), customer.clone());
        // Find the customer's blobs first (headers name their key), so a hold can refuse before anything
        // is destroyed.
        let blobs = self.customer_blobs(tenant, &scope).await?;
        self.check_customer_holds(tenant, &blobs).await?;
        let keys = self.keys();
        let had_tombstone = self.exists(&scope.tombstone_path()).await?;
        keys.write_tombstone(&scope).await?;
        // Re-check holds right before destroying the key (a blob or hold may have appeared meanwhile).
        let blobs = self.customer_blobs(tenant, &scope).await?;
        if let Err(e) = self.check_customer_holds(tenant, &blobs).await {
            if !had_tombstone {
                keys.remove_tombstone(&scope).await?;
            }
            return Err(e);
        }
        let mut report = ShredReport::default();
        let mut blobs = Some(blobs);
        let mut settled = false;
        for _ in 0..SHRED_ROUNDS {
            let destroyed = keys.destroy(&scope).await?;
            report.keys_destroyed += destroyed;
            let found = match blobs.take() {
                Some(b) => b,
                None => self.customer_blobs(tenant, &scope).await?,
            };
            if destroyed == 0 && found.is_empty() {
                settled = true;
                break;
            }
            self.delete_blobs(found, &mut report).await;
        }
        if !settled {
            report.failures.push((
                scope.as_header_string(),
                format!("keys or blobs still appeared after {SHRED_ROUNDS} rounds; run the shred again"),
            ));
        }
        tracing::info!(tenant = %tenant, blobs = report.blobs_deleted, "shredded customer");
        Ok(report)
    }

    async fn reinstate_tenant(&self, tenant: &TenantId) -> Result<()> {
        self.keys()
            .remove_tombstone(&KeyScope::Tenant(tenant.clone()))
            .await?;
        tracing::info!(tenant = %tenant, "reinstated shredded tenant");
        Ok(())
    }

    async fn reinstate_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<()> {
        self.keys()
            .remove_tombstone(&KeyScope::Customer(tenant.clone(), customer.clone()))
            .await?;
        tracing::info!(tenant = %tenant, "reinstated shredded customer");
        Ok(())
    }

    async fn rewrap_data_keys(&self) -> Result<RewrapReport> {
        self.keys().rewrap_all().await
    }
}

/// Whether `current` (from a head) is a different object version than `listed` (from the listing). Listings
/// and heads can differ in ETag quoting and time precision (S3 lists milliseconds, heads whole seconds), so
/// equal unquoted ETags mean unchanged; without both ETags, a later last-modified second means re-put.
fn changed_since_listing(listed: &object_store::ObjectMeta, current: &object_store::ObjectMeta) -> bool {
    let unquote = |t: &str| t.trim_matches('"').to_owned();
    match (&listed.e_tag, &current.e_tag) {
        (Some(a), Some(b)) => unquote(a) != unquote(b),
        _ => current.last_modified.timestamp() > listed.last_modified.timestamp(),
    }
}

/// Holds a multipart upload in progress; if dropped while still holding it (the put future was cancelled),
/// spawns its abort on the current Tokio runtime (if there is one; otherwise the bucket's lifecycle rule for
/// incomplete multipart uploads cleans up).
struct AbortOnDrop(Option<WriteMultipart>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "aborting a cancelled multipart upload failed");
                }
            });
        }
    }
}

/// The object's bytes as a stream. Local files are read in 1 MiB blocking reads instead of object_store's
/// 8 KiB chunks (one `spawn_blocking` each), which made a 1 MiB local get ~70× slower than a plain read.
fn into_large_chunks(
    got: object_store::GetResult,
) -> futures_util::stream::BoxStream<'static, object_store::Result<Bytes>> {
    const CHUNK: u64 = 1 << 20;
    match got.payload {
        object_store::GetResultPayload::File(file, path) => {
            let range = got.range;
            futures_util::stream::try_unfold((Some(file), range.start, range.end), move |(file, pos, end)| {
                let path = path.clone();
                async move {
                    let Some(mut file) = file else { return Ok(None) };
                    if pos >= end {
                        return Ok(None);
                    }
                    let n = (end - pos).min(CHUNK);
                    let read = tokio::task::spawn_blocking(move || {
                        use std::io::{Read, Seek, SeekFrom};
                        file.seek(SeekFrom::Start(pos))?;
                        let mut buf = vec![0u8; n as usize];
                        file.read_exact(&mut buf)?;
                        Ok::<_, std::io::Error>((file, buf))
                    })
                    .await;
                    let generic =
                        |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                            store: "LocalFileSystem",
                            source: format!("reading {}: {e}", path.display()).into(),
                        };
                    let (file, buf) = read
                        .map_err(|e| generic(e.into()))?
                        .map_err(|e| generic(e.into()))?;
                    Ok(Some((Bytes::from(buf), (Some(file), pos + n, end))))
                }
            })
            .boxed()
        }
        object_store::GetResultPayload::Stream(stream) => stream,
    }
}

fn header_len_of(header: &BlobHeader) -> Result<u64> {
    Ok(header
        .encode()
        .map_err(|e| Error::InvalidInput(e.to_string()))?
        .len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(secs: i64, millis: u32, e_tag: Option<&str>) -> object_store::ObjectMeta {
        object_store::ObjectMeta {
            location: Path::from("tenants/t/calls/c/audio/r.cbenc"),
            last_modified: Utc.timestamp_opt(secs, millis * 1_000_000).unwrap(),
            size: 1,
            e_tag: e_tag.map(str::to_owned),
            version: None,
        }
    }

    #[test]
    fn a_re_put_is_detected_but_listing_and_head_format_differences_are_not() {
        // Same object: quoting and millisecond precision differ between listing and head.
        assert!(!changed_since_listing(
            &meta(100, 250, Some("\"abc\"")),
            &meta(100, 0, Some("abc"))
        ));
        assert!(!changed_since_listing(&meta(100, 250, None), &meta(100, 0, None)));
        // Re-put: new ETag, or (without ETags) a later second.
        assert!(changed_since_listing(
            &meta(100, 0, Some("abc")),
            &meta(100, 0, Some("def"))
        ));
        assert!(changed_since_listing(&meta(100, 0, None), &meta(101, 0, None)));
    }
}
