// Package approval is four eyes for staff actions: the actions named in the
// rules (BANK_APPROVAL_RULES) are not done when staff ask; they wait, as an
// approval, until another staff user approves (then they run, once) or
// rejects them, or until they expire.
//
// The gate sits in front of the ledger for every staff action, so the HTTP
// API and any Go caller get the same behaviour. What is stored is the
// decoded input; on approval it runs through the same call (Service.Do's
// run) as a direct action, as the requester, with the approval's own
// Idempotency-Key: however many approvals race, and however often one is
// retried, the ledger moves the money once.
package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// Approval statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
	StatusExpired  = "expired"
)

// The audit actions of an approval's life.
const (
	AuditRequested = "approval.requested"
	AuditApproved  = "approval.approved"
	AuditRejected  = "approval.rejected"
	AuditExpired   = "approval.expired"
)

// Request is a staff action as decoded from its caller: what is stored
// while it waits and run on approval. Amount is set for the actions that
// carry one (an overdraft limit may be 0).
type Request struct {
	Action        string `json:"-"`
	AccountID     string `json:"account_id,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Amount        *int64 `json:"amount,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Description   string `json:"description,omitempty"`
	// Metadata goes with a deposit or withdrawal onto its transaction.
	Metadata bank.Metadata `json:"metadata,omitempty"`
	// Credit and Reference are a reconciliation's resolve: whether the money
	// goes into the account (else out of it, to suspense), and the item it
	// clears, which makes its Idempotency-Key whoever asks and approves.
	Credit    bool   `json:"credit,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// money is the request's amount and currency.
func (r Request) money() bank.Money {
	var n int64
	if r.Amount != nil {
		n = *r.Amount
	}
	return bank.Money{Amount: n, Currency: bank.Currency(r.Currency)}
}

// cash is the request as the ledger's deposit and withdrawal take it.
func (r Request) cash() ledger.CashInput {
	return ledger.CashInput{AccountID: r.AccountID, Money: r.money(), Description: r.Description, Metadata: r.Metadata}
}

// hash fingerprints the action and its input: a retry under the same key
// must carry the same request.
func (r Request) hash() string {
	b, _ := json.Marshal(r) // strings, integers and a map of strings always marshal, the map in key order
	h := sha256.Sum256(append([]byte(r.Action+"\n"), b...))
	return hex.EncodeToString(h[:])
}

// Approval is a staff action waiting for, or decided by, another staff user.
type Approval struct {
	ID          string     `json:"id"`
	Action      string     `json:"action"`
	Status      string     `json:"status"`
	RequestedBy string     `json:"requested_by"`
	Request     Request    `json:"request"`
	ExpiresAt   time.Time  `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Reason      string     `json:"reason,omitempty"`

	requesterRole bank.Role
	key, hash     string
	result        []byte // the action's answer once it ran: its JSON, or an error document
}

// requester is the principal the action runs as: whoever asked for it.
func (a *Approval) requester() bank.Principal {
	return bank.Principal{UserID: a.RequestedBy, Role: a.requesterRole}
}

// idempotency is the key the action runs under: the approval's id, so
// that every approval of it, racing or retried, is one request to the ledger.
func (a *Approval) idempotency() ledger.Idempotency {
	return ledger.Idempotency{Key: "approval-" + a.ID, Hash: a.hash}
}

// Outcome is the answer to a staff action: an approval when it must wait,
// else what the action answered (a ledger result or an account).
type Outcome struct {
	Approval *Approval       // set when the action waits for approval
	Replayed bool            // the approval of an earlier request with the same key
	Result   ledger.Result   // a money action's answer
	Account  *ledger.Account // an account action's answer
}

// JSON returns the action's answer as the API writes it (not for an
// approval, which the caller encodes itself).
func (o Outcome) JSON() []byte {
	if o.Account != nil {
		b, _ := json.Marshal(o.Account) // an account always marshals
		return b
	}
	return o.Result.JSON()
}

