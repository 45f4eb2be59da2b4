//! `nudge train`: replays every player stream, trains a model version and prints
//! its metrics.

use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ml::{ModelArtifact, TargetModel, TrainConfig};

use crate::config::TrainArgs;

/// Runs `nudge train`.
pub async fn run(args: TrainArgs) -> anyhow::Result<()> {
    let store =
        store::connect(&args.store).await.with_context(|| format!("cannot open the event store {}", args.store))?;
    let started = Instant::now();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} events {msg}")
            .context("progress template")?,
    );
    bar.set_message("replaying");
    let set = ml::replay(store, &|done, head| {
        bar.set_length(head);
        bar.set_position(done);
    })
    .await?;
    let replayed = started.elapsed();
    let config = TrainConfig {
        harm_precision: args.harm_precision,
        churn_precision: args.churn_precision,
        ..TrainConfig::default()
    };
    let artifact = tokio::task::spawn_blocking(move || {
        ml::train(&set, &config, &|step| println!("{:>6.1} s  {step}", started.elapsed().as_secs_f64()))
    })
    .await??;
    bar.finish_and_clear();
    println!(
        "replayed {} events of {} players ({} points) in {:.1} s; trained in {:.1} s",
        artifact.training.events,
        artifact.training.players,
        artifact.training.points,
        replayed.as_secs_f64(),
        (started.elapsed() - replayed).as_secs_f64()
    );
    print_metrics(&artifact);
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
        "{:<6} {:<9} {:>6} {:>8} {:>8} {:>7} {:>9} {:>9} {:>6} {:>7}",
        "target", "family", "chosen", "points", "positive", "ROC AUC", "PR AUC", "threshold", "prec.", "recall"
    );
    let targets: [(&str, &TargetModel); 2] = [("harm", &artifact.harm), ("churn", &artifact.churn)];
    for (name, target) in targets {
        for m in &target.metrics {
            let t = &m.test;
            println!(
                "{name:<6} {:<9} {:>6} {:>8} {:>8} {:>7.3} {:>9.3} {:>9.4} {:>6.3} {:>7.3}",
                m.family.as_str(),
                if m.chosen { "yes" } else { "" },
                t.points,
                t.positives,
                t.roc_auc,
                t.pr_auc,
                t.threshold,
                t.precision,
                t.recall
            );
        }
    }
}
