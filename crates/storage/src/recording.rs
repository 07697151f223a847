//! The [`RecordingStore`] trait, its contract, and the types it speaks.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use crate::ids::{CallId, CustomerId, RecordingKey, TenantId};
use crate::keys::RewrapReport;
use crate::retention::{LegalHold, PurgeReport, RetentionPolicy};
use crate::{Error, Result};

/// A body to store: chunks of plaintext in order. An `Err` aborts the put and nothing is stored.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// How to store one artefact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingOptions {
    /// MIME type, e.g. `audio/wav` (printable ASCII, 1–255 bytes). Returned on read.
    pub content_type: String,
    /// Encrypt under this customer's own data key (shreddable on its own) instead of the tenant's.
    pub customer: Option<CustomerId>,
}

impl RecordingOptions {
    /// Options with a content type, under the tenant's data key.
    pub fn new(content_type: impl Into<String>) -> Self {
        Self {
            content_type: content_type.into(),
            customer: None,
        }
    }

    /// Encrypts under the customer's data key.
    pub fn with_customer(mut self, customer: CustomerId) -> Self {
        self.customer = Some(customer);
        self
    }
}

/// What is known about a stored artefact, verified against its blob.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingMeta {
    /// Where it is.
    pub key: RecordingKey,
    /// Its MIME type.
    pub content_type: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
    /// Size of the encrypted blob in the object store.
    pub stored_size: u64,
    /// When the blob was written (from its authenticated header).
    pub created_at: DateTime<Utc>,
    /// The customer whose data key encrypts it, if not the tenant's.
    pub customer: Option<CustomerId>,
}

impl fmt::Debug for RecordingMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingMeta")
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("sha256", &hex::encode(self.sha256))
            .field("stored_size", &self.stored_size)
            .field("created_at", &self.created_at)
            .field("customer", &self.customer)
            .finish()
    }
}

/// One entry of a listing: cheap facts from the object store, nothing decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredObject {
    /// Where it is.
    pub key: RecordingKey,
    /// Size of the encrypted blob.
    pub stored_size: u64,
    /// When the object store last wrote it.
    pub last_modified: DateTime<Utc>,
}

/// Outcome of shredding a tenant or a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShredReport {
    /// Wrapped data keys destroyed (0 when already shredded).
    pub keys_destroyed: u64,
    /// Blobs deleted.
    pub blobs_deleted: u64,
    /// Their encrypted size.
    pub bytes_deleted: u64,
    /// Blobs that could not be deleted (storage path, reason). They are unreadable already, because the key
    /// is gone; run the shred again to delete them.
    pub failures: Vec<(String, String)>,
}

