// Package observe is what operators see of a service: its Prometheus series
// under the names Spring Boot and HikariCP give them (the runbook's alerts and
// dashboards query those names), the actuator endpoints that serve them, health
// and readiness, and the JSON logger.
package observe

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fintech-banking/bank/internal/httpapi"
)

// The name of Micrometer's HTTP server timer as Prometheus sees it.
const requestsName = "http_server_requests_seconds"

// Micrometer keeps the maximum of a timer over a sliding window of two minutes
// made of three overlapping buffers; the _max gauge follows the same rule so a
// dashboard built for a Spring service reads ours the same way.
const (
	maxWindow  = 2 * time.Minute
	maxBuffers = 3
)

// Metrics is what httpapi.Wrap reports each request to.
var _ httpapi.RequestObserver = (*Metrics)(nil)

// Metrics records HTTP requests as Micrometer's http_server_requests_seconds
// histogram and http_server_requests_seconds_max gauge, labelled method, uri
// (the route pattern), status, outcome and exception: "None", or for a
// server error what failed it (httpapi names it by the error's code). It is
// safe for concurrent use.
type Metrics struct {
	requests *prometheus.HistogramVec
	maxDesc  *prometheus.Desc

	// series holds, per label set, the histogram child beside the max
	// window: the window needs a home per label set anyway, and the cached
	// child spares each request the vector's label hashing and the
	// formatting of its status.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	method, uri, exception string
	status                 int
}

type series struct {
	labels []string // method, uri, status, outcome, exception
	hist   prometheus.Observer
	max    *windowMax
}

// NewMetrics returns Metrics registered in reg, together with the Go runtime
// and process collectors (left as they are if reg already has them). It panics
// if reg already holds http_server_requests_seconds: two Metrics on one
// registry is a wiring mistake, not a runtime condition.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	// The variable labels, in the order series.labels holds their values.
	labels := []string{"method", "uri", "status", "outcome", "exception"}
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: requestsName,
			Help: "Duration of HTTP server request handling",
			// 1 s is a bucket bound because the runbook's HighLatency alert
			// fires on p99 > 1 s: the quantile is then exact at the threshold
			// rather than interpolated across a wide bucket.
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30},
		}, labels),
		maxDesc: prometheus.NewDesc(requestsName+"_max",
			"Maximum duration of HTTP server request handling over the last two minutes",
			labels, nil),
	}
	reg.MustRegister(m.requests, maxCollector{m})
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
	return m
}

// ObserveRequest records one finished request: method, the route pattern that
// served it ("POST /api/v1/accounts/{id}", "" or "UNKNOWN" when none did), its
// status, what failed it ("" is "None") and its duration.
func (m *Metrics) ObserveRequest(method, uri string, status int, exception string, d time.Duration) {
	if exception == "" {
		exception = "None"
	}
	k := seriesKey{method: requestMethod(method), uri: routeURI(uri, status), exception: exception, status: status}
	v, ok := m.series.Load(k)
	if !ok {
		v = m.newSeries(k)
	}
	s := v.(*series)
	sec := d.Seconds()
	s.hist.Observe(sec)
	s.max.record(sec, time.Now())
}

func (m *Metrics) newSeries(k seriesKey) *series {
	labels := []string{k.method, k.uri, strconv.Itoa(k.status), outcome(k.status), k.exception}
	s := &series{
		labels: labels,
		hist:   m.requests.WithLabelValues(labels...),
		max:    newWindowMax(time.Now()),
	}
	// Two first requests may race here: both get the same histogram child,
	// and only one max window is kept so the gauge is never collected twice.
	v, _ := m.series.LoadOrStore(k, s)
	return v.(*series)
}

// maxCollector collects the _max gauges from the cached series.
type maxCollector struct{ m *Metrics }

func (c maxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.maxDesc }

func (c maxCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.m.series.Range(func(_, v any) bool {
		s := v.(*series)
		ch <- prometheus.MustNewConstMetric(c.m.maxDesc, prometheus.GaugeValue, s.max.poll(now), s.labels...)
		return true
	})
}

// requestMethod bounds the method label: the method is chosen by the client,
// and an unbounded label would let anyone grow the registry without limit.
func requestMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		return m
	}
	return "UNKNOWN"
}

// routeURI turns a ServeMux pattern into Spring's uri tag: the path template
// without the method and host ("POST /api/v1/accounts/{id}" →
// "/api/v1/accounts/{id}"). Requests no route matched get Spring's names for
// them, never the raw path, which would make the label unbounded.
func routeURI(pattern string, status int) string {
	if pattern == "" || pattern == "UNKNOWN" {
		switch {
		case status == 404:
			return "NOT_FOUND"
		case status/100 == 3:
			return "REDIRECTION"
		}
		return "UNKNOWN"
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	// "/{$}" matches only "/" itself; the marker means nothing to a dashboard.
	if p := strings.TrimSuffix(pattern, "{$}"); p != "" {
		pattern = p
	}
	return pattern
}

// outcome is Spring's outcome tag for a status.
func outcome(status int) string {
	switch status / 100 {
	case 1:
		return "INFORMATIONAL"
	case 2:
		return "SUCCESS"
	case 3:
		return "REDIRECTION"
	case 4:
		return "CLIENT_ERROR"
	case 5:
		return "SERVER_ERROR"
	}
	return "UNKNOWN"
}

// windowMax is Micrometer's TimeWindowMax: the largest value recorded over the
// last maxWindow. Every record raises all buffers; the current buffer answers
// and, every maxWindow/maxBuffers, is cleared and the next one becomes current,
// so a value stays visible between two thirds of the window and the whole of
// it. Records are lock-free; only rotation takes the mutex.
type windowMax struct {
	next atomic.Int64 // UnixNano of the next rotation
	ring [maxBuffers]atomic.Uint64

	mu  sync.Mutex // serialises rotations
	cur int        // guarded by mu; read under mu or after rotate
}

func newWindowMax(now time.Time) *windowMax {
	w := &windowMax{}
	w.next.Store(now.Add(maxWindow / maxBuffers).UnixNano())
	return w
}

func (w *windowMax) record(v float64, now time.Time) {
	w.rotate(now)
	for i := range w.ring {
		b := &w.ring[i]
		for {
			old := b.Load()
			if v <= math.Float64frombits(old) || b.CompareAndSwap(old, math.Float64bits(v)) {
				break
			}
		}
	}
}

func (w *windowMax) poll(now time.Time) float64 {
	w.rotate(now)
	w.mu.Lock()
	defer w.mu.Unlock()
	return math.Float64frombits(w.ring[w.cur].Load())
}

func (w *windowMax) rotate(now time.Time) {
	n := now.UnixNano()
	if n < w.next.Load() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	next := w.next.Load()
	if n < next {
		return // another goroutine rotated meanwhile
	}
	step := int64(maxWindow / maxBuffers)
	steps := (n-next)/step + 1
	if steps >= maxBuffers {
		// Idle for a whole window: nothing recorded is still in it.
		for i := range w.ring {
			w.ring[i].Store(0)
		}
	} else {
		for range steps {
			w.ring[w.cur].Store(0)
			w.cur = (w.cur + 1) % maxBuffers
		}
	}
	w.next.Store(next + steps*step)
}
