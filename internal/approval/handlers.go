package approval

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// Written answers an Outcome of Do over HTTP and reports whether it did:
// an action that waits for approval is 202 {approval}, marked
// Idempotent-Replayed when a retry found it. Otherwise the caller writes
// the action's own answer.
func Written(w http.ResponseWriter, o Outcome) bool {
	if o.Approval == nil {
		return false
	}
	if o.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	httpapi.Encode(w, http.StatusAccepted, struct {
		Approval *Approval `json:"approval"`
	}{o.Approval})
	return true
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
		as, next, err := s.List(r.Context(), p, status, ledger.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[*Approval]{Data: as, NextCursor: next})
	})
}

// handleApprove answers 200 {approval, result}; the winner of the approval
// asking again gets the same answer, marked Idempotent-Replayed, and every
// other staff user 409 already_approved.
func handleApprove(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		if err := httpapi.DecodeOptional(w, r, &struct{}{}); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		d, err := s.Approve(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if d.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		httpapi.Encode(w, http.StatusOK, d)
	})
}

func handleReject(log *slog.Logger, s *Service) http.Handler {
	type request struct {
		Reason string `json:"reason"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		if err := httpapi.DecodeOptional(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		a, err := s.Reject(r.Context(), p, r.PathValue("id"), in.Reason)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, a)
	})
}
