package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string { return bank.OriginOf(ctx).RequestID }

// ClientAddr returns the client address (ClientIP) of the request ctx belongs
// to, or "": what an audit record says the action came from.
func ClientAddr(ctx context.Context) string { return bank.OriginOf(ctx).ClientIP }

// Router is where a service registers its endpoints: an *http.ServeMux, or
// a test's recorder listing every route.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// RequestObserver records one finished request; observe.Metrics implements it
// as http_server_requests_seconds.
type RequestObserver interface {
	ObserveRequest(method, uri string, status int, exception string, d time.Duration)
}

// Wrap returns h inside the middleware every service's requests pass through,
// outermost first: request id, panic recovery, access log and metrics, the
// edge's checks and security headers (edge), and the refusal of a path or
// query that holds what no field may (checkInput).
func Wrap(h http.Handler, log *slog.Logger, obs RequestObserver) http.Handler {
	return wrap(h, log, obs, true)
}

// WrapPages is Wrap for the web pages: the request id, access log, metrics
// and panic recovery, without the API's JSON edge (pages take form bodies
// and set headers of their own).
func WrapPages(h http.Handler, log *slog.Logger, obs RequestObserver) http.Handler {
	return wrap(h, log, obs, false)
}

func wrap(h http.Handler, log *slog.Logger, obs RequestObserver, api bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(bank.WithOrigin(r.Context(), bank.Origin{RequestID: id, ClientIP: ClientIP(r)}))
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { // the handler asked for the connection to be dropped
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					Error(rec, r, log, fmt.Errorf("panic: %v", p))
				}
				rec.exception = "panic"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			uri := r.Pattern
			if uri == "" {
				uri = "UNKNOWN"
			}
			if obs != nil {
				obs.ObserveRequest(r.Method, uri, status, rec.exception, d)
			}
			// Server errors stand out at warn; a load test that wants no access
			// lines at all runs with BANK_LOG_LEVEL=warn.
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", id), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.String("route", uri),
				slog.Int("status", status), slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.String("remote", ClientIP(r)))
		}()
		if api {
			if !edge(rec, r) {
				return
			}
			if err := checkInput(r); err != nil {
				Error(rec, r, log, err)
				return
			}
		}
		h.ServeHTTP(rec, r)
	})
}

// recorder remembers the status and size of a response, and the exception
// (Micrometer's word) behind a server error.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	exception   string
}

// noteException records on w's recorder, if it has one, what failed a
// request that answers a server error.
func noteException(w http.ResponseWriter, name string) {
	for {
		switch v := w.(type) {
		case *recorder:
			v.exception = name
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return
		}
	}
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClientIP is the address the request came from. Forwarded headers are not
// trusted: the edge in front of the service rewrites RemoteAddr.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// NewServer returns an http.Server with timeouts, so that a slow or stuck
// client cannot hold a connection for ever.
func NewServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// RetryAfter sets the Retry-After header in whole seconds, at least one.
func RetryAfter(w http.ResponseWriter, d time.Duration) {
	s := int(d.Seconds() + 0.999)
	if s < 1 {
		s = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(s))
}

// JSONMux serves mux, but answers what its routes do not match with the
// API's error body instead of the ServeMux's plain text: 404 for an unknown
// path, 405 with its Allow header for a known path and another method.
func JSONMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // routes again, and sets the path values
			return
		}
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			WriteJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":{"code":"method_not_allowed","message":"this path does not take `+
				r.Method+` requests"}}`))
			return
		}
		WriteJSON(w, http.StatusNotFound, []byte(`{"error":{"code":"not_found","message":"no such path"}}`))
	})
}

// statusProbe is a ResponseWriter that keeps only the status and headers.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
