-- Training jobs, seen alike from every instance sharing the database: one runs
-- at a time across all of them (the partial unique index), and its progress is
-- written here by the instance running it, which heartbeats while it runs; a
-- running job whose heartbeat is older than ten seconds lost its instance.
-- Times are milliseconds since 1970 by the database's clock.
CREATE TABLE training_jobs (
    -- UUIDv7.
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    phase TEXT NOT NULL,
    events_replayed INTEGER NOT NULL,
    events_to_replay INTEGER NOT NULL,
    step TEXT NOT NULL,
    version TEXT,
    activate INTEGER NOT NULL,
    error TEXT,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    instance TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX training_jobs_one_running ON training_jobs (state) WHERE state = 'running';
