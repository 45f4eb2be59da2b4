//! One binary model (harm or churn) as nudge scores it: a logistic regression or
//! a decision tree fitted with linfa, kept as plain parameters so that scoring is
//! a few dozen multiplications and the artifact is readable JSON.

use linfa::{Dataset, traits::Fit};
use linfa_logistic::LogisticRegression;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::{MlError, inputs::INPUTS};

/// The model families nudge fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Logistic regression on the standardised inputs.
    Logistic,
    /// A decision tree; a leaf's score is its share of positives in training.
    Tree,
}

impl Family {
    /// Every family, in the order they are fitted.
    pub const ALL: [Self; 2] = [Self::Logistic, Self::Tree];

    /// The family's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::Tree => "tree",
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
    },
}

/// A tree node: its training share of positives, and its split unless a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Smoothed share of positives among the training points that reached it.
    pub probability: f64,
    /// Where points go next; none for a leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// A test on one input: below `value` goes `left`, else `right`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The input tested.
    pub input: usize,
    /// The boundary.
    pub value: f64,
    /// Index of the node for inputs below the boundary.
    pub left: usize,
    /// Index of the node for the others.
    pub right: usize,
}

/// Hyperparameters of the fits.
#[derive(Debug, Clone, Copy)]
pub struct FitParams {
    /// L2 penalty of the logistic regression.
    pub alpha: f64,
    /// Deepest tree level.
    pub max_depth: usize,
    /// Fewest training points in a tree leaf.
    pub min_leaf: f32,
}

impl Default for FitParams {
    fn default() -> Self {
        Self { alpha: 1.0, max_depth: 8, min_leaf: 50.0 }
    }
}

impl BinaryModel {
    /// Fits `family` on standardised inputs `x` (one row per point) and labels `y`.
    pub fn fit(family: Family, x: &Array2<f64>, y: &[bool], params: FitParams) -> Result<Self, MlError> {
        if !y.iter().any(|l| *l) || y.iter().all(|l| *l) {
            return Err(MlError::OneClass);
        }
        let dataset = Dataset::new(x.clone(), Array1::from(y.to_vec()));
        match family {
            Family::Logistic => {
                let fitted = LogisticRegression::default()
                    .alpha(params.alpha)
                    .max_iterations(100)
                    .fit(&dataset)
                    .map_err(|e| MlError::Fit(e.to_string()))?;
                // linfa scores the first label it saw as positive: turn it round when that was `false`.
                let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
                Ok(Self::Logistic {
                    intercept: sign * fitted.intercept(),
                    weights: fitted.params().iter().map(|w| sign * w).collect(),
                })
            }
            Family::Tree => {
                let tree = DecisionTree::params()
                    .split_quality(SplitQuality::Gini)
                    .max_depth(Some(params.max_depth))
                    .min_weight_leaf(params.min_leaf)
                    .fit(&dataset)
                    .map_err(|e| MlError::Fit(e.to_string()))?;
                let mut nodes = Vec::new();
                flatten(tree.root_node(), &mut nodes);
                let prior = y.iter().filter(|l| **l).count() as f64 / y.len() as f64;
                let mut counts = vec![(0.0, 0.0); nodes.len()];
                for (row, label) in x.rows().into_iter().zip(y) {
                    let mut at = 0;
                    loop {
                        counts[at].0 += 1.0;
                        counts[at].1 += f64::from(u8::from(*label));
                        match &nodes[at].split {
                            Some(split) => at = split.next(row[split.input]),
                            None => break,
                        }
                    }
                }
                // An m-estimate: small nodes lean towards the base rate.
                for (node, (n, positives)) in nodes.iter_mut().zip(counts) {
                    node.probability = (positives + 10.0 * prior) / (n + 10.0);
                }
                Ok(Self::Tree { nodes })
            }
        }
    }

    /// The family of this model.
    pub fn family(&self) -> Family {
        match self {
            Self::Logistic { .. } => Family::Logistic,
            Self::Tree { .. } => Family::Tree,
        }
    }

    /// P(positive) for standardised inputs `z`.
    pub fn probability(&self, z: &[f64]) -> f64 {
        match self {
            Self::Logistic { intercept, weights } => {
                let logit = intercept + weights.iter().zip(z).map(|(w, z)| w * z).sum::<f64>();
                1.0 / (1.0 + (-logit).exp())
            }
            Self::Tree { nodes } => {
                let mut at = 0;
                while let Some(split) = nodes.get(at).and_then(|n| n.split.as_ref()) {
                    at = split.next(z[split.input]);
                }
                nodes.get(at).map_or(0.0, |n| n.probability)
            }
        }
    }

    /// How much each input moved the score: weight × input for the logistic
    /// regression (on the logit), and for a tree the change of probability at
    /// each split on the path (Saabas).
    pub fn contributions(&self, z: &[f64]) -> [f64; INPUTS] {
        let mut out = [0.0; INPUTS];
        match self {
            Self::Logistic { weights, .. } => {
                for ((out, w), z) in out.iter_mut().zip(weights).zip(z) {
                    *out = w * z;
                }
            }
            Self::Tree { nodes } => {
                let mut at = 0;
                while let Some(split) = nodes.get(at).and_then(|n| n.split.as_ref()) {
                    let next = split.next(z[split.input]);
                    if let (Some(to), Some(from), Some(slot)) =
                        (nodes.get(next), nodes.get(at), out.get_mut(split.input))
                    {
                        *slot += to.probability - from.probability;
                    }
                    at = next;
                }
            }
        }
        out
    }

    /// Checks the model reads `inputs` inputs and its tree links stay inside it.
    pub fn check(&self, inputs: usize) -> Result<(), MlError> {
        let fine = match self {
            Self::Logistic { weights, .. } => weights.len() == inputs,
            Self::Tree { nodes } => {
                !nodes.is_empty()
                    && nodes
                        .iter()
                        .filter_map(|n| n.split.as_ref())
                        .all(|s| s.input < inputs && s.left < nodes.len() && s.right < nodes.len())
            }
        };
        if fine {
            Ok(())
        } else {
            Err(MlError::Artifact(format!("a {} model does not fit {inputs} inputs", self.family().as_str())))
        }
    }
}

impl Split {
    fn next(&self, value: f64) -> usize {
        if value < self.value { self.left } else { self.right }
    }
}

/// Appends `node` and its subtree in preorder; answers its index.
fn flatten(node: &TreeNode<f64, bool>, nodes: &mut Vec<Node>) -> usize {
    let index = nodes.len();
    nodes.push(Node { probability: 0.0, split: None });
    if let [Some(left), Some(right)] = node.children().as_slice() {
        let (input, value, _) = node.split();
        let left = flatten(left, nodes);
        let right = flatten(right, nodes);
        nodes[index].split = Some(Split { input, value, left, right });
    }
    index
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

    #[test]
    fn both_families_score_positives_higher_whichever_label_comes_first() {
        let (x, y) = data();
        for family in Family::ALL {
            let model = BinaryModel::fit(family, &x, &y, FitParams { alpha: 0.01, ..FitParams::default() }).unwrap();
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
            let reversed =
                BinaryModel::fit(family, &xr, &yr, FitParams { alpha: 0.01, ..FitParams::default() }).unwrap();
            assert!(reversed.probability(&z(3.0)) > 0.8, "{family:?} reversed");
        }
        assert!(matches!(
            BinaryModel::fit(Family::Tree, &x, &[false; 400], FitParams::default()),
            Err(MlError::OneClass)
        ));
    }
}
