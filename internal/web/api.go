package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/bank"
)

// errSignedOut is a session whose tokens no longer work.
var errSignedOut = errors.New("signed out")

// as returns the API client of the session's user, refreshing the access
// token when it is about to expire. The session's lock is held across the
// refresh, so two tabs never spend the same refresh token (a second spend
// would look like theft and end the session).
func (s *Server) as(ctx context.Context, ss *session) (*client.Client, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.user == nil {
		return nil, errSignedOut
	}
	if s.now().Add(30 * time.Second).After(ss.accessExp) {
		t, err := s.api.Refresh(ctx, ss.refresh)
		if err != nil {
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status < 500 && ae.Code != "maintenance" {
				s.sessions.delete(ss.id)
				return nil, errSignedOut
			}
			return nil, err
		}
		ss.access, ss.refresh = t.AccessToken, t.RefreshToken
		ss.accessExp = s.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return s.api.WithToken(ss.access), nil
}

// moneyCall runs a money-moving call and, when the API says the same key is
// still in flight (a double submit racing the first), waits for the first
// to finish and asks again: the answer is then the first one's, replayed.
func moneyCall[T any](ctx context.Context, call func() (T, error)) (T, error) {
	wait := 50 * time.Millisecond
	for range 8 {
		v, err := call()
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Code != "request_in_progress" {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
	return call()
}

// parseAmount reads an amount as people write it ("12.50", "1,250.5") in
// currency's minor units. Commas are thousands separators. When it cannot,
// it says why, in words for the form.
func parseAmount(s, currency string) (int64, string) {
	exp := bank.Currency(currency).Exponent()
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	whole, frac, dot := strings.Cut(s, ".")
	if s == "" || whole == "" && frac == "" || (dot && frac == "") || len(frac) > exp || !digits(whole) || !digits(frac) {
		if exp == 0 {
			return 0, fmt.Sprintf("Enter a whole number of %s, like 1250.", currency)
		}
		return 0, fmt.Sprintf("Enter an amount like 12.50, with at most %d digits after the point.", exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n <= 0 || n > bank.MaxAmount {
		return 0, "Enter an amount above zero and not too large."
	}
	return n, ""
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// InProcess returns a transport that serves the client's requests with h in
// this process, as "serve all" does: no port, no TLS and no second trip
// through the kernel. Each request carries the browser's own address as its
// RemoteAddr, so the API's per-address limits count the person, not the
// pages.
func InProcess(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

// errCutShort is a response the API's handler cut short (by panicking with
// http.ErrAbortHandler, as a server drops a connection).
var errCutShort = errors.New("the API cut its answer short")

// RoundTrip serves req with the handler in a goroutine of its own and
// answers once the handler has sent its status: the body streams through a
// pipe as the handler writes it, so a long answer (a statement) is never
// held whole in memory.
func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RemoteAddr = "127.0.0.1:0"
	if ip := clientIP(req.Context()); ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	r.RequestURI = req.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &responsePipe{header: http.Header{}, pw: pw, sent: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// Only http.ErrAbortHandler gets here: httpapi.Wrap
				// answers every other panic with a 500.
				if w.status == 0 {
					w.cut = true
					w.send(http.StatusBadGateway)
				}
				pw.CloseWithError(errCutShort)
			}
		}()
		t.h.ServeHTTP(w, r)
		w.send(http.StatusOK)
		pw.Close()
	}()
	<-w.sent
	if w.cut {
		pr.Close()
		return nil, errCutShort
	}
	return &http.Response{Status: http.StatusText(w.status), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.out, Body: pr, ContentLength: -1, Request: req}, nil
}

// responsePipe is the response an in-process request gets: its status and
// headers once sent, its body through a pipe. What RoundTrip reads (status,
// out, cut) is written only before sent is closed.
type responsePipe struct {
	header http.Header // the handler's
	out    http.Header // as they were when the status was sent
	pw     *io.PipeWriter
	sent   chan struct{}
	status int
	cut    bool // cut short before any status
}

func (w *responsePipe) Header() http.Header { return w.header }

// send sends the status and the headers as they are, once.
func (w *responsePipe) send(code int) {
	if w.status != 0 {
		return
	}
	w.status, w.out = code, w.header.Clone()
	close(w.sent)
}

func (w *responsePipe) WriteHeader(code int) {
	if code >= 200 { // informational answers are not passed on
		w.send(code)
	}
}

func (w *responsePipe) Write(b []byte) (int, error) {
	w.send(http.StatusOK)
	return w.pw.Write(b)
}

// Flush does nothing: the pipe holds nothing back.
func (w *responsePipe) Flush() {}

// Forwarding returns a transport that sends the client's requests through
// next with the browser's address in X-Forwarded-For, for "serve web" alone:
// the API believes it when the web pods are among its trusted proxies. A
// host that is not "" is the Host the requests name: the Ingress's, when the
// API is reached at its controller's own address.
func Forwarding(next http.RoundTripper, host string) http.RoundTripper { return forwarding{next, host} }

type forwarding struct {
	next http.RoundTripper
	host string
}

func (f forwarding) RoundTrip(req *http.Request) (*http.Response, error) {
	ip := clientIP(req.Context())
	if ip != "" || f.host != "" {
		req = req.Clone(req.Context())
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if f.host != "" {
		req.Host = f.host
	}
	return f.next.RoundTrip(req)
}
