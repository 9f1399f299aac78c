package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestKeysOfAnEarlierRelease replays keys as the previous release wrote
// them, an HTTP status and the answer's bytes: each comes back byte for byte
// (spacing and member order included, which this release's encoders would
// not write), and read into the typed answer the ledger's Go callers use.
func TestKeysOfAnEarlierRelease(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 100)
		b := open(t, l, alice, "EUR", 0)
		tx := `{"postings": [], "id": "t-old", "type": "transfer", "amount": 5, "currency": "EUR"}`
		hold := `{"id": "h-old",  "account_id": "` + a + `", "amount": 9, "status": "active"}`
		refusal := `{"error": {"code": "insufficient_funds", "message": "account has 1 EUR", "details": {"account_id": "` + a + `"}}}`
		rows := []struct{ key, body string }{
			{"transfer", tx},
			{"hold", hold},
			{"void", hold},
			{"batch", `{"data": [` + tx + `, ` + refusal + `]}`},
			{"refused", refusal},
		}
		status := map[string]int{"transfer": 201, "hold": 201, "void": 200, "batch": 201, "refused": 422}
		for _, r := range rows {
			if _, err := db.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash, status, response, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, alice.UserID, r.key, idem(r.key).Hash, status[r.key], []byte(r.body), time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
		transfer := ledger.TransferInput{From: a, To: b, Money: eur(5)}

		res, err := l.Transfer(ctx, alice, idem("transfer"), transfer)
		if err != nil || !res.Replayed || !res.Created || string(res.JSON()) != tx || res.Transaction == nil || res.Transaction.ID != "t-old" {
			t.Errorf("transfer: %+v %s, %v; want %s replayed, transaction t-old", res, res.JSON(), err, tx)
		}
		res, err = l.CreateHold(ctx, alice, idem("hold"), ledger.HoldInput{AccountID: a, Money: eur(9)})
		if err != nil || !res.Created || string(res.JSON()) != hold || res.Hold == nil || res.Hold.ID != "h-old" || res.Hold.Amount != 9 {
			t.Errorf("hold: %+v %s, %v; want %s replayed, hold h-old", res, res.JSON(), err, hold)
		}
		res, err = l.VoidHold(ctx, alice, idem("void"), bank.NewID())
		if err != nil || res.Created || string(res.JSON()) != hold || res.Hold == nil || res.Hold.ID != "h-old" {
			t.Errorf("void: %+v %s, %v; want %s replayed as a change", res, res.JSON(), err, hold)
		}
		res, err = l.TransferBatch(ctx, alice, idem("batch"), []ledger.TransferInput{transfer, transfer})
		if err != nil || string(res.JSON()) != `{"data": [`+tx+`, `+refusal+`]}` || len(res.Items) != 2 ||
			res.Items[0].Transaction == nil || res.Items[0].Transaction.ID != "t-old" || bank.ErrorCode(res.Items[1].Err) != "insufficient_funds" {
			t.Errorf("batch: %+v %s, %v; want both items replayed", res, res.JSON(), err)
		}
		res, err = l.Transfer(ctx, alice, idem("refused"), transfer)
		var refused *bank.Error
		if !errors.As(err, &refused) || refused.Kind != bank.KindRejected || refused.Code != "insufficient_funds" ||
			refused.Details["account_id"] != a || !res.Replayed {
			t.Errorf("refused: %+v, %v; want the refusal replayed", res, err)
		}
		if n := posted(t, l, alice, b); n != 0 {
			t.Errorf("b holds %d after replays only, want 0", n)
		}

		// This release keeps an outcome, and the status beside it for a
		// replica of the previous release during a rollout.
		if _, err := l.Transfer(ctx, alice, idem("new-refused"), ledger.TransferInput{From: a, To: b, Money: eur(1_000)}); bank.ErrorKind(err) != bank.KindRejected {
			t.Fatalf("overdraft: %v, want a refusal", err)
		}
		if _, err := l.Transfer(ctx, alice, idem("new-transfer"), transfer); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]struct {
			outcome string
			status  int
		}{"new-refused": {"refused", 422}, "new-transfer": {"created", 201}} {
			var got struct {
				outcome string
				status  int
			}
			if err := db.QueryRowContext(ctx, `SELECT outcome, status FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
				alice.UserID, key).Scan(&got.outcome, &got.status); err != nil || got != want {
				t.Errorf("key %s kept %+v, %v; want %+v", key, got, err, want)
			}
		}
	})
}
