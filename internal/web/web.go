// Package web serves the bank's pages: online banking for customers and a
// console for staff, rendered on the server from templates embedded in the
// binary. The pages call the platform through the typed API client, as any
// other client does, with the tokens of a session kept on the server.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/httpapi"
)

//go:embed templates static
var files embed.FS

// contentSecurityPolicy allows the pages their own stylesheet and images and
// nothing else: no script at all, forms posted only back here, never framed.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Config is what the pages need.
type Config struct {
	// API is the platform's client, without a token; each session's
	// requests go through a copy carrying its access token.
	API *client.Client
	// TrustedProxies are the proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed: a request they forward as https gets
	// a Secure cookie.
	TrustedProxies []netip.Prefix
	// IdleTimeout ends a session after this long without a request.
	IdleTimeout time.Duration
	// MaxSessions bounds the sessions kept in memory.
	MaxSessions int
	// Maintenance, when set, says whether the platform is in maintenance:
	// every page but the stylesheet is then the maintenance page. (Without
	// it, the API's 503 "maintenance" answers show the same page.)
	Maintenance httpapi.MaintenanceState
	// System, when set, is what the console's system page shows and
	// does; without it the page says it is not available here.
	System System
	Log    *slog.Logger
	Now    func() time.Time
}

// DefaultConfig is Config with its limits set; API and Log are the caller's.
func DefaultConfig() Config {
	return Config{IdleTimeout: 30 * time.Minute, MaxSessions: 100_000, Now: time.Now}
}

// Server serves the pages.
type Server struct {
	api      *client.Client
	log      *slog.Logger
	now      func() time.Time
	trusted  []netip.Prefix
	sessions *sessions
	pages    map[string]*template.Template
	maint    httpapi.MaintenanceState
	sys      System
}

// New returns a Server of cfg.
func New(cfg Config) (*Server, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Server{api: cfg.API, log: cfg.Log, now: cfg.Now, trusted: cfg.TrustedProxies,
		sessions: newSessions(cfg.IdleTimeout, cfg.MaxSessions, cfg.Now), pages: pages, maint: cfg.Maintenance, sys: cfg.System}, nil
}

// parsePages parses each page with the layout around it.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// Handler returns the pages' handler: every path but the API's.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(files, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.customerRoutes(mux)
	s.consoleRoutes(mux)
	return s.edge(s.maintenance(mux))
}

// maintenance answers every page with the maintenance page while the
// platform is in maintenance; the stylesheet still loads.
func (s *Server) maintenance(next http.Handler) http.Handler {
	if s.maint == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		on, message, retryAfter := s.maint()
		if !on || strings.HasPrefix(r.URL.Path, "/static/") || (s.sys != nil && systemPath(r.URL.Path) && s.cachedAdmin(r)) {
			next.ServeHTTP(w, r)
			return
		}
		httpapi.RetryAfter(w, retryAfter)
		s.render(w, r, http.StatusServiceUnavailable, "maintenance", page{Title: "Down for maintenance", Data: message})
	})
}

// systemPath reports whether path is the console's system page or its
// maintenance switch: what an admin still reaches during maintenance.
func systemPath(path string) bool {
	return path == "/console/system" || path == "/console/system/maintenance"
}

// cachedAdmin reports whether the request's session is an admin's, as it
// was at sign-in: during maintenance the API cannot be asked.
func (s *Server) cachedAdmin(r *http.Request) bool {
	ss := s.session(r)
	if ss == nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.user != nil && ss.user.Role == "admin"
}

type ctxKey int

const (
	keyHTTPS ctxKey = iota
	keyClientIP
)

// edge sets the pages' security headers, notes whether the browser reached
// us over https (itself or through a trusted proxy) and who the client is,
// and bounds form bodies.
func (s *Server) edge(next http.Handler) http.Handler {
	behind := httpapi.TrustProxies(s.trusted)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		https := r.TLS != nil || (s.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		behind(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), keyHTTPS, https)
			ctx = context.WithValue(ctx, keyClientIP, httpapi.ClientIP(r))
			next.ServeHTTP(w, r.WithContext(ctx))
		})).ServeHTTP(w, r)
	})
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.trusted {
		if p.Contains(peer.Addr().Unmap()) {
			return true
		}
	}
	return false
}

func isHTTPS(r *http.Request) bool { b, _ := r.Context().Value(keyHTTPS).(bool); return b }

// clientIP is the browser's address, for the API's per-address limits.
func clientIP(ctx context.Context) string { s, _ := ctx.Value(keyClientIP).(string); return s }

// isLoopback reports whether the browser asked for a loopback host: a
// developer's own machine, where plain http never leaves the box. Names
// under .localhost are loopback too (RFC 6761), as browsers treat them: the
// local overlay's Ingress serves bank.localhost.
func isLoopback(r *http.Request) bool {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// Cookie names: the __Host- prefix makes the browser insist on Secure, path
// / and no Domain, so no sibling host can plant or read the cookie. It needs
// https; on http://localhost a plain name is used instead.
const (
	cookieSecure = "__Host-bank_session"
	cookiePlain  = "bank_session"
)

// errNeedsHTTPS refuses a session on plain http from anywhere but loopback:
// the cookie would cross the network in the clear.
var errNeedsHTTPS = errors.New("sign-in needs https")

// setCookie sends the session cookie: HttpOnly and SameSite=Strict always,
// Secure (with the __Host- prefix) over https. Over plain http only a
// loopback host gets one: browsers drop a Secure cookie there (Safari; some
// versions of the others), and the traffic never leaves the machine.
func setCookie(w http.ResponseWriter, r *http.Request, ss *session) error {
	c := &http.Cookie{Name: cookieSecure, Value: ss.id, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if !isHTTPS(r) {
		if !isLoopback(r) {
			return errNeedsHTTPS
		}
		c.Name, c.Secure = cookiePlain, false
	}
	http.SetCookie(w, c)
	return nil
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	c := &http.Cookie{Name: cookieSecure, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if !isHTTPS(r) {
		c.Name, c.Secure = cookiePlain, false
	}
	http.SetCookie(w, c)
}

// session returns the request's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	name := cookiePlain
	if isHTTPS(r) {
		name = cookieSecure
	}
	c, err := r.Cookie(name)
	if err != nil {
		return nil
	}
	return s.sessions.get(c.Value)
}
