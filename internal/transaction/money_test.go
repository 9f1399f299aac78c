package transaction

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// server is transaction-service over a fresh ledger, with the caller chosen
// per request by the X-Test-User header (no tokens: auth is tested apart).
type server struct {
	t   *testing.T
	mux *http.ServeMux
	l   *ledger.Ledger
}

var (
	alice = bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
	staff = bank.Principal{UserID: "op", Role: bank.RoleOperator}
)

func newServer(t *testing.T, db *store.DB) *server {
	t.Helper()
	return newServerAt(t, db, time.Now)
}

// newServerAt is newServer whose ledger reads the time from now.
func newServerAt(t *testing.T, db *store.DB, now func() time.Time) *server {
	t.Helper()
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
			VALUES ($1, $2, $1, 'customer', 'x', $3)`, u, u+"@example.test", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	l := ledger.New(db, slog.New(slog.DiscardHandler), now, ledger.DefaultConfig())
	t.Cleanup(l.Close)
	mux := http.NewServeMux()
	authn := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := alice
			switch r.Header.Get("X-Test-User") {
			case "op":
				p = staff
			case "bob":
				p = bank.Principal{UserID: "bob", Role: bank.RoleCustomer}
			}
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}
	Routes(mux, slog.New(slog.DiscardHandler), l, approval.New(db, l, slog.New(slog.DiscardHandler), clock.Real(), approval.Config{}), nil, authn)
	return &server{t: t, mux: mux, l: l}
}

// do sends one request and returns the recorded answer.
func (s *server) do(user, method, path, key, body string) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Test-User", user)
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	return w
}

func (s *server) account(funds int64) string {
	s.t.Helper()
	ctx := context.Background()
	a, err := s.l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
	if err != nil {
		s.t.Fatal(err)
	}
	if funds > 0 {
		if _, err := s.l.Deposit(ctx, staff, ledger.Idempotency{Key: "fund-" + a.ID, Hash: "h"}, ledger.CashInput{AccountID: a.ID, Money: bank.Money{Amount: funds, Currency: "EUR"}}); err != nil {
			s.t.Fatal(err)
		}
	}
	return a.ID
}

func idOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v.ID == "" {
		t.Fatalf("answer %d %s holds no id", w.Code, w.Body)
	}
	return v.ID
}

// TestIdempotentAnswers checks API.md's Idempotency-Key rules end to end:
// the same decoded request replays the first answer byte for byte, a refusal
// by a money rule included; another request with the key is refused; what
// never began keeps nothing.
func TestIdempotentAnswers(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db)
		src, dst := s.account(100), s.account(0)
		body := fmt.Sprintf(`{"from_account_id":%q,"to_account_id":%q,"amount":30,"currency":"EUR"}`, src, dst)
		spaced := fmt.Sprintf(`{ "currency" : "EUR", "amount":30,
			"to_account_id":%q, "from_account_id":%q }`, dst, src)

		first := s.do("alice", "POST", "/api/v1/transfers", "k1", body)
		if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("first transfer: %d %s", first.Code, first.Body)
		}
		again := s.do("alice", "POST", "/api/v1/transfers", "k1", spaced)
		if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("same request spaced and ordered otherwise: %d %s, want the first answer replayed", again.Code, again.Body)
		}
		other := s.do("alice", "POST", "/api/v1/transfers", "k1", strings.Replace(body, `"amount":30`, `"amount":31`, 1))
		if other.Code != http.StatusUnprocessableEntity || !strings.Contains(other.Body.String(), "idempotency_key_reused") {
			t.Errorf("another request with the key: %d %s, want 422 idempotency_key_reused", other.Code, other.Body)
		}

		big := strings.Replace(body, `"amount":30`, `"amount":500`, 1)
		refused := s.do("alice", "POST", "/api/v1/transfers", "k2", big)
		if refused.Code != http.StatusUnprocessableEntity || !strings.Contains(refused.Body.String(), "insufficient_funds") {
			t.Fatalf("overdraft: %d %s", refused.Code, refused.Body)
		}
		s.do("op", "POST", "/api/v1/deposits", "more", fmt.Sprintf(`{"account_id":%q,"amount":1000,"currency":"EUR"}`, src))
		replayed := s.do("alice", "POST", "/api/v1/transfers", "k2", big)
		if replayed.Code != http.StatusUnprocessableEntity || replayed.Body.String() != refused.Body.String() || replayed.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("the refused request again, now affordable: %d %s, want the refusal replayed", replayed.Code, replayed.Body)
		}

		// A request that never began keeps nothing: its key is free.
		if w := s.do("alice", "POST", "/api/v1/transfers", "k3", `{"amount":1,"amount":2}`); w.Code != http.StatusBadRequest {
			t.Errorf("duplicate key: %d %s, want 400", w.Code, w.Body)
		}
		if w := s.do("alice", "POST", "/api/v1/transfers", "k3", body); w.Code != http.StatusCreated {
			t.Errorf("the key of a request that never began, used again: %d %s", w.Code, w.Body)
		}
	})
}

// TestHolds walks a hold through the API: made (201), read, listed by
// status, voided (200, replayed as 200), and unseen by another customer.
func TestHolds(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db)
		acct := s.account(100)
		made := s.do("alice", "POST", "/api/v1/holds", "h1", fmt.Sprintf(`{"account_id":%q,"amount":40,"currency":"EUR"}`, acct))
		if made.Code != http.StatusCreated {
			t.Fatalf("hold: %d %s", made.Code, made.Body)
		}
		id := idOf(t, made)
		if w := s.do("alice", "GET", "/api/v1/holds/"+id, "", ""); w.Code != http.StatusOK || idOf(t, w) != id {
			t.Errorf("read the hold: %d %s", w.Code, w.Body)
		}
		if w := s.do("bob", "GET", "/api/v1/holds/"+id, "", ""); w.Code != http.StatusNotFound {
			t.Errorf("another customer reading the hold: %d, want 404", w.Code)
		}
		list := func(status string) int {
			t.Helper()
			w := s.do("alice", "GET", "/api/v1/accounts/"+acct+"/holds?status="+status, "", "")
			var l struct{ Data []struct{ ID, Status string } }
			if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || w.Code != http.StatusOK {
				t.Fatalf("list %s: %d %s", status, w.Code, w.Body)
			}
			return len(l.Data)
		}
		if list("pending") != 1 || list("voided") != 0 {
			t.Errorf("before the void: %d pending, %d voided; want 1 and 0", list("pending"), list("voided"))
		}
		void := s.do("alice", "POST", "/api/v1/holds/"+id+"/void", "v1", "")
		if void.Code != http.StatusOK {
			t.Fatalf("void: %d %s", void.Code, void.Body)
		}
		if w := s.do("alice", "POST", "/api/v1/holds/"+id+"/void", "v1", "{}"); w.Code != http.StatusOK || w.Body.String() != void.Body.String() {
			t.Errorf("void replayed: %d %s, want 200 and the first answer", w.Code, w.Body)
		}
		if list("pending") != 0 || list("voided") != 1 {
			t.Errorf("after the void: %d pending, %d voided; want 0 and 1", list("pending"), list("voided"))
		}
	})
}

// TestExpiredHoldOneAnswer checks that capturing a hold past its expiry is
// hold_expired whether or not the sweeper has released it yet.
func TestExpiredHoldOneAnswer(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Now())
		s := newServerAt(t, db, clk.Now)
		acct, dst := s.account(100), s.account(0)
		expires := clk.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
		var ids []string
		for i := range 2 {
			w := s.do("alice", "POST", "/api/v1/holds", fmt.Sprint("h", i), fmt.Sprintf(`{"account_id":%q,"amount":10,"currency":"EUR","expires_at":%q}`, acct, expires))
			if w.Code != http.StatusCreated {
				t.Fatalf("hold: %d %s", w.Code, w.Body)
			}
			ids = append(ids, idOf(t, w))
		}
		clk.Advance(time.Minute + time.Millisecond)
		capture := func(id, key string) string {
			w := s.do("alice", "POST", "/api/v1/holds/"+id+"/capture", key, fmt.Sprintf(`{"to_account_id":%q}`, dst))
			return fmt.Sprintf("%d %s", w.Code, bank.ErrorCode(errorOf(w)))
		}
		before := capture(ids[0], "c0") // not yet swept
		// A refused capture changes nothing: both holds are still pending.
		if n, err := s.l.ExpireHolds(context.Background()); err != nil || n != 2 {
			t.Fatalf("ExpireHolds = %d, %v; want both holds released", n, err)
		}
		after := capture(ids[1], "c1") // swept
		if before != "422 hold_expired" || after != before {
			t.Errorf("capture of an expired hold: %q before the sweep, %q after; want 422 hold_expired both", before, after)
		}
	})
}

func errorOf(w *httptest.ResponseRecorder) error {
	var doc bank.ErrorBody
	if json.Unmarshal(w.Body.Bytes(), &doc) != nil || doc.Error.Code == "" {
		return nil
	}
	return &bank.Error{Code: doc.Error.Code}
}
