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
    groups::{GroupFigures, Scored, Truth, figures},
    inputs::{INPUT_NAMES, INPUTS, monotone_inputs},
    model::{BinaryModel, Family, FitParams},
    registry::Registry,
    threshold::{PlayerScore, threshold_for_player_precision, threshold_for_players},
};

/// Settings of a training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Precision the harm threshold is chosen for, when `harm_false_alarm_cost` is none.
    pub harm_precision: f64,
    /// Choose the harm threshold on the validation players instead: the most
    /// players warned before they excluded themselves, less this many times the
    /// share of players who never did that are warned.
    pub harm_false_alarm_cost: Option<f64>,
    /// Precision the churn threshold is chosen for, over the validation players
    /// (each player offered counts once, as in `nudge backtest`).
    pub churn_precision: f64,
    /// Hyperparameters of the fits.
    pub fit: FitParams,
    /// The simulator's ground truth, for figures per pathway and archetype.
    pub truth: Option<Arc<Truth>>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            harm_precision: 0.5,
            harm_false_alarm_cost: Some(HARM_FALSE_ALARM_COST),
            churn_precision: CHURN_PRECISION,
            fit: FitParams::default(),
            truth: None,
        }
    }
}

/// The default cost of a false alarm in the harm threshold's choice (see
/// [`TrainConfig::harm_false_alarm_cost`]).
pub const HARM_FALSE_ALARM_COST: f64 = 3.0;

/// The default precision the churn threshold is chosen for over the validation
/// players. Above the 50 % wanted of a month of offers: validation players are
/// scored for a few days, and each further week of scores is another chance of
/// an offer to a player who does not stop (0.6 gave 42 % on a held-out month).
pub const CHURN_PRECISION: f64 = 0.7;

