package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// Statement is the head of an account's statement over [From, To]: its
// opening balance is the posted balance just before From, its closing balance
// the posted balance at To, and its lines, oldest first, take the one to the
// other.
type Statement struct {
	AccountID      string        `json:"account_id"`
	Currency       bank.Currency `json:"currency"`
	From           time.Time     `json:"from"`
	To             time.Time     `json:"to"`
	OpeningBalance int64         `json:"opening_balance"`
	ClosingBalance int64         `json:"closing_balance"`

	// Account is the account as it is now, for a statement's header.
	Account *Account `json:"-"`
}

// StatementLine is one posting of a statement: its transaction, its signed
// amount (negative: debit) and the balance after it.
type StatementLine struct {
	TransactionID string    `json:"transaction_id"`
	CreatedAt     time.Time `json:"created_at"`
	Type          string    `json:"type"`
	Description   string    `json:"description"`
	Amount        int64     `json:"amount"`
	Balance       int64     `json:"balance"`
}

// StatementWriter receives a statement as it is read: its head first, then
// each line, oldest first. An error from either stops the reading.
type StatementWriter interface {
	Head(s *Statement) error
	Line(ln StatementLine) error
}

// ClosingLater is implemented by a StatementWriter that does not read the
// closing balance in Head (a CSV file shows it as the last line's balance):
// Statement then reads the postings of the range once, for the lines, and
// sets the closing balance where they end, instead of summing the range
// first to have it ready for Head.
type ClosingLater interface {
	StatementWriter
	ClosingLater()
}

// Statement reads the statement of account id over [from, to] (both
// inclusive, taken to the microsecond) into w, without holding its lines in
// memory. It reads in one transaction, so the head and the lines are of one
// moment, and, unless w is a ClosingLater, checks that the lines take the
// opening balance to the closing one. It returns KindNotFound when p may not see the account and
// KindInvalid (code invalid_time_range) when from is after to; errors of w
// are returned as they are.
func (l *Ledger) Statement(ctx context.Context, p bank.Principal, id string, from, to time.Time, w StatementWriter) error {
	from, to = from.UTC().Truncate(time.Microsecond), to.UTC().Truncate(time.Microsecond)
	if from.After(to) {
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_time_range", Message: "from must not be after to",
			Details: map[string]string{"from": "must not be after to"}}
	}
	a, err := l.Account(ctx, p, id)
	if err != nil {
		return err
	}
	opts := &sql.TxOptions{ReadOnly: true} // SQLite: a deferred BEGIN, a snapshot taking no lock
	if l.db.Dialect == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := l.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	defer tx.Rollback()
	q := sqlQuery(tx)
	s := &Statement{AccountID: a.ID, Currency: a.Currency, From: from, To: to, Account: a}
	// Opening: every posting before from, i.e. at or before the microsecond
	// before it, since created_at is kept to the microsecond.
	var cps []checkpoint
	if s.OpeningBalance, cps, err = l.balanceAt(ctx, q, a.ID, from.Add(-time.Microsecond)); err != nil {
		return fmt.Errorf("statement: opening balance: %w", err)
	}
	// Closing: the opening and the sum of the range, added up by the
	// database. Walking the postings up to to again, as a balance read
	// does, would read every line of the statement twice. A writer that
	// needs it only after the lines gets where they end.
	_, later := w.(ClosingLater)
	if !later {
		moved, err := rangeSum(ctx, q, a.ID, from, to)
		if err != nil {
			return fmt.Errorf("statement: closing balance: %w", err)
		}
		s.ClosingBalance = s.OpeningBalance + moved
	}
	if err := w.Head(s); err != nil {
		return err
	}
	balance, err := statementLines(ctx, q, l.db.Dialect, s, w)
	if err != nil {
		return err
	}
	if later {
		s.ClosingBalance = balance
	}
	if balance != s.ClosingBalance {
		return fmt.Errorf("statement of %s: the lines end at %d, the closing balance is %d", a.ID, balance, s.ClosingBalance)
	}
	tx.Rollback()
	l.saveCheckpoints(ctx, a.ID, cps)
	return nil
}

// rangeSum is the sum of the postings of account id over [from, to].
func rangeSum(ctx context.Context, q query, id string, from, to time.Time) (int64, error) {
	rs, done, err := q(ctx, `SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM postings
		WHERE account_id = $1 AND created_at >= $2 AND created_at <= $3`, id, from, to)
	if err != nil {
		return 0, err
	}
	defer done()
	var sum int64
	if rs.Next() {
		err = rs.Scan(&sum)
	}
	if err == nil {
		err = rs.Err()
	}
	return sum, err
}

// statementLines hands the postings of s to w one by one, oldest first (ties
// by transaction id), and returns the balance after the last.
func statementLines(ctx context.Context, q query, d store.Dialect, s *Statement, w StatementWriter) (int64, error) {
	// SQLite keeps times as text, which its driver parses for every row of
	// a DATETIME column by trying layouts until one fits, the first one
	// always failing: the column read as plain text (an expression has no
	// declared type) is parsed once, with the layout the store writes.
	createdAt := "p.created_at"
	if d == store.SQLite {
		createdAt = "CAST(p.created_at AS TEXT)"
	}
	rs, done, err := q(ctx, `SELECT p.transaction_id, `+createdAt+`, t.type, t.description, p.amount
		FROM postings p JOIN transactions t ON t.id = p.transaction_id
		WHERE p.account_id = $1 AND p.created_at >= $2 AND p.created_at <= $3
		ORDER BY p.created_at, p.transaction_id`, s.AccountID, s.From, s.To)
	if err != nil {
		return 0, fmt.Errorf("statement lines: %w", err)
	}
	defer done()
	balance := s.OpeningBalance
	for rs.Next() {
		var ln StatementLine
		if err := rs.Scan(&ln.TransactionID, (*storedTime)(&ln.CreatedAt), &ln.Type, &ln.Description, &ln.Amount); err != nil {
			return 0, fmt.Errorf("statement lines: %w", err)
		}
		balance += ln.Amount
		ln.CreatedAt, ln.Balance = ln.CreatedAt.UTC(), balance
		if err := w.Line(ln); err != nil {
			return 0, err
		}
	}
	if err := rs.Err(); err != nil {
		return 0, fmt.Errorf("statement lines: %w", err)
	}
	return balance, nil
}

// storedTime scans a time as either database gives it: a time.Time
// (PostgreSQL) or SQLite's text.
type storedTime time.Time

// sqliteLayouts are the layouts of SQLite's times: the one the store
// writes (the driver's _time_format=sqlite) first.
var sqliteLayouts = []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func (t *storedTime) Scan(v any) error {
	var text string
	switch v := v.(type) {
	case time.Time:
		*t = storedTime(v)
		return nil
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("a time stored as %T", v)
	}
	for _, layout := range sqliteLayouts {
		if p, err := time.Parse(layout, text); err == nil {
			*t = storedTime(p)
			return nil
		}
	}
	return fmt.Errorf("a time stored as %q", text)
}
