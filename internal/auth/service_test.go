package auth

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event/eventtest"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

const (
	email    = "ann@example.com"
	password = "correct horse battery staple"
)

func TestAuthFlow(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())

		res := s.register("  Ann@Example.COM ", password, " Ann Example ")
		if res.status != http.StatusCreated {
			t.Fatalf("register: status %d, body %s", res.status, res.body)
		}
		var u User
		res.decode(t, &u)
		wantUser := User{ID: u.ID, Email: email, Name: "Ann Example", Role: RoleCustomer,
			CreatedAt: s.clock.Now().UTC().Truncate(time.Microsecond)}
		if u.ID == "" || u != wantUser {
			t.Errorf("registered user = %+v, want %+v", u, wantUser)
		}
		var raw map[string]any
		res.decode(t, &raw)
		if raw["created_at"] != "2030-01-02T03:04:05.678901Z" {
			t.Errorf("created_at = %v, want RFC 3339 in UTC", raw["created_at"])
		}

		res = s.login("ANN@example.com", password)
		if res.status != http.StatusOK {
			t.Fatalf("login: status %d, body %s", res.status, res.body)
		}
		if got := res.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("login Cache-Control = %q, want no-store", got)
		}
		var tok Tokens
		res.decode(t, &tok)
		if tok.AccessToken == "" || len(tok.RefreshToken) != 43 || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 {
			t.Errorf("login tokens = %+v, want an access token, a 43-character refresh token, Bearer, 900", tok)
		}

		res = s.do("GET", "/api/v1/auth/me", "", tok.AccessToken)
		if res.status != http.StatusOK {
			t.Fatalf("me: status %d, body %s", res.status, res.body)
		}
		var me User
		res.decode(t, &me)
		if me != wantUser {
			t.Errorf("me = %+v, want %+v", me, wantUser)
		}
		wantError(t, s.do("GET", "/api/v1/auth/me", "", ""), http.StatusUnauthorized, "unauthenticated")

		res = s.refresh(tok.RefreshToken)
		if res.status != http.StatusOK {
			t.Fatalf("refresh: status %d, body %s", res.status, res.body)
		}
		var tok2 Tokens
		res.decode(t, &tok2)
		if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == "" || tok2.TokenType != "Bearer" || tok2.ExpiresIn != 900 {
			t.Errorf("refreshed tokens = %+v, want a new refresh token", tok2)
		}
		if res := s.do("GET", "/api/v1/auth/me", "", tok2.AccessToken); res.status != http.StatusOK {
			t.Errorf("me with the refreshed access token: status %d", res.status)
		}

		// The database keeps only hashes of refresh tokens.
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE token_hash = $1 OR token_hash = $2`,
			tok.RefreshToken, tok2.RefreshToken).Scan(&n); err != nil || n != 0 {
			t.Errorf("refresh tokens stored in clear: %d rows, %v", n, err)
		}

		if res := s.logout(tok2.RefreshToken); res.status != http.StatusNoContent || len(res.body) != 0 {
			t.Fatalf("logout: status %d, body %s; want 204 and no body", res.status, res.body)
		}
		if e := wantError(t, s.refresh(tok2.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token"); !strings.Contains(e.Message, "was revoked") {
			t.Errorf("refresh after logout: message %q, want it to say the token was revoked", e.Message)
		}
		// Logout is idempotent, and says nothing about tokens it does not know.
		if res := s.logout(tok2.RefreshToken); res.status != http.StatusNoContent {
			t.Errorf("second logout: status %d, want 204", res.status)
		}
		if res := s.logout("never-issued"); res.status != http.StatusNoContent {
			t.Errorf("logout of an unknown token: status %d, want 204", res.status)
		}
		// Access tokens are not revocable: the one of the session still works
		// until it expires.
		if res := s.do("GET", "/api/v1/auth/me", "", tok2.AccessToken); res.status != http.StatusOK {
			t.Errorf("me after logout: status %d, want 200 until the access token expires", res.status)
		}
		s.clock.Advance(AccessTokenTTL)
		wantError(t, s.do("GET", "/api/v1/auth/me", "", tok2.AccessToken), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestRegisterDuplicateEmail(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		for _, e := range []string{email, "ANN@EXAMPLE.COM", " ann@example.com"} {
			e := wantError(t, s.register(e, "another password", "Another Ann"), http.StatusConflict, "email_taken")
			if e.Details["email"] == "" {
				t.Errorf("details %v do not name the email field", e.Details)
			}
		}
		// The first account is untouched.
		s.mustLogin(email, password)
	})
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		long := func(n int) string { return strings.Repeat("é", n) }
		tests := []struct {
			name       string
			body       map[string]any
			wantFields []string
		}{
			{"nothing", map[string]any{}, []string{"email", "password", "name"}},
			{"nulls", map[string]any{"email": nil, "password": nil, "name": nil}, []string{"email", "password", "name"}},
			{"email without at", map[string]any{"email": "ann.example.com", "password": password, "name": "Ann"}, []string{"email"}},
			{"email with display name", map[string]any{"email": "Ann <ann@example.com>", "password": password, "name": "Ann"}, []string{"email"}},
			{"email with space", map[string]any{"email": "ann smith@example.com", "password": password, "name": "Ann"}, []string{"email"}},
			{"email too long", map[string]any{"email": strings.Repeat("a", 250) + "@x.io", "password": password, "name": "Ann"}, []string{"email"}},
			{"password of 7", map[string]any{"email": email, "password": "1234567", "name": "Ann"}, []string{"password"}},
			{"password of 129", map[string]any{"email": email, "password": long(129), "name": "Ann"}, []string{"password"}},
			{"blank name", map[string]any{"email": email, "password": password, "name": "   "}, []string{"name"}},
			{"name of 201", map[string]any{"email": email, "password": password, "name": long(201)}, []string{"name"}},
			{"name with control", map[string]any{"email": email, "password": password, "name": "Ann\x00"}, []string{"name"}},
			{"all wrong", map[string]any{"email": "x", "password": "short", "name": ""}, []string{"email", "password", "name"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := s.do("POST", "/api/v1/auth/register", jsonBody(t, tt.body), "")
				e := wantError(t, res, http.StatusBadRequest, "invalid_request")
				for _, f := range tt.wantFields {
					if e.Details[f] == "" || !strings.Contains(e.Message, f+": ") {
						t.Errorf("error %+v does not name field %s", e, f)
					}
				}
				if len(e.Details) != len(tt.wantFields) {
					t.Errorf("details %v, want exactly %v", e.Details, tt.wantFields)
				}
			})
		}
		// The limits themselves are allowed, counted in characters.
		for _, ok := range []map[string]any{
			{"email": "a@b.co", "password": long(8), "name": "A"},
			{"email": "z@b.co", "password": long(128), "name": long(200)},
		} {
			if res := s.do("POST", "/api/v1/auth/register", jsonBody(t, ok), ""); res.status != http.StatusCreated {
				t.Errorf("register %v: status %d, body %s; want 201", ok["email"], res.status, res.body)
			}
		}
	})
}

func TestBadJSON(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		tests := []struct {
			name      string
			path      string
			body      string
			wantCode  string
			wantField string // the field the details must name, if any
		}{
			{"register malformed", "/api/v1/auth/register", `{"email":`, "invalid_json", ""},
			{"register not JSON", "/api/v1/auth/register", `email=a@b.c`, "invalid_json", ""},
			{"register unknown field", "/api/v1/auth/register", `{"email":"a@b.co","password":"12345678","name":"A","role":"admin"}`, "unknown_field", "role"},
			{"register trailing data", "/api/v1/auth/register", `{"email":"a@b.co","password":"12345678","name":"A"} {}`, "invalid_json", ""},
			{"register trailing garbage", "/api/v1/auth/register", `{"email":"a@b.co","password":"12345678","name":"A"}x`, "invalid_json", ""},
			{"register email a number", "/api/v1/auth/register", `{"email":1,"password":"12345678","name":"A"}`, "invalid_request", "email"},
			{"register password an array", "/api/v1/auth/register", `{"email":"a@b.co","password":["x"],"name":"A"}`, "invalid_request", "password"},
			{"register name an object", "/api/v1/auth/register", `{"email":"a@b.co","password":"12345678","name":{}}`, "invalid_request", "name"},
			{"register empty body", "/api/v1/auth/register", ``, "invalid_json", ""},
			{"register array", "/api/v1/auth/register", `[]`, "invalid_json", ""},
			{"register string", "/api/v1/auth/register", `"hello"`, "invalid_json", ""},
			{"register null", "/api/v1/auth/register", `null`, "invalid_json", ""},
			{"register oversize", "/api/v1/auth/register", `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, "body_too_large", ""},
			{"login malformed", "/api/v1/auth/login", `{"email":"a@b.co",`, "invalid_json", ""},
			{"login unknown field", "/api/v1/auth/login", `{"email":"a@b.co","password":"x","otp":"1"}`, "unknown_field", "otp"},
			{"login trailing data", "/api/v1/auth/login", `{"email":"a@b.co","password":"x"}{}`, "invalid_json", ""},
			{"login password a number", "/api/v1/auth/login", `{"email":"a@b.co","password":12345678}`, "invalid_request", "password"},
			{"login email a bool", "/api/v1/auth/login", `{"email":true,"password":"x"}`, "invalid_request", "email"},
			{"login empty body", "/api/v1/auth/login", ``, "invalid_json", ""},
			{"login empty object", "/api/v1/auth/login", `{}`, "invalid_request", "password"},
			{"login no password", "/api/v1/auth/login", `{"email":"a@b.co"}`, "invalid_request", "password"},
			{"login blank email", "/api/v1/auth/login", `{"email":"  ","password":"x"}`, "invalid_request", "email"},
			{"login oversize", "/api/v1/auth/login", `{"password":"` + strings.Repeat("a", 1<<20) + `"}`, "body_too_large", ""},
			{"refresh malformed", "/api/v1/auth/refresh", `{"refresh_token"}`, "invalid_json", ""},
			{"refresh unknown field", "/api/v1/auth/refresh", `{"refresh_token":"x","access_token":"y"}`, "unknown_field", "access_token"},
			{"refresh trailing data", "/api/v1/auth/refresh", `{"refresh_token":"x"}[]`, "invalid_json", ""},
			{"refresh token a number", "/api/v1/auth/refresh", `{"refresh_token":42}`, "invalid_request", "refresh_token"},
			{"refresh empty body", "/api/v1/auth/refresh", ``, "invalid_json", ""},
			{"refresh missing token", "/api/v1/auth/refresh", `{}`, "invalid_request", "refresh_token"},
			{"refresh oversize", "/api/v1/auth/refresh", `{"refresh_token":"` + strings.Repeat("a", 1<<20) + `"}`, "body_too_large", ""},
			{"logout malformed", "/api/v1/auth/logout", `{`, "invalid_json", ""},
			{"logout unknown field", "/api/v1/auth/logout", `{"refresh_token":"x","all":true}`, "unknown_field", "all"},
			{"logout trailing data", "/api/v1/auth/logout", `{"refresh_token":"x"} 1`, "invalid_json", ""},
			{"logout token a number", "/api/v1/auth/logout", `{"refresh_token":1.5}`, "invalid_request", "refresh_token"},
			{"logout empty body", "/api/v1/auth/logout", ``, "invalid_json", ""},
			{"logout missing token", "/api/v1/auth/logout", `{}`, "invalid_request", "refresh_token"},
			{"logout oversize", "/api/v1/auth/logout", `{"refresh_token":"` + strings.Repeat("a", 1<<20) + `"}`, "body_too_large", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := wantError(t, s.do("POST", tt.path, tt.body, ""), http.StatusBadRequest, tt.wantCode)
				if e.Message == "" {
					t.Errorf("error without a message")
				}
				if tt.wantField != "" && e.Details[tt.wantField] == "" {
					t.Errorf("details %v do not name field %q", e.Details, tt.wantField)
				}
			})
		}
	})
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		first := s.mustLogin(email, password)
		other := s.mustLogin(email, password) // another session: another family

		res := s.refresh(first.RefreshToken)
		if res.status != http.StatusOK {
			t.Fatalf("refresh: status %d, body %s", res.status, res.body)
		}
		var second Tokens
		res.decode(t, &second)

		// The spent token comes back: stolen. Its whole family goes.
		wantError(t, s.refresh(first.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantError(t, s.refresh(second.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		var live int
		if err := db.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE family_id IN
			(SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL`,
			hashToken(first.RefreshToken)).Scan(&live); err != nil {
			t.Fatal(err)
		}
		if live != 0 {
			t.Errorf("%d tokens of the reused family are not revoked", live)
		}

		// The other session is untouched.
		if res := s.refresh(other.RefreshToken); res.status != http.StatusOK {
			t.Errorf("refresh of another family: status %d, body %s", res.status, res.body)
		}
	})
}

func TestLogoutRevokesFamily(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		first := s.mustLogin(email, password)
		other := s.mustLogin(email, password)
		res := s.refresh(first.RefreshToken)
		if res.status != http.StatusOK {
			t.Fatalf("refresh: status %d, body %s", res.status, res.body)
		}
		var second Tokens
		res.decode(t, &second)

		// Any token of the session ends it, the newest included.
		if res := s.logout(first.RefreshToken); res.status != http.StatusNoContent {
			t.Fatalf("logout: status %d, body %s", res.status, res.body)
		}
		wantError(t, s.refresh(second.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		// Other sessions go on.
		if res := s.refresh(other.RefreshToken); res.status != http.StatusOK {
			t.Errorf("refresh of another session after logout: status %d, body %s", res.status, res.body)
		}
	})
}

func TestRefreshConcurrentReuse(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		tok := s.mustLogin(email, password)
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ok      []Tokens
			refused int
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.svc.Refresh(context.Background(), tok.RefreshToken)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok = append(ok, got)
				case bank.ErrorKind(err) == bank.KindUnauthenticated:
					refused++
				default:
					t.Errorf("Refresh: %v", err)
				}
			}()
		}
		wg.Wait()
		if len(ok) != 1 || refused != n-1 {
			t.Fatalf("%d refreshes succeeded and %d were refused, want 1 and %d", len(ok), refused, n-1)
		}
		// The others were reuses, so the winner's new token is revoked too.
		wantError(t, s.refresh(ok[0].RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
	})
}

func TestRefreshExpires(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		a := s.mustLogin(email, password)
		b := s.mustLogin(email, password)
		s.clock.Advance(RefreshTokenTTL - time.Second)
		if res := s.refresh(a.RefreshToken); res.status != http.StatusOK {
			t.Errorf("refresh a second before expiry: status %d, body %s", res.status, res.body)
		}
		s.clock.Advance(time.Second)
		wantError(t, s.refresh(b.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
	})
}

// TestLoginThrottle: failed logins slow down further attempts for the same
// email from the same address, with growing delays, and never lock the
// account; an unknown email is throttled exactly like a known one.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		for _, who := range []string{email, "nobody@example.com"} {
			t.Run(who, func(t *testing.T) {
				// A success ends the run: 5 failures, a success, 5 failures
				// are all answered at once.
				if who == email {
					for range 5 {
						wantError(t, s.login(who, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
					}
					s.mustLogin(who, password)
				}
				for range 5 {
					wantError(t, s.login(who, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
				}
				// Then each attempt waits: 1 s after the 6th, 2 s after the 7th, …
				for i, wait := range []int{1, 2, 4, 8} {
					wantError(t, s.login(who, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
					for _, pw := range []string{"wrong password", password} {
						res := s.login(who, pw)
						wantError(t, res, http.StatusTooManyRequests, "rate_limited")
						if got := res.header.Get("Retry-After"); got != strconv.Itoa(wait) {
							t.Errorf("attempt %d: Retry-After = %q, want %d", 7+i, got, wait)
						}
					}
					s.clock.Advance(time.Duration(wait) * time.Second)
				}
			})
		}
		// The account is not locked: the right password works once the delay
		// has passed, and never gets 423.
		s.mustLogin(email, password)
		// Another address is not slowed by this one's failures.
		if _, err := s.svc.Login(context.Background(), email, password, "198.51.100.7"); err != nil {
			t.Errorf("login from another address: %v", err)
		}
		if n := countOutbox(t, db); n != 0 {
			t.Errorf("%d outbox events, want none: failed logins lock nothing", n)
		}
	})
}

// TestLoginThrottleAcrossAddresses: failures for one email spread over many
// addresses are capped too, for emails with and without accounts alike.
func TestLoginThrottleAcrossAddresses(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.FreeAccountFailures = 12
		s := newServer(t, db, cfg)
		s.mustRegister(email, password, "Ann")
		ctx := context.Background()
		for _, who := range []string{email, "nobody@example.com"} {
			// 12 failures from 4 addresses, 3 each: none is slowed.
			for i := range 12 {
				_, err := s.svc.Login(ctx, who, "wrong password", fmt.Sprintf("192.0.2.%d", i%4))
				if bank.ErrorCode(err) != "invalid_credentials" {
					t.Fatalf("%s, failure %d: %v, want invalid_credentials", who, i+1, err)
				}
			}
			// The 13th fails and slows every address, new ones included.
			if _, err := s.svc.Login(ctx, who, "wrong password", "198.51.100.1"); bank.ErrorCode(err) != "invalid_credentials" {
				t.Fatalf("%s, failure 13: %v", who, err)
			}
			_, err := s.svc.Login(ctx, who, password, "203.0.113.9")
			if d, ok := retryAfter(err); bank.ErrorCode(err) != "rate_limited" || !ok || d != time.Second {
				t.Errorf("%s from a new address after 13 failures: %v (retry after %v), want rate_limited for 1s", who, err, d)
			}
			s.clock.Advance(time.Second)
		}
		// The owner gets in once the delay has passed, and that ends the run.
		if _, err := s.svc.Login(ctx, email, password, "203.0.113.9"); err != nil {
			t.Fatalf("login after the delay: %v", err)
		}
		for i := range 4 {
			if _, err := s.svc.Login(ctx, email, "wrong password", fmt.Sprintf("192.0.2.%d", 100+i)); bank.ErrorCode(err) != "invalid_credentials" {
				t.Errorf("failure %d after a success: %v, want invalid_credentials", i+1, err)
			}
		}
	})
}

// TestNoRemoteLockout: failures for an email from many addresses slow every
// new address, but not the addresses its owner has logged in from (an IPv6
// one by its /64): nobody can keep a user out from afar. The owner's own
// failures from a known address are still slowed.
func TestNoRemoteLockout(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.FreeAccountFailures = 12
		s := newServer(t, db, cfg)
		s.mustRegister(email, password, "Ann")
		ctx := context.Background()
		const home, phone = "203.0.113.9", "2001:db8:7::1"
		for _, ip := range []string{home, phone} {
			if _, err := s.svc.Login(ctx, email, password, ip); err != nil {
				t.Fatalf("first login from %s: %v", ip, err)
			}
		}
		// An attacker fails for Ann from 40 addresses, and keeps at it
		// whenever the delay ends.
		for i := range 40 {
			_, err := s.svc.Login(ctx, email, "wrong password", fmt.Sprintf("192.0.2.%d", i))
			if c := bank.ErrorCode(err); c != "invalid_credentials" && c != "rate_limited" {
				t.Fatalf("attacker's attempt %d: %v", i, err)
			}
			s.clock.Advance(time.Second)
		}
		if _, err := s.svc.Login(ctx, email, "wrong password", "198.51.100.1"); bank.ErrorCode(err) != "rate_limited" {
			t.Fatalf("a new address after 40 failures: %v, want rate_limited", err)
		}
		for _, ip := range []string{home, phone, "2001:db8:7::abcd"} {
			if _, err := s.svc.Login(ctx, email, password, ip); err != nil {
				t.Errorf("Ann from %s, where she logged in before, during the attack: %v; want in", ip, err)
			}
		}
		if _, err := s.svc.Login(ctx, email, password, "198.51.100.2"); bank.ErrorCode(err) != "rate_limited" {
			t.Errorf("Ann from a new address during the attack: %v, want rate_limited (the cap still holds there)", err)
		}
		// Her own failures from home are still slowed.
		for i := range cfg.FreeLoginFailures + 1 {
			if _, err := s.svc.Login(ctx, email, "wrong password", home); bank.ErrorCode(err) != "invalid_credentials" {
				t.Fatalf("failure %d from home: %v", i+1, err)
			}
		}
		if _, err := s.svc.Login(ctx, email, password, home); bank.ErrorCode(err) != "rate_limited" {
			t.Errorf("home after %d failures of its own: %v, want rate_limited", cfg.FreeLoginFailures+1, err)
		}
		// Known addresses are forgotten after 90 days.
		s.clock.Advance(knownAddressFor + time.Hour)
		if err := s.svc.sweepThrottles(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_known_addresses`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d known addresses after 90 days, %v; want them swept", n, err)
		}
	})
}

func TestLoginDelays(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	var got []time.Duration
	for n := 1; n <= 17; n++ {
		got = append(got, c.loginDelay(n, c.FreeLoginFailures))
	}
	want := []time.Duration{0, 0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second,
		512 * time.Second, 15 * time.Minute, 15 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays after 1..17 attempts (-want +got):\n%s", diff)
	}
	if d := c.loginDelay(1<<30, c.FreeLoginFailures); d != 15*time.Minute {
		t.Errorf("delay after 2^30 attempts = %v, want the 15m cap", d)
	}
}

func countOutbox(t *testing.T, db *store.DB) int {
	t.Helper()
	return len(eventtest.Written(t, db))
}

// TestLoginUnknownEmail: an unknown email and a wrong password get the same
// answer, and both spend one password hash, so neither the body nor the time
// tells which emails have accounts.
func TestLoginUnknownEmail(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		var hashes int
		verify := s.svc.verify
		s.svc.verify = func(encoded, password string) (bool, error) {
			hashes++
			return verify(encoded, password)
		}
		unknown := s.login("nobody@example.com", password)
		wantError(t, unknown, http.StatusUnauthorized, "invalid_credentials")
		if hashes != 1 {
			t.Errorf("login of an unknown email spent %d hashes, want 1", hashes)
		}
		wrong := s.login(email, "wrong password")
		if hashes != 2 {
			t.Errorf("login with a wrong password spent %d hashes, want 1", hashes-1)
		}
		if string(unknown.body) != string(wrong.body) || unknown.status != wrong.status {
			t.Errorf("unknown email answered %d %s, wrong password %d %s; want the same",
				unknown.status, unknown.body, wrong.status, wrong.body)
		}
	})
}

