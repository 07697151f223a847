#![doc = include_str!("../README.md")]

#[cfg(feature = "whisper-local")]
pub mod whisper_local;
