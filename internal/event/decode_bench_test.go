package event

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// BenchmarkDecode decodes a transaction.posted body as the ledger writes it,
// as every consumer does for each event it reads.
//
//	go test -run '^$' -bench Decode ./internal/event
func BenchmarkDecode(b *testing.B) {
	body, err := json.Marshal(&Transaction{
		Header:        NewHeader(TransactionPosted, time.Date(2026, 12, 7, 13, 0, 0, 123456789, time.UTC)),
		TransactionID: bank.NewID(), TransactionType: "transfer", Amount: 1234, Currency: "USD",
		Description: "bench transfer 42",
		Postings: []Posting{
			{AccountID: bank.NewID(), OwnerID: bank.NewID(), Amount: -1234},
			{AccountID: bank.NewID(), OwnerID: bank.NewID(), Amount: 1234},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
