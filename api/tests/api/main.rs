//! End-to-end tests: the real server on a random port against a fresh database.
#![allow(clippy::unwrap_used)]

mod auth;
mod bench_leftovers;
mod bench_runs;
mod cluster;
mod connections;
mod console;
mod dapr;
mod erasure;
mod errors;
mod faults;
mod feature_cache;
mod features;
mod hardening;
mod helpers;
mod ingest;
mod kill;
mod lifecycle;
mod limits;
mod metrics;
mod models;
mod monitoring;
mod openapi;
mod owner_reads;
mod reads;
mod receiver;
mod recommendations;
mod simulate;
mod tls;
mod tracing;
mod webhooks;
mod webhooks_api;
mod webhooks_cluster;
mod webhooks_kill;
