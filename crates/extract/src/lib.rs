#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod batch;
pub mod datetime;
pub mod error;
pub mod extractor;
pub mod fake;
#[cfg(feature = "openai")]
pub mod openai;
pub mod rules;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod validate;

/// The date/time crates of the public API, re-exported so callers use the same versions.
pub use chrono;
pub use chrono_tz;
pub use datetime::{Ambiguity, Reference, Resolution, WeekdayPolicy};
pub use error::{Error, Result};
pub use extractor::{DynExtractor, Extractor};
pub use rules::RulesExtractor;
pub use types::{
    Address, Appointment, BusinessProfile, CallContext, CallKind, Extraction, ExtractorInfo, Field,
    KnownCustomer, Money, Price, PriceKind, Segment, Speaker, TokenUsage, Transcript, Turn, Urgency, When,
    WhenField,
};
