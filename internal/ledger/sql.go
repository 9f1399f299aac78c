package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/store"
)

// SQL shared by both databases: row scanning and lookups outside the write
// path. The write path's own SQL is in sqlite.go and postgres.go.

const accountColumns = `id, owner_id, number, name, type, currency, status, overdraft_limit, posted, pending, created_at`

// accountReadColumns are an account's columns as its reads show it. The
// write path reads accountColumns: it never shows an account, and would
// otherwise decode the metadata of every account of every transfer.
const accountReadColumns = accountColumns + `, metadata`

type scanner interface{ Scan(dest ...any) error }

// rows is what both database/sql and pgx return from a query.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanAccount(s scanner) (*Account, error) {
	var a Account
	var owner sql.NullString
	if err := s.Scan(&a.ID, &owner, &a.Number, &a.Name, &a.Type, &a.Currency, &a.Status,
		&a.OverdraftLimit, &a.Balance.Posted, &a.Balance.Pending, &a.CreatedAt); err != nil {
		return nil, err
	}
	a.OwnerID = owner.String
	a.CreatedAt = a.CreatedAt.UTC()
	a.setAvailable()
	return &a, nil
}

// scanAccountRead scans a row of accountReadColumns.
func scanAccountRead(s scanner) (*Account, error) {
	var md *string
	a, err := scanAccount(scanFunc(func(dest ...any) error { return s.Scan(append(dest, &md)...) }))
	if err != nil {
		return nil, err
	}
	if a.Metadata, err = bank.ParseMetadata(md); err != nil {
		return nil, fmt.Errorf("account %s: its metadata: %w", a.ID, err)
	}
	return a, nil
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// inList returns SQL matching column against ids, and its argument: an array
// on PostgreSQL, a JSON array on SQLite.
func inList(d store.Dialect, column string, n int, ids []string) (string, any) {
	if d == store.Postgres {
		return fmt.Sprintf("%s = ANY($%d)", column, n), ids
	}
	b, _ := json.Marshal(ids)
	return fmt.Sprintf("%s IN (SELECT value FROM json_each($%d))", column, n), string(b)
}

const holdColumns = `id, account_id, amount, captured, currency, status, description, created_by, expires_at, created_at, updated_at, metadata`

const insertHoldSQL = `INSERT INTO holds (` + holdColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func scanHold(s scanner) (*Hold, error) {
	var h Hold
	var expires sql.NullTime
	var md *string
	if err := s.Scan(&h.ID, &h.AccountID, &h.Amount, &h.CapturedAmount, &h.Currency, &h.Status,
		&h.Description, &h.createdBy, &expires, &h.CreatedAt, &h.updatedAt, &md); err != nil {
		return nil, err
	}
	var err error
	if h.Metadata, err = bank.ParseMetadata(md); err != nil {
		return nil, fmt.Errorf("hold %s: its metadata: %w", h.ID, err)
	}
	if expires.Valid {
		t := expires.Time.UTC()
		h.ExpiresAt = &t
	}
	h.CreatedAt = h.CreatedAt.UTC()
	return &h, nil
}

// query runs a query and returns its rows and how to close them: the one
// shape of database/sql and pgx that the shared code needs.
type query func(ctx context.Context, sql string, args ...any) (rows, func(), error)

// sqlQuery adapts a database/sql handle (DB or Tx) to query.
func sqlQuery(q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) query {
	return func(ctx context.Context, s string, args ...any) (rows, func(), error) {
		rs, err := q.QueryContext(ctx, s, args...)
		if err != nil {
			return nil, nil, err
		}
		return rs, func() { rs.Close() }, nil
	}
}

// loadTransactions returns the transactions ids with their postings, in the
// order of ids; missing ones are left out.
func loadTransactions(ctx context.Context, q query, d store.Dialect, ids []string) ([]*Transaction, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cond, arg := inList(d, "id", 1, ids)
	rows, done, err := q(ctx, `SELECT id, type, amount, currency, description, created_by,
		reverses_id, hold_id, created_at, metadata FROM transactions WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("load transactions: %w", err)
	}
	byID := map[string]*Transaction{}
	for rows.Next() {
		var t Transaction
		var reverses, hold sql.NullString
		var md *string
		if err := rows.Scan(&t.ID, &t.Type, &t.Amount, &t.Currency, &t.Description, &t.createdBy,
			&reverses, &hold, &t.CreatedAt, &md); err != nil {
			done()
			return nil, err
		}
		if t.Metadata, err = bank.ParseMetadata(md); err != nil {
			done()
			return nil, fmt.Errorf("transaction %s: its metadata: %w", t.ID, err)
		}
		t.Status, t.ReversesID, t.HoldID, t.CreatedAt = "posted", reverses.String, hold.String, t.CreatedAt.UTC()
		byID[t.ID] = &t
	}
	err = rows.Err()
	done()
	if err != nil {
		return nil, err
	}
	cond, arg = inList(d, "transaction_id", 1, ids)
	// Debits first, then credits: the order the postings were written in.
	rows, done, err = q(ctx, `SELECT transaction_id, account_id, amount FROM postings WHERE `+
		cond+` ORDER BY transaction_id, amount, account_id`, arg)
	if err != nil {
		return nil, fmt.Errorf("load postings: %w", err)
	}
	defer done()
	for rows.Next() {
		var id string
		var p Posting
		if err := rows.Scan(&id, &p.AccountID, &p.Amount); err != nil {
			return nil, err
		}
		if t := byID[id]; t != nil {
			t.Postings = append(t.Postings, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []*Transaction
	for _, id := range ids {
		if t := byID[id]; t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

func sortedUnique(ids []string) []string {
	ids = slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "" })
	slices.Sort(ids)
	return slices.Compact(ids)
}

// SystemAccountID is the id of the bank's own account of type typ in currency
// c: "system-cash-EUR".
func SystemAccountID(typ string, c bank.Currency) string {
	return "system-" + typ + "-" + string(c)
}

// scanAccounts adds the accounts of rs to b.
func scanAccounts(b *batch, rs rows) error {
	for rs.Next() {
		a, err := scanAccount(rs)
		if err != nil {
			return err
		}
		b.accounts[a.ID] = a
	}
	return rs.Err()
}

func scanHolds(b *batch, rs rows) error {
	for rs.Next() {
		h, err := scanHold(rs)
		if err != nil {
			return err
		}
		b.holds[h.ID] = h
	}
	return rs.Err()
}

// scanStored adds the kept answers of rs to b, keeping only the pairs p
// asked for.
func scanStored(b *batch, p *loadPlan, rs rows) error {
	asked := make(map[idemKey]bool, len(p.keys))
	for i := range p.keys {
		asked[idemKey{p.users[i], p.keys[i]}] = true
	}
	for rs.Next() {
		s, err := idem.Scan(rs)
		if err != nil {
			return err
		}
		if k := (idemKey{s.User, s.Key}); asked[k] {
			b.stored[k] = s
		}
	}
	return rs.Err()
}

func scanReversed(b *batch, rs rows) error {
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return err
		}
		b.reversed[id] = true
	}
	return rs.Err()
}

// The write path's reads, completed per dialect.
const (
	accountsSQL = `SELECT ` + accountColumns + ` FROM accounts WHERE `
	holdsSQL    = `SELECT ` + holdColumns + ` FROM holds WHERE `
)

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
