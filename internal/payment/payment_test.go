package payment

import (
	cmpstd "cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func TestPaymentSettles(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, SimConfig{Delay: time.Second})
		p := e.create("k1", e.order(2_500))
		if p.Status != StatusPending || p.HoldID == "" {
			t.Fatalf("created %+v, want pending with a hold", p)
		}
		if got, want := e.balance(e.acct), (ledger.Balance{Posted: 100_000, Pending: 2_500, Available: 97_500}); got != want {
			t.Errorf("after acceptance: %+v, want %+v", got, want)
		}
		e.run()
		if got := e.get(p.ID).Status; got != StatusSubmitted {
			t.Fatalf("before the rail's delay: %s, want submitted", got)
		}
		e.clock.Advance(2 * time.Second)
		e.run()
		got := e.get(p.ID)
		if diff := cmp.Diff(statuses(got), []string{"pending", "submitted", "settled"}); diff != "" {
			t.Errorf("history (-got +want):\n%s", diff)
		}
		if got.TransactionID == "" {
			t.Error("a settled payment names no transaction")
		}
		if b, want := e.balance(e.acct), (ledger.Balance{Posted: 97_500, Available: 97_500}); b != want {
			t.Errorf("after settlement: %+v, want %+v", b, want)
		}
		if b := e.balance(ledger.SystemAccountID(ledger.TypeSettlement, "EUR")); b.Posted != 2_500 {
			t.Errorf("settlement account: %+v, want 2500 posted", b)
		}
		if diff := cmp.Diff(e.events(p.ID), []string{"payment.submitted", "payment.settled"}); diff != "" {
			t.Errorf("events (-got +want):\n%s", diff)
		}
		e.verify()
	})
}

func TestPaymentFails(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, SimConfig{FailRate: 1})
		p := e.create("k1", e.order(2_500))
		e.run()
		got := e.get(p.ID)
		if got.Status != StatusFailed || got.FailureReason == "" {
			t.Fatalf("got %s (%q), want failed with a reason", got.Status, got.FailureReason)
		}
		if b, want := e.balance(e.acct), (ledger.Balance{Posted: 100_000, Available: 100_000}); b != want {
			t.Errorf("after failure: %+v, want %+v", b, want)
		}
		if diff := cmp.Diff(e.events(p.ID), []string{"payment.submitted", "payment.failed"}); diff != "" {
			t.Errorf("events (-got +want):\n%s", diff)
		}
		e.verify()
	})
}

