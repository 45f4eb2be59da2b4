-- A claim leases a delivery in a column of its own, which no index holds: an
-- attempt going out then rewrites no index, where moving `next_attempt_at`
-- rewrote the due index. A delivery is due once both times have passed.
ALTER TABLE webhook_deliveries ADD COLUMN leased_until BIGINT NOT NULL DEFAULT 0;
