-- An account's posted balance at moments of its past, so that a balance as
-- of a time sums a bounded number of postings instead of the whole history.
-- posted is the sum of the account's postings whose created_at <= at. The
-- read path writes them as it sums postings, one every so many postings, and
-- only at moments old enough that no batch still in flight can post at or
-- before them: postings are append-only, so a row, once right, stays right.
-- The write path is unchanged. "bank ledger verify" checks every row.
CREATE TABLE balance_checkpoints (
    account_id TEXT COLLATE "C" NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    posted     BIGINT NOT NULL,
    PRIMARY KEY (account_id, at)
);
