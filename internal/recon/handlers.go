package recon

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// maxBody bounds an import's request: the content, JSON-escaped, and the rest.
const maxBody = 2*MaxContent + 64<<10

// Routes registers the reconciliation endpoints on mux, for staff; authn
// authenticates each of them.
func Routes(mux httpapi.Router, log *slog.Logger, s *Service, authn func(http.Handler) http.Handler) {
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("POST /api/v1/reconciliations", authn(staff(handleImport(log, s))))
	mux.Handle("GET /api/v1/reconciliations/{id}", authn(staff(handleGet(log, s))))
	mux.Handle("GET /api/v1/reconciliations/{id}/items", authn(staff(handleItems(log, s))))
	mux.Handle("POST /api/v1/reconciliations/{id}/items/{item}/resolve", authn(staff(handleResolve(log, s))))
}

func handleImport(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in ImportInput
		body, err := httpapi.ReadBodyUpTo(w, r, maxBody)
		if err == nil {
			err = httpapi.DecodeBytes(body, &in)
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		rec, err := s.Import(r.Context(), p, in)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusCreated, rec)
	})
}

func handleGet(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		rec, err := s.Get(r.Context(), p, r.PathValue("id"))
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, rec)
	})
}

// handleItems pages by item number: ?cursor= is the last item of the
// previous page.
func handleItems(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		limit, cursor, err := httpapi.Pagination(r)
		var status string
		if err == nil {
			status, err = httpapi.Query(r, "status")
		}
		f := ItemFilter{Status: status, Limit: limit + 1}
		if err == nil && cursor != "" {
			if f.After, err = strconv.Atoi(cursor); err != nil || f.After < 0 {
				err = bank.Invalid("cursor", "is not a cursor of this list")
			}
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		items, err := s.Items(r.Context(), p, r.PathValue("id"), f)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		var next string
		if len(items) > limit {
			items = items[:limit]
			next = strconv.Itoa(items[limit-1].ID)
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[Item]{Data: items, NextCursor: next})
	})
}

// handleResolve answers 200 {item, transaction} once the difference is
// posted (again, marked Idempotent-Replayed, to every later or racing
// resolve), or 202 {approval} when four eyes hold it.
func handleResolve(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		err := httpapi.DecodeOptional(w, r, &struct{}{})
		n, convErr := strconv.Atoi(r.PathValue("item"))
		if err == nil && (convErr != nil || n < 1) {
			err = bank.Errorf(bank.KindNotFound, "item_not_found", "reconciliation %s has no item %s", r.PathValue("id"), r.PathValue("item"))
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		res, err := s.Resolve(r.Context(), p, r.PathValue("id"), n)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if approval.Written(w, approval.Outcome{Approval: res.Approval, Replayed: res.Replayed}) {
			return
		}
		if res.Result.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		httpapi.Encode(w, http.StatusOK, struct {
			Item        Item `json:"item"`
			Transaction any  `json:"transaction"`
		}{res.Item, res.Result.Transaction})
	})
}
