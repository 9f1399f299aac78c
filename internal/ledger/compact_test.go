package ledger_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestCompactKeys replays answers kept as their transaction's id: byte for
// byte the first answer, through a ledger that keeps keys compactly and
// through one that does not (a rollout has both), and the other way round.
func TestCompactKeys(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cfg := ledger.DefaultConfig()
		cfg.CompactKeys = true
		compact := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, cfg)
		t.Cleanup(compact.Close)
		full := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, full, alice, "EUR", 10_000)
		b := open(t, full, alice, "EUR", 0)
		desc := `<"hostile" & é日本 \ text>`

		type op struct {
			name    string
			writer  *ledger.Ledger
			compact bool // kept by the transaction's id
			do      func(l *ledger.Ledger, key, hash string) (ledger.Result, error)
		}
		var transferID string
		ops := []op{
			{"transfer", compact, true, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.Transfer(ctx, alice, ledger.Idempotency{Key: key, Hash: hash},
					ledger.TransferInput{From: a, To: b, Money: eur(25), Description: desc})
			}},
			{"deposit", compact, true, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.Deposit(ctx, operator, ledger.Idempotency{Key: key, Hash: hash}, ledger.CashInput{AccountID: b, Money: eur(7), Description: desc})
			}},
			{"withdrawal", compact, true, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.Withdraw(ctx, alice, ledger.Idempotency{Key: key, Hash: hash}, ledger.CashInput{AccountID: a, Money: eur(3)})
			}},
			{"reversal", compact, false, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.Reverse(ctx, operator, ledger.Idempotency{Key: key, Hash: hash}, transferID, "undo")
			}},
			{"batch", compact, false, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.TransferBatch(ctx, alice, ledger.Idempotency{Key: key, Hash: hash},
					[]ledger.TransferInput{{From: a, To: b, Money: eur(1)}, {From: a, To: a, Money: eur(1)}})
			}},
			{"hold", compact, false, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.CreateHold(ctx, alice, ledger.Idempotency{Key: key, Hash: hash}, ledger.HoldInput{AccountID: a, Money: eur(5)})
			}},
			{"transfer by a full writer", full, false, func(l *ledger.Ledger, key, hash string) (ledger.Result, error) {
				return l.Transfer(ctx, alice, ledger.Idempotency{Key: key, Hash: hash},
					ledger.TransferInput{From: a, To: b, Money: eur(4), Description: desc})
			}},
		}
		for _, o := range ops {
			key := "key-" + o.name
			first, err := o.do(o.writer, key, "h1")
			if err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
			if o.name == "transfer" {
				transferID = txID(t, first)
			}
			var txID string
			var size int
			if err := db.QueryRowContext(ctx, `SELECT COALESCE(transaction_id, ''), length(response) FROM idempotency_keys
				WHERE user_id IN ('alice', 'operator') AND key = $1`, key).Scan(&txID, &size); err != nil {
				t.Fatalf("%s: read its key: %v", o.name, err)
			}
			if got := txID != "" && size == 0; got != o.compact {
				t.Errorf("%s: kept compactly %v (transaction %q, %d bytes of answer), want %v", o.name, got, txID, size, o.compact)
			}
			for _, l := range []*ledger.Ledger{compact, full} {
				again, err := o.do(l, key, "h1")
				if err != nil {
					t.Fatalf("%s: replay: %v", o.name, err)
				}
				if !again.Replayed || again.Created != first.Created || !bytes.Equal(again.JSON(), first.JSON()) {
					t.Errorf("%s: replay %+v\n body %s\nwant %s", o.name, again, again.JSON(), first.JSON())
				}
			}
			if _, err := o.do(compact, key, "h2"); bank.ErrorCode(err) != "idempotency_key_reused" {
				t.Errorf("%s: another request with the same key: %v, want idempotency_key_reused", o.name, err)
			}
		}
	})
}
