package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"

	"github.com/fintech-banking/bank/internal/poll"
)

// TestMeasurePayments measures payment-service through the API of "serve
// all": 64 workers, one customer account each (16 customers), place payments for 10 s
// (accepted/s: answered 201 pending, money held); meanwhile the submitter
// and poller settle them through the simulated rail with no delay; then it
// waits for every payment to settle (settled/s: from the first order to the
// last settlement). It measures, it does not judge: it runs only with
// BANK_MEASURE=1, on SQLite and, when configured, PostgreSQL.
//
//	BANK_MEASURE=1 BANK_TEST_POSTGRES_URL=… go test ./cmd/bank -run MeasurePayments -v
func TestMeasurePayments(t *testing.T) {
	if os.Getenv("BANK_MEASURE") == "" {
		t.Skip("a measurement: set BANK_MEASURE=1 to run it")
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			b := startBankWith(t, storetest.URL(t, d), map[string]string{"BANK_PAYMENT_SIM_DELAY": "0s",
				"BANK_PAYMENT_SIM_FAIL_RATE": "0", "BANK_PAYMENT_SIM_RETURN_RATE": "0",
				"BANK_PAYMENT_SUBMIT_INTERVAL": "100ms", "BANK_PAYMENT_POLL_INTERVAL": "100ms"})
			ctx := context.Background()
			const workers = 64
			type payer struct {
				c    *client.Client
				acct string
			}
			// 16 customers (registrations are rate limited per address), 4
			// accounts each.
			payers := make([]payer, workers)
			var c *client.Client
			for i := range payers {
				if i%4 == 0 {
					c, _ = b.customer(fmt.Sprint("payer", i))
				}
				payers[i] = payer{c, b.account(c, "EUR", 1_000_000_000).ID}
			}
			var accepted, refused atomic.Int64
			start := time.Now()
			end := start.Add(10 * time.Second)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := payers[w]
					for i := 0; time.Now().Before(end); i++ {
						res, err := p.c.Do(ctx, http.MethodPost, "/api/v1/payments", fmt.Sprintf("m-%d-%d", w, i), paymentOrder(p.acct, 100), nil)
						switch {
						case res != nil && res.Status == http.StatusCreated:
							accepted.Add(1)
						default:
							refused.Add(1)
							if refused.Load() < 5 {
								t.Logf("refused: %v", err)
							}
						}
					}
				}()
			}
			wg.Wait()
			acceptFor := time.Since(start)
			n := accepted.Load()
			t.Logf("%s: %d payments accepted in %v: %.0f accepted/s (%d refused)", d, n, acceptFor.Round(time.Millisecond),
				float64(n)/acceptFor.Seconds(), refused.Load())
			op := b.staff["operator"]
			settled := poll.Wait(5*time.Minute, func() bool {
				pending := 0
				for _, s := range []string{"pending", "submitted"} {
					var l struct{ Data []struct{ ID string } }
					if _, err := op.Do(ctx, http.MethodGet, "/api/v1/payments?status="+s+"&limit=1", "", nil, &l); err != nil {
						t.Fatal(err)
					}
					pending += len(l.Data)
				}
				return pending == 0
			})
			if !settled {
				t.Fatal("payments still unsettled after 5 minutes")
			}
			total := time.Since(start)
			t.Logf("%s: all %d settled %v after the first order: %.0f settled/s", d, n, total.Round(time.Millisecond), float64(n)/total.Seconds())
			b.verify()
		})
	}
}
