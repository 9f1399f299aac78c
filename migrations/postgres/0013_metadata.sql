-- Metadata: a client's own strings on accounts, transactions, holds and
-- payments (bank.Metadata), a JSON object or NULL when there is none.
-- Added only: nullable columns that a release before this one neither reads
-- nor writes, so it still runs against this schema.
ALTER TABLE accounts ADD COLUMN metadata JSONB;
ALTER TABLE transactions ADD COLUMN metadata JSONB;
ALTER TABLE holds ADD COLUMN metadata JSONB;
ALTER TABLE payments ADD COLUMN metadata JSONB;
-- Lists filter accounts and transactions by containment (metadata @> '{"k":"v"}'),
-- which jsonb_path_ops answers with one hash per key and value pair. The
-- indexes are partial: a row without metadata, most transfers, costs them
-- nothing on insert.
CREATE INDEX accounts_metadata ON accounts USING gin (metadata jsonb_path_ops) WHERE metadata IS NOT NULL;
CREATE INDEX transactions_metadata ON transactions USING gin (metadata jsonb_path_ops) WHERE metadata IS NOT NULL;
