package web

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"12.50", "EUR", 1250, true},
		{"12.5", "EUR", 1250, true},
		{"12", "EUR", 1200, true},
		{".5", "EUR", 50, true},
		{"1,250.00", "EUR", 125000, true},
		{" 3 ", "EUR", 300, true},
		{"1250", "JPY", 1250, true},
		{"12.5", "JPY", 0, false},
		{"12.505", "EUR", 0, false},
		{"12.", "EUR", 0, false},
		{"0", "EUR", 0, false},
		{"-1", "EUR", 0, false},
		{"1e3", "EUR", 0, false},
		{"", "EUR", 0, false},
		{".", "EUR", 0, false},
		{"99999999999999999999", "EUR", 0, false},
	} {
		got, problem := parseAmount(tc.in, tc.currency)
		if got != tc.want || (problem == "") != tc.ok {
			t.Errorf("parseAmount(%q, %s) = %d, %q; want %d, ok %v", tc.in, tc.currency, got, problem, tc.want, tc.ok)
		}
	}
}

// TestSessionCookie checks where the session cookie is Secure: over TLS and
// behind a trusted proxy that says https; on plain http only a loopback host
// gets a cookie (not Secure), and any other host none at all.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	s, err := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, IdleTimeout: 1, MaxSessions: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		host, peer  string
		tls         bool
		proto       string
		wantName    string // "" for no cookie
		wantSecure  bool
		wantRefusal bool
	}{
		{"tls", "bank.example", "192.0.2.1:1", true, "", cookieSecure, true, false},
		{"trusted proxy says https", "bank.example", "10.1.2.3:1", false, "https", cookieSecure, true, false},
		{"untrusted peer says https", "bank.example", "192.0.2.1:1", false, "https", "", false, true},
		{"localhost", "localhost:8080", "127.0.0.1:1", false, "", cookiePlain, false, false},
		{"127.0.0.1", "127.0.0.1:8080", "127.0.0.1:1", false, "", cookiePlain, false, false},
		{"[::1]", "[::1]:8080", "[::1]:1", false, "", cookiePlain, false, false},
		{"plain http elsewhere", "bank.example", "192.0.2.1:1", false, "", "", false, true},
		{"a name under .localhost", "bank.localhost", "10.1.2.3:1", false, "http", cookiePlain, false, false},
		{"localhost as a subdomain elsewhere", "localhost.bank.example", "192.0.2.1:1", false, "", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host, r.RemoteAddr = tc.host, tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			w := httptest.NewRecorder()
			var err error
			s.edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				err = setCookie(w, r, &session{id: "id"})
			})).ServeHTTP(w, r)
			if got := errors.Is(err, errNeedsHTTPS); got != tc.wantRefusal {
				t.Errorf("refused %v (%v), want %v", got, err, tc.wantRefusal)
			}
			cookies := w.Result().Cookies()
			if tc.wantName == "" {
				if len(cookies) != 0 {
					t.Errorf("cookies %v, want none", cookies)
				}
				return
			}
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want one", cookies)
			}
			c := cookies[0]
			if c.Name != tc.wantName || c.Secure != tc.wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("cookie %+v, want %s Secure=%v HttpOnly SameSite=Strict Path=/", c, tc.wantName, tc.wantSecure)
			}
		})
	}
}

// TestForwarding: serve web's requests carry the browser's address, and the
// Ingress's host when one is given.
func TestForwarding(t *testing.T) {
	t.Parallel()
	var got *http.Request
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
	for _, tc := range []struct{ host, wantHost string }{{"", "controller.example"}, {"bank.localhost", "bank.localhost"}} {
		req := httptest.NewRequest(http.MethodGet, "http://controller.example/api/v1/auth/me", nil)
		req = req.WithContext(context.WithValue(req.Context(), keyClientIP, "198.51.100.4"))
		if _, err := Forwarding(next, tc.host).RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if got.Host != tc.wantHost && !(tc.host == "" && got.Host == req.Host) {
			t.Errorf("host %q: request names %q, want %q", tc.host, got.Host, tc.wantHost)
		}
		if xff := got.Header.Get("X-Forwarded-For"); xff != "198.51.100.4" {
			t.Errorf("X-Forwarded-For %q", xff)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
