-- Erasures (data protection): one row per erasure done, holding nothing
-- personal: not the player, not even hashed. Times are milliseconds since the
-- epoch.
CREATE TABLE erasures (
    -- UUIDv7.
    id TEXT PRIMARY KEY,
    erased_at BIGINT NOT NULL,
    events_deleted BIGINT NOT NULL,
    -- The API key that asked; none when nudge answered without keys.
    api_key_id TEXT
);

-- An erasure deletes a player's deliveries, whatever their state.
CREATE INDEX webhook_deliveries_of_player ON webhook_deliveries (player_id);
