package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/store"
)

// User is a user as the API shows it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Locked    bool      `json:"locked"`
	CreatedAt time.Time `json:"created_at"`
}

// Tokens is the answer to a login or a refresh.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // always "Bearer"
	ExpiresIn    int    `json:"expires_in"` // seconds the access token is valid
}

// Service registers users, logs them in, rotates their refresh tokens and
// lets staff change their role and lock them.
type Service struct {
	db         *store.DB
	keys       *Keyring
	cfg        Config
	now        func() time.Time
	log        *slog.Logger
	limiter    *httpapi.Limiter
	regLimiter *httpapi.Limiter
	hashes     *hashPool
	states     *UserStates // told of every change to a user; may be nil
	// dummyHash is checked against when the email is unknown, so that a
	// login for an unknown email costs what one for a known email costs and
	// response times do not tell which emails have accounts.
	dummyHash string
	// verify is VerifyPassword; tests replace it to count the hashes spent.
	verify func(encoded, password string) (bool, error)
}

// NewService returns a Service storing users in db and signing access tokens
// with keys. now is the clock (time.Now outside tests). It spends one password
// hash to prepare the timing-safe answer for unknown emails.
func NewService(db *store.DB, keys *Keyring, cfg Config, now func() time.Time, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dummy, err := HashPassword(GenerateSecret(), cfg.Password)
	if err != nil {
		return nil, err
	}
	return &Service{
		db: db, keys: keys, cfg: cfg, now: now, log: log,
		limiter:    httpapi.NewLimiter(cfg.LoginRate, cfg.LoginBurst, now),
		regLimiter: httpapi.NewLimiter(cfg.RegisterRate, cfg.RegisterBurst, now),
		hashes:     newHashPool(cfg.MaxConcurrentHashes, cfg.MaxQueuedHashes),
		dummyHash:  dummy,
		verify:     VerifyPassword,
	}, nil
}

// Notify makes s tell states of every change it makes to a user, so that the
// Verifier sharing states applies it on the next request. It returns s.
func (s *Service) Notify(states *UserStates) *Service {
	s.states = states
	return s
}

// changed tells the user state cache, if any, that user id changed.
func (s *Service) changed(id string) {
	if s.states != nil {
		s.states.Forget(id)
	}
}

// clock is the current time as the database stores it: UTC, to the
// microsecond (PostgreSQL's precision), so that a time read back equals the
// time written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Register creates a customer. clientIP is the caller's address, the key of
// the registration rate limit. It returns KindRateLimited (code rate_limited,
// with a retry delay) when clientIP registered too often, KindUnavailable
// (code busy) when too many passwords are being hashed, KindInvalid (code
// invalid_request, with the fields at fault) for a bad email, a password
// passwordProblem refuses or a name outside 1–200 characters, and
// KindConflict (code email_taken) when the email already has an account.
func (s *Service) Register(ctx context.Context, email, password, name, clientIP string) (User, error) {
	if ok, wait := s.regLimiter.Allow(clientIP); !ok {
		return User{}, &retryError{
			err:   bank.Errorf(bank.KindRateLimited, "rate_limited", "too many registrations from this address; retry later"),
			after: wait,
		}
	}
	return s.createUser(ctx, email, name, password, RoleCustomer)
}

// CreateUser creates a user with any role, for `bank users create`. It returns
// the errors of Register, and KindInvalid for an unknown role.
func (s *Service) CreateUser(ctx context.Context, email, name, password string, role Role) (User, error) {
	return s.createUser(ctx, email, name, password, role)
}