// TestHashConcurrencyBounded: a burst of logins must not hash all at once,
// each hash holding 19 MiB.
func TestHashConcurrencyBounded(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.MaxConcurrentHashes = 2
		s := newServer(t, db, cfg)
		s.mustRegister(email, password, "Ann")
		var inFlight, most atomic.Int32
		// Each hash holds its slot until the test lets it go, one at a
		// time: whoever got past the bound is still in here when it looks.
		release := make(chan struct{})
		verify := s.svc.verify
		s.svc.verify = func(encoded, pw string) (bool, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			return verify(encoded, pw)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := email
				if i%2 == 1 {
					who = "nobody@example.com" // the dummy hash takes a slot too
				}
				_, _ = s.svc.Login(context.Background(), who, password, fmt.Sprintf("192.0.2.%d", i))
			}()
		}
		// Both slots taken before any is let go: the bound is reached.
		poll.Until(t, 30*time.Second, "two hashes at once", func() bool { return inFlight.Load() >= 2 })
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	releasing:
		for {
			select {
			case <-done:
				break releasing
			case release <- struct{}{}:
			}
		}
		s.svc.verify = verify // the gate is for the burst alone
		if got := most.Load(); got != 2 {
			t.Errorf("at most %d hashes ran at once, want 2", got)
		}

		// With every slot taken until the caller gives up: 503, not a hang.
		s.svc.hashes.slots <- struct{}{}
		s.svc.hashes.slots <- struct{}{}
		defer func() { <-s.svc.hashes.slots; <-s.svc.hashes.slots }()
		// Long enough for the throttle's write before the hash on a busy
		// machine: the wait for a slot is what must end it.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := s.svc.Login(ctx, email, password, "192.0.2.1")
		if bank.ErrorKind(err) != bank.KindUnavailable || bank.ErrorCode(err) != "busy" {
			t.Errorf("Login with no free hash slot = %v, want unavailable (busy)", err)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.LoginRate, cfg.LoginBurst = 0.5, 3
		s := newServer(t, db, cfg)
		s.mustRegister(email, password, "Ann")
		s.mustLogin(email, password)
		wantError(t, s.login(email, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
		s.mustLogin(email, password)
		// The burst is spent; even the right password waits.
		res := s.login(email, password)
		wantError(t, res, http.StatusTooManyRequests, "rate_limited")
		if got := res.header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want 2 (one token at 0.5/s)", got)
		}
		// Registration and refresh are not limited by the login bucket.
		s.mustRegister("bob@example.com", password, "Bob")
		s.clock.Advance(2 * time.Second)
		s.mustLogin(email, password)
		wantError(t, s.login(email, password), http.StatusTooManyRequests, "rate_limited")
	})
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		ctx := context.Background()
		for _, role := range []Role{RoleAdmin, RoleOperator, RoleCustomer} {
			addr := string(role) + "@bank.example"
			u, err := s.svc.CreateUser(ctx, addr, "Staff "+string(role), password, role)
			if err != nil {
				t.Fatalf("CreateUser(%s): %v", role, err)
			}
			if u.Role != role || u.Email != addr {
				t.Errorf("CreateUser = %+v, want role %s", u, role)
			}
			tok := s.mustLogin(addr, password)
			p, err := NewVerifier(s.keys, s.clock.Now).Verify(tok.AccessToken)
			if err != nil || p != (Principal{UserID: u.ID, Role: role}) {
				t.Errorf("access token names %+v (%v), want %s as %s", p, err, u.ID, role)
			}
			var me User
			res := s.do("GET", "/api/v1/auth/me", "", tok.AccessToken)
			res.decode(t, &me)
			if me.Role != role {
				t.Errorf("me.role = %s, want %s", me.Role, role)
			}
		}
		_, err := s.svc.CreateUser(ctx, "x@bank.example", "X", password, Role("root"))
		var e *bank.Error
		if bank.ErrorKind(err) != bank.KindInvalid || !errorsAs(err, &e) || e.Details["role"] == "" {
			t.Errorf("CreateUser with role root = %v, want an invalid role", err)
		}
		_, err = s.svc.CreateUser(ctx, "ADMIN@bank.example", "X", password, RoleAdmin)
		if bank.ErrorCode(err) != "email_taken" {
			t.Errorf("CreateUser with a taken email = %v, want email_taken", err)
		}
	})
}

