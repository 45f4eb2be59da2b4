//! What a run has folded since its last commit: the rows handed over to be
//! written, the recommendations and answers, and the checkpoint they allow.

use std::collections::HashMap;

use crate::{partition::Folded, read_model::Changes};

/// The changes of the batches folded since the last commit, merged.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    changes: Changes,
    /// Where each player's row sits in `changes.rows`: a later row replaces it.
    rows: HashMap<String, usize>,
    /// Events folded.
    events: usize,
    /// Logical partitions those events belong to, sorted.
    touched: Vec<u32>,
    /// From the latest fold: the first event of the oldest row still waiting.
    oldest_unwritten: Option<u64>,
}

/// What one commit writes.
pub(crate) struct Taken {
    pub(crate) changes: Changes,
    pub(crate) events: usize,
    pub(crate) touched: Vec<u32>,
}

impl Pending {
    /// Adds a fold of `events` events of the logical partitions `touched`.
    pub(crate) fn add(&mut self, folded: Folded, events: usize, touched: &[u32]) {
        let Folded { changes, oldest_unwritten, .. } = folded;
        for row in changes.rows {
            match self.rows.get(&row.player_id) {
                Some(&at) => self.changes.rows[at] = row,
                None => {
                    self.rows.insert(row.player_id.clone(), self.changes.rows.len());
                    self.changes.rows.push(row);
                }
            }
        }
        self.changes.recommendations.extend(changes.recommendations);
        self.changes.answers.extend(changes.answers);
        self.events += events;
        self.touched.extend_from_slice(touched);
        self.touched.sort_unstable();
        self.touched.dedup();
        self.oldest_unwritten = oldest_unwritten;
    }

    /// Whether nothing was folded since the last commit.
    pub(crate) fn is_empty(&self) -> bool {
        self.events == 0 && self.changes.rows.is_empty() && !self.decided()
    }

    /// Whether it holds recommendations or answers: those are written at once.
    pub(crate) fn decided(&self) -> bool {
        !self.changes.recommendations.is_empty() || !self.changes.answers.is_empty()
    }

    /// Whether rows not handed over yet wait in the partitions.
    pub(crate) fn waiting(&self) -> bool {
        self.oldest_unwritten.is_some()
    }

    /// The checkpoint a commit of these changes may write, having folded
    /// through `read`: below the first event of every row still waiting.
    pub(crate) fn checkpoint(&self, read: u64) -> u64 {
        self.oldest_unwritten.map_or(read, |oldest| read.min(oldest.saturating_sub(1)))
    }

    /// Empties it for a commit.
    pub(crate) fn take(&mut self) -> Taken {
        self.rows.clear();
        Taken {
            changes: std::mem::take(&mut self.changes),
            events: std::mem::take(&mut self.events),
            touched: std::mem::take(&mut self.touched),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::Features;

    use super::*;
    use crate::read_model::RowUpdate;

    fn row(player: &str, revision: u64) -> RowUpdate {
        RowUpdate {
            player_id: player.to_owned(),
            revision,
            position: revision * 10,
            state: Vec::new(),
            features: Features::default(),
        }
    }

    fn folded(rows: Vec<RowUpdate>, oldest_unwritten: Option<u64>) -> Folded {
        Folded { changes: Changes { rows, ..Changes::default() }, current: Vec::new(), oldest_unwritten }
    }

    #[test]
    fn a_players_later_row_replaces_the_earlier_in_place() {
        let mut pending = Pending::default();
        pending.add(folded(vec![row("ann", 1), row("bob", 1)], None), 2, &[3, 1]);
        pending.add(folded(vec![row("ann", 2)], None), 1, &[1, 2]);
        let taken = pending.take();
        let rows: Vec<_> = taken.changes.rows.iter().map(|r| (r.player_id.as_str(), r.revision)).collect();
        assert_eq!(rows, [("ann", 2), ("bob", 1)]);
        assert_eq!((taken.events, taken.touched), (3, vec![1, 2, 3]));
        assert!(pending.is_empty());
        pending.add(folded(vec![row("ann", 3)], None), 1, &[1]);
        assert_eq!(pending.take().changes.rows.len(), 1, "taking forgets where rows sat");
    }

    #[test]
    fn the_checkpoint_stays_below_the_oldest_row_still_waiting() {
        let mut pending = Pending::default();
        pending.add(folded(Vec::new(), Some(40)), 5, &[0]);
        assert!(pending.waiting());
        assert_eq!(pending.checkpoint(70), 39);
        assert_eq!(pending.checkpoint(20), 20);
        pending.add(folded(Vec::new(), None), 0, &[]);
        assert!(!pending.waiting(), "the latest fold says what still waits");
        assert_eq!(pending.checkpoint(70), 70);
    }
}
