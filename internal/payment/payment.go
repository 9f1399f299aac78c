// Package payment is payment-service: outgoing payments from a customer
// account to a beneficiary at another bank, sent through a rail (a simulated
// one, or ACH files) and followed to settlement, failure or return.
//
// Money moves only through the ledger's Go API, with idempotency keys derived
// from the payment id and the step ("payment:<id>:hold", ":capture", ":void",
// ":return"), so a step retried after a crash replays and never moves money
// twice. A payment's status changes only by compare-and-set
// (UPDATE … WHERE status = expected), in the same database transaction as
// the event it emits, so each legal transition happens once whatever the
// number of replicas and retries:
//
//	scheduled → pending → submitted → settled → returned
//	scheduled | pending → cancelled
//	scheduled → failed (refused when it came due), pending | submitted → failed
//
// A payment made now is checked and held when it is accepted; a scheduled
// one is checked and held when it comes due, as a bank does, so its money
// stays available until then.
package payment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// Change is one entry of a payment's history.
type Change struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Payment is an outgoing payment as the API shows it.
type Payment struct {
	ID            string        `json:"id"`
	OwnerID       string        `json:"owner_id"`
	FromAccountID string        `json:"from_account_id"`
	Amount        int64         `json:"amount"`
	Currency      bank.Currency `json:"currency"`
	Beneficiary   Beneficiary   `json:"beneficiary"`
	Reference     string        `json:"reference"`
	Status        string        `json:"status"`
	FailureReason string        `json:"failure_reason,omitempty"`
	ScheduledFor  *time.Time    `json:"scheduled_for,omitempty"`
	ScheduleID    string        `json:"schedule_id,omitempty"`
	Rail          string        `json:"rail"`
	HoldID        string        `json:"hold_id,omitempty"`
	TransactionID string        `json:"transaction_id,omitempty"` // the settlement's ledger transaction
	ReturnID      string        `json:"return_transaction_id,omitempty"`
	History       []Change      `json:"history"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	Metadata      bank.Metadata `json:"metadata,omitempty"`

	occurrence  string // the nominal date of a recurring payment's occurrence
	limitDay    string // the day whose daily total counts this payment, once reserved
	releaseDue  bool   // its hold is still to be voided
	submittedAt *time.Time
	// claimedBy is this process's name when it claimed the payment: its
	// moves then happen only while the lease is still this process's.
	claimedBy string
}

// view is p as a client sees it: a scheduled payment being checked when it
// came due still shows as scheduled.
func (p *Payment) view() *Payment {
	v := *p
	if v.Status == StatusAccepting && v.ScheduledFor != nil {
		v.Status = StatusScheduled
	}
	return &v
}

// Config tunes payment-service.
type Config struct {
	// PerPaymentLimit and DailyLimit are the default limits, in minor units,
	// of an account an operator set none for.
	PerPaymentLimit int64
	DailyLimit      int64
	// SubmitInterval is how often pending payments are handed to the rail,
	// PollInterval how often the rail's outcomes are applied and due
	// payments run.
	SubmitInterval time.Duration
	PollInterval   time.Duration
	// BatchSize caps the payments one submission hands the rail.
	BatchSize int
	// Lease is how long a submitter owns the payments it claimed, in the
	// database's clock; another replica takes them over after it (a crash
	// between the rail and the status update). The rail call must end well
	// within it.
	Lease time.Duration
	// ResumeAfter is when a payment left half-accepted, or a hold left
	// unreleased, by a crash is taken up again by the worker.
	ResumeAfter time.Duration
	// Workers is how many outcomes are applied at once.
	Workers int
	// Clock is what the worker's loops wait on (nil: the real clock).
	Clock clock.Clock
}

func (c Config) clock() clock.Clock {
	if c.Clock == nil {
		return clock.Real()
	}
	return c.Clock
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{PerPaymentLimit: 1_000_000_00, DailyLimit: 5_000_000_00,
		SubmitInterval: time.Second, PollInterval: time.Second, BatchSize: 500,
		Lease: time.Minute, ResumeAfter: 30 * time.Second, Workers: 64}
}

// Service is payment-service. Its methods are safe for concurrent use, and
// any number of Services may share a database.
type Service struct {
	db       *store.DB
	l        *ledger.Ledger
	rail     Rail
	log      *slog.Logger
	now      func() time.Time
	cfg      Config
	metrics  *Metrics
	leases   *lease.Leases // of the payments' rows
	instance string        // this replica's name in leases
	inflight idem.InFlight // the Idempotency-Keys of the orders being placed here
	orders   *store.Group  // the transactions orders are placed in, shared

	// afterSubmit, when set by a test, runs after the rail accepted a batch
	// and before its payments are marked submitted; an error stops there,
	// as a crash would.
	afterSubmit func() error
	// beforeKeep, when set by a test, runs in the transaction that places a
	// payment order, after its payment and hold are written and before its
	// answer is kept; an error rolls the transaction back, as a crash would.
	beforeKeep func() error
}

// New returns a Service over db and the ledger l that sends payments through
// rail. metrics may be nil.
func New(db *store.DB, l *ledger.Ledger, rail Rail, log *slog.Logger, now func() time.Time, cfg Config, metrics *Metrics) *Service {
	def := DefaultConfig()
	if cfg.PerPaymentLimit <= 0 {
		cfg.PerPaymentLimit = def.PerPaymentLimit
	}
	if cfg.DailyLimit <= 0 {
		cfg.DailyLimit = def.DailyLimit
	}
	if cfg.SubmitInterval <= 0 {
		cfg.SubmitInterval = def.SubmitInterval
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = def.PollInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if cfg.Lease <= 0 {
		cfg.Lease = def.Lease
	}
	if cfg.ResumeAfter <= 0 {
		cfg.ResumeAfter = def.ResumeAfter
	}
	if cfg.Workers <= 0 {
		cfg.Workers = def.Workers
	}
	return &Service{db: db, l: l, rail: rail, log: log, now: now, cfg: cfg, metrics: metrics,
		leases: lease.New(db, leaseColumns), instance: lease.Instance(), orders: store.NewGroup(db, orderGroup)}
}

// orderGroup is how many payment orders placed side by side share one
// transaction, and its commit.
const orderGroup = 16

// leaseColumns are the leases of the payments' rows: a submitter's on the
// pending payments it hands to the rail, a scheduler's on what it resumes.
var leaseColumns = lease.Columns{Table: "payments", Key: "id", Owner: "lease_owner", Until: "lease_until"}

// clock is the current time as the database stores it: UTC, microseconds.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// system is the principal payment-service moves money as.
var system = bank.Principal{UserID: "payment-service", Role: bank.RoleAdmin}

// stepKey is the ledger idempotency key of one step of payment id: the same
// step retried, by this replica or another, replays the first answer.
func stepKey(id, step string) ledger.Idempotency {
	k := "payment:" + id + ":" + step
	h := sha256.Sum256([]byte(k))
	return ledger.Idempotency{Key: k, Hash: hex.EncodeToString(h[:])}
}

// mustJSON encodes v, one of this package's own types, which always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
