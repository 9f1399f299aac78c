-- The earlier search index is PostgreSQL's; SQLite's full-text tables stay.
SELECT 1;
