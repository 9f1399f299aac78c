package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fintech-banking/bank/internal/store"
)

// Report is the result of Verify: what was checked and every violation found.
type Report struct {
	Accounts     int      `json:"accounts"`
	Transactions int      `json:"transactions"`
	Postings     int      `json:"postings"`
	Currencies   int      `json:"currencies"`
	Violations   []string `json:"violations"`
}

// OK reports whether the ledger is consistent.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Verify recomputes every balance from the postings and the holds and checks
// the ledger's invariants: each transaction's postings sum to zero and are in
// its currency; each account's posted balance is the sum of its postings and
// its pending balance the remainder of its pending holds; each currency's
// balances sum to zero; no customer account is below its floor; each
// balance checkpoint is its account's running balance at its moment. It
// reads in one transaction, so the figures are of one moment.
func (l *Ledger) Verify(ctx context.Context) (*Report, error) {
	r := &Report{Violations: []string{}}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if l.db.Dialect == store.Postgres {
		if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
			return nil, err
		}
	}
	checks := []struct {
		what  string
		query string
	}{
		{"transaction postings do not sum to zero", `SELECT t.id, COALESCE(SUM(p.amount), 0) FROM transactions t
			LEFT JOIN postings p ON p.transaction_id = t.id GROUP BY t.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.amount) < 2`},
		{"posting currency differs from its transaction's", `SELECT p.transaction_id, COUNT(*) FROM postings p
			JOIN transactions t ON t.id = p.transaction_id WHERE p.currency <> t.currency GROUP BY p.transaction_id`},
		{"posting currency differs from its account's", `SELECT p.account_id, COUNT(*) FROM postings p
			JOIN accounts a ON a.id = p.account_id WHERE p.currency <> a.currency GROUP BY p.account_id`},
		{"posted balance differs from the sum of postings by", `SELECT a.id, a.posted - COALESCE(s.total, 0) FROM accounts a
			LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
			WHERE a.posted <> COALESCE(s.total, 0)`},
		{"pending balance differs from the open holds by", `SELECT a.id, a.pending - COALESCE(h.total, 0) FROM accounts a
			LEFT JOIN (SELECT account_id, SUM(amount - captured) AS total FROM holds WHERE status = 'pending' GROUP BY account_id) h
			ON h.account_id = a.id WHERE a.pending <> COALESCE(h.total, 0)`},
		{"posting of an unknown transaction", `SELECT p.transaction_id, COUNT(*) FROM postings p
			LEFT JOIN transactions t ON t.id = p.transaction_id WHERE t.id IS NULL GROUP BY p.transaction_id`},
		{"posting to an unknown account", `SELECT p.account_id, COUNT(*) FROM postings p
			LEFT JOIN accounts a ON a.id = p.account_id WHERE a.id IS NULL GROUP BY p.account_id`},
		{"reversal of an unknown transaction", `SELECT r.id, 1 FROM transactions r
			LEFT JOIN transactions t ON t.id = r.reverses_id WHERE r.reverses_id IS NOT NULL AND t.id IS NULL`},
		{"currency balances do not sum to zero", `SELECT currency, SUM(posted) FROM accounts GROUP BY currency HAVING SUM(posted) <> 0`},
		// A checkpoint sits at a moment some posting of its account was made
		// at, and holds the account's running balance there.
		{"balance checkpoint differs from the sum of postings by", `SELECT c.account_id, c.posted - COALESCE(r.run, 0)
			FROM balance_checkpoints c LEFT JOIN (
				SELECT account_id, created_at, SUM(SUM(amount)) OVER (PARTITION BY account_id ORDER BY created_at) AS run
				FROM postings WHERE account_id IN (SELECT account_id FROM balance_checkpoints) GROUP BY account_id, created_at
			) r ON r.account_id = c.account_id AND r.created_at = c.at
			WHERE r.run IS NULL OR c.posted <> r.run`},
		{"available balance below zero", `SELECT id, posted - pending + overdraft_limit FROM accounts
			WHERE owner_id IS NOT NULL AND posted - pending + overdraft_limit < 0`},
	}
	for _, c := range checks {
		found, err := violations(ctx, tx, c.query)
		if err != nil {
			return nil, fmt.Errorf("verify %q: %w", c.what, err)
		}
		for _, v := range found {
			r.Violations = append(r.Violations, c.what+": "+v)
		}
	}
	for _, c := range []struct {
		n *int
		q string
	}{
		{&r.Accounts, `SELECT COUNT(*) FROM accounts`},
		{&r.Transactions, `SELECT COUNT(*) FROM transactions`},
		{&r.Postings, `SELECT COUNT(*) FROM postings`},
		{&r.Currencies, `SELECT COUNT(DISTINCT currency) FROM accounts`},
	} {
		if err := tx.QueryRowContext(ctx, c.q).Scan(c.n); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// violations runs one check, whose rows are (id, amount), and returns a line
// per row. A scan cut short is an error, never a clean report.
func violations(ctx context.Context, tx *sql.Tx, query string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s (%d)", id, n))
	}
	return out, rows.Err()
}
