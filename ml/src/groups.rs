//! Figures per pathway of harm and per archetype not at risk, when the training
//! data come with the simulator's ground truth: who the harm model warned on
//! the test points, and how long before they excluded themselves.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::MlError;

/// Each player's archetype, and their pathway of harm if they are at risk, as
/// `nudge simulate` writes them (columns `player_id`, `archetype`, `pathway`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    players: HashMap<String, Kind>,
}

/// What kind of player one is.
#[derive(Debug, Clone, PartialEq)]
pub struct Kind {
    /// The archetype, e.g. `bonus_hunter` or `escalation`.
    pub archetype: String,
    /// The pathway of harm; none for a player not at risk.
    pub pathway: Option<String>,
}

impl Truth {
    /// Reads a ground-truth CSV.
    pub fn from_csv(text: &str) -> Result<Self, MlError> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').map(str::trim).collect();
        let column = |name: &str| {
            header.iter().position(|c| *c == name).ok_or_else(|| MlError::Truth(format!("no `{name}` column")))
        };
        let (player, archetype, pathway) = (column("player_id")?, column("archetype")?, column("pathway")?);
        let mut players = HashMap::new();
        for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell =
                |i: usize| cells.get(i).copied().ok_or_else(|| MlError::Truth(format!("line {} is short", n + 2)));
            let kind = Kind {
                archetype: cell(archetype)?.to_owned(),
                pathway: Some(cell(pathway)?.to_owned()).filter(|p| !p.is_empty()),
            };
            players.insert(cell(player)?.to_owned(), kind);
        }
        Ok(Self { players })
    }

    /// The kind of player `id` is, if the truth names them.
    pub fn get(&self, id: &str) -> Option<&Kind> {
        self.players.get(id)
    }

    /// Players named.
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// Whether no player is named.
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }
}

/// The harm model on one group's players, over the test points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupFigures {
    /// A pathway of harm (`escalation`, ...), an archetype not at risk
    /// (`bonus_hunter`, ...), or `all_pathways` / `all_not_at_risk`.
    pub group: String,
    /// Whether the group is at risk.
    pub at_risk: bool,
    /// Players of the group with test points.
    pub players: usize,
    /// Of them, those who excluded themselves after their first test point.
    pub self_excluded: usize,
    /// Of those, the ones scored at or over the threshold before excluding themselves.
    pub warned_before_exclusion: usize,
    /// Median hours from the first such score to the exclusion.
    pub median_lead_hours: Option<f64>,
    /// Players scored at or over the threshold at least once (for a group not at risk: false alarms).
    pub warned: usize,
}

/// One scored test point: the player's index, its time (ms), and the score.
pub(crate) struct Scored {
    pub(crate) player: u32,
    pub(crate) time: i64,
    pub(crate) score: f64,
}

/// Per player: the id and the first self-exclusion (ms), in replay order.
pub(crate) type Players<'a> = (&'a [String], &'a [Option<i64>]);

