package auth

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/httpapi"
)

// Routes registers the auth-service's endpoints on mux. Register, login,
// refresh and logout are how a token is got or given up; the others need one,
// which authn (Middleware) checks, and user management needs staff.
func Routes(mux httpapi.Router, log *slog.Logger, svc *Service, authn func(http.Handler) http.Handler) {
	mux.Handle("POST /api/v1/auth/register", handleRegister(log, svc))
	mux.Handle("POST /api/v1/auth/login", handleLogin(log, svc))
	mux.Handle("POST /api/v1/auth/refresh", handleRefresh(log, svc))
	mux.Handle("POST /api/v1/auth/logout", handleLogout(log, svc))
	mux.Handle("GET /api/v1/auth/me", authn(handleMe(log, svc)))
	mux.Handle("POST /api/v1/auth/logout-all", authn(handleLogoutEverywhere(log, svc)))
	mux.Handle("PUT /api/v1/users/{id}/role", authn(Only(log, RoleAdmin)(handleSetRole(log, svc))))
	operator := Only(log, RoleOperator)
	mux.Handle("GET /api/v1/users", authn(operator(handleFindUsers(log, svc))))
	mux.Handle("POST /api/v1/users/{id}/lock", authn(operator(handleLock(log, svc.Lock))))
	mux.Handle("POST /api/v1/users/{id}/unlock", authn(operator(handleLock(log, svc.Unlock))))
	mux.Handle("GET /api/v1/audit", authn(Only(log, RoleAdmin)(handleAudit(log, svc))))
}
