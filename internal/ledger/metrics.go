package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the write path's own series: how many requests each database
// transaction carries and how long it takes. Small batches under load mean the
// database round trips, not the queue, set the pace.
type Metrics struct {
	batchRequests prometheus.Histogram
	batchSeconds  *prometheus.HistogramVec
	splits        prometheus.Counter
	panics        prometheus.Counter
}

// NewMetrics registers the ledger's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batchRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ledger_batch_requests",
			Help:    "Requests posted per database transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ledger_batch_seconds",
			Help:    "Time to post one batch, from begin to commit, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"outcome"}),
	}
	m.splits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ledger_batch_splits_total",
		Help: "Batches that failed for a reason retrying did not cure and were posted again in halves.",
	})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ledger_commit_panics_total",
		Help: "Commit attempts that panicked; their requests were answered with an internal error.",
	})
	reg.MustRegister(m.batchRequests, m.batchSeconds, m.splits, m.panics)
	return m
}

func (m *Metrics) observe(requests int, d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "committed"
	if err != nil {
		outcome = "failed"
	}
	m.batchRequests.Observe(float64(requests))
	m.batchSeconds.WithLabelValues(outcome).Observe(d.Seconds())
}

func (m *Metrics) split() {
	if m != nil {
		m.splits.Inc()
	}
}

func (m *Metrics) panicked() {
	if m != nil {
		m.panics.Inc()
	}
}
