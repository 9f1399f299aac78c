package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/payment"
	"github.com/fintech-banking/bank/internal/store/storetest"

	"github.com/fintech-banking/bank/internal/poll"
)

// paymentRoutes lists the routes payment-service registers.
func paymentRoutes() []string {
	var r routeRecorder
	noop := func(h http.Handler) http.Handler { return h }
	payment.Routes(&r, slog.New(slog.DiscardHandler), nil, noop)
	slices.Sort(r)
	return r
}

// payFixture is what one call of a payment route needs: customer A's funded
// EUR account and a pending payment of A's.
type payFixture struct{ account, payment string }

type payRouteCase struct {
	path func(f payFixture) string
	body func(f payFixture) any
	want map[actor]int
}

func paymentOrder(account string, amount int64) map[string]any {
	return map[string]any{"from_account_id": account, "amount": amount, "currency": "EUR",
		"beneficiary": map[string]any{"name": "Bob", "iban": "DE89370400440532013000"}, "reference": "invoice 7"}
}

var paymentRouteCases = map[string]payRouteCase{
	"POST /api/v1/payments": {
		path: func(payFixture) string { return "/api/v1/payments" },
		body: func(f payFixture) any { return paymentOrder(f.account, 10) },
		want: ownerOnly(http.StatusCreated)},
	"GET /api/v1/payments": {
		path: func(payFixture) string { return "/api/v1/payments?status=pending" },
		want: every(http.StatusOK, nil)},
	"GET /api/v1/payments/{id}": {
		path: func(f payFixture) string { return "/api/v1/payments/" + f.payment },
		want: ownerOnly(http.StatusOK)},
	"POST /api/v1/payments/{id}/cancel": {
		path: func(f payFixture) string { return "/api/v1/payments/" + f.payment + "/cancel" },
		want: ownerOnly(http.StatusOK)},
	"PUT /api/v1/payments/limits/{account_id}": {
		path: func(f payFixture) string { return "/api/v1/payments/limits/" + f.account },
		body: func(payFixture) any { return map[string]any{"per_payment": 5_000, "daily": 10_000} },
		want: staffOnly(http.StatusOK)},
}

// slowRail keeps payments pending for the tests that act on them.
var slowRail = map[string]string{"BANK_PAYMENT_SUBMIT_INTERVAL": "1h"}

// TestPaymentRoutesMatrix calls every payment route as the owner, another
// customer, an operator, an admin and with no token.
func TestPaymentRoutesMatrix(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBankWith(t, storetest.URL(t, d), slowRail)
			ctx := context.Background()
			a, _ := b.customer("a")
			bc, _ := b.customer("b")
			clients := map[actor]*client.Client{custA: a, custB: bc, operator: b.staff["operator"], admin: b.staff["admin"], nobody: b.anon}
			n := 0
			for _, route := range paymentRoutes() {
				rc := paymentRouteCases[route]
				method, _, _ := strings.Cut(route, " ")
				for _, who := range actors {
					f := b.payFixture(a)
					var body any
					if rc.body != nil {
						body = rc.body(f)
					}
					n++
					res, err := clients[who].Do(ctx, method, rc.path(f), fmt.Sprintf("pay-matrix-%d", n), body, nil)
					if res == nil {
						t.Fatalf("%s as %s: %v", route, who, err)
					}
					if res.Status != rc.want[who] {
						t.Errorf("%s as %s: status %d, want %d (%s)", route, who, res.Status, rc.want[who], res.Body)
					}
				}
			}
			// A customer's list holds only their own payments.
			var list struct{ Data []payment.Payment }
			if _, err := bc.Do(ctx, http.MethodGet, "/api/v1/payments", "", nil, &list); err != nil || len(list.Data) != 0 {
				t.Errorf("B's list: %d payments (%v), want none of A's", len(list.Data), err)
			}
			b.verify()
		})
	}
}

// payFixture opens and funds an account of c's and makes a pending payment from it.
func (b *testBank) payFixture(c *client.Client) payFixture {
	b.t.Helper()
	acct := b.account(c, "EUR", 10_000)
	var p payment.Payment
	if _, err := c.Do(context.Background(), http.MethodPost, "/api/v1/payments", "fixture-"+acct.ID, paymentOrder(acct.ID, 100), &p); err != nil {
		b.t.Fatalf("fixture payment: %v", err)
	}
	return payFixture{account: acct.ID, payment: p.ID}
}

