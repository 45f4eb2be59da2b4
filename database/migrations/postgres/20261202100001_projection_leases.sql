-- Several nudge instances share the players: each logical partition of each
-- projection is owned under a lease, kept here with the partition's checkpoint.
--
-- `epoch` rises with every change of hands (and with an erasure or a rebuild's
-- promotion): every read-model commit checks, in its own transaction, that the
-- epochs of the partitions it writes are still the ones it took, so a process
-- that stalled past its lease can never write. Times are the database's clock,
-- in milliseconds since 1970, never an instance's.
CREATE TABLE projection_leases (
    projection text NOT NULL,
    partition bigint NOT NULL CHECK (partition >= 0),
    owner text,
    epoch bigint NOT NULL DEFAULT 0,
    lease_until_ms bigint NOT NULL DEFAULT 0,
    checkpoint bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (projection, partition)
);

-- The instances alive: each registers at start, heartbeats while it runs and
-- leaves on a clean stop; one whose heartbeat is older than the lease TTL is dead.
CREATE TABLE projection_instances (
    id text PRIMARY KEY,
    address text NOT NULL,
    version text NOT NULL,
    started_ms bigint NOT NULL,
    heartbeat_ms bigint NOT NULL
);
