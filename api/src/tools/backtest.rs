//! `nudge backtest`: history replayed with a model version; who was warned, and when.

use crate::config::PolicyArgs;
use clap::Args;
use std::sync::Arc;

use anyhow::{Context, bail};
use domain::InterventionKind;
use indicatif::{ProgressBar, ProgressStyle};
use ml::Scorer;
use projections::{Decider, ReadModel};

use crate::app::read_models_beside;

/// Options of `nudge backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The model version to decide with (from the registry).
    #[arg(long)]
    pub model: String,
    /// Event store URL to replay.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true)]
    pub store: String,
    /// Read-model database holding the registry; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Count players and recommendations from this time on (RFC 3339), e.g. the
    /// start of the model's test split; the model still sees all that came before.
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// The intervention policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Runs `nudge backtest`.
pub async fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let store =
        store::connect(&args.store).await.with_context(|| format!("cannot open the event store {}", args.store))?;
    let read_models = args.read_models.clone().unwrap_or_else(|| read_models_beside(&args.store));
    let registry = ReadModel::connect(&read_models).await.context("cannot open the read models")?.registry();
    let Some(entry) = registry.get(&args.model).await? else {
        bail!("no model version {} in {read_models} (see `GET /v1/models`)", args.model);
    };
    let decider = Decider { scorer: Some(Arc::new(Scorer::new(entry.artifact))), policy: args.policy.policy() };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} events replayed")
            .context("progress template")?,
    );
    let report = projections::backtest(store, &decider, args.from, &|done, head| {
        bar.set_length(head);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let from = args.from.map_or_else(|| "all history".to_owned(), |from| format!("from {}", from.to_rfc3339()));
    println!("model {} over {} events of {} players ({from})", args.model, report.events, report.players);
    println!(
        "self-excluded players: {}, warned before excluding themselves: {} ({:.1} %), median lead {}",
        report.self_excluded,
        report.warned_before_exclusion,
        100.0 * report.warned_share(),
        report.median_lead_hours.map_or_else(|| "-".to_owned(), |h| format!("{h:.1} h")),
    );
    println!(
        "other players: {}, warned (false alarms): {} ({:.1} %)",
        report.others,
        report.others_warned,
        100.0 * report.false_alarm_share()
    );
    println!(
        "marketing inside the block after a safer-gambling recommendation: {}, during a self-exclusion: {}",
        report.marketing_in_block, report.marketing_while_excluded
    );
    for kind in InterventionKind::ALL {
        println!("{:<26} {:>9}", kind.as_str(), report.per_kind.get(kind.as_str()).copied().unwrap_or(0));
    }
    Ok(())
}