/// Figures per group of the players `truth` names, at `threshold`.
pub(crate) fn figures(
    scored: &[Scored],
    threshold: f64,
    (ids, exclusions): Players,
    truth: &Truth,
) -> Vec<GroupFigures> {
    #[derive(Default)]
    struct Seen {
        first: Option<i64>,
        first_warned: Option<i64>,
        first_warned_before_exclusion: Option<i64>,
    }
    let mut players: BTreeMap<u32, Seen> = BTreeMap::new();
    for point in scored {
        let excluded = exclusions.get(point.player as usize).copied().flatten();
        let seen = players.entry(point.player).or_default();
        seen.first = Some(seen.first.map_or(point.time, |t| t.min(point.time)));
        if point.score >= threshold {
            seen.first_warned = Some(seen.first_warned.map_or(point.time, |t| t.min(point.time)));
            if excluded.is_some_and(|e| point.time < e) {
                seen.first_warned_before_exclusion =
                    Some(seen.first_warned_before_exclusion.map_or(point.time, |t| t.min(point.time)));
            }
        }
    }
    let mut groups: BTreeMap<(bool, String), (GroupFigures, Vec<f64>)> = BTreeMap::new();
    for (player, seen) in &players {
        let Some(kind) = ids.get(*player as usize).and_then(|id| truth.get(id)) else { continue };
        let at_risk = kind.pathway.is_some();
        let name = kind.pathway.clone().unwrap_or_else(|| kind.archetype.clone());
        let all = if at_risk { "all_pathways" } else { "all_not_at_risk" };
        let excluded =
            exclusions.get(*player as usize).copied().flatten().filter(|e| seen.first.is_some_and(|f| f < *e));
        for group in [all.to_owned(), name] {
            let (figures, leads) = groups.entry((!at_risk, group.clone())).or_insert_with(|| {
                (
                    GroupFigures {
                        group,
                        at_risk,
                        players: 0,
                        self_excluded: 0,
                        warned_before_exclusion: 0,
                        median_lead_hours: None,
                        warned: 0,
                    },
                    Vec::new(),
                )
            });
            figures.players += 1;
            figures.warned += usize::from(seen.first_warned.is_some());
            if let Some(excluded) = excluded {
                figures.self_excluded += 1;
                if let Some(warned) = seen.first_warned_before_exclusion {
                    figures.warned_before_exclusion += 1;
                    leads.push((excluded - warned) as f64 / 3_600_000.0);
                }
            }
        }
    }
    groups
        .into_values()
        .map(|(mut figures, mut leads)| {
            leads.sort_by(f64::total_cmp);
            figures.median_lead_hours = match leads.len() {
                0 => None,
                n if n % 2 == 1 => Some(leads[n / 2]),
                n => Some((leads[n / 2 - 1] + leads[n / 2]) / 2.0),
            };
            figures
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "player_id,archetype,pathway,harm_onset_day\np0,bonus_hunter,,\np1,escalation,escalation,3\n\
                       p2,at_risk,at_risk,4\np3,casual,,\n";

    #[test]
    fn truth_reads_the_simulators_csv_and_refuses_one_without_its_columns() {
        let truth = Truth::from_csv(CSV).unwrap();
        assert_eq!(truth.len(), 4);
        assert_eq!(truth.get("p1").and_then(|k| k.pathway.as_deref()), Some("escalation"));
        assert_eq!(truth.get("p0").map(|k| (k.archetype.as_str(), k.pathway.is_none())), Some(("bonus_hunter", true)));
        assert!(matches!(Truth::from_csv("player_id,archetype\np0,casual"), Err(MlError::Truth(_))));
        assert!(matches!(Truth::from_csv("player_id,archetype,pathway\np0"), Err(MlError::Truth(_))));
    }

    #[test]
    fn figures_count_warnings_before_exclusion_leads_and_false_alarms() {
        let truth = Truth::from_csv(CSV).unwrap();
        let ids: Vec<String> = ["p0", "p1", "p2", "p3", "p9"].iter().map(|s| (*s).to_owned()).collect();
        let hour = 3_600_000;
        let exclusions = [None, Some(100 * hour), Some(50 * hour), None, None];
        let point = |player, hours: i64, score| Scored { player, time: hours * hour, score };
        let scored = [
            point(0, 1, 0.9),  // a bonus hunter warned: a false alarm
            point(1, 10, 0.2), // escalation: warned 40 h before excluding
            point(1, 60, 0.8),
            point(2, 10, 0.1), // at_risk: warned only after excluding
            point(2, 60, 0.9),
            point(3, 5, 0.4),  // casual, never warned
            point(4, 5, 0.99), // not in the truth: left out
        ];
        let figures = figures(&scored, 0.5, (&ids, &exclusions), &truth);
        let get = |name: &str| figures.iter().find(|f| f.group == name).unwrap();
        let all = get("all_pathways");
        assert_eq!((all.players, all.self_excluded, all.warned_before_exclusion), (2, 2, 1));
        assert_eq!(all.median_lead_hours, Some(40.0));
        assert_eq!(get("escalation").median_lead_hours, Some(40.0));
        assert_eq!((get("at_risk").warned_before_exclusion, get("at_risk").warned), (0, 1));
        let safe = get("all_not_at_risk");
        assert_eq!((safe.players, safe.warned, safe.at_risk), (2, 1, false));
        assert_eq!(get("bonus_hunter").warned, 1);
        assert_eq!(get("casual").warned, 0);
        assert_eq!(figures.len(), 6);
    }
}
