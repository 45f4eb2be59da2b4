-- The player feature read model: one row per player, a plain column for every
-- feature (see domain's `Features` for their meanings) so analysts can query it
-- directly, the fold state to resume from (postcard, read back only by nudge), and the revision and global
-- position of the last event folded in.
CREATE TABLE player_features (
    player_id text PRIMARY KEY,
    revision bigint NOT NULL,
    position bigint NOT NULL,
    deposit_total bigint NOT NULL,
    deposit_count bigint NOT NULL,
    withdrawal_total bigint NOT NULL,
    bet_count bigint NOT NULL,
    stake_total bigint NOT NULL,
    payout_total bigint NOT NULL,
    net_loss bigint NOT NULL,
    first_seen timestamptz,
    last_seen timestamptz,
    in_session boolean NOT NULL,
    session_started_at timestamptz,
    session_seconds bigint NOT NULL,
    session_bet_count bigint NOT NULL,
    session_stake bigint NOT NULL,
    session_net_loss bigint NOT NULL,
    sessions_24h bigint NOT NULL,
    stake_1h bigint NOT NULL,
    bets_1h bigint NOT NULL,
    net_loss_1h bigint NOT NULL,
    stake_24h bigint NOT NULL,
    bets_24h bigint NOT NULL,
    net_loss_24h bigint NOT NULL,
    deposit_amount_24h bigint NOT NULL,
    deposit_count_24h bigint NOT NULL,
    deposit_amount_7d bigint NOT NULL,
    deposit_count_7d bigint NOT NULL,
    loss_streak bigint NOT NULL,
    deposits_after_loss_24h bigint NOT NULL,
    failed_deposits_24h bigint NOT NULL,
    cancelled_withdrawals_30d bigint NOT NULL,
    night_bet_share_7d double precision NOT NULL,
    stake_escalation double precision NOT NULL,
    loss_chasing double precision NOT NULL,
    limit_increases_30d bigint NOT NULL,
    minutes_since_last_win bigint,
    sessions_7d bigint NOT NULL,
    avg_session_minutes_7d double precision NOT NULL,
    days_between_sessions double precision,
    favourite_category text,
    categories_7d bigint NOT NULL,
    self_excluded_until timestamptz,
    deposit_limit bigint,
    state bytea NOT NULL
);

-- Where a rebuild writes until it catches up; then its rows replace the live ones.
CREATE TABLE player_features_rebuild (LIKE player_features INCLUDING ALL);

-- How far each projection has folded: the global position of the last event it
-- committed, written in the same transaction as its rows.
CREATE TABLE projection_checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL
);
