//! The encrypted blob format, version 1: a small authenticated header followed by a segmented AEAD stream.
//!
//! ```text
//! blob    = prefix header-body segment* trailer
//! prefix  = "CBENC" version:u8 (=1) header-body-len:u32be            (10 bytes)
//! header-body =
//!     segment-size:u32be   plaintext bytes per segment (power of two, 256 B – 16 MiB; default 64 KiB)
//!     salt:[32]            random per blob
//!     nonce-prefix:[7]     random per blob
//!     created-at:i64be     unix seconds
//!     key-scope:str16      which data key: "tenant/{id}" or "tenant/{id}/customer/{id}"
//!     key-id:[16]          that data key's id (a re-created key after shredding has a new id)
//!     content-type:str16   e.g. "audio/wav"
//!     location:str16       "tenant/call/kind/name": the blob's own address, checked on read
//! segment = AES-256-GCM(blob-key, nonce(i, last=0), plaintext[i])     (segment-size + 16 bytes; the last
//!                                                                      data segment may be shorter)
//! trailer = AES-256-GCM(blob-key, nonce(n, last=1), plaintext-len:u64be ‖ sha256(plaintext))   (56 bytes)
//! blob-key = HKDF-SHA256(ikm = data key, salt = salt, info = "callbook blob v1\0" ‖ prefix ‖ header-body)
//! nonce(i, last) = nonce-prefix ‖ i:u32be ‖ last:u8
//! ```
//!
//! This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as used by Tink's
//! `AesGcmHkdfStreaming`: every segment is authenticated on its own, its position is in the nonce, and only
//! the final segment carries `last = 1`. Consequences, each covered by tests:
//!
//! * changing any header byte changes the derived key, so the first segment fails to authenticate;
//! * reordering, dropping or duplicating segments fails (wrong counter in the nonce);
//! * truncating anywhere fails: either a segment fails, or the stream ends without the `last` segment;
//! * appending anything fails: the layout is computed from the object's size, so the trailer is looked for
//!   at a position where no `last = 1` segment exists;
//! * a blob moved to another location fails the location check; a blob spliced from two blobs fails
//!   because each blob has its own salt and therefore its own key.
//!
//! The header is authenticated but not encrypted: it holds no personal data (ids are opaque, the content type
//! is a MIME type). The plaintext size and SHA-256 are in the encrypted trailer.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use bytes::Bytes;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The five magic bytes every blob starts with.
pub const MAGIC: [u8; 5] = *b"CBENC";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the header body: magic, version, header-body length.
pub const PREFIX_LEN: usize = 10;
/// Upper bound on prefix + header body; anything larger is rejected before allocating.
pub const MAX_HEADER_LEN: usize = 4096;
/// The default plaintext segment size (64 KiB).
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// The smallest segment size accepted.
pub const MIN_SEGMENT_SIZE: u32 = 256;
/// The largest segment size accepted (bounds the memory a reader allocates).
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Encrypted trailer length: 8-byte size, 32-byte SHA-256, tag.
pub const TRAILER_LEN: usize = 8 + 32 + TAG_LEN;

const FIXED_BODY_LEN: usize = 4 + 32 + 7 + 8 + 16;
const MAX_STR_LEN: usize = 1024;

/// The parsed blob header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    /// Plaintext bytes per segment.
    pub segment_size: u32,
    /// Per-blob HKDF salt.
    pub salt: [u8; 32],
    /// Per-blob nonce prefix.
    pub nonce_prefix: [u8; 7],
    /// When the blob was written (unix seconds).
    pub created_at: i64,
    /// The data key's scope (`tenant/{id}` or `tenant/{id}/customer/{id}`).
    pub key_scope: String,
    /// The data key's id.
    pub key_id: [u8; 16],
    /// The plaintext's MIME type.
    pub content_type: String,
    /// The blob's own location, `tenant/call/kind/name`.
    pub location: String,
}

/// Why a header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// More bytes are needed; `needed` is the total header length known so far.
    #[error("incomplete header: {needed} bytes needed")]
    Incomplete {
        /// Bytes needed from the start of the blob.
        needed: usize,
    },
    /// The bytes are not a valid version-1 header.
    #[error("invalid blob header: {0}")]
    Invalid(&'static str),
}

