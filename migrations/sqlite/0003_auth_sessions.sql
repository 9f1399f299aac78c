ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    attempts      INTEGER NOT NULL,
    blocked_until DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
