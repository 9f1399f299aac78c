package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fintech-banking/bank/api"
)

// The end-to-end tests check every answer they get against api/openapi.yaml
// with kin-openapi's validator: its status is one the operation lists, and
// its headers and body are what the document says for that status. A test
// whose answer breaks the document fails, whatever it was testing.

// document is api/openapi.yaml, loaded and validated once per test binary,
// and a router that finds the operation of a request.
var document struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func documentRouter(t testing.TB) routers.Router {
	t.Helper()
	document.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err == nil {
			err = doc.Validate(context.Background())
		}
		if err != nil {
			document.err = fmt.Errorf("api/openapi.yaml: %w", err)
			return
		}
		// Any host: the tests' servers listen on 127.0.0.1 at a port of
		// their own, the document names localhost:8080.
		doc.Servers = nil
		document.doc = doc
		document.router, document.err = gorillamux.NewRouter(doc)
	})
	if document.err != nil {
		t.Fatal(document.err)
	}
	return document.router
}

// checkedHTTP returns an HTTP client whose answers from the API are checked
// against the document: one that breaks it fails t. next is the transport
// (nil: a new one).
func checkedHTTP(t testing.TB, timeout time.Duration, next http.RoundTripper) *http.Client {
	t.Helper()
	if next == nil {
		next = &http.Transport{MaxIdleConnsPerHost: 64}
	}
	return &http.Client{Timeout: timeout, Transport: &checkedTransport{t: t, next: next, router: documentRouter(t)}}
}

// checkedTransport checks each answer of the API (paths under /api/ and
// /actuator/) against the document. The pages, served at other paths, are
// not in it.
type checkedTransport struct {
	t      testing.TB
	next   http.RoundTripper
	router routers.Router

	mu       sync.Mutex
	reported map[string]bool // one failure per operation, status and fault is enough
}

func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/") && !strings.HasPrefix(req.URL.Path, "/actuator/") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the caller sees the short body and fails on it
	}
	if fault := c.check(req, resp, body); fault != "" {
		c.report(req, resp, fault, body)
	}
	return resp, nil
}

// check returns what is wrong with resp as the answer to req, or "".
func (c *checkedTransport) check(req *http.Request, resp *http.Response, body []byte) string {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return "" // a path or method the API does not serve, answered so
		}
		return fmt.Sprintf("answered %d, but the document has no operation for it: %v", resp.StatusCode, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return err.Error()
	}
	return ""
}

func (c *checkedTransport) report(req *http.Request, resp *http.Response, fault string, body []byte) {
	key := fmt.Sprintf("%s %s %d %s", req.Method, req.URL.Path, resp.StatusCode, fault)
	c.mu.Lock()
	seen := c.reported[key]
	if c.reported == nil {
		c.reported = map[string]bool{}
	}
	c.reported[key] = true
	c.mu.Unlock()
	if seen {
		return
	}
	if len(body) > 500 {
		body = append(body[:500:500], "…"...)
	}
	c.t.Errorf("%s %s answered %d, which breaks api/openapi.yaml: %s\n%s", req.Method, req.URL.RequestURI(), resp.StatusCode, fault, body)
}

// faultLog is a testing.TB that keeps what Errorf reports.
type faultLog struct {
	testing.TB
	mu     sync.Mutex
	faults []string
}

func (l *faultLog) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, fmt.Sprintf(format, args...))
}

// TestCheckedTransport: answers that break the document are reported, ones
// that keep it are not.
func TestCheckedTransport(t *testing.T) {
	t.Parallel()
	answers := map[string]struct {
		status int
		body   string
		bad    bool
	}{
		"/api/v1/accounts?limit=1":     {200, `{"data":[],"next_cursor":""}`, false},
		"/api/v1/accounts?limit=2":     {200, `{"data":"not a list"}`, true},
		"/api/v1/accounts?limit=3":     {418, `{"code":"teapot","message":"x"}`, true},
		"/api/v1/accounts?limit=4":     {500, `not JSON`, true},
		"/api/v1/accounts/a1/freezing": {404, `{"code":"not_found","message":"x"}`, false},
		"/api/v1/no-such-route":        {200, `{}`, true},
	}
	srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.RequestURI()]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	for uri, a := range answers {
		log := &faultLog{TB: t}
		hc := checkedHTTP(log, 10*time.Second, nil)
		resp, err := hc.Get("http://" + ln.Addr().String() + uri)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := len(log.faults) > 0; got != a.bad {
			t.Errorf("GET %s answered %d %s: reported %q, want a report: %v", uri, a.status, a.body, log.faults, a.bad)
		}
	}
}
