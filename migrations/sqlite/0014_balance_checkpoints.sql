-- An account's posted balance at moments of its past (see the PostgreSQL
-- migration of the same number): posted is the sum of the account's postings
-- whose created_at <= at.
CREATE TABLE balance_checkpoints (
    account_id TEXT NOT NULL,
    at         DATETIME NOT NULL,
    posted     BIGINT NOT NULL,
    PRIMARY KEY (account_id, at)
);
