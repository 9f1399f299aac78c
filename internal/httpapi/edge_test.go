package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startEdge serves a mux with one POST route through Wrap, JSONMux and the
// JSONErrors listener, as cmd does, on a port of its own.
func startEdge(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/things", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusCreated, []byte(`{"ok":true}`))
	})
	mux.HandleFunc("GET /api/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, []byte(`{"id":"x"}`))
	})
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer("", Wrap(JSONMux(mux), log, nil), log)
	go func() { _ = srv.Serve(JSONErrors(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawRequest sends req as it is and reads the response.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// wantJSONError fails unless res is the API's error document with status and code.
func wantJSONError(t *testing.T, res *http.Response, status int, code string) {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Errorf("status %d, want %d; body %s", res.StatusCode, status, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json; body %s", ct, b)
	}
	var e ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("body %s (%v), want an error document with code %s", b, err, code)
	}
}

func TestEdgeAnswersJSON(t *testing.T) {
	t.Parallel()
	addr := startEdge(t)
	big := strings.Repeat("a", MaxHeaderBytes)
	huge := strings.Repeat("a", ServerMaxHeaderBytes+8192)
	tests := []struct {
		name, req string
		status    int
		code      string
	}{
		{"text/plain body", "POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", 415, "unsupported_media_type"},
		{"form body", "POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b", 415, "unsupported_media_type"},
		{"body without a type", "POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 415, "unsupported_media_type"},
		{"chunked text body", "POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 415, "unsupported_media_type"},
		{"JSON with another charset", "POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=latin1\r\nContent-Length: 2\r\n\r\n{}", 415, "unsupported_media_type"},
		{"double slash", "GET /api/v1//things/1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_path"},
		{"dot dot", "GET /api/v1/things/../things/1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_path"},
		{"dot", "GET /api/v1/./things/1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_path"},
		{"header over the API's limit", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "headers_too_large"},
		{"header over the server's limit", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + huge + "\r\n\r\n", 431, "headers_too_large"},
		{"control character in a header", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nX-Id: a\x01b\r\n\r\n", 400, "invalid_request"},
		{"NUL in a header", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nX-Id: a\x00b\r\n\r\n", 400, "invalid_request"},
		{"malformed request line", "GET\r\n\r\n", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := rawRequest(t, addr, tt.req)
			wantJSONError(t, res, tt.status, tt.code)
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestEdgeLetsGoodRequestsThrough(t *testing.T) {
	t.Parallel()
	addr := startEdge(t)
	for _, req := range []string{
		"POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: 2\r\n\r\n{}",
		"POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/merge-patch+json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", // no body, no type needed
	} {
		res := rawRequest(t, addr, req)
		if res.StatusCode != http.StatusCreated {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("%q: status %d, body %s; want 201", req, res.StatusCode, b)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	addr := startEdge(t)
	tests := []struct {
		name, req    string
		cacheControl string
	}{
		{"anonymous", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n", ""},
		{"with credentials", "GET /api/v1/things/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nOrigin: https://evil.example\r\n\r\n", "no-store"},
		{"a preflight", "OPTIONS /api/v1/things HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n", ""},
		{"not found", "GET /nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n", "no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := rawRequest(t, addr, tt.req)
			for _, kv := range securityHeaders {
				if got := res.Header.Get(kv[0]); got != kv[1] {
					t.Errorf("%s = %q, want %q", kv[0], got, kv[1])
				}
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cacheControl)
			}
			for k := range res.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s sent: CORS must stay closed", k)
				}
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/": true, "/api/v1/things": true, "/api/v1/things/": true, "/a.b/c..d": true,
		"": false, "//": false, "/a//b": false, "/a/./b": false, "/a/../b": false, "/a/..": false, "/.": false, "a/b": false,
	} {
		if got := cleanPath(p); got != want {
			t.Errorf("cleanPath(%q) = %v, want %v", p, got, want)
		}
	}
}
