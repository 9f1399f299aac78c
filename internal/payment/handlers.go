package payment

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

type createRequest struct {
	FromAccountID string         `json:"from_account_id"`
	Amount        bank.Amount    `json:"amount"`
	Currency      string         `json:"currency"`
	Beneficiary   Beneficiary    `json:"beneficiary"`
	Reference     string         `json:"reference"`
	ScheduledFor  *string        `json:"scheduled_for"`
	Schedule      *ScheduleInput `json:"schedule"`
	Metadata      bank.Metadata  `json:"metadata"`
}

// handleCreate is POST /api/v1/payments: the Idempotency-Key flow of every
// money-moving POST (a kept answer is replayed byte for byte).
func handleCreate(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		key, err := httpapi.IdempotencyKey(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		var in createRequest
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		ci := CreateInput{FromAccountID: in.FromAccountID, Money: bank.Money{Amount: int64(in.Amount), Currency: bank.Currency(in.Currency)},
			Beneficiary: in.Beneficiary, Reference: in.Reference, Schedule: in.Schedule, Metadata: in.Metadata}
		if in.ScheduledFor != nil {
			t, err := time.Parse(time.RFC3339, *in.ScheduledFor)
			if err != nil {
				httpapi.Error(w, r, log, bank.Invalid("scheduled_for", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"))
				return
			}
			ci.ScheduledFor = &t
		}
		a, err := s.Create(r.Context(), p, ledger.Idempotency{Key: key, Hash: httpapi.Fingerprint(r, &in)}, ci)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.WriteKept(w, a.Outcome, a.Body, a.Replayed)
	})
}

func handleList(log *slog.Logger, s *Service) http.Handler {
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
		ps, next, err := s.List(r.Context(), p, ListFilter{Status: status, Limit: limit, Cursor: cursor})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[*Payment]{Data: ps, NextCursor: next})
	})
}

func handleGet(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		pay, err := s.Get(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, pay)
	})
}

// handleCancel is POST /api/v1/payments/{id}/cancel. It takes no body (an
// empty object at most) and needs no Idempotency-Key: cancelling a cancelled
// payment answers it again.
func handleCancel(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			if err := bank.CheckIdempotencyKey(k); err != nil {
				httpapi.Error(w, r, log, err)
				return
			}
		}
		if err := httpapi.DecodeOptional(w, r, &struct{}{}); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		pay, err := s.Cancel(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, pay)
	})
}

func handleSetLimits(log *slog.Logger, s *Service) http.Handler {
	type request struct {
		PerPayment bank.Amount `json:"per_payment"`
		Daily      bank.Amount `json:"daily"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		lim, err := s.SetLimits(r.Context(), p, r.PathValue("account_id"), int64(in.PerPayment), int64(in.Daily))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, lim)
	})
}
