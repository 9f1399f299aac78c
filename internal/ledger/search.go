package ledger

import (
	"context"
	"database/sql"
	enchex "encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
)

// The ledger is the embedded search.Index: it searches its own tables,
// whose text index is written with every transaction in the same database
// transaction (migrations 0018 and 0020: an FTS5 table on SQLite, a GIN
// index over the description's words and the accounts' owners on
// PostgreSQL). Nothing outside the ledger's write can make it drift.
var _ search.Index = (*Ledger)(nil)

// Search returns one page of the transactions q finds, in q's order
// (search.Query.Compare). It returns KindInvalid for a query
// search.Query.Validate refuses.
func (l *Ledger) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if err := q.Validate(); err != nil {
		return search.Page{}, err
	}
	if q.Ranked() {
		return l.searchRanked(ctx, q)
	}
	if q.OwnerID != "" && q.AccountID == "" && q.Text == "" {
		return l.searchOwner(ctx, q)
	}
	hits, err := l.searchHits(ctx, q)
	if err != nil {
		return search.Page{}, err
	}
	return search.NextPage(q, hits), nil
}

// maxMergedAccounts bounds the accounts whose pages searchOwner merges.
const maxMergedAccounts = 100

// searchOwner answers a search of one owner's transactions without text
// from a search of each of their accounts, merged: each reads its account's
// postings newest first and stops at a page, where one search of them all
// would read and sort every posting of every account (a hundred
// milliseconds for a customer with 20,000 transactions). The page is within
// the merge: a transaction among the first limit+1 of the owner is among
// the first limit+1 of the account it was found through. A transaction
// between two of the owner's accounts is found through both and kept once.
// (With text, searchRanked finds the owner's transactions in the text
// index itself.)
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
		return search.NextPage(q, hits), nil
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
	slices.SortFunc(hits, q.Compare)
	return search.NextPage(q, hits[:min(len(hits), q.Limit+1)]), nil
}

// searchHits reads up to q.Limit+1 hits of q, newest first, after its
// cursor. q is not ranked.
func (l *Ledger) searchHits(ctx context.Context, q search.Query) ([]search.Hit, error) {
	from, at, id, where, args := searchSQL(l.db.Dialect, q)
	if q.After != nil {
		args = append(args, q.After.At.UTC(), q.After.ID)
		where += fmt.Sprintf(` AND (%s, %s) < ($%d, $%d)`, at, id, len(args)-1, len(args))
	}
	args = append(args, q.Limit+1)
	query := fmt.Sprintf(`SELECT t.id, t.created_at FROM %s WHERE %s ORDER BY %s DESC, %s DESC LIMIT $%d`, from, where, at, id, len(args))
	return l.scanHits(ctx, false, query, args)
}

