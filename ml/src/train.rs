//! Training: both families on both targets, split by time, one model version.

use std::{collections::BTreeMap, sync::Arc};

use chrono::Utc;
use ndarray::Array2;
use store::EventStore;

use crate::{
    MlError,
    artifact::{FORMAT, FamilyMetrics, ModelArtifact, Scaler, TargetModel, TrainingSummary},
    dataset::{Point, TrainingSet, replay},
    evaluation::{Evaluation, pr_auc, threshold_for_precision},
    inputs::{INPUT_NAMES, INPUTS},
    model::{BinaryModel, Family, FitParams},
    registry::Registry,
};

/// Settings of a training run.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    /// Precision the harm threshold is chosen for.
    pub harm_precision: f64,
    /// Precision the churn threshold is chosen for.
    pub churn_precision: f64,
    /// Hyperparameters of the fits.
    pub fit: FitParams,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { harm_precision: 0.5, churn_precision: 0.6, fit: FitParams::default() }
    }
}

/// Share of each target's labelled points, oldest first, that trains; the next
/// share up to `VALIDATION_END` chooses the family and threshold; the latest test.
const TRAINING_END: f64 = 0.6;
const VALIDATION_END: f64 = 0.8;

/// Where a training run is.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Replaying the store: events replayed of those to replay.
    Replaying {
        /// Replayed so far.
        events: u64,
        /// The store's head when the replay began.
        of: u64,
    },
    /// Fitting and evaluating, as described.
    Fitting(String),
}

/// Replays `store`, trains a version and registers it; `progress` hears every step.
pub async fn train_from_store(
    store: Arc<dyn EventStore>,
    registry: &Registry,
    config: TrainConfig,
    progress: Arc<dyn Fn(Progress) + Send + Sync>,
) -> Result<ModelArtifact, MlError> {
    let replaying = Arc::clone(&progress);
    let set = replay(store, &move |events, of| replaying(Progress::Replaying { events, of })).await?;
    let artifact =
        tokio::task::spawn_blocking(move || train(&set, &config, &|step| progress(Progress::Fitting(step.to_owned()))))
            .await
            .map_err(|e| MlError::Fit(e.to_string()))??;
    registry.save(&artifact, Utc::now()).await?;
    Ok(artifact)
}

/// Reads one target's label off a point.
type Label = fn(&Point) -> Option<bool>;

