package event_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// FuzzDecode: any message body is an event, a well-formed event of an
// unknown type, or malformed, never a crash; an event decoded and encoded
// again as its producer would decodes to itself.
func FuzzDecode(f *testing.F) {
	at := time.Date(2026, 12, 6, 19, 48, 40, 123456789, time.UTC)
	for _, p := range []event.Payload{
		&event.Transaction{Header: event.NewHeader(event.TransactionPosted, at), TransactionID: "t1", TransactionType: "transfer",
			Amount: 250, Currency: "EUR", Description: "Rent \u00e9", Postings: []event.Posting{{AccountID: "a", OwnerID: "u", Amount: -250},
				{AccountID: "b", Amount: 250}}, Metadata: bank.Metadata{"order": "42"}},
		&event.Hold{Header: event.NewHeader(event.HoldCaptured, at), HoldID: "h", AccountID: "a", Amount: 9, CapturedAmount: 4, Currency: "JPY"},
		&event.Frozen{Header: event.NewHeader(event.AccountFrozen, at), AccountID: "a", OwnerID: "u", FrozenBy: "s"},
		&event.MetadataChanged{Header: event.NewHeader(event.AccountMetadataChanged, at), ObjectID: "a",
			Metadata: bank.Metadata{"k": "v"}, Unset: []string{"old"}, ChangedBy: "s"},
		&event.Locked{Header: event.NewHeader(event.UserLocked, at), UserID: "u", Email: "a@b.test", LockedBy: "s"},
		&event.Payment{Header: event.NewHeader(event.PaymentReturned, at), PaymentID: "p", Amount: 1, Currency: "USD",
			Status: "returned", FailureReason: "R01"},
		&event.Approval{Header: event.NewHeader(event.ApprovalDecided, at), ApprovalID: "ap", Action: "a", Status: "approved"},
	} {
		rec, err := event.Encode(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec.Payload)
	}
	for _, s := range []string{`{"event_id":"e1","type":"thing.happened"}`, `{"amount":12,"event_id":"e1","type":"hold.created"}`,
		`{"event_id":"e1","type":"hold.created","version":2}`, `{"event_id":"e1","type":7}`, `[]`, `{"event_id":"e1","type":"hold.created","amount":1e2}`,
		"{\"event_id\":\"e1\",\"type\":\"payment.failed\",\"reference\":\"\xff\"}", `{"type":"transaction.posted","event_id":"e","postings":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := event.Decode(body)
		switch {
		case errors.Is(err, event.ErrMalformed):
			if p != nil {
				t.Fatalf("Decode(%q) is malformed but returned %+v", body, p)
			}
			return
		case errors.Is(err, event.ErrUnknownType):
			if p == nil || p.Head().EventID == "" {
				t.Fatalf("Decode(%q): an unknown type without its header: %+v", body, p)
			}
			return
		case err != nil:
			t.Fatalf("Decode(%q): %v, want ErrMalformed or ErrUnknownType", body, err)
		}
		h := p.Head()
		if bank.CheckID("event_id", h.EventID) != nil || !bank.ValidText(h.Type) || h.Version > event.Version {
			t.Fatalf("Decode(%q) accepted the header %+v", body, h)
		}
		rec, err := event.Encode(p)
		if err != nil {
			return // a time json cannot write (a year past 9999): the producer never made it
		}
		again, err := event.Decode(rec.Payload)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, which encodes to %s, which does not decode: %v", body, p, rec.Payload, err)
		}
		// An empty map or list is written as none (omitempty): the same event.
		if diff := cmp.Diff(p, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Decode(%q), encoded and decoded again (-first +again):\n%s", body, diff)
		}
	})
}
