package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store/storetest"

	"github.com/fintech-banking/bank/internal/poll"
)

// TestDatabaseOutage cuts "serve all" off its PostgreSQL, as a crash or a
// restart of the database would: API calls answer 503 unavailable with
// Retry-After (a money write says to retry with its key), readiness is DOWN
// and shows nothing of the database, and once the database is back the
// same key posts the transfer, once.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dbURL, proxy := storetest.ProxiedURL(t)
	b := startBankOn(t, dbURL)
	ctx := context.Background()
	c, _ := b.customer("c")
	from, to := b.account(c, "EUR", 1000), b.account(c, "EUR", 0)
	transfer := client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: 7, Currency: "EUR"}

	proxy.Down.Store(true)
	proxy.CutAll()
	res, err := c.Do(ctx, http.MethodPost, "/api/v1/transfers", "during", transfer, nil)
	if res == nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusServiceUnavailable || code(err) != "unavailable" || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(res.Body), "Idempotency-Key") {
		t.Errorf("transfer with the database gone: %d %q %s, want 503 unavailable with Retry-After, naming the Idempotency-Key",
			res.Status, res.Header.Get("Retry-After"), res.Body)
	}
	if res, _ := c.Do(ctx, http.MethodGet, "/api/v1/accounts", "", nil, nil); res == nil || res.Status != http.StatusServiceUnavailable {
		t.Errorf("list with the database gone: %v, want 503", res)
	}
	status, body := get(t, b.url+"/actuator/health/readiness")
	if status != http.StatusServiceUnavailable || strings.Contains(body, "details") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("readiness with the database gone: %d %s, want 503 with statuses only", status, body)
	}

	proxy.Down.Store(false)
	poll.Wait(30*time.Second, func() bool {
		status, body = get(t, b.url+"/actuator/health/readiness")
		return status == http.StatusOK
	})
	if status != http.StatusOK {
		t.Fatalf("readiness after the database came back: %d %s", status, body)
	}
	if _, err := c.Transfer(ctx, "during", transfer); err != nil {
		t.Fatalf("the same key once the database is back: %v", err)
	}
	wantBalance(t, c, to.ID, client.Balance{Posted: 7, Available: 7})
	b.verify()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
