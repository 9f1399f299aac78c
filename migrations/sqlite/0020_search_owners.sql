-- A customer's text search in one index lookup (internal/ledger/search.go):
-- the FTS5 table keeps, beside each description, the owners of the
-- transaction's accounts (one token each, "o" and the id in hex, so that any
-- id is one token of letters and digits; at least two tokens, the one owner
-- twice or "o o" for none, as bm25 counts a row's length over every column:
-- ledger.ftsOwners) and its time, so the words and the
-- owner are matched together and a ranked page is ordered without reading
-- the transactions. The ledger writes the row with the transaction, in the
-- same database transaction (a trigger on the transaction's insert cannot
-- see its postings, written after it).
DROP TRIGGER transactions_search_insert;
DROP TABLE transactions_search;
CREATE VIRTUAL TABLE transactions_search USING fts5(
    transaction_id UNINDEXED,
    created_at UNINDEXED,
    description,
    owners,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO transactions_search (transaction_id, created_at, description, owners)
SELECT t.id, t.created_at, t.description,
       (SELECT CASE count(*) WHEN 0 THEN 'o o' WHEN 1 THEN max(o.token) || ' ' || max(o.token) ELSE group_concat(o.token, ' ') END
        FROM (SELECT DISTINCT 'o' || lower(hex(a.owner_id)) AS token FROM postings p JOIN accounts a ON a.id = p.account_id
              WHERE p.transaction_id = t.id AND a.owner_id IS NOT NULL ORDER BY token) o)
FROM transactions t;
