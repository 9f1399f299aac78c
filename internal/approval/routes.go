package approval

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// Routes registers the approvals endpoints on mux, for staff; authn
// authenticates each of them.
func Routes(mux httpapi.Router, log *slog.Logger, s *Service, authn func(http.Handler) http.Handler) {
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("GET /api/v1/approvals", authn(staff(handleList(log, s))))
	mux.Handle("POST /api/v1/approvals/{id}/approve", authn(staff(handleApprove(log, s))))
	mux.Handle("POST /api/v1/approvals/{id}/reject", authn(staff(handleReject(log, s))))
}
