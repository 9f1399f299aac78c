package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestHoldIn: a hold placed in the caller's transaction commits or rolls
// back with it, a refusal writes nothing, and a hold and a transfer racing
// for the same money never both take it.
func TestHoldIn(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		a := open(t, l, alice, "EUR", 100)
		b := open(t, l, alice, "EUR", 0)
		balance := func() ledger.Balance {
			t.Helper()
			acct, err := l.Account(ctx, alice, a)
			if err != nil {
				t.Fatal(err)
			}
			return acct.Balance
		}
		hold := func(amount int64, end error) (*ledger.Hold, error) {
			var h *ledger.Hold
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				var err error
				if h, err = l.HoldIn(ctx, tx, alice, ledger.HoldInput{AccountID: a, Money: eur(amount), Description: "in tx"}); err != nil {
					return err
				}
				return end
			})
			return h, err
		}

		rollback := errors.New("the caller rolls back")
		if _, err := hold(60, rollback); !errors.Is(err, rollback) {
			t.Fatalf("hold in a transaction rolled back: %v", err)
		}
		if got := balance(); got.Pending != 0 {
			t.Errorf("after the rollback: %+v, want nothing pending", got)
		}
		if _, err := hold(101, nil); bank.ErrorCode(err) != "insufficient_funds" {
			t.Errorf("hold of 101 on 100: %v, want insufficient_funds", err)
		}
		if _, err := hold(0, nil); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("hold of 0: %v, want invalid", err)
		}
		h, err := hold(60, nil)
		if err != nil || h.Amount != 60 || h.Status != ledger.HoldPending || h.AccountID != a {
			t.Fatalf("hold committed: %+v, %v", h, err)
		}
		if got, err := l.Hold(ctx, alice, h.ID); err != nil || got.Amount != 60 {
			t.Errorf("the committed hold reads %+v, %v", got, err)
		}
		if got := balance(); got.Pending != 60 || got.Available != 40 {
			t.Errorf("after the hold: %+v, want 60 pending, 40 available", got)
		}
		// A caller may name the hold first; a name that is not an id is
		// refused before anything is written.
		named := bank.NewID()
		in := func(id string) ledger.HoldInput {
			return ledger.HoldInput{ID: id, AccountID: a, Money: eur(1), Description: "named"}
		}
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.HoldIn(ctx, tx, alice, in("not an id\x00")); return err }); bank.ErrorKind(err) != bank.KindInvalid {
			t.Errorf("hold named %q: %v, want invalid", "not an id\x00", err)
		}
		var got *ledger.Hold
		if err := db.Tx(ctx, func(tx *sql.Tx) error { var err error; got, err = l.HoldIn(ctx, tx, alice, in(named)); return err }); err != nil || got.ID != named {
			t.Fatalf("hold named %s: %+v, %v", named, got, err)
		}
		if _, err := l.Hold(ctx, alice, named); err != nil {
			t.Errorf("the named hold: %v", err)
		}
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.HoldIn(ctx, tx, alice, in(named)); return err }); err == nil {
			t.Errorf("a second hold under the name %s was placed", named)
		}
		if got := balance(); got.Pending != 61 {
			t.Errorf("after the named hold: %+v, want 61 pending", got)
		}
		if _, err := l.VoidHold(ctx, alice, idem("void named"), named); err != nil {
			t.Fatal(err)
		}

		// 40 left: a hold and a transfer of 30 each race for it, one through
		// a caller's transaction, the other through the write path.
		var wg sync.WaitGroup
		var holdErr, transferErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, holdErr = hold(30, nil) }()
		go func() {
			defer wg.Done()
			_, transferErr = l.Transfer(ctx, alice, idem("race"), ledger.TransferInput{From: a, To: b, Money: eur(30)})
		}()
		wg.Wait()
		if (holdErr == nil) == (transferErr == nil) {
			t.Errorf("hold %v, transfer %v: want exactly one to take the money", holdErr, transferErr)
		}
		for _, err := range []error{holdErr, transferErr} {
			if err != nil && bank.ErrorCode(err) != "insufficient_funds" {
				t.Errorf("the loser: %v, want insufficient_funds", err)
			}
		}
		if got := balance(); got.Available != 10 {
			t.Errorf("after the race: %+v, want 10 available", got)
		}
		verify(t, l)
	})
}