// TestPaymentsEndToEnd: payments made through the API settle through the
// simulated rail within seconds; a replay answers byte for byte; hostile
// input is refused with 400; the ledger verifies.
func TestPaymentsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBankWith(t, storetest.URL(t, d), map[string]string{"BANK_PAYMENT_SIM_DELAY": "100ms",
				"BANK_PAYMENT_SUBMIT_INTERVAL": "100ms", "BANK_PAYMENT_POLL_INTERVAL": "100ms",
				"BANK_PAYMENT_SIM_FAIL_RATE": "0.1", "BANK_PAYMENT_SIM_RETURN_RATE": "0.1"})
			ctx := context.Background()
			a, _ := b.customer("a")
			acct := b.account(a, "EUR", 1_000_000)
			first, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", "e2e-0", paymentOrder(acct.ID, 100), nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", "e2e-0", []byte(` {"currency":"EUR","amount":100,"from_account_id":"`+acct.ID+
				`","beneficiary":{"iban":"DE89370400440532013000","name":"Bob"},"reference":"invoice 7"}`), nil)
			if err != nil || !again.Replayed() || string(again.Body) != string(first.Body) {
				t.Errorf("replay: %v %s, want %s replayed", err, again.Body, first.Body)
			}
			if _, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", "e2e-0", paymentOrder(acct.ID, 101), nil); code(err) != "idempotency_key_reused" {
				t.Errorf("same key, another order: %v", err)
			}
			const n = 40
			var wg sync.WaitGroup
			for i := 1; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", fmt.Sprint("e2e-", i), paymentOrder(acct.ID, 100), nil); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			// Done when every payment has ended and the balance agrees: a
			// settled payment may still come back (returns follow settlement).
			var counts map[string]int
			var acc client.Account
			if !poll.Wait(time.Minute, func() bool {
				var list struct{ Data []payment.Payment }
				if _, err := a.Do(ctx, http.MethodGet, "/api/v1/payments?limit=500", "", nil, &list); err != nil {
					t.Fatal(err)
				}
				counts = map[string]int{}
				for _, p := range list.Data {
					counts[p.Status]++
				}
				if _, err := a.Do(ctx, http.MethodGet, "/api/v1/accounts/"+acct.ID, "", nil, &acc); err != nil {
					t.Fatal(err)
				}
				ended := counts["settled"]+counts["failed"]+counts["returned"] == n
				return ended && counts["settled"] > 0 && acc.Balance.Posted == 1_000_000-int64(100*counts["settled"]) && acc.Balance.Pending == 0
			}) {
				t.Fatalf("after a minute: %v, balance %+v; want all %d ended, some settled, and the balance to match", counts, acc.Balance, n)
			}
			for name, body := range map[string]string{
				"NUL":                `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","beneficiary":{"name":"B\u0000b","iban":"DE89370400440532013000"}}`,
				"invalid UTF-8":      `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","beneficiary":{"name":"B` + "\xff" + `","iban":"DE89370400440532013000"}}`,
				"duplicate key":      `{"from_account_id":"` + acct.ID + `","amount":1,"amount":2,"currency":"EUR","beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
				"case-folded key":    `{"from_account_id":"` + acct.ID + `","Amount":1,"currency":"EUR","beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
				"nested dup key":     `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","beneficiary":{"name":"B","name":"C","iban":"DE89370400440532013000"}}`,
				"float amount":       `{"from_account_id":"` + acct.ID + `","amount":1.5,"currency":"EUR","beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
				"unknown field":      `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","beneficiary":{"name":"B","iban":"DE89370400440532013000"},"x":1}`,
				"NUL in reference":   `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","reference":"a\u0000","beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
				"bad scheduled_for":  `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","scheduled_for":"tomorrow","beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
				"bad schedule every": `{"from_account_id":"` + acct.ID + `","amount":1,"currency":"EUR","schedule":{"every":"day","day":1},"beneficiary":{"name":"B","iban":"DE89370400440532013000"}}`,
			} {
				res, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", "hostile-"+name, []byte(body), nil)
				if res == nil || res.Status != http.StatusBadRequest {
					t.Errorf("%s: %v, want 400", name, err)
				}
			}
			for _, path := range []string{"/api/v1/payments/%00", "/api/v1/payments/a%FFb", "/api/v1/payments?status=%00", "/api/v1/payments?cursor=zzz",
				"/api/v1/payments?status=bogus", "/api/v1/payments?limit=0"} {
				res, err := a.Do(ctx, http.MethodGet, path, "", nil, nil)
				if res == nil || res.Status != http.StatusBadRequest {
					t.Errorf("GET %s: %v, want 400", path, err)
				}
			}
			res, err := a.Do(ctx, http.MethodPost, "/api/v1/payments", "key\xff", paymentOrder(acct.ID, 1), nil)
			if res == nil || res.Status != http.StatusBadRequest {
				t.Errorf("Idempotency-Key not UTF-8: %v, want 400", err)
			}
			res, err = a.Do(ctx, http.MethodPost, "/api/v1/payments", "", paymentOrder(acct.ID, 1), nil)
			if res == nil || res.Status != http.StatusBadRequest {
				t.Errorf("no Idempotency-Key: %v, want 400", err)
			}
			b.verify()
		})
	}
}

