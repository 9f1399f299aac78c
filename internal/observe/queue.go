package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStat is what a queue tells of itself at one moment, in SQS's terms
// (runbook 5.1): ApproximateNumberOfMessages, …NotVisible, …Delayed, the
// messages in its dead-letter queue, and the age of its oldest message (a
// CloudWatch metric on SQS, computed by the queue here).
type QueueStat struct {
	Queue      string
	Visible    int64
	InFlight   int64
	Delayed    int64
	DeadLetter int64
	OldestAge  time.Duration
}

// QueueCollector exports queues' statistics as bank_queue_messages{queue,
// state} (state visible, in_flight, delayed or dead_letter) and
// bank_queue_oldest_message_age_seconds{queue}, the series the alerts in
// deploy/monitoring read. It asks the queues at each scrape.
type QueueCollector struct {
	stats    func(context.Context) ([]QueueStat, error)
	timeout  time.Duration
	messages *prometheus.Desc
	age      *prometheus.Desc
	errors   *prometheus.Desc
}

// NewQueueCollector returns a QueueCollector over stats, each call of which
// gets timeout.
func NewQueueCollector(stats func(context.Context) ([]QueueStat, error), timeout time.Duration) *QueueCollector {
	return &QueueCollector{
		stats:   stats,
		timeout: timeout,
		messages: prometheus.NewDesc("bank_queue_messages",
			"Messages in a queue by state: visible (waiting), in_flight (received, not yet deleted), delayed, dead_letter (in its DLQ). On the table queue a message that carries several events counts each, as on SQS.",
			[]string{"queue", "state"}, nil),
		age: prometheus.NewDesc("bank_queue_oldest_message_age_seconds",
			"Age of the oldest message waiting in a queue.", []string{"queue"}, nil),
		errors: prometheus.NewDesc("bank_queue_stats_up",
			"1 if the queues answered the last scrape, 0 if not.", nil, nil),
	}
}

// Describe sends the descriptors of the queue series.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.age
	ch <- c.errors
}

// Collect asks the queues and sends their statistics. When they do not
// answer, only bank_queue_stats_up (0) is sent: a missing series is better
// than a made-up zero.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	stats, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, 1)
	for _, s := range stats {
		for _, m := range []struct {
			state string
			n     int64
		}{{"visible", s.Visible}, {"in_flight", s.InFlight}, {"delayed", s.Delayed}, {"dead_letter", s.DeadLetter}} {
			ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(m.n), s.Queue, m.state)
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Queue)
	}
}
