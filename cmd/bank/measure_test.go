package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
)

// TestMeasureRegistrationFlood repeats the registration flood of issue 13 on
// PostgreSQL with the production password hashing: 16 workers register for
// 15 s, from one address and then each request from its own loopback address,
// while a real user logs in; it logs what was created and the logins'
// latency. It measures, it does not judge: it runs only with BANK_MEASURE=1.
//
//	BANK_MEASURE=1 BANK_TEST_POSTGRES_URL=… go test ./cmd/bank -run MeasureRegistrationFlood -v
func TestMeasureRegistrationFlood(t *testing.T) {
	if os.Getenv("BANK_MEASURE") == "" {
		t.Skip("a measurement: set BANK_MEASURE=1 to run it")
	}
	b := startBank(t, store.Postgres)
	ctx := context.Background()
	email := b.customerEmail("real")
	lat := func(d time.Duration) []time.Duration {
		var out []time.Duration
		end := time.Now().Add(d)
		pace := time.NewTicker(50 * time.Millisecond) // a probe every 50 ms
		defer pace.Stop()
		for ; time.Now().Before(end); <-pace.C {
			s := time.Now()
			if _, err := b.anon.Login(ctx, email, "password of real"); err != nil {
				t.Logf("login: %v", err)
			}
			out = append(out, time.Since(s))
		}
		slices.Sort(out)
		return out
	}
	base := lat(3 * time.Second)
	t.Logf("quiet: %d logins, median %v, p95 %v", len(base), base[len(base)/2], base[len(base)*95/100])
	for _, distinct := range []bool{false, true} {
		var created, limited, busy, other atomic.Int64
		var n atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := n.Add(1)
					ip := "127.0.0.1"
					if distinct {
						ip = fmt.Sprintf("127.%d.%d.%d", 1+i>>16&255, i>>8&255, 1+i&254)
					}
					d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
					c := client.New(b.url, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}})
					_, err := c.Register(ctx, fmt.Sprintf("flood-%d-%d@example.test", w, i), "flood password "+fmt.Sprint(i), "F")
					var e *client.Error
					switch {
					case err == nil:
						created.Add(1)
					case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
						limited.Add(1)
					case errors.As(err, &e) && e.Status == http.StatusServiceUnavailable:
						busy.Add(1)
					default:
						if other.Add(1) <= 3 {
							t.Logf("register: %v", err)
						}
					}
				}
			}()
		}
		during := lat(15 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("flood (distinct addresses %v), 16 workers 15 s: created %d, 429 %d, 503 %d, other %d; logins %d, median %v, p95 %v",
			distinct, created.Load(), limited.Load(), busy.Load(), other.Load(), len(during), during[len(during)/2], during[len(during)*95/100])
	}
}
