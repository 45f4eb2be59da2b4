//! The `nudge` binary: parses the command line and hands over to the library.

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use api::{
    app::Application,
    app::redact,
    cli::{Cli, Command},
    config::ServeArgs,
    telemetry,
};
use clap::{CommandFactory, FromArgMatches};
use tokio::net::TcpListener;

/// jemalloc: ingest allocates many small values per event on one worker thread
/// and frees them on another (the writer's, the projection's), which glibc's
/// allocator and then mimalloc served slower (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let result = run().await;
    #[cfg(unix)]
    if api::tools::bench::interrupted() {
        // The interrupt's handler is removing what the benchmark made; it ends the process.
        std::future::pending::<()>().await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // A closed or full standard error must not turn the refusal into a panic.
            let _ = writeln!(std::io::stderr(), "Error: {}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, a line each, leaving out a cause whose text a line
/// above already holds (nudge's errors quote their cause), and no backtrace.
fn report(error: &anyhow::Error) -> String {
    let mut lines: Vec<String> = Vec::new();
    for cause in error.chain().map(ToString::to_string) {
        if !lines.iter().any(|line| line.contains(&cause)) {
            lines.push(cause);
        }
    }
    lines.join("\n  because: ")
}

async fn run() -> anyhow::Result<()> {
    // Nothing has opened a TLS client yet: ring is installed, so this is always true.
    api::tls::install_crypto_provider();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = Cli::command()
        .try_get_matches_from(&argv)
        .unwrap_or_else(|error| api::cli::name_env_source(error, &Cli::command(), &argv).exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let _telemetry = telemetry::init_tracing(cli.log_format, cli.otlp_endpoint.as_ref())?;
    for deprecation in api::durations::deprecations(&Cli::command(), &matches) {
        tracing::warn!("{deprecation}");
    }
    #[cfg(unix)]
    if matches!(cli.command, Command::Bench(_)) {
        api::tools::bench::exit_on_interrupt().context("cannot catch Ctrl-C and SIGTERM")?;
    }
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Bench(command) => api::tools::bench::run(command).await,
        Command::Simulate(args) => api::tools::simulate::run(args).await,
        Command::Train(args) => api::tools::train::run(args).await,
        Command::Keys(args) => api::tools::key_commands::run(args).await,
        Command::Backtest(args) => api::tools::backtest::run(args).await,
        Command::Demo(args) => api::tools::demo::run(args).await,
        Command::Openapi => api::tools::stdout::line(api::server::routes::openapi().to_pretty_json()?),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    args.check().map_err(anyhow::Error::msg)?;
    let settings = args.settings();
    // A refused URL is told before any lock file or database is made.
    store::check_url(&settings.store)?;
    database::Database::check_url(&settings.read_models)?;
    let _one_process = store::sqlite::ServeLock::acquire(&[&settings.store, &settings.read_models])?;
    let metrics = match args.metrics_listen {
        Some(address) => {
            Some(TcpListener::bind(address).await.with_context(|| format!("cannot serve metrics on {address}"))?)
        }
        None => None,
    };
    let (store, read_models) = (redact(&settings.store), redact(&settings.read_models));
    let app = Application::build(settings).await.context("nudge serve cannot start")?;
    if let Some(listener) = metrics {
        tracing::info!(metrics_address = %listener.local_addr()?, "serving /metrics");
        tokio::spawn(telemetry::prometheus::serve_metrics(listener));
    }
    tracing::info!(address = %app.local_addr()?, %store, %read_models, "nudge is serving");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("nudge stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
