-- A kept answer records how its request was decided as an outcome of the
-- ledger's own, not as the HTTP status the edge happened to answer with.
-- status stays, written beside outcome, while a replica of the previous
-- release (which reads only status) may still run; rows that release wrote
-- have no outcome and are read by their status. A later migration drops
-- status once no such replica can run.
ALTER TABLE idempotency_keys ADD COLUMN outcome TEXT CHECK (outcome IN ('created', 'changed', 'refused'));
