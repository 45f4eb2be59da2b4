//! `nudge backtest`: history replayed with a model version; who was warned, and when.

use crate::config::PolicyArgs;
use clap::Args;
use std::sync::Arc;

use anyhow::{Context, bail};
use domain::InterventionKind;
use indicatif::{ProgressBar, ProgressStyle};
use ml::Scorer;
use projections::{Decider, Figures, ReadModel};

use crate::app::read_models_url;

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
    /// Count players and recommendations from this time on (RFC 3339, or a date
    /// `YYYY-MM-DD` for its midnight UTC), e.g. the start of the model's test
    /// split; the model still sees all that came before.
    #[arg(long, value_parser = crate::config::values::time)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// A ground-truth CSV from `nudge simulate` (columns `player_id`, `archetype`, `pathway`):
    /// figures per pathway of harm and per archetype not at risk.
    #[arg(long)]
    pub truth: Option<std::path::PathBuf>,
    /// The intervention policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Runs `nudge backtest`.
pub async fn run(args: BacktestArgs) -> anyhow::Result<()> {
    // Chosen before the store is opened, which would make its file: as `serve` chooses.
    let read_models = read_models_url(&args.store, args.read_models.as_deref())?;
    super::replayable(&args.store)?;
    let store =
        store::connect(&args.store).await.with_context(|| format!("cannot open the event store {}", args.store))?;
    let registry = ReadModel::connect(&read_models).await.context("cannot open the read models")?.registry();
    let Some(entry) = registry.get(&args.model).await? else {
        bail!("no model version {} in {read_models} (see `GET /v1/models`)", args.model);
    };
    let truth = args.truth.as_deref().map(super::train::read_truth).transpose()?;
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
    crate::out!("model {} over {} events of {} players ({from})", args.model, report.events, report.players);
    print_figures("all players", &report.figures)?;
    if let Some(truth) = &truth {
        let at_risk = |p: &str| truth.get(p).map(|kind| kind.pathway.is_some());
        for (group, figures) in
            report.by_group(|p| at_risk(p).map(|r| if r { "at risk" } else { "not at risk" }.into()))
        {
            print_figures(&group, &figures)?;
        }
        for (archetype, figures) in report.by_group(|p| truth.get(p).map(|kind| kind.archetype.clone())) {
            print_figures(&archetype, &figures)?;
        }
    }
    // Churn among the players not at risk when the truth says who they are, else among all.
    let not_at_risk = |p: &str| truth.as_ref().is_none_or(|t| t.get(p).is_some_and(|kind| kind.pathway.is_none()));
    let churn = report.churn(not_at_risk, |_| true);
    let players = if truth.is_some() { "players not at risk" } else { "all players" };
    print_churn(&format!("churn ({players})"), &churn)?;
    if let Some(truth) = &truth {
        // The truth tells a churner who faded out from a player pausing over the last week.
        let churner = |p: &str| truth.get(p).is_some_and(|kind| kind.archetype == "churner");
        print_churn("churn (stopped: churners only)", &report.churn(not_at_risk, churner))?;
    }
    crate::out!(
        "marketing inside the block after a safer-gambling recommendation: {}, during a self-exclusion: {}",
        report.marketing_in_block,
        report.marketing_while_excluded
    );
    for kind in InterventionKind::ALL {
        crate::out!("{:<26} {:>9}", kind.as_str(), report.per_kind.get(kind.as_str()).copied().unwrap_or(0));
    }
    Ok(())
}

/// One line of churn figures: who stopped and was offered retention, who was offered and stopped.
fn print_churn(what: &str, churn: &projections::ChurnFigures) -> anyhow::Result<()> {
    crate::out!(
        "{what}: stopped playing (no session for over {} days and {} usual gaps) {}, of them offered retention \
         while playing {} ({:.1} %); offered {}, of them stopped {} (precision {:.1} %)",
        ml::CHURN_QUIET / 86_400_000,
        ml::CHURN_QUIET_GAPS,
        churn.stopped,
        churn.stopped_offered,
        100.0 * churn.recall(),
        churn.offered,
        churn.stopped_offered,
        100.0 * churn.precision()
    );
    Ok(())
}

/// One line of figures: recall before self-exclusion, median lead, false alarms.
fn print_figures(group: &str, f: &Figures) -> anyhow::Result<()> {
    crate::out!(
        "{group:<16} self-excluded {:>5}, warned before {:>5} ({:>5.1} %), median lead {:>8}; others {:>6}, warned (false alarms) {:>5} ({:>4.1} %)",
        f.self_excluded,
        f.warned_before_exclusion,
        100.0 * f.warned_share(),
        f.median_lead_hours.map_or_else(|| "-".to_owned(), |h| format!("{h:.1} h")),
        f.others,
        f.others_warned,
        100.0 * f.false_alarm_share()
    );
    Ok(())
}