impl From<HeaderError> for Error {
    fn from(e: HeaderError) -> Self {
        match e {
            HeaderError::Incomplete { .. } => Error::integrity("blob truncated inside its header"),
            HeaderError::Invalid(reason) => Error::integrity(format!("invalid blob header: {reason}")),
        }
    }
}

fn valid_text(s: &str) -> bool {
    s.len() <= MAX_STR_LEN && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn valid_segment_size(size: u32) -> bool {
    size.is_power_of_two() && (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&size)
}

impl BlobHeader {
    /// Serialises prefix and body. Fails on a segment size or string the parser would reject.
    pub fn encode(&self) -> Result<Vec<u8>, HeaderError> {
        if !valid_segment_size(self.segment_size) {
            return Err(HeaderError::Invalid("segment size"));
        }
        let strings = [&self.key_scope, &self.content_type, &self.location];
        if !strings.iter().all(|s| valid_text(s)) {
            return Err(HeaderError::Invalid("header strings must be printable ASCII"));
        }
        let body_len = FIXED_BODY_LEN + strings.iter().map(|s| 2 + s.len()).sum::<usize>();
        if PREFIX_LEN + body_len > MAX_HEADER_LEN {
            return Err(HeaderError::Invalid("header too long"));
        }
        let mut out = Vec::with_capacity(PREFIX_LEN + body_len);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&(body_len as u32).to_be_bytes());
        out.extend_from_slice(&self.segment_size.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce_prefix);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        put_str(&mut out, &self.key_scope);
        out.extend_from_slice(&self.key_id);
        put_str(&mut out, &self.content_type);
        put_str(&mut out, &self.location);
        Ok(out)
    }

    /// Parses a header from the start of `input`, returning it and the number of bytes it occupies.
    ///
    /// Never panics and never allocates more than [`MAX_HEADER_LEN`]; trailing bytes after the header are
    /// left alone (they are the segments).
    pub fn parse(input: &[u8]) -> Result<(BlobHeader, usize), HeaderError> {
        if input.len() < PREFIX_LEN {
            // Reject a wrong magic as early as the bytes allow.
            let n = input.len().min(MAGIC.len());
            if input[..n] != MAGIC[..n] {
                return Err(HeaderError::Invalid("not a Callbook blob (bad magic)"));
            }
            return Err(HeaderError::Incomplete { needed: PREFIX_LEN });
        }
        if input[..5] != MAGIC {
            return Err(HeaderError::Invalid("not a Callbook blob (bad magic)"));
        }
        if input[5] != FORMAT_VERSION {
            return Err(HeaderError::Invalid("unsupported format version"));
        }
        let body_len = u32::from_be_bytes([input[6], input[7], input[8], input[9]]) as usize;
        if !(FIXED_BODY_LEN + 6..=MAX_HEADER_LEN - PREFIX_LEN).contains(&body_len) {
            return Err(HeaderError::Invalid("header length out of range"));
        }
        let total = PREFIX_LEN + body_len;
        let Some(body) = input.get(PREFIX_LEN..total) else {
            return Err(HeaderError::Incomplete { needed: total });
        };
        let mut r = Reader(body);
        let segment_size = u32::from_be_bytes(r.array()?);
        if !valid_segment_size(segment_size) {
            return Err(HeaderError::Invalid("segment size"));
        }
        let salt = r.array()?;
        let nonce_prefix = r.array()?;
        let created_at = i64::from_be_bytes(r.array()?);
        let key_scope = r.string()?;
        let key_id = r.array()?;
        let content_type = r.string()?;
        let location = r.string()?;
        if !r.0.is_empty() {
            return Err(HeaderError::Invalid("trailing bytes in header"));
        }
        Ok((
            BlobHeader {
                segment_size,
                salt,
                nonce_prefix,
                created_at,
                key_scope,
                key_id,
                content_type,
                location,
            },
            total,
        ))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], HeaderError> {
        if self.0.len() < n {
            return Err(HeaderError::Invalid("header fields overrun the header length"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], HeaderError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn string(&mut self) -> Result<String, HeaderError> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| HeaderError::Invalid("header string is not UTF-8"))?;
        if !valid_text(s) {
            return Err(HeaderError::Invalid("header strings must be printable ASCII"));
        }
        Ok(s.to_owned())
    }
}

/// Where segments start and end for a body of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    segment_size: usize,
    full_segments: u64,
    /// Ciphertext length (with tag) of a final short data segment, 0 when there is none.
    partial_len: usize,
}

