//! The bets placed and not settled yet, by id. A player has few open at a
//! time, and most are settled soon after they are placed, so they are a list
//! that keeps its room: no map node made and dropped for each bet.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Mark;

/// Each open bet's id, time and stake, in no order.
#[derive(Debug, Clone, Default)]
pub(super) struct OpenBets(Vec<(String, Mark)>);

impl OpenBets {
    /// Holds a bet placed, in place of an open one of the same id.
    pub(super) fn insert(&mut self, id: &str, mark: Mark) {
        match self.0.iter_mut().find(|(open, _)| open == id) {
            Some(open) => open.1 = mark,
            None => self.0.push((id.to_owned(), mark)),
        }
    }

    /// Takes out the bet of this id, if open.
    pub(super) fn remove(&mut self, id: &str) -> Option<Mark> {
        let at = self.0.iter().position(|(open, _)| open == id)?;
        Some(self.0.swap_remove(at).1)
    }

    /// Forgets the bets placed at or before `cutoff`.
    pub(super) fn forget_until(&mut self, cutoff: i64) {
        self.0.retain(|(_, Mark(placed, _))| *placed > cutoff);
    }
}

/// The same bets, whatever their order.
impl PartialEq for OpenBets {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|bet| other.0.contains(bet))
    }
}

/// Stored as a map by id, in the order of the ids, as it always was.
impl Serialize for OpenBets {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bets: Vec<&(String, Mark)> = self.0.iter().collect();
        bets.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        serializer.collect_map(bets.into_iter().map(|(id, mark)| (id, mark)))
    }
}

impl<'de> Deserialize<'de> for OpenBets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(BTreeMap::<String, Mark>::deserialize(deserializer)?.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_stored_as_the_map_it_was() {
        let mut open = OpenBets::default();
        for (id, t) in [("b", 2), ("a", 1), ("c", 3), ("a", 4)] {
            open.insert(id, Mark(t, 10 * t));
        }
        assert_eq!(open.remove("c"), Some(Mark(3, 30)));
        let map = BTreeMap::from([("a".to_owned(), Mark(4, 40)), ("b".to_owned(), Mark(2, 20))]);
        let stored = serde_json::to_string(&open).unwrap();
        assert_eq!(stored, serde_json::to_string(&map).unwrap());
        let read: OpenBets = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, open);
        open.forget_until(2);
        assert_eq!(open.0, [("a".to_owned(), Mark(4, 40))]);
    }
}
