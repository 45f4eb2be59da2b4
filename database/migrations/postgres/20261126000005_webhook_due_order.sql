-- Due deliveries in the order they are claimed (due time, then sequence), so a
-- claim walks the index and stops at its limit.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (subscription_id, next_attempt_at, seq) WHERE status = 'pending';
