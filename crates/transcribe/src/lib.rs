#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audio;
pub mod confidence;
pub mod error;
pub mod transcriber;
pub mod transcript;

#[cfg(feature = "whisper-local")]
pub mod whisper_local;

pub use audio::{AudioFormat, AudioInfo, AudioInput, DecodedAudio, decode_pcm, to_mono_16k};
pub use error::{Error, Result};
pub use transcriber::{Capabilities, DynTranscriber, TranscribeOptions, Transcriber};
pub use transcript::{
    GuardReport, Segment, SegmentStats, Transcript, TranscriptConfidence, Usage, Word, AGENT_CHANNEL,
    CALLER_CHANNEL,
};
