package payment

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/event/eventtest"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// newClock returns a test clock that moves only when told, on a Wednesday:
// weekends are a test's own choice.
func newClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
}

var operator = bank.Principal{UserID: "op", Role: bank.RoleOperator}

// env is one test's bank: a ledger, a customer with a funded account, and a
// payment service on the simulated rail.
type env struct {
	t     testing.TB
	db    *store.DB
	l     *ledger.Ledger
	clock *clock.Fake
	rail  *SimRail
	svc   *Service
	alice bank.Principal
	acct  string // alice's EUR account, funded with 100,000
}

func newEnv(t testing.TB, db *store.DB, sim SimConfig) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: newClock()}
	e.l = ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
	t.Cleanup(e.l.Close)
	e.rail = NewSimRail(db, sim, e.clock.Now)
	e.svc = e.service(e.rail)
	e.alice = e.customer("alice")
	e.acct = e.account(e.alice, "EUR", 100_000)
	return e
}

func (e *env) service(r Rail) *Service {
	cfg := DefaultConfig()
	cfg.Lease = 10 * time.Second
	cfg.ResumeAfter = 5 * time.Second
	return New(e.db, e.l, r, slog.New(slog.NewTextHandler(io.Discard, nil)), e.clock.Now, cfg, nil)
}

func (e *env) customer(name string) bank.Principal {
	e.t.Helper()
	id := name + "-" + bank.NewID()[:8]
	if _, err := e.db.ExecContext(context.Background(), `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ($1, $2, $3, 'customer', 'x', $4)`, id, id+"@example.test", name, time.Now().UTC()); err != nil {
		e.t.Fatal(err)
	}
	return bank.Principal{UserID: id, Role: bank.RoleCustomer}
}

func (e *env) account(p bank.Principal, cur bank.Currency, funds int64) string {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.l.OpenAccount(ctx, p, ledger.OpenAccountInput{Currency: cur, Type: ledger.TypeChecking})
	if err != nil {
		e.t.Fatal(err)
	}
	if funds > 0 {
		if _, err := e.l.Deposit(ctx, operator, ledger.Idempotency{Key: "fund-" + a.ID, Hash: "h"}, ledger.CashInput{AccountID: a.ID, Money: bank.Money{Amount: funds, Currency: cur}}); err != nil {
			e.t.Fatal(err)
		}
	}
	return a.ID
}

func (e *env) balance(id string) ledger.Balance {
	e.t.Helper()
	a, err := e.l.Account(context.Background(), operator, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Balance
}

// verify fails the test unless the ledger's invariants hold.
func (e *env) verify() {
	e.t.Helper()
	r, err := e.l.Verify(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if !r.OK() {
		e.t.Fatalf("ledger verify: %v", r.Violations)
	}
}

var iban = Beneficiary{Name: "Bob", IBAN: "DE89370400440532013000"}

func (e *env) order(amount int64) CreateInput {
	return CreateInput{FromAccountID: e.acct, Money: bank.Money{Amount: amount, Currency: "EUR"}, Beneficiary: iban, Reference: "invoice 7"}
}

// create places an order as alice and returns the payment, failing on a refusal.
func (e *env) create(key string, in CreateInput) *Payment {
	e.t.Helper()
	a, err := e.svc.Create(context.Background(), e.alice, ledger.Idempotency{Key: key, Hash: "h-" + key}, in)
	if err != nil {
		e.t.Fatalf("create %s: %v", key, err)
	}
	if a.Outcome != idem.Created {
		e.t.Fatalf("create %s: %s %s", key, a.Outcome, a.Body)
	}
	var p Payment
	if err := json.Unmarshal(a.Body, &p); err != nil {
		e.t.Fatal(err)
	}
	return &p
}

// get reads a payment as an operator.
func (e *env) get(id string) *Payment {
	e.t.Helper()
	p, err := e.svc.Get(context.Background(), operator, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// statuses returns a payment's history as its list of statuses.
func statuses(p *Payment) []string {
	var out []string
	for _, c := range p.History {
		out = append(out, c.Status)
	}
	return out
}

// run steps the submitter and the poller until nothing moves.
func (e *env) run() {
	e.t.Helper()
	ctx := context.Background()
	for range 10 {
		if _, err := e.svc.ScheduleOnce(ctx); err != nil {
			e.t.Fatal(err)
		}
		s, err := e.svc.SubmitOnce(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		p, err := e.svc.PollOnce(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if s == 0 && p == 0 {
			return
		}
	}
}

// events returns the types of the events about payment id, in order.
func (e *env) events(id string) []string {
	e.t.Helper()
	var out []string
	for _, p := range eventtest.Written(e.t, e.db, func(p event.Payload) bool {
		pe, ok := p.(*event.Payment)
		return ok && pe.PaymentID == id
	}) {
		out = append(out, p.Head().Type)
	}
	return out
}

func idemOf(key string) ledger.Idempotency { return ledger.Idempotency{Key: key, Hash: "h-" + key} }
