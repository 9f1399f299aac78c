package ledger_test

import (
	"context"
	"testing"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestCheckBalances breaks the balances behind the write path's back, one
// way after another, and checks that the cheap check counts each break.
func TestCheckBalances(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 1000)
		open(t, l, alice, "USD", 500)
		steps := []struct {
			query string
			want  int
		}{
			{"", 0},
			// EUR no longer sums to zero.
			{`UPDATE accounts SET posted = posted + 1 WHERE id = '` + a + `'`, 1},
			// USD too.
			{`UPDATE accounts SET posted = posted - 7 WHERE currency = 'USD' AND owner_id IS NULL`, 2},
			// A customer account below its floor is refused by the table's
			// CHECK, the last guard, so the check's second half cannot be
			// broken from here.
		}
		for _, s := range steps {
			if s.query != "" {
				if _, err := db.ExecContext(ctx, s.query); err != nil {
					t.Fatal(err)
				}
			}
			got, err := l.CheckBalances(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != s.want {
				t.Errorf("after %q: %d violations, want %d", s.query, got, s.want)
			}
		}
	})
}
