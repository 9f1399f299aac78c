-- Events are written straight into the table queue (queue 'notifications'):
-- the row committed with a change is the message a consumer receives, and
-- with SQS the relay forwards those rows. The outbox table stays, read only
-- by the relay, for rows an earlier release wrote; it is dropped by a later
-- migration, once no replica of such a release can write to it.
--
-- The dead-letter sweep looks for messages received before: an index of
-- those alone keeps it from reading every waiting message.
CREATE INDEX queue_messages_received ON queue_messages (queue, visible_at, seq) WHERE receive_count > 0;
