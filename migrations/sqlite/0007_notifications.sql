-- notification-service's own tables (see the PostgreSQL migration for why).
CREATE TABLE notification_preferences (
    user_id        TEXT PRIMARY KEY,
    email          INTEGER NOT NULL CHECK (email IN (0, 1)),
    sms            INTEGER NOT NULL CHECK (sms IN (0, 1)),
    phone          TEXT NOT NULL DEFAULT '',
    webhook_url    TEXT NOT NULL DEFAULT '',
    webhook_secret TEXT NOT NULL DEFAULT '',
    updated_at     DATETIME NOT NULL
);

CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
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
    UNIQUE (event_id, user_id, channel)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);
