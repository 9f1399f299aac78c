-- Nothing to change on SQLite: the FTS5 tables of migrations 0018 and 0020
-- already fold accents (remove_diacritics) and hold each description's
-- words. On PostgreSQL this migration folds accents and stores the words.
SELECT 1;
