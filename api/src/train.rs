//! `nudge train`: replays every player stream, trains a model version, registers
//! it and prints its metrics.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ml::{ModelArtifact, Progress, TargetModel, TrainConfig};
use projections::ReadModel;

use crate::config::{TrainArgs, read_models_beside};

/// Runs `nudge train`.
pub async fn run(args: TrainArgs) -> anyhow::Result<()> {
    let store =
        store::connect(&args.store).await.with_context(|| format!("cannot open the event store {}", args.store))?;
    let read_models = args.read_models.clone().unwrap_or_else(|| read_models_beside(&args.store));
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
    let config = TrainConfig {
        harm_precision: args.harm_precision,
        churn_precision: args.churn_precision,
        ..TrainConfig::default()
    };
    let artifact = ml::train_from_store(store, &registry, config, progress).await?;
    bar.finish_and_clear();
    println!(
        "replayed {} events of {} players ({} points) and trained in {:.1} s",
        artifact.training.events,
        artifact.training.players,
        artifact.training.points,
        started.elapsed().as_secs_f64()
    );
    print_metrics(&artifact);
    println!("registered in {read_models}");
    if args.activate {
        registry.activate(&artifact.version, chrono::Utc::now()).await?;
        println!("activated {}", artifact.version);
    }
    if let Some(path) = &args.out {
        std::fs::write(path, artifact.to_json()?).with_context(|| format!("cannot write {}", path.display()))?;
        println!("artifact written to {}", path.display());
    }
    Ok(())
}

/// The metrics table: one line per target and family, on the test points.
pub fn print_metrics(artifact: &ModelArtifact) {
    println!("model version {}", artifact.version);
    println!(
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
            println!(
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
}
