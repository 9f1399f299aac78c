package event

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Queue is the table queue events are written to: with BANK_QUEUE_URL=db
// (the embedded default) its consumers receive the very rows committed with
// each change; with SQS the outbox relay forwards them, an event a
// message. The row is the outbox and the message at once: one row per
// commit's events (Group), each payload stored once.
const Queue = "notifications"

// SearchQueue is the table queue the search indexer (internal/search/opensearch)
// consumes: the ledger writes a copy of each transaction.posted event to it,
// in the same transaction, when transactions are indexed outside the
// database (BANK_SEARCH_URL). A queue of its own, not a second consumer of
// Queue, because each message of a queue goes to one consumer and is gone.
const SearchQueue = "search"

// Record is one encoded event, ready for the queue, or after Group the
// message that carries several.
type Record struct {
	ID      string // the message's id: the event's, but for a copy to another queue
	Type    string
	Payload []byte
	At      time.Time
	Queue   string // Queue when empty
	Events  int    // the events Payload holds when a group (Group); 0 is one
}

// QueueName is the queue r goes to.
func (r Record) QueueName() string {
	if r.Queue == "" {
		return Queue
	}
	return r.Queue
}

// Encode returns p's record.
func Encode(p Payload) (Record, error) {
	h := p.Head()
	body, err := json.Marshal(p)
	if err != nil {
		return Record{}, fmt.Errorf("encode %s event: %w", h.Type, err)
	}
	return Record{ID: h.EventID, Type: h.Type, Payload: body, At: h.OccurredAt}, nil
}

// Count is how many events r's message holds.
func (r Record) Count() int { return max(r.Events, 1) }

// Insert begins the statement that writes records: a row's id, body,
// sent_at (milliseconds since the epoch), queue and count of events are its
// own, and visible_at is 0: visible at once, whatever the clocks of the
// writer and the consumer. The ledger's batch uses it to write its events in
// the statement that writes its money.
const Insert = "INSERT INTO queue_messages (id, body, sent_at, queue, events, visible_at) "

// writeChunk bounds the rows of one INSERT.
const writeChunk = 200

// Write adds recs to their queues in tx, in order, so that they commit
// with the change they announce: several events of one queue in one
// message (Group). It works on both databases.
func Write(ctx context.Context, tx *sql.Tx, recs ...Record) error {
	recs = Group(recs)
	for start := 0; start < len(recs); start += writeChunk {
		chunk := recs[start:min(start+writeChunk, len(recs))]
		var q strings.Builder
		q.WriteString(Insert + "VALUES ")
		args := make([]any, 0, 5*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, 0)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, r.ID, r.Payload, r.At.UnixMilli(), r.QueueName(), r.Count())
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("write %d messages of %s events: %w", len(chunk), chunk[0].Type, err)
		}
	}
	return nil
}

// Publish encodes p and writes it in tx; see Write.
func Publish(ctx context.Context, tx *sql.Tx, p Payload) error {
	r, err := Encode(p)
	if err != nil {
		return err
	}
	return Write(ctx, tx, r)
}
