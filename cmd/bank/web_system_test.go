package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// ingress stands for fintech-ingress: it sends each API path to the service
// that serves it, as deploy/k8s/base/ingress.yaml does for the paths these
// tests call.
func ingress(t *testing.T, urls map[string]string) string {
	t.Helper()
	proxies := map[string]*httputil.ReverseProxy{}
	for name, u := range urls {
		target, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		proxies[name] = httputil.NewSingleHostReverseProxy(target)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/api/v1/auth") || strings.HasPrefix(p, "/api/v1/users") || strings.HasPrefix(p, "/api/v1/audit"):
			proxies["auth"].ServeHTTP(w, r)
		case strings.HasPrefix(p, "/api/v1/system") || strings.HasPrefix(p, "/api/v1/notifications"):
			proxies["notification"].ServeHTTP(w, r)
		case p == "/api/v1/accounts" || strings.HasPrefix(p, "/api/v1/accounts/") && !strings.Contains(p, "/transactions") && !strings.Contains(p, "/holds"):
			proxies["account"].ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWebAloneSystemPage runs the platform as the cluster does: auth,
// account and notification services apart on one database, an ingress in
// front and "bank serve web" alone calling it. An admin's system page shows
// each service's health, the queue's depths and the services' key metrics;
// the admin redrives the dead-letter queue and turns maintenance on (the
// customers' API answers 503, the page stays the admin's) and off.
func TestWebAloneSystemPage(t *testing.T) {
	t.Parallel()
	dbURL := storetest.MigratedURL(t, store.SQLite)
	b := &testBank{t: t, env: map[string]string{
		"BANK_DATABASE_URL": dbURL,
		"BANK_DATA_DIR":     t.TempDir(),
		"BANK_JWT_SECRET":   randomHex(32),
		"BANK_LOG_LEVEL":    "info",
	}}
	urls := map[string]string{}
	for _, svc := range []string{"auth", "account", "notification"} {
		env := map[string]string{"BANK_HTTP_ADDR": "127.0.0.1:0", "BANK_MIGRATE": "false", "BANK_SHUTDOWN_DELAY": "0s",
			"BANK_MAINTENANCE_POLL": "100ms", "BANK_NOTIFICATION_CONSUMER": "false"}
		for k, v := range b.env {
			env[k] = v
		}
		urls[svc], _ = startServe(t, svc, env)
	}
	b.url = ingress(t, urls)
	b.anon = client.New(b.url, checkedHTTP(t, 30*time.Second, nil))
	b.makeStaff()
	cust, _ := b.customer("dana")
	ctx := context.Background()

	webURL, _ := startServe(t, "web", map[string]string{"BANK_API_URL": b.url, "BANK_HTTP_ADDR": "127.0.0.1:0",
		"BANK_SHUTDOWN_DELAY": "0s",
		"BANK_SERVICE_URLS":   "auth-service=" + urls["auth"] + ",account-service=" + urls["account"] + ",notification-service=" + urls["notification"]})
	deadLetter(t, dbURL, 4)
	qs, err := b.staff["operator"].Queues(ctx)
	if err != nil || len(qs) != 1 || qs[0].DeadLetter.Visible < 4 {
		t.Fatalf("queues: %+v, %v", qs, err)
	}
	dead := qs[0].DeadLetter.Visible

	admin := newFormClient(t, webURL)
	admin.do("GET", "/login", nil)
	if st, loc := admin.do("POST", "/login", url.Values{"csrf": {admin.hidden("csrf")}, "email": {"admin@bank.test"},
		"password": {"staff password admin"}}); st != http.StatusSeeOther || loc != "/console" {
		t.Fatalf("admin sign-in: %d %s", st, loc)
	}
	st, page := admin.do("GET", "/console/system", nil)
	if st != http.StatusOK {
		t.Fatalf("system page: %d\n%s", st, page)
	}
	for _, want := range []string{
		// Each service's health and its checks'.
		`auth-service: <span class="ok">UP</span>`, `account-service db: <span class="ok">UP</span>`,
		`notification-service queue: <span class="ok">UP</span>`,
		// The queue: nothing waiting, the dead letters counted.
		`<tr><td>notifications</td><td class="num">0</td><td class="num">0</td><td class="num warn">` + strconv.FormatInt(dead, 10) + `</td>`,
		// The key metrics, measured by the services, against the rules.
		"DB connections (of the pool&#39;s max)", "&gt; 80.0%", "Dead-letter queue",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the system page has no %s", want)
		}
	}
	// Measured, not "not measured": the pool's share and the dead letters.
	for _, row := range []string{"DB connections", "Dead-letter queue", "Queue depth"} {
		m := regexp.MustCompile(`<td>` + row + `[^<]*</td><td class="num (ok|warn|crit)">`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("the key metric %s is not measured:\n%s", row, page)
		}
	}
	if !strings.Contains(page, `<td>Dead-letter queue</td><td class="num warn">`+strconv.FormatInt(dead, 10)) {
		t.Errorf("the dead-letter row does not warn of %d", dead)
	}

	// The redrive button moves every dead letter back.
	st, loc := admin.do("POST", "/console/system/redrive", url.Values{"csrf": {admin.hidden("csrf")}, "queue": {"notifications"}})
	if st != http.StatusSeeOther || loc != "/console/system" {
		t.Fatalf("redrive: %d %s", st, loc)
	}
	_, page = admin.do("GET", "/console/system", nil)
	if want := "Moved " + strconv.FormatInt(dead, 10) + " messages from the dead-letter queue back to notifications."; !strings.Contains(page, want) {
		t.Errorf("after the redrive, no %q", want)
	}
	if qs, err := b.staff["operator"].Queues(ctx); err != nil || qs[0].DeadLetter.Visible != 0 || qs[0].Main.Visible != dead {
		t.Errorf("after the redrive: %+v, %v; want %d waiting and no dead letter", qs, err, dead)
	}
	if !strings.Contains(page, `<tr><td>notifications</td><td class="num">`+strconv.FormatInt(dead, 10)+`</td><td class="num">0</td><td class="num">0</td>`) {
		t.Errorf("the page does not show the redriven messages waiting")
	}

	// Maintenance on: the customers' API answers 503 (each service within
	// its poll), the admin's system page still answers and can end it.
	st, _ = admin.do("POST", "/console/system/maintenance", url.Values{"csrf": {admin.hidden("csrf")}, "mode": {"on"}, "message": {"Back at noon"}})
	if st != http.StatusSeeOther {
		t.Fatalf("maintenance on: %d", st)
	}
	if !poll.Wait(10*time.Second, func() bool {
		_, err := cust.Accounts(ctx, nil, "")
		_, errMe := cust.Me(ctx)
		return status(t, err) == http.StatusServiceUnavailable && status(t, errMe) == http.StatusServiceUnavailable
	}) {
		t.Fatal("account-service or auth-service answers a customer 10s after maintenance was turned on")
	}
	// Even auth-service answers nothing else: the page knows its admin
	// from the sign-in, and the API checks the role on each call.
	st, page = admin.do("GET", "/console/system", nil)
	if st != http.StatusOK || !strings.Contains(page, "Back at noon") || !strings.Contains(page, "Turn maintenance off") {
		t.Fatalf("the system page in maintenance: %d\n%s", st, page)
	}
	if m, err := b.staff["operator"].Maintenance(ctx); err != nil || !m.On {
		t.Errorf("maintenance through the API: %+v, %v", m, err)
	}
	st, _ = admin.do("POST", "/console/system/maintenance", url.Values{"csrf": {admin.hidden("csrf")}, "mode": {"off"}})
	if st != http.StatusSeeOther {
		t.Fatalf("maintenance off: %d", st)
	}
	if !poll.Wait(10*time.Second, func() bool { _, err := cust.Accounts(ctx, nil, ""); return err == nil }) {
		t.Fatal("account-service still in maintenance 10s after it was turned off")
	}
	if _, page = admin.do("GET", "/console/system", nil); !strings.Contains(page, `<p class="ok" id="maintenance-state">Off</p>`) {
		t.Errorf("the system page after maintenance off:\n%s", page)
	}
}
