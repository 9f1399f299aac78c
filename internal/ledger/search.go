package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
)

// The ledger is the embedded search.Index: it searches its own tables,
// whose text index the database keeps in step with every insert (migration
// 0016: an FTS5 table filled by a trigger on SQLite, an expression GIN index
// on PostgreSQL). Nothing outside the ledger's write can make it drift.
var _ search.Index = (*Ledger)(nil)

// Search returns one page of the transactions q finds, newest first. It
// returns KindInvalid for a query search.Query.Validate refuses.
func (l *Ledger) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if err := q.Validate(); err != nil {
		return search.Page{}, err
	}
	where, args := searchWhere(l.db.Dialect, q)
	query, args := q.After.NewestFirst(`SELECT t.id, t.created_at FROM transactions t WHERE `+where, args, "t.id", q.Limit)
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return search.Page{}, fmt.Errorf("search transactions: %w", err)
	}
	defer rows.Close()
	var hits []search.Hit
	for rows.Next() {
		var h search.Hit
		if err := rows.Scan(&h.ID, &h.At); err != nil {
			return search.Page{}, fmt.Errorf("search transactions: %w", err)
		}
		h.At = h.At.UTC()
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return search.Page{}, fmt.Errorf("search transactions: %w", err)
	}
	return search.NextPage(hits, q.Limit), nil
}

// Count returns how many transactions q finds, whatever its page.
func (l *Ledger) Count(ctx context.Context, q search.Query) (int64, error) {
	q.Limit = 1
	if err := q.Validate(); err != nil {
		return 0, err
	}
	where, args := searchWhere(l.db.Dialect, q)
	var n int64
	if err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM transactions t WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count transactions: %w", err)
	}
	return n, nil
}

// searchWhere returns the condition on transactions t that q's filters make,
// and its arguments. Text becomes a query of terms built here, each quoted,
// never the caller's text: search.Terms leaves only letters and digits.
func searchWhere(d store.Dialect, q search.Query) (string, []any) {
	conds := []string{"TRUE"}
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if terms := search.Terms(q.Text); q.Text != "" && len(terms) == 0 {
		// Text of nothing but punctuation finds nothing.
		conds = append(conds, "FALSE")
	} else if len(terms) > 0 {
		if d == store.Postgres {
			// 'term':* is a prefix match; & joins them.
			for i, t := range terms {
				terms[i] = "'" + t + "':*"
			}
			add(`to_tsvector('simple', t.description) @@ to_tsquery('simple', $%d)`, strings.Join(terms, " & "))
		} else {
			// "term"* is a prefix match; a space joins them with AND.
			for i, t := range terms {
				terms[i] = `"` + t + `"*`
			}
			add(`t.id IN (SELECT transaction_id FROM transactions_search WHERE transactions_search MATCH $%d)`, strings.Join(terms, " "))
		}
	}
	if q.OwnerID != "" {
		add(`t.id IN (SELECT transaction_id FROM postings WHERE account_id IN (SELECT id FROM accounts WHERE owner_id = $%d))`, q.OwnerID)
	}
	if q.AccountID != "" {
		add(`t.id IN (SELECT transaction_id FROM postings WHERE account_id = $%d)`, q.AccountID)
	}
	if q.From != nil {
		add(`t.created_at >= $%d`, q.From.UTC())
	}
	if q.To != nil {
		add(`t.created_at < $%d`, q.To.UTC())
	}
	if q.MinAmount != nil {
		add(`t.amount >= $%d`, *q.MinAmount)
	}
	if q.MaxAmount != nil {
		add(`t.amount <= $%d`, *q.MaxAmount)
	}
	if q.Type != "" {
		add(`t.type = $%d`, q.Type)
	}
	return strings.Join(conds, " AND "), args
}

// Found is a transaction a search found, with the display names of the
// accounts of its postings.
type Found struct {
	*Transaction
	AccountNames map[string]string `json:"account_names"`
}

