package observe_test

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestActuatorGolden holds the bytes of the answers the runbook reads (4.1:
// curl …/actuator/metrics/hikaricp.connections.active | jq .) and the
// probes read, to Spring Boot's JSON shape: field names and order,
// "baseUnit": null, numbers as doubles, the asked tag left out of
// availableTags, "groups" at the health root. A change here is a change every
// dashboard and script built for a Spring service sees.
func TestActuatorGolden(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	observe.NewMetrics(reg)
	db := storetest.Open(t, store.SQLite) // pool "test-pool", at rest
	if err := observe.RegisterPool(reg, db); err != nil {
		t.Fatal(err)
	}
	h := observe.NewHealth(0)
	h.AddCheck("db", db.PingContext)
	mux := newMux(reg, h)
	down := get(t, mux, "/actuator/health/readiness") // before SetReady
	h.SetReady(true)

	tests := []struct {
		golden string
		rec    func() (int, string)
		status int
	}{
		{"health.json", body(t, mux, "/actuator/health"), http.StatusOK},
		{"health-liveness.json", body(t, mux, "/actuator/health/liveness"), http.StatusOK},
		{"health-readiness.json", body(t, mux, "/actuator/health/readiness"), http.StatusOK},
		{"health-readiness-down.json", func() (int, string) { return down.Code, down.Body.String() }, http.StatusServiceUnavailable},
		{"hikaricp.connections.active.json", body(t, mux, "/actuator/metrics/hikaricp.connections.active"), http.StatusOK},
		{"hikaricp.connections.active-pool.json", body(t, mux, "/actuator/metrics/hikaricp.connections.active?tag=pool:test-pool"), http.StatusOK},
		{"hikaricp.connections.max-pool.json", body(t, mux, "/actuator/metrics/hikaricp.connections.max?tag=pool:test-pool"), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			status, got := tt.rec()
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got+"\n", string(want)); diff != "" {
				t.Errorf("answer differs from %s (-got +want):\n%s", path, diff)
			}
		})
	}
}

// body returns a function answering GET target on h, status and body.
func body(t *testing.T, h http.Handler, target string) func() (int, string) {
	t.Helper()
	return func() (int, string) {
		rec := get(t, h, target)
		if ct := rec.Header().Get("Content-Type"); ct == "" {
			t.Errorf("GET %s: no Content-Type", target)
		}
		return rec.Code, rec.Body.String()
	}
}
