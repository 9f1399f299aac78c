package ops_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// recorder is a Progress that keeps what it is told.
type recorder struct {
	mu    sync.Mutex
	steps []string
	bytes [][2]int64 // done, total
}

// Step keeps name, and marks in bytes where a step begins (-1, -1).
func (r *recorder) Step(name string) {
	r.mu.Lock()
	r.steps = append(r.steps, name)
	r.bytes = append(r.bytes, [2]int64{-1, -1})
	r.mu.Unlock()
}
func (r *recorder) Bytes(done, total int64) {
	r.mu.Lock()
	r.bytes = append(r.bytes, [2]int64{done, total})
	r.mu.Unlock()
}

// TestBackupProgress checks what a backup and a restore tell their
// progress: each step by name, and bytes that only grow and end at the
// backup file's size, as its manifest records it.
func TestBackupProgress(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			srcURL := storetest.URL(t, d)
			src, err := store.Open(ctx, srcURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if _, err := src.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var made recorder
			m, err := ops.CreateBackup(ctx, src, srcURL, dir, time.Now(), &made)
			if err != nil {
				t.Fatal(err)
			}
			size := m.Files[0].Bytes
			if len(made.steps) < 3 || !endsAt(made.bytes, size) {
				t.Errorf("backup told steps %q and bytes %v, want its steps and bytes ending at %d", made.steps, tail(made.bytes), size)
			}
			var restored recorder
			if _, err := ops.Restore(ctx, filepath.Join(dir, m.Name), storetest.URL(t, d), false, &restored); err != nil {
				t.Fatal(err)
			}
			if len(restored.steps) < 2 || !endsAt(restored.bytes, size) {
				t.Errorf("restore told steps %q and bytes %v, want its steps and bytes ending at %d", restored.steps, tail(restored.bytes), size)
			}
		})
	}
}

// endsAt reports whether bytes only grow within each step, and the last
// report is total of total.
func endsAt(bytes [][2]int64, total int64) bool {
	if len(bytes) == 0 {
		return false
	}
	for i := 1; i < len(bytes); i++ {
		if bytes[i][0] >= 0 && bytes[i-1][0] >= 0 && bytes[i][0] < bytes[i-1][0] {
			return false
		}
	}
	last := bytes[len(bytes)-1]
	return last[0] == total && last[1] == total
}

func tail(b [][2]int64) [][2]int64 { return b[max(len(b)-3, 0):] }

// oldTables are the tables a manifest counted before it counted them all.
var oldTables = []string{"users", "refresh_tokens", "accounts", "transactions", "postings", "holds", "idempotency_keys", "outbox"}

// TestBackupCountsEveryTable backs up a database with a table no code
// names (as a later migration would add) and rows in notifications, which
// the old hand list left out: the manifest counts every table, and a
// restored copy that lacks rows or a table of it no longer matches. A
// manifest of eight tables still matches on those eight.
func TestBackupCountsEveryTable(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srcURL := storetest.MigratedURL(t, d)
			src, err := store.Open(ctx, srcURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			stmts := []string{
				`CREATE TABLE ledger_notes (id INTEGER PRIMARY KEY)`,
				`INSERT INTO ledger_notes (id) VALUES (1), (2)`,
				`INSERT INTO notifications (id, event_id, event_type, user_id, channel, status, subject, created_at, updated_at)
					VALUES ('n1', 'e1', 'transfer.posted', 'u1', 'email', 'sent', 'Transfer', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`,
			}
			if d == store.Postgres {
				// Another schema's tables are not the platform's.
				stmts = append(stmts, `CREATE SCHEMA elsewhere`, `CREATE TABLE elsewhere.other (id INTEGER)`)
			}
			for _, s := range stmts {
				if _, err := src.ExecContext(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			dir := t.TempDir()
			m, err := ops.CreateBackup(ctx, src, srcURL, dir, time.Now(), ops.Quiet{})
			if err != nil {
				t.Fatal(err)
			}
			for table, want := range map[string]int64{"ledger_notes": 2, "notifications": 1, "payments": 0, "audit_log": 0, "users": 0} {
				if got, ok := m.Rows[table]; !ok || got != want {
					t.Errorf("manifest rows[%s] = %d, %v; want %d", table, got, ok, want)
				}
			}
			for table := range m.Rows {
				if strings.HasPrefix(table, "sqlite_") || table == "other" {
					t.Errorf("manifest counts %s, not a table of the platform", table)
				}
			}

			// Restore into a scratch database and compare, as backup verify does.
			dstURL := storetest.URL(t, d)
			if _, err := ops.Restore(ctx, filepath.Join(dir, m.Name), dstURL, false, ops.Quiet{}); err != nil {
				t.Fatal(err)
			}
			dst, err := store.Open(ctx, dstURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			old := m
			old.Rows = map[string]int64{}
			for _, table := range oldTables {
				old.Rows[table] = m.Rows[table]
			}
			compare := func(m ops.Manifest) []string {
				t.Helper()
				v, rows, totals, err := ops.Contents(ctx, dst, d)
				if err != nil {
					t.Fatal(err)
				}
				return ops.CompareContents(m, v, rows, totals)
			}
			if diffs := compare(m); len(diffs) > 0 {
				t.Errorf("the restored copy differs from its manifest: %q", diffs)
			}
			if diffs := compare(old); len(diffs) > 0 {
				t.Errorf("the restored copy differs from an eight-table manifest: %q", diffs)
			}

			for _, s := range []string{`DELETE FROM notifications`, `DROP TABLE ledger_notes`} {
				if _, err := dst.ExecContext(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"ledger_notes is missing, the manifest says 2 rows", "notifications has 0 rows, the manifest says 1"}
			if diffs := compare(m); !slices.Equal(diffs, want) {
				t.Errorf("a restored copy without a table and a row: differences %q, want %q", diffs, want)
			}
			if diffs := compare(old); len(diffs) > 0 {
				t.Errorf("an eight-table manifest compared tables it does not list: %q", diffs)
			}
		})
	}
}