impl Layout {
    /// The layout of `body_len` bytes (everything after the header), or an integrity error when no
    /// sequence of segments has that length.
    pub(crate) fn for_body(body_len: u64, segment_size: u32) -> Result<Self> {
        let unit = segment_size as u64 + TAG_LEN as u64;
        let data = body_len
            .checked_sub(TRAILER_LEN as u64)
            .ok_or_else(|| Error::integrity("blob truncated: too short for its final segment"))?;
        let full_segments = data / unit;
        let rem = data % unit;
        if rem != 0 && rem <= TAG_LEN as u64 {
            return Err(Error::integrity(
                "blob length matches no segment layout (truncated or extended)",
            ));
        }
        let layout = Layout {
            segment_size: segment_size as usize,
            full_segments,
            partial_len: rem as usize,
        };
        if layout.data_segments() >= u64::from(u32::MAX) {
            return Err(Error::integrity("too many segments"));
        }
        Ok(layout)
    }

    /// The body length for a plaintext of `len` bytes.
    pub(crate) fn body_len(len: u64, segment_size: u32) -> u64 {
        let seg = segment_size as u64;
        let rem = len % seg;
        (len / seg) * (seg + TAG_LEN as u64)
            + if rem > 0 { rem + TAG_LEN as u64 } else { 0 }
            + TRAILER_LEN as u64
    }

    /// Byte offset (from the body start) and ciphertext length of data segment `index`.
    pub(crate) fn segment_span(&self, index: u64) -> (u64, usize) {
        (
            index * (self.segment_size + TAG_LEN) as u64,
            self.segment_len(index),
        )
    }

    /// Plaintext bytes per segment.
    pub(crate) fn segment_size(&self) -> u64 {
        self.segment_size as u64
    }

    fn data_segments(&self) -> u64 {
        self.full_segments + u64::from(self.partial_len > 0)
    }

    /// The plaintext length this layout implies (authenticated only once the trailer verifies).
    pub(crate) fn plaintext_len(&self) -> u64 {
        self.full_segments * self.segment_size as u64 + self.partial_len.saturating_sub(TAG_LEN) as u64
    }

    fn segment_len(&self, index: u64) -> usize {
        if index < self.full_segments {
            self.segment_size + TAG_LEN
        } else if index == self.full_segments && self.partial_len > 0 {
            self.partial_len
        } else {
            TRAILER_LEN
        }
    }
}

/// AES-256-GCM keyed for one blob.
pub(crate) struct SegmentCipher {
    aead: Aes256Gcm,
    nonce_prefix: [u8; 7],
}

impl SegmentCipher {
    /// Derives the blob key from the data key and the exact header bytes.
    pub(crate) fn for_blob(data_key: &[u8; 32], header: &BlobHeader, header_bytes: &[u8]) -> Result<Self> {
        let hk = Hkdf::<Sha256>::new(Some(&header.salt), data_key);
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand_multi_info(&[b"callbook blob v1\0", header_bytes], okm.as_mut())
            .map_err(|_| Error::integrity("key derivation failed"))?;
        Ok(Self {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(okm.as_ref())),
            nonce_prefix: header.nonce_prefix,
        })
    }

    fn nonce(&self, counter: u32, last: bool) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&counter.to_be_bytes());
        n[11] = u8::from(last);
        n
    }

    /// Encrypts `buf[start..]` in place and appends the tag.
    fn seal(&self, counter: u32, last: bool, buf: &mut Vec<u8>, start: usize) -> Result<()> {
        let nonce = self.nonce(counter, last);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut buf[start..])
            .map_err(|_| Error::integrity("segment too large to encrypt"))?;
        buf.extend_from_slice(&tag);
        Ok(())
    }

    /// Verifies and decrypts one segment (ciphertext ‖ tag) in place, truncating the tag.
    fn open(&self, counter: u32, last: bool, buf: &mut Vec<u8>) -> Result<()> {
        let ct_len = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or_else(|| Error::integrity("segment shorter than its tag"))?;
        let (ct, tag) = buf.split_at_mut(ct_len);
        let tag = Tag::clone_from_slice(tag);
        let nonce = self.nonce(counter, last);
        self.aead
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), b"", ct, &tag)
            .map_err(|_| {
                Error::integrity(format!(
                    "segment {counter} failed authentication (tampered, truncated, reordered or wrong key)"
                ))
            })?;
        buf.truncate(ct_len);
        Ok(())
    }
}

