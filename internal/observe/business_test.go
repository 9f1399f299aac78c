package observe_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fintech-banking/bank/internal/observe"
)

func TestBusinessCountsMoneyMovements(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := observe.NewBusiness(reg)
	mux := http.NewServeMux()
	router := b.Router(mux)
	answer := func(status int, body string, replayed bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if replayed {
				w.Header().Set("Idempotent-Replayed", "true")
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
		})
	}
	router.Handle("POST /api/v1/transfers", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "ok":
			answer(201, `{"id":"t1"}`, false).ServeHTTP(w, r)
		case "replay":
			answer(201, `{"id":"t1"}`, true).ServeHTTP(w, r)
		case "funds":
			answer(422, `{"error":{"code":"insufficient_funds","message":"no"}}`, false).ServeHTTP(w, r)
		case "odd":
			answer(422, `{"error":{"code":"Not A Code","message":"no"}}`, false).ServeHTTP(w, r)
		case "invalid":
			answer(400, `{"error":{"code":"invalid_request"}}`, false).ServeHTTP(w, r)
		case "down":
			answer(503, `{"error":{"code":"unavailable"}}`, false).ServeHTTP(w, r)
		}
	}))
	router.Handle("POST /api/v1/accounts", answer(201, `{}`, false))
	router.Handle("GET /api/v1/transfers", answer(200, `{}`, false))
	h := mux
	for _, c := range []string{"ok", "ok", "replay", "funds", "funds", "funds", "odd", "invalid", "down"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/transfers?case="+c, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/accounts", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/transfers", nil))

	tests := []struct {
		operation, outcome string
		want               float64
	}{
		{"transfer", "completed", 2}, // the replay is the same transfer
		{"transfer", "insufficient_funds", 3},
		{"transfer", "rejected", 1},
		{"transfer", "refused", 1},
		{"transfer", "failed", 1},
		{"payment", "completed", 0}, // present before the first payment
		{"payment", "failed", 0},
	}
	for _, tt := range tests {
		t.Run(tt.operation+"/"+tt.outcome, func(t *testing.T) {
			got, ok := value(t, reg, "bank_money_movements_total", map[string]string{"operation": tt.operation, "outcome": tt.outcome})
			if !ok || got != tt.want {
				t.Errorf("bank_money_movements_total{operation=%q,outcome=%q} = %v, want %v", tt.operation, tt.outcome, got, tt.want)
			}
		})
	}
	// Opening an account moves no money.
	if n := testutil.CollectAndCount(reg, "bank_money_movements_total"); n != 9*2+3 {
		t.Errorf("%d series, want every operation's completed and failed plus the 3 other outcomes seen", n)
	}
}

// value returns the value of the series of family name with the given
// labels (a subset of its own), and whether there is one.
func value(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			l := labels(m)
			for k, v := range want {
				if l[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}
