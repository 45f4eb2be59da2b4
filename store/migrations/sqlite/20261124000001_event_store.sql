-- The event store: one append-only table of CloudEvents, a global position and a
-- per-stream revision. The head row holds the last position ever handed out, so
-- positions never go back even when events are later erased.
CREATE TABLE event_store_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
) STRICT;

INSERT INTO event_store_head (id, position) VALUES (1, 0);

CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    revision INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    time TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    payload TEXT NOT NULL,
    UNIQUE (stream, revision),
    UNIQUE (source, id)
) STRICT;
