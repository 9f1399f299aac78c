package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Group commits the writes of callers running side by side in one database
// transaction: one commit, and one wait for the disk, for many. That is on
// SQLite, where the process's writers take turns anyway. PostgreSQL runs
// transactions side by side, and a group would run its works' statements
// one after another: there each work has a transaction of its own.
//
// A caller's work is appended to the waiting list; then the caller waits for
// its answer or for the committer token. Whoever takes the token runs what is
// waiting (up to max pieces of work), each in a savepoint of its own so that
// one's error undoes its writes alone, commits, and answers each. A caller
// whose context ends while its work waits takes it back off the list; once
// in a transaction, its work commits or not with it.
//
// The works of one transaction run in the order of their keys: works that
// lock rows named by their keys (a payment its account) then lock them in
// the order every other writer does, and two transactions never wait for
// each other.
type Group struct {
	db    *DB
	max   int
	token chan struct{}

	mu      sync.Mutex
	waiting []*groupWork
}

type groupWork struct {
	ctx  context.Context
	key  string
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error // buffered: the committer never waits for the caller
}

// maxSavepoints bounds the works of one transaction: PostgreSQL keeps the
// subtransactions of 64 savepoints in each backend's cache, and looks past
// it in a shared file that every snapshot then reads.
const maxSavepoints = 32

// groupTimeout bounds one group's transaction, whatever its callers'
// contexts say.
const groupTimeout = 30 * time.Second

// NewGroup returns a Group that commits up to n works (at most 32) a
// transaction.
func NewGroup(db *DB, n int) *Group {
	return &Group{db: db, max: min(max(n, 1), maxSavepoints), token: make(chan struct{}, 1)}
}

// Do runs fn in a transaction shared with other callers and returns fn's
// error, or the commit's when fn succeeded and the transaction did not
// commit. fn may run on another goroutine, and more than once if the
// caller retries: it must write only through tx. key orders the works of a
// transaction (see Group). The context fn is given carries ctx's values but
// does not end with it: on SQLite a statement interrupted inside a
// transaction rolls the whole transaction back, the other works' with it.
func (g *Group) Do(ctx context.Context, key string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if g.db.Dialect != SQLite {
		return g.db.Tx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	w := &groupWork{ctx: ctx, key: key, fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.waiting = append(g.waiting, w)
	g.mu.Unlock()
	for {
		select {
		case err := <-w.done:
			return err
		case g.token <- struct{}{}:
			func() {
				defer func() { <-g.token }() // given back even if a work panics
				g.commitWaiting()
			}()
		case <-ctx.Done():
			g.mu.Lock()
			i := slices.Index(g.waiting, w)
			if i >= 0 {
				g.waiting = slices.Delete(g.waiting, i, i+1)
			}
			g.mu.Unlock()
			if i >= 0 {
				return ctx.Err()
			}
			return <-w.done // in a transaction: its outcome is the answer
		}
	}
}

// commitWaiting runs and commits what is waiting, by its holder of the
// token.
func (g *Group) commitWaiting() {
	g.mu.Lock()
	n := min(len(g.waiting), g.max)
	works := slices.Clone(g.waiting[:n])
	g.waiting = slices.Delete(g.waiting, 0, n)
	g.mu.Unlock()
	if len(works) == 0 {
		return
	}
	slices.SortStableFunc(works, func(a, b *groupWork) int { return strings.Compare(a.key, b.key) })
	errs := make([]error, len(works))
	answered := false
	defer func() {
		if !answered { // a work panicked: nothing committed
			for _, w := range works {
				w.done <- errGroupPanic
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	err := g.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, w := range works {
			if err := w.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			sp := fmt.Sprintf("work%d", i)
			if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return err
			}
			if errs[i] = w.fn(context.WithoutCancel(w.ctx), tx); errs[i] != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
				return err
			}
		}
		return nil
	})
	answered = true
	for i, w := range works {
		if errs[i] == nil {
			errs[i] = err
		}
		w.done <- errs[i]
	}
}

// errGroupPanic answers the works of a transaction one of whose works
// panicked.
var errGroupPanic = errors.New("a work of the same transaction panicked; nothing was committed")
