#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audio;
pub mod channels;
pub mod chunking;
pub mod confidence;
pub mod error;
pub mod fake;
#[cfg(feature = "openai")]
pub mod openai;
pub mod policy;
pub mod redact;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transcriber;
pub mod transcript;

#[cfg(feature = "whisper-local")]
pub mod whisper_local;

pub use audio::{AudioFormat, AudioInfo, AudioInput, DecodedAudio, decode_pcm, to_mono_16k};
pub use error::{Error, Result};
pub use transcriber::{Capabilities, DynTranscriber, TranscribeOptions, Transcriber};
pub use transcript::{
    AGENT_CHANNEL, CALLER_CHANNEL, GuardReport, Segment, SegmentStats, Transcript, TranscriptConfidence,
    Usage, Word,
};
