//! Planning a group of appends: pure bookkeeping shared by the SQL adapters.
//!
//! The adapters read what the plan needs (the stream heads and the already stored
//! (`source`, `id`) pairs) under the store's write lock, plan in memory, then
//! insert the planned rows in one statement. Each call in a group stays atomic on
//! its own: a call whose expected revision fails is left out, the others commit.

use std::collections::HashMap;

use crate::{Appended, ExpectedRevision, NewEvent, StoreError, StreamAppend};

/// A stored event found by its (`source`, `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Existing {
    pub source: String,
    pub id: String,
    pub revision: u64,
    pub position: u64,
}

/// What planning needs to know of the store, read under its write lock.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// The last global position handed out.
    pub head: u64,
    /// The stored events among the group's (`source`, `id`) pairs.
    pub existing: Vec<Existing>,
    /// The last revision of each stream of the group, `None` when it has none.
    pub heads: HashMap<String, Option<u64>>,
}

/// An event the plan decided to insert.
#[derive(Debug, PartialEq)]
pub(crate) struct Row<'a> {
    pub stream: &'a str,
    pub revision: u64,
    pub position: u64,
    pub event: &'a NewEvent,
    /// Where the event is in the calls: call, append, event.
    pub at: (usize, usize, usize),
}

/// The outcome of planning a group of calls.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// What to insert, in position order.
    pub rows: Vec<Row<'a>>,
    /// Each call's answer, in the order of the calls.
    pub results: Vec<Result<Vec<Vec<Appended>>, StoreError>>,
    /// The global position of the last event once the rows are in.
    pub head: u64,
}

/// Every (`source`, `id`) pair in the calls: what the adapter must look up.
pub(crate) fn keys(calls: &[Vec<StreamAppend>]) -> Vec<(&str, &str)> {
    events(calls).map(|e| (e.source.as_str(), e.id.as_str())).collect()
}

/// Every stream the calls append to, once each.
pub(crate) fn streams(calls: &[Vec<StreamAppend>]) -> Vec<&str> {
    let mut names: Vec<&str> = calls.iter().flatten().map(|a| a.stream.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn events(calls: &[Vec<StreamAppend>]) -> impl Iterator<Item = &NewEvent> {
    calls.iter().flatten().flat_map(|a| a.events.iter())
}

/// Plans `calls` against what is stored of their [`keys`] and [`streams`].
pub(crate) fn plan<'a>(calls: &'a [Vec<StreamAppend>], stored: &Stored) -> Plan<'a> {
    let mut state = State {
        heads: stored.heads.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
        seen: stored
            .existing
            .iter()
            .map(|e| {
                let appended = Appended { revision: e.revision, position: e.position, duplicate: true };
                ((e.source.as_str(), e.id.as_str()), appended)
            })
            .collect(),
        head: stored.head,
    };
    let mut rows = Vec::new();
    let results = calls
        .iter()
        .enumerate()
        .map(|(c, call)| {
            let mut overlay = Overlay { heads: HashMap::new(), seen: HashMap::new(), head: state.head };
            let mut call_rows = Vec::new();
            let mut answers = Vec::with_capacity(call.len());
            for (a, append) in call.iter().enumerate() {
                answers.push(overlay.append(&state, append, (c, a), &mut call_rows)?);
            }
            state.heads.extend(overlay.heads);
            state.seen.extend(overlay.seen);
            state.head = overlay.head;
            rows.append(&mut call_rows);
            Ok(answers)
        })
        .collect();
    Plan { rows, results, head: state.head }
}

/// What is known before a call: the stored state plus the calls planned so far.
struct State<'s> {
    heads: HashMap<&'s str, Option<u64>>,
    seen: HashMap<(&'s str, &'s str), Appended>,
    head: u64,
}

/// Changes of one call, kept apart until the whole call has been planned.
struct Overlay<'s> {
    heads: HashMap<&'s str, Option<u64>>,
    seen: HashMap<(&'s str, &'s str), Appended>,
    head: u64,
}

impl<'s> Overlay<'s> {
    fn last_revision(&self, base: &State<'s>, stream: &str) -> Option<u64> {
        match self.heads.get(stream) {
            Some(revision) => *revision,
            None => base.heads.get(stream).copied().flatten(),
        }
    }

    fn find(&self, base: &State<'s>, event: &NewEvent) -> Option<Appended> {
        let key = (event.source.as_str(), event.id.as_str());
        self.seen.get(&key).or_else(|| base.seen.get(&key)).copied()
    }

    fn append<'a: 's>(
        &mut self,
        base: &State<'s>,
        append: &'a StreamAppend,
        (call, index): (usize, usize),
        rows: &mut Vec<Row<'a>>,
    ) -> Result<Vec<Appended>, StoreError> {
        let fresh = append.events.iter().any(|e| self.find(base, e).is_none());
        let mut last = self.last_revision(base, &append.stream);
        if fresh {
            check(&append.stream, append.expected, last)?;
        }
        let mut answers = Vec::with_capacity(append.events.len());
        for (e, event) in append.events.iter().enumerate() {
            if let Some(original) = self.find(base, event) {
                answers.push(Appended { duplicate: true, ..original });
                continue;
            }
            let revision = last.map_or(0, |r| r + 1);
            self.head += 1;
            last = Some(revision);
            let appended = Appended { revision, position: self.head, duplicate: false };
            self.seen.insert((event.source.as_str(), event.id.as_str()), appended);
            rows.push(Row { stream: &append.stream, revision, position: self.head, event, at: (call, index, e) });
            answers.push(appended);
        }
        self.heads.insert(&append.stream, last);
        Ok(answers)
    }
}

