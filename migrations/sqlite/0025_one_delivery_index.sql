-- One unique index over (user, event, channel) serves both the lookup of a
-- delivery and the list of a user's (see the PostgreSQL migration). SQLite
-- drops a table's UNIQUE constraint only by rebuilding it: rows keep their
-- order.
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
    claimed_by    TEXT
);
INSERT INTO notifications_new (id, event_id, event_type, user_id, channel, status, subject, attempts, last_error,
        claimed_until, created_at, updated_at, sent_at, claimed_by)
    SELECT id, event_id, event_type, user_id, channel, status, subject, attempts, last_error,
        claimed_until, created_at, updated_at, sent_at, claimed_by FROM notifications ORDER BY rowid;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE UNIQUE INDEX notifications_user_event ON notifications (user_id, event_id, channel);
