package notification

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/httpapi"
)

// Routes registers every endpoint of notification-service on mux; authn
// authenticates each of them. Every caller, staff included, sees only their
// own notifications and preferences.
func Routes(mux httpapi.Router, log *slog.Logger, s *Service, authn func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/notifications", authn(handleList(log, s)))
	mux.Handle("GET /api/v1/notifications/preferences", authn(handleGetPreferences(log, s)))
	mux.Handle("PUT /api/v1/notifications/preferences", authn(handlePutPreferences(log, s)))
}
