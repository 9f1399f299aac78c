-- Metadata: a client's own strings on accounts, transactions, holds and
-- payments (bank.Metadata), a JSON object or NULL when there is none.
-- Added only: nullable columns that a release before this one neither reads
-- nor writes, so it still runs against this schema.
ALTER TABLE accounts ADD COLUMN metadata TEXT;
ALTER TABLE transactions ADD COLUMN metadata TEXT;
ALTER TABLE holds ADD COLUMN metadata TEXT;
ALTER TABLE payments ADD COLUMN metadata TEXT;
-- SQLite cannot index the pairs inside a JSON column, so the pairs of
-- accounts and transactions are also kept here, one row each, written in the
-- transaction that writes the object; lists filter through the lookup index.
CREATE TABLE metadata_entries (
    kind      TEXT NOT NULL CHECK (kind IN ('account', 'transaction')),
    object_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (kind, object_id, key)
);
CREATE INDEX metadata_entries_lookup ON metadata_entries (kind, key, value, object_id);