pub(crate) fn check(stream: &str, expected: ExpectedRevision, actual: Option<u64>) -> Result<(), StoreError> {
    let ok = match expected {
        ExpectedRevision::Any => true,
        ExpectedRevision::NoStream => actual.is_none(),
        ExpectedRevision::Exact(n) => actual == Some(n),
    };
    if ok { Ok(()) } else { Err(StoreError::WrongExpectedRevision { stream: stream.to_owned(), expected, actual }) }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::DateTime;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    pub(crate) fn event(id: &str) -> NewEvent {
        NewEvent {
            event_id: Uuid::nil(),
            source: "/s".to_owned(),
            id: id.to_owned(),
            event_type: "player.session.ended".to_owned(),
            time: DateTime::UNIX_EPOCH,
            payload: "null".into(),
            decoded: None,
        }
    }

    pub(crate) fn append(stream: &str, expected: ExpectedRevision, ids: &[&str]) -> StreamAppend {
        StreamAppend { stream: stream.to_owned(), expected, events: ids.iter().map(|id| event(id)).collect() }
    }

    #[test]
    fn given_stored_streams_when_planning_then_revisions_and_positions_continue() {
        let calls = vec![vec![
            append("a", ExpectedRevision::Exact(4), &["x", "y"]),
            append("b", ExpectedRevision::NoStream, &["z"]),
        ]];
        let heads = HashMap::from([("a".to_owned(), Some(4)), ("b".to_owned(), None)]);
        let plan = plan(&calls, &Stored { head: 10, heads, ..Stored::default() });
        let rows: Vec<_> = plan.rows.iter().map(|r| (r.stream, r.revision, r.position)).collect();
        assert_eq!(rows, [("a", 5, 11), ("a", 6, 12), ("b", 0, 13)]);
        assert_eq!(plan.head, 13);
        assert!(plan.results[0].is_ok());
    }

    #[test]
    fn given_a_failing_call_when_planning_then_only_that_call_is_left_out() {
        let calls = vec![
            vec![append("a", ExpectedRevision::Any, &["1"])],
            vec![append("b", ExpectedRevision::Any, &["2"]), append("a", ExpectedRevision::NoStream, &["3"])],
            vec![append("a", ExpectedRevision::Exact(0), &["4"])],
        ];
        let plan = plan(&calls, &Stored::default());
        let rows: Vec<_> = plan.rows.iter().map(|r| (r.event.id.as_str(), r.revision, r.position)).collect();
        assert_eq!(rows, [("1", 0, 1), ("4", 1, 2)]);
        assert!(matches!(plan.results[1], Err(StoreError::WrongExpectedRevision { actual: Some(0), .. })));
        assert!(plan.results[2].is_ok());
    }

    #[test]
    fn given_stored_and_repeated_events_when_planning_then_they_answer_the_original() {
        let existing = vec![Existing { source: "/s".to_owned(), id: "old".to_owned(), revision: 3, position: 7 }];
        let calls = vec![
            vec![append("a", ExpectedRevision::NoStream, &["old"])],
            vec![append("a", ExpectedRevision::Any, &["new", "new"])],
        ];
        let heads = HashMap::from([("a".to_owned(), Some(3))]);
        let plan = plan(&calls, &Stored { head: 7, existing, heads });
        let first = plan.results[0].as_ref().map(|r| r[0][0]).ok();
        assert_eq!(
            first,
            Some(Appended { revision: 3, position: 7, duplicate: true }),
            "expectation unchecked: nothing new"
        );
        let second = plan.results[1].as_ref().map(|r| r[0].clone()).unwrap_or_default();
        assert_eq!(
            second,
            [
                Appended { revision: 4, position: 8, duplicate: false },
                Appended { revision: 4, position: 8, duplicate: true }
            ]
        );
        assert_eq!(plan.rows.len(), 1);
    }

    proptest! {
        /// Whatever the calls, the planned rows have gap-free positions after the
        /// head and gap-free revisions per stream, and each event is planned once.
        #[test]
        fn planned_rows_are_gap_free(calls in prop::collection::vec(
            prop::collection::vec((0..3u8, prop::option::of(0..3u64), prop::collection::vec(0..20u8, 1..4)), 1..3), 1..8)
        ) {
            let calls: Vec<Vec<StreamAppend>> = calls.iter().map(|call| call.iter().map(|(s, exact, ids)| {
                let ids: Vec<String> = ids.iter().map(u8::to_string).collect();
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                let expected = exact.map_or(ExpectedRevision::Any, ExpectedRevision::Exact);
                append(&format!("s{s}"), expected, &ids)
            }).collect()).collect();
            let plan = plan(&calls, &Stored { head: 100, ..Stored::default() });
            for (i, row) in plan.rows.iter().enumerate() {
                prop_assert_eq!(row.position, 101 + i as u64);
            }
            let mut next: HashMap<&str, u64> = HashMap::new();
            let mut ids = std::collections::HashSet::new();
            for row in &plan.rows {
                let expected = next.entry(row.stream).or_insert(0);
                prop_assert_eq!(row.revision, *expected);
                *expected += 1;
                prop_assert!(ids.insert(row.event.id.clone()));
            }
            prop_assert_eq!(plan.head, 100 + plan.rows.len() as u64);
        }
    }
}