func TestPaymentReturns(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, SimConfig{ReturnRate: 1, Delay: time.Second})
		p := e.create("k1", e.order(2_500))
		e.run()
		e.clock.Advance(time.Second)
		e.run()
		if got := e.get(p.ID).Status; got != StatusSettled {
			t.Fatalf("after one delay: %s, want settled", got)
		}
		e.clock.Advance(time.Second)
		e.run()
		got := e.get(p.ID)
		if diff := cmp.Diff(statuses(got), []string{"pending", "submitted", "settled", "returned"}); diff != "" {
			t.Errorf("history (-got +want):\n%s", diff)
		}
		if got.ReturnID == "" || got.FailureReason == "" {
			t.Errorf("returned payment %+v names no return transaction or reason", got)
		}
		if b, want := e.balance(e.acct), (ledger.Balance{Posted: 100_000, Available: 100_000}); b != want {
			t.Errorf("after the return: %+v, want %+v", b, want)
		}
		if b := e.balance(ledger.SystemAccountID(ledger.TypeSettlement, "EUR")); b.Posted != 0 {
			t.Errorf("settlement account: %+v, want 0", b)
		}
		e.verify()
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{Delay: time.Hour})
		p := e.create("k1", e.order(2_500))
		got, err := e.svc.Cancel(ctx, e.alice, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(statuses(got), []string{"pending", "cancelled"}); diff != "" {
			t.Errorf("history (-got +want):\n%s", diff)
		}
		if b, want := e.balance(e.acct), (ledger.Balance{Posted: 100_000, Available: 100_000}); b != want {
			t.Errorf("after cancel: %+v, want %+v", b, want)
		}
		if _, err := e.svc.Cancel(ctx, e.alice, p.ID); err != nil {
			t.Errorf("cancel again: %v, want the payment", err)
		}
		bob := e.customer("bob")
		if _, err := e.svc.Cancel(ctx, bob, p.ID); bank.ErrorKind(err) != bank.KindNotFound {
			t.Errorf("another customer cancels: %v, want not found", err)
		}
		// Once submitted, it is too late.
		q := e.create("k2", e.order(1_000))
		e.run()
		if _, err := e.svc.Cancel(ctx, e.alice, q.ID); bank.ErrorCode(err) != "payment_not_cancellable" {
			t.Errorf("cancel a submitted payment: %v, want payment_not_cancellable", err)
		}
		// The cancelled payment gave its share of the daily limit back.
		var today int64
		if err := db.QueryRowContext(ctx, `SELECT amount FROM payment_daily_totals WHERE account_id = $1`, e.acct).Scan(&today); err != nil || today != 1_000 {
			t.Errorf("today's total %d (%v), want 1000: only the payment not cancelled", today, err)
		}
		// Nothing is submitted after a cancellation.
		if n, _ := e.rail.Attempts(ctx, p.ID); n != 0 {
			t.Errorf("a cancelled payment reached the rail %d times", n)
		}
		if diff := cmp.Diff(e.events(p.ID), []string{"payment.cancelled"}); diff != "" {
			t.Errorf("events (-got +want):\n%s", diff)
		}
		e.verify()
	})
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		usd := e.account(e.alice, "USD", 100_000)
		bob := e.customer("bob")
		bobs := e.account(bob, "EUR", 100_000)
		if _, err := e.svc.SetLimits(ctx, operator, e.acct, 50_000, 60_000); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetLimits(ctx, e.alice, e.acct, 1, 1); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("a customer sets limits: %v, want forbidden", err)
		}
		var actor, details string
		if err := db.QueryRowContext(ctx, `SELECT actor_id, details FROM audit_log WHERE action = $1 AND target_id = $2`,
			AuditLimitsSet, e.acct).Scan(&actor, &details); err != nil || actor != operator.UserID ||
			!strings.Contains(details, `"daily":"60000"`) || !strings.Contains(details, `"per_payment":"50000"`) {
			t.Errorf("audit of the staff's limits: actor %q details %s, %v; want the operator and both limits", actor, details, err)
		}
		e.create("first", e.order(40_000)) // 40,000 of today's 60,000
		tests := []struct {
			name string
			in   func(in CreateInput) CreateInput
			code string
		}{
			{"insufficient funds", func(in CreateInput) CreateInput {
				in.FromAccountID = usd
				in.Money = bank.Money{Amount: 200_000, Currency: "USD"}
				return in
			}, "limit_exceeded"},
			{"over the per-payment limit", func(in CreateInput) CreateInput { in.Money.Amount = 50_001; return in }, "limit_exceeded"},
			{"over the daily limit", func(in CreateInput) CreateInput { in.Money.Amount = 20_001; return in }, "limit_exceeded"},
			{"not enough money", func(in CreateInput) CreateInput {
				in.FromAccountID = usd
				in.Money = bank.Money{Amount: 100_001, Currency: "USD"}
				return in
			}, "insufficient_funds"},
			{"currency mismatch", func(in CreateInput) CreateInput { in.Money.Currency = "USD"; return in }, "currency_mismatch"},
			{"bad IBAN", func(in CreateInput) CreateInput { in.Beneficiary.IBAN = "DE89370400440532013001"; return in }, "invalid_beneficiary"},
			{"bad routing number", func(in CreateInput) CreateInput {
				in.Beneficiary = Beneficiary{Name: "B", AccountNumber: "1234567", RoutingNumber: "011000016"}
				return in
			}, "invalid_beneficiary"},
		}
		// The default per-payment limit applies to the USD account.
		e.svc.cfg.PerPaymentLimit = 150_000
		for _, tt := range tests {
			in := tt.in(e.order(1_000))
			a, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: tt.name, Hash: "h"}, in)
			if err != nil || a.Outcome != idem.Refused {
				t.Errorf("%s: %s %s %v, want refused", tt.name, a.Outcome, a.Body, err)
				continue
			}
			var doc bank.ErrorBody
			_ = json.Unmarshal(a.Body, &doc)
			if doc.Error.Code != tt.code {
				t.Errorf("%s: code %q, want %q", tt.name, doc.Error.Code, tt.code)
			}
			again, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: tt.name, Hash: "h"}, in)
			if err != nil || !again.Replayed || string(again.Body) != string(a.Body) {
				t.Errorf("%s replayed: %+v %v, want the same refusal", tt.name, again, err)
			}
		}
		if b := e.balance(usd); b.Pending != 0 {
			t.Errorf("refusals held %d", b.Pending)
		}
		// The hold refused last took the payment and its share of the
		// daily limit back with it.
		var payments, counted int64
		if err := e.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM payments WHERE from_account_id = $1),
			(SELECT COALESCE(SUM(amount), 0) FROM payment_daily_totals WHERE account_id = $1)`, usd).Scan(&payments, &counted); err != nil ||
			payments != 0 || counted != 0 {
			t.Errorf("after refusals: %d payments and %d counted against the daily limit (%v), want none", payments, counted, err)
		}
		if b := e.balance(e.acct); b.Pending != 40_000 {
			t.Errorf("refusals held: pending %d, want only the first payment's 40000", b.Pending)
		}
		// Another customer's account does not exist for alice; nothing stored.
		in := e.order(10)
		in.FromAccountID = bobs
		if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "bobs", Hash: "h"}, in); bank.ErrorKind(err) != bank.KindNotFound {
			t.Errorf("from bob's account: %v, want not found", err)
		}
		// Invalid input stores nothing either.
		bad := e.order(0)
		if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "bad", Hash: "h"}, bad); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("amount 0: %v, want invalid", err)
		}
		past := e.clock.Now().Add(-time.Hour)
		bad = e.order(10)
		bad.ScheduledFor = &past
		if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "past", Hash: "h"}, bad); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("scheduled in the past: %v, want invalid", err)
		}
		e.verify()
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		key := ledger.Idempotency{Key: "same", Hash: "h1"}
		first, err := e.svc.Create(ctx, e.alice, key, e.order(100))
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.svc.Create(ctx, e.alice, key, e.order(100))
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Outcome != idem.Created || string(again.Body) != string(first.Body) {
			t.Errorf("replay: %s %s (replayed %v), want %s", again.Outcome, again.Body, again.Replayed, first.Body)
		}
		_, err = e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "same", Hash: "h2"}, e.order(200))
		if bank.ErrorCode(err) != "idempotency_key_reused" {
			t.Errorf("same key, other request: %v, want idempotency_key_reused", err)
		}
		if b := e.balance(e.acct); b.Pending != 100 {
			t.Errorf("pending %d, want one hold of 100", b.Pending)
		}
		// Keys are per user: bob's "same" is another request.
		bob := e.customer("bob")
		e.alice, e.acct = bob, e.account(bob, "EUR", 1_000)
		e.create("same", e.order(100))
		e.verify()
	})
}

// crashedAccepting makes what a request that crashed leaves: the request
// with key and its payment of amount accepted, the hold placed, nothing
// marked.
func (e *env) crashedAccepting(key string, amount int64) *Payment {
	e.t.Helper()
	ctx := context.Background()
	pay := &Payment{ID: bank.NewID(), OwnerID: e.alice.UserID, FromAccountID: e.acct, Amount: amount, Currency: "EUR",
		Beneficiary: iban, Status: StatusAccepting, Rail: "sim", History: []Change{}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO payment_requests (owner_id, idem_key, request_hash, payment_id, status, created_at)
			VALUES ($1, $2, 'h', $3, 0, $4)`, e.alice.UserID, key, pay.ID, e.clock.Now()); err != nil {
			return err
		}
		return insert(ctx, tx, pay)
	}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.l.CreateHold(ctx, system, stepKey(pay.ID, "hold"), ledger.HoldInput{AccountID: e.acct,
		Money: bank.Money{Amount: amount, Currency: "EUR"}, Description: "payment " + pay.ID}); err != nil {
		e.t.Fatal(err)
	}
	return pay
}

