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
// each change; with SQS the outbox relay forwards them. The row is the
// outbox and the message at once: one row per event, its payload stored
// once.
const Queue = "notifications"

// Record is one encoded event, ready for the queue.
type Record struct {
	ID      string
	Type    string
	Payload []byte
	At      time.Time
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

// Insert begins the statement that writes records: a row's id, body and
// sent_at (milliseconds since the epoch) are its own, and NewMessage follows
// them. The ledger's batch uses it to write its events in the statement that
// writes its money.
const Insert = "INSERT INTO queue_messages (id, body, sent_at, queue, visible_at) "

// NewMessage is the queue and visible_at of every new event: visible at
// once, whatever the clocks of the writer and the consumer.
const NewMessage = "'" + Queue + "', 0"

// writeChunk bounds the rows of one INSERT.
const writeChunk = 200

// Write adds recs to the events' queue in tx, in order, so that they commit
// with the change they announce. It works on both databases.
func Write(ctx context.Context, tx *sql.Tx, recs ...Record) error {
	for start := 0; start < len(recs); start += writeChunk {
		chunk := recs[start:min(start+writeChunk, len(recs))]
		var q strings.Builder
		q.WriteString(Insert + "VALUES ")
		args := make([]any, 0, 3*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, %s)", n+1, n+2, n+3, NewMessage)
			args = append(args, r.ID, r.Payload, r.At.UnixMilli())
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("write %d %s events: %w", len(chunk), chunk[0].Type, err)
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
