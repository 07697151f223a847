#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod mapping;
pub mod notify;
pub mod worker;

pub use error::{Error, Result};
pub use worker::{Outcome, RunReport, Step, Worker, WorkerConfig};
