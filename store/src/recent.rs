//! The events this process committed last, kept in memory so that its own
//! subscriptions read them without a round trip to the database and a parse
//! of every payload.
//!
//! The buffer vouches for a span of positions with no gap: every event stored
//! there is in it. A commit that does not start where the last one ended
//! (another process appended, or deleted, in between: both move the head)
//! starts the span over. A read inside the span gives what the database
//! would; reads before it (a catch-up after a restart, a subscription that
//! fell far behind) go to the database.

use std::{collections::VecDeque, sync::Arc, sync::Mutex};

use crate::{RecordedEvent, StreamAppend, plan::Row};

/// Events kept: a few pages, so that a projection a moment behind the writer
/// reads from memory, without holding more than some tens of megabytes.
const KEPT: usize = 16_384;

/// The buffer: every stored event from `from` to `through`, in position order.
#[derive(Debug)]
pub(crate) struct Recent {
    span: Mutex<Span>,
}

#[derive(Debug)]
struct Span {
    /// The first position vouched for.
    from: u64,
    /// The last position committed.
    through: u64,
    commits: VecDeque<Commit>,
    /// Events in `commits`.
    events: usize,
}

/// One committed group: the calls as the writer was handed them (shared, not
/// copied: the commit path copies nothing) and where each stored event is.
#[derive(Debug)]
struct Commit {
    calls: Arc<[Vec<StreamAppend>]>,
    rows: Vec<Placed>,
}

#[derive(Debug)]
struct Placed {
    position: u64,
    revision: u64,
    at: (usize, usize, usize),
}

impl Span {
    /// Accounts for `commit` leaving the front of the buffer.
    fn forget(&mut self, commit: &Commit) {
        self.events -= commit.rows.len();
        if let Some(last) = commit.rows.last() {
            self.from = self.from.max(last.position + 1);
        }
    }
}

impl Commit {
    fn append(&self, row: &Placed) -> &StreamAppend {
        &self.calls[row.at.0][row.at.1]
    }

    fn recorded(&self, row: &Placed) -> RecordedEvent {
        let append = self.append(row);
        let event = &append.events[row.at.2];
        RecordedEvent {
            stream: append.stream.clone(),
            revision: row.revision,
            position: row.position,
            event_id: event.event_id,
            source: event.source.clone(),
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            payload: Arc::clone(&event.payload),
            decoded: event.decoded.clone(),
        }
    }
}

impl Recent {
    /// An empty buffer over a store whose last position handed out is `head`.
    pub(crate) fn new(head: u64) -> Self {
        let span = Span { from: head + 1, through: head, commits: VecDeque::new(), events: 0 };
        Self { span: Mutex::new(span) }
    }

