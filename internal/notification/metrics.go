package notification

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the consumer's series:
//
//	bank_notification_messages_received_total
//	bank_notification_receive_errors_total                receives the queue failed
//	bank_notification_messages_processed_total{outcome}  delivered, retry, ignored, unknown_type, malformed
//	bank_notification_deliveries_total{channel,outcome}   sent, logged, failed, duplicate, busy, skipped
//	bank_notification_delivery_seconds{channel}           one delivery, retries included
//	bank_notification_event_age_seconds                   from the event to its last delivery
type Metrics struct {
	received   prometheus.Counter
	recvErrors prometheus.Counter
	processed  *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	age        prometheus.Histogram
}

// NewMetrics registers the consumer's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bank_notification_messages_received_total",
			Help: "Events the notification consumer received, a group's one by one (a redelivery counts again).",
		}),
		recvErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bank_notification_receive_errors_total",
			Help: "Receives from the queue that failed; the consumer retries after a pause.",
		}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bank_notification_messages_processed_total",
			Help: "Events handled, by outcome: delivered (deleted), retry (left for the queue), ignored, unknown_type (deleted), malformed (left for the dead-letter queue).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bank_notification_deliveries_total",
			Help: "Deliveries by channel and outcome: sent, logged (log-only channel), failed, duplicate (already delivered), busy (another consumer holds it), skipped (no address).",
		}, []string{"channel", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bank_notification_delivery_seconds",
			Help:    "Time one delivery took, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"channel"}),
		age: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bank_notification_event_age_seconds",
			Help:    "Time from an event to the end of its deliveries.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 18),
		}),
	}
	for _, o := range []string{"delivered", "retry", "ignored", "unknown_type", "malformed"} {
		m.processed.WithLabelValues(o)
	}
	for _, c := range []Channel{Email, SMS, Webhook} {
		for _, o := range []string{"sent", "logged", "failed", "duplicate"} {
			m.deliveries.WithLabelValues(string(c), o)
		}
	}
	reg.MustRegister(m.received, m.recvErrors, m.processed, m.deliveries, m.latency, m.age)
	return m
}

func (m *Metrics) receivedOne() {
	if m != nil {
		m.received.Inc()
	}
}

func (m *Metrics) receiveFailed() {
	if m != nil {
		m.recvErrors.Inc()
	}
}

func (m *Metrics) processedOne(outcome string) {
	if m != nil {
		m.processed.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) delivered(c Channel, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(string(c), outcome).Inc()
	if outcome == "sent" || outcome == "logged" || outcome == "failed" {
		m.latency.WithLabelValues(string(c)).Observe(d.Seconds())
	}
}

func (m *Metrics) eventAge(d time.Duration) {
	if m != nil && d >= 0 {
		m.age.Observe(d.Seconds())
	}
}
