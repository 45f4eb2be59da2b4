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

/// `error`, a value `command` refused, with the environment variable it came
/// from named when no flag on the line (`argv`) gave it: clap names only the
/// flag, which the operator may never have typed.
pub fn name_env_source(mut error: clap::Error, command: &clap::Command, argv: &[std::ffi::OsString]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return error;
    }
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else { return error };
    let Some(long) = invalid.strip_prefix("--").and_then(|flag| flag.split(' ').next()).map(str::to_owned) else {
        return error;
    };
    let words: Vec<&str> = argv.iter().skip(1).filter_map(|word| word.to_str()).collect();
    let given = |word: &&str| word.strip_prefix("--").is_some_and(|w| w == long || w.starts_with(&format!("{long}=")));
    if words.iter().any(given) {
        return error;
    }
    // The flag is that of the subcommand named on the line, or of one above it.
    let mut path = vec![command];
    for word in &words {
        if let Some(sub) = path.last().and_then(|current| current.find_subcommand(word)) {
            path.push(sub);
        }
    }
    let arg = path.iter().rev().find_map(|c| c.get_arguments().find(|arg| arg.get_long() == Some(long.as_str())));
    if let Some(env) = arg.and_then(clap::Arg::get_env).filter(|env| std::env::var_os(env).is_some()) {
        let told = format!("the value came from the environment variable {}", env.to_string_lossy());
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![told.into()]));
    }
    error
}
