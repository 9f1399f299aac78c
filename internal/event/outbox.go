package event

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Columns are the outbox table and the columns a record fills, for the
// statements that write records along with other rows in one round trip
// (the ledger's batch).
const Columns = "outbox (id, type, aggregate_id, payload, created_at)"

// Record is one event as the outbox keeps it.
type Record struct {
	ID        string
	Type      string
	Aggregate string // what the event is about: an account, a payment…
	Payload   []byte // the encoded payload
	At        time.Time
}

// Encode returns p's record; aggregate names what p is about.
func Encode(p Payload, aggregate string) (Record, error) {
	h := p.Head()
	body, err := json.Marshal(p)
	if err != nil {
		return Record{}, fmt.Errorf("encode %s event: %w", h.Type, err)
	}
	return Record{ID: h.EventID, Type: h.Type, Aggregate: aggregate, Payload: body, At: h.OccurredAt}, nil
}

// writeChunk bounds the rows of one INSERT.
const writeChunk = 200

// Write adds recs to the outbox in tx, in order, so that they commit with
// the change they announce. It works on both databases.
func Write(ctx context.Context, tx *sql.Tx, recs ...Record) error {
	for start := 0; start < len(recs); start += writeChunk {
		chunk := recs[start:min(start+writeChunk, len(recs))]
		var q strings.Builder
		q.WriteString("INSERT INTO " + Columns + " VALUES ")
		args := make([]any, 0, 5*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, r.ID, r.Type, r.Aggregate, string(r.Payload), r.At)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("write %d %s events: %w", len(chunk), chunk[0].Type, err)
		}
	}
	return nil
}

// Publish encodes p and writes it to the outbox in tx; see Write.
func Publish(ctx context.Context, tx *sql.Tx, p Payload, aggregate string) error {
	r, err := Encode(p, aggregate)
	if err != nil {
		return err
	}
	return Write(ctx, tx, r)
}