/// Trains a model version on `set`, telling `progress` what it is doing.
pub fn train(
    set: &TrainingSet,
    config: &TrainConfig,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ModelArtifact, MlError> {
    let mut points: Vec<&Point> = set.points.iter().collect();
    points.sort_by_key(|p| (p.time, p.position));
    let scaled = (points.len() as f64 * TRAINING_END) as usize;
    let scaler = Scaler::fit(points[..scaled].iter().map(|p| &p.inputs));
    let mut splits = BTreeMap::new();
    let targets: [(&'static str, Label, f64); 2] =
        [("harm", |p| p.harm, config.harm_precision), ("churn", |p| p.churn, config.churn_precision)];
    let mut models = Vec::with_capacity(2);
    for (name, label, precision) in targets {
        let labelled: Vec<(&Point, bool)> = points.iter().filter_map(|p| label(p).map(|l| (*p, l))).collect();
        let n = labelled.len();
        let (a, b) = ((n as f64 * TRAINING_END) as usize, (n as f64 * VALIDATION_END) as usize);
        let (training, validation, test) = (&labelled[..a], &labelled[a..b], &labelled[b..]);
        for (split, part) in [("training", training), ("validation", validation), ("test", test)] {
            let positives = part.iter().filter(|(_, l)| *l).count();
            if positives == 0 || positives == part.len() {
                return Err(MlError::NotEnoughData {
                    target: name,
                    detail: format!(
                        "the {split} points ({}) need positives and negatives ({positives} positive)",
                        part.len()
                    ),
                });
            }
        }
        splits.insert(name.to_owned(), [training.len(), validation.len(), test.len()]);
        models.push(fit_target(name, &scaler, [training, validation, test], precision, config, progress)?);
    }
    let churn = models.pop().ok_or(MlError::OneClass)?;
    let harm = models.pop().ok_or(MlError::OneClass)?;
    ModelArtifact {
        format: FORMAT,
        version: String::new(),
        feature_names: INPUT_NAMES.iter().map(|n| (*n).to_owned()).collect(),
        scaler,
        harm,
        churn,
        games: set.games.clone(),
        training: TrainingSummary {
            first_position: set.positions.0,
            last_position: set.positions.1,
            events: set.events,
            players: set.players,
            points: set.points.len(),
            splits,
        },
    }
    .sealed()
}

/// Fits every family on the training points, keeps the one with the best
/// validation PR AUC, and evaluates each on the test points.
fn fit_target(
    name: &str,
    scaler: &Scaler,
    [training, validation, test]: [&[(&Point, bool)]; 3],
    precision: f64,
    config: &TrainConfig,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<TargetModel, MlError> {
    let rows = |part: &[(&Point, bool)]| -> Vec<[f64; INPUTS]> {
        part.iter().map(|(p, _)| scaler.transform(&p.inputs)).collect()
    };
    let labels = |part: &[(&Point, bool)]| -> Vec<bool> { part.iter().map(|(_, l)| *l).collect() };
    let (train_rows, valid_rows, test_rows) = (rows(training), rows(validation), rows(test));
    let (train_labels, valid_labels, test_labels) = (labels(training), labels(validation), labels(test));
    let x = Array2::from_shape_vec((train_rows.len(), INPUTS), train_rows.concat())
        .map_err(|e| MlError::Fit(e.to_string()))?;
    let mut fitted = Vec::new();
    for family in Family::ALL {
        progress(&format!("fitting the {name} {} model on {} points", family.as_str(), train_labels.len()));
        let model = BinaryModel::fit(family, &x, &train_labels, config.fit)?;
        let score = |rows: &[[f64; INPUTS]]| -> Vec<f64> { rows.iter().map(|z| model.probability(z)).collect() };
        let valid_scores = score(&valid_rows);
        let threshold = threshold_for_precision(&valid_scores, &valid_labels, precision);
        let metrics = FamilyMetrics {
            family,
            chosen: false,
            validation_pr_auc: pr_auc(&valid_scores, &valid_labels),
            test: Evaluation::of(&score(&test_rows), &test_labels, threshold),
        };
        fitted.push((model, metrics));
    }
    let best = (0..fitted.len())
        .max_by(|a, b| fitted[*a].1.validation_pr_auc.total_cmp(&fitted[*b].1.validation_pr_auc))
        .unwrap_or(0);
    fitted[best].1.chosen = true;
    let threshold = fitted[best].1.test.threshold;
    let model = fitted[best].0.clone();
    Ok(TargetModel {
        model,
        threshold,
        precision_target: precision,
        metrics: fitted.into_iter().map(|(_, m)| m).collect(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use simulator::Population;

    fn training_set() -> TrainingSet {
        let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap();
        let population = Population::new(150, 21, start).with_mix("regular=3,at_risk=1,churner=1".parse().unwrap());
        let events: Vec<_> = (0..30).flat_map(|day| population.day(day)).collect();
        TrainingSet::of(&events)
    }

    #[test]
    fn a_version_separates_harm_reads_back_and_is_named_by_its_content() {
        let set = training_set();
        let artifact = train(&set, &TrainConfig::default(), &|_| {}).unwrap();
        let chosen = artifact.harm.metrics.iter().find(|m| m.chosen).unwrap();
        assert!(chosen.test.roc_auc > 0.8, "harm ROC AUC {}", chosen.test.roc_auc);
        assert_eq!(artifact.harm.metrics.len(), 2);
        assert_eq!(artifact.harm.model.family(), chosen.family);
        let json = artifact.to_json().unwrap();
        assert_eq!(ModelArtifact::from_json(&json).unwrap(), artifact);
        assert!(ModelArtifact::from_json(&json.replacen("\"threshold\":", "\"threshold\":1", 1)).is_err());
        assert_eq!(train(&set, &TrainConfig::default(), &|_| {}).unwrap().version, artifact.version);
    }

    #[test]
    fn too_little_data_is_a_clear_error() {
        let mut set = training_set();
        set.points.iter_mut().for_each(|p| p.harm = p.harm.map(|_| false));
        let error = train(&set, &TrainConfig::default(), &|_| {}).unwrap_err();
        assert!(matches!(error, MlError::NotEnoughData { target: "harm", .. }), "{error}");
    }
}
