//! The harm threshold chosen on players rather than points: a player is warned
//! once any of their scores reaches it, so what matters is how many players who
//! went on to exclude themselves were warned before, against how many who never
//! did were warned at all.

use std::collections::BTreeMap;

/// One scored validation point: the player's index, its time (ms), and the score.
pub(crate) struct PlayerScore {
    pub(crate) player: u32,
    pub(crate) time: i64,
    pub(crate) score: f64,
}

/// How a threshold does on the validation players.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlayerChoice {
    /// The threshold.
    pub(crate) threshold: f64,
    /// Share of the players who excluded themselves later, warned before.
    pub(crate) recall: f64,
    /// Share of the players who never excluded themselves, warned.
    pub(crate) false_alarms: f64,
}

/// The highest threshold whose recall − `cost` × false alarms over the players
/// of `points` (`exclusions[player]` is their first self-exclusion) is within
/// `tolerance` of the best, placed halfway between the lowest top score it keeps and the next below,
/// so that a small shift of scores keeps the same players. `None` without
/// players of both kinds.
pub(crate) fn threshold_for_players(
    points: &[PlayerScore],
    exclusions: &[Option<i64>],
    cost: f64,
    tolerance: f64,
) -> Option<PlayerChoice> {
    // Per player: the highest score (before their exclusion), and whether they excluded themselves later.
    let mut top: BTreeMap<u32, (f64, bool)> = BTreeMap::new();
    for point in points {
        let excluded = exclusions.get(point.player as usize).copied().flatten();
        if excluded.is_some_and(|e| point.time >= e) {
            continue;
        }
        let entry = top.entry(point.player).or_insert((f64::NEG_INFINITY, excluded.is_some()));
        entry.0 = entry.0.max(point.score);
    }
    let positives = top.values().filter(|(_, p)| *p).count() as f64;
    let negatives = top.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut players: Vec<(f64, bool)> = top.into_values().collect();
    players.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut caught, mut warned) = (0.0, 0.0);
    // Each distinct top score, from the highest: its value, where the next lower one starts, and the choice.
    let mut steps: Vec<(f64, usize, PlayerChoice)> = Vec::new();
    let mut i = 0;
    while i < players.len() {
        let score = players[i].0;
        while i < players.len() && players[i].0 == score {
            if players[i].1 {
                caught += 1.0
            } else {
                warned += 1.0
            }
            i += 1;
        }
        let (recall, false_alarms) = (caught / positives, warned / negatives);
        steps.push((recall - cost * false_alarms, i, PlayerChoice { threshold: score, recall, false_alarms }));
    }
    // The highest threshold within `tolerance` of the best value: validation
    // players are watched for days, real ones for months, so of thresholds
    // that do about as well, the one that warns least.
    let best = steps.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max);
    let (_, next, mut choice) = steps.into_iter().find(|s| s.0 >= best - tolerance)?;
    if let Some((below, _)) = players.get(next) {
        choice.threshold = (choice.threshold + below) / 2.0;
    }
    Some(choice)
}

/// How a threshold does on the validation players by precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PrecisionChoice {
    /// The threshold.
    pub(crate) threshold: f64,
    /// Share of the positive players scored at or over it at least once.
    pub(crate) recall: f64,
    /// Share of the players scored at or over it at least once who are positive.
    pub(crate) precision: f64,
}