// scanHits runs query and reads its rows as hits: id, time and, when
// ranked, score.
func (l *Ledger) scanHits(ctx context.Context, ranked bool, query string, args []any) ([]search.Hit, error) {
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search transactions: %w", err)
	}
	defer rows.Close()
	var hits []search.Hit
	for rows.Next() {
		var h search.Hit
		dest := []any{&h.ID, &h.At}
		if ranked {
			dest = append(dest, &h.Score)
		}
		if err := rows.Scan(dest...); err != nil {
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

// searchRanked answers a search with text: the newest matches, at most
// Config.SearchRankWindow (1,000) of them, most relevant first: ts_rank on
// PostgreSQL (normalized by the description's length, as bm25 is), bm25 on
// SQLite, over the description's words; ties newest first, then by id.
// Older matches are not ranked and not returned: a search that needs them
// narrows its time (to). Ranking every match would read and score all of
// them for each page (a sixth of a million for a common word), where the
// newest are read newest first and stop at the window.
//
// "Newest" is by (created_at, id) on PostgreSQL and by the order the text
// index received the transactions on SQLite (the order the ledger wrote
// them, which is their time's but for those written in the same instant).
//
// The text index files each transaction under its accounts' owners too, so
// a customer's search (or a search of an account, which is its owner's) is
// one lookup of the words and the owner together: on PostgreSQL the GIN
// index over (owner_ids, search_words); on SQLite transactions_search_owned,
// whose words are prefixed with their owner (ftsOwned). An account of the
// bank's own, without an owner, is searched by its postings.
//
// The window is ranked and paged here. Pages are keyset on (score, time,
// id), after the score the cursor's transaction has now when it is still in
// the window: bm25 weighs a word by how many transactions hold it, so the
// carried score of an index that has grown since would skip or repeat the
// hits tied with it (ts_rank depends on the transaction alone).
func (l *Ledger) searchRanked(ctx context.Context, q search.Query) (search.Page, error) {
	owner := q.OwnerID
	if owner == "" && q.AccountID != "" {
		var o sql.NullString
		err := l.db.QueryRowContext(ctx, `SELECT owner_id FROM accounts WHERE id = $1`, q.AccountID).Scan(&o)
		if errors.Is(err, sql.ErrNoRows) {
			return search.NextPage(q, nil), nil
		}
		if err != nil {
			return search.Page{}, fmt.Errorf("search transactions: %w", err)
		}
		owner = o.String
	}
	var window []search.Hit
	var err error
	if l.db.Dialect == store.Postgres {
		window, err = l.rankWindowPG(ctx, q, owner)
	} else {
		window, err = l.rankWindowSQLite(ctx, q, owner)
	}
	if err != nil {
		return search.Page{}, err
	}
	slices.SortFunc(window, q.Compare)
	if q.After != nil {
		after := search.Hit{ID: q.After.ID, At: q.After.At, Score: *q.After.Score}
		if i := slices.IndexFunc(window, func(h search.Hit) bool { return h.ID == after.ID }); i >= 0 {
			after.Score = window[i].Score
		}
		i, _ := slices.BinarySearchFunc(window, after, q.Compare)
		for i < len(window) && q.Compare(window[i], after) <= 0 {
			i++
		}
		window = window[i:]
	}
	return search.NextPage(q, window[:min(len(window), q.Limit+1)]), nil
}

// Ranked searches on PostgreSQL read the newest matches of a common word
// newest first (transactions_created), looking at up to denseProbe of the
// newest transactions; a rarer word's (or an owner's) matches, from the GIN
// index, then sorted by time. The words' frequencies come from the table's
// statistics: the planner cannot estimate a prefix ('rent':* is 2 % to it,
// whether 0 or 50 % of the transactions hold it).
const (
	// denseProbe bounds the transactions a probe newest first reads.
	denseProbe = 100_000
	// denseShare is the least share of transactions holding the words
	// for which they are probed newest first: the window is then expected
	// within the newest window/denseShare (50,000 for 1,000).
	denseShare = 0.02
)

// rankWindowPG returns the newest matches of q on PostgreSQL, at most the
// rank window, newest first, with their ts_rank. owner, when not empty,
// is the owner q's transactions must have (q's own, or its account's).
func (l *Ledger) rankWindowPG(ctx context.Context, q search.Query, owner string) ([]search.Hit, error) {
	terms := search.Terms(q.Text)
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = "'" + t + "':*" // a prefix match; & joins them
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	tsq := `to_tsquery('bank_search', ` + arg(strings.Join(quoted, " & ")) + `)`
	conds := []string{`t.search_words @@ ` + tsq}
	if owner != "" {
		conds = append(conds, `t.owner_ids @> ARRAY[`+arg(owner)+`::text]`)
	}
	if q.AccountID != "" {
		conds = append(conds, `t.id IN (SELECT transaction_id FROM postings WHERE account_id = `+arg(q.AccountID)+`)`)
	}
	conds = append(conds, filterSQL(store.Postgres, q, "t.created_at", "t.id", arg)...)
	k := l.cfg.SearchRankWindow
	window := func(from string) string {
		return `SELECT w.id, w.created_at, ts_rank(w.search_words, ` + tsq + `, 1)::float8 FROM (
			SELECT t.id, t.created_at, t.search_words FROM ` + from + ` WHERE ` + strings.Join(conds, " AND ") + `
			ORDER BY t.created_at DESC, t.id DESC LIMIT ` + strconv.Itoa(k) + `) w`
	}
	if owner == "" && l.wordShare(ctx, terms) >= denseShare {
		// Newest first over the newest transactions: it holds the window
		// when it finds the window full.
		hits, err := l.scanHits(ctx, true, window(`(SELECT * FROM transactions ORDER BY created_at DESC, id DESC LIMIT `+
			strconv.Itoa(denseProbe)+`) t`), args)
		if err != nil || len(hits) == k {
			return hits, err
		}
	}
	return l.scanHits(ctx, true, window(`transactions t`), args)
}

// rankWindowSQLite returns the newest matches of q on SQLite, at most the
// rank window, newest first as the text index received them (its rowid),
// with their bm25 (negated: higher is better).
func (l *Ledger) rankWindowSQLite(ctx context.Context, q search.Query, owner string) ([]search.Hit, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	terms := search.Terms(q.Text)
	// "term"* is a prefix match of a word; an owner's search, of the
	// owner's own words (ftsOwned).
	table := "transactions_search"
	match := make([]string, len(terms))
	for i, t := range terms {
		match[i] = `"` + t + `"*`
		if owner != "" {
			table = "transactions_search_owned"
			match[i] = `"` + ftsOwned(owner, []string{t}) + `"*`
		}
	}
	conds := []string{table + ` MATCH ` + arg(strings.Join(match, " AND "))}
	if q.AccountID != "" {
		// The account's postings, read once from postings_history, rather
		// than a posting looked up for each match.
		conds = append(conds, `s.transaction_id IN (SELECT transaction_id FROM postings WHERE account_id = `+arg(q.AccountID)+`)`)
	}
	conds = append(conds, filterSQL(store.SQLite, q, "s.created_at", "s.transaction_id", arg)...)
	// Only the words weigh (the columns' weights, in order: transaction_id,
	// created_at, the words); bm25 is lower for better matches. The hits'
	// times as the transactions hold them (the text index's copy is text
	// to the driver).
	query := `SELECT s.transaction_id, t.created_at, -bm25(` + table + `, 0, 0, 1) FROM ` + table + ` s
		JOIN transactions t ON t.id = s.transaction_id WHERE ` + strings.Join(conds, " AND ") + `
		ORDER BY s.rowid DESC LIMIT ` + strconv.Itoa(l.cfg.SearchRankWindow)
	return l.scanHits(ctx, true, query, args)
}

// wordStats is what PostgreSQL's statistics of transactions.search_words
// say: the share of transactions holding each of the most common words.
type wordStats struct {
	mu     sync.Mutex
	read   time.Time
	shares map[string]float64
}

// wordStatsAge is how long the statistics read are used before they are
// read again (ANALYZE, by autovacuum, renews them).
const wordStatsAge = 5 * time.Minute

// wordShare estimates the share of transactions that hold every term (each
// as the prefix of a word): the least of the terms' shares, a term's share
// being the sum of the shares of the common words it begins. A term that
// begins no common word, or statistics that cannot be read, give 0: rare.
func (l *Ledger) wordShare(ctx context.Context, terms []string) float64 {
	shares := l.words.get(ctx, l.db, l.now(), l.log)
	least := 1.0
	for _, t := range terms {
		var sum float64
		for w, s := range shares {
			if strings.HasPrefix(w, t) {
				sum += s
			}
		}
		least = min(least, sum)
	}
	return least
}

// get returns the words' shares, reading them when those held are older
// than wordStatsAge.
func (w *wordStats) get(ctx context.Context, db *store.DB, now time.Time, log *slog.Logger) map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shares != nil && now.Sub(w.read) < wordStatsAge {
		return w.shares
	}
	shares := map[string]float64{}
	// most_common_elem_freqs ends with three figures of its own (least,
	// most, nulls): they pair with no word.
	rows, err := db.QueryContext(ctx, `SELECT e, f FROM pg_stats,
			unnest(most_common_elems::text::text[], most_common_elem_freqs) AS u(e, f)
		WHERE schemaname = current_schema() AND tablename = 'transactions' AND attname = 'search_words' AND e IS NOT NULL`)
	if err == nil {
		for rows.Next() {
			var e string
			var f float64
			if err = rows.Scan(&e, &f); err != nil {
				break
			}
			shares[e] = f
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		// Every word is then rare until the next reading: the GIN index
		// finds it, as fast as ever for a rare one.
		log.Warn("search: reading the words' statistics", "err", err)
		shares = map[string]float64{}
	}
	w.shares, w.read = shares, now
	return shares
}

// ftsOwned returns words as SQLite's transactions_search_owned files them
// for owner (migration 0020): each prefixed with "o", the owner's id in hex
// and "x", one token of letters and digits whatever the id holds. A query
// term is matched the same way, as the prefix of such a token.
func ftsOwned(owner string, words []string) string {
	prefix := "o" + enchex.EncodeToString([]byte(owner)) + "x"
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prefix)
		b.WriteString(w)
	}
	return b.String()
}

