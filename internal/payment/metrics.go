package payment

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are payment-service's: payments moving between statuses, and how
// long the rail takes to take them and to settle them.
type Metrics struct {
	transitions *prometheus.CounterVec
	submission  prometheus.Histogram
	settlement  prometheus.Histogram
	railCalls   *prometheus.HistogramVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bank_payments_total",
			Help: "Payments that reached each status."}, []string{"status"}),
		submission: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bank_payment_submission_seconds",
			Help: "From a payment's creation to its submission to the rail.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		settlement: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bank_payment_settlement_seconds",
			Help: "From a payment's submission to its settlement.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 20)}),
		railCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bank_payment_rail_call_seconds",
			Help: "Calls to the payment rail.", Buckets: prometheus.DefBuckets}, []string{"call"}),
	}
	reg.MustRegister(m.transitions, m.submission, m.settlement, m.railCalls)
	return m
}

func (m *Metrics) created(p *Payment) {
	if m != nil {
		m.transitions.WithLabelValues(p.Status).Inc()
	}
}

func (m *Metrics) moved(from, to string, p *Payment, now time.Time) {
	if m == nil || internal(to) {
		return
	}
	m.transitions.WithLabelValues(to).Inc()
	switch to {
	case StatusSubmitted:
		m.submission.Observe(now.Sub(p.CreatedAt).Seconds())
	case StatusSettled:
		if p.submittedAt != nil {
			m.settlement.Observe(now.Sub(*p.submittedAt).Seconds())
		}
	}
}

func (m *Metrics) railCall(call string, d time.Duration) {
	if m != nil {
		m.railCalls.WithLabelValues(call).Observe(d.Seconds())
	}
}
