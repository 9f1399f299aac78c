package ledger_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// BenchmarkBalanceHistory measures balances as of a time and statements on
// one account with a long history: 1,000,000 postings, one a second, written
// straight into the table (the write path would take hours), with the
// account's balance set to their sum. It compares
//
//   - sum: the balance from the postings alone, no checkpoint (cold);
//   - checkpoints: the same once a first read has recorded them (the design
//     kept);
//   - running: the other design, a running balance kept on every posting,
//     read as the latest posting at or before t (built here by a window
//     function, as the write path would have kept it);
//
// and statements of an hour (3,600 lines) and a day (86,400 lines).
//
//	go test -run '^$' -bench BalanceHistory -benchtime 20x ./internal/ledger/
func BenchmarkBalanceHistory(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			benchHistory(b, storetest.Open(b, d))
		})
	}
}

const benchPostings = 1_000_000

func benchHistory(b *testing.B, db *store.DB) {
	ctx := context.Background()
	l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
	b.Cleanup(l.Close)
	alice := customer(b, db, "alice")
	a, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	began := time.Now()
	// Amounts +1000 and -999 in turn: the balance stays above zero.
	if db.Dialect == store.Postgres {
		_, err = db.ExecContext(ctx, `INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
			SELECT 'bench-' || i, $1, CASE WHEN i % 2 = 0 THEN 1000 ELSE -999 END, 'EUR', $2::timestamptz + i * interval '1 second'
			FROM generate_series(0, $3 - 1) AS i`, a.ID, start, benchPostings)
	} else {
		// SQLite keeps times as text, as the driver writes them.
		_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1)
			INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
			SELECT 'bench-' || i, $1, CASE WHEN i % 2 = 0 THEN 1000 ELSE -999 END, 'EUR',
				strftime('%Y-%m-%d %H:%M:%S', '2020-01-01', '+' || i || ' seconds') || '+00:00' FROM n`, a.ID, benchPostings)
	}
	if err == nil { // a statement's lines name their transactions
		_, err = db.ExecContext(ctx, `INSERT INTO transactions (id, type, amount, currency, description, created_by, created_at)
			SELECT transaction_id, 'transfer', abs(amount), currency, 'bench', 'alice', created_at FROM postings WHERE account_id = $1`, a.ID)
	}
	if err == nil {
		_, err = db.ExecContext(ctx, `UPDATE accounts SET posted = (SELECT sum(amount) FROM postings WHERE account_id = $1) WHERE id = $1`, a.ID)
	}
	if err == nil {
		_, err = db.ExecContext(ctx, `ANALYZE`)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d postings written in %s", benchPostings, time.Since(began).Round(time.Millisecond))
	// One posting every second: the balance at start+k s (k whole) is the
	// sum of the first k+1 postings.
	want := func(k int) int64 { n := int64(k + 1); return (n+1)/2*1000 - n/2*999 }
	rnd := rand.New(rand.NewPCG(7, 8))
	moment := func() int { return rnd.IntN(benchPostings) }
	balance := func(b *testing.B, k int) {
		got, err := l.Balance(ctx, alice, a.ID, start.Add(time.Duration(k)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		if got.Posted != want(k) {
			b.Fatalf("balance at +%ds = %d, want %d", k, got.Posted, want(k))
		}
	}
	b.Run("balance/sum", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if _, err := db.ExecContext(ctx, `DELETE FROM balance_checkpoints`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			balance(b, moment())
		}
	})
	balance(b, benchPostings-1) // records every checkpoint
	b.Run("balance/checkpoints", func(b *testing.B) {
		for b.Loop() {
			balance(b, moment())
		}
	})
	b.Run("balance/running", func(b *testing.B) {
		b.StopTimer()
		runningBalance(b, db, a.ID)
		b.StartTimer()
		for b.Loop() {
			k := moment()
			var got int64
			if err := db.QueryRowContext(ctx, `SELECT balance FROM bench_running WHERE account_id = $1 AND created_at <= $2
				ORDER BY created_at DESC LIMIT 1`, a.ID, start.Add(time.Duration(k)*time.Second)).Scan(&got); err != nil {
				b.Fatal(err)
			}
			if got != want(k) {
				b.Fatalf("running balance at +%ds = %d, want %d", k, got, want(k))
			}
		}
	})
	for _, span := range []time.Duration{time.Hour, 24 * time.Hour} {
		b.Run(fmt.Sprintf("statement/%s", span), func(b *testing.B) {
			for b.Loop() {
				from := start.Add(time.Duration(rnd.IntN(benchPostings-int(span.Seconds()))) * time.Second)
				var w countLines
				if err := l.Statement(ctx, alice, a.ID, from, from.Add(span-time.Second), &w); err != nil {
					b.Fatal(err)
				}
				if w.n != int(span.Seconds()) {
					b.Fatalf("%d lines in %s", w.n, span)
				}
			}
		})
	}
}

// runningBalance builds the other design's table: each posting with the
// balance after it, and the index its read needs.
func runningBalance(b *testing.B, db *store.DB, id string) {
	ctx := context.Background()
	began := time.Now()
	for _, q := range []string{
		`CREATE TABLE bench_running AS SELECT account_id, created_at,
			SUM(amount) OVER (PARTITION BY account_id ORDER BY created_at, transaction_id) AS balance
			FROM postings WHERE account_id = '` + id + `'`,
		`CREATE INDEX bench_running_at ON bench_running (account_id, created_at)`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("running balances built in %s", time.Since(began).Round(time.Millisecond))
}

// countLines counts a statement's lines.
type countLines struct{ n int }

func (c *countLines) Head(*ledger.Statement) error    { return nil }
func (c *countLines) Line(ledger.StatementLine) error { c.n++; return nil }
