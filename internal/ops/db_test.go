package ops_test

import (
	"context"
	"errors"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// openAs opens the database at url as application app, closed when the test ends.
func openAs(t *testing.T, url, app string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{AppName: app})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPostgresAdmin runs the connection, statement and replication queries
// on a real PostgreSQL database.
func TestPostgresAdmin(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t, store.Postgres)
	ctx := context.Background()
	admin := openAs(t, url, "bank-cli")
	if _, err := admin.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	idle := openAs(t, url, "auth-service")
	if err := idle.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	gs, err := ops.Connections(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(gs, func(g ops.ConnGroup) bool {
		return g.Application == "auth-service" && g.State == "idle" && g.Count >= 1
	}) {
		t.Errorf("Connections = %+v, want an idle auth-service connection", gs)
	}

	// A statement that runs until terminated.
	sleeper := openAs(t, url, "transaction-service")
	slept := make(chan error, 1)
	go func() {
		_, err := sleeper.ExecContext(ctx, `SELECT pg_sleep(60)`)
		slept <- err
	}()
	var long []ops.Query
	poll.Wait(30*time.Second, func() bool {
		if long, err = ops.LongQueries(ctx, admin, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		return len(long) > 0
	})
	if len(long) != 1 || long[0].Application != "transaction-service" || !strings.Contains(long[0].Query, "pg_sleep") {
		t.Fatalf("LongQueries = %+v, want the pg_sleep of transaction-service", long)
	}
	if none, err := ops.LongQueries(ctx, admin, time.Hour); err != nil || len(none) != 0 {
		t.Errorf("LongQueries(1h) = %+v, %v; want none", none, err)
	}
	pids, err := ops.Terminate(ctx, admin, long)
	if err != nil || len(pids) != 1 || pids[0] != long[0].PID {
		t.Fatalf("Terminate = %v, %v; want [%d]", pids, err, long[0].PID)
	}
	select {
	case err := <-slept:
		if err == nil {
			t.Error("the terminated statement succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the terminated statement is still running")
	}

	if _, err := ops.SlowQueries(ctx, admin, 10); err != nil && !errors.Is(err, ops.ErrNoStatStatements) {
		t.Errorf("SlowQueries: %v, want rows or ErrNoStatStatements", err)
	} else if err != nil && !strings.Contains(err.Error(), "shared_preload_libraries") {
		t.Errorf("SlowQueries error %q does not say how to enable the extension", err)
	}

	if rs, err := ops.ReplicationLag(ctx, admin); err != nil || len(rs) != 0 {
		t.Errorf("ReplicationLag = %+v, %v; want none on a server without standbys", rs, err)
	}
	p, err := ops.ServerConnections(ctx, admin)
	if err != nil || p.Used < 3 || p.Max < p.Used {
		t.Errorf("ServerConnections = %+v, %v; want at least this test's 3 connections under max_connections", p, err)
	}
}

// TestSQLiteRefusesStatistics checks that the PostgreSQL-only commands say
// so on SQLite instead of failing on a missing view.
func TestSQLiteRefusesStatistics(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	if _, err := ops.Connections(ctx, db); !errors.Is(err, ops.ErrPostgresOnly) {
		t.Errorf("Connections on SQLite: %v, want ErrPostgresOnly", err)
	}
	if _, err := ops.LongQueries(ctx, db, time.Minute); !errors.Is(err, ops.ErrPostgresOnly) {
		t.Errorf("LongQueries on SQLite: %v, want ErrPostgresOnly", err)
	}
	if _, err := ops.SlowQueries(ctx, db, 1); !errors.Is(err, ops.ErrPostgresOnly) {
		t.Errorf("SlowQueries on SQLite: %v, want ErrPostgresOnly", err)
	}
}

func TestMaintain(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, op := range []string{"analyze", "vacuum", "reindex"} {
			for _, concurrently := range []bool{true, false} {
				var done []string
				if err := ops.Maintain(ctx, db, op, ops.MaintenanceTables, concurrently, func(table string, _ time.Duration) { done = append(done, table) }); err != nil {
					t.Fatalf("%s (concurrently %t): %v", op, concurrently, err)
				}
				if !slices.Equal(done, ops.MaintenanceTables) {
					t.Errorf("%s went through %v, want %v", op, done, ops.MaintenanceTables)
				}
			}
		}
		if db.Dialect == store.Postgres {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'transactions' AND last_analyze IS NOT NULL`).Scan(&n); err != nil || n != 1 {
				t.Errorf("transactions has no last_analyze after analyze (%d, %v)", n, err)
			}
		}
		for _, bad := range []struct{ op, table, want string }{
			{"shrink", "transactions", "must be analyze, vacuum or reindex"},
			{"analyze", "transactions; DROP TABLE users", "is not a table name"},
			{"analyze", "no_such_table", "no_such_table"},
		} {
			err := ops.Maintain(ctx, db, bad.op, []string{bad.table}, true, nil)
			if err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("Maintain(%s, %s) = %v, want an error saying %q", bad.op, bad.table, err, bad.want)
			}
		}
		if ok, err := ops.HasSchema(ctx, db); err != nil || !ok {
			t.Errorf("HasSchema of a migrated database = %v, %v", ok, err)
		}
	})
}

// TestRunbookSlowQueries runs runbook 4.3's query as printed and as
// docs/operations.md corrects it, on a PostgreSQL that preloads
// pg_stat_statements (scripts/test-postgres.sh sets it up so): the printed
// one names columns PostgreSQL 13 renamed, the corrected one answers.
func TestRunbookSlowQueries(t *testing.T) {
	t.Parallel()
	const (
		printed   = `SELECT query, calls, mean_time, total_time FROM pg_stat_statements ORDER BY mean_time DESC LIMIT 10;`
		corrected = `SELECT query, calls, mean_exec_time, total_exec_time FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 10;`
	)
	docs, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docs), corrected) {
		t.Errorf("docs/operations.md does not give the corrected query %q", corrected)
	}
	db := openAs(t, storetest.URL(t, store.Postgres), "bank-cli")
	ctx := context.Background()
	var preload string
	if err := db.QueryRowContext(ctx, `SHOW shared_preload_libraries`).Scan(&preload); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(preload, "pg_stat_statements") {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatalf("the test PostgreSQL does not preload pg_stat_statements (%q): run scripts/test-postgres.sh", preload)
		}
		t.Skipf("the test PostgreSQL does not preload pg_stat_statements (%q): run scripts/test-postgres.sh", preload)
	}
	if _, err := db.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, printed); err == nil || !strings.Contains(err.Error(), `column "mean_time" does not exist`) {
		t.Errorf("the runbook's query as printed: %v; want the renamed column refused", err)
	}
	rows, err := db.QueryContext(ctx, corrected)
	if err != nil {
		t.Fatalf("the corrected query: %v", err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Errorf("the corrected query found no statement, not even its own earlier ones: %v", rows.Err())
	}
	if qs, err := ops.SlowQueries(ctx, db, 10); err != nil || len(qs) == 0 {
		t.Errorf("SlowQueries with the extension = %d rows, %v; want rows", len(qs), err)
	}
}

// TestReindexRetriesADeadlock: a plain REINDEX TABLE holds the table's
// SHARE lock while it waits for each index, and a transaction that read the
// table (and so holds its indexes) and then writes it waits for the table:
// PostgreSQL breaks the cycle by failing one of them, here the REINDEX,
// which waited first. Maintain runs it again, as the ledger does with a
// transaction that lost a deadlock, instead of giving up half done.
//
// Which waiter fails is whichever checks for a deadlock first once the
// cycle exists; each checks once, deadlock_timeout after it began to wait.
// The REINDEX checks after 3 s, the transaction after a minute: the REINDEX
// is the one that finds the cycle, however late the poll below sees it wait.
func TestReindexRetriesADeadlock(t *testing.T) {
	t.Parallel()
	url := storetest.MigratedURL(t, store.Postgres)
	ctx := context.Background()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("deadlock_timeout", "3s")
	u.RawQuery = q.Encode()
	db := openAs(t, u.String(), "bank-cli")
	app := openAs(t, url, "bank")
	tx, err := app.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL deadlock_timeout = '1min'`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = 'none'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ops.Maintain(ctx, db, "reindex", []string{"accounts"}, false, nil) }()
	poll.Until(t, 30*time.Second, "REINDEX waiting for a lock", func() bool {
		var waiting int
		err := app.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'REINDEX%'`).Scan(&waiting)
		return err == nil && waiting == 1
	})
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name = name WHERE id = 'none'`); err != nil {
		t.Fatalf("the transaction lost the deadlock: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("reindex after a deadlock: %v, want it run again and done", err)
	}
}
