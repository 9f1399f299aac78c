-- The maintenance mode: one row, read by every replica every few seconds.
CREATE TABLE maintenance (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    enabled             BOOLEAN NOT NULL,
    message             TEXT NOT NULL,
    retry_after_seconds INTEGER NOT NULL CHECK (retry_after_seconds > 0),
    updated_at          TIMESTAMPTZ NOT NULL
);
