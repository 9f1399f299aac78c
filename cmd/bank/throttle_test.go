package main

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// statuses sends n requests at once with the given headers and counts the
// answers by status; every 429 must say when to retry.
func statuses(t *testing.T, n int, method, url string, header http.Header) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(method, url, nil)
			for k, vs := range header {
				req.Header[k] = vs
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
					t.Errorf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
				}
			}
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// TestThrottling runs two "serve all" processes with small limits: a caller
// and a client address each get their burst, then 429 with Retry-After;
// another caller is not slowed; health is never throttled; behind a trusted
// proxy, X-Forwarded-For names the client, and from anyone else it is
// ignored. Each process keeps its own buckets: limits are per replica.
func TestThrottling(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t, store.SQLite)
	env := map[string]string{"BANK_RATE_LIMIT": "0.01", "BANK_RATE_BURST": "10",
		"BANK_IP_RATE_LIMIT": "0.01", "BANK_IP_RATE_BURST": "60", "BANK_TRUSTED_PROXIES": "127.0.0.1/32"}
	b := startBankWith(t, dbURL, env)
	a, _ := b.customer("a")
	bc, _ := b.customer("b")
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	aToken, bToken := a.Token, bc.Token

	// One caller: its burst of 10, then 429 (the address has room for 60).
	if got := statuses(t, 40, http.MethodGet, b.url+"/api/v1/accounts", bearer(aToken)); got[200] != 10 || got[429] != 30 {
		t.Errorf("40 requests of one caller with a burst of 10: %v, want 10 × 200 and 30 × 429", got)
	}
	// Another caller is not slowed by the first.
	if got := statuses(t, 5, http.MethodGet, b.url+"/api/v1/accounts", bearer(bToken)); got[200] != 5 {
		t.Errorf("another caller: %v, want 5 × 200", got)
	}
	// Health and metrics are never throttled.
	if got := statuses(t, 100, http.MethodGet, b.url+"/actuator/health/readiness", nil); got[200] != 100 {
		t.Errorf("readiness under a spent budget: %v, want 100 × 200", got)
	}

	// Per address, through the trusted proxy (the test's own 127.0.0.1):
	// one client spends its burst, another behind the same proxy still passes.
	spent := statuses(t, 80, http.MethodGet, b.url+"/api/v1/auth/me", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if spent[429] != 20 {
		t.Errorf("80 anonymous requests from one client behind the proxy: %v, want 20 × 429 after its 60", spent)
	}
	if got := statuses(t, 5, http.MethodGet, b.url+"/api/v1/auth/me", http.Header{"X-Forwarded-For": {"203.0.113.8"}}); got[429] != 0 {
		t.Errorf("another client behind the same proxy: %v, want no 429", got)
	}
	// A spoofed left-most hop does not make a new client: the proxy's own
	// right-most entry is what counts.
	if got := statuses(t, 5, http.MethodGet, b.url+"/api/v1/auth/me", http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.7"}}); got[429] != 5 {
		t.Errorf("a spoofed first hop: %v, want 5 × 429 (the client is still 203.0.113.7)", got)
	}

	// A second replica has its own buckets: the same caller gets its burst there.
	otherURL, _ := startServe(t, "all", b.env)
	if got := statuses(t, 12, http.MethodGet, otherURL+"/api/v1/accounts", bearer(aToken)); got[200] != 10 || got[429] != 2 {
		t.Errorf("the same caller on a second process: %v, want its own burst of 10", got)
	}
}
