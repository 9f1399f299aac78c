package lease_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// tables makes a table of each kind of lease column and returns their
// leases: a timestamp (payments, notifications) and milliseconds
// (relay_lease).
func tables(t *testing.T, db *store.DB) map[string]*lease.Leases {
	t.Helper()
	ts := "TIMESTAMPTZ"
	if db.Dialect == store.SQLite {
		ts = "DATETIME"
	}
	ddl := []string{
		`CREATE TABLE stamped (id TEXT PRIMARY KEY, owner TEXT, until ` + ts + `)`,
		`INSERT INTO stamped (id) VALUES ('row')`,
		`CREATE TABLE millis (id TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL)`,
		`INSERT INTO millis (id, owner, until) VALUES ('row', '', 0)`,
	}
	for _, q := range ddl {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return map[string]*lease.Leases{
		"timestamp": lease.New(db, lease.Columns{Table: "stamped", Key: "id", Owner: "owner", Until: "until"}),
		"millis":    lease.New(db, lease.Columns{Table: "millis", Key: "id", Owner: "owner", Until: "until", Millis: true}),
	}
}

func TestLease(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for kind, l := range tables(t, db) {
			t.Run(kind, func(t *testing.T) {
				testLease(t, l)
			})
		}
	})
}

func testLease(t *testing.T, l *lease.Leases) {
	ctx := context.Background()
	check := func(what string, got bool, err error, want bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
	ok, err := l.Acquire(ctx, "row", "a", time.Minute)
	check("a takes a free lease", ok, err, true)
	ok, err = l.Acquire(ctx, "row", "b", time.Minute)
	check("b takes a's unexpired lease", ok, err, false)
	ok, err = l.Renew(ctx, "row", "b", time.Minute)
	check("b renews a's lease", ok, err, false)
	ok, err = l.Release(ctx, "row", "b")
	check("b releases a's lease", ok, err, false)
	ok, err = l.Renew(ctx, "row", "a", time.Minute)
	check("a renews its lease", ok, err, true)
	ok, err = l.Acquire(ctx, "row", "a", time.Minute)
	check("a takes its own lease again", ok, err, true)

	// a stalls past its lease and b takes it: a is now stale.
	if err := l.Expire(ctx, "row"); err != nil {
		t.Fatal(err)
	}
	ok, err = l.Acquire(ctx, "row", "b", time.Minute)
	check("b takes a's expired lease", ok, err, true)
	ok, err = l.Renew(ctx, "row", "a", time.Minute)
	check("stale a renews b's lease", ok, err, false)
	ok, err = l.Release(ctx, "row", "a")
	check("stale a releases b's lease", ok, err, false)
	ok, err = l.Acquire(ctx, "row", "a", time.Minute)
	check("stale a takes b's lease back", ok, err, false)

	ok, err = l.Release(ctx, "row", "b")
	check("b releases its lease", ok, err, true)
	ok, err = l.Acquire(ctx, "row", "c", time.Minute)
	check("c takes the released lease", ok, err, true)

	ok, err = l.Acquire(ctx, "missing", "c", time.Minute)
	check("c takes the lease of no row", ok, err, false)
}

// TestLeaseEndsInTheDatabasesClock: a lease taken for d ends d after the
// database's now, in the form the driver reads back as a time.
func TestLeaseEndsInTheDatabasesClock(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := tables(t, db)["timestamp"]
		if _, err := l.Acquire(ctx, "row", "a", time.Hour); err != nil {
			t.Fatal(err)
		}
		var until time.Time
		if err := db.QueryRowContext(ctx, `SELECT until FROM stamped WHERE id = 'row'`).Scan(&until); err != nil {
			t.Fatal(err)
		}
		// The test's clock and the database's are the same machine's.
		if d := time.Until(until); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("lease ends in %s, want an hour", d)
		}
	})
}

func TestInstance(t *testing.T) {
	t.Parallel()
	a, b := lease.Instance(), lease.Instance()
	if a == b {
		t.Errorf("two instances share the name %q", a)
	}
	if !regexp.MustCompile(`^.+-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("instance %q, want host-<12 hex digits>", a)
	}
}
