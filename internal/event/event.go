// Package event is the one home of the platform's events: the catalogue of
// their types, the payload each type carries (the contract between the
// service that writes an event and those that read it), and the outbox
// writer, which commits an event in its producer's own transaction. A new
// type or field is one change here, checked by the compiler on both sides.
//
// Everything a consumer needs is in the payload, because a dead-letter
// redrive re-sends only the message body.
package event

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The event types, as their producers write them.
const (
	// TransactionPosted: money moved (internal/ledger). Payload Transaction.
	TransactionPosted = "transaction.posted"
	// HoldCreated, HoldCaptured, HoldVoided, HoldExpired: a hold's life
	// (internal/ledger). Payload Hold.
	HoldCreated  = "hold.created"
	HoldCaptured = "hold.captured"
	HoldVoided   = "hold.voided"
	HoldExpired  = "hold.expired"
	// AccountFrozen: staff froze an account (internal/ledger). Payload Frozen.
	AccountFrozen = "account.frozen"
	// AccountMetadataChanged, TransactionMetadataChanged: staff amended an
	// account's or a transaction's metadata (internal/ledger). Payload
	// MetadataChanged.
	AccountMetadataChanged     = "account.metadata_changed"
	TransactionMetadataChanged = "transaction.metadata_changed"
	// UserLocked: staff locked a user's access (internal/auth). Payload Locked.
	UserLocked = "auth.login_failed_locked"
	// PaymentSubmitted, PaymentSettled, PaymentFailed, PaymentReturned,
	// PaymentCancelled: a payment's status changed (internal/payment).
	// Payload Payment.
	PaymentSubmitted = "payment.submitted"
	PaymentSettled   = "payment.settled"
	PaymentFailed    = "payment.failed"
	PaymentReturned  = "payment.returned"
	PaymentCancelled = "payment.cancelled"
	// ApprovalRequested: a staff action awaits another staff user's
	// approval; ApprovalDecided: it was approved, rejected or expired
	// (internal/approval). Payload Approval.
	ApprovalRequested = "approval.requested"
	ApprovalDecided   = "approval.decided"
)

// Version is the payload version this release writes. Adding a field keeps
// it; a change that an older reader would misread raises it, and readers
// refuse versions they do not know rather than guess.
const Version = 1

// catalogue makes the payload of each type, for Decode.
var catalogue = map[string]func() Payload{
	TransactionPosted:          func() Payload { return new(Transaction) },
	HoldCreated:                func() Payload { return new(Hold) },
	HoldCaptured:               func() Payload { return new(Hold) },
	HoldVoided:                 func() Payload { return new(Hold) },
	HoldExpired:                func() Payload { return new(Hold) },
	AccountFrozen:              func() Payload { return new(Frozen) },
	AccountMetadataChanged:     func() Payload { return new(MetadataChanged) },
	TransactionMetadataChanged: func() Payload { return new(MetadataChanged) },
	UserLocked:                 func() Payload { return new(Locked) },
	PaymentSubmitted:           func() Payload { return new(Payment) },
	PaymentSettled:             func() Payload { return new(Payment) },
	PaymentFailed:              func() Payload { return new(Payment) },
	PaymentReturned:            func() Payload { return new(Payment) },
	PaymentCancelled:           func() Payload { return new(Payment) },
	ApprovalRequested:          func() Payload { return new(Approval) },
	ApprovalDecided:            func() Payload { return new(Approval) },
}

