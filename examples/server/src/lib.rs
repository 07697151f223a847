//! The Callbook reference server as a library: configuration, application state, the Twilio webhooks,
//! health/readiness/metrics endpoints and the background worker. The binary `callbook` (`src/main.rs`) is a
//! thin CLI over it; tests drive the same [`app::router`] in-process and over a real socket.

pub mod app;
pub mod config;
pub mod extract;
pub mod ops;
pub mod serve;
pub mod transcribe;
pub mod webhooks;
pub mod worker;
