-- How many events a message holds (postgres/0028_queue_message_events.sql).
ALTER TABLE queue_messages ADD COLUMN events INTEGER NOT NULL DEFAULT 1;
