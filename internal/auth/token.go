package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// The issuer and audience of access tokens. A token made for another system
// with the same key is refused.
const (
	Issuer   = "fintech-banking"
	Audience = "fintech-banking-api"
)

// accessClaims are the claims of an access token: the registered ones (iss,
// aud, sub = user id, exp, iat, jti) and the user's role.
type accessClaims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// Validate is called by the jwt parser after the registered claims checked
// out: a token without a user or with an unknown role names no principal.
func (c accessClaims) Validate() error {
	if c.Subject == "" {
		return errors.New("token has no subject")
	}
	if !c.Role.Valid() {
		return fmt.Errorf("token has unknown role %q", c.Role)
	}
	return nil
}

// IssueAccessToken returns an HS256 access token for p, signed with the
// current key and valid for AccessTokenTTL from now.
func (k *Keyring) IssueAccessToken(p Principal, now time.Time) (string, error) {
	key := k.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims{
		Role: p.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			Subject:   p.UserID,
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        bank.NewID(),
		},
	})
	tok.Header["kid"] = key.id
	s, err := tok.SignedString(key.secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// Verifier checks access tokens against a Keyring. It implements
// Authenticator for the Middleware of every service.
type Verifier struct {
	keys   *Keyring
	parser *jwt.Parser
	now    func() time.Time

	// verified remembers tokens that passed every check, so that a client's
	// next requests with the same token cost a map lookup instead of a parse
	// and an HMAC. An entry is used only before its expiry and while its key
	// is still accepted; the map is emptied when it reaches maxVerified.
	verified sync.Map // token string → verifiedToken
	size     atomic.Int64
}

type verifiedToken struct {
	p   Principal
	kid string
	exp time.Time
}

const maxVerified = 1 << 16

// NewVerifier returns a Verifier of tokens signed by keys' accepted keys. now
// is the clock expiry is judged by (time.Now outside tests).
func NewVerifier(keys *Keyring, now func() time.Time) *Verifier {
	return &Verifier{
		keys: keys,
		now:  now,
		// The algorithm is pinned: a token must not choose how it is checked
		// ("none", or an RSA public key passed off as an HMAC secret).
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// errBadToken is the one answer to every unusable token: which check failed
// goes to the log, not to the client.
func errBadToken(cause error) error {
	return &bank.Error{Kind: bank.KindUnauthenticated, Code: "unauthenticated",
		Message: "the bearer token is invalid or expired", Err: cause}
}

// Verify returns the principal token names. It returns a KindUnauthenticated
// error unless token is an HS256 JWT signed by an accepted key (chosen by its
// kid header), issued by Issuer for Audience, with an expiry still ahead, a
// subject and a known role.
func (v *Verifier) Verify(token string) (Principal, error) {
	if e, ok := v.verified.Load(token); ok {
		t := e.(verifiedToken)
		if _, accepted := v.keys.lookup(t.kid); accepted && v.now().Before(t.exp) {
			return t.p, nil
		}
		v.verified.Delete(token)
	}
	var c accessClaims
	var kid string
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		key, ok := v.keys.lookup(kid)
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return Principal{}, errBadToken(err)
	}
	p := Principal{UserID: c.Subject, Role: c.Role}
	if v.size.Add(1) > maxVerified {
		v.verified.Clear()
		v.size.Store(1)
	}
	v.verified.Store(token, verifiedToken{p: p, kid: kid, exp: c.ExpiresAt.Time})
	return p, nil
}

// Authenticate verifies the bearer token of r's Authorization header. It
// returns a KindUnauthenticated error when there is none or it is bad.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Principal{}, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required")
	}
	return v.Verify(strings.TrimSpace(token))
}

// Middleware returns middleware that authenticates each request with a and
// puts the Principal in its context (see FromContext), or answers 401 with
// code "unauthenticated" without calling the next handler.
func Middleware(a Authenticator, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := a.Authenticate(r)
			if err != nil {
				if bank.ErrorKind(err) == bank.KindUnauthenticated {
					// Why a token was refused helps debugging; the token itself
					// is a credential and is never logged.
					log.DebugContext(r.Context(), "request not authenticated",
						"request_id", httpapi.RequestID(r.Context()), "err", err)
					w.Header().Set("WWW-Authenticate", `Bearer realm="fintech-banking"`)
				}
				httpapi.Error(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}
