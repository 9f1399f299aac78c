package observe_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// newService returns the actuator of a service that served three requests and
// has an SQLite pool.
func newService(t *testing.T) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	if err := observe.RegisterPool(reg, storetest.Open(t, store.SQLite)); err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("POST", "POST /api/v1/x", 500, "", 1500*time.Millisecond)
	m.ObserveRequest("GET", "GET /api/v1/x", 200, "", 250*time.Millisecond)
	m.ObserveRequest("GET", "GET /api/v1/x", 200, "", 250*time.Millisecond)
	return newMux(reg, observe.NewHealth(0))
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	mux := newService(t)
	rec := get(t, mux, "/actuator/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got observe.MetricNames
	decode(t, rec, &got)
	if !slices.IsSorted(got.Names) {
		t.Errorf("names are not sorted: %v", got.Names)
	}
	for _, want := range []string{
		"http.server.requests", "hikaricp.connections.active", "hikaricp.connections",
		"hikaricp.connections.timeout", "go.goroutines", "process.cpu.seconds", "go.gc.duration",
	} {
		if !slices.Contains(got.Names, want) {
			t.Errorf("names lack %s: %v", want, got.Names)
		}
	}
	// The window maximum is a statistic of the timer, not a metric of its own.
	for _, unwanted := range []string{"http.server.requests.seconds.max", "http.server.requests.seconds"} {
		if slices.Contains(got.Names, unwanted) {
			t.Errorf("names hold %s", unwanted)
		}
	}
	// Every name listed can be asked for.
	for _, name := range got.Names {
		if rec := get(t, mux, "/actuator/metrics/"+name); rec.Code != http.StatusOK {
			t.Errorf("GET /actuator/metrics/%s: status %d: %s", name, rec.Code, rec.Body)
		}
	}
}

func TestMetric(t *testing.T) {
	t.Parallel()
	mux := newService(t)
	allTags := []observe.AvailableTag{
		{Tag: "exception", Values: []string{"None"}},
		{Tag: "method", Values: []string{"GET", "POST"}},
		{Tag: "outcome", Values: []string{"SERVER_ERROR", "SUCCESS"}},
		{Tag: "status", Values: []string{"200", "500"}},
		{Tag: "uri", Values: []string{"/api/v1/x"}},
	}
	timer := func(name string, count, total, max float64, tags []observe.AvailableTag) observe.MetricResponse {
		return observe.MetricResponse{
			Name: name, Description: "Duration of HTTP server request handling", BaseUnit: "seconds",
			Measurements: []observe.Sample{{Statistic: "COUNT", Value: count},
				{Statistic: "TOTAL_TIME", Value: total}, {Statistic: "MAX", Value: max}},
			AvailableTags: tags,
		}
	}
	without := func(keys ...string) []observe.AvailableTag {
		return slices.DeleteFunc(slices.Clone(allTags), func(t observe.AvailableTag) bool { return slices.Contains(keys, t.Tag) })
	}
	tests := []struct {
		name   string
		metric string
		tags   []string
		want   observe.MetricResponse
	}{
		{"timer", "http.server.requests", nil, timer("http.server.requests", 3, 2, 1.5, allTags)},
		{"Prometheus name", "http_server_requests_seconds", nil, timer("http_server_requests_seconds", 3, 2, 1.5, allTags)},
		{"one tag", "http.server.requests", []string{"status:500"}, timer("http.server.requests", 1, 1.5, 1.5, []observe.AvailableTag{
			{Tag: "exception", Values: []string{"None"}}, {Tag: "method", Values: []string{"POST"}},
			{Tag: "outcome", Values: []string{"SERVER_ERROR"}}, {Tag: "uri", Values: []string{"/api/v1/x"}}})},
		{"two tags", "http.server.requests", []string{"outcome:SUCCESS", "method:GET"}, timer("http.server.requests", 2, 0.5, 0.25, []observe.AvailableTag{
			{Tag: "exception", Values: []string{"None"}}, {Tag: "status", Values: []string{"200"}}, {Tag: "uri", Values: []string{"/api/v1/x"}}})},
		{"tag every series has", "http.server.requests", []string{"uri:/api/v1/x"}, timer("http.server.requests", 3, 2, 1.5, without("uri"))},
		{"counter", "hikaricp.connections.timeout", nil, observe.MetricResponse{
			Name: "hikaricp.connections.timeout", Description: "Connection acquisitions abandoned because their deadline passed",
			Measurements:  []observe.Sample{{Statistic: "COUNT", Value: 0}},
			AvailableTags: []observe.AvailableTag{{Tag: "pool", Values: []string{"test-pool"}}}}},
		{"gauge with the pool tag asked", "hikaricp.connections.max", []string{"pool:test-pool"}, observe.MetricResponse{
			Name: "hikaricp.connections.max", Description: "Max connections",
			Measurements:  []observe.Sample{{Statistic: "VALUE", Value: 8}},
			AvailableTags: []observe.AvailableTag{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/actuator/metrics/" + tt.metric
			if len(tt.tags) > 0 {
				target += "?" + url.Values{"tag": tt.tags}.Encode()
			}
			rec := get(t, mux, target)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200: %s", target, rec.Code, rec.Body)
			}
			var got observe.MetricResponse
			decode(t, rec, &got)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("GET %s (-got +want):\n%s", target, diff)
			}
		})
	}
}

func TestMetricErrors(t *testing.T) {
	t.Parallel()
	mux := newService(t)
	tests := []struct {
		name       string
		target     string
		wantStatus int
		wantCode   string
	}{
		{"unknown metric", "/actuator/metrics/no.such.metric", http.StatusNotFound, "not_found"},
		{"no series has the tag value", "/actuator/metrics/http.server.requests?tag=status:418", http.StatusNotFound, "not_found"},
		{"no series has the tag", "/actuator/metrics/hikaricp.connections.active?tag=region:eu", http.StatusNotFound, "not_found"},
		{"tag without a colon", "/actuator/metrics/http.server.requests?tag=status", http.StatusBadRequest, "invalid_request"},
		{"tag without a key", "/actuator/metrics/http.server.requests?tag=:500", http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, mux, tt.target)
			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			var got httpapi.ErrorBody
			decode(t, rec, &got)
			if got.Error.Code != tt.wantCode || got.Error.Message == "" {
				t.Errorf("error: got %+v, want code %s and a message", got.Error, tt.wantCode)
			}
		})
	}
}

func TestSampleJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value float64
		want  string
	}{
		{3, `{"statistic":"VALUE","value":3.0}`},
		{0, `{"statistic":"VALUE","value":0.0}`},
		{-2, `{"statistic":"VALUE","value":-2.0}`},
		{0.25, `{"statistic":"VALUE","value":0.25}`},
		{1e21, `{"statistic":"VALUE","value":1e+21}`},
		{1.5e-7, `{"statistic":"VALUE","value":1.5e-07}`},
		{math.NaN(), `{"statistic":"VALUE","value":null}`},
		{math.Inf(1), `{"statistic":"VALUE","value":null}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(observe.Sample{Statistic: "VALUE", Value: tt.value})
		if err != nil {
			t.Fatalf("marshal %v: %v", tt.value, err)
		}
		if got := string(b); got != tt.want {
			t.Errorf("marshal %v: got %s, want %s", tt.value, got, tt.want)
		}
		var back observe.Sample
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("unmarshal %s: %v", b, err)
		}
	}
}
