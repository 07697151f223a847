#![no_main]
//! Placeholder: the callbook-storage issue replaces this body with a real target.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
