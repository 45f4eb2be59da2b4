//! Decision trees as nudge keeps them: flat node lists fitted by linfa, scored
//! with optional monotone inputs, and bagged into a forest.

use linfa::{Dataset, traits::Fit};
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::FitParams;
use crate::MlError;

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

impl Split {
    pub(super) fn next(&self, value: f64) -> usize {
        if value < self.value { self.left } else { self.right }
    }
}

/// Most monotone inputs a model may have.
pub const MAX_MONOTONE: usize = 4;

/// What the training rows of one tree are: which rows, which inputs.
pub(super) struct Sample<'a> {
    pub(super) rows: Option<&'a [usize]>,
    pub(super) columns: &'a [usize],
}

/// Fits one tree on the `sample` of `x`, `y`; every training point (not only
/// the sample's) then sets the leaves' smoothed shares of positives.
pub(super) fn fit(x: &Array2<f64>, y: &[bool], sample: &Sample, params: &FitParams) -> Result<Vec<Node>, MlError> {
    let picked = match sample.rows {
        Some(rows) => x.select(Axis(0), rows),
        None => x.clone(),
    };
    let records = picked.select(Axis(1), sample.columns);
    let targets: Vec<bool> = match sample.rows {
        Some(rows) => rows.iter().map(|r| y[*r]).collect(),
        None => y.to_vec(),
    };
    let weights: Array1<f32> = targets.iter().map(|l| if *l { params.positive_weight } else { 1.0 }).collect();
    let dataset = Dataset::new(records, Array1::from(targets)).with_weights(weights);
    let tree = DecisionTree::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(params.max_depth))
        .min_weight_leaf(params.min_leaf)
        .fit(&dataset)
        .map_err(|e| MlError::Fit(e.to_string()))?;
    let mut nodes = Vec::new();
    flatten(tree.root_node(), sample.columns, &mut nodes);
    let prior = y.iter().filter(|l| **l).count() as f64 / y.len().max(1) as f64;
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
    Ok(nodes)
}

/// Appends `node` and its subtree in preorder, its inputs renamed by `columns`; answers its index.
fn flatten(node: &TreeNode<f64, bool>, columns: &[usize], nodes: &mut Vec<Node>) -> usize {
    let index = nodes.len();
    nodes.push(Node { probability: 0.0, split: None });
    if let [Some(left), Some(right)] = node.children().as_slice() {
        let (input, value, _) = node.split();
        let left = flatten(left, columns, nodes);
        let right = flatten(right, columns, nodes);
        let input = columns.get(input).copied().unwrap_or(input);
        nodes[index].split = Some(Split { input, value, left, right });
    }
    index
}

/// The tree's score for `z`. With `monotone` inputs, the highest score over
/// every value of those inputs up to `z`'s: so raising a monotone input never
/// lowers the score, whatever the splits learnt.
pub(super) fn probability(nodes: &[Node], z: &[f64], monotone: &[usize]) -> f64 {
    if monotone.is_empty() {
        let mut at = 0;
        while let Some(split) = nodes.get(at).and_then(|n| n.split.as_ref()) {
            at = split.next(z[split.input]);
        }
        return nodes.get(at).map_or(0.0, |n| n.probability);
    }
    let mut bounds = [Bound { low: f64::NEG_INFINITY, high: 0.0, strict: false }; MAX_MONOTONE];
    for (bound, input) in bounds.iter_mut().zip(monotone) {
        bound.high = z.get(*input).copied().unwrap_or(0.0);
    }
    highest(nodes, 0, z, monotone, bounds)
}

/// The values a monotone input may still take: from `low` (included) up to
/// `high` (excluded when `strict`).
#[derive(Debug, Clone, Copy)]
struct Bound {
    low: f64,
    high: f64,
    strict: bool,
}

/// The highest leaf score under `at` reachable within `bounds`.
fn highest(nodes: &[Node], at: usize, z: &[f64], monotone: &[usize], bounds: [Bound; MAX_MONOTONE]) -> f64 {
    let Some(node) = nodes.get(at) else { return 0.0 };
    let Some(split) = &node.split else { return node.probability };
    let Some(m) = monotone.iter().position(|i| *i == split.input) else {
        return highest(nodes, split.next(z[split.input]), z, monotone, bounds);
    };
    let bound = bounds[m];
    let mut best = f64::NEG_INFINITY;
    // Left holds values below the boundary.
    if bound.low < split.value {
        let mut left = bounds;
        if split.value <= bound.high {
            left[m] = Bound { high: split.value, strict: true, ..bound };
        }
        best = best.max(highest(nodes, split.left, z, monotone, left));
    }
    // Right holds values from the boundary up.
    let low = bound.low.max(split.value);
    if low < bound.high || (low == bound.high && !bound.strict) {
        let mut right = bounds;
        right[m] = Bound { low, ..bound };
        best = best.max(highest(nodes, split.right, z, monotone, right));
    }
    if best.is_finite() { best } else { node.probability }
}

