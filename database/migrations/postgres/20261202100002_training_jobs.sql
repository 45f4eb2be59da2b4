-- Training jobs, seen alike from every instance sharing the database: one runs
-- at a time across all of them (the partial unique index), and its progress is
-- written here by the instance running it, which heartbeats while it runs; a
-- running job whose heartbeat is older than ten seconds lost its instance.
-- Times are milliseconds since 1970 by the database's clock.
CREATE TABLE training_jobs (
    -- UUIDv7.
    id text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    phase text NOT NULL,
    events_replayed bigint NOT NULL,
    events_to_replay bigint NOT NULL,
    step text NOT NULL,
    version text,
    activate boolean NOT NULL,
    error text,
    started_ms bigint NOT NULL,
    finished_ms bigint,
    instance text NOT NULL,
    heartbeat_ms bigint NOT NULL
);

CREATE UNIQUE INDEX training_jobs_one_running ON training_jobs (state) WHERE state = 'running';
