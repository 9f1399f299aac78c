package ledger

import (
	"context"
	"fmt"
)

// CheckBalances is the cheap part of Verify, meant to run every minute: it
// reads the accounts table only, not the postings. It returns how many
// currencies have balances that do not sum to zero plus how many customer
// accounts are below their floor; both are 0 in a sound ledger.
func (l *Ledger) CheckBalances(ctx context.Context) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT currency FROM accounts GROUP BY currency HAVING SUM(posted) <> 0) c) +
		(SELECT COUNT(*) FROM accounts WHERE owner_id IS NOT NULL AND posted - pending + overdraft_limit < 0)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("check balances: %w", err)
	}
	return n, nil
}
