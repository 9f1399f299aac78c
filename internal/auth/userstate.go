package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// UserStateTTL is how long a replica trusts what it read of a user's state.
// A role change, a lock, a deletion or a logout everywhere made on one
// replica takes effect there on the next request, and on every other replica
// within UserStateTTL.
const UserStateTTL = 2 * time.Second

// UserState is what decides whether a user's access tokens still count: the
// user exists, is not locked, and the token carries the current version. The
// role is the user's role now, whatever the token says.
type UserState struct {
	Exists  bool
	Role    Role
	Version int64
	Locked  bool
}

// UserStates reads users' states from the database and keeps each for
// UserStateTTL, so that checking a token stays a map lookup on the fast path
// and costs one small query per user and replica every TTL. It is safe for
// concurrent use.
type UserStates struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time

	entries sync.Map // user id → cachedState
	size    atomic.Int64
	group   singleflight.Group
	// reported holds the ids of missing users whose tokens were audited
	// already: one record per user and replica, not one per request.
	reported sync.Map
}

type cachedState struct {
	state   UserState
	fetched time.Time
}

// maxCachedStates bounds the cache; it is emptied when full, as Verifier's is.
const maxCachedStates = 1 << 16

// NewUserStates returns a cache of the states of db's users, each trusted for
// ttl. now is the clock (time.Now outside tests).
func NewUserStates(db *store.DB, ttl time.Duration, now func() time.Time) *UserStates {
	return &UserStates{db: db, ttl: ttl, now: now}
}

// State returns the state of user id, from the cache when it is younger than
// the TTL. Concurrent misses for one user share one query. It returns
// KindUnavailable when the database cannot be read: a token is not trusted
// blind.
func (c *UserStates) State(ctx context.Context, id string) (UserState, error) {
	now := c.now()
	if e, ok := c.entries.Load(id); ok {
		if ce := e.(cachedState); now.Sub(ce.fetched) < c.ttl {
			return ce.state, nil
		}
	}
	v, err, _ := c.group.Do(id, func() (any, error) {
		st, err := readUserState(ctx, c.db, id, now)
		if err != nil {
			return UserState{}, err
		}
		if c.size.Add(1) > maxCachedStates {
			c.entries.Clear()
			c.size.Store(1)
		}
		c.entries.Store(id, cachedState{state: st, fetched: now})
		return st, nil
	})
	if err != nil {
		return UserState{}, &bank.Error{Kind: bank.KindUnavailable, Code: "unavailable",
			Message: "the service cannot check the token now; retry later", Err: err}
	}
	return v.(UserState), nil
}

// Forget drops what the cache knows of user id, so that the next request reads
// the database: the replica that changes a user sees the change at once.
func (c *UserStates) Forget(id string) {
	c.entries.Delete(id)
}

func readUserState(ctx context.Context, db *store.DB, id string, now time.Time) (UserState, error) {
	var (
		st     UserState
		locked sql.NullTime
	)
	// The read is shared by every request for the user that waits on it:
	// one client giving up must not fail the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := db.QueryRowContext(ctx, `SELECT role, token_version, locked_until FROM users WHERE id = $1`, id).
		Scan(&st.Role, &st.Version, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return UserState{}, nil
	}
	if err != nil {
		return UserState{}, fmt.Errorf("read state of user %s: %w", id, err)
	}
	st.Exists = true
	st.Locked = locked.Valid && locked.Time.After(now)
	return st, nil
}

// reportMissing writes the audit record of a token presented for user id,
// who no longer exists, once per user.
func (c *UserStates) reportMissing(ctx context.Context, id string) error {
	if _, done := c.reported.LoadOrStore(id, true); done {
		return nil
	}
	return audit.Write(ctx, c.db, c.now().UTC().Truncate(time.Microsecond), audit.New(id, AuditTokenOfMissingUser, id, bank.OriginOf(ctx), nil))
}
