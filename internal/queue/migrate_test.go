package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMigrationKeepsTheOutbox upgrades a database whose outbox holds rows
// written before migration 0006: they keep their content, get seq numbers
// in their insert order, and new rows number after them.
func TestMigrationKeepsTheOutbox(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, d), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ms, err := store.Migrations(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Version >= 6 {
					break
				}
				if _, err := db.ExecContext(ctx, m.SQL); err != nil {
					t.Fatalf("%s: %v", m.Name, err)
				}
				if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
					t.Fatal(err)
				}
			}
			at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			// Ids out of insert order: the order kept must be the insert order.
			for i, id := range []string{"c", "a", "b"} {
				if _, err := db.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ($1, 't', 'agg', $2, $3)`,
					id, fmt.Sprintf(`{"n":%d}`, i), at); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ('d', 't', 'agg', '{"n":3}', $1)`, at); err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryContext(ctx, `SELECT id, payload, created_at FROM outbox ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id, payload string
				var created time.Time
				if err := rows.Scan(&id, &payload, &created); err != nil {
					t.Fatal(err)
				}
				if !created.Equal(at) {
					t.Errorf("row %s: created_at %s, want %s", id, created, at)
				}
				got = append(got, id+payload)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := `[c{"n":0} a{"n":1} b{"n":2} d{"n":3}]`; fmt.Sprint(got) != want {
				t.Fatalf("outbox after the migration: %v, want %s", got, want)
			}
		})
	}
}
