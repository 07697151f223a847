#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod events;
pub mod fake;
pub mod form;
pub mod signature;
pub mod simulator;
pub mod telephony;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "twilio")]
pub mod twilio;
pub mod twiml;

pub use error::{Error, Result};