/// A recording being read: metadata up front, then verified plaintext chunks.
///
/// The header and the first segment are verified before [`RecordingStore::get_recording`] returns. Each later
/// chunk is yielded only after its segment authenticates; the final item is an `Err` if the blob was truncated
/// or its SHA-256 does not match. **Do not act on the audio (transcribe, forward, export) before the stream
/// has ended without error**; use [`RecordingStoreExt::get_bytes`] for all-or-nothing reads. Streaming to a
/// player as it arrives is fine: a failure simply ends the response.
pub struct RecordingStream {
    pub(crate) key: RecordingKey,
    pub(crate) content_type: String,
    pub(crate) size: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) inner: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for RecordingStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingStream")
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl RecordingStream {
    /// The recording's location.
    pub fn key(&self) -> &RecordingKey {
        &self.key
    }

    /// The MIME type from the (authenticated) header: usable as `Content-Type` before streaming.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The plaintext size implied by the blob's length: usable as `Content-Length`. The trailer confirms it
    /// at the end of the stream.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// When the blob was written.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Reads everything, verifying every segment, the size and the SHA-256 before returning.
    pub async fn collect_verified(mut self) -> Result<Bytes> {
        let mut out = BytesMut::with_capacity(usize::try_from(self.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = self.inner.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }
}

impl Stream for RecordingStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The longest range [`RecordingStore::get_recording_range`] returns (4 MiB), so a range request never
/// holds a large recording in memory.
pub const MAX_RANGE_LEN: u64 = 4 * 1024 * 1024;

/// Encrypted storage of call recordings (and other per-call artefacts).
///
/// # Contract
///
/// Every implementation guarantees:
///
/// * **Confidentiality**: nothing readable is written to the object store; plaintext exists only in memory,
///   at most one segment (plus one multipart part of ciphertext) per put or get.
/// * **Integrity**: a read either returns exactly the bytes that were put, with the same content type, size
///   and SHA-256, or fails with [`Error::Integrity`] (tampered, truncated, extended, reordered, moved) or
///   [`Error::KeyShredded`]. Never garbage.
/// * **Put** replaces any artefact at the key atomically: readers see the old or the new blob, never a mix.
///   If the body stream fails, [`Error::Body`] is returned and the previous state is unchanged.
/// * **Delete** is idempotent: deleting what is not there succeeds.
/// * **Missing** artefacts are [`Error::NotFound`] for get and head.
/// * **Tenants are isolated**: listing, shredding and purging one tenant never touch another's objects, and
///   a blob copied under another tenant's path does not decrypt.
/// * **Shredding** writes a tombstone (no new keys for the scope until reinstated), destroys the data key
///   (making every copy unreadable at once) and then deletes the blobs; it is idempotent and refuses ([`Error::LegalHold`]) while a legal hold covers what it would
///   delete.
/// * **Purging** is idempotent and safe to run concurrently from several instances: an object another
///   purger deleted first counts as deleted by every purger that issued the delete (stores do not say
///   which delete removed it), and an object re-put since it was listed is kept.
/// * Every method is safe to call concurrently, from any number of processes sharing one object store.
#[async_trait]
pub trait RecordingStore: Send + Sync + fmt::Debug + 'static {
    /// Encrypts and stores `body` at `key`, streaming (bounded memory; multipart upload for large bodies).
    async fn put_recording(
        &self,
        key: &RecordingKey,
        options: RecordingOptions,
        body: ByteStream,
    ) -> Result<RecordingMeta>;

    /// Opens a recording for streaming decryption (see [`RecordingStream`] for when data may be trusted).
    async fn get_recording(&self, key: &RecordingKey) -> Result<RecordingStream>;

    /// Plaintext bytes `range` of a recording (for HTTP `Range` requests and seeking), decrypting only the
    /// segments that cover it. Every segment read is authenticated and the length is checked against the
    /// authenticated trailer; the whole-file SHA-256 is not (use a full read for that). A range beyond the end
    /// is [`Error::InvalidInput`], and so is a range longer than [`MAX_RANGE_LEN`] (the result is held in
    /// memory): clamp open-ended HTTP ranges (`bytes=0-`) to that length and answer `206` with the part, which
    /// players handle by asking for the next range.
    async fn get_recording_range(&self, key: &RecordingKey, range: std::ops::Range<u64>) -> Result<Bytes>;

    /// Metadata of a recording, with the header and trailer authenticated (the body is not read).
    async fn head_recording(&self, key: &RecordingKey) -> Result<RecordingMeta>;

    /// Deletes a recording; succeeds when it is already gone.
    async fn delete_recording(&self, key: &RecordingKey) -> Result<()>;

    /// A tenant's artefacts, or one call's, sorted by key.
    async fn list_recordings(&self, tenant: &TenantId, call: Option<&CallId>) -> Result<Vec<StoredObject>>;

    /// Places a legal hold (idempotent). Held artefacts are never purged or shredded.
    async fn place_legal_hold(&self, hold: &LegalHold) -> Result<()>;

    /// Releases a legal hold (idempotent).
    async fn release_legal_hold(&self, hold: &LegalHold) -> Result<()>;

    /// The legal holds of a tenant.
    async fn legal_holds(&self, tenant: &TenantId) -> Result<Vec<LegalHold>>;

    /// Deletes every artefact older than its kind's retention at `now`, except those under legal hold; of
    /// one tenant (per-tenant policies), or of every tenant when `tenant` is `None`.
    async fn purge_expired(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        tenant: Option<&TenantId>,
    ) -> Result<PurgeReport>;

    /// Crypto-shreds a tenant: writes a tombstone (no new data keys for the tenant or its customers from
    /// then on; a racing put fails with [`Error::KeyShredded`]), destroys all
    /// its data keys (tenant and customers), then deletes its blobs, repeating until none reappear.
    /// Refuses with [`Error::LegalHold`] while a hold covers the tenant (checked
    /// again right before the keys are destroyed).
    async fn shred_tenant(&self, tenant: &TenantId) -> Result<ShredReport>;

    /// Crypto-shreds one customer: writes the customer's tombstone, destroys the customer's data key, then
    /// deletes the blobs encrypted under it. Only blobs stored
    /// [`with_customer`](crate::RecordingOptions::with_customer) are covered: blobs under the tenant key
    /// are not the customer's in this store's eyes, so the pipeline must store a known customer's
    /// artefacts `with_customer`.
    async fn shred_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<ShredReport>;

    /// Lifts a tenant's shred tombstone so puts can create a new data key for it again. For the GDPR case
    /// "deleted, then the same tenant id is reused" (rare: ids are UUIDs). Blobs under the destroyed keys
    /// stay unreadable ([`Error::KeyShredded`]).
    async fn reinstate_tenant(&self, tenant: &TenantId) -> Result<()>;

    /// Lifts a customer's shred tombstone, like [`reinstate_tenant`](Self::reinstate_tenant).
    async fn reinstate_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<()>;

    /// Rewraps every data key under the keyring's primary master key (key rotation; blobs untouched).
    async fn rewrap_data_keys(&self) -> Result<RewrapReport>;
}

// Compile-time check that the trait stays object-safe.
const _: fn(&dyn RecordingStore) = |_| {};

macro_rules! forward_recording_store {
    ($ty:ty) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: RecordingStore + ?Sized> RecordingStore for $ty {
            async fn put_recording(
                &self,
                key: &RecordingKey,
                options: RecordingOptions,
                body: ByteStream,
            ) -> Result<RecordingMeta> {
                (**self).put_recording(key, options, body).await
            }
            async fn get_recording(&self, key: &RecordingKey) -> Result<RecordingStream> {
                (**self).get_recording(key).await
            }
            async fn get_recording_range(
                &self,
                key: &RecordingKey,
                range: std::ops::Range<u64>,
            ) -> Result<Bytes> {
                (**self).get_recording_range(key, range).await
            }
            async fn head_recording(&self, key: &RecordingKey) -> Result<RecordingMeta> {
                (**self).head_recording(key).await
            }
            async fn delete_recording(&self, key: &RecordingKey) -> Result<()> {
                (**self).delete_recording(key).await
            }
            async fn list_recordings(
                &self,
                tenant: &TenantId,
                call: Option<&CallId>,
            ) -> Result<Vec<StoredObject>> {
                (**self).list_recordings(tenant, call).await
            }
            async fn place_legal_hold(&self, hold: &LegalHold) -> Result<()> {
                (**self).place_legal_hold(hold).await
            }
            async fn release_legal_hold(&self, hold: &LegalHold) -> Result<()> {
                (**self).release_legal_hold(hold).await
            }
            async fn legal_holds(&self, tenant: &TenantId) -> Result<Vec<LegalHold>> {
                (**self).legal_holds(tenant).await
            }
            async fn purge_expired(
                &self,
                policy: &RetentionPolicy,
                now: DateTime<Utc>,
                tenant: Option<&TenantId>,
            ) -> Result<PurgeReport> {
                (**self).purge_expired(policy, now, tenant).await
            }
            async fn shred_tenant(&self, tenant: &TenantId) -> Result<ShredReport> {
                (**self).shred_tenant(tenant).await
            }
            async fn shred_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<ShredReport> {
                (**self).shred_customer(tenant, customer).await
            }
            async fn reinstate_tenant(&self, tenant: &TenantId) -> Result<()> {
                (**self).reinstate_tenant(tenant).await
            }
            async fn reinstate_customer(&self, tenant: &TenantId, customer: &CustomerId) -> Result<()> {
                (**self).reinstate_customer(tenant, customer).await
            }
            async fn rewrap_data_keys(&self) -> Result<RewrapReport> {
                (**self).rewrap_data_keys().await
            }
        }
    };
}

