package main

import (
	"context"
	"errors"
	"testing"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
)

// TestTransferByAccountNumber sends a transfer through the API to another
// customer's account named by its number, on both databases, and checks the
// API's refusals of a number that names nothing and of both names at once.
func TestTransferByAccountNumber(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			alice, _ := b.customer("alice")
			bob, _ := b.customer("bob")
			a := b.account(alice, "EUR", 1000)
			dest := b.account(bob, "EUR", 0)
			tx, err := alice.Transfer(ctx, "by-number", client.Transfer{FromAccountID: a.ID, ToAccountNumber: dest.Number, Amount: 250, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			if tx.Postings[len(tx.Postings)-1].AccountID != dest.ID && tx.Postings[0].AccountID != dest.ID {
				t.Errorf("postings %+v do not credit %s", tx.Postings, dest.ID)
			}
			got, err := bob.Account(ctx, dest.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Balance.Posted != 250 {
				t.Errorf("bob's account holds %d, want 250", got.Balance.Posted)
			}
			for _, tc := range []struct {
				name string
				in   client.Transfer
				want string
			}{
				{"unknown", client.Transfer{FromAccountID: a.ID, ToAccountNumber: "00000000000", Amount: 1, Currency: "EUR"}, "account_not_found"},
				{"both", client.Transfer{FromAccountID: a.ID, ToAccountID: dest.ID, ToAccountNumber: dest.Number, Amount: 1, Currency: "EUR"}, "invalid_request"},
			} {
				_, err := alice.Transfer(ctx, "refused-"+tc.name, tc.in)
				var ae *client.Error
				if !errors.As(err, &ae) || ae.Code != tc.want {
					t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
				}
			}
		})
	}
}
