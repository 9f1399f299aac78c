-- Transaction search inside the database (internal/ledger/search.go), kept in
-- step by the database itself: the text index is an expression index over
-- the description, so every insert of a transaction updates it in the very
-- statement that writes the transaction, with no column, table or trigger
-- to keep apart from it. The 'simple' configuration lowercases and does not
-- stem: descriptions are references, names and codes, not prose, and a
-- prefix query ("invo" finds "invoice") is what people type.
CREATE INDEX transactions_search ON transactions USING gin (to_tsvector('simple', description));

-- Staff search without a text or account filter reads transactions newest
-- first: (created_at, id) is the order and the keyset of every page.
CREATE INDEX transactions_created ON transactions (created_at DESC, id DESC);
