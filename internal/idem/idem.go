// Package idem is the one store of idempotent answers, for every
// money-moving POST: the ledger's (deposits, transfers, holds, …) and
// payments. It is the table idempotency_keys: per user and Idempotency-Key,
// the fingerprint of the request the key was first used with, how that
// request was decided (an Outcome, not an HTTP status) and the answer's
// bytes. Whoever keeps an answer keeps it in the same database transaction
// as the change it answers.
//
// One semantics, whichever service keeps the key:
//   - the same key and the same request: the kept answer again, byte for
//     byte, marked replayed;
//   - the same key and another request: KindRejected idempotency_key_reused;
//   - the same key while its first request is still running in this
//     process: KindConflict request_in_progress (InFlight). In another
//     process the second request waits at the key's insert until the first
//     commits, fails there with a unique violation, and its retry replays;
//   - what is kept: a success (Created, Changed) or a refusal by a rule
//     (Refused, its error document). What never began (invalid input, not
//     found, forbidden, a failure) stores nothing, so the client may retry it
//     with the same key.
//
// The ledger writes its keys set-based in its batch transaction
// (internal/ledger, postgres.go) with the columns and values of this
// package; other services keep theirs one at a time with Keep.
package idem

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Request is a request's Idempotency-Key and the fingerprint of the decoded
// request it was first used with.
type Request struct {
	Key  string
	Hash string
}

// Outcome is how a request with a key was decided, as kept with its answer.
type Outcome string

const (
	Created Outcome = "created" // something was made: a transaction, a hold, a payment; the body is its JSON
	Changed Outcome = "changed" // something that existed changed (a hold voided); the body is its JSON
	Refused Outcome = "refused" // a rule refused the request; the body is its error document
)

// LegacyStatus is what the release before outcomes kept instead of one, the
// HTTP status of the answer. It is still written beside the outcome while a
// replica of that release may run (migration 0011), and is how that
// release's rows are read (OutcomeOf).
func (o Outcome) LegacyStatus() int32 {
	switch o {
	case Created:
		return 201
	case Refused:
		return 422
	}
	return 200
}

// OutcomeOf reads a row's outcome: its own, or for a row of the release
// before outcomes, its status.
func OutcomeOf(kept sql.NullString, status int) Outcome {
	switch {
	case kept.Valid:
		return Outcome(kept.String)
	case status == 201:
		return Created
	case status == 422:
		return Refused
	}
	return Changed
}

// Kept is a row of idempotency_keys: the answer kept for a user's key. The
// ledger may keep, instead of the answer, the id of the transaction that is
// the answer (TransactionID) and an empty body, when the transaction's
// rebuild reproduces the answer byte for byte.
type Kept struct {
	User, Key, Hash string
	Outcome         Outcome
	Body            []byte
	TransactionID   string
}

// Matches reports whether the key was first used with the request of
// fingerprint hash. It compares in constant time.
func (k *Kept) Matches(hash string) bool {
	return subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) == 1
}

// Reused is the answer to a key used again with another request.
func Reused() error {
	return bank.Errorf(bank.KindRejected, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
}

// InProgress is the answer to a key whose first request is still running.
func InProgress() error {
	return bank.Errorf(bank.KindConflict, "request_in_progress", "a request with this Idempotency-Key is still being processed")
}

// Columns are the columns of idempotency_keys that a Kept reads, in the
// order Scan takes them.
const Columns = `user_id, key, request_hash, status, outcome, response, transaction_id`

// SelectSQL reads kept answers; the caller completes its WHERE.
const SelectSQL = `SELECT ` + Columns + ` FROM idempotency_keys WHERE `

// InsertSQL keeps one answer; Args are its arguments.
const InsertSQL = `INSERT INTO idempotency_keys (` + Columns + `, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// Args are k's arguments of InsertSQL, kept at now.
func (k *Kept) Args(now time.Time) []any {
	var tx any
	if k.TransactionID != "" {
		tx = k.TransactionID
	}
	return []any{k.User, k.Key, k.Hash, k.Outcome.LegacyStatus(), string(k.Outcome), k.Body, tx, now}
}

// Scan reads a row of Columns.
func Scan(s interface{ Scan(dest ...any) error }) (Kept, error) {
	var k Kept
	var status int
	var out, tx sql.NullString
	if err := s.Scan(&k.User, &k.Key, &k.Hash, &status, &out, &k.Body, &tx); err != nil {
		return Kept{}, err
	}
	k.Outcome, k.TransactionID = OutcomeOf(out, status), tx.String
	return k, nil
}

// Querier and Execer are what Find and Keep need of a transaction.
type (
	Querier interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	Execer interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
)

// Find returns the answer kept for user's key, nil when there is none.
func Find(ctx context.Context, q Querier, user, key string) (*Kept, error) {
	k, err := Scan(q.QueryRowContext(ctx, SelectSQL+`user_id = $1 AND key = $2`, user, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	return &k, nil
}

// Keep stores k, at now, in the caller's transaction. Another request that
// kept the same user's key first makes it fail with a unique violation:
// the caller's retry then finds that answer.
func Keep(ctx context.Context, e Execer, now time.Time, k Kept) error {
	if _, err := e.ExecContext(ctx, InsertSQL, k.Args(now)...); err != nil {
		return fmt.Errorf("keep idempotency key: %w", err)
	}
	return nil
}

// InFlight is the keys whose requests are running in this process. The zero
// value is ready to use.
type InFlight struct {
	mu   sync.Mutex
	keys map[[2]string]bool
}

// Begin marks user's key in flight and returns the function that ends it;
// InProgress when it already is.
func (f *InFlight) Begin(user, key string) (end func(), err error) {
	k := [2]string{user, key}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys[k] {
		return nil, InProgress()
	}
	if f.keys == nil {
		f.keys = map[[2]string]bool{}
	}
	f.keys[k] = true
	return func() {
		f.mu.Lock()
		delete(f.keys, k)
		f.mu.Unlock()
	}, nil
}
