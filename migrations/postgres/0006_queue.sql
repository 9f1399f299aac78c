-- The table queue (BANK_QUEUE_URL=db): one row per message, of the main
-- queue or of its dead-letter queue (column queue names which). A message
-- is visible once visible_at has passed; receiving it adds one to
-- receive_count and moves visible_at by the queue's visibility timeout.
-- Times are milliseconds since the Unix epoch.
CREATE TABLE queues (
    name                  TEXT COLLATE "C" PRIMARY KEY,
    dead_letter_queue     TEXT COLLATE "C" NOT NULL,
    visibility_timeout_ms BIGINT NOT NULL CHECK (visibility_timeout_ms BETWEEN 0 AND 43200000),
    max_receive_count     INTEGER NOT NULL CHECK (max_receive_count BETWEEN 1 AND 1000)
);

CREATE TABLE queue_messages (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    queue         TEXT COLLATE "C" NOT NULL,
    body          BYTEA NOT NULL,
    sent_at       BIGINT NOT NULL,
    visible_at    BIGINT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);

-- The outbox relay reads unsent rows in insert order: seq. It never reads
-- "seq > the last one sent": a row that took its seq earlier may commit
-- later, and must still be sent. Rows already there are numbered in the
-- table's physical order: their insert order, as the outbox was only ever
-- appended to.
ALTER TABLE outbox ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX outbox_seq ON outbox (seq);

-- One relay publishes at a time: the replica whose lease has not expired.
-- expires_at is in the database's clock, so replicas' clocks do not matter.
CREATE TABLE relay_lease (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO relay_lease (name, holder, expires_at) VALUES ('outbox', '', 0);
