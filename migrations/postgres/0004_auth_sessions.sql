-- Every access token carries its user's token_version; raising it (a role
-- change, a lock, a logout everywhere) makes the user's earlier access tokens
-- fail on their next request. Tokens issued before this column existed carry
-- no version, read as 0, and stay valid until the first raise.
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

-- Failed logins are throttled per (email, client address) with growing
-- delays, whether or not the email has an account, so that the throttle
-- says nothing about which emails exist. key is a SHA-256 of the pair: what
-- was typed as an email is not kept. Rows older than a day are swept.
CREATE TABLE login_throttle (
    key           TEXT COLLATE "C" PRIMARY KEY,
    attempts      INTEGER NOT NULL,
    blocked_until TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);

-- The audit trail: who did what to whom, when and from where. Each row is
-- written in the transaction of the change it records. Rows are never
-- changed or removed: the triggers below refuse it, so that even the
-- application's own database user cannot rewrite history.
CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor_id    TEXT COLLATE "C" NOT NULL,
    action      TEXT NOT NULL,
    target_id   TEXT COLLATE "C" NOT NULL,
    client_ip   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (occurred_at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, occurred_at, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
