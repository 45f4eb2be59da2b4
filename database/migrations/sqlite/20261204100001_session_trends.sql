-- The session trend features (sessions_28d, session_rate_trend, session_minutes_trend,
-- session_gap_trend), read by the churn model: neutral until the player's next event folds them in.
ALTER TABLE player_features ADD COLUMN sessions_28d INTEGER NOT NULL DEFAULT 0;
ALTER TABLE player_features ADD COLUMN session_rate_trend REAL NOT NULL DEFAULT 1;
ALTER TABLE player_features ADD COLUMN session_minutes_trend REAL NOT NULL DEFAULT 1;
ALTER TABLE player_features ADD COLUMN session_gap_trend REAL NOT NULL DEFAULT 1;
ALTER TABLE player_features_rebuild ADD COLUMN sessions_28d INTEGER NOT NULL DEFAULT 0;
ALTER TABLE player_features_rebuild ADD COLUMN session_rate_trend REAL NOT NULL DEFAULT 1;
ALTER TABLE player_features_rebuild ADD COLUMN session_minutes_trend REAL NOT NULL DEFAULT 1;
ALTER TABLE player_features_rebuild ADD COLUMN session_gap_trend REAL NOT NULL DEFAULT 1;