// TestResumeAfterCrash: a request that died between its hold and its answer
// is finished by the next retry with its key, or by the worker; one hold.
func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		pay := e.crashedAccepting("crashed", 700)
		e.clock.Advance(time.Minute)
		if _, err := e.svc.ScheduleOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.get(pay.ID); got.Status != StatusPending {
			t.Fatalf("after the worker: %s, want pending", got.Status)
		}
		a, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "crashed", Hash: "h"}, e.order(700))
		if err != nil || a.Outcome != idem.Created || !a.Replayed {
			t.Fatalf("retry: %+v %v, want the 201 replayed", a, err)
		}
		if b := e.balance(e.acct); b.Pending != 700 {
			t.Errorf("pending %d, want one hold of 700", b.Pending)
		}
		e.verify()
	})
}

func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	all := []string{StatusScheduled, StatusAccepting, StatusPending, StatusSubmitted, StatusSettled, StatusFailed,
		StatusReturned, StatusCancelled, StatusRefused}
	var legal [][2]string
	for _, from := range all {
		for _, to := range all {
			if Legal(from, to) {
				legal = append(legal, [2]string{from, to})
			}
		}
	}
	want := [][2]string{{"scheduled", "accepting"}, {"scheduled", "cancelled"}, {"accepting", "pending"},
		{"accepting", "failed"}, {"accepting", "refused"}, {"pending", "submitted"}, {"pending", "failed"},
		{"pending", "cancelled"}, {"submitted", "settled"}, {"submitted", "failed"}, {"settled", "returned"}}
	slices.SortFunc(legal, func(a, b [2]string) int { return cmpstd.Compare(a[0]+a[1], b[0]+b[1]) })
	slices.SortFunc(want, func(a, b [2]string) int { return cmpstd.Compare(a[0]+a[1], b[0]+b[1]) })
	if diff := cmp.Diff(legal, want); diff != "" {
		t.Errorf("legal transitions (-got +want):\n%s", diff)
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		p := e.create("k", e.order(100))
		e.run() // settled
		stored, _ := e.svc.load(ctx, p.ID)
		for _, to := range []string{StatusPending, StatusSubmitted, StatusCancelled, StatusFailed, StatusSettled} {
			cp := *stored
			if ok, err := e.svc.transition(ctx, &cp, to, "", nil, nil); ok || bank.ErrorCode(err) != "illegal_transition" {
				t.Errorf("settled → %s: %v %v, want illegal_transition", to, ok, err)
			}
		}
		// A legal move made twice happens once: the second finds the
		// status gone.
		a, b := *stored, *stored
		okA, errA := e.svc.transition(ctx, &a, StatusReturned, "R01", nil, nil)
		okB, errB := e.svc.transition(ctx, &b, StatusReturned, "R01", nil, nil)
		if !okA || okB || errA != nil || errB != nil {
			t.Errorf("two returns: %v %v / %v %v, want the first only", okA, errA, okB, errB)
		}
		// The same in bulk: of two submitters marking one batch, one wins.
		q := e.create("k2", e.order(100))
		q2 := e.create("k3", e.order(100))
		var first, second []*move
		for _, id := range []string{q.ID, q2.ID} {
			stored, _ := e.svc.load(ctx, id)
			cp := *stored
			m1, err1 := e.svc.prepare(stored, StatusSubmitted, "", nil)
			m2, err2 := e.svc.prepare(&cp, StatusSubmitted, "", nil)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			first, second = append(first, m1), append(second, m2)
		}
		ok1, err1 := e.svc.transitionAll(ctx, first)
		ok2, err2 := e.svc.transitionAll(ctx, second)
		if diff := cmp.Diff([][]bool{ok1, ok2}, [][]bool{{true, true}, {false, false}}); diff != "" || err1 != nil || err2 != nil {
			t.Errorf("two bulk moves (-got +want):\n%s %v %v", diff, err1, err2)
		}
		if got := e.events(q2.ID); !slices.Equal(got, []string{"payment.submitted"}) {
			t.Errorf("events after two bulk moves: %v, want one payment.submitted", got)
		}
		if got := e.events(p.ID); len(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s != "payment.returned" })) != 1 {
			t.Errorf("events %v: payment.returned twice", got)
		}
	})
}
