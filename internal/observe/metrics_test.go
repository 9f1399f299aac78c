package observe_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/observe"
)

// family returns the family name from reg, or fails.
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no family %s", name)
	return nil
}

func TestObserveRequestLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		method  string
		pattern string
		status  int
		want    map[string]string
	}{
		{"server error", "POST", "POST /api/v1/x", 500,
			map[string]string{"method": "POST", "uri": "/api/v1/x", "status": "500", "outcome": "SERVER_ERROR"}},
		{"path template kept", "GET", "GET /api/v1/accounts/{id}", 201,
			map[string]string{"method": "GET", "uri": "/api/v1/accounts/{id}", "status": "201", "outcome": "SUCCESS"}},
		{"pattern without method", "PUT", "/api/v1/y", 204,
			map[string]string{"method": "PUT", "uri": "/api/v1/y", "status": "204", "outcome": "SUCCESS"}},
		{"host dropped", "GET", "GET bank.example/api/v1/h", 200,
			map[string]string{"method": "GET", "uri": "/api/v1/h", "status": "200", "outcome": "SUCCESS"}},
		{"exact root", "GET", "GET /{$}", 200,
			map[string]string{"method": "GET", "uri": "/", "status": "200", "outcome": "SUCCESS"}},
		{"no route, 404", "GET", "UNKNOWN", 404,
			map[string]string{"method": "GET", "uri": "NOT_FOUND", "status": "404", "outcome": "CLIENT_ERROR"}},
		{"no route, redirect", "GET", "", 301,
			map[string]string{"method": "GET", "uri": "REDIRECTION", "status": "301", "outcome": "REDIRECTION"}},
		{"no route, other", "GET", "UNKNOWN", 401,
			map[string]string{"method": "GET", "uri": "UNKNOWN", "status": "401", "outcome": "CLIENT_ERROR"}},
		{"client-chosen method bounded", "BREW", "UNKNOWN", 405,
			map[string]string{"method": "UNKNOWN", "uri": "UNKNOWN", "status": "405", "outcome": "CLIENT_ERROR"}},
		{"informational", "GET", "GET /ws", 101,
			map[string]string{"method": "GET", "uri": "/ws", "status": "101", "outcome": "INFORMATIONAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := observe.NewMetrics(reg)
			m.ObserveRequest(tt.method, tt.pattern, tt.status, "", 250*time.Millisecond)
			m.ObserveRequest(tt.method, tt.pattern, tt.status, "", 750*time.Millisecond)

			want := map[string]string{"exception": "None"}
			for k, v := range tt.want {
				want[k] = v
			}
			hist := family(t, reg, "http_server_requests_seconds")
			if got := len(hist.GetMetric()); got != 1 {
				t.Fatalf("histogram series: got %d, want 1", got)
			}
			h := hist.GetMetric()[0]
			if diff := cmp.Diff(labels(h), want); diff != "" {
				t.Errorf("histogram labels (-got +want):\n%s", diff)
			}
			if got := h.GetHistogram().GetSampleCount(); got != 2 {
				t.Errorf("count: got %d, want 2", got)
			}
			if got := h.GetHistogram().GetSampleSum(); got != 1 {
				t.Errorf("sum: got %v, want 1", got)
			}

			maxes := family(t, reg, "http_server_requests_seconds_max")
			if got := len(maxes.GetMetric()); got != 1 {
				t.Fatalf("max series: got %d, want 1", got)
			}
			mx := maxes.GetMetric()[0]
			if diff := cmp.Diff(labels(mx), want); diff != "" {
				t.Errorf("max labels (-got +want):\n%s", diff)
			}
			if got := mx.GetGauge().GetValue(); got != 0.75 {
				t.Errorf("max: got %v, want 0.75", got)
			}
		})
	}
}

