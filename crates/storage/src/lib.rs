#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod encrypted;
pub mod error;
pub mod format;
pub mod ids;
pub mod keys;
pub mod links;
pub mod recording;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;

pub use encrypted::{EncryptedStore, StoreBuilder};
pub use error::{Error, Result};
pub use ids::{ArtefactKind, CallId, CustomerId, ObjectName, RecordingKey, TenantId};
pub use keys::{KeyScope, Keyring, MasterKey, RewrapReport};
pub use links::{LinkError, LinkPurpose, MAX_LINK_TTL, MIN_SECRET_LEN, PlaybackGrant, PlaybackSigner};
pub use recording::{
    ByteStream, MAX_RANGE_LEN, RecordingMeta, RecordingOptions, RecordingStore, RecordingStoreExt,
    RecordingStream, ShredReport, StoredObject, chunks_stream,
};
pub use retention::{LegalHold, PurgeReport, RetentionPolicy};
