-- SQLite does not compress its rows: nothing to change.
SELECT 1;
