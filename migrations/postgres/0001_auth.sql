-- Identifiers are opaque ASCII: COLLATE "C" compares them byte by byte,
-- several times cheaper in every index than a locale's rules.
CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'operator', 'admin')),
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Refresh tokens are stored as SHA-256 hashes. A family is the chain of tokens
-- issued from one login; reusing a spent token revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    family_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    expires_at TIMESTAMPTZ NOT NULL,
    spent_at   TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- The outbox: every state change writes its event here in the same
-- transaction; a relay publishes the rows to the queue after commit.
CREATE TABLE outbox (
    id           TEXT COLLATE "C" PRIMARY KEY,
    type         TEXT NOT NULL,
    aggregate_id TEXT COLLATE "C" NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
