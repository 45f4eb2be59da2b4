//! The bets placed and not settled yet, by id. Most are settled soon after
//! they are placed, so a player's open bets go from none to one and back for
//! nearly every bet: they are a list that keeps its room (a B-tree made and
//! dropped a node each time), and a hash map once so many are open that
//! walking the list would cost more than hashing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Mark;

/// Open bets past which they are kept in a hash map.
const LIST_AT_MOST: usize = 32;

/// Each open bet's time and stake, by id.
#[derive(Debug, Clone)]
pub(super) enum OpenBets {
    /// A few, in no order.
    Few(Vec<(String, Mark)>),
    /// Many.
    Many(HashMap<String, Mark>),
}

impl Default for OpenBets {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl OpenBets {
    /// Holds a bet placed, in place of an open one of the same id.
    pub(super) fn insert(&mut self, id: &str, mark: Mark) {
        match self {
            Self::Few(list) => {
                if let Some(open) = list.iter_mut().find(|(open, _)| open == id) {
                    open.1 = mark;
                } else if list.len() < LIST_AT_MOST {
                    list.push((id.to_owned(), mark));
                } else {
                    let mut map: HashMap<String, Mark> = list.drain(..).collect();
                    map.insert(id.to_owned(), mark);
                    *self = Self::Many(map);
                }
            }
            Self::Many(map) => match map.get_mut(id) {
                Some(open) => *open = mark,
                None => {
                    map.insert(id.to_owned(), mark);
                }
            },
        }
    }

    /// Takes out the bet of this id, if open.
    pub(super) fn remove(&mut self, id: &str) -> Option<Mark> {
        match self {
            Self::Few(list) => {
                let at = list.iter().position(|(open, _)| open == id)?;
                Some(list.swap_remove(at).1)
            }
            Self::Many(map) => map.remove(id),
        }
    }

    /// Forgets the bets placed at or before `cutoff`.
    pub(super) fn forget_until(&mut self, cutoff: i64) {
        match self {
            Self::Few(list) => list.retain(|(_, Mark(placed, _))| *placed > cutoff),
            Self::Many(map) => map.retain(|_, Mark(placed, _)| *placed > cutoff),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Few(list) => list.len(),
            Self::Many(map) => map.len(),
        }
    }

    fn get(&self, id: &str) -> Option<&Mark> {
        match self {
            Self::Few(list) => list.iter().find(|(open, _)| open == id).map(|(_, mark)| mark),
            Self::Many(map) => map.get(id),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (&String, &Mark)> + '_> {
        match self {
            Self::Few(list) => Box::new(list.iter().map(|(id, mark)| (id, mark))),
            Self::Many(map) => Box::new(map.iter()),
        }
    }
}

/// The same bets, however they are kept.
impl PartialEq for OpenBets {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(id, mark)| other.get(id) == Some(mark))
    }
}

/// Stored as a map in the order of the ids, as the B-tree stored it, so that
/// a state is written the same way every time.
impl Serialize for OpenBets {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bets: Vec<(&String, &Mark)> = self.iter().collect();
        bets.sort_unstable_by_key(|(id, _)| *id);
        serializer.collect_map(bets)
    }
}

impl<'de> Deserialize<'de> for OpenBets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Mark>::deserialize(deserializer)?;
        Ok(if map.len() <= LIST_AT_MOST {
            Self::Few(map.into_iter().collect())
        } else {
            Self::Many(map.into_iter().collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bets(times: impl IntoIterator<Item = i64>) -> OpenBets {
        let mut open = OpenBets::default();
        times.into_iter().for_each(|t| open.insert(&format!("b{t}"), Mark(t, 10 * t)));
        open
    }

    #[test]
    fn is_stored_as_the_map_it_was_however_many_are_open() {
        for n in [3, LIST_AT_MOST as i64 + 5] {
            let mut open = bets((1..=n).rev());
            assert_eq!(matches!(open, OpenBets::Many(_)), n > LIST_AT_MOST as i64);
            open.insert("b1", Mark(1, 11));
            assert_eq!(open.remove("b2"), Some(Mark(2, 20)));
            assert_eq!(open.remove("b2"), None);
            let map: BTreeMap<String, Mark> = (1..=n)
                .filter(|t| *t != 2)
                .map(|t| (format!("b{t}"), Mark(t, if t == 1 { 11 } else { 10 * t })))
                .collect();
            let stored = serde_json::to_string(&open).unwrap();
            assert_eq!(stored, serde_json::to_string(&map).unwrap());
            let read: OpenBets = serde_json::from_str(&stored).unwrap();
            assert_eq!(read, open);
            open.forget_until(n - 1);
            assert_eq!(open, bets([n]));
        }
    }
}
