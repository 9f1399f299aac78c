-- Queue messages are found by seq and deliveries by (event, user, channel)
-- since the previous release (docs/operations.md, 5): the unique indexes on
-- their ids are read by nothing, and each cost an index entry per transfer
-- and per delivery. Message and delivery ids stay, unique by construction
-- (new ids), and still name them to the consumer, the log and the API.
--
-- Only from a release that no longer reads them: a replica of an earlier
-- one would find its receipts and deliveries by scanning. A rollback to such
-- a release re-creates them first (docs/operations.md, 5).
ALTER TABLE queue_messages DROP CONSTRAINT queue_messages_id_key;
ALTER TABLE notifications DROP CONSTRAINT notifications_pkey;
-- Without a primary key, logical replication (a managed upgrade, a change
-- stream) identifies a row by its unique key.
ALTER TABLE notifications REPLICA IDENTITY USING INDEX notifications_event_id_user_id_channel_key;
