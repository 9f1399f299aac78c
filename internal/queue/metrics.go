package queue

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what passes through a queue, by queue name:
// bank_queue_messages_{sent,received,deleted,dead_lettered}_total. The
// depths are not here: observe.QueueCollector reads them from Stats at
// each scrape.
type Metrics struct {
	sent, received, deleted, dead *prometheus.CounterVec
}

// NewMetrics registers the queue counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"queue"})
		reg.MustRegister(v)
		return v
	}
	return &Metrics{
		sent:     c("bank_queue_messages_sent_total", "Messages this process sent to a queue."),
		received: c("bank_queue_messages_received_total", "Messages this process received from a queue (redeliveries included)."),
		deleted:  c("bank_queue_messages_deleted_total", "Messages this process deleted from a queue after handling them."),
		dead: c("bank_queue_messages_dead_lettered_total",
			"Messages this process moved to the dead-letter queue after their last receive (table queue; SQS moves them itself)."),
	}
}

func (m *Metrics) deadLettered(queue string, n int) {
	if m != nil {
		m.dead.WithLabelValues(queue).Add(float64(n))
	}
}

// Instrument returns q counting its sends, receives and deletes in m under
// the queue label name. With m nil it returns q.
func Instrument(q Queue, name string, m *Metrics) Queue {
	if m == nil {
		return q
	}
	c := &counted{Queue: q, sent: m.sent.WithLabelValues(name), received: m.received.WithLabelValues(name),
		deleted: m.deleted.WithLabelValues(name)}
	if t, ok := q.(Taker); ok {
		return &countedTaker{counted: c, t: t}
	}
	return c
}

type counted struct {
	Queue
	sent, received, deleted prometheus.Counter
}

func (c *counted) Send(ctx context.Context, bodies ...[]byte) error {
	err := c.Queue.Send(ctx, bodies...)
	if err == nil {
		c.sent.Add(float64(len(bodies)))
	}
	return err
}

func (c *counted) Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	ms, err := c.Queue.Receive(ctx, max, wait)
	c.received.Add(float64(len(ms)))
	return ms, err
}

func (c *counted) Delete(ctx context.Context, receipts ...string) error {
	err := c.Queue.Delete(ctx, receipts...)
	if err == nil {
		c.deleted.Add(float64(len(receipts)))
	}
	return err
}

// countedTaker counts a Taker's messages: those consumed in place as
// received and deleted.
type countedTaker struct {
	*counted
	t Taker
}

func (c *countedTaker) Take(ctx context.Context, max int, wait time.Duration, fn TakeFunc) ([]Message, error) {
	consumed := 0
	ms, err := c.t.Take(ctx, max, wait, func(ctx context.Context, offered []Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
		done, write, err := fn(ctx, offered)
		consumed = 0
		return done, func(ctx context.Context, tx *sql.Tx, taken []bool) error {
			consumed = 0
			for _, t := range taken {
				if t {
					consumed++
				}
			}
			if write == nil {
				return nil
			}
			return write(ctx, tx, taken)
		}, err
	})
	if err != nil {
		return nil, err
	}
	c.received.Add(float64(len(ms) + consumed))
	c.deleted.Add(float64(consumed))
	return ms, nil
}
