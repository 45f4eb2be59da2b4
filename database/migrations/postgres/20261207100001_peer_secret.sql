-- The secret with which the instances sharing this database prove to each
-- other that a read was forwarded by one of them (`nudge-forwarded-proof`):
-- one row, written by the first nudge that starts on this database.
CREATE TABLE projection_peer_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret text NOT NULL
);
