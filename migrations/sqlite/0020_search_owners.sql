-- Transaction search, ranked and per customer (internal/ledger/search.go).
--
-- transactions_search keeps each transaction's description and, beside it,
-- its time, so that a ranked page (bm25, ties newest first) is ordered from
-- the text index alone.
--
-- transactions_search_owned holds a row for each owner of a transaction's
-- accounts, whose words are the description's words each prefixed with the
-- owner ("o", the owner id in hex, "x", the word): a customer's text search
-- is then one prefix lookup of their own words, which finds only their
-- transactions, rather than every transaction with the word joined to the
-- customer's (a common word is a sixth of a million transactions). The
-- ledger writes the words (search.Words) with the transaction, in the same
-- database transaction; a trigger cannot, as it neither sees the postings
-- (written after the transaction) nor splits words.
DROP TRIGGER transactions_search_insert;
DROP TABLE transactions_search;
CREATE VIRTUAL TABLE transactions_search USING fts5(
    transaction_id UNINDEXED,
    created_at UNINDEXED,
    description,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO transactions_search (transaction_id, created_at, description)
SELECT id, created_at, description FROM transactions;

CREATE VIRTUAL TABLE transactions_search_owned USING fts5(
    transaction_id UNINDEXED,
    created_at UNINDEXED,
    words,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- The words of the transactions already written, as the text index split
-- them (their order does not matter: no query is a phrase), for each owner.
CREATE VIRTUAL TABLE temp.transactions_search_instances USING fts5vocab(main, transactions_search, instance);
INSERT INTO transactions_search_owned (transaction_id, created_at, words)
SELECT s.transaction_id, s.created_at, group_concat('o' || lower(hex(o.owner_id)) || 'x' || i.term, ' ')
FROM temp.transactions_search_instances i
JOIN transactions_search s ON s.rowid = i.doc
JOIN (SELECT DISTINCT p.transaction_id, a.owner_id FROM postings p JOIN accounts a ON a.id = p.account_id
      WHERE a.owner_id IS NOT NULL) o ON o.transaction_id = s.transaction_id
GROUP BY s.rowid, o.owner_id;
DROP TABLE temp.transactions_search_instances;
