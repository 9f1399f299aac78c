package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestGroup: works running side by side share transactions on SQLite and
// have one each on PostgreSQL; a work's error undoes its writes alone; a
// work whose context ends while it waits writes nothing; a work that panics
// fails its transaction's works and leaves the group working.
func TestGroup(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE group_test (k TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		g := store.NewGroup(db, 16)
		insert := func(tx *sql.Tx, k string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO group_test (k) VALUES ($1)`, k)
			return err
		}
		count := func() int {
			t.Helper()
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM group_test`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// 60 works, every third refused after its insert; the first holds
		// its transaction open a moment so that the others queue.
		refused := errors.New("refused")
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			txs = map[*sql.Tx]int{}
		)
		errs := make([]error, 60)
		for i := range errs {
			wg.Go(func() {
				errs[i] = g.Do(ctx, fmt.Sprintf("k%02d", i), func(_ context.Context, tx *sql.Tx) error {
					mu.Lock()
					txs[tx]++
					mu.Unlock()
					if i == 0 {
						time.Sleep(50 * time.Millisecond)
					}
					if err := insert(tx, fmt.Sprintf("k%02d", i)); err != nil {
						return err
					}
					if i%3 == 1 {
						return refused
					}
					return nil
				})
			})
			if i == 0 {
				time.Sleep(10 * time.Millisecond) // the first takes the token
			}
		}
		wg.Wait()
		for i, err := range errs {
			if want := error(nil); i%3 == 1 {
				want = refused
				if !errors.Is(err, want) {
					t.Errorf("work %d: %v, want %v", i, err, want)
				}
			} else if err != nil {
				t.Errorf("work %d: %v", i, err)
			}
		}
		if got := count(); got != 40 {
			t.Errorf("%d rows, want the 40 works that were not refused", got)
		}
		switch {
		case db.Dialect == store.Postgres && len(txs) != 60:
			t.Errorf("60 works in %d transactions, want one each on PostgreSQL", len(txs))
		case db.Dialect == store.SQLite && (len(txs) >= 60 || len(txs) < 60/16):
			t.Errorf("60 works in %d transactions, want fewer than 60 and at least %d", len(txs), 60/16+1)
		}

		if db.Dialect == store.Postgres {
			return // no work waits for another's
		}
		// A work whose context ends while another holds the token.
		hold := make(chan struct{})
		held := make(chan struct{})
		go func() {
			_ = g.Do(ctx, "a", func(_ context.Context, tx *sql.Tx) error { close(held); <-hold; return nil })
		}()
		<-held
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := g.Do(cctx, "b", func(_ context.Context, tx *sql.Tx) error { return insert(tx, "cancelled") })
		cancel()
		close(hold)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a work cancelled while waiting: %v, want the context's error", err)
		}

		// A work that panics fails its transaction's works, which wrote
		// nothing, and the group goes on.
		before := count()
		var panicked any
		func() {
			defer func() { panicked = recover() }()
			_ = g.Do(ctx, "p", func(_ context.Context, tx *sql.Tx) error {
				if err := insert(tx, "before-panic"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if panicked == nil {
			t.Error("the panic did not reach the work's caller")
		}
		if got := count(); got != before {
			t.Errorf("%d rows after a panicking work, want %d", got, before)
		}
		if err := g.Do(ctx, "after", func(_ context.Context, tx *sql.Tx) error { return insert(tx, "after") }); err != nil {
			t.Errorf("after a panic: %v", err)
		}
	})
}
