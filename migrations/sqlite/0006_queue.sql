-- The table queue (BANK_QUEUE_URL=db): one row per message, of the main
-- queue or of its dead-letter queue (column queue names which). A message
-- is visible once visible_at has passed; receiving it adds one to
-- receive_count and moves visible_at by the queue's visibility timeout.
-- Times are milliseconds since the Unix epoch.
CREATE TABLE queues (
    name                  TEXT PRIMARY KEY,
    dead_letter_queue     TEXT NOT NULL,
    visibility_timeout_ms INTEGER NOT NULL CHECK (visibility_timeout_ms BETWEEN 0 AND 43200000),
    max_receive_count     INTEGER NOT NULL CHECK (max_receive_count BETWEEN 1 AND 1000)
) STRICT;

CREATE TABLE queue_messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    queue         TEXT NOT NULL,
    body          BLOB NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);

-- The outbox relay reads unsent rows in insert order: seq. SQLite cannot add
-- such a column to a table, so the outbox is rebuilt with it, its rows kept
-- in their order. AUTOINCREMENT: a seq is never reused, even once the relay
-- has deleted the rows above it.
CREATE TABLE outbox_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   DATETIME NOT NULL
);
INSERT INTO outbox_new (id, type, aggregate_id, payload, created_at)
    SELECT id, type, aggregate_id, payload, created_at FROM outbox ORDER BY rowid;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

-- One relay publishes at a time: the replica whose lease has not expired.
CREATE TABLE relay_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
INSERT INTO relay_lease (name, holder, expires_at) VALUES ('outbox', '', 0);