// The runbook's PrometheusRule alerts must find their series in a scrape.
func TestPrometheusExposition(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	mux := newMux(reg, observe.NewHealth(0))
	m.ObserveRequest("POST", "POST /api/v1/x", 500, "", 1500*time.Millisecond)
	m.ObserveRequest("GET", "GET /api/v1/x", 200, "", 20*time.Millisecond)
	m.ObserveRequest("GET", "GET /api/v1/x", 200, "", 30*time.Millisecond)

	for _, path := range []string{"/actuator/prometheus", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			text, mfs := scrape(t, mux, path)

			// The series as PromQL sees it on the wire.
			line := regexp.MustCompile(`(?m)^http_server_requests_seconds_count\{[^}]*\} 1$`)
			found := false
			for _, l := range line.FindAllString(text, -1) {
				if strings.Contains(l, `status="500"`) && strings.Contains(l, `outcome="SERVER_ERROR"`) &&
					strings.Contains(l, `uri="/api/v1/x"`) && strings.Contains(l, `method="POST"`) {
					found = true
				}
			}
			if !found {
				t.Errorf(`no http_server_requests_seconds_count{method="POST",outcome="SERVER_ERROR",status="500",uri="/api/v1/x"} 1 in:\n%s`, text)
			}

			// HighErrorRate: sum(rate(count{status=~"5.."})) / sum(rate(count)).
			hist := mfs["http_server_requests_seconds"]
			if hist.GetType() != dto.MetricType_HISTOGRAM {
				t.Fatalf("http_server_requests_seconds: type %v, want HISTOGRAM", hist.GetType())
			}
			fiveXX := regexp.MustCompile(`^5..$`)
			var errors, all uint64
			les := map[string]bool{}
			for _, s := range hist.GetMetric() {
				n := s.GetHistogram().GetSampleCount()
				all += n
				if fiveXX.MatchString(labels(s)["status"]) {
					errors += n
				}
				for _, b := range s.GetHistogram().GetBucket() {
					les[formatLE(b.GetUpperBound())] = true
				}
			}
			if errors != 1 || all != 3 {
				t.Errorf("5xx and all requests: got %d/%d, want 1/3", errors, all)
			}
			// HighLatency: histogram_quantile(0.99, sum(rate(_bucket)) by (le)) > 1
			// needs a bucket bound at the threshold.
			if !les["1"] {
				t.Errorf("no bucket le=\"1\"; bounds: %v", les)
			}
			if !strings.Contains(text, `http_server_requests_seconds_bucket{`) || !strings.Contains(text, `le="+Inf"`) {
				t.Errorf("no http_server_requests_seconds_bucket series with le=\"+Inf\"")
			}
			for _, name := range []string{"http_server_requests_seconds_max", "go_goroutines", "process_cpu_seconds_total"} {
				if mfs[name] == nil {
					t.Errorf("no %s in the exposition", name)
				}
			}
		})
	}
}

// formatLE writes a bucket bound as the exposition's le label does.
func formatLE(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// httpapi.Wrap hands the ServeMux pattern over; the series must carry the
// template, not the path.
func TestWrapRecordsRoutePattern(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	h := httpapi.Wrap(mux, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	for _, target := range []string{"/api/v1/accounts/42", "/api/v1/accounts/43", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, target, nil))
	}
	var got []map[string]string
	for _, s := range family(t, reg, "http_server_requests_seconds").GetMetric() {
		l := labels(s)
		l["count"] = strconv.FormatUint(s.GetHistogram().GetSampleCount(), 10)
		got = append(got, l)
	}
	want := []map[string]string{
		{"exception": "None", "method": "POST", "outcome": "CLIENT_ERROR", "status": "404", "uri": "NOT_FOUND", "count": "1"},
		{"exception": "None", "method": "POST", "outcome": "SUCCESS", "status": "201", "uri": "/api/v1/accounts/{id}", "count": "2"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("series (-got +want):\n%s", diff)
	}
}

// BenchmarkObserveRequest measures the cost every request pays: the series
// is cached after the first request, so this should not allocate.
func BenchmarkObserveRequest(b *testing.B) {
	m := observe.NewMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("POST", "POST /api/v1/transfers", 201, "", 3*time.Millisecond)
		}
	})
}

// BenchmarkObserveRequestVec is the same observation through the histogram's
// own label lookup, for comparison with the cache.
func BenchmarkObserveRequestVec(b *testing.B) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x_seconds"},
		[]string{"method", "uri", "status", "outcome"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.WithLabelValues("POST", "/api/v1/transfers", "201", "SUCCESS").Observe(0.003)
		}
	})
}
