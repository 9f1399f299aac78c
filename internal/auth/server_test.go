package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/store"
)

// server is an auth-service on a test HTTP server, wired as cmd wires it.
type server struct {
	t     *testing.T
	url   string
	db    *store.DB
	clock *fakeClock
	keys  *Keyring
	svc   *Service
	// states is the user state cache of the server's verifier.
	states *UserStates
}

func newServer(t *testing.T, db *store.DB, cfg Config) *server {
	t.Helper()
	clock := newFakeClock()
	keys := newTestKeyring(t, testKey1)
	log := discardLogger()
	svc, err := NewService(db, keys, cfg, clock.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	states := NewUserStates(db, UserStateTTL, clock.Now)
	mux := http.NewServeMux()
	Routes(mux, log, svc.Notify(states), Middleware(NewVerifier(keys, clock.Now).CheckUsers(states, log), log))
	ts := httptest.NewServer(httpapi.Wrap(mux, log, nil))
	t.Cleanup(ts.Close)
	return &server{t: t, url: ts.URL, db: db, clock: clock, keys: keys, svc: svc, states: states}
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes an API error document; it fails the test if the body is
// not one.
func (r response) errorBody(t *testing.T) httpapi.ErrorDetail {
	t.Helper()
	var e httpapi.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("body %q is not an error document (%v)", r.body, err)
	}
	return e.Error
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request with body (JSON text, "" for none) and, when token is
// not "", a bearer token.
func (s *server) do(method, path, body, token string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func jsonBody(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func (s *server) register(email, password, name string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/auth/register", jsonBody(s.t, map[string]string{"email": email, "password": password, "name": name}), "")
}

func (s *server) login(email, password string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/auth/login", jsonBody(s.t, map[string]string{"email": email, "password": password}), "")
}

func (s *server) refresh(token string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/auth/refresh", jsonBody(s.t, map[string]string{"refresh_token": token}), "")
}

func (s *server) logout(token string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/auth/logout", jsonBody(s.t, map[string]string{"refresh_token": token}), "")
}

// mustLogin logs in and returns the tokens, failing the test unless the login
// succeeds.
func (s *server) mustLogin(email, password string) Tokens {
	s.t.Helper()
	res := s.login(email, password)
	if res.status != http.StatusOK {
		s.t.Fatalf("login %s: status %d, body %s", email, res.status, res.body)
	}
	var tok Tokens
	res.decode(s.t, &tok)
	return tok
}

func (s *server) mustRegister(email, password, name string) User {
	s.t.Helper()
	res := s.register(email, password, name)
	if res.status != http.StatusCreated {
		s.t.Fatalf("register %s: status %d, body %s", email, res.status, res.body)
	}
	var u User
	res.decode(s.t, &u)
	return u
}

// wantError fails the test unless res is an error document with status and code.
func wantError(t *testing.T, res response, status int, code string) httpapi.ErrorDetail {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d; body %s", res.status, status, res.body)
	}
	e := res.errorBody(t)
	if e.Code != code {
		t.Fatalf("code %q, want %q; body %s", e.Code, code, res.body)
	}
	return e
}