forward_recording_store!(std::sync::Arc<T>);
forward_recording_store!(Box<T>);

/// Conveniences over any [`RecordingStore`]; implemented for every store, never by hand.
#[async_trait]
pub trait RecordingStoreExt: RecordingStore {
    /// Stores a buffer.
    async fn put_bytes(
        &self,
        key: &RecordingKey,
        options: RecordingOptions,
        body: Bytes,
    ) -> Result<RecordingMeta> {
        let stream = futures_util::stream::once(async move { Ok(body) }).boxed();
        self.put_recording(key, options, stream).await
    }

    /// Stores everything an `AsyncRead` yields (e.g. a file or an HTTP body adapter), in 64 KiB reads.
    async fn put_reader<R>(
        &self,
        key: &RecordingKey,
        options: RecordingOptions,
        reader: R,
    ) -> Result<RecordingMeta>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
    {
        let stream = futures_util::stream::try_unfold(reader, |mut reader| async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let n = tokio::io::AsyncReadExt::read_buf(&mut reader, &mut buf).await?;
            Ok::<_, std::io::Error>((n > 0).then(|| (buf.freeze(), reader)))
        })
        .boxed();
        self.put_recording(key, options, stream).await
    }

    /// Reads a whole recording and returns it only after every check has passed (all-or-nothing).
    async fn get_bytes(&self, key: &RecordingKey) -> Result<Bytes> {
        self.get_recording(key).await?.collect_verified().await
    }
}

impl<T: RecordingStore + ?Sized> RecordingStoreExt for T {}

/// A [`ByteStream`] from a list of chunks (tests and examples).
pub fn chunks_stream(chunks: Vec<Bytes>) -> ByteStream {
    futures_util::stream::iter(chunks.into_iter().map(Ok)).boxed()
}

pub(crate) fn check_content_type(content_type: &str) -> Result<()> {
    if content_type.is_empty()
        || content_type.len() > 255
        || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(Error::InvalidInput(
            "content type must be 1-255 bytes of printable ASCII".into(),
        ));
    }
    Ok(())
}