/// How far below the best recall − cost × false alarms the harm threshold may
/// do on the validation players; of those thresholds, the highest is taken.
pub const HARM_RECALL_TOLERANCE: f64 = 0.05;

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
    let harm_monotone = monotone_inputs();
    let harm_rule = Rule {
        precision: config.harm_precision,
        players: config.harm_false_alarm_cost.map(|cost| (cost, set.exclusions.as_slice())),
        per_player: false,
    };
    let churn_rule = Rule { precision: config.churn_precision, players: None, per_player: true };
    let targets: [(&'static str, Label, Rule, &[usize]); 2] =
        [("harm", |p| p.harm, harm_rule, &harm_monotone), ("churn", |p| p.churn, churn_rule, &[])];
    let mut models = Vec::with_capacity(2);
    for (name, label, rule, monotone) in targets {
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
        let mut model = fit_target(name, &scaler, [training, validation, test], rule, monotone, config, progress)?;
        if let (Some(truth), "harm") = (&config.truth, name) {
            let test = test.iter().map(|(p, _)| *p);
            model.groups = harm_groups(&model, &scaler, test, set, truth);
        }
        models.push(model);
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

/// How a target's threshold is chosen on the validation points.
#[derive(Clone, Copy)]
struct Rule<'a> {
    /// The most recall at this point precision (also when the players' rule cannot be used).
    precision: f64,
    /// The players' rule: the cost of a false alarm against a player warned
    /// before excluding themselves, and each player's first self-exclusion.
    players: Option<(f64, &'a [Option<i64>])>,
    /// Without the players' rule: `precision` over the validation players
    /// rather than the points (a player counts once, positive when any of
    /// their points is, reached when any scores at or over the threshold).
    per_player: bool,
}

/// Fits every family on the training points, keeps the one with the best
/// validation PR AUC, and evaluates each on the test points.
fn fit_target(
    name: &str,
    scaler: &Scaler,
    [training, validation, test]: [&[(&Point, bool)]; 3],
    rule: Rule,
    monotone: &[usize],
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
        let model = BinaryModel::fit(family, &x, &train_labels, config.fit, monotone)?;
        let score = |rows: &[[f64; INPUTS]]| -> Vec<f64> { rows.iter().map(|z| model.probability(z)).collect() };
        let valid_scores = score(&valid_rows);
        let by_precision = || threshold_for_precision(&valid_scores, &valid_labels, rule.precision);
        let scored: Vec<PlayerScore> = validation
            .iter()
            .zip(&valid_scores)
            .map(|((p, _), score)| PlayerScore { player: p.player, time: p.time, score: *score })
            .collect();
        let threshold = match rule.players {
            Some((cost, exclusions)) => threshold_for_players(&scored, exclusions, cost, HARM_RECALL_TOLERANCE)
                .map_or_else(by_precision, |c| c.threshold),
            None if rule.per_player => threshold_for_player_precision(&scored, &valid_labels, rule.precision)
                .map_or_else(by_precision, |c| c.threshold),
            None => by_precision(),
        };
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
        precision_target: rule.precision,
        false_alarm_cost: rule.players.map(|(cost, _)| cost),
        metrics: fitted.into_iter().map(|(_, m)| m).collect(),
        groups: Vec::new(),
    })
}

/// Figures per pathway and archetype of `harm` (scaled by `scaler`) on `points` of `set`.
pub fn harm_groups<'a>(
    harm: &TargetModel,
    scaler: &Scaler,
    points: impl Iterator<Item = &'a Point>,
    set: &TrainingSet,
    truth: &Truth,
) -> Vec<GroupFigures> {
    let scored: Vec<Scored> = points
        .map(|p| Scored { player: p.player, time: p.time, score: harm.model.probability(&scaler.transform(&p.inputs)) })
        .collect();
    figures(&scored, harm.threshold, (&set.player_ids, &set.exclusions), truth)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use simulator::Population;

    fn population() -> Population {
        let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap();
        Population::new(150, 21, start)
            .with_mix("regular=3,at_risk=1,churner=1,payment_chasing=1,bonus_hunter=1".parse().unwrap())
    }

    fn training_set() -> TrainingSet {
        let population = population();
        let events: Vec<_> = (0..30).flat_map(|day| population.day(day)).collect();
        TrainingSet::of(&events)
    }

    #[test]
    fn a_version_separates_harm_reads_back_and_is_named_by_its_content() {
        let set = training_set();
        let artifact = train(&set, &TrainConfig::default(), &|_| {}).unwrap();
        let chosen = artifact.harm.metrics.iter().find(|m| m.chosen).unwrap();
        assert!(chosen.test.roc_auc > 0.8, "harm ROC AUC {}", chosen.test.roc_auc);
        assert_eq!(artifact.harm.metrics.len(), Family::ALL.len());
        assert_eq!(artifact.harm.model.family(), chosen.family);
        assert_eq!(artifact.harm.false_alarm_cost, Some(HARM_FALSE_ALARM_COST));
        assert!(artifact.harm.groups.is_empty(), "no truth, no figures per group");
        let json = artifact.to_json().unwrap();
        assert_eq!(ModelArtifact::from_json(&json).unwrap(), artifact);
        assert!(ModelArtifact::from_json(&json.replacen("\"threshold\":", "\"threshold\":1", 1)).is_err());
        assert_eq!(train(&set, &TrainConfig::default(), &|_| {}).unwrap().version, artifact.version);
    }

    #[test]
    fn more_declined_deposits_never_lower_the_harm_risk() {
        let set = training_set();
        let failed = INPUT_NAMES.iter().position(|n| *n == "failed_deposits_24h").unwrap();
        let scaler = Scaler::fit(set.points.iter().map(|p| &p.inputs));
        let x = Array2::from_shape_vec(
            (set.points.len(), INPUTS),
            set.points.iter().flat_map(|p| scaler.transform(&p.inputs)).collect(),
        )
        .unwrap();
        let labels: Vec<bool> = set.points.iter().map(|p| p.harm.unwrap_or(false)).collect();
        // Every family as training fits it for harm, whichever the validation chooses.
        for family in Family::ALL {
            let model = BinaryModel::fit(family, &x, &labels, FitParams::default(), &monotone_inputs()).unwrap();
            for point in set.points.iter().step_by(7) {
                let mut raw = point.inputs;
                let mut last = model.probability(&scaler.transform(&raw));
                for _ in 0..6 {
                    raw[failed] += 1.0;
                    let next = model.probability(&scaler.transform(&raw));
                    assert!(next >= last - 1e-12, "{family:?}: {last} fell to {next} at {} declined", raw[failed]);
                    last = next;
                }
            }
        }
    }

    #[test]
    fn with_the_truth_a_version_keeps_figures_per_pathway_and_archetype() {
        let mut csv = Vec::new();
        population().write_truth(&mut csv).unwrap();
        let truth = Truth::from_csv(std::str::from_utf8(&csv).unwrap()).unwrap();
        let config = TrainConfig { truth: Some(Arc::new(truth)), ..TrainConfig::default() };
        let artifact = train(&training_set(), &config, &|_| {}).unwrap();
        let groups: Vec<&str> = artifact.harm.groups.iter().map(|g| g.group.as_str()).collect();
        for group in ["all_pathways", "all_not_at_risk", "payment_chasing", "bonus_hunter", "regular"] {
            assert!(groups.contains(&group), "{group} missing from {groups:?}");
        }
        let all = artifact.harm.groups.iter().find(|g| g.group == "all_pathways").unwrap();
        assert!(all.at_risk && all.warned_before_exclusion <= all.self_excluded && all.self_excluded <= all.players);
        assert!(artifact.churn.groups.is_empty());
        let json = artifact.to_json().unwrap();
        assert_eq!(ModelArtifact::from_json(&json).unwrap().harm.groups, artifact.harm.groups);
    }

    #[test]
    fn too_little_data_is_a_clear_error() {
        let mut set = training_set();
        set.points.iter_mut().for_each(|p| p.harm = p.harm.map(|_| false));
        let error = train(&set, &TrainConfig::default(), &|_| {}).unwrap_err();
        assert!(matches!(error, MlError::NotEnoughData { target: "harm", .. }), "{error}");
    }
}
