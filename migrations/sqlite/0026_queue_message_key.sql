-- SQLite keeps its messages in seq order (the rowid): the index on
-- (queue, seq) is its only one, and stays.
SELECT 1;
