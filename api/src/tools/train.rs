//! `nudge train`: replays every player stream, trains a model version, registers
//! it and prints its metrics.

use clap::Args;
use std::{io::Write, sync::Arc, time::Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ml::{GroupFigures, ModelArtifact, Progress, TargetModel, TrainConfig, Truth};
use projections::ReadModel;

use crate::app::read_models_url;

/// Options of `nudge train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Event store URL to replay.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true)]
    pub store: String,
    /// Choose the harm threshold for this precision on the validation points,
    /// instead of on the validation players (see `--harm-false-alarm-cost`).
    #[arg(long, value_parser = unit_interval)]
    pub harm_precision: Option<f64>,
    /// The harm threshold is chosen on the validation players: the most warned
    /// before they excluded themselves, less this many times the share of the
    /// players who never did that were warned.
    #[arg(long, default_value_t = ml::HARM_FALSE_ALARM_COST, value_parser = cost)]
    pub harm_false_alarm_cost: f64,
    /// Precision the churn threshold is chosen for, over the validation players (each offered counts once).
    #[arg(long, default_value_t = ml::CHURN_PRECISION, value_parser = unit_interval)]
    pub churn_precision: f64,
    /// Read-model database whose registry gets the version: `sqlite://path` or
    /// `postgres://...`; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Activate the version once trained (a running nudge picks it up at its next start).
    #[arg(long)]
    pub activate: bool,
    /// Also write the artifact (JSON) to this file.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// A ground-truth CSV from `nudge simulate` for the replayed players: the
    /// harm model's figures per pathway of harm and per archetype not at risk,
    /// on the test points, printed and kept in the artifact.
    #[arg(long)]
    pub truth: Option<std::path::PathBuf>,
}

/// A number strictly between 0 and 1.
fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("`{s}` is not a number strictly between 0 and 1 (0.7, say; 0 and 1 themselves are not)")),
    }
}

/// A cost: a finite number, 0 or more (an artifact keeps it as JSON, which
/// has no infinity or NaN).
fn cost(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("`{s}` is not a finite number of 0 or more (3, say)")),
    }
}

/// Runs `nudge train`.
pub async fn run(args: TrainArgs) -> anyhow::Result<()> {
    // Chosen before the store is opened, which would make its file: as `serve` chooses.
    let read_models = read_models_url(&args.store, args.read_models.as_deref())?;
    super::replayable(&args.store)?;
    // Where the artifact goes is checked before hours of training, not after.
    let mut out = args
        .out
        .as_deref()
        .map(|path| {
            let file = std::fs::File::options().create(true).append(true).open(path);
            file.map(|file| (path, file)).with_context(|| format!("cannot write {}", path.display()))
        })
        .transpose()?;
    let store =
        store::connect(&args.store).await.with_context(|| format!("cannot open the event store {}", args.store))?;
    let registry = ReadModel::connect(&read_models).await.context("cannot open the read models")?.registry();
    let started = Instant::now();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} events replayed")
            .context("progress template")?,
    );
    let shown = bar.clone();
    let progress = Arc::new(move |progress: Progress| match progress {
        Progress::Replaying { events, of } => {
            shown.set_length(of);
            shown.set_position(events);
        }
        Progress::Fitting(step) => shown.println(format!("{:>6.1} s  {step}", started.elapsed().as_secs_f64())),
    });
    let truth = args.truth.as_deref().map(read_truth).transpose()?.map(Arc::new);
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        harm_precision: args.harm_precision.unwrap_or(defaults.harm_precision),
        harm_false_alarm_cost: args.harm_precision.is_none().then_some(args.harm_false_alarm_cost),
        churn_precision: args.churn_precision,
        truth,
        ..defaults
    };
    let artifact = ml::train_from_store(store, &registry, config, progress).await?;
    bar.finish_and_clear();
    crate::out!(
        "replayed {} events of {} players ({} points) and trained in {:.1} s",
        artifact.training.events,
        artifact.training.players,
        artifact.training.points,
        started.elapsed().as_secs_f64()
    );
    print_metrics(&artifact)?;
    crate::out!("registered in {read_models}");
    if args.activate {
        registry.activate(&artifact.version, chrono::Utc::now()).await?;
        crate::out!("activated {}", artifact.version);
    }
    if let Some((path, file)) = &mut out {
        let json = artifact.to_json()?;
        let written = file.set_len(0).and_then(|()| file.write_all(json.as_bytes()));
        written.with_context(|| format!("cannot write {}", path.display()))?;
        crate::out!("artifact written to {}", path.display());
    }
    Ok(())
}

/// Reads a ground-truth CSV written by `nudge simulate`.
pub fn read_truth(path: &std::path::Path) -> anyhow::Result<Truth> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Truth::from_csv(&text).with_context(|| format!("cannot read {}", path.display()))
}

/// The harm model's figures per pathway and archetype, when training had the truth.
fn print_groups(groups: &[GroupFigures]) -> anyhow::Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    crate::out!("harm model on the test points, per pathway of harm and per archetype not at risk:");
    for g in groups {
        let share = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
        if g.at_risk {
            crate::out!(
                "  {:<16} players {:>5}, self-excluded {:>4}, warned before {:>4} ({:>5.1} %), median lead {}",
                g.group,
                g.players,
                g.self_excluded,
                g.warned_before_exclusion,
                share(g.warned_before_exclusion, g.self_excluded),
                g.median_lead_hours.map_or_else(|| "-".to_owned(), |h| format!("{h:.1} h"))
            );
        } else {
            crate::out!(
                "  {:<16} players {:>5}, warned (false alarms) {:>4} ({:>5.1} %)",
                g.group,
                g.players,
                g.warned,
                share(g.warned, g.players)
            );
        }
    }
    Ok(())
}

/// The metrics table: one line per target and family, on the test points.
pub fn print_metrics(artifact: &ModelArtifact) -> anyhow::Result<()> {
    crate::out!("model version {}", artifact.version);
    crate::out!(
        "{:<6} {:<9} {:>6} {:>8} {:>8} {:>7} {:>7} {:>9} {:>6} {:>6} {:>6}",
        "target",
        "family",
        "chosen",
        "points",
        "positive",
        "ROC AUC",
        "PR AUC",
        "threshold",
        "prec.",
        "recall",
        "brier"
    );
    let targets: [(&str, &TargetModel); 2] = [("harm", &artifact.harm), ("churn", &artifact.churn)];
    for (name, target) in targets {
        for m in &target.metrics {
            let t = &m.test;
            crate::out!(
                "{name:<6} {:<9} {:>6} {:>8} {:>8} {:>7.3} {:>7.3} {:>9.4} {:>6.3} {:>6.3} {:>6.3}",
                m.family.as_str(),
                if m.chosen { "yes" } else { "" },
                t.points,
                t.positives,
                t.roc_auc,
                t.pr_auc,
                t.threshold,
                t.precision,
                t.recall,
                t.brier
            );
        }
    }
    print_groups(&artifact.harm.groups)?;
    Ok(())
}
