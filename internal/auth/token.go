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
// aud, sub = user id, exp, iat, jti), the user's role and the user's token
// version when it was issued (see UserStates).
type accessClaims struct {
	Role    Role  `json:"role"`
	Version int64 `json:"ver,omitempty"`
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

// IssueAccessToken returns an HS256 access token for p at token version 0,
// signed with the current key and valid for AccessTokenTTL from now.
func (k *Keyring) IssueAccessToken(p Principal, now time.Time) (string, error) {
	return k.issueAccessToken(p, 0, now)
}

// issueAccessToken is IssueAccessToken for a user at token version version.
func (k *Keyring) issueAccessToken(p Principal, version int64, now time.Time) (string, error) {
	key := k.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims{
		Role:    p.Role,
		Version: version,
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

	// users, when set, is checked after the signature: see CheckUsers.
	users *UserStates
	log   *slog.Logger
}

type verifiedToken struct {
	p       Principal
	version int64
	kid     string
	exp     time.Time
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

// CheckUsers makes Authenticate also check each token against its user's
// state as states knows it: a token of a deleted or locked user, or one
// issued before the user's token version was raised, is refused, and the
// principal's role is the user's role now. Refusals of tokens of users that
// no longer exist are logged to log as security events. It returns v.
func (v *Verifier) CheckUsers(states *UserStates, log *slog.Logger) *Verifier {
	v.users, v.log = states, log
	return v
}

// errBadToken is the one answer to every unusable token: which check failed
// goes to the log, not to the client.
func errBadToken(cause error) error {
	return &bank.Error{Kind: bank.KindUnauthenticated, Code: "unauthenticated",
		Message: "the bearer token is invalid or expired", Err: cause}
}

// Verify returns the principal token names, from the token alone: whether
// its user still exists, is locked or has a newer token version is
// Authenticate's to check. It returns a KindUnauthenticated error unless
// token is an HS256 JWT signed by an accepted key (chosen by its kid
// header), issued by Issuer for Audience, with an expiry still ahead, a
// subject and a known role.
func (v *Verifier) Verify(token string) (Principal, error) {
	t, err := v.verify(token)
	return t.p, err
}

func (v *Verifier) verify(token string) (verifiedToken, error) {
	if e, ok := v.verified.Load(token); ok {
		t := e.(verifiedToken)
		if _, accepted := v.keys.lookup(t.kid); accepted && v.now().Before(t.exp) {
			return t, nil
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
		return verifiedToken{}, errBadToken(err)
	}
	t := verifiedToken{p: Principal{UserID: c.Subject, Role: c.Role}, version: c.Version, kid: kid, exp: c.ExpiresAt.Time}
	if v.size.Add(1) > maxVerified {
		v.verified.Clear()
		v.size.Store(1)
	}
	v.verified.Store(token, t)
	return t, nil
}

// current checks verified token t against its user's state now, and returns
// the principal with the user's current role.
func (v *Verifier) current(r *http.Request, t verifiedToken) (Principal, error) {
	if v.users == nil {
		return t.p, nil
	}
	st, err := v.users.State(r.Context(), t.p.UserID)
	switch {
	case err != nil:
		return Principal{}, err
	case !st.Exists:
		v.log.WarnContext(r.Context(), "security: token of a user that no longer exists",
			"event", AuditTokenOfMissingUser, "user_id", t.p.UserID,
			"request_id", httpapi.RequestID(r.Context()), "remote", httpapi.ClientIP(r))
		if err := v.users.reportMissing(r.Context(), t.p.UserID); err != nil {
			v.log.ErrorContext(r.Context(), "audit a token of a missing user", "user_id", t.p.UserID, "err", err)
		}
		return Principal{}, errBadToken(errors.New("the user no longer exists"))
	case st.Locked:
		return Principal{}, errBadToken(errors.New("the user is locked"))
	case st.Version != t.version:
		return Principal{}, errBadToken(fmt.Errorf("token version %d, the user is at %d", t.version, st.Version))
	}
	return Principal{UserID: t.p.UserID, Role: st.Role}, nil
}

// Authenticate verifies the bearer token of r's Authorization header and,
// with CheckUsers, checks it against its user's current state. It returns a
// KindUnauthenticated error when there is none or it is bad or no longer
// good, and KindUnavailable when the user's state cannot be read.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Principal{}, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required")
	}
	t, err := v.verify(strings.TrimSpace(token))
	if err != nil {
		return Principal{}, err
	}
	return v.current(r, t)
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
