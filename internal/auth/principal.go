package auth

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// Role and Principal are the shared vocabulary's: every layer speaks of the
// caller, and the ledger must not depend on this package to do so.
type (
	Role      = bank.Role
	Principal = bank.Principal
)

// The roles.
const (
	RoleCustomer = bank.RoleCustomer
	RoleOperator = bank.RoleOperator
	RoleAdmin    = bank.RoleAdmin
)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal that the authentication middleware put in
// ctx. Handlers behind the middleware always have one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Require returns an error unless ctx's principal has one of roles:
// KindUnauthenticated without a principal, KindForbidden with another role.
func Require(ctx context.Context, roles ...Role) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required")
	}
	for _, r := range roles {
		if p.Role == r || (r == RoleOperator && p.Role == RoleAdmin) {
			return p, nil
		}
	}
	return p, bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the %s role", roles[0])
}

// Authenticator turns a request's bearer token into a Principal. The Verifier
// of this package implements it; the middleware of every service uses it.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Only returns middleware that lets through requests whose principal has role
// (an admin passes for an operator) and answers others 403 before anything
// else about the request is looked at. It goes inside the authentication
// middleware.
func Only(log *slog.Logger, role Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := Require(r.Context(), role); err != nil {
				httpapi.Error(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
