package auth

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/httpapi"
)

// Routes registers the auth-service's endpoints on mux. Only /me needs a
// token, which authn (Middleware) checks; the others are how a token is got.
func Routes(mux httpapi.Router, log *slog.Logger, svc *Service, authn func(http.Handler) http.Handler) {
	mux.Handle("POST /api/v1/auth/register", handleRegister(log, svc))
	mux.Handle("POST /api/v1/auth/login", handleLogin(log, svc))
	mux.Handle("POST /api/v1/auth/refresh", handleRefresh(log, svc))
	mux.Handle("POST /api/v1/auth/logout", handleLogout(log, svc))
	mux.Handle("GET /api/v1/auth/me", authn(handleMe(log, svc)))
}
