-- The event store: one append-only table of CloudEvents, a global position and a
-- per-stream revision.
--
-- Appenders serialize on the single head row (SELECT ... FOR UPDATE until commit),
-- so positions are handed out in commit order: a reader that has seen position N
-- has seen every position below it, and no event ever commits late behind a
-- subscriber's checkpoint (the sequence-gap trap of a bare bigserial).
CREATE TABLE event_store_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint NOT NULL
);

INSERT INTO event_store_head (id, position) VALUES (true, 0);

CREATE TABLE events (
    position bigint PRIMARY KEY,
    stream text NOT NULL,
    revision bigint NOT NULL,
    event_id uuid NOT NULL,
    source text NOT NULL,
    id text NOT NULL,
    event_type text NOT NULL,
    time timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL,
    UNIQUE (stream, revision),
    UNIQUE (source, id)
);

-- Events with the columns typed as both adapters read them back.
CREATE VIEW events_as_text AS
SELECT position, stream, revision, event_id::text AS event_id, source, id, event_type, payload::text AS payload
FROM events;
