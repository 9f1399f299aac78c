package ledger_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSearchMigration: migration 0020 files the transactions written before
// it under their accounts' owners, as the ledger files those it writes
// after, so a customer's text search finds them, and only theirs; and on
// PostgreSQL 0022 stores their words accent-folded, so "cafe" finds them.
func TestSearchMigration(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.MigratedTo(t, d, 19)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
			}
			at := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
			for _, u := range []string{"ann", "bo"} {
				exec(`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $1, 'customer', 'x', $3)`, u, u+"@example.test", at)
			}
			for _, a := range [][2]any{{"ann-1", "ann"}, {"bo-1", "bo"}, {"cash", nil}} {
				exec(`INSERT INTO accounts (id, owner_id, number, name, type, currency, status, created_at)
					VALUES ($1, $2, $1, $1, 'checking', 'EUR', 'active', $3)`, a[0], a[1], at)
			}
			for i, tx := range []struct{ id, desc, from, to string }{
				{"t-rent", "Rent March", "ann-1", "bo-1"},
				{"t-cafe", "Café rent share", "cash", "ann-1"},
				{"t-groceries", "Groceries", "ann-1", "cash"},
				{"t-bank", "Rent of the vault", "cash", "cash"},
			} {
				when := at.Add(time.Duration(i) * time.Minute)
				exec(`INSERT INTO transactions (id, type, amount, currency, description, created_by, created_at)
					VALUES ($1, 'transfer', 5, 'EUR', $2, 'op', $3)`, tx.id, tx.desc, when)
				exec(`INSERT INTO postings (transaction_id, account_id, amount, currency, created_at) VALUES ($1, $2, -5, 'EUR', $3)`, tx.id, tx.from, when)
				if tx.to != tx.from {
					exec(`INSERT INTO postings (transaction_id, account_id, amount, currency, created_at) VALUES ($1, $2, 5, 'EUR', $3)`, tx.id, tx.to, when)
				}
			}
			applied, err := db.Migrate(ctx)
			if err != nil || !slices.Contains(applied, "0020_search_owners") || !slices.Contains(applied, "0022_search_words") {
				t.Fatalf("migrate: applied %v, %v", applied, err)
			}
			l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
			defer l.Close()
			for _, c := range []struct {
				name string
				q    search.Query
				p    bank.Principal
				want []string
			}{
				{"ann's rent", search.Query{Text: "rent"}, bank.Principal{UserID: "ann", Role: bank.RoleCustomer}, []string{"t-cafe", "t-rent"}},
				{"bo's rent", search.Query{Text: "ren"}, bank.Principal{UserID: "bo", Role: bank.RoleCustomer}, []string{"t-rent"}},
				{"accented", search.Query{Text: "café"}, bank.Principal{UserID: "ann", Role: bank.RoleCustomer}, []string{"t-cafe"}},
				{"accents folded", search.Query{Text: "cafe"}, bank.Principal{UserID: "ann", Role: bank.RoleCustomer}, []string{"t-cafe"}},
				{"accents folded, staff", search.Query{Text: "CAFE"}, bank.Principal{UserID: "op", Role: bank.RoleOperator}, []string{"t-cafe"}},
				{"not bo's", search.Query{Text: "groceries"}, bank.Principal{UserID: "bo", Role: bank.RoleCustomer}, nil},
				{"staff", search.Query{Text: "rent"}, bank.Principal{UserID: "op", Role: bank.RoleOperator}, []string{"t-bank", "t-cafe", "t-rent"}},
				{"staff for bo", search.Query{Text: "rent", OwnerID: "bo"}, bank.Principal{UserID: "op", Role: bank.RoleOperator}, []string{"t-rent"}},
				{"account", search.Query{Text: "rent", AccountID: "bo-1"}, bank.Principal{UserID: "op", Role: bank.RoleOperator}, []string{"t-rent"}},
				{"the bank's account", search.Query{Text: "vault", AccountID: "cash"}, bank.Principal{UserID: "op", Role: bank.RoleOperator}, []string{"t-bank"}},
			} {
				q := search.Scope(c.q, c.p)
				q.Limit = 10
				page, err := l.Search(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var got []string
				for _, h := range page.Hits {
					got = append(got, h.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("%s: found %v, want %v", c.name, got, c.want)
				}
			}
		})
	}
}
