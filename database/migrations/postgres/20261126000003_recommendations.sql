-- Recommendations: at most one per triggering event, whose global position is
-- the feed's cursor. `body` is the recommendation as JSON; `status` its answer.
CREATE TABLE recommendations (
    position BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    player_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    answered_at TIMESTAMPTZ
);
CREATE INDEX recommendations_player ON recommendations (player_id, position);
CREATE INDEX recommendations_kind ON recommendations (kind, position);

-- The player state now also holds the policy's memory and launched games: the
-- feature rows are rebuilt from the events.
DELETE FROM player_features;
DELETE FROM player_features_rebuild;
DELETE FROM projection_checkpoints;
