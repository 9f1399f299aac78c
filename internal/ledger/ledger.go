// Package ledger is the double-entry core of the bank: accounts and their
// balances, transactions and their postings, holds, reversals, idempotency and
// the outbox rows of every money change.
//
// Invariants, kept at every commit:
//   - every transaction's postings sum to zero, and postings are never changed;
//   - an account's posted balance is the sum of its postings, its pending
//     balance the uncaptured remainder of its pending holds;
//   - the balances of all accounts of a currency sum to zero, because cash
//     enters and leaves through the bank's own system accounts;
//   - a customer account's available balance (posted − pending + overdraft
//     limit) never goes below zero.
//
// Every money-moving request goes through one write path (commit.go): it is
// queued, and the requests queued at that moment are posted together in one
// database transaction (plan.go) that locks their accounts in a fixed order,
// checks their idempotency keys, decides every request in Go by the money
// rules (rules.go), writes with set-based statements and commits once.
//
// The ledger knows nothing of HTTP: it takes a bank.Principal and typed
// input, checks that input by its own rules, and returns domain results and
// *bank.Error values.
package ledger

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/store"
)

// Account types. Customers hold checking and savings accounts; the bank's own
// system accounts, one of each per currency, have no owner and no floor.
const (
	TypeChecking   = "checking"
	TypeSavings    = "savings"
	TypeCash       = "cash"       // the other side of deposits and withdrawals
	TypeSettlement = "settlement" // the other side of outgoing payments
	TypeSuspense   = "suspense"   // money whose destination is not yet known
)

// Account statuses.
const (
	StatusActive = "active"
	StatusFrozen = "frozen"
	StatusClosed = "closed"
)

// Transaction types.
const (
	TxDeposit    = "deposit"
	TxWithdrawal = "withdrawal"
	TxTransfer   = "transfer"
	TxCapture    = "capture"
	TxReversal   = "reversal"
	TxPayment    = "payment"
)

// Hold statuses.
const (
	HoldPending  = "pending"
	HoldCaptured = "captured"
	HoldVoided   = "voided"
	HoldExpired  = "expired"
)

// Account is a customer's or the bank's account with its balances.
type Account struct {
	ID             string        `json:"id"`
	OwnerID        string        `json:"owner_id"`
	Number         string        `json:"number"`
	Name           string        `json:"name"`
	Type           string        `json:"type"`
	Currency       bank.Currency `json:"currency"`
	Status         string        `json:"status"`
	OverdraftLimit int64         `json:"overdraft_limit"`
	Balance        Balance       `json:"balance"`
	CreatedAt      time.Time     `json:"created_at"`
	Metadata       bank.Metadata `json:"metadata,omitempty"`
}

// Balance is an account's balances in minor units.
type Balance struct {
	Posted    int64 `json:"posted"`
	Pending   int64 `json:"pending"`
	Available int64 `json:"available"`
}

// System reports whether a is one of the bank's own accounts, which have no
// owner and no floor.
func (a *Account) System() bool { return a.OwnerID == "" }

// available is posted − pending + overdraft limit.
func (a *Account) available() int64 {
	return a.Balance.Posted - a.Balance.Pending + a.OverdraftLimit
}

func (a *Account) setAvailable() { a.Balance.Available = a.available() }

