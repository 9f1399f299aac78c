package payment

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestKeysOfThePreviousRelease replays the answers of payment orders as the
// previous release kept them, in payment_requests with an HTTP status: each
// comes back byte for byte (spacing included, which this release would not
// write) with its outcome, and nothing more is held. A key that release
// kept for another request is reused; so is a key the ledger kept for a
// transfer, the store being one.
func TestKeysOfThePreviousRelease(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		made := `{"id": "p-old", "status": "pending",  "amount": 700}`
		refusal := `{"error": {"code": "limit_exceeded", "message": "at most 5 EUR a day"}}`
		for _, r := range []struct {
			key, body string
			status    int
		}{{"made", made, 201}, {"refused", refusal, 422}} {
			if _, err := db.ExecContext(ctx, `INSERT INTO payment_requests (owner_id, idem_key, request_hash, payment_id, status, response, created_at)
				VALUES ($1, $2, 'h', $3, $4, $5, $6)`, e.alice.UserID, r.key, bank.NewID(), r.status, []byte(r.body), time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
		for key, want := range map[string]struct {
			outcome idem.Outcome
			body    string
		}{"made": {idem.Created, made}, "refused": {idem.Refused, refusal}} {
			a, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: key, Hash: "h"}, e.order(700))
			if err != nil || !a.Replayed || a.Outcome != want.outcome || string(a.Body) != want.body {
				t.Errorf("%s: %s %s (replayed %v), %v; want %s %s replayed", key, a.Outcome, a.Body, a.Replayed, err, want.outcome, want.body)
			}
			if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: key, Hash: "other"}, e.order(700)); bank.ErrorCode(err) != "idempotency_key_reused" {
				t.Errorf("%s with another request: %v, want idempotency_key_reused", key, err)
			}
		}
		if b := e.balance(e.acct); b.Pending != 0 {
			t.Errorf("replays held %d", b.Pending)
		}

		// One store: a key kept by a transfer is not a payment's.
		other := e.account(e.alice, "EUR", 0)
		if _, err := e.l.Transfer(ctx, e.alice, ledger.Idempotency{Key: "shared", Hash: "transfer"},
			ledger.TransferInput{From: e.acct, To: other, Money: bank.Money{Amount: 5, Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "shared", Hash: "payment"}, e.order(700)); bank.ErrorCode(err) != "idempotency_key_reused" {
			t.Errorf("a transfer's key for a payment: %v, want idempotency_key_reused", err)
		}

		// This release keeps an answer in the one store only, with an outcome
		// and the HTTP status the release before it reads.
		p := e.create("new", e.order(700))
		var got struct {
			outcome string
			status  int
			body    string
			legacy  int
		}
		if err := db.QueryRowContext(ctx, `SELECT k.outcome, k.status, k.response,
			(SELECT COUNT(*) FROM payment_requests r WHERE r.owner_id = k.user_id AND r.idem_key = k.key)
			FROM idempotency_keys k WHERE k.user_id = $1 AND k.key = 'new'`,
			e.alice.UserID).Scan(&got.outcome, &got.status, &got.body, &got.legacy); err != nil {
			t.Fatal(err)
		}
		if got.outcome != "created" || got.status != 201 || !strings.Contains(got.body, p.ID) || got.legacy != 0 {
			t.Errorf("kept %+v; want created/201 with payment %s in idempotency_keys, nothing in payment_requests", got, p.ID)
		}
		e.verify()
	})
}

// TestCreateIsOneTransaction: a payment order that fails after its hold and
// payment were written leaves nothing behind, neither hold nor payment nor
// daily total nor key; the same key then places it once.
func TestCreateIsOneTransaction(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		crash := errors.New("crash before the answer is kept")
		e.svc.beforeKeep = func() error { return crash }
		key := ledger.Idempotency{Key: "once", Hash: "h"}
		if _, err := e.svc.Create(ctx, e.alice, key, e.order(900)); !errors.Is(err, crash) {
			t.Fatalf("create: %v, want %v", err, crash)
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		left := map[string]int{
			"holds":         count(`SELECT COUNT(*) FROM holds WHERE account_id = $1`, e.acct),
			"payments":      count(`SELECT COUNT(*) FROM payments WHERE from_account_id = $1`, e.acct),
			"daily total":   count(`SELECT COALESCE(SUM(amount), 0) FROM payment_daily_totals WHERE account_id = $1`, e.acct),
			"keys":          count(`SELECT COUNT(*) FROM idempotency_keys WHERE user_id = $1 AND key = 'once'`, e.alice.UserID),
			"legacy keys":   count(`SELECT COUNT(*) FROM payment_requests WHERE owner_id = $1`, e.alice.UserID),
			"pending (EUR)": int(e.balance(e.acct).Pending),
		}
		for what, n := range left {
			if n != 0 {
				t.Errorf("after the failed create: %s %d, want 0", what, n)
			}
		}

		e.svc.beforeKeep = nil
		p := e.create("once", e.order(900))
		if p.Status != StatusPending || p.HoldID == "" || len(p.History) != 1 || p.History[0].Status != StatusPending {
			t.Errorf("placed: %+v; want pending with its hold and one history entry", p)
		}
		if b := e.balance(e.acct); b.Pending != 900 {
			t.Errorf("pending %d, want the one hold of 900", b.Pending)
		}
		e.verify()
	})
}

// TestCreateInFlight: an order whose key is still being placed in this
// process is answered request_in_progress, and stores nothing.
func TestCreateInFlight(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		end, err := e.svc.inflight.Begin(e.alice.UserID, "busy")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(ctx, e.alice, ledger.Idempotency{Key: "busy", Hash: "h"}, e.order(10)); bank.ErrorKind(err) != bank.KindConflict ||
			bank.ErrorCode(err) != "request_in_progress" {
			t.Errorf("while in flight: %v, want request_in_progress", err)
		}
		end()
		e.create("busy", e.order(10))
		if b := e.balance(e.acct); b.Pending != 10 {
			t.Errorf("pending %d, want 10", b.Pending)
		}
	})
}
