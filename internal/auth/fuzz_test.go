package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fintech-banking/bank/internal/bank"
)

// FuzzVerify: any bearer token is refused as unauthenticated or names a
// principal; one that does carries an HS256 signature of the test key over
// its first two parts, checked here without the jwt library, and a known
// role. A token issued for a principal verifies to that principal.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	now := clock.Now()
	k := newTestKeyring(f, testKey1)
	issued, err := k.IssueAccessToken(Principal{UserID: "u-1", Role: RoleCustomer}, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(issued, "u-1", "customer")
	f.Add(issued[:len(issued)-2], "u-2", "admin")
	f.Add(issued+"=", "", "operator")
	parts := strings.Split(issued, ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))+"."+parts[1]+".", "u\x00", "root")
	f.Add(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u-1","role":"admin","exp":99999999999}`))+"."+parts[2], "\xff", "")
	f.Add("Bearer "+issued, strings.Repeat("u", 65), "Customer")
	f.Add("", "u-3", "customer")
	f.Add("a.b.c", "u-4", "customer")
	v := NewVerifier(k, clock.Now)
	f.Fuzz(func(t *testing.T, token, userID, role string) {
		p, err := v.Verify(token)
		if err != nil {
			var e *bank.Error
			if !errors.As(err, &e) || e.Kind != bank.KindUnauthenticated {
				t.Fatalf("Verify(%q): %#v, want KindUnauthenticated", token, err)
			}
		} else {
			parts := strings.Split(token, ".")
			mac := hmac.New(sha256.New, []byte(testKey1))
			mac.Write([]byte(parts[0] + "." + parts[1]))
			if len(parts) != 3 || parts[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) || p.UserID == "" || !p.Role.Valid() {
				t.Fatalf("Verify(%q) = %+v: accepted without the key's signature, a subject and a known role", token, p)
			}
		}

		// Issued, then verified: the same principal, until it expires. (A
		// user id is one the bank made: an id, valid text.)
		want := Principal{UserID: userID, Role: Role(role)}
		if bank.CheckID("user_id", userID) != nil || !want.Role.Valid() {
			return
		}
		tok, err := k.IssueAccessToken(want, now)
		if err != nil {
			t.Fatalf("issue for %+v: %v", want, err)
		}
		if got, err := v.Verify(tok); err != nil || got != want {
			t.Fatalf("a token issued for %+v verifies as %+v (%v)", want, got, err)
		}
		late := NewVerifier(k, func() time.Time { return now.Add(AccessTokenTTL + time.Second) })
		if got, err := late.Verify(tok); err == nil {
			t.Fatalf("an expired token verifies as %+v", got)
		}
		if _, err := jwt.NewParser().Parse(tok, func(*jwt.Token) (any, error) { return []byte(testKey2), nil }); err == nil {
			t.Fatal("a token verifies with another key")
		}
	})
}
