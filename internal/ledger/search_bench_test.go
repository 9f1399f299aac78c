package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// benchTransactions is the size of the ledger BenchmarkSearch searches.
const benchTransactions = 1_000_000

// fillSQL writes benchTransactions transfers between 1,000 accounts of 100
// customers, one a second from 2026-01-01, set-based: what the ledger
// would have written (with each transaction's owners in the text index),
// without the minutes its write path would take.
var fillSQL = map[store.Dialect][]string{
	store.Postgres: {
		`INSERT INTO users (id, email, name, role, password_hash, created_at)
			SELECT 'u' || i, 'u' || i || '@example.test', 'u' || i, 'customer', 'x', now() FROM generate_series(1, 100) i`,
		`INSERT INTO accounts (id, owner_id, number, name, type, currency, status, created_at)
			SELECT 'a' || i, 'u' || (i % 100 + 1), 'n' || i, 'Account ' || i, 'checking', 'EUR', 'active', now() FROM generate_series(1, 1000) i`,
		`INSERT INTO transactions (id, type, amount, currency, description, created_by, owner_ids, created_at)
			SELECT 't' || lpad(i::text, 8, '0'), 'transfer', i % 10000 + 1, 'EUR',
				(ARRAY['Invoice', 'Rent', 'Salary', 'Groceries', 'Refund', 'Transfer'])[i % 6 + 1] || ' ' || i, 'bench',
				ARRAY['u' || ((i % 1000 + 1) % 100 + 1), 'u' || (((i + 1) % 1000 + 1) % 100 + 1)],
				timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second'
			FROM generate_series(1, $1::int) i`,
		`INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
			SELECT 't' || lpad(i::text, 8, '0'), 'a' || (i % 1000 + 1), -(i % 10000 + 1), 'EUR', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second'
			FROM generate_series(1, $1::int) i
			UNION ALL
			SELECT 't' || lpad(i::text, 8, '0'), 'a' || ((i + 1) % 1000 + 1), i % 10000 + 1, 'EUR', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second'
			FROM generate_series(1, $1::int) i`,
		`ANALYZE`,
	},
	store.SQLite: {
		`INSERT INTO users (id, email, name, role, password_hash, created_at)
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)
			SELECT 'u' || i, 'u' || i || '@example.test', 'u' || i, 'customer', 'x', '2026-01-01 00:00:00+00:00' FROM s`,
		`INSERT INTO accounts (id, owner_id, number, name, type, currency, status, created_at)
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
			SELECT 'a' || i, 'u' || (i % 100 + 1), 'n' || i, 'Account ' || i, 'checking', 'EUR', 'active', '2026-01-01 00:00:00+00:00' FROM s`,
		`INSERT INTO transactions (id, type, amount, currency, description, created_by, created_at)
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1)
			SELECT printf('t%08d', i), 'transfer', i % 10000 + 1, 'EUR',
				CASE i % 6 WHEN 0 THEN 'Invoice' WHEN 1 THEN 'Rent' WHEN 2 THEN 'Salary' WHEN 3 THEN 'Groceries' WHEN 4 THEN 'Refund' ELSE 'Transfer' END || ' ' || i,
				'bench', strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || i || ' seconds') || '+00:00'
			FROM s`,
		`INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
			WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1)
			SELECT printf('t%08d', i), 'a' || (i % 1000 + 1), -(i % 10000 + 1), 'EUR', strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || i || ' seconds') || '+00:00' FROM s
			UNION ALL
			SELECT printf('t%08d', i), 'a' || ((i + 1) % 1000 + 1), i % 10000 + 1, 'EUR', strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || i || ' seconds') || '+00:00' FROM s`,
		`INSERT INTO transactions_search (transaction_id, created_at, description)
			SELECT id, created_at, description FROM transactions ORDER BY id`,
		// Each description is a word and a number; each transaction has
		// two owners (ledger.ftsOwned).
		`INSERT INTO transactions_search_owned (transaction_id, created_at, words)
			SELECT id, created_at, o || lower(substr(description, 1, instr(description, ' ') - 1)) || ' ' || o || substr(description, instr(description, ' ') + 1)
			FROM (SELECT id, created_at, description, 'o' || lower(hex('u' || ((CAST(substr(id, 2) AS INTEGER) % 1000 + 1) % 100 + 1))) || 'x' AS o FROM transactions
				UNION ALL
				SELECT id, created_at, description, 'o' || lower(hex('u' || (((CAST(substr(id, 2) AS INTEGER) + 1) % 1000 + 1) % 100 + 1))) || 'x' FROM transactions)
			ORDER BY id`,
		`ANALYZE`,
	},
}

// BenchmarkSearch times one page (50) of the searches people make, on a
// ledger of a million transactions, on each database. The target
// is under 50 ms a page.
func BenchmarkSearch(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, d)
			start := time.Now()
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if d == store.Postgres {
					// A million rows take longer than a request may.
					if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
						return err
					}
				}
				for _, q := range fillSQL[d] {
					var args []any
					if strings.Contains(q, "$1") {
						args = []any{benchTransactions}
					}
					if _, err := tx.ExecContext(ctx, q, args...); err != nil {
						return fmt.Errorf("%w\n%s", err, q)
					}
				}
				return nil
			})
			if err != nil {
				b.Fatalf("fill: %v", err)
			}
			b.Logf("%s: %d transactions written in %s", d, benchTransactions, time.Since(start).Round(time.Second))
			l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
			b.Cleanup(l.Close)
			from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
			minAmount := int64(9000)
			for _, c := range []struct {
				name string
				q    search.Query
			}{
				{"staff newest", search.Query{}},
				{"staff text", search.Query{Text: "invoice"}},
				{"staff rare text", search.Query{Text: "salary 77777"}},
				{"staff text amount", search.Query{Text: "refund", MinAmount: &minAmount}},
				{"customer newest", search.Query{OwnerID: "u7"}},
				{"customer text", search.Query{OwnerID: "u7", Text: "rent"}},
				{"customer text since", search.Query{OwnerID: "u7", Text: "gro", From: &from}},
				{"account", search.Query{AccountID: "a42"}},
				{"account text", search.Query{AccountID: "a42", Text: "inv"}},
				{"staff text page 2", search.Query{Text: "invoice"}},
				{"customer text page 2", search.Query{OwnerID: "u7", Text: "rent"}},
			} {
				b.Run(c.name, func(b *testing.B) {
					c.q.Limit = 50
					if strings.HasSuffix(c.name, "page 2") {
						page, err := l.Search(ctx, c.q)
						if err != nil || page.Next == "" {
							b.Fatalf("%+v: %d hits, next %q, %v", c.q, len(page.Hits), page.Next, err)
						}
						if c.q.After, err = search.DecodeCursor(page.Next); err != nil {
							b.Fatal(err)
						}
					}
					for b.Loop() {
						page, err := l.Search(ctx, c.q)
						if err != nil || len(page.Hits) == 0 {
							b.Fatalf("%+v: %d hits, %v", c.q, len(page.Hits), err)
						}
					}
				})
			}
		})
	}
}
