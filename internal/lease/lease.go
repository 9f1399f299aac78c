// Package lease is how replicas share work through the database: a row is
// leased to one owner at a time, taken only when it is free or its lease has
// expired, and renewed or released only by the owner it records. Expiry is
// judged by the database's clock, never a replica's, so replicas whose
// clocks disagree still agree on who holds what.
//
// A lease ends by time, so a holder that stalls for longer than its lease
// (a paused VM) may find another holder when it wakes: it must check, through
// Renew, Release or a statement conditioned on Owned, before it acts as the
// holder again.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// Instance returns a name for this process in leases: its host name and 48
// random bits, so that two replicas started at the same moment, on one host
// or in pods of one name, are still told apart.
func Instance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "bank"
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return host + "-" + hex.EncodeToString(b[:])
}

// Columns names where a table keeps its leases.
type Columns struct {
	Table string // the table
	Key   string // the column that picks one row
	Owner string // the column naming the holder
	Until string // the column of the lease's end
	// Millis says Until holds milliseconds since the epoch (a BIGINT), not
	// a timestamp; a released lease then ends at 0 rather than NULL.
	Millis bool
}

// Leases are the leases of one table of a database.
type Leases struct {
	db *store.DB
	c  Columns
}

// New returns the leases of c in db.
func New(db *store.DB, c Columns) *Leases { return &Leases{db: db, c: c} }

// now is the SQL of the database's current time in Until's type.
// clock_timestamp, not now(): now() is when the transaction began.
func (l *Leases) now() string {
	switch {
	case l.db.Dialect == store.Postgres && l.c.Millis:
		return `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	case l.db.Dialect == store.Postgres:
		return `clock_timestamp()`
	case l.c.Millis:
		return `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`
	default:
		return `julianday('now')`
	}
}

// until is the SQL of Until as a value comparable with now. SQLite keeps
// timestamps as text, which its julianday parses whatever the fraction's
// length or the offset's form.
func (l *Leases) until() string {
	if l.db.Dialect == store.SQLite && !l.c.Millis {
		return `julianday(` + l.col(l.c.Until) + `)`
	}
	return l.col(l.c.Until)
}

// col is column named with its table, as an upsert's conditions need (the
// row proposed for insertion has the same columns).
func (l *Leases) col(column string) string { return l.c.Table + `.` + column }

// Free is the SQL condition of a row whose lease nobody holds: never taken,
// released or expired.
func (l *Leases) Free() string {
	return `(` + l.col(l.c.Until) + ` IS NULL OR ` + l.until() + ` < ` + l.now() + `)`
}

// Owned is the SQL condition of a row whose lease owner (a placeholder such
// as "$3") is the last to have taken it. It holds also after the lease
// expired, as long as nobody took it meanwhile: the work is still only
// owner's.
func (l *Leases) Owned(owner string) string {
	return l.col(l.c.Owner) + ` = ` + owner
}

// Ends is the SQL of when a lease taken now for ms milliseconds (a
// placeholder such as "$2") ends, in the database's clock and Until's type.
func (l *Leases) Ends(ms string) string {
	switch {
	case l.db.Dialect == store.Postgres && l.c.Millis:
		return l.now() + ` + ` + ms
	case l.db.Dialect == store.Postgres:
		return `clock_timestamp() + ` + ms + ` * interval '1 millisecond'`
	case l.c.Millis:
		return l.now() + ` + ` + ms
	default:
		// The form the SQLite driver writes and reads a time.Time in.
		return `strftime('%Y-%m-%d %H:%M:%f+00:00', julianday('now') + ` + ms + ` / 86400000.0)`
	}
}

// Acquire takes the lease of row key for owner, for d from now, if it is
// free or owner holds it already (then it is renewed). It reports whether
// owner holds it now.
func (l *Leases) Acquire(ctx context.Context, key, owner string, d time.Duration) (bool, error) {
	return l.exec(ctx, "take", `UPDATE `+l.c.Table+` SET `+l.c.Owner+` = $2, `+l.c.Until+` = `+l.Ends("$3")+`
		WHERE `+l.c.Key+` = $1 AND (`+l.Owned("$2")+` OR `+l.Free()+`)`, key, owner, d.Milliseconds())
}

// Renew extends owner's lease of row key to d from now. It reports false,
// changing nothing, when another has taken the lease since.
func (l *Leases) Renew(ctx context.Context, key, owner string, d time.Duration) (bool, error) {
	return l.exec(ctx, "renew", `UPDATE `+l.c.Table+` SET `+l.c.Until+` = `+l.Ends("$3")+`
		WHERE `+l.c.Key+` = $1 AND `+l.Owned("$2"), key, owner, d.Milliseconds())
}

// Release gives up owner's lease of row key, so that another may take it
// at once. It reports false, changing nothing, when another has taken the
// lease since.
func (l *Leases) Release(ctx context.Context, key, owner string) (bool, error) {
	return l.exec(ctx, "release", `UPDATE `+l.c.Table+` SET `+l.c.Until+` = `+l.released()+`
		WHERE `+l.c.Key+` = $1 AND `+l.Owned("$2"), key, owner)
}

// Expire ends the lease of row key now, whoever holds it, as a holder that
// stalled past its lease finds it. Tests use it to move a lease past its end
// in the database's clock without waiting.
func (l *Leases) Expire(ctx context.Context, key string) error {
	_, err := l.exec(ctx, "expire", `UPDATE `+l.c.Table+` SET `+l.c.Until+` = `+l.Ends("$2")+` WHERE `+l.c.Key+` = $1`,
		key, -time.Hour.Milliseconds())
	return err
}

// released is the value of Until of a released lease.
func (l *Leases) released() string {
	if l.c.Millis {
		return `0`
	}
	return `NULL`
}

func (l *Leases) exec(ctx context.Context, what, query string, args ...any) (bool, error) {
	res, err := l.db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s the lease of %s %v: %w", what, l.c.Table, args[0], err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s the lease of %s %v: %w", what, l.c.Table, args[0], err)
	}
	return n > 0, nil
}