// ownerIDs returns the owners of t's accounts, each once, in order: whose
// searches find t. Every account of t's postings is locked in b.
func (b *batch) ownerIDs(t *Transaction) []string {
	var owners []string
	for _, p := range t.Postings {
		if a := b.accounts[p.AccountID]; a != nil && a.OwnerID != "" {
			owners = append(owners, a.OwnerID)
		}
	}
	return sortedUnique(owners)
}

// Count returns how many transactions q finds, whatever its page.
func (l *Ledger) Count(ctx context.Context, q search.Query) (int64, error) {
	q.Limit = 1
	q.After = nil
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
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	from, at, id = "transactions t", "t.created_at", "t.id"
	switch {
	case q.AccountID != "":
		from, at, id = "postings p JOIN transactions t ON t.id = p.transaction_id", "p.created_at", "p.transaction_id"
		conds = append(conds, `p.account_id = `+arg(q.AccountID))
		if q.OwnerID != "" {
			conds = append(conds, `t.id IN (SELECT transaction_id FROM postings WHERE account_id IN (SELECT id FROM accounts WHERE owner_id = `+arg(q.OwnerID)+`))`)
		}
	case q.OwnerID != "":
		from, at, id = "postings p JOIN transactions t ON t.id = p.transaction_id", "p.created_at", "p.transaction_id"
		owned := `(SELECT id FROM accounts WHERE owner_id = ` + arg(q.OwnerID) + `)`
		conds = append(conds, `p.account_id IN `+owned+` AND NOT EXISTS (SELECT 1 FROM postings o WHERE o.transaction_id = p.transaction_id
			AND o.account_id < p.account_id AND o.account_id IN `+owned+`)`)
	}
	if terms := search.Terms(q.Text); q.Text != "" && len(terms) == 0 {
		// Text of nothing but punctuation finds nothing.
		conds = append(conds, "FALSE")
	} else if len(terms) > 0 {
		if d == store.Postgres {
			for i, t := range terms {
				terms[i] = "'" + t + "':*"
			}
			conds = append(conds, `t.search_words @@ to_tsquery('bank_search', `+arg(strings.Join(terms, " & "))+`)`)
		} else {
			for i, t := range terms {
				terms[i] = `"` + t + `"*`
			}
			conds = append(conds, `t.id IN (SELECT transaction_id FROM transactions_search WHERE transactions_search MATCH `+arg(strings.Join(terms, " AND "))+`)`)
		}
	}
	conds = append(conds, filterSQL(d, q, at, id, arg)...)
	return from, at, id, strings.Join(conds, " AND "), args
}

