-- The model registry: every trained model version (its artifact as JSON) and
-- which one, at most, is active.
CREATE TABLE models (
    version TEXT PRIMARY KEY,
    trained_at TEXT NOT NULL,
    artifact TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    activated_at TEXT
);
CREATE UNIQUE INDEX models_one_active ON models (active) WHERE active = 1;
