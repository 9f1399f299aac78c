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
