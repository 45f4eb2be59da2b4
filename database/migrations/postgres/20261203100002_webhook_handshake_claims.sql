-- The validation handshake is claimed in the row, so that one instance sends
-- it: `handshake_next_at` is when it may next be sent (a claim moves it to the
-- end of the attempt's lease), `handshake_attempts` how often it was.
ALTER TABLE webhook_subscriptions ADD COLUMN handshake_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_subscriptions ADD COLUMN handshake_next_at BIGINT NOT NULL DEFAULT 0;