// Found returns the transactions ids that p may see, in the order of ids,
// with their accounts' names: a search's page made whole. An id p may not
// see, or that is not a transaction, is left out, so an index that was
// wrong about an owner still shows a customer nothing of another's.
func (l *Ledger) Found(ctx context.Context, p bank.Principal, ids []string) ([]Found, error) {
	txs, err := loadTransactions(ctx, sqlQuery(l.db), l.db.Dialect, ids)
	if err != nil {
		return nil, err
	}
	var accountIDs []string
	for _, t := range txs {
		for _, ps := range t.Postings {
			accountIDs = append(accountIDs, ps.AccountID)
		}
	}
	accountIDs = sortedUnique(accountIDs)
	type named struct{ name, owner string }
	accounts := make(map[string]named, len(accountIDs))
	if len(accountIDs) > 0 {
		cond, arg := inList(l.db.Dialect, "id", 1, accountIDs)
		rows, err := l.db.QueryContext(ctx, `SELECT id, name, owner_id FROM accounts WHERE `+cond, arg)
		if err != nil {
			return nil, fmt.Errorf("load account names: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, name string
			var owner sql.NullString
			if err := rows.Scan(&id, &name, &owner); err != nil {
				return nil, fmt.Errorf("load account names: %w", err)
			}
			accounts[id] = named{name, owner.String}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load account names: %w", err)
		}
	}
	found := make([]Found, 0, len(txs))
	for _, t := range txs {
		f := Found{Transaction: t, AccountNames: make(map[string]string, len(t.Postings))}
		visible := p.Staff()
		for _, ps := range t.Postings {
			a := accounts[ps.AccountID]
			f.AccountNames[ps.AccountID] = a.name
			visible = visible || (a.owner != "" && a.owner == p.UserID)
		}
		if visible {
			found = append(found, f)
		}
	}
	return found, nil
}

// Documents returns up to limit transactions created at or after since and
// after the keyset after (nil: from since), oldest first, as search
// documents: what "bank search reindex" feeds an index outside the
// database.
func (l *Ledger) Documents(ctx context.Context, since time.Time, after *bank.Cursor, limit int) ([]search.Document, error) {
	q := `SELECT id FROM transactions WHERE created_at >= $1`
	args := []any{since.UTC()}
	if after != nil {
		args = append(args, after.At.UTC(), after.ID)
		q += ` AND (created_at, id) > ($2, $3)`
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, len(args))
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read transactions to index: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read transactions to index: %w", err)
		}
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("read transactions to index: %w", err)
	}
	found, err := l.Found(ctx, bank.Principal{Role: bank.RoleOperator}, ids)
	if err != nil {
		return nil, err
	}
	owners, err := l.owners(ctx, found)
	if err != nil {
		return nil, err
	}
	docs := make([]search.Document, len(found))
	for i, f := range found {
		d := search.Document{ID: f.ID, Type: f.Type, Amount: f.Amount, Currency: string(f.Currency),
			Description: f.Description, CreatedAt: f.CreatedAt, AccountIDs: []string{}, OwnerIDs: []string{}}
		for _, p := range f.Postings {
			d.AccountIDs = append(d.AccountIDs, p.AccountID)
			if o := owners[p.AccountID]; o != "" {
				d.OwnerIDs = append(d.OwnerIDs, o)
			}
		}
		docs[i] = d
	}
	return docs, nil
}

// owners returns the owner of each account of found's postings that has
// one.
func (l *Ledger) owners(ctx context.Context, found []Found) (map[string]string, error) {
	var ids []string
	for _, f := range found {
		for _, p := range f.Postings {
			ids = append(ids, p.AccountID)
		}
	}
	owners := map[string]string{}
	if ids = sortedUnique(ids); len(ids) == 0 {
		return owners, nil
	}
	cond, arg := inList(l.db.Dialect, "id", 1, ids)
	rows, err := l.db.QueryContext(ctx, `SELECT id, owner_id FROM accounts WHERE owner_id IS NOT NULL AND `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("read account owners: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, owner string
		if err := rows.Scan(&id, &owner); err != nil {
			return nil, fmt.Errorf("read account owners: %w", err)
		}
		owners[id] = owner
	}
	return owners, rows.Err()
}
