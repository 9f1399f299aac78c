package auth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// writeError answers err, with a Retry-After header when err says when to
// retry (rate limit, login throttle, busy hashing).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if d, ok := retryAfter(err); ok {
		httpapi.RetryAfter(w, d)
	}
	httpapi.Error(w, r, log, err)
}

// writeTokens answers with tokens, which no cache may keep (RFC 6749, 5.1).
func writeTokens(w http.ResponseWriter, t Tokens) {
	w.Header().Set("Cache-Control", "no-store")
	httpapi.Encode(w, http.StatusOK, t)
}

func handleRegister(log *slog.Logger, svc *Service) http.Handler {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := httpapi.Decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		u, err := svc.Register(r.Context(), req.Email, req.Password, req.Name, httpapi.ClientIP(r))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusCreated, u)
	})
}

func handleLogin(log *slog.Logger, svc *Service) http.Handler {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := httpapi.Decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		t, err := svc.Login(r.Context(), req.Email, req.Password, httpapi.ClientIP(r))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

// refreshRequest is the body of refresh and logout.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func handleRefresh(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req refreshRequest
		if err := httpapi.Decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		t, err := svc.Refresh(r.Context(), req.RefreshToken)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

func handleLogout(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req refreshRequest
		if err := httpapi.Decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := svc.Logout(r.Context(), req.RefreshToken); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleMe(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok { // routed without the middleware: a wiring bug, but still no access
			writeError(w, r, log, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required"))
			return
		}
		u, err := svc.User(r.Context(), p.UserID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, u)
	})
}

func handleLogoutEverywhere(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			writeError(w, r, log, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required"))
			return
		}
		if err := httpapi.DecodeOptional(w, r, &struct{}{}); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := svc.LogoutEverywhere(r.Context(), p.UserID); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleSetRole(log *slog.Logger, svc *Service) http.Handler {
	type request struct {
		Role Role `json:"role"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Require(r.Context(), RoleAdmin)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		var req request
		if err := httpapi.Decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		u, err := svc.SetRole(r.Context(), p, r.PathValue("id"), req.Role)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, u)
	})
}

// handleLock serves lock and unlock: apply is Service.Lock or Service.Unlock.
func handleLock(log *slog.Logger, apply func(ctx context.Context, by Principal, id string) (User, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Require(r.Context(), RoleOperator)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := httpapi.DecodeOptional(w, r, &struct{}{}); err != nil {
			writeError(w, r, log, err)
			return
		}
		u, err := apply(r.Context(), p, r.PathValue("id"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, u)
	})
}

func handleFindUsers(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Require(r.Context(), RoleOperator)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		q := r.URL.Query()
		var users []User
		switch {
		case q.Has("email") && q.Has("name"):
			err = bank.Invalid("name", "give email or name, not both")
		case q.Has("name"):
			users, err = svc.FindByName(r.Context(), p, q.Get("name"))
		default:
			users, err = svc.FindByEmail(r.Context(), p, q.Get("email"))
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, map[string]any{"data": users})
	})
}

func handleAudit(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Require(r.Context(), RoleAdmin)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		f, err := auditFilter(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		entries, next, err := svc.Audit(r.Context(), p, f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.Encode(w, http.StatusOK, httpapi.List[AuditEntry]{Data: entries, NextCursor: next})
	})
}

// auditFilter reads GET /api/v1/audit's query: ?actor=&action=&from=&to=
// (RFC 3339) and the page.
func auditFilter(r *http.Request) (AuditFilter, error) {
	var f AuditFilter
	var err error
	if f.ActorID, err = httpapi.Query(r, "actor"); err != nil {
		return f, err
	}
	if f.Action, err = httpapi.Query(r, "action"); err != nil {
		return f, err
	}
	var p problems
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		s, err := httpapi.TypedQuery(r, t.name)
		if err != nil {
			return f, err
		}
		if s != "" {
			v, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				p.check(t.name, "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
			}
			*t.dst = v
		}
	}
	if err := p.err(); err != nil {
		return f, err
	}
	f.Limit, f.Cursor, err = httpapi.Pagination(r)
	return f, err
}
