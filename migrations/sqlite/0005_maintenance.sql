-- The maintenance mode: one row, read by every replica every few seconds.
CREATE TABLE maintenance (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    message             TEXT NOT NULL,
    retry_after_seconds INTEGER NOT NULL CHECK (retry_after_seconds > 0),
    updated_at          DATETIME NOT NULL
);
