#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod mapping;
pub mod metrics;
pub mod notify;
pub mod reconcile;
mod run;
pub mod usage;
pub mod worker;

pub use error::{Error, Result};
pub use reconcile::ReconcileReport;
pub use worker::{ConfigError, Outcome, ProviderLimits, RunReport, Step, Worker, WorkerConfig, WorkerHandle};
