-- The unique indexes on queue message and delivery ids are read by nothing
-- since the previous release (see the PostgreSQL migration). SQLite drops a
-- column's constraint only by rebuilding its table: rows, order and the
-- message sequence are kept (seq is never used twice, as before).
CREATE TABLE queue_messages_new (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL,
    queue         TEXT NOT NULL,
    body          BLOB NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO queue_messages_new (seq, id, queue, body, sent_at, visible_at, receive_count)
    SELECT seq, id, queue, body, sent_at, visible_at, receive_count FROM queue_messages ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'queue_messages_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'queue_messages_new', max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'queue_messages'), 0),
                                     coalesce((SELECT max(seq) FROM queue_messages_new), 0));
DROP TABLE queue_messages;
ALTER TABLE queue_messages_new RENAME TO queue_messages;
CREATE INDEX queue_messages_order ON queue_messages (queue, seq);

CREATE TABLE notifications_new (
    id            TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'logged')),
    subject       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    claimed_until DATETIME,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    sent_at       DATETIME,
    claimed_by    TEXT,
    UNIQUE (event_id, user_id, channel)
);
INSERT INTO notifications_new (id, event_id, event_type, user_id, channel, status, subject, attempts, last_error,
        claimed_until, created_at, updated_at, sent_at, claimed_by)
    SELECT id, event_id, event_type, user_id, channel, status, subject, attempts, last_error,
        claimed_until, created_at, updated_at, sent_at, claimed_by FROM notifications ORDER BY rowid;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);
