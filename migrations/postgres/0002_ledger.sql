-- Accounts carry their balances: the row a transfer locks is the row it updates.
-- posted and pending change on every transfer; no index covers them, and
-- fillfactor 50 leaves room on each page so those updates stay HOT.
CREATE TABLE accounts (
    id              TEXT COLLATE "C" PRIMARY KEY,
    owner_id        TEXT COLLATE "C" REFERENCES users (id),
    number          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('checking', 'savings', 'cash', 'settlement', 'suspense')),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
    overdraft_limit BIGINT NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    posted          BIGINT NOT NULL DEFAULT 0,
    pending         BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
    created_at      TIMESTAMPTZ NOT NULL,
    -- The last guard: a customer account never goes below its floor, whatever
    -- the code above it does. System accounts (no owner) have no floor.
    CHECK (owner_id IS NULL OR posted - pending + overdraft_limit >= 0)
) WITH (fillfactor = 50);
CREATE INDEX accounts_owner ON accounts (owner_id, created_at);

-- A transaction is written once and never changed; a correction is a new
-- (reversal) transaction. reverses_id is unique: a transaction is reversed
-- once. The index is partial, so ordinary transactions cost it nothing.
CREATE TABLE transactions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    type        TEXT NOT NULL CHECK (type IN ('deposit', 'withdrawal', 'transfer', 'capture', 'reversal', 'payment')),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    currency    TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL,
    reverses_id TEXT COLLATE "C",
    hold_id     TEXT COLLATE "C",
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX transactions_reverses ON transactions (reverses_id) WHERE reverses_id IS NOT NULL;

-- Postings are append-only; per transaction and currency they sum to zero.
-- They carry no foreign keys: the write path has the transaction and the
-- locked account rows in hand, and a foreign-key check per posting (a trigger,
-- a lookup and a share lock on a row the batch already holds) cost more than
-- the insert itself. "bank ledger verify" checks the references.
CREATE TABLE postings (
    transaction_id TEXT COLLATE "C" NOT NULL,
    account_id     TEXT COLLATE "C" NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount <> 0),
    currency       TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (transaction_id, account_id)
);
CREATE INDEX postings_history ON postings (account_id, created_at DESC, transaction_id DESC);

CREATE TABLE holds (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    captured    BIGINT NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
    description TEXT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL,
    expires_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX holds_expiry ON holds (expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;

-- Idempotency keys are per user. The response of the first request is stored
-- in the same transaction that moved the money and replayed byte for byte.
CREATE TABLE idempotency_keys (
    user_id      TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key)
);
-- Only the purge reads created_at, and keys arrive in time order: a BRIN
-- index answers it for a fraction of a B-tree's cost on every insert.
CREATE INDEX idempotency_keys_created ON idempotency_keys USING brin (created_at);
