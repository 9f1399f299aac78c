-- Transaction search inside the database (internal/ledger/search.go): an FTS5
-- table of the descriptions, filled by a trigger in the transaction that
-- inserts the transaction, so it never drifts from the ledger. It keeps its
-- own copy of the id: an external-content table would point at the
-- transactions' rowids, which VACUUM may renumber (their key is text).
-- unicode61 with remove_diacritics folds case and accents ("cafe" finds
-- "Café"); transactions are never updated or deleted, so inserts are all
-- there is to follow.
CREATE VIRTUAL TABLE transactions_search USING fts5(
    transaction_id UNINDEXED,
    description,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO transactions_search (transaction_id, description) SELECT id, description FROM transactions;
CREATE TRIGGER transactions_search_insert AFTER INSERT ON transactions BEGIN
    INSERT INTO transactions_search (transaction_id, description) VALUES (new.id, new.description);
END;

-- Staff search without a text or account filter reads transactions newest
-- first: (created_at, id) is the order and the keyset of every page.
CREATE INDEX transactions_created ON transactions (created_at DESC, id DESC);
