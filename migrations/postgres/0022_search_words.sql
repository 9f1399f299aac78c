-- Transaction search, accent-folded and stored (internal/ledger/search.go).
--
-- Words are folded as SQLite's FTS5 (remove_diacritics) and OpenSearch
-- (asciifolding) fold them, so "cafe" finds "Café": the text search
-- configuration bank_search is 'simple' (lower case, no stemming) with the
-- unaccent dictionary before it. unaccent ships with PostgreSQL (contrib),
-- is a trusted extension since PostgreSQL 13 (the database's owner may
-- create it) and is available on Amazon RDS and Aurora.
--
-- Each transaction keeps its words as a stored column, computed by the
-- database from the description in the statement that writes the
-- transaction (nothing to keep in step): a search reads them instead of
-- splitting the description again for every row it looks at, which is what
-- lets a common word's newest matches be read newest first, and ranked,
-- within a page's time (ranking by ts_rank reads them too). The GIN index
-- transactions_words over (owner_ids, search_words) is what this release
-- searches; transactions_search, over the description's expression, is
-- the previous release's and stays until a later release drops it, so that
-- a release rolled back still finds its index.
--
-- Adding the column rewrites the table under an exclusive lock (about 10 s
-- a million transactions here): on a large ledger, run it in a quiet hour.
SET LOCAL statement_timeout = 0;

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION bank_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION bank_search
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart
    WITH unaccent, simple;

ALTER TABLE transactions ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('bank_search', description)) STORED;

CREATE INDEX transactions_words ON transactions USING gin (owner_ids, search_words);
