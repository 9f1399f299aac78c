package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
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
	if q.OwnerID != "" && q.AccountID == "" && q.Text == "" {
		return l.searchOwner(ctx, q)
	}
	hits, err := l.searchHits(ctx, q)
	if err != nil {
		return search.Page{}, err
	}
	return search.NextPage(hits, q.Limit), nil
}

// maxMergedAccounts bounds the accounts whose pages searchOwner merges.
const maxMergedAccounts = 100

// searchOwner answers a search of one owner's transactions from a search
// of each of their accounts, merged: each reads its account's postings
// newest first and stops at a page, where one search of them all would
// read and sort every posting of every account (a hundred milliseconds for
// a customer with 20,000 transactions). The page is within the merge: a
// transaction among the first limit+1 of the owner is among the first
// limit+1 of the account it was found through. A transaction between two
// of the owner's accounts is found through both and kept once.
//
// Not with text: each account's search would then read the text index
// whole, once per account (measured on a million transactions, 8× slower
// than one search of them all).
func (l *Ledger) searchOwner(ctx context.Context, q search.Query) (search.Page, error) {
	var accounts []string
	rows, err := l.db.QueryContext(ctx, `SELECT id FROM accounts WHERE owner_id = $1 ORDER BY id`, q.OwnerID)
	if err != nil {
		return search.Page{}, fmt.Errorf("search transactions: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return search.Page{}, fmt.Errorf("search transactions: %w", err)
		}
		accounts = append(accounts, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return search.Page{}, fmt.Errorf("search transactions: %w", err)
	}
	if len(accounts) > maxMergedAccounts {
		hits, err := l.searchHits(ctx, q)
		if err != nil {
			return search.Page{}, err
		}
		return search.NextPage(hits, q.Limit), nil
	}
	var hits []search.Hit
	seen := map[string]bool{}
	for _, a := range accounts {
		one := q
		one.AccountID, one.OwnerID = a, "" // the owner's own account
		found, err := l.searchHits(ctx, one)
		if err != nil {
			return search.Page{}, err
		}
		for _, h := range found {
			if !seen[h.ID] {
				seen[h.ID] = true
				hits = append(hits, h)
			}
		}
	}
	slices.SortFunc(hits, func(a, b search.Hit) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID))
	})
	return search.NextPage(hits[:min(len(hits), q.Limit+1)], q.Limit), nil
}

// searchHits reads up to q.Limit+1 hits of q after its cursor.
func (l *Ledger) searchHits(ctx context.Context, q search.Query) ([]search.Hit, error) {
	from, at, id, where, args := searchSQL(l.db.Dialect, q)
	if q.After != nil {
		args = append(args, q.After.At.UTC(), q.After.ID)
		where += fmt.Sprintf(` AND (%s, %s) < ($%d, $%d)`, at, id, len(args)-1, len(args))
	}
	args = append(args, q.Limit+1)
	query := fmt.Sprintf(`SELECT t.id, t.created_at FROM %s WHERE %s ORDER BY %s DESC, %s DESC LIMIT $%d`, from, where, at, id, len(args))
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search transactions: %w", err)
	}
	defer rows.Close()
	var hits []search.Hit
	for rows.Next() {
		var h search.Hit
		if err := rows.Scan(&h.ID, &h.At); err != nil {
			return nil, fmt.Errorf("search transactions: %w", err)
		}
		h.At = h.At.UTC()
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search transactions: %w", err)
	}
	return hits, nil
}

// Count returns how many transactions q finds, whatever its page.
func (l *Ledger) Count(ctx context.Context, q search.Query) (int64, error) {
	q.Limit = 1
	if err := q.Validate(); err != nil {
		return 0, err
	}
	from, _, _, where, args := searchSQL(l.db.Dialect, q)
	var n int64
	if err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM `+from+` WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count transactions: %w", err)
	}
	return n, nil
}

// searchSQL returns the tables a search reads (transactions t, and
// postings p when it names an account or an owner), the columns of its
// order and keyset, and the condition q's filters make with its arguments.
//
// A search on an account or an owner reads that account's postings newest
// first (the index postings_history) and joins their transactions, rather
// than reading every transaction newest first and keeping those with a
// posting there. A transaction between two of an owner's accounts has a
// posting on each: only the one on the lower account id is read.
//
// Text becomes a query of terms built here, each quoted, never the
// caller's text: search.Terms leaves only letters and digits.
func searchSQL(d store.Dialect, q search.Query) (from, at, id, where string, args []any) {
	conds := []string{"TRUE"}
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "$n", fmt.Sprintf("$%d", len(args))))
	}
	from, at, id = "transactions t", "t.created_at", "t.id"
	const owned = `(SELECT id FROM accounts WHERE owner_id = $n)`
	switch {
	case q.AccountID != "":
		from, at, id = "postings p JOIN transactions t ON t.id = p.transaction_id", "p.created_at", "p.transaction_id"
		add(`p.account_id = $n`, q.AccountID)
		if q.OwnerID != "" {
			add(`t.id IN (SELECT transaction_id FROM postings WHERE account_id IN `+owned+`)`, q.OwnerID)
		}
	case q.OwnerID != "":
		from, at, id = "postings p JOIN transactions t ON t.id = p.transaction_id", "p.created_at", "p.transaction_id"
		add(`p.account_id IN `+owned+` AND NOT EXISTS (SELECT 1 FROM postings o WHERE o.transaction_id = p.transaction_id
			AND o.account_id < p.account_id AND o.account_id IN `+owned+`)`, q.OwnerID)
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
			add(`to_tsvector('simple', t.description) @@ to_tsquery('simple', $n)`, strings.Join(terms, " & "))
		} else {
			// "term"* is a prefix match; a space joins them with AND.
			for i, t := range terms {
				terms[i] = `"` + t + `"*`
			}
			add(`t.id IN (SELECT transaction_id FROM transactions_search WHERE transactions_search MATCH $n)`, strings.Join(terms, " "))
		}
	}
	if q.From != nil {
		add(at+` >= $n`, q.From.UTC())
	}
	if q.To != nil {
		add(at+` < $n`, q.To.UTC())
	}
	if q.MinAmount != nil {
		add(`t.amount >= $n`, *q.MinAmount)
	}
	if q.MaxAmount != nil {
		add(`t.amount <= $n`, *q.MaxAmount)
	}
	if q.Type != "" {
		add(`t.type = $n`, q.Type)
	}
	// Every pair of Metadata, on the index metadata filters use elsewhere:
	// containment on PostgreSQL, metadata_entries on SQLite.
	if md := bank.Metadata(q.Metadata); len(md) > 0 {
		if d == store.Postgres {
			add(`t.metadata @> $n::jsonb`, *md.Stored())
		} else {
			for _, k := range md.Keys() {
				args = append(args, kindTransaction, k, md[k])
				n := len(args)
				conds = append(conds, fmt.Sprintf(`t.id IN (SELECT object_id FROM metadata_entries WHERE kind = $%d AND key = $%d AND value = $%d)`, n-2, n-1, n))
			}
		}
	}
	return from, at, id, strings.Join(conds, " AND "), args
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
			Description: f.Description, CreatedAt: f.CreatedAt, AccountIDs: []string{}, OwnerIDs: []string{}, Metadata: f.Metadata}
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
