package ledger_test

import (
	"context"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestTransferToAccountNumber names the receiving account by its number,
// alone and in a batch, and checks the refusals: both names, a number that
// fails its check digit, one that names no account, and the sender's own.
func TestTransferToAccountNumber(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newLedger(t, db)
		alice, bob := customer(t, db, "alice"), customer(t, db, "bob")
		from := open(t, l, alice, "EUR", 1000)
		dest := open(t, l, bob, "EUR", 0)
		a, err := l.Account(ctx, bob, dest)
		if err != nil {
			t.Fatal(err)
		}
		own, err := l.Account(ctx, alice, from)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Transfer(ctx, alice, idem("by-number"), ledger.TransferInput{From: from, ToNumber: a.Number, Money: eur(30)})
		if err != nil || !res.Created {
			t.Fatalf("transfer by number: %v %+v", err, res)
		}
		if got := posted(t, l, bob, dest); got != 30 {
			t.Errorf("destination holds %d, want 30", got)
		}
		res, err = l.TransferBatch(ctx, alice, idem("batch-by-number"), []ledger.TransferInput{
			{From: from, ToNumber: a.Number, Money: eur(5)}, {From: from, ToNumber: "00000000000", Money: eur(5)}})
		if err != nil || !res.Created {
			t.Fatalf("batch by number: %v %+v", err, res)
		}
		if got := posted(t, l, bob, dest); got != 35 {
			t.Errorf("destination holds %d after the batch, want 35", got)
		}

		bad := flipLast(a.Number)
		for _, tc := range []struct {
			name     string
			in       ledger.TransferInput
			wantCode string
		}{
			{"both", ledger.TransferInput{From: from, To: dest, ToNumber: a.Number, Money: eur(1)}, "invalid_request"},
			{"check digit", ledger.TransferInput{From: from, ToNumber: bad, Money: eur(1)}, "invalid_request"},
			{"letters", ledger.TransferInput{From: from, ToNumber: "1234567890a", Money: eur(1)}, "invalid_request"},
			{"no such account", ledger.TransferInput{From: from, ToNumber: "00000000000", Money: eur(1)}, "account_not_found"},
			{"own account", ledger.TransferInput{From: from, ToNumber: own.Number, Money: eur(1)}, "invalid_request"},
		} {
			_, err := l.Transfer(ctx, alice, idem("refused-"+tc.name), tc.in)
			if got := bank.ErrorCode(err); got != tc.wantCode {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.wantCode)
			}
		}
	})
}

// flipLast changes an account number's check digit, so the number no longer
// passes its check.
func flipLast(n string) string {
	d := n[len(n)-1]
	return n[:len(n)-1] + string('0'+(d-'0'+1)%10)
}
