#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod calendar;
pub mod error;
pub mod ids;
pub mod matching;
pub mod memory;
pub mod model;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;

pub use error::{Error, FieldError, Result};
pub use ids::*;
pub use memory::InMemoryJobStore;
pub use model::*;
pub use open::open;
#[cfg(feature = "postgres")]
pub use postgres::PostgresJobStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteJobStore;
pub use store::{
    AccountStore, ActivityStore, Booking, CallStore, CustomerStore, DynJobStore, JobBoard, JobStore,
    JobStoreExt, PrivacyStore, RetryPolicy, TenantStore, WorkQueue, WorkQueueExt,
};
