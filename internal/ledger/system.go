package ledger

import (
	"context"

	"github.com/fintech-banking/bank/internal/bank"
)

// Outgoing payments leave a customer account through the bank's settlement
// account of their currency: payment-service holds the money when a payment
// is accepted and, when the rail settles it, captures the hold into the
// settlement account with CaptureToSettlement. A return after settlement is
// a Reverse of that capture.

// CaptureToSettlement captures the whole remainder of the pending hold holdID
// into the settlement account of currency c, as one transaction of type
// "payment". Staff only (payment-service calls it as the system). It returns
// KindForbidden, KindInvalid, KindNotFound (the hold, or no settlement
// account of c) and KindRejected (hold_not_pending, hold_expired,
// account_frozen, …) like CaptureHold.
func (l *Ledger) CaptureToSettlement(ctx context.Context, p bank.Principal, idem Idempotency, holdID string, c bank.Currency) (Result, error) {
	if err := requireStaff(p); err != nil {
		return Result{}, err
	}
	if err := bank.CheckID("hold_id", holdID); err != nil {
		return Result{}, err
	}
	if _, err := bank.ParseCurrency(string(c)); err != nil {
		return Result{}, err
	}
	return l.submitOne(ctx, p, idem, command{op: opCapture, holdID: holdID,
		to: SystemAccountID(TypeSettlement, c), settle: true})
}

// captureTarget returns the account a capture credits: any customer account,
// or for CaptureToSettlement the settlement account of the hold's currency.
func (b *batch) captureTarget(c command, h *Hold) (*Account, error) {
	if !c.settle {
		return b.anyCustomerAccount("to_account_id", c.to)
	}
	a := b.accounts[c.to]
	if a == nil || a.Type != TypeSettlement || a.Currency != h.Currency {
		return nil, accountNotFound("to_account_id", c.to)
	}
	return a, nil
}

// captureType is the type of a capture's transaction.
func captureType(c command) string {
	if c.settle {
		return TxPayment
	}
	return TxCapture
}
