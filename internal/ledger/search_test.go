package ledger_test

import (
	"context"
	"slices"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/search/searchtest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSearchContract runs the search contract against the ledger's own
// index: FTS5 on SQLite, tsvector and GIN on PostgreSQL.
func TestSearchContract(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		searchtest.Run(t, db, searchtest.Implementation{
			Open: func(t *testing.T, db *store.DB, l *ledger.Ledger) (search.Index, func(t *testing.T)) { return l, nil },
		})
	})
}

// TestFoundHidesOthers: Found, which makes a search's page whole, leaves out
// what the caller may not see, whatever ids an index handed it; staff see
// every one, with its accounts' names.
func TestFoundHidesOthers(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice, bob := customer(t, db, "alice"), customer(t, db, "bob")
		a, b := open(t, l, alice, "EUR", 100), open(t, l, bob, "EUR", 100)
		res, err := l.Transfer(ctx, alice, idem("t"), ledger.TransferInput{From: a, To: a2(t, l, alice), Money: eur(5)})
		if err != nil {
			t.Fatal(err)
		}
		mine := txID(t, res)
		res, err = l.Withdraw(ctx, bob, idem("w"), ledger.CashInput{AccountID: b, Money: eur(5), Description: ""})
		if err != nil {
			t.Fatal(err)
		}
		bobs := txID(t, res)
		for _, c := range []struct {
			p    bank.Principal
			want []string
		}{{alice, []string{mine}}, {bob, []string{bobs}}, {operator, []string{mine, bobs}}} {
			found, err := l.Found(ctx, c.p, []string{mine, bobs, "missing"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				got = append(got, f.ID)
				if len(f.AccountNames) != len(f.Postings) {
					t.Errorf("%s: names %v for postings %v", f.ID, f.AccountNames, f.Postings)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s found %v, want %v", c.p.UserID, got, c.want)
			}
		}
	})
}

func a2(t *testing.T, l *ledger.Ledger, p bank.Principal) string { return open(t, l, p, "EUR", 0) }
