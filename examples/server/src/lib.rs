//! The library half of the Callbook reference server: the parts the `callbook` binary composes and that tests
//! and embedding applications can use on their own.
//!
//! * [`api`] — the REST API under `/api/v1` as an independent axum router ([`api::router`]).

pub mod api;
