-- Events are written straight into the table queue (queue 'notifications'):
-- the row committed with a change is the message a consumer receives, and
-- with SQS the relay forwards those rows. The outbox table stays, read only
-- by the relay, for rows an earlier release wrote; it is dropped by a later
-- migration, once no replica of such a release can write to it.
--
-- Messages are received in send order (seq) and a receive changes no indexed
-- column (visible_at, receive_count), so that it is a HOT update that writes
-- no index entry; room on each page keeps it so. A receive reads the queue's
-- first visible messages, dead-lettering those out of receives on the way,
-- instead of a sweep that read every message waiting.
DROP INDEX queue_messages_visible;
CREATE INDEX queue_messages_order ON queue_messages (queue, seq);
ALTER TABLE queue_messages SET (fillfactor = 70);
