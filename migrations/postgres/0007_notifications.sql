-- notification-service's own tables.

-- A user's choice of channels. No row means the defaults: email on, SMS and
-- webhook off. webhook_secret signs the webhooks (HMAC-SHA256); it must be
-- kept in the clear to sign, and is shown to its user once, when it is made.
CREATE TABLE notification_preferences (
    user_id        TEXT COLLATE "C" PRIMARY KEY,
    email          BOOLEAN NOT NULL,
    sms            BOOLEAN NOT NULL,
    phone          TEXT NOT NULL DEFAULT '',
    webhook_url    TEXT NOT NULL DEFAULT '',
    webhook_secret TEXT NOT NULL DEFAULT '',
    updated_at     TIMESTAMPTZ NOT NULL
);

-- One row per delivery: an event, to one recipient, on one channel. The
-- unique key is what makes a redelivered or redriven event (same event_id,
-- new message id) deliver nothing twice. status moves pending → sent (or
-- logged, when the channel is log-only); a failed attempt stays pending with
-- its error, to be tried again when the queue hands the event back.
-- claimed_until is a short lease: a consumer delivers only a row it claimed,
-- so two consumers holding the same message never both send.
CREATE TABLE notifications (
    id            TEXT COLLATE "C" PRIMARY KEY,
    event_id      TEXT COLLATE "C" NOT NULL,
    event_type    TEXT NOT NULL,
    user_id       TEXT COLLATE "C" NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'logged')),
    subject       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    claimed_until TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    UNIQUE (event_id, user_id, channel)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);
