package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// TestEncodersMatchEncodingJSON holds the write path's own encoders to
// encoding/json's bytes, for hostile strings and every shape of the values.
func TestEncodersMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	texts := []string{"", "plain", all.String(), "<script>&amp;</script>", "line\u2028para\u2029",
		"\xff\xfe invalid", "é日本🙂", `"quoted" \back\slash`, "\x00\x01\x1f\x7f", "\xe2\x80", "a\u2027b\u202a"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		texts = append(texts, string(b))
	}
	times := []time.Time{time.Time{}, time.Date(2026, 12, 1, 5, 6, 7, 0, time.UTC),
		time.Date(2026, 12, 1, 5, 6, 7, 123456789, time.UTC), time.Date(1999, 1, 2, 3, 4, 5, 100, time.FixedZone("x", 3600))}
	check := func(name string, v any) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(v); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	for i, s := range texts {
		at := times[i%len(times)]
		tx := &Transaction{ID: s, Type: "transfer", Status: s, Amount: int64(i) - 100, Currency: "EUR",
			Description: s, CreatedAt: at, Postings: []Posting{{AccountID: s, Amount: -5}, {AccountID: "b", Amount: 5}}}
		if i%3 == 0 {
			tx.ReversesID, tx.HoldID, tx.Postings = s, "h"+s, nil
		}
		if i%5 == 0 {
			tx.Postings = []Posting{}
		}
		check("transaction", tx)
		ev := &event.Transaction{Header: event.Header{EventID: s, Type: "transaction.posted", Version: i % 2, OccurredAt: at},
			TransactionID: s, TransactionType: s, Amount: 7, Currency: "JPY", Description: s,
			Postings: []event.Posting{{AccountID: s, OwnerID: s, Amount: -7}, {AccountID: "x", Amount: 7}}}
		if i%4 == 0 {
			ev.Postings = nil
		}
		// Metadata: none, empty, and several keys in an order the map does
		// not keep, with hostile values.
		switch i % 3 {
		case 1:
			tx.Metadata, ev.Metadata = bank.Metadata{}, bank.Metadata{}
		case 2:
			md := bank.Metadata{"z.last": s, "a-first": "<&>" + s, "m_9": texts[(i+1)%len(texts)]}
			tx.Metadata, ev.Metadata = md, md
		}
		check("transaction with metadata", tx)
		check("event", ev)
	}
}
