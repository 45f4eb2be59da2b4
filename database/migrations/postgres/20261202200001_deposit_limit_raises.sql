-- The deposit_limit_raises_7d feature (the deposit_limit_raised marker counts it):
-- 0 until the player's next event folds it in.
ALTER TABLE player_features ADD COLUMN deposit_limit_raises_7d bigint NOT NULL DEFAULT 0;
ALTER TABLE player_features_rebuild ADD COLUMN deposit_limit_raises_7d bigint NOT NULL DEFAULT 0;
