-- A customer's text search in one index lookup (internal/ledger/search.go):
-- each transaction keeps the owners of its accounts, written with it by the
-- ledger (accounts never change owner), and the text index covers them too,
-- so the words and the owner are matched together in the one GIN index
-- instead of the words' matches being joined to the owner's postings. The
-- GIN index answers a staff search without an owner from its text column
-- alone.
--
-- The backfill rewrites every transaction once: on a large ledger, run it in
-- a quiet hour.
ALTER TABLE transactions ADD COLUMN owner_ids text[] NOT NULL DEFAULT '{}';

UPDATE transactions t SET owner_ids = o.ids
FROM (SELECT p.transaction_id, array_agg(DISTINCT a.owner_id ORDER BY a.owner_id) AS ids
      FROM postings p JOIN accounts a ON a.id = p.account_id
      WHERE a.owner_id IS NOT NULL
      GROUP BY p.transaction_id) o
WHERE t.id = o.transaction_id;

DROP INDEX transactions_search;
CREATE INDEX transactions_search ON transactions USING gin (owner_ids, to_tsvector('simple', description));
