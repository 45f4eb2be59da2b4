//! How well a score separates positives from negatives: ROC AUC, PR AUC
//! (average precision), precision and recall at a threshold, calibration.

use serde::{Deserialize, Serialize};

use crate::curves::{CurvePoint, curve};

/// A model's quality on a set of points it was not fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Points evaluated.
    pub points: usize,
    /// Of which positive.
    pub positives: usize,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Area under the precision-recall curve (average precision).
    pub pr_auc: f64,
    /// The decision threshold: a score at or over it is positive.
    pub threshold: f64,
    /// Share of points at or over the threshold that are positive.
    pub precision: f64,
    /// Share of positives at or over the threshold.
    pub recall: f64,
    /// Mean squared difference between score and outcome.
    pub brier: f64,
    /// Mean score against observed rate, by tenths of the score range.
    pub calibration: Vec<CalibrationBin>,
    /// ROC and precision-recall points down the scores (absent from versions trained before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
}

/// Points whose score fell in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lowest score of the bin.
    pub from: f64,
    /// Highest score of the bin (excluded, but for the last).
    pub to: f64,
    /// Points in the bin.
    pub points: usize,
    /// Their mean score.
    pub predicted: f64,
    /// Their share of positives.
    pub observed: f64,
}

impl Evaluation {
    /// Evaluates `scores` against `labels` at `threshold`.
    pub fn of(scores: &[f64], labels: &[bool], threshold: f64) -> Self {
        let (precision, recall) = precision_recall(scores, labels, threshold);
        let brier = scores.iter().zip(labels).map(|(s, l)| (s - f64::from(u8::from(*l))).powi(2)).sum::<f64>()
            / scores.len().max(1) as f64;
        Self {
            points: scores.len(),
            positives: labels.iter().filter(|l| **l).count(),
            roc_auc: roc_auc(scores, labels),
            pr_auc: pr_auc(scores, labels),
            threshold,
            precision,
            recall,
            brier,
            calibration: calibration(scores, labels, 10),
            curve: curve(scores, labels),
        }
    }
}

/// Indices of `scores`, highest score first.
fn by_score(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    order
}

/// The probability that a random positive scores above a random negative (ties count half).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let order = by_score(scores);
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    // Walk groups of equal scores from the top, counting negatives ranked below each positive.
    let (mut area, mut negatives_above, mut i) = (0.0, 0.0, 0);
    while i < order.len() {
        let mut j = i;
        let (mut pos, mut neg) = (0.0, 0.0);
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                pos += 1.0
            } else {
                neg += 1.0
            }
            j += 1;
        }
        area += pos * (negatives - negatives_above - neg) + pos * neg / 2.0;
        negatives_above += neg;
        i = j;
    }
    area / (positives * negatives)
}

/// Average precision: the mean, over positives, of the precision at their score.
pub fn pr_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let order = by_score(scores);
    let positives = labels.iter().filter(|l| **l).count();
    if positives == 0 {
        return 0.0;
    }
    let (mut sum, mut true_positives, mut i) = (0.0, 0usize, 0);
    while i < order.len() {
        let mut j = i;
        let mut found = 0;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            found += usize::from(labels[order[j]]);
            j += 1;
        }
        true_positives += found;
        sum += found as f64 * true_positives as f64 / j as f64;
        i = j;
    }
    sum / positives as f64
}

/// Precision and recall of calling every score at or over `threshold` positive.
pub fn precision_recall(scores: &[f64], labels: &[bool], threshold: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut positives) = (0usize, 0usize, 0usize);
    for (score, label) in scores.iter().zip(labels) {
        positives += usize::from(*label);
        if *score >= threshold {
            if *label { tp += 1 } else { fp += 1 }
        }
    }
    let precision = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
    let recall = if positives == 0 { 0.0 } else { tp as f64 / positives as f64 };
    (precision, recall)
}

/// The lowest threshold whose precision is at least `target` (the most recall
/// at that precision); when no threshold reaches it, the most precise one.
pub fn threshold_for_precision(scores: &[f64], labels: &[bool], target: f64) -> f64 {
    let order = by_score(scores);
    let (mut tp, mut seen, mut i) = (0usize, 0usize, 0);
    let mut chosen: Option<f64> = None;
    let mut best = (f64::MIN, 1.0);
    while i < order.len() {
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            tp += usize::from(labels[order[i]]);
            seen += 1;
            i += 1;
        }
        let precision = tp as f64 / seen as f64;
        if tp > 0 && precision >= target {
            chosen = Some(score);
        }
        if tp > 0 && precision > best.0 {
            best = (precision, score);
        }
    }
    chosen.unwrap_or(best.1)
}

/// Mean score and observed rate in `bins` equal slices of `[0, 1]`.
pub fn calibration(scores: &[f64], labels: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0usize, 0.0, 0usize); bins];
    for (score, label) in scores.iter().zip(labels) {
        let bin = ((score * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += 1;
        sums[bin].1 += score;
        sums[bin].2 += usize::from(*label);
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(bin, (n, sum, positives))| CalibrationBin {
            from: bin as f64 / bins as f64,
            to: (bin + 1) as f64 / bins as f64,
            points: n,
            predicted: sum / n as f64,
            observed: positives as f64 / n as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn hand_worked_scores() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let labels = [true, false, true, false, false, false];
        // Of the 2 × 4 positive-negative pairs, 0.9 wins all 4 and 0.7 wins 3.
        assert_eq!(roc_auc(&scores, &labels), 7.0 / 8.0);
        // Precision at each positive: 1/1 and 2/3.
        assert!((pr_auc(&scores, &labels) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(precision_recall(&scores, &labels, 0.7), (2.0 / 3.0, 1.0));
        assert_eq!(threshold_for_precision(&scores, &labels, 0.6), 0.7);
        assert_eq!(threshold_for_precision(&scores, &labels, 0.9), 0.9);
        let bins = calibration(&scores, &labels, 2);
        assert_eq!((bins.len(), bins[1].points, bins[1].observed), (2, 5, 0.4));
    }

    #[test]
    fn ties_count_half() {
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), 0.5);
        assert_eq!(roc_auc(&[0.5, 0.5, 0.1], &[true, false, false]), 0.75);
    }

    proptest! {
        #[test]
        fn roc_auc_matches_counting_pairs(points in prop::collection::vec((0u8..5, any::<bool>()), 1..60)) {
            let scores: Vec<f64> = points.iter().map(|p| f64::from(p.0) / 4.0).collect();
            let labels: Vec<bool> = points.iter().map(|p| p.1).collect();
            let (mut wins, mut pairs) = (0.0, 0.0);
            let positives = scores.iter().zip(&labels).filter(|(_, l)| **l);
            for (a, _) in positives {
                for (b, _) in scores.iter().zip(&labels).filter(|(_, l)| !**l) {
                    pairs += 1.0;
                    wins += if a > b { 1.0 } else if a == b { 0.5 } else { 0.0 };
                }
            }
            let expected = if pairs == 0.0 { 0.5 } else { wins / pairs };
            prop_assert!((roc_auc(&scores, &labels) - expected).abs() < 1e-9);
        }
    }
}
