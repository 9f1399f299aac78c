package ledger_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

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

// TestSearchRankWindow: a search with text ranks the newest matches, as
// many as Config.SearchRankWindow, and returns those only, most relevant
// first, page after page; an older match, however relevant, is left out,
// and Count still counts it. On PostgreSQL both ways of reading the window
// (the GIN index; newest first, once the statistics say the word is
// common) find the same.
func TestSearchRankWindow(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { return at }
		cfg := ledger.DefaultConfig()
		cfg.SearchRankWindow = 3
		newL := func() *ledger.Ledger {
			l := ledger.New(db, slog.New(slog.DiscardHandler), clock, cfg)
			t.Cleanup(l.Close)
			return l
		}
		l := newL()
		ann := customer(t, db, "ann")
		a, b := open(t, l, ann, "EUR", 100), a2(t, l, ann)
		var newest []string
		for i, desc := range []string{"kiwi kiwi kiwi", "kiwi a", "kiwi b c", "kiwi d", "kiwi kiwi e"} {
			at = at.Add(time.Minute)
			res, err := l.Transfer(ctx, ann, idem(fmt.Sprint("kiwi", i)), ledger.TransferInput{From: a, To: b, Money: eur(1), Description: desc})
			if err != nil {
				t.Fatal(err)
			}
			if i >= 2 {
				newest = append(newest, txID(t, res))
			}
		}
		slices.Sort(newest)
		check := func(name string, l *ledger.Ledger, q search.Query) {
			t.Helper()
			var hits []search.Hit
			for q.Limit = 1; ; {
				page, err := l.Search(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				hits = append(hits, page.Hits...)
				if page.Next == "" {
					break
				}
				if q.After, err = search.DecodeCursor(page.Next); err != nil || len(hits) > 5 {
					t.Fatalf("%s: cursor %v after %d hits", name, err, len(hits))
				}
			}
			var got []string
			for i, h := range hits {
				got = append(got, h.ID)
				if h.Score <= 0 || i > 0 && q.Compare(hits[i-1], h) >= 0 {
					t.Errorf("%s: hit %d %+v out of order or without a score: %+v", name, i, h, hits)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, newest) {
				t.Errorf("%s: found %v, want the newest three %v", name, got, newest)
			}
			q.After = nil
			if n, err := l.Count(ctx, q); err != nil || n != 5 {
				t.Errorf("%s: count %d, %v; want 5", name, n, err)
			}
		}
		check("staff", l, search.Query{Text: "kiwi"})
		check("ann's", l, search.Scope(search.Query{Text: "kiw"}, ann))
		check("an account", l, search.Query{Text: "kiwi", AccountID: b})
		if db.Dialect == store.Postgres {
			if _, err := db.ExecContext(ctx, `ANALYZE transactions`); err != nil {
				t.Fatal(err)
			}
			check("staff, a common word", newL(), search.Query{Text: "kiwi"})
		}
	})
}
