package ledger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestVerifyFindsViolations breaks a sound ledger in one way per case, each
// on a fresh database, and checks that Verify names that very break.
func TestVerifyFindsViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // the violation Verify must report
		// breaks returns the statements that break the ledger; a, b are two
		// customer accounts, tx the transfer between them.
		breaks func(d store.Dialect, a, b, tx string) []string
	}{
		{"postings off balance", "transaction postings do not sum to zero", func(_ store.Dialect, a, _, tx string) []string {
			return []string{`UPDATE postings SET amount = amount + 1 WHERE transaction_id = '` + tx + `' AND account_id = '` + a + `'`}
		}},
		{"posting in another currency than its transaction", "posting currency differs from its transaction's", func(_ store.Dialect, _, _, tx string) []string {
			return []string{`UPDATE transactions SET currency = 'USD' WHERE id = '` + tx + `'`}
		}},
		{"posting in another currency than its account", "posting currency differs from its account's", func(_ store.Dialect, a, _, _ string) []string {
			return []string{`UPDATE accounts SET currency = 'USD' WHERE id = '` + a + `'`}
		}},
		{"posted balance", "posted balance differs from the sum of postings", func(_ store.Dialect, _, b, _ string) []string {
			return []string{`UPDATE accounts SET posted = posted - 1 WHERE id = '` + b + `'`}
		}},
		{"pending balance", "pending balance differs from the open holds", func(_ store.Dialect, a, _, _ string) []string {
			return []string{`UPDATE accounts SET pending = pending + 1 WHERE id = '` + a + `'`}
		}},
		{"posting of no transaction", "posting of an unknown transaction", func(d store.Dialect, a, b, _ string) []string {
			return []string{insertPosting(d, "ghost", a, -5), insertPosting(d, "ghost", b, 5)}
		}},
		{"posting to no account", "posting to an unknown account", func(d store.Dialect, _, _, tx string) []string {
			return []string{insertPosting(d, tx, "nowhere", 1)}
		}},
		{"reversal of nothing", "reversal of an unknown transaction", func(_ store.Dialect, _, _, tx string) []string {
			return []string{`UPDATE transactions SET reverses_id = 'ghost' WHERE id = '` + tx + `'`}
		}},
		{"money from nowhere", "currency balances do not sum to zero", func(d store.Dialect, a, _, _ string) []string {
			return []string{insertTransaction("gift", a), insertPosting(d, "gift", a, 7), `UPDATE accounts SET posted = posted + 7 WHERE id = '` + a + `'`}
		}},
		{"below the floor", "available balance below zero", func(_ store.Dialect, a, _, _ string) []string {
			return []string{`UPDATE accounts SET posted = posted - 10000, overdraft_limit = 0 WHERE id = '` + a + `'`,
				`UPDATE accounts SET posted = posted + 10000 WHERE id = 'system-cash-EUR'`}
		}},
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					db := storetest.Open(t, d)
					ctx := context.Background()
					l := newLedger(t, db)
					alice := customer(t, db, "alice")
					a, b := open(t, l, alice, "EUR", 1000), open(t, l, alice, "EUR", 0)
					res, err := l.Transfer(ctx, alice, idem("t"), ledger.TransferInput{From: a, To: b, Money: eur(10)})
					if err != nil {
						t.Fatal(err)
					}
					verify(t, l)
					breakLedger(t, db, tt.breaks(d, a, b, txID(t, res)))
					r, err := l.Verify(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if !slicesContainsPrefix(r.Violations, tt.want) {
						t.Errorf("Verify found %q, want a violation %q", r.Violations, tt.want)
					}
				})
			}
		})
	}
}

func insertPosting(d store.Dialect, tx, account string, amount int64) string {
	now := "now()"
	if d == store.SQLite {
		now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
	}
	return `INSERT INTO postings (transaction_id, account_id, amount, currency, created_at) VALUES ('` + tx + `', '` +
		account + `', ` + itoa(amount) + `, 'EUR', ` + now + `)`
}

func insertTransaction(id, by string) string {
	return `INSERT INTO transactions (id, type, amount, currency, description, created_by, created_at)
		SELECT '` + id + `', 'deposit', 7, 'EUR', '', '` + by + `', created_at FROM accounts WHERE id = '` + by + `'`
}

// breakLedger runs qs on one connection with the database's own guards off:
// CHECK constraints on SQLite, constraint triggers on PostgreSQL (the
// floor's CHECK is dropped there).
func breakLedger(t *testing.T, db *store.DB, qs []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if db.Dialect == store.SQLite {
		qs = append([]string{`PRAGMA ignore_check_constraints = ON`}, qs...)
	} else {
		qs = append([]string{`DO $$ DECLARE c text; BEGIN
			SELECT conname INTO c FROM pg_constraint WHERE conrelid = 'accounts'::regclass
				AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%owner_id IS NULL%posted%';
			EXECUTE format('ALTER TABLE accounts DROP CONSTRAINT %I', c); END $$`}, qs...)
	}
	for _, q := range qs {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func slicesContainsPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
