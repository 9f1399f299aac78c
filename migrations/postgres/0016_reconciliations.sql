-- Reconciliation: a bank's statement of an account (CAMT.053 or CSV)
-- matched line by line to the account's postings. An item is one outcome of
-- the matching: a pair (matched or mismatched) or a line of one side alone,
-- kept as JSON; resolved_by is the staff user whose resolve the item is
-- cleared under (its first), transaction_id the suspense posting that did.
CREATE TABLE reconciliations (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL,
    format           TEXT NOT NULL CHECK (format IN ('camt053', 'csv')),
    created_by       TEXT COLLATE "C" NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    matched          INTEGER NOT NULL,
    mismatched       INTEGER NOT NULL,
    unmatched_ours   INTEGER NOT NULL,
    unmatched_theirs INTEGER NOT NULL
);
CREATE TABLE reconciliation_items (
    reconciliation_id TEXT COLLATE "C" NOT NULL REFERENCES reconciliations (id),
    item              INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('matched', 'mismatched', 'unmatched_ours', 'unmatched_theirs')),
    ours              TEXT,
    theirs            TEXT,
    difference        TEXT,
    transaction_id    TEXT COLLATE "C",
    resolved_by       TEXT COLLATE "C",
    PRIMARY KEY (reconciliation_id, item)
);
CREATE INDEX reconciliation_items_by_status ON reconciliation_items (reconciliation_id, status, item);
