package observe_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// The runbook's 4.1: curl -s localhost:8080/actuator/metrics/hikaricp.connections.active | jq .
func TestPoolActiveConnections(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		if err := observe.RegisterPool(reg, db); err != nil {
			t.Fatal(err)
		}
		mux := newMux(reg, observe.NewHealth(0))
		want := func(active float64) observe.MetricResponse {
			return observe.MetricResponse{
				Name:          "hikaricp.connections.active",
				Description:   "Active connections",
				Measurements:  []observe.Sample{{Statistic: "VALUE", Value: active}},
				AvailableTags: []observe.AvailableTag{{Tag: "pool", Values: []string{db.Name}}},
			}
		}
		check := func(active float64) {
			t.Helper()
			rec := get(t, mux, "/actuator/metrics/hikaricp.connections.active")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
			}
			var got observe.MetricResponse
			decode(t, rec, &got)
			if diff := cmp.Diff(got, want(active)); diff != "" {
				t.Errorf("active=%v: metric (-got +want):\n%s", active, diff)
			}
			// Spring writes doubles as 1.0 and a missing unit as null.
			for _, s := range []string{`"baseUnit":null`, `"value":` + map[float64]string{0: "0.0", 1: "1.0", 2: "2.0"}[active]} {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("body %s lacks %s", rec.Body, s)
				}
			}
		}

		check(0)
		c1, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		check(2)
		c1.Close()
		check(1)
		c2.Close()
		check(0)
	})
}

func TestPoolSeries(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		reg := prometheus.NewRegistry()
		if err := observe.RegisterPool(reg, db); err != nil {
			t.Fatal(err)
		}
		if err := observe.RegisterPool(reg, db); err == nil {
			t.Error("registering the same pool twice: got no error")
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, mfs := scrape(t, newMux(reg, observe.NewHealth(0)), "/actuator/prometheus")
		wantMax := 8.0 // store's SQLite default
		if db.Dialect == store.Postgres {
			wantMax = 16
		}
		got := map[string]float64{}
		for _, name := range []string{
			"hikaricp_connections_active", "hikaricp_connections_idle", "hikaricp_connections_pending",
			"hikaricp_connections", "hikaricp_connections_max", "hikaricp_connections_min",
			"hikaricp_connections_timeout_total",
		} {
			mf := mfs[name]
			if mf == nil || len(mf.GetMetric()) != 1 {
				t.Errorf("%s: want one series, got %v", name, mf)
				continue
			}
			m := mf.GetMetric()[0]
			if diff := cmp.Diff(labels(m), map[string]string{"pool": db.Name}); diff != "" {
				t.Errorf("%s labels (-got +want):\n%s", name, diff)
			}
			got[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		if got["hikaricp_connections_active"] != 1 {
			t.Errorf("active: got %v, want 1", got["hikaricp_connections_active"])
		}
		if got["hikaricp_connections_max"] != wantMax {
			t.Errorf("max: got %v, want %v", got["hikaricp_connections_max"], wantMax)
		}
		if total, sum := got["hikaricp_connections"], got["hikaricp_connections_active"]+got["hikaricp_connections_idle"]; total < sum || total < 1 {
			t.Errorf("total %v is below active + idle %v", total, sum)
		}
	})
}