// Decision is the answer to an approval: the approval as decided and, when
// it was approved, the action's answer (its JSON, or an error document when
// a money rule refused it).
type Decision struct {
	Approval *Approval       `json:"approval"`
	Result   json.RawMessage `json:"result,omitempty"`
	Replayed bool            `json:"-"`
}

// Config tunes a Service.
type Config struct {
	Rules Rules
	// TTL is how long an approval waits before it expires (0: 24 h).
	TTL time.Duration
	// SweepInterval is how often Run expires approvals (0: a minute).
	SweepInterval time.Duration
}

// Service is the four-eyes gate in front of the ledger's staff actions.
type Service struct {
	db    *store.DB
	l     *ledger.Ledger
	log   *slog.Logger
	clock clock.Clock
	cfg   Config
}

// New returns the gate over l, its approvals kept in db; clk is the clock
// (clock.Real() outside tests).
func New(db *store.DB, l *ledger.Ledger, log *slog.Logger, clk clock.Clock, cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	return &Service{db: db, l: l, log: log, clock: clk, cfg: cfg}
}

// now is the time as the database stores it: UTC, microseconds.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// Do runs the staff action req for p, or, when p is staff and a rule holds
// req, records it as a pending approval and runs nothing. idem is the
// caller's Idempotency-Key (its Hash is not used for an approval, whose
// request is fingerprinted here). Errors: those of the action itself
// (ledger), and for an approval KindInvalid (input), KindNotFound (the
// account or transaction), KindRejected (idempotency_key_reused).
func (s *Service) Do(ctx context.Context, p bank.Principal, idem ledger.Idempotency, req Request) (Outcome, error) {
	// Checked before an approval keeps it, not only when the action runs.
	if err := bank.CheckMetadata("metadata", req.Metadata); err != nil {
		return Outcome{}, err
	}
	if p.Staff() && s.cfg.Rules.Applies(req) {
		return s.request(ctx, p, idem.Key, req)
	}
	return s.run(ctx, p, idem, req)
}

// run does req for p: the one call of each action, direct or approved.
func (s *Service) run(ctx context.Context, p bank.Principal, idem ledger.Idempotency, req Request) (Outcome, error) {
	var (
		o   Outcome
		err error
	)
	switch req.Action {
	case ActionDeposit:
		o.Result, err = s.l.Deposit(ctx, p, idem, req.cash())
	case ActionWithdrawal:
		o.Result, err = s.l.Withdraw(ctx, p, idem, req.cash())
	case ActionReversal:
		o.Result, err = s.l.Reverse(ctx, p, idem, req.TransactionID, req.Description)
	case ActionReconResolve:
		// The item's key, not the caller's or the approval's: one item
		// clears once, however many staff users ask or approve.
		o.Result, err = s.l.PostToSuspense(ctx, p, ledger.Idempotency{Key: "recon:" + req.Reference, Hash: req.hash()},
			ledger.SuspenseInput{AccountID: req.AccountID, Money: req.money(), Credit: req.Credit,
				Description: req.Description, Metadata: req.Metadata})
	case ActionOverdraftLimit:
		o.Account, err = s.l.SetOverdraftLimit(ctx, p, req.AccountID, req.money().Amount)
	case ActionFreeze:
		o.Account, err = s.l.SetStatus(ctx, p, req.AccountID, ledger.ActionFreeze)
	case ActionUnfreeze:
		o.Account, err = s.l.SetStatus(ctx, p, req.AccountID, ledger.ActionUnfreeze)
	case ActionClose:
		o.Account, err = s.l.SetStatus(ctx, p, req.AccountID, ledger.ActionClose)
	default:
		err = bank.Invalid("action", "is not a staff action")
	}
	return o, err
}

// keyed reports whether action runs through the ledger's write path under
// an Idempotency-Key, so that running it again replays it.
func keyed(action string) bool {
	return action == ActionDeposit || action == ActionWithdrawal || action == ActionReversal || action == ActionReconResolve
}

// Run expires approvals every SweepInterval until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	for {
		if clock.Sleep(ctx, s.clock, s.cfg.SweepInterval) != nil {
			return nil
		}
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("expire approvals", "err", err)
		}
	}
}
