// Package eventtest reads, in tests, the events a producer wrote.
package eventtest

import (
	"context"
	"testing"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
)

// Written returns the events waiting in db's events queue, in the order they
// were written, decoded, a group's one by one; matching, when given, keeps those it accepts.
func Written(t testing.TB, db *store.DB, matching ...func(event.Payload) bool) []event.Payload {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT body, events FROM queue_messages WHERE queue = $1 ORDER BY seq`, event.Queue)
	if err != nil {
		t.Fatalf("read the events: %v", err)
	}
	defer rows.Close()
	var out []event.Payload
	for rows.Next() {
		var (
			body []byte
			n    int
		)
		if err := rows.Scan(&body, &n); err != nil {
			t.Fatalf("read the events: %v", err)
		}
		events, err := event.Split(body)
		if err != nil {
			t.Fatalf("split the message %s: %v", body, err)
		}
		if n != len(events) {
			t.Errorf("a message of %d events counts %d (queue_messages.events): %s", len(events), n, body)
		}
	next:
		for _, e := range events {
			p, err := event.Decode(e)
			if err != nil {
				t.Fatalf("decode the event %s: %v", e, err)
			}
			for _, m := range matching {
				if !m(p) {
					continue next
				}
			}
			out = append(out, p)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the events: %v", err)
	}
	return out
}

// OfType accepts events of type typ.
func OfType(typ string) func(event.Payload) bool {
	return func(p event.Payload) bool { return p.Head().Type == typ }
}
