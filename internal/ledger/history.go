package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Transaction returns the transaction id with its postings if p may see it:
// staff, or the owner of one of its accounts. KindNotFound otherwise.
func (l *Ledger) Transaction(ctx context.Context, p bank.Principal, id string) (*Transaction, error) {
	missing := bank.Errorf(bank.KindNotFound, "transaction_not_found", "transaction %s not found", id)
	if bank.CheckID("id", id) != nil {
		return nil, missing
	}
	txs, err := loadTransactions(ctx, sqlQuery(l.db), l.db.Dialect, []string{id})
	if err != nil {
		return nil, fmt.Errorf("get transaction: %w", err)
	}
	if len(txs) == 0 {
		return nil, missing
	}
	t := txs[0]
	if p.Staff() {
		return t, nil
	}
	ids := make([]string, len(t.Postings))
	for i, ps := range t.Postings {
		ids[i] = ps.AccountID
	}
	cond, arg := inList(l.db.Dialect, "id", 2, ids)
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE owner_id = $1 AND `+cond,
		p.UserID, arg).Scan(&n); err != nil {
		return nil, fmt.Errorf("get transaction: %w", err)
	}
	if n == 0 {
		return nil, missing
	}
	return t, nil
}

// HistoryFilter bounds an account's history in time (From inclusive, To
// exclusive) and to the transactions carrying every pair of Metadata.
type HistoryFilter struct {
	From, To *time.Time
	Metadata bank.Metadata
	Page
}

// History lists the transactions of an account p may see, newest first. Pages
// follow (created_at, id) keysets, so rows inserted meanwhile never shift a
// page: they are newer than the first page or land between existing keys.
func (l *Ledger) History(ctx context.Context, p bank.Principal, accountID string, f HistoryFilter) ([]*Transaction, string, error) {
	if _, err := l.Account(ctx, p, accountID); err != nil {
		return nil, "", err
	}
	cur, err := bank.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	if err := bank.CheckMetadata("metadata", f.Metadata); err != nil {
		return nil, "", err
	}
	q := `SELECT transaction_id, created_at FROM postings WHERE account_id = $1`
	args := []any{accountID}
	if f.From != nil {
		args = append(args, f.From.UTC())
		q += fmt.Sprintf(` AND created_at >= $%d`, len(args))
	}
	if f.To != nil {
		args = append(args, f.To.UTC())
		q += fmt.Sprintf(` AND created_at < $%d`, len(args))
	}
	q, args = matchMetadata(l.db.Dialect, q, args, kindTransaction, "transaction_id", f.Metadata)
	q, args = cur.NewestFirst(q, args, "transaction_id", f.Limit)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list transactions: %w", err)
	}
	defer rows.Close()
	var keys []bank.Cursor
	for rows.Next() {
		var k bank.Cursor
		if err := rows.Scan(&k.ID, &k.At); err != nil {
			return nil, "", err
		}
		k.At = k.At.UTC()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list transactions: %w", err)
	}
	keys, next := bank.OnePage(keys, f.Limit, func(k bank.Cursor) bank.Cursor { return k })
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	txs, err := loadTransactions(ctx, sqlQuery(l.db), l.db.Dialect, ids)
	if err != nil {
		return nil, "", err
	}
	if txs == nil {
		txs = []*Transaction{}
	}
	return txs, next, nil
}
