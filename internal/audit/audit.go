// Package audit is the one writer of the audit trail (audit_log, which the
// database keeps append-only): who did what to what, when and from where.
// Every service that records an action writes it here, in the transaction of
// the action itself, so that an action that commits is recorded and one that
// does not leaves no record.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
)

// Record is one record of the audit trail: who (ActorID, "" for nobody
// known) did what (Action) to whom or what (TargetID), from where (Origin),
// with details of the action.
type Record struct {
	ID       string
	ActorID  string
	Action   string
	TargetID string
	Origin   bank.Origin
	Details  map[string]string
}

// New returns a record of action by actorID on targetID, from o, with a new
// id.
func New(actorID, action, targetID string, o bank.Origin, details map[string]string) Record {
	return Record{ID: bank.NewID(), ActorID: actorID, Action: action, TargetID: targetID, Origin: o, Details: details}
}

// InsertSQL inserts one record, with the arguments Args returns: for a
// writer that sends its statements itself (the ledger's pipelined batch).
const InsertSQL = `INSERT INTO audit_log (id, occurred_at, actor_id, action, target_id, client_ip, request_id, details)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// Args returns the arguments of InsertSQL that record r as of at. Every
// string is made safe first (see Safe), so both databases store the same
// record whoever writes it.
func (r Record) Args(at time.Time) []any {
	details := make(map[string]string, len(r.Details))
	for k, v := range r.Details {
		details[Safe(k)] = Safe(v)
	}
	// A map of strings always marshals.
	d, _ := json.Marshal(details)
	return []any{r.ID, at, Safe(r.ActorID), Safe(r.Action), Safe(r.TargetID),
		Safe(r.Origin.ClientIP), Safe(r.Origin.RequestID), string(d)}
}

// Execer is what a transaction (or a database) offers to write with.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write writes r as of at through ex, the transaction of the action it
// records.
func Write(ctx context.Context, ex Execer, at time.Time, r Record) error {
	if _, err := ex.ExecContext(ctx, InsertSQL, r.Args(at)...); err != nil {
		return fmt.Errorf("write audit record %s: %w", r.Action, err)
	}
	return nil
}

// Safe returns s with each byte of invalid UTF-8 and each control character
// (NUL included) replaced by U+FFFD. A record must never fail to be written
// because of what a caller sent: PostgreSQL refuses NUL in text where SQLite
// would store it, and a control character would forge lines in whatever
// prints the trail.
func Safe(s string) string {
	// strings.Map hands each byte of invalid UTF-8 to the mapping as
	// utf8.RuneError, and writes that as U+FFFD.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
}
