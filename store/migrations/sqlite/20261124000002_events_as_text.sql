-- Events with the columns as both SQL adapters read them back (PostgreSQL has the
-- same view), so the two share their read queries.
CREATE VIEW events_as_text AS
SELECT position, stream, revision, event_id, source, id, event_type, payload
FROM events;