/// Decrypts data segments `first..` from `ciphertext`, which starts at segment `first`'s first byte and
/// ends at a segment boundary. Returns the concatenated plaintext.
pub(crate) fn open_data_segments(
    cipher: &SegmentCipher,
    layout: &Layout,
    first: u64,
    ciphertext: &[u8],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(ciphertext.len());
    let mut rest = ciphertext;
    let mut index = first;
    while !rest.is_empty() {
        if index >= layout.data_segments() {
            return Err(Error::integrity("range runs past the data segments"));
        }
        let len = layout.segment_len(index);
        if rest.len() < len {
            return Err(Error::integrity("short segment in range read"));
        }
        let mut segment = rest[..len].to_vec();
        cipher.open(index as u32, false, &mut segment)?;
        out.extend_from_slice(&segment);
        rest = &rest[len..];
        index += 1;
    }
    Ok(out)
}

/// Plaintext size and digest, as authenticated by the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
}

/// Decrypts a trailer read on its own (for `head`).
pub(crate) fn open_trailer(cipher: &SegmentCipher, layout: &Layout, bytes: &[u8]) -> Result<Trailer> {
    if bytes.len() != TRAILER_LEN {
        return Err(Error::integrity("trailer has the wrong length"));
    }
    let mut buf = bytes.to_vec();
    cipher.open(layout.data_segments() as u32, true, &mut buf)?;
    let trailer = parse_trailer(&buf)?;
    if trailer.size != layout.plaintext_len() {
        return Err(Error::integrity("trailer size disagrees with the blob length"));
    }
    Ok(trailer)
}

fn parse_trailer(plain: &[u8]) -> Result<Trailer> {
    let (size, sha) = plain
        .split_first_chunk::<8>()
        .ok_or_else(|| Error::integrity("short trailer"))?;
    let sha256: [u8; 32] = sha.try_into().map_err(|_| Error::integrity("short trailer"))?;
    Ok(Trailer {
        size: u64::from_be_bytes(*size),
        sha256,
    })
}

/// Turns plaintext pushed in arbitrary chunks into segments. Holds at most one segment of plaintext.
pub(crate) struct SegmentEncryptor {
    cipher: SegmentCipher,
    segment_size: usize,
    pending: Vec<u8>,
    counter: u32,
    hasher: Sha256,
    total: u64,
}

impl SegmentEncryptor {
    pub(crate) fn new(cipher: SegmentCipher, segment_size: u32) -> Self {
        Self {
            cipher,
            segment_size: segment_size as usize,
            pending: Vec::new(),
            counter: 0,
            hasher: Sha256::new(),
            total: 0,
        }
    }

    /// Encrypts what completes a segment and appends the ciphertext to `out`.
    pub(crate) fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= self.segment_size {
                let (segment, rest) = data.split_at(self.segment_size);
                self.emit(segment, false, out)?;
                data = rest;
                continue;
            }
            let take = (self.segment_size - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == self.segment_size {
                let pending = std::mem::take(&mut self.pending);
                self.emit(&pending, false, out)?;
                self.pending = pending;
                self.pending.clear();
            }
        }
        Ok(())
    }

    fn emit(&mut self, plain: &[u8], last: bool, out: &mut Vec<u8>) -> Result<()> {
        if !last {
            self.hasher.update(plain);
            self.total += plain.len() as u64;
        }
        let start = out.len();
        out.extend_from_slice(plain);
        self.cipher.seal(self.counter, last, out, start)?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| Error::InvalidInput("recording too large for the blob format".into()))?;
        Ok(())
    }

    /// Encrypts the final short segment (if any) and the trailer. Returns the plaintext size and SHA-256.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> Result<Trailer> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.emit(&pending, false, out)?;
        }
        let sha256: [u8; 32] = self.hasher.clone().finalize().into();
        let mut trailer = Vec::with_capacity(40);
        trailer.extend_from_slice(&self.total.to_be_bytes());
        trailer.extend_from_slice(&sha256);
        self.emit(&trailer, true, out)?;
        Ok(Trailer {
            size: self.total,
            sha256,
        })
    }
}

/// Verifies and decrypts segments pushed in arbitrary chunks. Holds at most one segment.
pub(crate) struct SegmentDecryptor {
    cipher: SegmentCipher,
    layout: Layout,
    next: u64,
    buf: Vec<u8>,
    hasher: Sha256,
    produced: u64,
    trailer: Option<Trailer>,
}

