-- Each event records its player's logical partition (domain's `partition_of`,
-- modulo the number recorded below), so that an instance reads only the
-- partitions it owns, in position order, from the index. Rows written before
-- this migration (or by an older nudge during a rolling deploy) have none:
-- nudge fills them in at start, and readers take NULL rows too.
CREATE TABLE event_store_partitions (
    id integer PRIMARY KEY CHECK (id = 1),
    partitions bigint NOT NULL CHECK (partitions > 0)
);

ALTER TABLE events ADD COLUMN partition integer;

CREATE INDEX events_by_partition ON events (partition, position);

CREATE OR REPLACE VIEW events_as_text AS
SELECT position, stream, revision, event_id::text AS event_id, source, id, event_type, payload::text AS payload,
       partition
FROM events;
CREATE INDEX events_without_partition ON events (position) WHERE partition IS NULL;
