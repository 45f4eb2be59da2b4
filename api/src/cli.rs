//! The command line: nudge's commands and their arguments, each defined beside
//! the code that runs it.

use clap::{Parser, Subcommand};

use crate::{
    config::ServeArgs, telemetry::LogFormat, tools::backtest::BacktestArgs, tools::bench::BenchCommand,
    tools::demo::DemoArgs, tools::key_commands::KeysArgs, tools::simulate::SimulateArgs, tools::train::TrainArgs,
};

/// nudge: player events in, timely interventions out.
#[derive(Debug, Parser)]
#[command(name = "nudge", version, about)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "NUDGE_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Export spans over OTLP/HTTP to this collector, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended to a URL without a path). Off when not given.
    #[arg(long, env = "NUDGE_OTLP_ENDPOINT", global = true, value_parser = crate::config::values::http_url)]
    pub otlp_endpoint: Option<reqwest::Url>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// nudge's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Measure nudge.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Simulate a player population: post its events to a running nudge or write them to a file.
    Simulate(SimulateArgs),
    /// Train a model version by replaying every player stream, and print its metrics.
    Train(TrainArgs),
    /// Manage API keys: create (printed once), bootstrap (from a file), list, revoke.
    Keys(KeysArgs),
    /// Replay history with a model version and report who was warned, and when.
    Backtest(BacktestArgs),
    /// Start nudge on SQLite, simulate a month, train and activate a model, then
    /// stream more activity and print recommendations as they happen.
    Demo(DemoArgs),
    /// Print the OpenAPI 3.1 document of the HTTP API (the committed `openapi.json`).
    Openapi,
}
