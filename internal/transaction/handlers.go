package transaction

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// moneyHandler serves a money-moving POST: it requires an Idempotency-Key,
// decodes the body strictly into In (an empty body is {} when emptyOK),
// fingerprints the decoded request, and writes what call returns: 201 when
// it made a transaction or hold, 200 when it changed one, marked
// Idempotent-Replayed when it is an earlier answer, a refusal included. The
// ledger checks the input itself; the handler only turns JSON into its types.
func moneyHandler[In any](log *slog.Logger, emptyOK bool,
	call func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *In) (ledger.Result, error)) http.Handler {
	return gatedHandler(log, emptyOK, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *In) (approval.Outcome, error) {
		res, err := call(r, p, idem, in)
		return approval.Outcome{Result: res}, err
	})
}

// gatedHandler is moneyHandler for a staff action that may wait for a
// second staff user's approval: then it answers 202 {approval}.
func gatedHandler[In any](log *slog.Logger, emptyOK bool,
	call func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *In) (approval.Outcome, error)) http.Handler {
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
		o, err := call(r, p, ledger.Idempotency{Key: key, Hash: httpapi.Fingerprint(r, in)}, in)
		if err == nil && approval.Written(w, o) {
			return
		}
		res := o.Result
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		httpapi.WriteJSON(w, status, res.JSON())
	})
}

type moneyRequest struct {
	AccountID   string        `json:"account_id"`
	Amount      bank.Amount   `json:"amount"`
	Currency    string        `json:"currency"`
	Description string        `json:"description"`
	Metadata    bank.Metadata `json:"metadata"`
}

func (m *moneyRequest) money() bank.Money {
	return bank.Money{Amount: int64(m.Amount), Currency: bank.Currency(m.Currency)}
}

// request is the staff action of the request, as the approval gate takes it.
func (m *moneyRequest) request(action string) approval.Request {
	amount := int64(m.Amount)
	return approval.Request{Action: action, AccountID: m.AccountID, Amount: &amount,
		Currency: m.Currency, Description: m.Description, Metadata: m.Metadata}
}

func handleDeposit(log *slog.Logger, gate *approval.Service) http.Handler {
	return gatedHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *moneyRequest) (approval.Outcome, error) {
		return gate.Do(r.Context(), p, idem, in.request(approval.ActionDeposit))
	})
}

func handleWithdrawal(log *slog.Logger, gate *approval.Service) http.Handler {
	return gatedHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *moneyRequest) (approval.Outcome, error) {
		return gate.Do(r.Context(), p, idem, in.request(approval.ActionWithdrawal))
	})
}

type transferRequest struct {
	FromAccountID   string        `json:"from_account_id"`
	ToAccountID     string        `json:"to_account_id"`
	ToAccountNumber string        `json:"to_account_number"`
	Amount          bank.Amount   `json:"amount"`
	Currency        string        `json:"currency"`
	Description     string        `json:"description"`
	Metadata        bank.Metadata `json:"metadata"`
}

func (t *transferRequest) input() ledger.TransferInput {
	return ledger.TransferInput{From: t.FromAccountID, To: t.ToAccountID, ToNumber: t.ToAccountNumber,
		Money: bank.Money{Amount: int64(t.Amount), Currency: bank.Currency(t.Currency)}, Description: t.Description, Metadata: t.Metadata}
}

func handleTransfer(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return moneyHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *transferRequest) (ledger.Result, error) {
		return l.Transfer(r.Context(), p, idem, in.input())
	})
}

func handleTransferBatch(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		Transfers []transferRequest `json:"transfers"`
	}
	return moneyHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *request) (ledger.Result, error) {
		items := make([]ledger.TransferInput, len(in.Transfers))
		for i := range in.Transfers {
			items[i] = in.Transfers[i].input()
		}
		return l.TransferBatch(r.Context(), p, idem, items)
	})
}

func handleCreateHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		moneyRequest
		ExpiresAt *string `json:"expires_at"`
	}
	return moneyHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *request) (ledger.Result, error) {
		h := ledger.HoldInput{AccountID: in.AccountID, Money: in.money(), Description: in.Description, Metadata: in.Metadata}
		if in.ExpiresAt != nil {
			t, err := time.Parse(time.RFC3339, *in.ExpiresAt)
			if err != nil {
				return ledger.Result{}, bank.Invalid("expires_at", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
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
	return moneyHandler(log, false, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *request) (ledger.Result, error) {
		var amount int64 // zero: capture the whole remainder
		if in.Amount != nil {
			if *in.Amount <= 0 {
				return ledger.Result{}, bank.Invalid("amount", "must be a positive integer number of minor units")
			}
			amount = int64(*in.Amount)
		}
		return l.CaptureHold(r.Context(), p, idem, r.PathValue("id"), in.ToAccountID, amount)
	})
}

func handleVoidHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct{}
	return moneyHandler(log, true, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, _ *request) (ledger.Result, error) {
		return l.VoidHold(r.Context(), p, idem, r.PathValue("id"))
	})
}

func handleReverse(log *slog.Logger, gate *approval.Service) http.Handler {
	type request struct {
		Description string `json:"description"`
	}
	return gatedHandler(log, true, func(r *http.Request, p bank.Principal, idem ledger.Idempotency, in *request) (approval.Outcome, error) {
		return gate.Do(r.Context(), p, idem, approval.Request{Action: approval.ActionReversal,
			TransactionID: r.PathValue("id"), Description: in.Description})
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
		if f.Metadata, err = httpapi.MetadataFilter(r); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		for _, b := range []struct {
			name string
			dst  **time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			s, err := httpapi.TypedQuery(r, b.name)
			if err != nil {
				httpapi.Error(w, r, log, err)
				return
			}
			if s != "" {
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

func handleGetHold(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		h, err := l.Hold(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, h)
	})
}

func handleListHolds(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		limit, cursor, err := httpapi.Pagination(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		status, err := httpapi.TypedQuery(r, "status")
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		hs, next, err := l.Holds(r.Context(), p, r.PathValue("id"), status, ledger.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[*ledger.Hold]{Data: hs, NextCursor: next})
	})
}

func handleSetMetadata(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in ledger.MetadataChange
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		t, err := l.SetTransactionMetadata(r.Context(), p, r.PathValue("id"), in)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, t)
	})
}