    /// Records a commit of `calls`: the `rows` written (in position order), and
    /// the head it moved from and to.
    pub(crate) fn committed(&self, calls: &Arc<[Vec<StreamAppend>]>, rows: &[Row<'_>], from: u64, head: u64) {
        let rows: Vec<Placed> =
            rows.iter().map(|r| Placed { position: r.position, revision: r.revision, at: r.at }).collect();
        let mut span = self.lock();
        let mut dropped = Vec::new();
        if from != span.through {
            // Positions up to `from` this buffer has not seen all of.
            dropped.extend(span.commits.drain(..));
            (span.from, span.through, span.events) = (from + 1, from, 0);
        }
        span.through = span.through.max(head);
        if !rows.is_empty() {
            span.events += rows.len();
            span.commits.push_back(Commit { calls: Arc::clone(calls), rows });
        }
        while span.events > KEPT {
            let Some(commit) = span.commits.pop_front() else { break };
            span.forget(&commit);
            dropped.push(commit);
        }
        drop(span);
        // The groups a reader left behind are freed outside the lock.
        drop(dropped);
    }

    /// Forgets a deleted stream's events.
    pub(crate) fn deleted(&self, stream: &str) {
        let mut span = self.lock();
        let mut forgotten = 0;
        for Commit { calls, rows } in &mut span.commits {
            let before = rows.len();
            rows.retain(|row| calls[row.at.0][row.at.1].stream != stream);
            forgotten += before - rows.len();
        }
        span.events -= forgotten;
        span.commits.retain(|c| !c.rows.is_empty());
    }

    /// Up to `limit` events of the streams named `prefix...` after `after`, if
    /// the buffer vouches for every position from the one after `after` to the
    /// last committed; `None` sends the read to the database.
    ///
    /// A read from `after` also tells that its reader is past every commit up
    /// to there: those leave the buffer (its one reader is the projection; a
    /// second reader further behind would read the database).
    pub(crate) fn read(&self, after: u64, limit: usize, prefix: &str) -> Option<Vec<RecordedEvent>> {
        let mut span = self.lock();
        if after < span.from.saturating_sub(1) || after >= span.through {
            return None;
        }
        let first = span.commits.partition_point(|c| c.rows.last().is_some_and(|r| r.position <= after));
        let passed: Vec<Commit> = span.commits.drain(..first).collect();
        for commit in &passed {
            span.forget(commit);
        }
        let events = span
            .commits
            .iter()
            .flat_map(|commit| commit.rows.iter().map(move |row| (commit, row)))
            .filter(|(commit, row)| row.position > after && commit.append(row).stream.starts_with(prefix))
            .take(limit)
            .map(|(commit, row)| commit.recorded(row))
            .collect();
        drop(span);
        drop(passed);
        Some(events)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Span> {
        // Every change leaves the span whole, so one a panic interrupted is still usable.
        self.span.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;
    use crate::{ExpectedRevision, NewEvent, plan};

    /// Commits one call per stream, each of `count` events, after `head`.
    fn commit(recent: &Recent, head: u64, streams: &[&str], count: usize) -> u64 {
        let calls: Arc<[Vec<StreamAppend>]> = streams
            .iter()
            .map(|stream| {
                let events = (0..count)
                    .map(|i| NewEvent {
                        event_id: Uuid::nil(),
                        source: "casino".to_owned(),
                        id: format!("{stream}-{head}-{i}"),
                        event_type: "player.bet.placed".to_owned(),
                        time: DateTime::UNIX_EPOCH,
                        payload: serde_json::json!({"n": i}).to_string().into(),
                        decoded: None,
                    })
                    .collect();
                vec![StreamAppend { stream: (*stream).to_owned(), expected: ExpectedRevision::Any, events }]
            })
            .collect();
        let plan = plan::plan(&calls, &plan::Stored { head, ..plan::Stored::default() });
        recent.committed(&calls, &plan.rows, head, plan.head);
        plan.head
    }

    fn positions(events: Option<Vec<RecordedEvent>>) -> Option<Vec<u64>> {
        events.map(|events| events.iter().map(|e| e.position).collect())
    }

    #[test]
    fn reads_inside_the_span_come_from_memory_and_others_from_the_file() {
        let recent = Recent::new(10);
        assert_eq!(positions(recent.read(10, 100, "")), None, "nothing committed yet");
        let head = commit(&recent, 10, &["player-1", "player-2"], 1);
        commit(&recent, head, &["player-1"], 1);
        assert_eq!(positions(recent.read(10, 100, "")), Some(vec![11, 12, 13]));
        assert_eq!(positions(recent.read(11, 1, "")), Some(vec![12]));
        assert_eq!(positions(recent.read(10, 100, "player-1")), Some(vec![11, 13]));
        assert_eq!(positions(recent.read(9, 100, "")), None, "position 10 was committed before the buffer");
        assert_eq!(positions(recent.read(13, 100, "")), None, "nothing newer in memory: the file says");
        assert_eq!(positions(recent.read(12, 100, "")), Some(vec![13]), "its reader is past the first commit");
        assert_eq!(positions(recent.read(11, 100, "")), None, "so that one left the buffer");
    }

    #[test]
    fn a_commit_after_a_gap_starts_the_span_over() {
        let recent = Recent::new(0);
        commit(&recent, 0, &["player-1", "player-2"], 1);
        // Another process wrote position 3.
        commit(&recent, 3, &["player-1"], 1);
        assert_eq!(positions(recent.read(0, 100, "")), None, "positions 1 to 3 are not all here");
        assert_eq!(positions(recent.read(2, 100, "")), None);
        assert_eq!(positions(recent.read(3, 100, "")), Some(vec![4]));
    }

    #[test]
    fn an_event_reads_back_as_it_was_appended() {
        let recent = Recent::new(0);
        commit(&recent, 0, &["player-7"], 2);
        let read = recent.read(1, 1, "").unwrap_or_default();
        let event = read.first().map(|e| {
            (
                e.stream.as_str(),
                e.revision,
                e.position,
                e.id.as_str(),
                e.cloud_event().ok().and_then(|v| v["n"].as_i64()),
            )
        });
        assert_eq!(event, Some(("player-7", 1, 2, "player-7-0-1", Some(1))));
    }

    #[test]
    fn a_deleted_stream_is_gone_and_the_span_still_vouches() {
        let recent = Recent::new(0);
        let head = commit(&recent, 0, &["player-1"], 1);
        commit(&recent, head, &["player-2"], 1);
        recent.deleted("player-1");
        assert_eq!(positions(recent.read(0, 100, "")), Some(vec![2]));
        assert_eq!(positions(recent.read(1, 100, "")), Some(vec![2]));
    }

    #[test]
    fn the_oldest_commits_leave_and_take_the_span_with_them() {
        let recent = Recent::new(0);
        let head = commit(&recent, 0, &["player-1"], 2);
        commit(&recent, head, &["player-1"], KEPT);
        assert_eq!(positions(recent.read(1, 100, "")), None);
        assert_eq!(recent.read(2, usize::MAX, "").map(|e| e.len()), Some(KEPT));
    }
}
