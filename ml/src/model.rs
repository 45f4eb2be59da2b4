//! One binary model (harm or churn) as nudge scores it: a logistic regression, a
//! decision tree fitted with linfa or a forest of them, kept as plain parameters
//! so that scoring is a few hundred operations and the artifact is readable JSON.

mod tree;

use linfa::{Dataset, traits::Fit};
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

pub use tree::{Node, Split};

use crate::{MlError, inputs::INPUTS};

/// The model families nudge fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Logistic regression on the standardised inputs.
    Logistic,
    /// A decision tree; a leaf's score is its share of positives in training.
    Tree,
    /// A random forest: trees on samples of the rows and the inputs, averaged.
    Forest,
}

impl Family {
    /// Every family, in the order they are fitted.
    pub const ALL: [Self; 3] = [Self::Logistic, Self::Tree, Self::Forest];

    /// The family's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::Tree => "tree",
            Self::Forest => "forest",
        }
    }
}

/// A fitted binary model over standardised inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum BinaryModel {
    /// P(positive) = σ(intercept + Σ weightᵢ·zᵢ).
    Logistic {
        /// The bias.
        intercept: f64,
        /// One weight per input.
        weights: Vec<f64>,
    },
    /// Nodes in preorder, the root first.
    Tree {
        /// The nodes.
        nodes: Vec<Node>,
        /// Inputs the score never falls with (see [`BinaryModel::probability`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        monotone: Vec<usize>,
    },
    /// Trees, each as a `tree`'s nodes; the score is their mean.
    Forest {
        /// The trees.
        trees: Vec<Vec<Node>>,
        /// Inputs the score never falls with.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        monotone: Vec<usize>,
    },
}

/// Hyperparameters of the fits.
#[derive(Debug, Clone, Copy)]
pub struct FitParams {
    /// L2 penalty of the logistic regression.
    pub alpha: f64,
    /// Deepest tree level.
    pub max_depth: usize,
    /// Least training weight in a tree leaf.
    pub min_leaf: f32,
    /// Weight of a positive point in a tree's splits (a negative weighs 1).
    /// linfa prunes every subtree whose leaves predict the same class, and a
    /// leaf holding equal weights of both predicts either, at random: a weight
    /// a hair over 1 (the default) makes such ties all but impossible, so the
    /// same data give the same trees.
    pub positive_weight: f32,
    /// Trees in a forest.
    pub trees: usize,
    /// Share of the training rows each forest tree is fitted on (drawn without replacement).
    pub row_share: f64,
    /// Share of the inputs each forest tree may split on.
    pub input_share: f64,
}

impl Default for FitParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_depth: 8,
            min_leaf: 50.0,
            positive_weight: 1.000_17,
            trees: 24,
            row_share: 0.3,
            input_share: 0.5,
        }
    }
}

impl BinaryModel {
    /// Fits `family` on standardised inputs `x` (one row per point) and labels
    /// `y`, its score never falling as a `monotone` input rises.
    pub fn fit(
        family: Family,
        x: &Array2<f64>,
        y: &[bool],
        params: FitParams,
        monotone: &[usize],
    ) -> Result<Self, MlError> {
        if !y.iter().any(|l| *l) || y.iter().all(|l| *l) {
            return Err(MlError::OneClass);
        }
        if monotone.len() > tree::MAX_MONOTONE || monotone.iter().any(|i| *i >= x.ncols()) {
            return Err(MlError::Fit(format!("at most {} monotone inputs, each an input", tree::MAX_MONOTONE)));
        }
        let monotone = monotone.to_vec();
        match family {
            Family::Logistic => {
                let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
                let fitted = LogisticRegression::default()
                    .alpha(params.alpha)
                    .max_iterations(100)
                    .fit(&dataset)
                    .map_err(|e| MlError::Fit(e.to_string()))?;
                // linfa scores the first label it saw as positive: turn it round when that was `false`.
                let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
                let mut weights: Vec<f64> = fitted.params().iter().map(|w| sign * w).collect();
                // A monotone input may raise the score or leave it.
                for i in &monotone {
                    weights[*i] = weights[*i].max(0.0);
                }
                Ok(Self::Logistic { intercept: sign * fitted.intercept(), weights })
            }
            Family::Tree => {
                let columns: Vec<usize> = (0..x.ncols()).collect();
                let nodes = tree::fit(x, y, &tree::Sample { rows: None, columns: &columns }, &params)?;
                Ok(Self::Tree { nodes, monotone })
            }
            Family::Forest => Ok(Self::Forest { trees: tree::fit_forest(x, y, &params)?, monotone }),
        }
    }

    /// The family of this model.
    pub fn family(&self) -> Family {
        match self {
            Self::Logistic { .. } => Family::Logistic,
            Self::Tree { .. } => Family::Tree,
            Self::Forest { .. } => Family::Forest,
        }
    }

    /// P(positive) for standardised inputs `z`. A tree scores the highest leaf
    /// it reaches with its monotone inputs at `z`'s values or lower, so raising
    /// one never lowers the score; a forest averages its trees.
    pub fn probability(&self, z: &[f64]) -> f64 {
        match self {
            Self::Logistic { intercept, weights } => {
                let logit = intercept + weights.iter().zip(z).map(|(w, z)| w * z).sum::<f64>();
                1.0 / (1.0 + (-logit).exp())
            }
            Self::Tree { nodes, monotone } => tree::probability(nodes, z, monotone),
            Self::Forest { trees, monotone } => {
                trees.iter().map(|nodes| tree::probability(nodes, z, monotone)).sum::<f64>() / trees.len().max(1) as f64
            }
        }
    }