/// The change of probability at each split on `z`'s path, added to the input split on (Saabas).
pub(super) fn contributions(nodes: &[Node], z: &[f64], out: &mut [f64], scale: f64) {
    let mut at = 0;
    while let Some(split) = nodes.get(at).and_then(|n| n.split.as_ref()) {
        let next = split.next(z[split.input]);
        if let (Some(to), Some(from), Some(slot)) = (nodes.get(next), nodes.get(at), out.get_mut(split.input)) {
            *slot += scale * (to.probability - from.probability);
        }
        at = next;
    }
}

/// Whether every link and input of the tree stays inside it and `inputs`.
pub(super) fn fits(nodes: &[Node], inputs: usize) -> bool {
    !nodes.is_empty()
        && nodes
            .iter()
            .filter_map(|n| n.split.as_ref())
            .all(|s| s.input < inputs && s.left < nodes.len() && s.right < nodes.len())
}

/// A small deterministic generator (SplitMix64) for the forest's samples.
pub(super) struct Mix(u64);

impl Mix {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `k` distinct indices of `0..n`, in increasing order (partial Fisher-Yates).
    pub(super) fn choose(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + (self.next() % (n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all.sort_unstable();
        all
    }
}

/// Fits `params.trees` trees, each on its own share of the rows and of the
/// inputs, on as many threads as the machine has (the result does not depend on them).
pub(super) fn fit_forest(x: &Array2<f64>, y: &[bool], params: &FitParams) -> Result<Vec<Vec<Node>>, MlError> {
    let (n, inputs) = x.dim();
    let rows_each = ((n as f64 * params.row_share) as usize).max(1);
    let columns_each = ((inputs as f64 * params.input_share).ceil() as usize).clamp(1, inputs);
    let samples: Vec<(Vec<usize>, Vec<usize>)> = (0..params.trees)
        .map(|t| {
            let mut mix = Mix::new(0x6E75_6467_6500_0000 ^ t as u64);
            (mix.choose(n, rows_each), mix.choose(inputs, columns_each))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(params.trees.max(1));
    let mut trees: Vec<Option<Result<Vec<Node>, MlError>>> = (0..params.trees).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunks = trees.chunks_mut(params.trees.div_ceil(threads).max(1));
        for (c, chunk) in chunks.enumerate() {
            let samples = &samples;
            let first = c * params.trees.div_ceil(threads).max(1);
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let (rows, columns) = &samples[first + i];
                    *slot = Some(fit(x, y, &Sample { rows: Some(rows), columns }, params));
                }
            });
        }
    });
    trees.into_iter().map(|t| t.unwrap_or_else(|| Err(MlError::Fit("a tree was not fitted".into())))).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A stump on input 0 whose left side scores higher: not monotone as learnt.
    fn falling() -> Vec<Node> {
        vec![
            Node { probability: 0.5, split: Some(Split { input: 0, value: 1.0, left: 1, right: 2 }) },
            Node { probability: 0.9, split: Some(Split { input: 1, value: 0.0, left: 3, right: 4 }) },
            Node { probability: 0.2, split: Some(Split { input: 0, value: 3.0, left: 5, right: 6 }) },
            Node { probability: 0.1, split: None },
            Node { probability: 0.95, split: None },
            Node { probability: 0.3, split: None },
            Node { probability: 0.6, split: None },
        ]
    }

    #[test]
    fn a_monotone_input_takes_the_best_score_of_lower_values() {
        let nodes = falling();
        // Unconstrained, the score falls from 0.95 to 0.3 as input 0 passes 1.
        assert_eq!(probability(&nodes, &[0.0, 1.0], &[]), 0.95);
        assert_eq!(probability(&nodes, &[2.0, 1.0], &[]), 0.3);
        // Monotone in input 0: 0.95 stays reachable from below.
        assert_eq!(probability(&nodes, &[0.0, 1.0], &[0]), 0.95);
        assert_eq!(probability(&nodes, &[2.0, 1.0], &[0]), 0.95);
        assert_eq!(probability(&nodes, &[2.0, -1.0], &[0]), 0.3);
        assert_eq!(probability(&nodes, &[5.0, -1.0], &[0]), 0.6);
        // At the lowest values nothing below is reachable but the path itself.
        assert_eq!(probability(&nodes, &[-3.0, -1.0], &[0]), 0.1);
    }

    proptest! {
        #[test]
        fn raising_a_monotone_input_never_lowers_the_score(
            a in -5.0f64..5.0, b in -5.0f64..5.0, other in -2.0f64..2.0,
        ) {
            let nodes = falling();
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(probability(&nodes, &[low, other], &[0]) <= probability(&nodes, &[high, other], &[0]));
        }
    }

    #[test]
    fn choose_picks_distinct_sorted_indices_the_same_way_each_time() {
        let picked = Mix::new(7).choose(100, 30);
        assert_eq!(picked.len(), 30);
        assert!(picked.windows(2).all(|w| w[0] < w[1]) && picked.iter().all(|i| *i < 100));
        assert_eq!(Mix::new(7).choose(100, 30), picked);
        assert_eq!(Mix::new(7).choose(3, 10), vec![0, 1, 2]);
    }
}
