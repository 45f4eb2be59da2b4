-- The W3C traceparent of the event a recommendation follows (null when it came
-- without one), handed on to its webhook deliveries, which send it on.
ALTER TABLE recommendations ADD COLUMN traceparent TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN traceparent TEXT;
