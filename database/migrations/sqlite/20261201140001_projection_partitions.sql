-- How many logical partitions players are spread over (domain's `partition_of`):
-- one row, written by the first nudge that starts on this database and never
-- changed, since every stored partition number depends on it.
CREATE TABLE projection_partitions (
    id integer PRIMARY KEY CHECK (id = 1),
    partitions integer NOT NULL CHECK (partitions > 0)
);