// Transaction is a set of postings written once.
type Transaction struct {
	ID          string        `json:"id"`
	Type        string        `json:"type"`
	Status      string        `json:"status"`
	Amount      int64         `json:"amount"`
	Currency    bank.Currency `json:"currency"`
	Description string        `json:"description"`
	ReversesID  string        `json:"reverses_id,omitempty"`
	HoldID      string        `json:"hold_id,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	Postings    []Posting     `json:"postings"`
	Metadata    bank.Metadata `json:"metadata,omitempty"`

	createdBy string
}

// Posting is one leg of a transaction: a signed amount on an account
// (negative: debit).
type Posting struct {
	AccountID string `json:"account_id"`
	Amount    int64  `json:"amount"`
}

// Hold reserves money on an account until it is captured, voided or expires.
type Hold struct {
	ID             string        `json:"id"`
	AccountID      string        `json:"account_id"`
	Amount         int64         `json:"amount"`
	CapturedAmount int64         `json:"captured_amount"`
	Currency       bank.Currency `json:"currency"`
	Status         string        `json:"status"`
	Description    string        `json:"description"`
	ExpiresAt      *time.Time    `json:"expires_at"`
	CreatedAt      time.Time     `json:"created_at"`
	Metadata       bank.Metadata `json:"metadata,omitempty"`

	createdBy string
	updatedAt time.Time
}

// remaining is what a pending hold still reserves.
func (h *Hold) remaining() int64 {
	if h.Status != HoldPending {
		return 0
	}
	return h.Amount - h.CapturedAmount
}

// Config tunes a Ledger.
type Config struct {
	// MaxBatch caps the requests posted in one database transaction.
	MaxBatch int
	// IdempotencyRetention is how long idempotency keys are kept (at least 24 h).
	IdempotencyRetention time.Duration
	// SweepInterval is how often expired holds are released and old keys purged.
	SweepInterval time.Duration
	// Metrics, when not nil, records the write path's batches.
	Metrics *Metrics
	// CompactKeys keeps the answer of a request that made a transaction as
	// the transaction's id instead of a copy of the answer, which a replay
	// rebuilds from the transaction. Turn it on once no replica runs a
	// release older than the one that reads such keys (migration 0009).
	CompactKeys bool
	// Clock is what Run waits on between sweeps (nil: the real clock).
	Clock clock.Clock
	// CheckpointEvery is how many postings a balance read sums, at most,
	// between the balance checkpoints it records (balance.go).
	CheckpointEvery int
	// SearchQueue copies each transaction.posted event to event.SearchQueue,
	// in the batch's transaction, for an index outside the database
	// (BANK_SEARCH_URL) to consume.
	SearchQueue bool
	// SearchRankWindow is how many of a ranked search's newest matches
	// are ranked (search.go): the hits of a search with text are the
	// newest SearchRankWindow matches, most relevant first.
	SearchRankWindow int
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{MaxBatch: 256, IdempotencyRetention: 48 * time.Hour, SweepInterval: time.Second,
		CheckpointEvery: 1000, SearchRankWindow: 1000}
}

// Ledger is the ledger service. Its methods are safe for concurrent use.
type Ledger struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time
	cfg Config

	// The write path (commit.go): requests wait in waiting; whoever holds
	// the committer token posts them.
	mu        sync.Mutex
	waiting   []*request
	committer chan struct{}
	inflight  idem.InFlight
	pg        *pgWriter // the PostgreSQL write path; nil on SQLite

	// words is what PostgreSQL's statistics say of the searched words
	// (search.go), read again every few minutes.
	words wordStats

	// beforeApply, when set by a test, runs inside the commit before each
	// request is decided, with the request's key.
	beforeApply func(key string)
}

// New returns a Ledger over db. now is the clock (time.Now outside tests).
func New(db *store.DB, log *slog.Logger, now func() time.Time, cfg Config) *Ledger {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultConfig().MaxBatch
	}
	if cfg.IdempotencyRetention < 24*time.Hour {
		cfg.IdempotencyRetention = DefaultConfig().IdempotencyRetention
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultConfig().SweepInterval
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultConfig().CheckpointEvery
	}
	if cfg.SearchRankWindow <= 0 {
		cfg.SearchRankWindow = DefaultConfig().SearchRankWindow
	}
	l := &Ledger{db: db, log: log, now: now, cfg: cfg,
		committer: make(chan struct{}, 1)}
	if db.Pool != nil {
		l.pg = newPGWriter(db.Pool)
	}
	return l
}

// Close releases the write path's own connection. It waits for the batch in
// progress, if any.
func (l *Ledger) Close() {
	l.committer <- struct{}{}
	defer func() { <-l.committer }()
	if l.pg != nil {
		l.pg.drop()
	}
}

// clock returns the current time as the database stores it: UTC, microseconds.
func (l *Ledger) clock() time.Time { return l.now().UTC().Truncate(time.Microsecond) }

// Run releases expired holds and purges old idempotency keys every
// SweepInterval until ctx ends.
func (l *Ledger) Run(ctx context.Context) error {
	wait := l.cfg.Clock
	if wait == nil {
		wait = clock.Real()
	}
	lastPurge := time.Time{}
	for {
		if clock.Sleep(ctx, wait, l.cfg.SweepInterval) != nil {
			return nil
		}
		if _, err := l.ExpireHolds(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("expire holds", "err", err)
		}
		if l.now().Sub(lastPurge) > time.Hour {
			if n, err := l.PurgeIdempotencyKeys(ctx); err != nil {
				l.log.Warn("purge idempotency keys", "err", err)
			} else {
				lastPurge = l.now()
				if n > 0 {
					l.log.Info("purged idempotency keys", "count", n)
				}
			}
		}
	}
}
