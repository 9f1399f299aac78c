-- A delivery is found by (user, event, channel), and a user's deliveries are
-- listed by event, newest first (event ids are time-ordered): one unique
-- index serves both, where two (the unique key by event first, and a user's
-- by creation time) cost every delivery two index entries.
--
-- CREATE INDEX holds off writes to notifications while it builds (about a
-- second per million deliveries): the consumer waits, the ledger does not.
-- A rollback re-creates the two indexes first (docs/operations.md, 5).
CREATE UNIQUE INDEX notifications_user_event ON notifications (user_id, event_id, channel);
ALTER TABLE notifications REPLICA IDENTITY USING INDEX notifications_user_event;
ALTER TABLE notifications DROP CONSTRAINT notifications_event_id_user_id_channel_key;
DROP INDEX notifications_user;
