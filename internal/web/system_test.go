package web

import (
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/fintech-banking/bank/deploy/monitoring"
)

// TestThresholdsFromRules: every key metric's thresholds are read from the
// PrometheusRule, and are the runbook's (8.1) where the runbook has a row.
func TestThresholdsFromRules(t *testing.T) {
	t.Parallel()
	th, err := parseThresholds(monitoring.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for alert, want := range map[string]threshold{
		"CPUUsageWarning": {">", 0.70}, "CPUUsageCritical": {">", 0.90},
		"MemoryUsageWarning": {">", 0.75}, "MemoryUsageCritical": {">", 0.90},
		"APILatencyP99Warning": {">", 0.5}, "APILatencyP99Critical": {">", 1},
		"ErrorRateWarning": {">", 0.01}, "ErrorRateCritical": {">", 0.05},
		"QueueDepthWarning": {">", 1000}, "QueueDepthCritical": {">", 10000},
		"DBConnectionsWarning": {">", 0.80}, "DBConnectionsCritical": {">", 0.95},
		"DeadLetterQueueNotEmpty": {">", 0}, "QueueOldestMessageAge": {">", 600},
	} {
		if got := th[alert]; got != want {
			t.Errorf("%s: %+v, want %+v", alert, got, want)
		}
	}
	// A rule the page needs, gone from the rules, is an error, not a blank.
	cut := strings.Replace(string(monitoring.Rules), "alert: QueueDepthCritical", "alert: QueueDepthRenamed", 1)
	if _, err := parseThresholds([]byte(cut)); err == nil || !strings.Contains(err.Error(), "QueueDepthCritical") {
		t.Errorf("rules without QueueDepthCritical: %v", err)
	}
}

func gauge(name string, v float64, labels ...string) *dto.MetricFamily {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{m}}
}

// requestSeries is one series of the request histogram: count requests,
// cumulative bucket counts at bounds.
func requestSeries(uri, outcome, exception string, count uint64, bounds []float64, cum []uint64) *dto.Metric {
	h := &dto.Histogram{SampleCount: proto.Uint64(count)}
	for i, b := range bounds {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(b), CumulativeCount: proto.Uint64(cum[i])})
	}
	return &dto.Metric{Histogram: h, Label: []*dto.LabelPair{
		{Name: proto.String("uri"), Value: proto.String(uri)},
		{Name: proto.String("outcome"), Value: proto.String(outcome)},
		{Name: proto.String("exception"), Value: proto.String(exception)}}}
}

// TestMetricRows measures each key metric from a snapshot as the alert
// rules would, and grades it against its thresholds.
func TestMetricRows(t *testing.T) {
	t.Parallel()
	bounds := []float64{0.1, 0.5, 1, math.Inf(1)}
	requests := &dto.MetricFamily{Name: proto.String("http_server_requests_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{
			requestSeries("/api/v1/transfers", "SUCCESS", "None", 90, bounds, []uint64{50, 80, 90, 90}),
			requestSeries("/api/v1/transfers", "SERVER_ERROR", "Internal", 10, bounds, []uint64{0, 0, 5, 10}),
			// Left out, as the rules leave them out: the Actuator's and maintenance's.
			requestSeries("/actuator/health", "SUCCESS", "None", 1000, bounds, []uint64{1000, 1000, 1000, 1000}),
			requestSeries("/api/v1/transfers", "SERVER_ERROR", "maintenance", 1000, bounds, []uint64{1000, 1000, 1000, 1000}),
		}}
	now := time.Unix(1_000_100, 0)
	// Two services: a's measures are the worse, b's only matter where a
	// has none of its own (b's pool of the same name is nearly empty).
	st := SystemStatus{Now: now, Metrics: []*dto.MetricFamily{
		requests,
		gauge("process_cpu_seconds_total", 190, "service", "a"),
		gauge("process_start_time_seconds", 1_000_000, "service", "a"),
		gauge("bank_cpu_limit_cores", 2, "service", "a"),
		gauge("process_resident_memory_bytes", 800, "service", "a"),
		gauge("bank_memory_limit_bytes", 1000, "service", "a"),
		gauge("bank_queue_messages", 1500, "queue", "events", "state", "visible"),
		gauge("hikaricp_connections_active", 9, "pool", "main", "service", "a"),
		gauge("hikaricp_connections_max", 10, "pool", "main", "service", "a"),
		gauge("bank_queue_oldest_message_age_seconds", 30, "queue", "events"),
	}}
	// The dead-letter series is a second series of bank_queue_messages.
	st.Metrics[6].Metric = append(st.Metrics[6].Metric, gauge("x", 3, "queue", "events", "state", "dead_letter").Metric[0])
	second := map[string][]*dto.Metric{
		"process_cpu_seconds_total":     gauge("x", 10, "service", "b").Metric,
		"process_start_time_seconds":    gauge("x", 1_000_000, "service", "b").Metric,
		"bank_cpu_limit_cores":          gauge("x", 1, "service", "b").Metric,
		"process_resident_memory_bytes": gauge("x", 100, "service", "b").Metric,
		"bank_memory_limit_bytes":       gauge("x", 1000, "service", "b").Metric,
		"hikaricp_connections_active":   gauge("x", 1, "pool", "main", "service", "b").Metric,
		"hikaricp_connections_max":      gauge("x", 100, "pool", "main", "service", "b").Metric,
	}
	for _, f := range st.Metrics {
		f.Metric = append(f.Metric, second[f.GetName()]...)
	}
	got := map[string]metricRow{}
	for _, r := range metricRows(st) {
		got[r.Name] = r
	}
	for name, want := range map[string]struct{ value, level string }{
		"CPU usage (of the limit, since start)": {"95.0%", "crit"}, // 190 s over 100 s on 2 cores
		"Memory usage (of the limit)":           {"80.0%", "warn"}, // 800 of 1000
		"API latency p99 (since start)":         {"1s", "warn"},    // rank 99 of 100: in the (0.5, 1] bucket, at its top
		"Error rate (since start)":              {"10.0%", "crit"}, // 10 of 100
		"Queue depth":                           {"1500", "warn"},  // over 1000, not 10000
		"DB connections (of the pool's max)":    {"90.0%", "warn"}, // 9 of 10
		"Dead-letter queue":                     {"3", "warn"},     // any
		"Oldest queued message":                 {"30s", "ok"},     // under 600 s
	} {
		r, ok := got[name]
		if !ok {
			t.Errorf("no row %q", name)
			continue
		}
		if r.Value != want.value || r.Level != want.level {
			t.Errorf("%s: %q %q, want %q %q", name, r.Value, r.Level, want.value, want.level)
		}
	}
	// Without the process's measures, a row says so rather than guessing.
	empty := metricRows(SystemStatus{Now: now})
	for _, r := range empty {
		if r.Level != "" || r.Value == "" {
			t.Errorf("no metrics: row %+v", r)
		}
	}
}

// TestLatencyP99Interpolates: inside a bucket the quantile is interpolated
// between its bounds, as histogram_quantile does.
func TestLatencyP99Interpolates(t *testing.T) {
	t.Parallel()
	bounds := []float64{0.1, 0.5, 1, math.Inf(1)}
	st := SystemStatus{Metrics: []*dto.MetricFamily{{Name: proto.String("http_server_requests_seconds"),
		Metric: []*dto.Metric{requestSeries("/api/v1/accounts", "SUCCESS", "None", 100, bounds, []uint64{50, 98, 100, 100})}}}}
	if v, why := latencyP99(st); why != "" || math.Abs(v-0.75) > 1e-9 {
		t.Errorf("p99 %v %q, want 0.75", v, why)
	}
}
