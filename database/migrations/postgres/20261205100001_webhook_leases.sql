-- A claim leases a delivery in a column of its own, which no index holds: an
-- attempt going out then changes no indexed column, so PostgreSQL updates the
-- row in place on its page (a HOT update, for which the fill factor leaves
-- room), where moving `next_attempt_at` wrote an entry in each of the table's
-- indexes. A delivery is due once both times have passed.
ALTER TABLE webhook_deliveries ADD COLUMN leased_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries SET (fillfactor = 80);
