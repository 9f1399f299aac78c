// Package queue carries events from the services that make them to those
// that consume them. Events start in the outbox table (internal/event),
// written in the same database transaction as the change they announce; a
// relay publishes them after commit.
package queue

import (
	"context"
	"errors"
	"time"
)

// Queue is a message queue with Amazon SQS's semantics: a received message
// stays invisible to other consumers for the queue's visibility timeout; one
// that is not deleted comes back, and after MaxReceiveCount receives it moves
// to the dead-letter queue. Delivery is at least once: consumers deduplicate
// on the event id in the body (Header.EventID), never on the message id,
// which a redrive changes.
type Queue interface {
	// Send enqueues bodies on the main queue, in order.
	Send(ctx context.Context, bodies ...[]byte) error
	// Receive waits up to wait for up to max messages of the main queue.
	// It does not set a visibility timeout of its own: the queue's applies.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Delete removes received messages for good, in as few round trips as
	// the queue allows. It deletes every receipt it still knows; the error
	// names those it does not (ErrUnknownReceipt) or could not delete.
	Delete(ctx context.Context, receipts ...string) error
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error

	// Stats reports the main queue and its dead-letter queue.
	Stats(ctx context.Context) (Stats, error)
	// Purge deletes every message of one queue.
	Purge(ctx context.Context, which Which) error
	// Redrive moves up to max messages (all when max <= 0) from the
	// dead-letter queue back to the main queue and says how many it moved.
	Redrive(ctx context.Context, max int) (int, error)
	// SetVisibilityTimeout changes the main queue's visibility timeout.
	SetVisibilityTimeout(ctx context.Context, d time.Duration) error
}

// Taker is a Queue that can also consume messages in place (the table
// queue: see Table.Take).
type Taker interface {
	Queue
	Take(ctx context.Context, max int, wait time.Duration, fn TakeFunc) ([]Message, error)
}

// Rewriter is a Queue that can replace a received message's body (the
// table queue: see Table.Rewrite).
type Rewriter interface {
	Rewrite(ctx context.Context, receipt string, body []byte) error
}

// Message is a received message.
type Message struct {
	ID           string // the queue's message id; a redrive changes it
	Body         []byte
	Receipt      string // what Delete and ChangeVisibility take
	ReceiveCount int    // 1 on the first receive
	SentAt       time.Time
}

// Which names one of the two queues.
type Which string

const (
	Main Which = "main"
	DLQ  Which = "dlq"
)

// Stats describes both queues.
type Stats struct {
	Main, DLQ Depth
}

// Depth describes one queue.
type Depth struct {
	Visible   int64         `json:"visible"`
	InFlight  int64         `json:"in_flight"`
	Delayed   int64         `json:"delayed"`
	OldestAge time.Duration `json:"oldest_age"`
}

// ErrUnknownReceipt is returned by Delete and ChangeVisibility for a receipt
// the queue no longer knows: its visibility ran out and another consumer
// received the message, or it was deleted.
var ErrUnknownReceipt = errors.New("queue: unknown or expired receipt")

// SendError is the error of a Send that enqueued some of its bodies all the
// same (SQS takes a batch entry by entry). Sent lists their indices in
// bodies, in order; the others were not sent.
type SendError struct {
	Sent []int
	Err  error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }
