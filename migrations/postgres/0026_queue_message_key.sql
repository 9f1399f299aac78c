-- A message is changed by its queue and seq since the previous release
-- (docs/operations.md, 5) and read in seq order within its queue: one
-- unique index on (queue, seq), the primary key, serves both, in place of
-- the key on seq alone and queue_messages_order. One index entry less per
-- event, on the ledger's write and on the queue's vacuum.
--
-- Only from that release: a replica of an earlier one would change its
-- messages by seq alone, scanning the table, during the rollout.
CREATE UNIQUE INDEX queue_messages_key ON queue_messages (queue, seq);
ALTER TABLE queue_messages DROP CONSTRAINT queue_messages_pkey,
    ADD CONSTRAINT queue_messages_pkey PRIMARY KEY USING INDEX queue_messages_key;
DROP INDEX queue_messages_order;