func (s *Service) createUser(ctx context.Context, email, name, password string, role Role) (User, error) {
	u := User{Email: normalizeEmail(email), Name: normalizeName(name), Role: role}
	var p problems
	p.check("email", emailProblem(u.Email))
	p.check("password", passwordProblem(password))
	p.check("name", nameProblem(u.Name))
	if !role.Valid() {
		p.check("role", "must be customer, operator or admin")
	}
	if err := p.err(); err != nil {
		return User{}, err
	}
	var hash string
	err := s.hashes.do(ctx, true, func() (err error) {
		hash, err = HashPassword(normalizePassword(password), s.cfg.Password)
		return err
	})
	if err != nil {
		return User{}, err
	}
	u.ID, u.CreatedAt = bank.NewID(), s.clock()
	if err := insertUser(ctx, s.db, u, hash); err != nil {
		if store.IsUniqueViolation(err) {
			return User{}, &bank.Error{Kind: bank.KindConflict, Code: "email_taken",
				Message: "an account with this email already exists", Details: map[string]string{"email": "is taken"}}
		}
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// User returns the user with id id. It returns KindUnauthenticated when there
// is none: it is asked for the user a token names, and a token whose user is
// gone authenticates nobody.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := userByID(ctx, s.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "the user of this token no longer exists")
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return u.User, nil
}

// FindByEmail returns the users whose email is email (compared as stored:
// trimmed and lower-cased), none or one, for staff looking a customer up.
// It returns KindForbidden unless by is staff and KindInvalid for an empty
// or over-long email.
func (s *Service) FindByEmail(ctx context.Context, by Principal, email string) ([]User, error) {
	if !by.Staff() {
		return nil, bank.Errorf(bank.KindForbidden, "forbidden", "finding users needs the operator role")
	}
	email = normalizeEmail(email)
	if email == "" || len(email) > 254 {
		return nil, bank.Invalid("email", "must be an email address")
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return []User{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return []User{u.view(s.now())}, nil
}

// MaxFoundByName is how many users FindByName returns at most.
const MaxFoundByName = 20

// FindByName returns the users whose name holds name (trimmed; ASCII
// letters compared without case), by name, at most MaxFoundByName, for
// staff looking a customer up. It returns KindForbidden unless by is staff
// and KindInvalid for a name shorter than 2 or longer than 100 characters.
func (s *Service) FindByName(ctx context.Context, by Principal, name string) ([]User, error) {
	if !by.Staff() {
		return nil, bank.Errorf(bank.KindForbidden, "forbidden", "finding users needs the operator role")
	}
	name = normalizeName(name)
	if n := utf8.RuneCountInString(name); n < 2 || n > 100 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return nil, bank.Invalid("name", "must be 2 to 100 characters of valid text")
	}
	pattern := "%" + likeEscaper.Replace(strings.ToLower(name)) + "%"
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE lower(name) LIKE $1 ESCAPE '\'
		ORDER BY name, id LIMIT `+strconv.Itoa(MaxFoundByName), pattern)
	if err != nil {
		return nil, fmt.Errorf("find users by name: %w", err)
	}
	defer rows.Close()
	now := s.now()
	out := []User{}
	for rows.Next() {
		var (
			u      userRow
			locked sql.NullTime
		)
		if err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.passwordHash, &locked, &u.tokenVersion, &u.CreatedAt); err != nil {
			return nil, fmt.Errorf("find users by name: %w", err)
		}
		u.CreatedAt = u.CreatedAt.UTC()
		if locked.Valid {
			u.lockedUntil = locked.Time.UTC()
		}
		out = append(out, u.view(now))
	}
	return out, rows.Err()
}

// likeEscaper makes a string match itself in a LIKE pattern with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

var errInvalidCredentials = bank.Errorf(bank.KindUnauthenticated, "invalid_credentials", "the email or password is wrong")

// Login checks email and password and starts a session: an access token and a
// refresh token of a new family. clientIP is the caller's address, the key of
// the login rate limit and, with email, of the failed-login throttle.
//
// It returns KindInvalid when email or password is empty, KindRateLimited
// (code rate_limited, with a retry delay) when clientIP tried too often or
// must wait after failed logins for email, KindUnavailable (code busy) when
// too many passwords are being hashed, and KindUnauthenticated (code
// invalid_credentials) for an unknown email or a wrong password. Those
// answers are the same, and take the same work, whether or not email has an
// account. Only the right password of a locked user gets KindLocked (code
// account_locked).
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (Tokens, error) {
	if ok, wait := s.limiter.Allow(clientIP); !ok {
		return Tokens{}, &retryError{
			err:   bank.Errorf(bank.KindRateLimited, "rate_limited", "too many login attempts from this address; retry later"),
			after: wait,
		}
	}
	email = normalizeEmail(email)
	var p problems
	if email == "" {
		p.check("email", "is required")
	}
	if password == "" {
		p.check("password", "is required")
	}
	if err := p.err(); err != nil {
		return Tokens{}, err
	}
	now := s.clock()
	throttles := s.loginThrottles(email, clientIP)
	known, err := s.knownAddress(ctx, email, clientIP, now)
	if err != nil {
		return Tokens{}, err
	}
	// From a known address a login is counted, and its success ends the
	// run, under its own address only: the email's count from elsewhere
	// goes on slowing an attacker there.
	counted := throttles
	if known {
		counted = throttles[:1]
	}
	wait, err := s.reserveLogin(ctx, counted, now)
	if err != nil {
		return Tokens{}, err
	}
	if wait > 0 {
		return Tokens{}, &retryError{
			err:   bank.Errorf(bank.KindRateLimited, "rate_limited", "too many failed logins for this email; retry later"),
			after: wait,
		}
	}
	u, found, err := loginUser(ctx, s.db, email)
	if err != nil {
		return Tokens{}, fmt.Errorf("read user: %w", err)
	}
	hash := s.dummyHash
	if found {
		hash = u.passwordHash
	}
	var ok, rehash bool
	err = s.hashes.do(ctx, false, func() (err error) {
		ok, rehash, err = s.checkPassword(hash, password)
		return err
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("verify password: %w", err)
	}
	if !found || !ok {
		return Tokens{}, errInvalidCredentials
	}
	return s.startSession(ctx, u, password, rehash, counted, knownKey(email, clientIP), now)
}

// checkPassword reports whether password matches hash, and whether hash
// should be remade: it was made with weaker parameters than the configured
// ones, or of the password before NFKC normalisation (hashes made before
// passwords were normalised). It spends the same hashes for a given password
// whatever hash is, so the dummy hash of an unknown email costs what a real
// one costs.
func (s *Service) checkPassword(hash, password string) (ok, rehash bool, err error) {
	normalized := normalizePassword(password)
	ok, err = s.verify(hash, normalized)
	if err != nil {
		return false, false, err
	}
	legacy := false
	if normalized != password {
		okRaw, err := s.verify(hash, password)
		if err != nil {
			return false, false, err
		}
		legacy = okRaw && !ok
		ok = ok || okRaw
	}
	if !ok {
		return false, false, nil
	}
	return true, legacy || s.weakerThanConfig(hash), nil
}

// weakerThanConfig reports whether hash was made with parameters other than
// the configured ones in a way that makes it cheaper to attack.
func (s *Service) weakerThanConfig(hash string) bool {
	p, _, _, err := parseHash(hash)
	if err != nil {
		return false
	}
	want := s.cfg.Password
	return p.Memory < want.Memory || p.Time < want.Time || p.KeyLength < want.KeyLength || p.SaltLength < want.SaltLength
}

// errLocked is the answer to the right password of a locked user.
func errLocked() error {
	return bank.Errorf(bank.KindLocked, "account_locked", "the account is locked; contact the bank")
}

// startSession issues the tokens of a new refresh token family for u, who
// gave the right password. It ends the runs of failed logins under throttles
// and, if rehash is set, stores a hash of password made with the current
// parameters.
func (s *Service) startSession(ctx context.Context, u userRow, password string, rehash bool, throttles []throttle, known string, now time.Time) (Tokens, error) {
	var newHash string
	if rehash {
		err := s.hashes.do(ctx, false, func() (err error) {
			newHash, err = HashPassword(normalizePassword(password), s.cfg.Password)
			return err
		})
		if err != nil {
			return Tokens{}, err
		}
	}
	refresh := newRefreshToken()
	var cur userRow
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		// The user may have been locked, or had their role changed, since
		// they were read: the row as it is now decides.
		cur, err = userForUpdate(ctx, tx, s.db, u.ID)
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if cur.lockedAt(now) {
			return errLocked()
		}
		for _, t := range throttles {
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key = $1`, t.key); err != nil {
				return fmt.Errorf("reset login throttle: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_known_addresses (key, expires_at) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at`, known, now.Add(knownAddressFor)); err != nil {
			return fmt.Errorf("remember the login address: %w", err)
		}
		if newHash != "" {
			// Only if the password was not changed meanwhile.
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3`,
				u.ID, newHash, u.passwordHash); err != nil {
				return fmt.Errorf("rehash password: %w", err)
			}
		}
		return insertRefresh(ctx, tx, hashToken(refresh), bank.NewID(), u.ID, now)
	})
	if err != nil {
		if bank.ErrorKind(err) != bank.KindInternal {
			return Tokens{}, err
		}
		return Tokens{}, fmt.Errorf("start session of user %s: %w", u.ID, err)
	}
	return s.tokens(cur, refresh, now)
}

func (s *Service) tokens(u userRow, refresh string, now time.Time) (Tokens, error) {
	access, err := s.keys.issueAccessToken(Principal{UserID: u.ID, Role: u.Role}, u.tokenVersion, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(AccessTokenTTL / time.Second)}, nil
}

func errBadRefresh(reason string) error {
	return bank.Errorf(bank.KindUnauthenticated, "invalid_refresh_token", "%s; log in again", reason)
}

// Refresh spends refresh token token and returns new tokens, the new refresh
// token in the same family. A token is good once: presenting a spent one means
// it was stolen or replayed, so the whole family is revoked, the newest token
// included, and both the thief and the user must log in again. It returns
// KindInvalid when token is empty and KindUnauthenticated (code
// invalid_refresh_token) when it is unknown, expired, revoked or spent, or
// its user is locked or no longer exists.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	if token == "" {
		return Tokens{}, bank.Invalid("refresh_token", "is required")
	}
	hash, now := hashToken(token), s.clock()
	next := newRefreshToken()
	var (
		reused bool
		row    refreshRow
		u      userRow
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		reused = false
		var err error
		row, err = refreshByHash(ctx, tx, hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errBadRefresh("the refresh token is unknown")
		case err != nil:
			return fmt.Errorf("read refresh token: %w", err)
		case row.revoked:
			return errBadRefresh("the refresh token was revoked")
		}
		// Spent already, whether long ago or by a concurrent refresh a moment
		// ago: either way it is a second use.
		spent, err := spendRefresh(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		if !spent {
			reused = true
			if err := revokeFamily(ctx, tx, row.familyID, now); err != nil {
				return err
			}
			// The presenter may be the thief: the user is the target, no
			// actor is known.
			return audit.Write(ctx, tx, now, audit.New("", AuditFamilyRevoked, row.userID, bank.OriginOf(ctx),
				map[string]string{"family_id": row.familyID, "reason": "spent refresh token presented again"}))
		}
		if !row.expiresAt.After(now) {
			return errBadRefresh("the refresh token expired") // and the rollback unspends it
		}
		u, err = userByID(ctx, tx, row.userID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errBadRefresh("the user of the refresh token no longer exists")
		case err != nil:
			return fmt.Errorf("read user: %w", err)
		case u.lockedAt(now):
			return errBadRefresh("the user is locked")
		}
		return insertRefresh(ctx, tx, hashToken(next), row.familyID, row.userID, now)
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		s.log.WarnContext(ctx, "security: spent refresh token reused; family revoked", "event", "family_revoked",
			"user_id", row.userID, "family_id", row.familyID)
		return Tokens{}, errBadRefresh("the refresh token was already used, so its session is revoked")
	}
	return s.tokens(u, next, now)
}

// Logout revokes the family of refresh token token: that session's refresh
// tokens stop working (its access tokens run out within AccessTokenTTL). An
// unknown or already revoked token is no error, so that a retried logout
// succeeds. It returns KindInvalid when token is empty.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return bank.Invalid("refresh_token", "is required")
	}
	return revokeFamilyOf(ctx, s.db, hashToken(token), s.clock())
}

// newRefreshToken returns 32 random bytes, base64url-encoded: unguessable, so
// storing only its hash suffices.
func newRefreshToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is what refresh_tokens stores of a token: a database leak must not
// hand out sessions. A fast hash is enough for 256 random bits.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