// filterSQL returns the conditions of q's filters of time, amount, type and
// metadata, on a query whose transaction's time and id are the columns at
// and id (and whose transaction, when amount or type is filtered, is t);
// arg adds an argument and returns its placeholder.
func filterSQL(d store.Dialect, q search.Query, at, id string, arg func(any) string) []string {
	var conds []string
	if q.From != nil {
		conds = append(conds, at+` >= `+arg(q.From.UTC()))
	}
	if q.To != nil {
		conds = append(conds, at+` < `+arg(q.To.UTC()))
	}
	if q.MinAmount != nil {
		conds = append(conds, `t.amount >= `+arg(*q.MinAmount))
	}
	if q.MaxAmount != nil {
		conds = append(conds, `t.amount <= `+arg(*q.MaxAmount))
	}
	if q.Type != "" {
		conds = append(conds, `t.type = `+arg(q.Type))
	}
	// Every pair of Metadata, on the index metadata filters use elsewhere:
	// containment on PostgreSQL, metadata_entries on SQLite.
	if md := bank.Metadata(q.Metadata); len(md) > 0 {
		if d == store.Postgres {
			conds = append(conds, `t.metadata @> `+arg(*md.Stored())+`::jsonb`)
		} else {
			for _, k := range md.Keys() {
				conds = append(conds, fmt.Sprintf(`%s IN (SELECT object_id FROM metadata_entries WHERE kind = %s AND key = %s AND value = %s)`,
					id, arg(kindTransaction), arg(k), arg(md[k])))
			}
		}
	}
	return conds
}

// Found is a transaction a search found, with the display names of the
// accounts of its postings and, in a search with text, its relevance.
type Found struct {
	*Transaction
	AccountNames map[string]string `json:"account_names"`
	// Score is the hit's relevance in a search with text (search.Hit's
	// Score: higher is more relevant), nil in a search without.
	Score *float64 `json:"score,omitempty"`
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
