package transaction

import (
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// moneyHandler serves a money-moving POST: it requires an Idempotency-Key,
// decodes the body strictly into In (an empty body is {} when emptyOK),
// fingerprints the request, and writes what call returns — the stored
// response, marked Idempotent-Replayed when it is a replay.
func moneyHandler[In any](log *slog.Logger, emptyOK bool,
	call func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *In) (ledger.Response, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		key, err := httpapi.IdempotencyKey(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		body, err := httpapi.ReadBody(w, r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		in := new(In)
		if len(body) > 0 || !emptyOK {
			if err := httpapi.DecodeBytes(body, in); err != nil {
				httpapi.Error(w, r, log, err)
				return
			}
		}
		resp, err := call(r, p, ledger.Idempotency{Key: key, Hash: httpapi.Fingerprint(r, body)}, in)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if resp.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		httpapi.WriteJSON(w, resp.Status, resp.Body)
	})
}

type moneyRequest struct {
	AccountID   string      `json:"account_id"`
	Amount      bank.Amount `json:"amount"`
	Currency    string      `json:"currency"`
	Description string      `json:"description"`
}

func (m *moneyRequest) validate() (bank.Money, error) {
	if err := requireID("account_id", m.AccountID); err != nil {
		return bank.Money{}, err
	}
	if err := checkDescription(m.Description); err != nil {
		return bank.Money{}, err
	}
	return bank.ParseMoney("amount", m.Amount, m.Currency)
}

func requireID(field, id string) error {
	if id == "" {
		return bank.Invalid(field, "is required")
	}
	if len(id) > 64 {
		return bank.Invalid(field, "is not an id")
	}
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > 500 || !utf8.ValidString(d) {
		return bank.Invalid("description", "must be valid text of at most 500 characters")
	}
	return nil
}

func handleDeposit(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *moneyRequest) (ledger.Response, error) {
		if _, err := auth.Require(r.Context(), auth.RoleOperator); err != nil {
			return ledger.Response{}, err
		}
		m, err := in.validate()
		if err != nil {
			return ledger.Response{}, err
		}
		return l.Deposit(r.Context(), p, idem, in.AccountID, m, in.Description)
	})
}

func handleWithdrawal(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *moneyRequest) (ledger.Response, error) {
		m, err := in.validate()
		if err != nil {
			return ledger.Response{}, err
		}
		return l.Withdraw(r.Context(), p, idem, in.AccountID, m, in.Description)
	})
}

type transferRequest struct {
	FromAccountID string      `json:"from_account_id"`
	ToAccountID   string      `json:"to_account_id"`
	Amount        bank.Amount `json:"amount"`
	Currency      string      `json:"currency"`
	Description   string      `json:"description"`
}

func (t *transferRequest) validate() (ledger.TransferInput, error) {
	if err := requireID("from_account_id", t.FromAccountID); err != nil {
		return ledger.TransferInput{}, err
	}
	if err := requireID("to_account_id", t.ToAccountID); err != nil {
		return ledger.TransferInput{}, err
	}
	if t.FromAccountID == t.ToAccountID {
		return ledger.TransferInput{}, bank.Invalid("to_account_id", "must differ from from_account_id")
	}
	if err := checkDescription(t.Description); err != nil {
		return ledger.TransferInput{}, err
	}
	m, err := bank.ParseMoney("amount", t.Amount, t.Currency)
	return ledger.TransferInput{From: t.FromAccountID, To: t.ToAccountID, Money: m, Description: t.Description}, err
}

func handleTransfer(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *transferRequest) (ledger.Response, error) {
		t, err := in.validate()
		if err != nil {
			return ledger.Response{}, err
		}
		return l.Transfer(r.Context(), p, idem, t)
	})
}

// maxBatch is the most transfers one batch request may carry.
const maxBatch = 1000

func handleTransferBatch(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		Transfers []transferRequest `json:"transfers"`
	}
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *request) (ledger.Response, error) {
		if len(in.Transfers) == 0 || len(in.Transfers) > maxBatch {
			return ledger.Response{}, bank.Invalid("transfers", "must hold from 1 to 1000 transfers")
		}
		items := make([]ledger.BatchItem, len(in.Transfers))
		for i := range in.Transfers {
			items[i].Transfer, items[i].Invalid = in.Transfers[i].validate()
		}
		return l.TransferBatch(r.Context(), p, idem, items)
	})
}

func handleCreateHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		moneyRequest
		ExpiresAt *string `json:"expires_at"`
	}
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *request) (ledger.Response, error) {
		m, err := in.validate()
		if err != nil {
			return ledger.Response{}, err
		}
		h := ledger.HoldInput{AccountID: in.AccountID, Money: m, Description: in.Description}
		if in.ExpiresAt != nil {
			t, err := time.Parse(time.RFC3339, *in.ExpiresAt)
			if err != nil {
				return ledger.Response{}, bank.Invalid("expires_at", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			t = t.UTC().Truncate(time.Microsecond)
			h.ExpiresAt = &t
		}
		return l.CreateHold(r.Context(), p, idem, h)
	})
}

func handleCaptureHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		ToAccountID string       `json:"to_account_id"`
		Amount      *bank.Amount `json:"amount"`
	}
	return moneyHandler(log, false, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *request) (ledger.Response, error) {
		if err := requireID("to_account_id", in.ToAccountID); err != nil {
			return ledger.Response{}, err
		}
		var amount int64 // zero: capture the whole remainder
		if in.Amount != nil {
			if *in.Amount <= 0 {
				return ledger.Response{}, bank.Invalid("amount", "must be a positive integer number of minor units")
			}
			amount = int64(*in.Amount)
		}
		return l.CaptureHold(r.Context(), p, idem, r.PathValue("id"), in.ToAccountID, amount)
	})
}

func handleVoidHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct{}
	return moneyHandler(log, true, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, _ *request) (ledger.Response, error) {
		return l.VoidHold(r.Context(), p, idem, r.PathValue("id"))
	})
}

func handleReverse(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		Description string `json:"description"`
	}
	return moneyHandler(log, true, func(r *http.Request, p auth.Principal, idem ledger.Idempotency, in *request) (ledger.Response, error) {
		if _, err := auth.Require(r.Context(), auth.RoleOperator); err != nil {
			return ledger.Response{}, err
		}
		if err := checkDescription(in.Description); err != nil {
			return ledger.Response{}, err
		}
		return l.Reverse(r.Context(), p, idem, r.PathValue("id"), in.Description)
	})
}

func handleGetTransaction(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		t, err := l.Transaction(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, t)
	})
}

func handleHistory(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var f ledger.HistoryFilter
		var err error
		if f.Limit, f.Cursor, err = httpapi.Pagination(r); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		for _, b := range []struct {
			name string
			dst  **time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			if s := r.URL.Query().Get(b.name); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					httpapi.Error(w, r, log, bank.Invalid(b.name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"))
					return
				}
				*b.dst = &t
			}
		}
		txs, next, err := l.History(r.Context(), p, r.PathValue("id"), f)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[*ledger.Transaction]{Data: txs, NextCursor: next})
	})
}
