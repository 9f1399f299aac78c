package ledger

import (
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// The events of money changes, written to the outbox in the batch's own
// transaction. Their payloads are internal/event's.

// event queues p for writing. With Config.SearchQueue, a transaction.posted
// event is also copied to the search indexer's queue, as a message of its
// own (a message id is unique across queues); the body, and so the event
// id the indexer deduplicates on, is the same.
func (b *batch) event(p event.Payload) {
	h := p.Head()
	r := event.Record{ID: h.EventID, Type: h.Type, Payload: encode(p), At: b.now}
	b.events = append(b.events, r)
	if b.l.cfg.SearchQueue && h.Type == event.TransactionPosted {
		r.ID, r.Queue = bank.NewID(), event.SearchQueue
		b.events = append(b.events, r)
	}
}

// event is t's transaction.posted, with the owner of each account moved.
func (t *Transaction) event(h event.Header, accounts map[string]*Account) *event.Transaction {
	legs := make([]event.Posting, len(t.Postings))
	for i, p := range t.Postings {
		legs[i] = event.Posting{AccountID: p.AccountID, Amount: p.Amount}
		if a := accounts[p.AccountID]; a != nil {
			legs[i].OwnerID = a.OwnerID
		}
	}
	return &event.Transaction{Header: h, TransactionID: t.ID, TransactionType: t.Type, Amount: t.Amount,
		Currency: t.Currency, Description: t.Description, Postings: legs, Metadata: t.Metadata}
}

// event is h's event of type typ (hold.created, hold.captured, …), on
// account a.
func (h *Hold) event(eh event.Header, a *Account) *event.Hold {
	return &event.Hold{Header: eh, HoldID: h.ID, AccountID: h.AccountID, OwnerID: a.OwnerID,
		Amount: h.Amount, CapturedAmount: h.CapturedAmount, Currency: h.Currency, Status: h.Status}
}
