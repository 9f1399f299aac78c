-- pgbench script: one transfer-shaped transaction, the floor under what a
-- transfer through the bank can cost on the same PostgreSQL. Two balance
-- updates and two postings in one durable commit, nothing else: no
-- idempotency key, no transaction row, no outbox, no HTTP.
--
-- Variables (pgbench -D): naccounts, the accounts table's row count; hot,
-- 0 for uniform pairs, 1 for hot-source (every transfer debits account 1),
-- 2 for hot-dest (every transfer credits account 1). bench/compare.sh sets
-- them and creates the tables.
\set amt random(1, 10000)
\if :hot = 1
\set a 1
\set b random(2, :naccounts)
\elif :hot = 2
\set a random(2, :naccounts)
\set b 1
\else
-- Two distinct accounts, uniformly, as "bank bench" picks them.
\set a random(1, :naccounts)
\set b random(1, :naccounts - 1)
\set b :b + case when :b >= :a then 1 else 0 end
\endif
-- Rows are locked in id order, as a careful ledger does, so concurrent
-- transfers between the same two accounts cannot deadlock.
\set lo least(:a, :b)
\set hi greatest(:a, :b)
\set dlo case when :lo = :a then -:amt else :amt end
\set debit -:amt
BEGIN;
UPDATE accounts SET balance = balance + :dlo WHERE id = :lo;
UPDATE accounts SET balance = balance - :dlo WHERE id = :hi;
INSERT INTO postings (account_id, amount) VALUES (:a, :debit);
INSERT INTO postings (account_id, amount) VALUES (:b, :amt);
END;
