package notification

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// The event types the service tells users about, as their producers write
// them (internal/ledger, internal/auth, payment-service).
const (
	TypeTransactionPosted = "transaction.posted"
	TypeHoldCreated       = "hold.created"
	TypeAccountFrozen     = "account.frozen"
	TypeLoginLocked       = "auth.login_failed_locked"
	TypePaymentSettled    = "payment.settled"
	TypePaymentFailed     = "payment.failed"
	TypePaymentReturned   = "payment.returned"
)

// quiet are events the platform writes that no user is told about: they are
// acknowledged as "ignored", not as unknown. (A payment's submission and
// the customer's own cancellation need no message; its outcome does.)
var quiet = []string{"hold.captured", "hold.voided", "hold.expired", "payment.submitted", "payment.cancelled"}

// event is the body of every message, all types' fields in one: a field a
// type does not have stays zero. Everything a notification needs is in the
// body, because a DLQ redrive re-sends only the body.
type event struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`

	// transaction.posted
	TransactionID   string `json:"transaction_id"`
	TransactionType string `json:"transaction_type"`
	Description     string `json:"description"`
	Postings        []struct {
		AccountID string `json:"account_id"`
		OwnerID   string `json:"owner_id"`
		Amount    int64  `json:"amount"`
	} `json:"postings"`

	// hold.created, account.frozen, payment.*
	HoldID        string `json:"hold_id"`
	PaymentID     string `json:"payment_id"`
	AccountID     string `json:"account_id"`
	OwnerID       string `json:"owner_id"`
	Status        string `json:"status"`
	FailureReason string `json:"failure_reason"`

	// auth.login_failed_locked
	UserID string `json:"user_id"`

	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// errMalformed marks a body that is not an event this service can read.
var errMalformed = errors.New("malformed event")

// decodeEvent reads a message body. It returns errMalformed for a body that
// is not a JSON object with an event id and a type; the type's own fields
// are checked by the type's spec.
func decodeEvent(body []byte) (*event, error) {
	var e event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if bank.CheckID("event_id", e.EventID) != nil || e.Type == "" || len(e.Type) > 100 || !bank.ValidText(e.Type) {
		return nil, fmt.Errorf("%w: no event_id or type", errMalformed)
	}
	return &e, nil
}

// spec is what the service does with one event type: whom it tells, what
// it says, and what a webhook receives.
type spec struct {
	// recipients returns the users to tell, or errMalformed when the body
	// lacks what the type needs.
	recipients func(e *event) ([]string, error)
	// data is the part of the event a webhook receives for recipient: only
	// what concerns them (a transfer's counterparty stays out of it).
	data func(e *event, recipient string) map[string]any
}

// specs are the event types with a template. A payment's fields are those
// payment-service writes: payment_id, owner_id, amount, currency, status,
// failure_reason.
func specs() map[string]spec {
	owner := func(need ...string) func(e *event) ([]string, error) {
		return func(e *event) ([]string, error) {
			if err := require(e, need...); err != nil {
				return nil, err
			}
			return []string{e.OwnerID}, nil
		}
	}
	payment := spec{
		recipients: owner("owner_id", "payment_id", "currency"),
		data: func(e *event, _ string) map[string]any {
			d := map[string]any{"payment_id": e.PaymentID, "amount": e.Amount, "currency": e.Currency, "status": e.Status}
			if e.FailureReason != "" {
				d["failure_reason"] = e.FailureReason
			}
			return d
		},
	}
	return map[string]spec{
		TypeTransactionPosted: {
			recipients: func(e *event) ([]string, error) {
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
			data: func(e *event, recipient string) map[string]any {
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
		TypeHoldCreated: {
			recipients: owner("owner_id", "hold_id", "currency"),
			data: func(e *event, _ string) map[string]any {
				return map[string]any{"hold_id": e.HoldID, "account_id": e.AccountID, "amount": e.Amount, "currency": e.Currency}
			},
		},
		TypeAccountFrozen: {
			recipients: owner("owner_id", "account_id"),
			data:       func(e *event, _ string) map[string]any { return map[string]any{"account_id": e.AccountID} },
		},
		TypeLoginLocked: {
			recipients: func(e *event) ([]string, error) {
				if err := require(e, "user_id"); err != nil {
					return nil, err
				}
				return []string{e.UserID}, nil
			},
			data: func(e *event, _ string) map[string]any { return map[string]any{} },
		},
		TypePaymentSettled:  payment,
		TypePaymentFailed:   payment,
		TypePaymentReturned: payment,
	}
}

// require returns errMalformed unless each named field of e is set.
func require(e *event, fields ...string) error {
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
func (e *event) net(recipient string) int64 {
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
