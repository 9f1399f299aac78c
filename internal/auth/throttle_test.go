package auth

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSweepThrottles: a run of failed logins is forgotten a day after its
// last attempt, and not before.
func TestSweepThrottles(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		ctx := context.Background()
		for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
			if _, err := s.svc.Login(ctx, "nobody@example.com", "wrong password", ip); err == nil {
				t.Fatal("login of an unknown email succeeded")
			}
			s.clock.Advance(time.Hour)
		}
		s.clock.Advance(throttleRetention - 90*time.Minute) // the first is 24½ hours old, the second 23½
		if err := s.svc.sweepThrottles(ctx); err != nil {
			t.Fatal(err)
		}
		var keys []string
		rows, err := db.Query(`SELECT key FROM login_throttle`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		// The second login's pair, and the email's count from every address,
		// which it last updated.
		want := []string{throttleKey("nobody@example.com", "192.0.2.2"), throttleKey("nobody@example.com", "")}
		slices.Sort(want)
		slices.Sort(keys)
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("throttles left (-want +got):\n%s", diff)
		}
	})
}

// BenchmarkAuthenticate measures the fast path of every request: a token
// verified before, of a user whose state is cached.
func BenchmarkAuthenticate(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	keys := newTestKeyring(b, testKey1)
	svc, err := NewService(db, keys, testConfig(), time.Now, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Register(ctx, email, password, "Ann", "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	tok, err := svc.Login(ctx, email, password, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		check bool
	}{{"token only", false}, {"token and user state", true}} {
		b.Run(bc.name, func(b *testing.B) {
			v := NewVerifier(keys, time.Now)
			if bc.check {
				v.CheckUsers(NewUserStates(db, time.Hour, time.Now), discardLogger())
			}
			req := httptestRequest(tok.AccessToken)
			for b.Loop() {
				if _, err := v.Authenticate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestConcurrentLogins: logins of one user from one address at once either
// succeed or are told to wait (a run of attempts at once is counted before
// any password is checked, so that guesses cannot slip in together), never
// fail. Each counts itself under the address's throttle and a success
// deletes the count: one that found the row, then saw it deleted by
// another's success before it could lock it, counts itself anew.
func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		const workers, each = 8, 40
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			ok, told, other int
		)
		for range workers {
			wg.Go(func() {
				for range each {
					_, err := s.svc.Login(context.Background(), email, password, "192.0.2.7")
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case bank.ErrorKind(err) == bank.KindRateLimited:
						told++
					default:
						if other++; other <= 3 {
							t.Errorf("login: %v", err)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if other > 0 || ok == 0 {
			t.Errorf("of %d logins %d succeeded, %d were told to wait and %d failed", workers*each, ok, told, other)
		}
	})
}
