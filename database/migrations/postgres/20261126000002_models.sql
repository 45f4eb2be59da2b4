-- The model registry: every trained model version (its artifact as JSON) and
-- which one, at most, is active.
CREATE TABLE models (
    version TEXT PRIMARY KEY,
    trained_at TIMESTAMPTZ NOT NULL,
    artifact TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT false,
    activated_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX models_one_active ON models (active) WHERE active;
