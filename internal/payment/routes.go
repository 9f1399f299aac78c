package payment

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// Routes registers every endpoint of payment-service on mux; authn
// authenticates each of them.
func Routes(mux httpapi.Router, log *slog.Logger, s *Service, authn func(http.Handler) http.Handler) {
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("POST /api/v1/payments", authn(handleCreate(log, s)))
	mux.Handle("GET /api/v1/payments", authn(handleList(log, s)))
	mux.Handle("GET /api/v1/payments/{id}", authn(handleGet(log, s)))
	mux.Handle("POST /api/v1/payments/{id}/cancel", authn(handleCancel(log, s)))
	mux.Handle("PUT /api/v1/payments/limits/{account_id}", authn(staff(handleSetLimits(log, s))))
}
