package transaction

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// BenchmarkTransferHandler measures POST /api/v1/transfers from the decoded
// request to the written answer, on the embedded database, with the caller
// already authenticated: the cost of the handler around the ledger.
func BenchmarkTransferHandler(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ('alice', 'alice@example.test', 'Alice', 'customer', 'x', $1)`, time.Now().UTC()); err != nil {
		b.Fatal(err)
	}
	l := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig())
	b.Cleanup(l.Close)
	alice := bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
	var ids [2]string
	for i := range ids {
		a, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
	}
	if _, err := l.Deposit(ctx, bank.Principal{UserID: "op", Role: bank.RoleOperator}, ledger.Idempotency{Key: "fund", Hash: "h"}, ledger.CashInput{AccountID: ids[0], Money: bank.Money{Amount: bank.MaxAmount, Currency: "EUR"}}); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	authn := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), alice)))
		})
	}
	Routes(mux, slog.New(slog.DiscardHandler), l, approval.New(db, l, slog.New(slog.DiscardHandler), clock.Real(), approval.Config{}), nil, authn)
	body := []byte(fmt.Sprintf(`{"from_account_id":%q,"to_account_id":%q,"amount":1,"currency":"EUR"}`, ids[0], ids[1]))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/transfers", bytes.NewReader(body))
		r.Header.Set("Idempotency-Key", fmt.Sprint("k", i))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
