package notification

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// quiet are events the platform writes that no user is told about: they are
// acknowledged as "ignored", not as unknown. (A payment's submission and
// the customer's own cancellation need no message; its outcome does.
// Approvals concern staff alone, and metadata is the bank's own record.)
var quiet = []string{event.HoldCaptured, event.HoldVoided, event.HoldExpired, event.PaymentSubmitted, event.PaymentCancelled,
	event.ApprovalRequested, event.ApprovalDecided, event.AccountMetadataChanged, event.TransactionMetadataChanged}

// notice is what the service reads of an event: its header and the fields
// its templates and webhooks use, taken from internal/event's payloads. A
// field a type does not have stays zero.
type notice struct {
	event.Header

	// transaction.posted
	TransactionID   string
	TransactionType string
	Description     string
	Postings        []event.Posting

	// hold.created, account.frozen, payment.*
	HoldID        string
	PaymentID     string
	AccountID     string
	OwnerID       string
	Status        string
	FailureReason string

	// auth.login_failed_locked
	UserID string

	Amount   int64
	Currency string
}

// errMalformed marks a body that is not an event this service can read.
var errMalformed = event.ErrMalformed

// decodeEvent reads a message body through internal/event. It returns
// errMalformed for a body that is not an event of a known version; an event
// of an unknown type comes back with its header alone. The type's own fields
// are checked by the type's spec.
func decodeEvent(body []byte) (*notice, error) {
	p, err := event.Decode(body)
	if errors.Is(err, event.ErrUnknownType) {
		return &notice{Header: *p.Head()}, nil
	}
	if err != nil {
		return nil, err
	}
	n := &notice{Header: *p.Head()}
	switch p := p.(type) {
	case *event.Transaction:
		n.TransactionID, n.TransactionType, n.Description, n.Postings = p.TransactionID, p.TransactionType, p.Description, p.Postings
		n.Amount, n.Currency = p.Amount, string(p.Currency)
	case *event.Hold:
		n.HoldID, n.AccountID, n.OwnerID, n.Status = p.HoldID, p.AccountID, p.OwnerID, p.Status
		n.Amount, n.Currency = p.Amount, string(p.Currency)
	case *event.Frozen:
		n.AccountID, n.OwnerID = p.AccountID, p.OwnerID
	case *event.Locked:
		n.UserID = p.UserID
	case *event.Payment:
		n.PaymentID, n.OwnerID, n.Status, n.FailureReason = p.PaymentID, p.OwnerID, p.Status, p.FailureReason
		n.Amount, n.Currency = p.Amount, string(p.Currency)
	}
	return n, nil
}

// spec is what the service does with one event type: whom it tells, what
// it says, and what a webhook receives.
type spec struct {
	// recipients returns the users to tell, or errMalformed when the body
	// lacks what the type needs.
	recipients func(e *notice) ([]string, error)
	// data is the part of the event a webhook receives for recipient: only
	// what concerns them (a transfer's counterparty stays out of it).
	data func(e *notice, recipient string) map[string]any
}

// specs are the event types with a template. A payment's fields are those
// payment-service writes: payment_id, owner_id, amount, currency, status,
// failure_reason.
func specs() map[string]spec {
	owner := func(need ...string) func(e *notice) ([]string, error) {
		return func(e *notice) ([]string, error) {
			if err := require(e, need...); err != nil {
				return nil, err
			}
			return []string{e.OwnerID}, nil
		}
	}
	payment := spec{
		recipients: owner("owner_id", "payment_id", "currency"),
		data: func(e *notice, _ string) map[string]any {
			d := map[string]any{"payment_id": e.PaymentID, "amount": e.Amount, "currency": e.Currency, "status": e.Status}
			if e.FailureReason != "" {
				d["failure_reason"] = e.FailureReason
			}
			return d
		},
	}
	return map[string]spec{
		event.TransactionPosted: {
			recipients: func(e *notice) ([]string, error) {
				if err := require(e, "transaction_id", "currency"); err != nil {
					return nil, err
				}
				if len(e.Postings) == 0 {
					return nil, fmt.Errorf("%w: no postings", errMalformed)
				}
				var out []string
				for _, p := range e.Postings {
					// System accounts (cash, settlement) have no owner.
					if p.OwnerID != "" && !slices.Contains(out, p.OwnerID) {
						out = append(out, p.OwnerID)
					}
				}
				return out, nil
			},
			data: func(e *notice, recipient string) map[string]any {
				var accounts []string
				for _, p := range e.Postings {
					if p.OwnerID == recipient && !slices.Contains(accounts, p.AccountID) {
						accounts = append(accounts, p.AccountID)
					}
				}
				return map[string]any{"transaction_id": e.TransactionID, "transaction_type": e.TransactionType,
					"amount": e.net(recipient), "currency": e.Currency, "description": e.Description, "account_ids": accounts}
			},
		},
		event.HoldCreated: {
			recipients: owner("owner_id", "hold_id", "currency"),
			data: func(e *notice, _ string) map[string]any {
				return map[string]any{"hold_id": e.HoldID, "account_id": e.AccountID, "amount": e.Amount, "currency": e.Currency}
			},
		},
		event.AccountFrozen: {
			recipients: owner("owner_id", "account_id"),
			data:       func(e *notice, _ string) map[string]any { return map[string]any{"account_id": e.AccountID} },
		},
		event.UserLocked: {
			recipients: func(e *notice) ([]string, error) {
				if err := require(e, "user_id"); err != nil {
					return nil, err
				}
				return []string{e.UserID}, nil
			},
			data: func(e *notice, _ string) map[string]any { return map[string]any{} },
		},
		event.PaymentSettled:  payment,
		event.PaymentFailed:   payment,
		event.PaymentReturned: payment,
	}
}

// require returns errMalformed unless each named field of e is set.
func require(e *notice, fields ...string) error {
	for _, f := range fields {
		v := map[string]string{"owner_id": e.OwnerID, "user_id": e.UserID, "hold_id": e.HoldID, "payment_id": e.PaymentID,
			"account_id": e.AccountID, "transaction_id": e.TransactionID, "currency": e.Currency}[f]
		if v == "" {
			return fmt.Errorf("%w: %s has no %s", errMalformed, e.Type, f)
		}
	}
	return nil
}

// net is the sum of recipient's postings in e: what the transaction did to
// their money (negative: it left their accounts).
func (e *notice) net(recipient string) int64 {
	var n int64
	for _, p := range e.Postings {
		if p.OwnerID == recipient {
			n += p.Amount
		}
	}
	return n
}

// formatMoney writes minor units as a decimal amount of currency: 1250 EUR
// is "12.50 EUR", 1250 JPY is "1250 JPY". No float is involved.
func formatMoney(amount int64, currency string) string {
	exp := bank.Currency(currency).Exponent()
	neg := amount < 0
	if neg {
		amount = -amount
	}
	s := strconv.FormatInt(amount, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s + " " + currency
}
