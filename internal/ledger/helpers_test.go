package ledger_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
)

func eur(n int64) bank.Money { return bank.Money{Amount: n, Currency: "EUR"} }

func idem(key string) ledger.Idempotency { return ledger.Idempotency{Key: key, Hash: "h-" + key} }

// txID returns the id of the transaction or hold res holds.
func txID(t testing.TB, res ledger.Result) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(res.JSON(), &v); err != nil || v.ID == "" {
		t.Fatalf("answer %s holds no id: %v", res.JSON(), err)
	}
	typed := ""
	switch {
	case res.Transaction != nil:
		typed = res.Transaction.ID
	case res.Hold != nil:
		typed = res.Hold.ID
	}
	if typed != v.ID {
		t.Fatalf("answer %s: its typed value has id %q", res.JSON(), typed)
	}
	return v.ID
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// posted returns the posted balance of account id, as p sees it.
func posted(t testing.TB, l *ledger.Ledger, p bank.Principal, id string) int64 {
	t.Helper()
	a, err := l.Account(context.Background(), p, id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance.Posted
}