// Header opens every payload. Consumers deduplicate on EventID: a message
// redriven from a dead-letter queue comes back with a new message id but the
// same body.
type Header struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	// Version is the payload's version; events written before versions
	// were recorded have none and read as 1.
	Version    int       `json:"version,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// NewHeader returns the header of a new event of type typ that happened at.
func NewHeader(typ string, at time.Time) Header {
	return Header{EventID: bank.NewID(), Type: typ, Version: Version, OccurredAt: at}
}

// Head returns the header itself: every payload has one.
func (h *Header) Head() *Header { return h }

// Payload is an event's whole body: one of this package's payload structs.
type Payload interface {
	Head() *Header
}

// Transaction is the payload of transaction.posted.
type Transaction struct {
	Header
	TransactionID   string        `json:"transaction_id"`
	TransactionType string        `json:"transaction_type"`
	Amount          int64         `json:"amount"`
	Currency        bank.Currency `json:"currency"`
	Description     string        `json:"description"`
	Postings        []Posting     `json:"postings"`
	Metadata        bank.Metadata `json:"metadata,omitempty"`
}

// Posting is one leg of a transaction, with its account's owner (none for
// the bank's own accounts), whom a notification tells.
type Posting struct {
	AccountID string `json:"account_id"`
	OwnerID   string `json:"owner_id,omitempty"`
	Amount    int64  `json:"amount"`
}

// Hold is the payload of the hold.* events.
type Hold struct {
	Header
	HoldID         string        `json:"hold_id"`
	AccountID      string        `json:"account_id"`
	OwnerID        string        `json:"owner_id"`
	Amount         int64         `json:"amount"`
	CapturedAmount int64         `json:"captured_amount"`
	Currency       bank.Currency `json:"currency"`
	Status         string        `json:"status"`
}

// Frozen is the payload of account.frozen.
type Frozen struct {
	Header
	AccountID string `json:"account_id"`
	OwnerID   string `json:"owner_id"`
	FrozenBy  string `json:"frozen_by"`
}

// MetadataChanged is the payload of account.metadata_changed and
// transaction.metadata_changed: the object's metadata as it is now, and the
// change that made it so.
type MetadataChanged struct {
	Header
	ObjectID  string        `json:"object_id"` // the account's or the transaction's id
	Metadata  bank.Metadata `json:"metadata"`
	Set       bank.Metadata `json:"set,omitempty"`
	Unset     []string      `json:"unset,omitempty"`
	ChangedBy string        `json:"changed_by"`
}

// Locked is the payload of auth.login_failed_locked.
type Locked struct {
	Header
	UserID   string `json:"user_id"`
	Email    string `json:"email"`
	LockedBy string `json:"locked_by"`
}

// Payment is the payload of the payment.* events.
type Payment struct {
	Header
	PaymentID     string        `json:"payment_id"`
	OwnerID       string        `json:"owner_id"`
	FromAccountID string        `json:"from_account_id"`
	Amount        int64         `json:"amount"`
	Currency      bank.Currency `json:"currency"`
	Status        string        `json:"status"`
	FailureReason string        `json:"failure_reason,omitempty"`
	Reference     string        `json:"reference"`
}

// Approval is the payload of approval.requested and approval.decided.
type Approval struct {
	Header
	ApprovalID  string `json:"approval_id"`
	Action      string `json:"action"`
	Status      string `json:"status"`
	RequestedBy string `json:"requested_by"`
	DecidedBy   string `json:"decided_by,omitempty"`
}

var (
	// ErrMalformed marks a body that is not an event: not a JSON object
	// with an event id and a type, or a known type whose fields do not
	// decode, or a version this release does not know.
	ErrMalformed = errors.New("malformed event")
	// ErrUnknownType marks a well-formed event of a type not in the
	// catalogue (a newer producer's).
	ErrUnknownType = errors.New("unknown event type")
)

// Decode reads a message body into its type's payload, in one parse: the
// type is read first (a scan of the top-level names, which stops at
// "type"), then the body into that type's struct. Decoding is strict, as
// for requests: duplicate names and invalid UTF-8 make a body malformed,
// and names match exactly. An event of a type not in the catalogue returns
// its header alone, with ErrUnknownType.
func Decode(body []byte) (Payload, error) {
	typ, err := typeOf(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	newPayload, ok := catalogue[typ]
	if !ok {
		newPayload = func() Payload { return new(Header) }
	}
	p := newPayload()
	if err := jsonv2.Unmarshal(body, p); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	h := p.Head()
	if bank.CheckID("event_id", h.EventID) != nil || h.Type == "" || len(h.Type) > 100 || !bank.ValidText(h.Type) {
		return nil, fmt.Errorf("%w: no event_id or type", ErrMalformed)
	}
	if h.Version > Version {
		return nil, fmt.Errorf("%w: %s version %d is newer than this release's %d", ErrMalformed, h.Type, h.Version, Version)
	}
	if !ok {
		return h, fmt.Errorf("%w: %s", ErrUnknownType, h.Type)
	}
	return p, nil
}

// decoders are typeOf's, used again: a consumer reads thousands of events a
// second, and a new decoder's buffer was a fifth of its work.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(bytes.NewReader(nil)) }}

// typeOf returns the value of body's top-level "type" member, or "" when it
// has none or it is not a string (Decode then finds the body malformed).
// Producers write the header first, so the scan stops after a few tokens.
func typeOf(body []byte) (string, error) {
	d := decoders.Get().(*jsontext.Decoder)
	d.Reset(bytes.NewReader(body))
	defer func() {
		d.Reset(bytes.NewReader(nil)) // let go of body
		decoders.Put(d)
	}()
	if tok, err := d.ReadToken(); err != nil {
		return "", err
	} else if tok.Kind() != '{' {
		return "", fmt.Errorf("an event is a JSON object, not %s", tok.Kind())
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadToken()
		if err != nil {
			return "", err
		}
		if name.String() != "type" {
			if err := d.SkipValue(); err != nil {
				return "", err
			}
			continue
		}
		v, err := d.ReadToken()
		if err != nil || v.Kind() != '"' {
			return "", err
		}
		return strings.Clone(v.String()), nil // v's bytes are the decoder's, used again
	}
	return "", nil
}
