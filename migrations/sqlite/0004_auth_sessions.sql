ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    attempts      INTEGER NOT NULL,
    blocked_until DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    occurred_at DATETIME NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (occurred_at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, occurred_at, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
