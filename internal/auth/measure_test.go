package auth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestMeasureProductionTiming times 300 failed logins for a real email and
// 300 for an unknown one, interleaved, with the production argon2id
// parameters on PostgreSQL, and logs the medians and the Mann-Whitney p. It
// runs only with BANK_MEASURE=1 (about 25 s):
//
//	BANK_MEASURE=1 BANK_TEST_POSTGRES_URL=… go test ./internal/auth -run MeasureProductionTiming -v
func TestMeasureProductionTiming(t *testing.T) {
	t.Parallel()
	if os.Getenv("BANK_MEASURE") == "" {
		t.Skip("a measurement: set BANK_MEASURE=1 to run it")
	}
	db := storetest.Open(t, store.Postgres)
	cfg := DefaultConfig()
	cfg.LoginBurst, cfg.FreeAccountFailures = 1<<30, 1<<30
	svc, err := NewService(db, newTestKeyring(t, testKey1), cfg, time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Register(ctx, email, password, "Ann", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	order := make([]bool, 600)
	for i := range 300 {
		order[i] = true
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var k, u []float64
	for i, real := range order {
		who := "nobody@example.com"
		if real {
			who = email
		}
		ip := fmt.Sprintf("10.0.%d.%d", i>>8, i&255)
		start := time.Now()
		if _, err := svc.Login(ctx, who, "wrong password", ip); err == nil {
			t.Fatal("a wrong password logged in")
		}
		d := float64(time.Since(start))
		if real {
			k = append(k, d)
		} else {
			u = append(u, d)
		}
	}
	t.Logf("known median %v, unknown median %v, p=%.3g", time.Duration(median(k)), time.Duration(median(u)), mannWhitneyP(k, u))
}
