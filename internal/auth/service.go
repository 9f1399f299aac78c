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
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// EventLoginFailedLocked is the outbox event written when failed logins lock
// an account; notification-service tells the user.
const EventLoginFailedLocked = "auth.login_failed_locked"

// User is a user as the API shows it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Tokens is the answer to a login or a refresh.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // always "Bearer"
	ExpiresIn    int    `json:"expires_in"` // seconds the access token is valid
}

// Service registers users, logs them in and rotates their refresh tokens.
type Service struct {
	db      *store.DB
	keys    *Keyring
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	limiter *httpapi.Limiter
	// dummyHash is checked against when the email is unknown, so that a
	// login for an unknown email costs what one for a known email costs and
	// response times do not tell which emails have accounts.
	dummyHash string
	// hashSlots holds a token per password hash in progress: see
	// Config.MaxConcurrentHashes.
	hashSlots chan struct{}
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
		limiter:   httpapi.NewLimiter(cfg.LoginRate, cfg.LoginBurst, now),
		dummyHash: dummy,
		hashSlots: make(chan struct{}, cfg.MaxConcurrentHashes),
		verify:    VerifyPassword,
	}, nil
}

// clock is the current time as the database stores it: UTC, to the
// microsecond (PostgreSQL's precision), so that a time read back equals the
// time written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Register creates a customer. It returns KindInvalid (code invalid_request,
// with the fields at fault) for a bad email, a password outside 8–128
// characters or a name outside 1–200 characters, and KindConflict (code
// email_taken) when the email already has an account.
func (s *Service) Register(ctx context.Context, email, password, name string) (User, error) {
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
	err := s.hashing(ctx, func() (err error) {
		hash, err = HashPassword(password, s.cfg.Password)
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

var errInvalidCredentials = bank.Errorf(bank.KindUnauthenticated, "invalid_credentials", "the email or password is wrong")

// Login checks email and password and starts a session: an access token and a
// refresh token of a new family. clientIP is the caller's address, the key of
// the login rate limit. It returns KindInvalid when email or password is
// empty, KindRateLimited (code rate_limited, with a retry delay) when clientIP
// tried too often, KindUnauthenticated (code invalid_credentials, the same for
// an unknown email and a wrong password) and KindLocked (code account_locked)
// while the account is locked, whatever the password. The MaxFailedLogins-th
// wrong password in a row locks the account for LockoutDuration.
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
	u, err := userByEmail(ctx, s.db, email)
	if errors.Is(err, sql.ErrNoRows) {
		err := s.hashing(ctx, func() error {
			_, err := s.verify(s.dummyHash, password)
			return err
		})
		if err != nil {
			return Tokens{}, fmt.Errorf("verify password against the dummy hash: %w", err)
		}
		return Tokens{}, errInvalidCredentials
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("read user: %w", err)
	}
	// The password is checked even on a locked account, so that the answer
	// takes as long as any other.
	var ok bool
	err = s.hashing(ctx, func() (err error) {
		ok, err = s.verify(u.passwordHash, password)
		return err
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	now := s.clock()
	if u.lockedUntil.After(now) {
		return Tokens{}, errLocked(u.lockedUntil, now)
	}
	if !ok {
		return Tokens{}, s.loginFailed(ctx, u, now)
	}
	return s.startSession(ctx, u.ID, now)
}

// hashing runs fn, a password hash, once one of the hash slots is free, and
// returns its error. It returns KindUnavailable if ctx ends first: the service
// is too busy to answer in time.
func (s *Service) hashing(ctx context.Context, fn func() error) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return &bank.Error{Kind: bank.KindUnavailable, Code: "busy",
			Message: "too many logins at once; retry later", Err: ctx.Err()}
	}
	defer func() { <-s.hashSlots }()
	return fn()
}

// errLocked is the answer while an account is locked; the delay tells a
// client when to try again.
func errLocked(until, now time.Time) error {
	return &retryError{
		err: bank.Errorf(bank.KindLocked, "account_locked",
			"the account is locked after too many failed logins; try again after %s", until.Format(time.RFC3339)),
		after: until.Sub(now),
	}
}

// loginFailed counts a wrong password and locks the account at the limit,
// writing the lock's outbox event in the same transaction. It returns the
// error the login answers with.
func (s *Service) loginFailed(ctx context.Context, u userRow, now time.Time) error {
	var lockedUntil time.Time
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		lockedUntil = time.Time{}
		// Read again under the row lock: concurrent failures are counted one
		// after the other, and one that comes after a lock does not count.
		var (
			failed int
			locked sql.NullTime
		)
		err := tx.QueryRowContext(ctx, `SELECT failed_logins, locked_until FROM users WHERE id = $1`+forUpdate(s.db), u.ID).
			Scan(&failed, &locked)
		if err != nil {
			return fmt.Errorf("read failed logins: %w", err)
		}
		if locked.Valid && locked.Time.After(now) {
			lockedUntil = locked.Time.UTC()
			return nil
		}
		failed++
		if failed < s.cfg.MaxFailedLogins {
			_, err := tx.ExecContext(ctx, `UPDATE users SET failed_logins = $2 WHERE id = $1`, u.ID, failed)
			return err
		}
		// The lock replaces the count: once it ends, the user has a full set
		// of attempts again.
		lockedUntil = now.Add(s.cfg.LockoutDuration)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = $2 WHERE id = $1`,
			u.ID, lockedUntil); err != nil {
			return fmt.Errorf("lock user: %w", err)
		}
		h := queue.NewHeader(EventLoginFailedLocked, now)
		return queue.Write(ctx, tx, h, u.ID, struct {
			queue.Header
			UserID      string    `json:"user_id"`
			Email       string    `json:"email"`
			LockedUntil time.Time `json:"locked_until"`
		}{h, u.ID, u.Email, lockedUntil})
	})
	if err != nil {
		return fmt.Errorf("record failed login of user %s: %w", u.ID, err)
	}
	if !lockedUntil.IsZero() {
		s.log.WarnContext(ctx, "account locked after failed logins", "user_id", u.ID, "locked_until", lockedUntil)
		return errLocked(lockedUntil, now)
	}
	return errInvalidCredentials
}

// startSession resets the failed-login count and issues the tokens of a new
// refresh token family.
func (s *Service) startSession(ctx context.Context, userID string, now time.Time) (Tokens, error) {
	refresh := newRefreshToken()
	var (
		role        Role
		lockedUntil time.Time
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		lockedUntil = time.Time{}
		var locked sql.NullTime
		// A concurrent wrong password may have locked the account since it
		// was read; the lock wins.
		err := tx.QueryRowContext(ctx, `SELECT role, locked_until FROM users WHERE id = $1`+forUpdate(s.db), userID).
			Scan(&role, &locked)
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if locked.Valid && locked.Time.After(now) {
			lockedUntil = locked.Time.UTC()
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0`, userID); err != nil {
			return fmt.Errorf("reset failed logins: %w", err)
		}
		return insertRefresh(ctx, tx, hashToken(refresh), bank.NewID(), userID, now)
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("start session of user %s: %w", userID, err)
	}
	if !lockedUntil.IsZero() {
		return Tokens{}, errLocked(lockedUntil, now)
	}
	return s.tokens(Principal{UserID: userID, Role: role}, refresh, now)
}

func (s *Service) tokens(p Principal, refresh string, now time.Time) (Tokens, error) {
	access, err := s.keys.IssueAccessToken(p, now)
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
// invalid_refresh_token) when it is unknown, expired, revoked or spent.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	if token == "" {
		return Tokens{}, bank.Invalid("refresh_token", "is required")
	}
	hash, now := hashToken(token), s.clock()
	next := newRefreshToken()
	var (
		reused bool
		row    refreshRow
		role   Role
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
			return revokeFamily(ctx, tx, row.familyID, now)
		}
		if !row.expiresAt.After(now) {
			return errBadRefresh("the refresh token expired") // and the rollback unspends it
		}
		if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = $1`, row.userID).Scan(&role); err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		return insertRefresh(ctx, tx, hashToken(next), row.familyID, row.userID, now)
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		s.log.WarnContext(ctx, "spent refresh token reused; family revoked", "user_id", row.userID, "family_id", row.familyID)
		return Tokens{}, errBadRefresh("the refresh token was already used, so its session is revoked")
	}
	return s.tokens(Principal{UserID: row.userID, Role: role}, next, now)
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
