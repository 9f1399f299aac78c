package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// TestMaintenanceUnderLoad runs the runbook's table maintenance (4.2) —
// "bank db maintenance vacuum", "analyze" and "reindex" (on PostgreSQL
// REINDEX … CONCURRENTLY, and the plain REINDEX TABLE with
// --concurrently=false) — while 32 clients make transfers: requests may
// wait, none may fail, and the ledger is intact afterwards. Each command
// runs over and over until at least 50 transfers (2,000 in the long
// form) have started while it ran; the log gives p50 and p99 before and during each.
func TestMaintenanceUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load-shaped")
	}
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			l := newLoad(t, b, 4, 6, 1_000_000)
			began := time.Now()
			l.start(32)
			l.waitDecided(int64(scale(100, 20_000)), 5*time.Minute, "before the maintenance")
			before := l.during(began, time.Now())
			t.Logf("before: %d transfers, p50 %s, p99 %s", len(before), percentile(before, 50), percentile(before, 99))

			commands := [][]string{{"vacuum"}, {"analyze"}, {"reindex"}}
			if d == store.Postgres {
				commands = append(commands, []string{"reindex", "--concurrently=false"})
			}
			for _, args := range commands {
				var overlap []attempt
				runs := 0
				for len(overlap) < scale(50, 2000) {
					start := time.Now()
					out, err := runArgs(t, b.env, append([]string{"db", "maintenance"}, args...)...)
					if err != nil {
						t.Fatalf("db maintenance %v: %v\n%s", args, err, out)
					}
					runs++
					overlap = append(overlap, l.during(start, time.Now())...)
				}
				t.Logf("during db maintenance %v (%d runs): %d transfers, p50 %s, p99 %s, answers %v",
					args, runs, len(overlap), percentile(overlap, 50), percentile(overlap, 99), statusCounts(overlap))
			}
			l.stopAndWait()
			if bad := failed(l.during(began, time.Now())); len(bad) > 0 {
				t.Errorf("%d transfers failed under the maintenance, want 0; the first: %d %s", len(bad), bad[0].status, bad[0].err)
			}
			for _, a := range failed(l.during(began, time.Now())) {
				if a.status == http.StatusInternalServerError {
					t.Errorf("a 500 under the maintenance: %s\n%s", a.err, b.log.String())
					break
				}
			}
			l.check(t.Context(), openTestDB(t, b.env["BANK_DATABASE_URL"]))
			b.verify()
		})
	}
}