func TestMeOfMissingUser(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		tok, err := s.keys.IssueAccessToken(Principal{UserID: "deleted-user", Role: RoleCustomer}, s.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, s.do("GET", "/api/v1/auth/me", "", tok), http.StatusUnauthorized, "unauthenticated")
	})
}

// BenchmarkLogin measures a whole login with the production argon2id
// parameters on SQLite: the hash dominates.
func BenchmarkLogin(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	cfg := DefaultConfig()
	cfg.LoginBurst = 1 << 30
	svc, err := NewService(db, newTestKeyring(b, testKey1), cfg, time.Now, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Register(ctx, email, password, "Ann", "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Login(ctx, email, password, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRegisterRateLimit: registrations are limited per client address, as
// logins are, and a refusal creates nothing.
func TestRegisterRateLimit(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.RegisterRate, cfg.RegisterBurst = 0.1, 3
		s := newServer(t, db, cfg)
		ctx := context.Background()
		for i := range 3 {
			if _, err := s.svc.Register(ctx, fmt.Sprintf("u%d@example.com", i), password, "U", "192.0.2.1"); err != nil {
				t.Fatalf("registration %d: %v", i, err)
			}
		}
		res := s.register("u3@example.com", password, "U") // from the test server's 127.0.0.1: its own bucket
		if res.status != http.StatusCreated {
			t.Errorf("registration from another address: status %d, body %s", res.status, res.body)
		}
		_, err := s.svc.Register(ctx, "u4@example.com", password, "U", "192.0.2.1")
		if bank.ErrorCode(err) != "rate_limited" {
			t.Fatalf("4th registration from one address = %v, want rate_limited", err)
		}
		if d, ok := retryAfter(err); !ok || d != 10*time.Second {
			t.Errorf("retry after %v, want 10s (one registration per 10 s)", d)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM users WHERE email = 'u4@example.com'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("refused registration stored %d users (%v)", n, err)
		}
		s.clock.Advance(10 * time.Second)
		if _, err := s.svc.Register(ctx, "u4@example.com", password, "U", "192.0.2.1"); err != nil {
			t.Errorf("registration after the wait: %v", err)
		}
	})
}

// TestHashPool: registrations never take more than half the hash slots, so
// logins always get one; past the queue's bound the answer is 503 at once.
func TestHashPool(t *testing.T) {
	t.Parallel()
	p := newHashPool(4, 2)
	ctx := context.Background()
	release := make(chan struct{})
	var running, most atomic.Int32
	work := func() error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		return nil
	}
	var wg sync.WaitGroup
	for range 4 { // 4 registrations: 2 hash, 2 queue
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.do(ctx, true, work) }()
	}
	waitFor(t, func() bool { return running.Load() == 2 && p.waiting.Load() == 4 })
	// A login still gets a slot while registrations queue.
	login := make(chan error, 1)
	go func() { login <- p.do(ctx, false, func() error { return nil }) }()
	if err := <-login; err != nil {
		t.Errorf("login while registrations queue: %v", err)
	}
	// 4 waiting or hashing of a bound of 4 slots + 2 queued: two more fit,
	// the third is refused at once.
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.do(ctx, false, work) }()
	}
	waitFor(t, func() bool { return p.waiting.Load() == 6 })
	err := p.do(ctx, false, func() error { t.Error("ran past the queue's bound"); return nil })
	if bank.ErrorKind(err) != bank.KindUnavailable || bank.ErrorCode(err) != "busy" {
		t.Errorf("past the bound: %v, want unavailable (busy)", err)
	}
	if d, ok := retryAfter(err); !ok || d != time.Second {
		t.Errorf("past the bound: retry after %v, want 1s", d)
	}
	close(release)
	wg.Wait()
	if got := most.Load(); got != 4 {
		t.Errorf("at most %d hashes ran at once, want 4 (2 registrations, then 2 logins)", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, 30*time.Second, "the condition", cond)
}
