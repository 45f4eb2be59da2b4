-- Requests in flight to each subscription, across every instance: a request
-- holds one of the subscription's slots until its attempt settles or its
-- lease (`until_ms`) ends, so `--webhook-concurrency` bounds them all. Only
-- PostgreSQL has it: on SQLite one process dispatches, and its own semaphore
-- is the whole bound.
CREATE TABLE webhook_slots (
    subscription_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    until_ms BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, slot)
);
