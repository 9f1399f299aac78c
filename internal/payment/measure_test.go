package payment

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMeasureThroughput measures the service without HTTP: 32 goroutines
// place 5,000 payments from 32 accounts (accepted/s), then one replica's
// submitter and poller take them through the simulated rail, with no delay,
// until every one has settled (settled/s). It measures, it does not judge:
// it runs only with BANK_MEASURE=1.
//
//	BANK_MEASURE=1 BANK_TEST_POSTGRES_URL=… go test ./internal/payment -run MeasureThroughput -v
func TestMeasureThroughput(t *testing.T) {
	t.Parallel()
	if os.Getenv("BANK_MEASURE") == "" {
		t.Skip("a measurement: set BANK_MEASURE=1 to run it")
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		const workers, n = 32, 5000
		accts := make([]string, workers)
		for i := range accts {
			accts[i] = e.account(e.alice, "EUR", 1_000_000_000)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					in := e.order(100)
					in.FromAccountID = accts[w]
					a, err := e.svc.Create(ctx, e.alice, idemOf(fmt.Sprint("m", i)), in)
					if err != nil || a.Outcome != idem.Created {
						t.Errorf("create: %s %s %v", a.Outcome, a.Body, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		t.Logf("%s: %d payments accepted in %v: %.0f accepted/s", db.Dialect, n, took.Round(time.Millisecond), n/took.Seconds())
		start = time.Now()
		settled := 0
		for settled < n {
			if _, err := e.svc.SubmitOnce(ctx); err != nil {
				t.Fatal(err)
			}
			k, err := e.svc.PollOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			settled += k
			if time.Since(start) > 5*time.Minute {
				t.Fatalf("%d settled after 5 minutes", settled)
			}
		}
		took = time.Since(start)
		t.Logf("%s: %d payments submitted and settled in %v: %.0f settled/s", db.Dialect, n, took.Round(time.Millisecond), n/took.Seconds())
		e.verify()
	})
}
