-- How many events a message holds: a commit's events travel in one message
-- (event.Group, up to 50), and a queue's depth (bank_queue_messages, `bank
-- queue stats`) counts events, as on SQS, where the relay sends an event a
-- message: the runbook's thresholds (1,000 and 10,000) keep their meaning.
-- Messages written before, and by a replica of the previous release during
-- the upgrade, count one each; that release ignores the column. Adding a
-- column with a constant default rewrites nothing.
ALTER TABLE queue_messages ADD COLUMN events INTEGER NOT NULL DEFAULT 1;