/// The lowest threshold at which at least `precision` of the players of
/// `points` scored at or over it are positive (a player is when any of their
/// points is: `positive`), so that the most positive players are reached,
/// placed halfway between the lowest top score it keeps and the next below.
/// `None` when no threshold reaches `precision`.
pub(crate) fn threshold_for_player_precision(
    points: &[PlayerScore],
    positive: &[bool],
    precision: f64,
) -> Option<PrecisionChoice> {
    let mut top: BTreeMap<u32, (f64, bool)> = BTreeMap::new();
    for (point, positive) in points.iter().zip(positive) {
        let entry = top.entry(point.player).or_insert((f64::NEG_INFINITY, false));
        *entry = (entry.0.max(point.score), entry.1 || *positive);
    }
    let positives = top.values().filter(|(_, p)| *p).count() as f64;
    let mut players: Vec<(f64, bool)> = top.into_values().collect();
    players.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut caught, mut reached, mut chosen) = (0.0, 0.0, None);
    let mut i = 0;
    while i < players.len() {
        let score = players[i].0;
        while i < players.len() && players[i].0 == score {
            caught += f64::from(u8::from(players[i].1));
            reached += 1.0;
            i += 1;
        }
        if caught / reached >= precision && caught > 0.0 {
            let threshold = players.get(i).map_or(score, |(below, _)| (score + below) / 2.0);
            chosen = Some(PrecisionChoice { threshold, recall: caught / positives, precision: caught / reached });
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(player: u32, time: i64, score: f64) -> PlayerScore {
        PlayerScore { player, time, score }
    }

    #[test]
    fn the_threshold_weighs_players_warned_before_excluding_against_false_alarms() {
        // Players 0 and 1 exclude themselves at time 10; 2, 3 and 4 never do.
        let exclusions = [Some(10), Some(10), None, None, None];
        let points = [
            point(0, 1, 0.9),
            point(0, 12, 0.99), // after the exclusion: ignored
            point(1, 2, 0.5),
            point(1, 3, 0.3),
            point(2, 1, 0.6), // a never-excluding player above player 1
            point(3, 1, 0.2),
            point(4, 1, 0.1),
        ];
        // Cheap false alarms: take player 1 at the price of player 2.
        let cheap = threshold_for_players(&points, &exclusions, 0.5, 0.0).unwrap();
        assert_eq!((cheap.recall, cheap.false_alarms), (1.0, 1.0 / 3.0));
        assert!((cheap.threshold - 0.35).abs() < 1e-12, "{cheap:?}");
        // Dear ones: player 0 only, halfway between 0.9 and 0.6.
        let dear = threshold_for_players(&points, &exclusions, 3.0, 0.0).unwrap();
        assert_eq!((dear.recall, dear.false_alarms), (0.5, 0.0));
        assert!((dear.threshold - 0.75).abs() < 1e-12, "{dear:?}");
        // Within a tolerance of the best, the highest threshold: cheap false alarms, yet player 0 only.
        let tolerant = threshold_for_players(&points, &exclusions, 0.5, 0.4).unwrap();
        assert_eq!((tolerant.recall, tolerant.false_alarms), (0.5, 0.0));
        assert_eq!(threshold_for_players(&points[..2], &exclusions, 3.0, 0.0), None);
    }

    #[test]
    fn the_precision_threshold_reaches_the_most_positive_players_at_that_precision() {
        // Players by top score: 0 (0.9, positive), 1 (0.8, no), 2 (0.7, positive), 3 (0.4, positive), 4 (0.2, no).
        let points = [
            point(0, 1, 0.9),
            point(1, 1, 0.8),
            point(2, 1, 0.1),
            point(2, 2, 0.7),
            point(3, 1, 0.4),
            point(4, 1, 0.2),
        ];
        // Player 2 is positive by a later point than its top score.
        let positive = [true, false, false, true, true, false];
        let half = threshold_for_player_precision(&points, &positive, 0.5).unwrap();
        // Down to player 4, 3 of 5 are positive; the lowest at or over half.
        assert_eq!((half.recall, half.precision), (1.0, 0.6));
        assert!((half.threshold - 0.2).abs() < 1e-12, "{half:?}");
        let strict = threshold_for_player_precision(&points, &positive, 0.7).unwrap();
        // Down to player 3: 3 of 4.
        assert_eq!((strict.recall, strict.precision), (1.0, 0.75));
        assert!((strict.threshold - 0.3).abs() < 1e-12, "{strict:?}");
        assert_eq!(threshold_for_player_precision(&points[1..2], &[false], 0.5), None);
    }
}
