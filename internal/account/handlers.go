package account

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

func handleOpen(log *slog.Logger, l *ledger.Ledger) http.Handler {
	type request struct {
		Currency string        `json:"currency"`
		Type     string        `json:"type"`
		Name     string        `json:"name"`
		Metadata bank.Metadata `json:"metadata"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		a, err := l.OpenAccount(r.Context(), p, ledger.OpenAccountInput{Currency: bank.Currency(in.Currency), Type: in.Type, Name: in.Name, Metadata: in.Metadata})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusCreated, a)
	})
}

func handleList(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		limit, cursor, err := httpapi.Pagination(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		owner, err := httpapi.Query(r, "owner_id")
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		md, err := httpapi.MetadataFilter(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		as, next, err := l.Accounts(r.Context(), p, ledger.AccountFilter{OwnerID: owner,
			Metadata: md, Page: ledger.Page{Limit: limit, Cursor: cursor}})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[*ledger.Account]{Data: as, NextCursor: next})
	})
}

func handleGet(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		a, err := l.Account(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, a)
	})
}

// handleSetStatus freezes, unfreezes or closes an account, through gate:
// an action held for approval answers 202 {approval}. An Idempotency-Key,
// optional here, lets a retry find the approval it made.
func handleSetStatus(log *slog.Logger, gate *approval.Service, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		// No body is needed; one that is sent must be an empty JSON object.
		if err := httpapi.DecodeOptional(w, r, &struct{}{}); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		gated(w, r, log, gate, p, approval.Request{Action: action, AccountID: r.PathValue("id")})
	})
}

func handleOverdraftLimit(log *slog.Logger, gate *approval.Service) http.Handler {
	type request struct {
		Amount *bank.Amount `json:"amount"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if in.Amount == nil {
			httpapi.Error(w, r, log, bank.Invalid("amount", "is required"))
			return
		}
		amount := int64(*in.Amount)
		gated(w, r, log, gate, p, approval.Request{Action: approval.ActionOverdraftLimit, AccountID: r.PathValue("id"), Amount: &amount})
	})
}

// gated runs an account action through gate and writes its answer: the
// account, or 202 {approval} when it waits for a second staff user.
func gated(w http.ResponseWriter, r *http.Request, log *slog.Logger, gate *approval.Service, p bank.Principal, req approval.Request) {
	var key string
	if r.Header.Get("Idempotency-Key") != "" {
		var err error
		if key, err = httpapi.IdempotencyKey(r); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
	}
	o, err := gate.Do(r.Context(), p, ledger.Idempotency{Key: key}, req)
	if err != nil {
		httpapi.Error(w, r, log, err)
		return
	}
	if !approval.Written(w, o) {
		httpapi.Encode(w, http.StatusOK, o.Account)
	}
}

func handleSetMetadata(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in ledger.MetadataChange
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		a, err := l.SetAccountMetadata(r.Context(), p, r.PathValue("id"), in)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, a)
	})
}
