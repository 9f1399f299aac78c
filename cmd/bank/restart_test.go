package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// readiness returns the status of the service's readiness endpoint.
func readiness(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/actuator/health/readiness")
	if err != nil {
		t.Fatalf("readiness: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReadiness polls readiness until it answers want.
func waitReadiness(t *testing.T, base string, want int) {
	t.Helper()
	poll.Until(t, 30*time.Second, fmt.Sprintf("readiness %d", want), func() bool { return readiness(t, base) == want })
}

// TestSurviveTerminatedConnections runs the runbook's pg_terminate_backend
// on every connection of "serve all" (4.1), then takes the database away and
// brings it back (2.4, 3.2): the service drops the dead connections, answers
// 503 rather than 500 when a request cannot be served, keeps readiness UP
// while the database is there and liveness UP while it is not, and serves
// again without a restart. TestDatabaseOutage checks the answers during an
// outage in detail.
func TestSurviveTerminatedConnections(t *testing.T) {
	t.Parallel()
	dbURL, proxy := storetest.ProxiedURL(t)
	b := startBankOn(t, dbURL)
	ctx := context.Background()
	c, _ := b.customer("rhea")
	from, to := b.account(c, "EUR", 10_000), b.account(c, "EUR", 0)
	transfer := func(key string) error {
		_, err := c.Transfer(ctx, key, client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: 1, Currency: "EUR"})
		return err
	}
	if err := transfer("before"); err != nil {
		t.Fatal(err)
	}

	admin, err := store.Open(ctx, dbURL, store.Options{AppName: "bank-cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'bank'`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminated %d connections (%v), want the service's", n, err)
	}
	// Readiness asks whether a request could get a working connection: the
	// dead ones do not make it DOWN.
	if got := readiness(t, b.url); got != http.StatusOK {
		t.Errorf("readiness after pg_terminate_backend: %d, want 200", got)
	}
	for i, key := range []string{"after-terminate-1", "after-terminate-2"} {
		// A write on a terminated connection is retried on a new one when
		// nothing was sent; else it answers 503, and the client's retry
		// with the same key is safe.
		err := transfer(key)
		if err != nil && status(t, err) == http.StatusServiceUnavailable {
			t.Logf("transfer %d after pg_terminate_backend answered 503; retrying it with its key", i)
			err = transfer(key)
		}
		if err != nil {
			t.Errorf("transfer %d after pg_terminate_backend: %v", i, err)
		}
	}
	// A read on a terminated connection answers 503 (each discards one dead
	// connection); a client's retry gets through.
	for i := 0; ; i++ {
		_, err := c.Account(ctx, from.ID)
		if err == nil {
			break
		}
		if status(t, err) != http.StatusServiceUnavailable || i == 20 {
			t.Fatalf("read %d after pg_terminate_backend: %v, want 200 or 503", i, err)
		}
	}

	// The database goes away: readiness DOWN, liveness UP (no restart).
	proxy.Down.Store(true)
	proxy.CutAll()
	waitReadiness(t, b.url, http.StatusServiceUnavailable)
	if got, _ := get(t, b.url+"/actuator/health/liveness"); got != http.StatusOK {
		t.Errorf("liveness while the database is gone: %d, want 200", got)
	}
	// And comes back: the same process serves again.
	proxy.Down.Store(false)
	waitReadiness(t, b.url, http.StatusOK)
	if err := transfer("after"); err != nil {
		t.Errorf("transfer after the database is back: %v", err)
	}
	wantBalance(t, c, to.ID, client.Balance{Posted: 4, Available: 4})
	b.verify()
}