    /// How much each input moved the score: weight × input for the logistic
    /// regression (on the logit), and for a tree the change of probability at
    /// each split on the path (Saabas), averaged over a forest's trees.
    pub fn contributions(&self, z: &[f64]) -> [f64; INPUTS] {
        let mut out = [0.0; INPUTS];
        match self {
            Self::Logistic { weights, .. } => {
                for ((out, w), z) in out.iter_mut().zip(weights).zip(z) {
                    *out = w * z;
                }
            }
            Self::Tree { nodes, .. } => tree::contributions(nodes, z, &mut out, 1.0),
            Self::Forest { trees, .. } => {
                let scale = 1.0 / trees.len().max(1) as f64;
                for nodes in trees {
                    tree::contributions(nodes, z, &mut out, scale);
                }
            }
        }
        out
    }

    /// Checks the model reads `inputs` inputs and its tree links stay inside it.
    pub fn check(&self, inputs: usize) -> Result<(), MlError> {
        let monotone_fits = |m: &[usize]| m.len() <= tree::MAX_MONOTONE && m.iter().all(|i| *i < inputs);
        let fine = match self {
            Self::Logistic { weights, .. } => weights.len() == inputs,
            Self::Tree { nodes, monotone } => tree::fits(nodes, inputs) && monotone_fits(monotone),
            Self::Forest { trees, monotone } => {
                !trees.is_empty() && trees.iter().all(|t| tree::fits(t, inputs)) && monotone_fits(monotone)
            }
        };
        if fine {
            Ok(())
        } else {
            Err(MlError::Artifact(format!("a {} model does not fit {inputs} inputs", self.family().as_str())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points whose label is `x₀ > 0`, with a second, useless input.
    fn data() -> (Array2<f64>, Vec<bool>) {
        let xs: Vec<f64> = (0..400).map(|i| f64::from(i - 200) / 50.0).collect();
        let rows: Vec<f64> = xs.iter().enumerate().flat_map(|(i, x)| [*x, (i % 7) as f64]).collect();
        let mut padded = Vec::new();
        for row in rows.chunks(2) {
            padded.extend_from_slice(row);
            padded.extend(std::iter::repeat_n(0.0, INPUTS - 2));
        }
        (Array2::from_shape_vec((400, INPUTS), padded).unwrap(), xs.iter().map(|x| *x > 0.0).collect())
    }

    fn z(x: f64) -> [f64; INPUTS] {
        let mut z = [0.0; INPUTS];
        z[0] = x;
        z
    }

    fn params() -> FitParams {
        FitParams { alpha: 0.01, min_leaf: 10.0, input_share: 1.0, row_share: 0.5, ..FitParams::default() }
    }

    #[test]
    fn every_family_scores_positives_higher_whichever_label_comes_first() {
        let (x, y) = data();
        for family in Family::ALL {
            let model = BinaryModel::fit(family, &x, &y, params(), &[]).unwrap();
            assert_eq!(model.family(), family);
            assert!(model.probability(&z(3.0)) > 0.8, "{family:?}");
            assert!(model.probability(&z(-3.0)) < 0.2, "{family:?}");
            let contributions = model.contributions(&z(3.0));
            assert!(contributions[0] > 0.0 && contributions[0] > contributions[1].abs(), "{family:?}");
            model.check(INPUTS).unwrap();
            // Reversed order of first labels: the first point is now positive.
            let (mut xr, mut yr) = (x.clone(), y.clone());
            xr.invert_axis(ndarray::Axis(0));
            yr.reverse();
            let reversed = BinaryModel::fit(family, &xr, &yr, params(), &[]).unwrap();
            assert!(reversed.probability(&z(3.0)) > 0.8, "{family:?} reversed");
        }
        assert!(matches!(
            BinaryModel::fit(Family::Tree, &x, &[false; 400], FitParams::default(), &[]),
            Err(MlError::OneClass)
        ));
    }

    #[test]
    fn a_monotone_input_never_lowers_the_score_though_the_labels_fall() {
        // Positive in a middle band of x₀ only: unconstrained models learn a score that falls after it.
        let (x, _) = data();
        let y: Vec<bool> = x.column(0).iter().map(|v| (-1.0..1.0).contains(v)).collect();
        for family in Family::ALL {
            let free = BinaryModel::fit(family, &x, &y, params(), &[]).unwrap();
            let model = BinaryModel::fit(family, &x, &y, params(), &[0]).unwrap();
            model.check(INPUTS).unwrap();
            let grid: Vec<f64> = (-40..=40).map(|i| f64::from(i) / 10.0).collect();
            for pair in grid.windows(2) {
                let (low, high) = (model.probability(&z(pair[0])), model.probability(&z(pair[1])));
                assert!(low <= high + 1e-12, "{family:?}: {low} at {} over {high} at {}", pair[0], pair[1]);
            }
            if family != Family::Logistic {
                assert!(free.probability(&z(0.0)) > free.probability(&z(3.0)), "{family:?} learnt no fall");
                assert!(model.probability(&z(3.0)) >= free.probability(&z(0.0)) - 1e-12, "{family:?}");
            }
        }
        let json = serde_json::to_string(&BinaryModel::fit(Family::Forest, &x, &y, params(), &[0]).unwrap()).unwrap();
        let back: BinaryModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.probability(&z(3.0)), back.probability(&z(0.0)));
        assert!(BinaryModel::fit(Family::Tree, &x, &y, params(), &[INPUTS]).is_err());
    }
}
