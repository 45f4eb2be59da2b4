//! Scoring a player's features with a model version: the risks the policy
//! weighs, the features behind them, and a game to suggest.

use domain::{Assessment, Features, Reason};

use crate::{
    artifact::ModelArtifact,
    inputs::{INPUT_NAMES, INPUTS, inputs},
};

/// Features behind a recommendation.
const REASONS: usize = 3;

/// A model version ready to score.
#[derive(Debug, Clone)]
pub struct Scorer {
    artifact: ModelArtifact,
}

/// One player's scores, with what is needed to explain them.
#[derive(Debug, Clone)]
pub struct Scoring {
    raw: [f64; INPUTS],
    z: [f64; INPUTS],
    /// The risks and their thresholds.
    pub assessment: Assessment,
}

/// Which model's view to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The harm model.
    Harm,
    /// The churn model.
    Churn,
}

impl Scorer {
    /// A scorer for `artifact` (read with [`ModelArtifact::from_json`], so checked).
    pub fn new(artifact: ModelArtifact) -> Self {
        Self { artifact }
    }

    /// The model version.
    pub fn version(&self) -> &str {
        &self.artifact.version
    }

    /// The artifact.
    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }

    /// Scores one player's features.
    pub fn score(&self, features: &Features) -> Scoring {
        let raw = inputs(features);
        let z = self.artifact.scaler.transform(&raw);
        let (harm, churn) = (&self.artifact.harm, &self.artifact.churn);
        Scoring {
            raw,
            z,
            assessment: Assessment {
                harm: harm.model.probability(&z),
                churn: churn.model.probability(&z),
                harm_threshold: harm.threshold,
                churn_threshold: churn.threshold,
            },
        }
    }

    /// The three features that pushed `target`'s score up the most.
    pub fn reasons(&self, scoring: &Scoring, target: Target) -> Vec<Reason> {
        let model = match target {
            Target::Harm => &self.artifact.harm.model,
            Target::Churn => &self.artifact.churn.model,
        };
        let contributions = model.contributions(&scoring.z);
        let mut order: Vec<usize> = (0..INPUTS).collect();
        order.sort_by(|a, b| contributions[*b].total_cmp(&contributions[*a]).then(a.cmp(b)));
        order
            .into_iter()
            .take(REASONS)
            .map(|i| Reason {
                feature: INPUT_NAMES[i].to_owned(),
                value: scoring.raw[i],
                contribution: contributions[i],
            })
            .collect()
    }

    /// The most played game of the player's favourite category that they have
    /// not launched, if any.
    pub fn game_for(&self, features: &Features, launched: impl Fn(&str) -> bool) -> Option<&str> {
        let category = features.favourite_category.as_deref()?;
        self.artifact.games.get(category)?.iter().map(String::as_str).find(|game| !launched(game))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::{
        BinaryModel, Scaler, TargetModel, TrainingSummary,
        inputs::{INPUT_NAMES, compress},
    };

    fn index(name: &str) -> usize {
        INPUT_NAMES.iter().position(|n| *n == name).unwrap()
    }

    fn target(weights: &[(&str, f64)], threshold: f64) -> TargetModel {
        let mut w = vec![0.0; INPUTS];
        for (name, weight) in weights {
            w[index(name)] = *weight;
        }
        TargetModel {
            model: BinaryModel::Logistic { intercept: -1.0, weights: w },
            threshold,
            precision_target: 0.5,
            false_alarm_cost: None,
            metrics: vec![],
            groups: vec![],
        }
    }

    fn scorer() -> Scorer {
        Scorer::new(ModelArtifact {
            format: crate::FORMAT,
            version: "test".into(),
            feature_names: INPUT_NAMES.iter().map(|n| (*n).to_owned()).collect(),
            scaler: Scaler { mean: vec![0.0; INPUTS], std: vec![1.0; INPUTS] },
            harm: target(&[("loss_streak", 1.0), ("failed_deposits_24h", 0.5), ("night_bet_share_7d", 2.0)], 0.6),
            churn: target(&[("days_between_sessions", 1.0)], 0.7),
            games: BTreeMap::from([("slots".to_owned(), vec!["slots-1".to_owned(), "slots-2".to_owned()])]),
            training: TrainingSummary {
                first_position: 1,
                last_position: 1,
                events: 1,
                players: 1,
                points: 1,
                splits: BTreeMap::new(),
            },
        })
    }

    #[test]
    fn scores_follow_the_model_and_reasons_rank_contributions() {
        let features =
            Features { loss_streak: 6, failed_deposits_24h: 2, night_bet_share_7d: 0.5, ..Features::default() };
        let scorer = scorer();
        let scoring = scorer.score(&features);
        let logit = -1.0 + compress(6.0) + 0.5 * compress(2.0) + 2.0 * compress(0.5);
        assert!((scoring.assessment.harm - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-12);
        assert_eq!((scoring.assessment.harm_threshold, scoring.assessment.churn_threshold), (0.6, 0.7));
        let reasons = scorer.reasons(&scoring, Target::Harm);
        let names: Vec<&str> = reasons.iter().map(|r| r.feature.as_str()).collect();
        assert_eq!(names, ["loss_streak", "night_bet_share_7d", "failed_deposits_24h"]);
        assert_eq!(reasons[0].value, 6.0);
        assert!((reasons[0].contribution - compress(6.0)).abs() < 1e-12);
    }

    #[test]
    fn the_game_is_the_most_played_one_not_yet_launched() {
        let scorer = scorer();
        let features = Features { favourite_category: Some("slots".into()), ..Features::default() };
        let mut launched = BTreeSet::new();
        assert_eq!(scorer.game_for(&features, |g| launched.contains(g)), Some("slots-1"));
        launched.insert("slots-1".to_owned());
        assert_eq!(scorer.game_for(&features, |g| launched.contains(g)), Some("slots-2"));
        launched.insert("slots-2".to_owned());
        assert_eq!(scorer.game_for(&features, |g| launched.contains(g)), None);
        assert_eq!(scorer.game_for(&Features::default(), |_| false), None);
    }
}
