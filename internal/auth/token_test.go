package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fintech-banking/bank/internal/bank"
)

// goodClaims are the claims IssueAccessToken makes, for tests to spoil.
func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  Issuer,
		"aud":  []string{Audience},
		"sub":  "user-1",
		"role": "customer",
		"exp":  now.Add(AccessTokenTTL).Unix(),
		"iat":  now.Unix(),
		"jti":  "id-1",
	}
}

// sign signs claims with method and key under kid ("" for no kid header).
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAcceptsIssuedToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKeyring(t, testKey1)
	for _, want := range []Principal{{UserID: "u-1", Role: RoleCustomer}, {UserID: "u-2", Role: RoleOperator}, {UserID: "u-3", Role: RoleAdmin}} {
		tok, err := k.IssueAccessToken(want, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		// Claims as issued: header kid, iss, aud, sub, role, exp 15 minutes on, iat, jti.
		parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		c := parsed.Claims.(jwt.MapClaims)
		if parsed.Header["kid"] != kidOf(testKey1) || parsed.Header["alg"] != "HS256" {
			t.Errorf("header = %v, want alg HS256 and kid %s", parsed.Header, kidOf(testKey1))
		}
		exp, _ := c.GetExpirationTime()
		iat, _ := c.GetIssuedAt()
		if c["iss"] != Issuer || c["sub"] != want.UserID || c["role"] != string(want.Role) || c["jti"] == "" ||
			exp == nil || iat == nil || exp.Sub(iat.Time) != 15*time.Minute {
			t.Errorf("claims = %v", c)
		}
		got, err := NewVerifier(k, clock.Now).Verify(tok)
		if err != nil {
			t.Fatalf("Verify(issued token) = %v", err)
		}
		if got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	k := newTestKeyring(t, testKey1)
	kid := kidOf(testKey1)
	key := []byte(testKey1)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(now)
		change(c)
		return c
	}
	valid := sign(t, jwt.SigningMethodHS256, key, kid, goodClaims(now))
	parts := strings.Split(valid, ".")
	adminPayload, _ := json.Marshal(with(func(c jwt.MapClaims) { c["role"] = "admin" }))

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, goodClaims(now))},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, key, kid, goodClaims(now))},
		{"HS384 with the right key", sign(t, jwt.SigningMethodHS384, key, kid, goodClaims(now))},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, kid, goodClaims(now))},
		{"another key under the right kid", sign(t, jwt.SigningMethodHS256, []byte(testKey2), kid, goodClaims(now))},
		{"another key under its own kid", sign(t, jwt.SigningMethodHS256, []byte(testKey2), kidOf(testKey2), goodClaims(now))},
		{"unknown kid", sign(t, jwt.SigningMethodHS256, key, "0000000000000000", goodClaims(now))},
		{"no kid", sign(t, jwt.SigningMethodHS256, key, "", goodClaims(now))},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["aud"] = "another-api" }))},
		{"no audience", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{"no issuer", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"expired", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }))},
		{"expiring now", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["exp"] = now.Unix() }))},
		{"no expiry", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"expiry not a number", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }))},
		{"not valid yet", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }))},
		{"no subject", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"unknown role", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { c["role"] = "root" }))},
		{"no role", sign(t, jwt.SigningMethodHS256, key, kid, with(func(c jwt.MapClaims) { delete(c, "role") }))},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(adminPayload) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"garbage", "garbage"},
		{"three garbage segments", "a.b.c"},
		{"empty", ""},
	}
	v := NewVerifier(k, clock.Now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token as %+v", p)
			}
			if got := bank.ErrorKind(err); got != bank.KindUnauthenticated {
				t.Errorf("error kind %v, want unauthenticated (%v)", got, err)
			}
		})
	}
	// The spoiled tokens are refused for what was spoiled, not by accident:
	// the unspoiled one passes.
	if _, err := v.Verify(valid); err != nil {
		t.Fatalf("Verify(valid) = %v", err)
	}
}

func TestVerifyExpiresAfter15Minutes(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKeyring(t, testKey1)
	v := NewVerifier(k, clock.Now)
	tok, err := k.IssueAccessToken(Principal{UserID: "u", Role: RoleCustomer}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(15*time.Minute - time.Second)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("token refused before its expiry: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := v.Verify(tok); err == nil {
		t.Fatalf("token accepted 15 minutes after it was issued")
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKeyring(t, testKey1)
	want := Principal{UserID: "u-9", Role: RoleOperator}
	tok, err := k.IssueAccessToken(want, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := Middleware(NewVerifier(k, clock.Now), discardLogger())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			t.Error("handler called without a principal")
		}
		if p != want {
			t.Errorf("principal %+v, want %+v", p, want)
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"bearer", "Bearer " + tok, http.StatusTeapot},
		{"scheme in lower case", "bearer " + tok, http.StatusTeapot},
		{"no header", "", http.StatusUnauthorized},
		{"basic", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"bearer without token", "Bearer ", http.StatusUnauthorized},
		{"token without scheme", tok, http.StatusUnauthorized},
		{"bad token", "Bearer " + tok + "x", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/anything", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "unauthenticated" {
				t.Errorf("body %s, want error code unauthenticated", w.Body)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}
