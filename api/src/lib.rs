//! nudge as a library, so that tests and benchmarks start the real thing on a
//! port of their choosing. Four rooms: [`app`] wires a running nudge from its
//! [`Settings`]; [`server`] is the HTTP API; [`services`] are what the server,
//! the tools and the tests call (API keys, erasure, models and training jobs);
//! [`tools`] are the other commands (bench, simulate, demo, train, backtest, keys).

pub mod app;
pub mod cli;
pub mod config;
pub mod durations;
#[cfg(test)]
mod readme;
pub mod server;
pub mod services;
pub mod telemetry;
pub mod tls;
pub mod tools;

pub use app::{Application, Settings, StartError, redact};
