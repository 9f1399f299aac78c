package ledger

import (
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/queue"
)

// The events of money changes, written to the outbox in the batch's own
// transaction.

// event is an outbox row.
type event struct {
	id, typ, aggregate string
	payload            []byte
}

// event queues an outbox row; body makes its payload around the header.
func (b *batch) event(typ, aggregate string, body func(queue.Header) any) {
	h := queue.NewHeader(typ, b.now)
	b.events = append(b.events, event{id: h.EventID, typ: typ, aggregate: aggregate, payload: encode(body(h))})
}

// leg is a posting as an event tells it, with the owner to notify.
type leg struct {
	AccountID string `json:"account_id"`
	OwnerID   string `json:"owner_id,omitempty"`
	Amount    int64  `json:"amount"`
}

// transactionEvent says what a notification needs: everything is in the
// message body, because a DLQ redrive re-sends only the body.
type transactionEvent struct {
	queue.Header
	TransactionID   string        `json:"transaction_id"`
	TransactionType string        `json:"transaction_type"`
	Amount          int64         `json:"amount"`
	Currency        bank.Currency `json:"currency"`
	Description     string        `json:"description"`
	Postings        []leg         `json:"postings"`
}

func (t *Transaction) event(accounts map[string]*Account) func(queue.Header) any {
	return func(h queue.Header) any {
		legs := make([]leg, len(t.Postings))
		for i, p := range t.Postings {
			legs[i] = leg{AccountID: p.AccountID, Amount: p.Amount}
			if a := accounts[p.AccountID]; a != nil {
				legs[i].OwnerID = a.OwnerID
			}
		}
		return transactionEvent{Header: h, TransactionID: t.ID, TransactionType: t.Type, Amount: t.Amount,
			Currency: t.Currency, Description: t.Description, Postings: legs}
	}
}

type holdEvent struct {
	queue.Header
	HoldID         string        `json:"hold_id"`
	AccountID      string        `json:"account_id"`
	OwnerID        string        `json:"owner_id"`
	Amount         int64         `json:"amount"`
	CapturedAmount int64         `json:"captured_amount"`
	Currency       bank.Currency `json:"currency"`
	Status         string        `json:"status"`
}

func (h *Hold) event(a *Account) func(queue.Header) any {
	return func(eh queue.Header) any {
		return holdEvent{Header: eh, HoldID: h.ID, AccountID: h.AccountID, OwnerID: a.OwnerID,
			Amount: h.Amount, CapturedAmount: h.CapturedAmount, Currency: h.Currency, Status: h.Status}
	}
}