// TestPaymentReplicas runs "serve payment" beside "serve all" on one
// database, as a second replica of payment-service: payments placed through
// either settle once, and payment-service alone serves only its routes.
func TestPaymentReplicas(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fast := map[string]string{"BANK_PAYMENT_SIM_DELAY": "50ms", "BANK_PAYMENT_SUBMIT_INTERVAL": "50ms",
				"BANK_PAYMENT_POLL_INTERVAL": "50ms", "BANK_PAYMENT_SIM_FAIL_RATE": "0", "BANK_PAYMENT_SIM_RETURN_RATE": "0"}
			b := startBankWith(t, storetest.URL(t, d), fast)
			env := map[string]string{"BANK_HTTP_ADDR": "127.0.0.1:0", "BANK_MIGRATE": "false"}
			for k, v := range b.env {
				if env[k] == "" {
					env[k] = v
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var log serveLog
			go func() {
				done <- run(ctx, []string{"bank", "serve", "payment"}, func(k string) string { return env[k] }, nil, &log, &log)
			}()
			t.Cleanup(func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("serve payment: %v", err)
					}
				case <-time.After(30 * time.Second):
					t.Error("serve payment did not stop")
				}
			})
			url := waitListening(t, done, &log)
			waitReady(t, url, done, &log)
			a, _ := b.customer("a")
			acct := b.account(a, "EUR", 100_000)
			cp := *a
			cp.BaseURL = url
			replica := &cp
			// payment-service alone does not serve the accounts: the answer
			// is not the API's (whose ingress routes the path elsewhere), so
			// it is not checked against the document.
			alone := *replica
			alone.HTTP = &http.Client{Timeout: 30 * time.Second}
			if res, _ := alone.Do(context.Background(), http.MethodGet, "/api/v1/accounts", "", nil, nil); res == nil || res.Status != http.StatusNotFound {
				t.Errorf("payment-service serves GET /api/v1/accounts: %v", res)
			}
			const n = 30
			var wg sync.WaitGroup
			for i := range n {
				c := a
				if i%2 == 1 {
					c = replica
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.Do(context.Background(), http.MethodPost, "/api/v1/payments", fmt.Sprint("r-", i), paymentOrder(acct.ID, 100), nil); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			poll.Until(t, time.Minute, fmt.Sprintf("all %d payments settled", n), func() bool {
				var list struct{ Data []payment.Payment }
				if _, err := replica.Do(context.Background(), http.MethodGet, "/api/v1/payments?status=settled&limit=500", "", nil, &list); err != nil {
					t.Fatal(err)
				}
				return len(list.Data) == n
			})
			var acc client.Account
			if _, err := a.Do(context.Background(), http.MethodGet, "/api/v1/accounts/"+acct.ID, "", nil, &acc); err != nil {
				t.Fatal(err)
			}
			if acc.Balance.Posted != 100_000-100*n || acc.Balance.Pending != 0 {
				t.Errorf("balance %+v, want %d paid once", acc.Balance, 100*n)
			}
			b.verify()
		})
	}
}
