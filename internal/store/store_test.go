package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, d)
			want, err := store.Migrations(d)
			if err != nil {
				t.Fatal(err)
			}
			// Several processes start at once: each opens its own pool.
			const n = 4
			applied := make([][]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := store.Open(ctx, url, store.Options{})
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					applied[i], errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			total := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("migrate %d: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			if total != len(want) {
				t.Errorf("migrations applied %d times in all, want %d (each once)", total, len(want))
			}
			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var count int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != len(want) {
				t.Errorf("schema_migrations has %d rows, want %d", count, len(want))
			}
			again, err := db.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Errorf("second Migrate = %v, %v; want nothing applied", again, err)
			}
		})
	}
}

func TestInTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ('e1', 't', 'a', '{}', CURRENT_TIMESTAMP)`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v, want %v", err, boom)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("outbox has %d rows after a rolled-back transaction, want 0", n)
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "mysql://user:secret@host/db", store.Options{})
	if err == nil {
		t.Fatal("Open(mysql://…) succeeded, want an error")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error %q leaks the password", got)
	}
}

// TestSQLiteWritersTakeTurns: on SQLite a write transaction waits for the
// process's other one to end, starts as soon as it has, and gives up with
// its context instead of waiting on.
func TestSQLiteWritersTakeTurns(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	inFirst, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Tx(ctx, func(*sql.Tx) error {
			close(inFirst)
			<-release
			return nil
		})
	}()
	<-inFirst
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := db.Tx(short, func(*sql.Tx) error { return errors.New("ran beside another writer") }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a writer beside another: %v, want it to wait and give up with its context", err)
	}
	second := make(chan error, 1)
	ran := false
	go func() { second <- db.Tx(ctx, func(*sql.Tx) error { ran = true; return nil }) }()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil || !ran {
		t.Fatalf("the waiting writer: %v, ran %v", err, ran)
	}
}

func TestIn(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE in_test (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b", "o'brien", "c"} {
			if _, err := db.ExecContext(ctx, `INSERT INTO in_test (id) VALUES ($1)`, id); err != nil {
				t.Fatal(err)
			}
		}
		var texts []string
		for _, c := range []struct {
			values []string
			want   string
		}{
			{[]string{"b"}, "b"},
			{[]string{"a", "o'brien", "missing"}, "a,o'brien"},
			{[]string{"c", "a", "b", "c"}, "a,b,c"},
		} {
			in, args := store.In(db, "id", c.values)
			texts = append(texts, in)
			got := storetest.Column[string](t, db, `SELECT id FROM in_test WHERE `+in+` ORDER BY id`, args...)
			if strings.Join(got, ",") != c.want {
				t.Errorf("In(%q) found %q, want %q", c.values, got, c.want)
			}
		}
		// On PostgreSQL one statement serves every count: it is prepared
		// once per connection.
		if db.Dialect == store.Postgres && (texts[0] != texts[1] || texts[1] != texts[2]) {
			t.Errorf("In gave %q for 1, 3 and 4 values; want one statement text", texts)
		}
	})
}
