package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fintech-banking/bank/client"
)

// TestPlatformStatus: a service that answers shows its health and its
// checks', one that is DOWN or does not answer says so; each service's
// series carry its name; the queues and maintenance come from the API with
// the caller's token, and the API's refusal is the page's error.
func TestPlatformStatus(t *testing.T) {
	t.Parallel()
	service := func(status int, health string, pool float64) *httptest.Server {
		reg := prometheus.NewRegistry()
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hikaricp_connections_active"}, []string{"pool"})
		g.WithLabelValues("main").Set(pool)
		reg.MustRegister(g)
		mux := http.NewServeMux()
		mux.Handle("GET /actuator/prometheus", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /actuator/health", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(health))
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	up := service(200, `{"status":"UP","components":{"db":{"status":"UP"}}}`, 3)
	down := service(503, `{"status":"DOWN","components":{"db":{"status":"DOWN"}}}`, 7)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer staff" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"staff only"}}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/system/queues":
			_, _ = w.Write([]byte(`{"data":[{"name":"notifications","main":{"visible":2,"in_flight":1,"delayed":0,"oldest_age_seconds":61.4},` +
				`"dead_letter":{"visible":5,"in_flight":0,"delayed":0,"oldest_age_seconds":0}}]}`))
		case "/api/v1/system/maintenance":
			_, _ = w.Write([]byte(`{"on":true,"message":"Back soon","retry_after_seconds":300,"since":"2026-12-06T10:00:00Z"}`))
		}
	}))
	t.Cleanup(api.Close)
	p := &Platform{HTTP: &http.Client{Timeout: 2 * time.Second}, Now: time.Now, Services: []Service{
		{Name: "a-service", URL: up.URL}, {Name: "b-service", URL: down.URL}, {Name: "c-service", URL: gone.URL}}}
	c := client.New(api.URL, http.DefaultClient)

	st, err := p.Status(context.Background(), c.WithToken("staff"))
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, ch := range st.Checks {
		checks = append(checks, ch.Name+": "+ch.Status)
	}
	slices.Sort(checks)
	if got, want := strings.Join(checks, "; "), "a-service db: UP; a-service: UP; b-service db: DOWN; b-service: DOWN; c-service: DOWN (no answer)"; got != want {
		t.Errorf("checks %q, want %q", got, want)
	}
	if len(st.Queues) != 1 || st.Queues[0] != (QueueDepth{Name: "notifications", Visible: 2, InFlight: 1, DeadLetter: 5, OldestAge: 61 * time.Second}) {
		t.Errorf("queues %+v", st.Queues)
	}
	if !st.Maintenance || st.Message != "Back soon" || !st.Since.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("maintenance %v %q %s", st.Maintenance, st.Message, st.Since)
	}
	if got := perService(st, "hikaricp_connections_active"); len(got) != 2 || got["a-service"] != 3 || got["b-service"] != 7 {
		t.Errorf("the pool's series by service: %v", got)
	}

	if _, err := p.Status(context.Background(), c.WithToken("customer")); err == nil || !strings.Contains(err.Error(), "staff only") {
		t.Errorf("a customer's status: %v, want the API's refusal", err)
	}
}
