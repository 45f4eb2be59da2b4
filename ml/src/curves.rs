//! The ROC and precision-recall curves of a test split, as a few dozen points
//! at thresholds down the scores: what the console draws.

use serde::{Deserialize, Serialize};

/// The most points a curve keeps.
pub const CURVE_POINTS: usize = 41;

/// The test points' outcome if every score at or over `threshold` were called positive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The threshold.
    pub threshold: f64,
    /// Share of negatives at or over it (ROC's x).
    pub false_positive_rate: f64,
    /// Share of positives at or over it: recall (ROC's y, PR's x).
    pub true_positive_rate: f64,
    /// Share of the points at or over it that are positive (PR's y).
    pub precision: f64,
}

/// The curve at every distinct score, highest first, thinned to at most
/// [`CURVE_POINTS`] (the first and last kept); empty without both classes.
pub fn curve(scores: &[f64], labels: &[bool]) -> Vec<CurvePoint> {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let (mut tp, mut fp, mut i) = (0usize, 0usize, 0);
    let mut all = Vec::new();
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if labels[order[i]] {
                tp += 1
            } else {
                fp += 1
            }
            i += 1;
        }
        all.push(CurvePoint {
            threshold,
            false_positive_rate: fp as f64 / negatives as f64,
            true_positive_rate: tp as f64 / positives as f64,
            precision: tp as f64 / (tp + fp) as f64,
        });
    }
    thin(all)
}

/// At most [`CURVE_POINTS`], evenly spaced, the first and last among them.
fn thin(points: Vec<CurvePoint>) -> Vec<CurvePoint> {
    if points.len() <= CURVE_POINTS {
        return points;
    }
    let last = points.len() - 1;
    let keep: Vec<usize> = (0..CURVE_POINTS).map(|k| k * last / (CURVE_POINTS - 1)).collect();
    points.into_iter().enumerate().filter(|(i, _)| keep.binary_search(i).is_ok()).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_curve() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.6, 0.4];
        let labels = [true, false, true, false, false, false];
        let points = curve(&scores, &labels);
        let rates: Vec<(f64, f64, f64)> =
            points.iter().map(|p| (p.false_positive_rate, p.true_positive_rate, p.precision)).collect();
        assert_eq!(
            rates,
            [(0.0, 0.5, 1.0), (0.25, 0.5, 0.5), (0.25, 1.0, 2.0 / 3.0), (0.75, 1.0, 0.4), (1.0, 1.0, 1.0 / 3.0)]
        );
        assert_eq!(points[3].threshold, 0.6);
    }

    #[test]
    fn long_curves_are_thinned_to_their_ends_and_evenly_between() {
        let scores: Vec<f64> = (0..1_000).map(|i| f64::from(i) / 1_000.0).collect();
        let labels: Vec<bool> = (0..1_000).map(|i| i % 3 == 0).collect();
        let points = curve(&scores, &labels);
        assert_eq!(points.len(), CURVE_POINTS);
        assert_eq!((points[0].threshold, points[CURVE_POINTS - 1].threshold), (0.999, 0.0));
        assert_eq!(points[CURVE_POINTS - 1].true_positive_rate, 1.0);
    }

    #[test]
    fn one_class_has_no_curve() {
        assert!(curve(&[0.1, 0.2], &[true, true]).is_empty());
    }
}
