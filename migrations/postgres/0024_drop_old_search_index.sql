-- Searches read transactions_words (migration 0022) since the previous
-- release; the index of the release before it, over the description's
-- unfolded words, is read by nothing and cost every transaction a second
-- tsvector and a second GIN entry. A rollback past the previous release
-- rebuilds it first (docs/operations.md, 5).
DROP INDEX IF EXISTS transactions_search;
