-- A kept answer that is a transaction, just made, can be rebuilt from the
-- transaction itself: such a key stores the transaction's id and an empty
-- response instead of a copy of the answer. Releases from this one on read
-- both forms; they write the compact one only when configured to
-- (BANK_COMPACT_IDEMPOTENCY_KEYS), because the release before this one
-- reads only the copy.
ALTER TABLE idempotency_keys ADD COLUMN transaction_id TEXT COLLATE "C";
