package event_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/event/eventtest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestPublish writes events in a producer's transaction and reads them back
// as a consumer does: each is one new message of the events' queue, named by
// the event's id, whose body decodes into the same struct, hostile text
// included.
func TestPublish(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		sent := []event.Payload{
			&event.Transaction{Header: event.NewHeader(event.TransactionPosted, at), TransactionID: "t1", TransactionType: "transfer",
				Amount: 5, Currency: "EUR", Description: "caf\u00e9 \u2028 <b>&", Postings: []event.Posting{{AccountID: "a", OwnerID: "u", Amount: -5}, {AccountID: "b", Amount: 5}}},
			&event.Locked{Header: event.NewHeader(event.UserLocked, at), UserID: "u", Email: "u@x.test", LockedBy: "op"},
			&event.Payment{Header: event.NewHeader(event.PaymentFailed, at), PaymentID: "p", OwnerID: "u", Amount: 7, Currency: "USD",
				Status: "failed", FailureReason: "R03"},
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			for _, p := range sent {
				if err := event.Publish(ctx, tx, p); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var ids []string
		if err := func() error {
			rows, err := db.QueryContext(ctx, `SELECT id, sent_at, visible_at, receive_count FROM queue_messages WHERE queue = $1 ORDER BY seq`, event.Queue)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var sentAt, visibleAt, receives int64
				if err := rows.Scan(&id, &sentAt, &visibleAt, &receives); err != nil {
					return err
				}
				if sentAt != at.UnixMilli() || visibleAt != 0 || receives != 0 {
					t.Errorf("message %s: sent_at %d, visible_at %d, %d receives; want %d, 0, 0", id, sentAt, visibleAt, receives, at.UnixMilli())
				}
				ids = append(ids, id)
			}
			return rows.Err()
		}(); err != nil {
			t.Fatal(err)
		}
		got := eventtest.Written(t, db)
		for i, p := range got {
			if h := p.Head(); i >= len(ids) || ids[i] != h.EventID || h.Version != event.Version {
				t.Errorf("message %d is event %+v; want its id %v and version %d", i, h, ids, event.Version)
			}
		}
		if diff := cmp.Diff(got, sent); diff != "" {
			t.Errorf("read back (-got +sent):\n%s", diff)
		}
	})
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		want       error
	}{
		{"not JSON", `{"event_id":`, event.ErrMalformed},
		{"no id", `{"type":"transaction.posted"}`, event.ErrMalformed},
		{"control character in type", `{"event_id":"e1","type":"a\u0000b"}`, event.ErrMalformed},
		{"newer version", `{"event_id":"e1","type":"hold.created","version":2}`, event.ErrMalformed},
		{"wrong field type", `{"event_id":"e1","type":"hold.created","amount":"12"}`, event.ErrMalformed},
		{"duplicate name", `{"event_id":"e1","type":"hold.created","amount":12,"amount":13}`, event.ErrMalformed},
		{"duplicate type", `{"event_id":"e1","type":"hold.created","type":"thing.happened"}`, event.ErrMalformed},
		{"invalid UTF-8", "{\"event_id\":\"e1\",\"type\":\"hold.created\",\"status\":\"\xff\"}", event.ErrMalformed},
		{"type not a string", `{"event_id":"e1","type":7}`, event.ErrMalformed},
		{"not an object", `["transaction.posted"]`, event.ErrMalformed},
		{"unknown type", `{"event_id":"e1","type":"thing.happened"}`, event.ErrUnknownType},
		{"type after the payload", `{"amount":12,"event_id":"e1","type":"hold.created"}`, nil},
		{"before versions", `{"event_id":"e1","type":"hold.created","amount":12}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := event.Decode([]byte(c.body))
			if c.want == nil {
				if err != nil || p.(*event.Hold).Amount != 12 {
					t.Fatalf("Decode = %+v, %v; want a hold of 12", p, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode(%s) = %v, want %v", c.body, err, c.want)
			}
		})
	}
}