impl SegmentDecryptor {
    pub(crate) fn new(cipher: SegmentCipher, layout: Layout) -> Self {
        Self {
            cipher,
            layout,
            next: 0,
            buf: Vec::new(),
            hasher: Sha256::new(),
            produced: 0,
            trailer: None,
        }
    }

    /// Pushes ciphertext; every segment completed by it is verified and its plaintext appended to `out`.
    pub(crate) fn push(&mut self, mut data: &[u8], out: &mut Vec<Bytes>) -> Result<()> {
        while !data.is_empty() {
            if self.trailer.is_some() {
                return Err(Error::integrity("data after the final segment"));
            }
            let want = self.layout.segment_len(self.next);
            let take = (want - self.buf.len()).min(data.len());
            if self.buf.capacity() < want {
                self.buf.reserve_exact(want - self.buf.len());
            }
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == want {
                self.complete_segment(out)?;
            }
        }
        Ok(())
    }

    fn complete_segment(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let mut segment = std::mem::take(&mut self.buf);
        let index = self.next;
        let last = index == self.layout.data_segments();
        self.cipher.open(index as u32, last, &mut segment)?;
        self.next += 1;
        if last {
            let trailer = parse_trailer(&segment)?;
            let actual: [u8; 32] = self.hasher.clone().finalize().into();
            if trailer.size != self.produced || trailer.size != self.layout.plaintext_len() {
                return Err(Error::integrity("plaintext size does not match the trailer"));
            }
            if !bool::from(actual.ct_eq(&trailer.sha256)) {
                return Err(Error::integrity(
                    "SHA-256 of the plaintext does not match the trailer",
                ));
            }
            self.trailer = Some(trailer);
        } else {
            self.hasher.update(&segment);
            self.produced += segment.len() as u64;
            out.push(Bytes::from(segment));
        }
        Ok(())
    }

    /// Checks the stream ended exactly after the verified trailer.
    pub(crate) fn finish(&self) -> Result<Trailer> {
        self.trailer
            .ok_or_else(|| Error::integrity("blob truncated: the stream ended before the final segment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn header(segment_size: u32) -> BlobHeader {
        BlobHeader {
            segment_size,
            salt: [7; 32],
            nonce_prefix: [9; 7],
            created_at: 1_700_000_000,
            key_scope: "tenant/t1".into(),
            key_id: [3; 16],
            content_type: "audio/wav".into(),
            location: "t1/c1/audio/r1".into(),
        }
    }

    #[test]
    fn header_round_trips_and_rejects_garbage() {
        let h = header(DEFAULT_SEGMENT_SIZE);
        let bytes = h.encode().unwrap();
        assert_eq!(BlobHeader::parse(&bytes).unwrap(), (h.clone(), bytes.len()));
        let mut extended = bytes.clone();
        extended.extend_from_slice(b"segments");
        assert_eq!(BlobHeader::parse(&extended).unwrap().1, bytes.len());
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    BlobHeader::parse(&bytes[..cut]),
                    Err(HeaderError::Incomplete { .. })
                ),
                "{cut}"
            );
        }
        assert!(matches!(
            BlobHeader::parse(b"RIFF\0\0\0\0WAVE"),
            Err(HeaderError::Invalid(_))
        ));
        let mut v2 = bytes.clone();
        v2[5] = 2;
        assert_eq!(
            BlobHeader::parse(&v2),
            Err(HeaderError::Invalid("unsupported format version"))
        );
        let mut bad_seg = header(1000);
        assert!(bad_seg.encode().is_err());
        bad_seg.segment_size = 512;
        assert!(bad_seg.encode().is_ok());
    }

    #[test]
    fn layout_inverts_body_len() {
        for seg in [256u32, 4096] {
            for len in [0u64, 1, 255, 256, 257, 511, 512, 513, 10_000] {
                let body = Layout::body_len(len, seg);
                let layout = Layout::for_body(body, seg).unwrap();
                assert_eq!(layout.plaintext_len(), len, "seg {seg} len {len}");
            }
        }
        assert!(Layout::for_body(TRAILER_LEN as u64 - 1, 256).is_err());
        assert!(Layout::for_body(TRAILER_LEN as u64 + 16, 256).is_err());
    }
}
