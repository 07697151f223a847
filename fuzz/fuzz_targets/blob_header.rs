#![no_main]
//! The callbook-storage blob-header parser on arbitrary bytes: it never panics, never reports more bytes
//! than it was given, and whatever it accepts re-encodes to exactly the bytes it consumed.

use callbook_storage::format::{BlobHeader, HeaderError, MAX_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match BlobHeader::parse(data) {
        Ok((header, used)) => {
            assert!(used <= data.len() && used <= MAX_HEADER_LEN);
            let encoded = header.encode().expect("a parsed header re-encodes");
            assert_eq!(&encoded[..], &data[..used]);
        }
        Err(HeaderError::Incomplete { needed }) => {
            assert!(needed > data.len() && needed <= MAX_HEADER_LEN);
        }
        Err(_) => {}
    }
});
