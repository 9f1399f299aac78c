package payment

import (
	"context"

	"github.com/fintech-banking/bank/internal/bank"
)

// Instruction is what a rail is asked to pay.
type Instruction struct {
	PaymentID   string
	Amount      int64
	Currency    bank.Currency
	Beneficiary Beneficiary
	Reference   string
}

// Receipt is a rail's answer to one instruction: accepted, or rejected with
// a reason (the rail cannot carry it).
type Receipt struct {
	PaymentID string
	Rejected  string
}

// Outcome kinds.
const (
	OutcomeSettled  = "settled"
	OutcomeFailed   = "failed"
	OutcomeReturned = "returned"
)

// Outcome is what became of a payment the rail received.
type Outcome struct {
	PaymentID string
	Kind      string
	Reason    string // a failure's or return's reason, such as "R01: insufficient funds"
}

// Rail carries payments to other banks.
//
// Submit is idempotent on the payment id: the rail records what it received
// by payment id, and a payment it already has is answered again, never sent
// twice. So a submitter that crashed after Submit and before marking its
// payments submitted may hand them over again.
//
// Poll returns outcomes not yet acknowledged, at most max; Ack acknowledges
// those applied. An outcome returned twice is applied once (every step is
// idempotent), so several replicas may poll at once.
type Rail interface {
	Name() string
	Submit(ctx context.Context, batch []Instruction) ([]Receipt, error)
	Poll(ctx context.Context, max int) ([]Outcome, error)
	Ack(ctx context.Context, done []Outcome) error
}
