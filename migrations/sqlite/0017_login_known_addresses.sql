-- The client addresses each email has logged in from (a SHA-256 of the two,
-- as login_throttle keys are): a login from one of them is slowed only by
-- its own failures, never by the email's failures from other addresses, so
-- that nobody can keep a user from logging in by failing for them from afar
-- (OWASP's device cookie, by address). Rows expire and are swept.
CREATE TABLE login_known_addresses (
    key        TEXT PRIMARY KEY,
    expires_at DATETIME NOT NULL
);
CREATE INDEX login_known_addresses_expires ON login_known_addresses (expires_at);
