//! The `nudge` binary: parses the command line and hands over to the library.

use anyhow::Context;
use api::{
    Application, HttpConfig,
    config::{BenchCommand, Cli, Command, ServeArgs},
    telemetry,
};
use clap::Parser;
use projections::{ProjectionConfig, ReadModel};
use tokio::net::TcpListener;

/// mimalloc: ingest allocates and frees many small JSON values per event, which
/// glibc's allocator serves markedly slower (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init_tracing(cli.log_format, cli.otlp_endpoint.as_ref())?;
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Bench(BenchCommand::Ingest(args)) => api::bench::ingest::run(args).await,
        Command::Bench(BenchCommand::Projection(args)) => api::bench::projection::run(args).await,
        Command::Bench(BenchCommand::Freshness(args)) => api::bench::freshness::run(args).await,
        Command::Bench(BenchCommand::Decisions(args)) => api::bench::decisions::run(args).await,
        Command::Bench(BenchCommand::Webhooks(args)) => api::bench::webhooks::run(args).await,
        Command::Simulate(args) => api::simulate::run(args).await,
        Command::Train(args) => api::train::run(args).await,
        Command::Keys(args) => api::key_commands::run(args).await,
        Command::Backtest(args) => api::backtest::run(args).await,
        Command::Demo(args) => api::demo::run(args).await,
        Command::Openapi => {
            println!("{}", api::routes::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = store::connect(&args.store)
        .await
        .with_context(|| format!("cannot open the event store {}", redact(&args.store)))?;
    let read_models = args.read_models_url();
    let _one_process = store::sqlite::ServeLock::acquire(&[&args.store, &read_models])?;
    let read_model = ReadModel::connect(&read_models)
        .await
        .with_context(|| format!("cannot open the read models {}", redact(&read_models)))?;
    let metrics = match args.metrics_listen {
        Some(address) => {
            Some(TcpListener::bind(address).await.with_context(|| format!("cannot serve metrics on {address}"))?)
        }
        None => None,
    };
    let app = Application::build(
        args.listen,
        store,
        read_model,
        ProjectionConfig { policy: args.policy.policy(), ..ProjectionConfig::from(&args.projection) },
        HttpConfig { dapr: args.dapr.dapr(), ..HttpConfig::from(&args.http) },
        args.webhooks.dispatcher(),
    )
    .await
    .with_context(|| format!("cannot start on {}", args.listen))?;
    if let Some(listener) = metrics {
        tracing::info!(metrics_address = %listener.local_addr()?, "serving /metrics");
        tokio::spawn(telemetry::prometheus::serve_metrics(listener));
    }
    tracing::info!(
        address = %app.local_addr()?,
        store = %redact(&args.store),
        read_models = %redact(&read_models),
        "nudge is serving"
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("nudge stopped");
    Ok(())
}

/// The store URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
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
