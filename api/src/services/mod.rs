//! The application services: what the HTTP server, the command-line tools and
//! the tests call alike. None of them knows HTTP.

pub mod erasure;
pub mod key_memory;
pub mod keys;
pub mod models;
pub mod training_jobs;
