package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// The SQL of the write path. PostgreSQL gets set-based statements over arrays
// (one round trip per table, whatever the batch size); SQLite, in process and
// with a single writer, runs one prepared statement per row.

const accountColumns = `id, owner_id, number, name, type, currency, status, overdraft_limit, posted, pending, created_at`

type scanner interface{ Scan(dest ...any) error }

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

// inList returns SQL matching column against ids, and its argument: an array
// on PostgreSQL, a JSON array on SQLite.
func inList(d store.Dialect, column string, n int, ids []string) (string, any) {
	if d == store.Postgres {
		return fmt.Sprintf("%s = ANY($%d)", column, n), ids
	}
	b, _ := json.Marshal(ids)
	return fmt.Sprintf("%s IN (SELECT value FROM json_each($%d))", column, n), string(b)
}

func (b *batch) dialect() store.Dialect { return b.l.db.Dialect }

// lockAccounts loads and locks the accounts ids, in id order so that
// concurrent batches never wait for each other in a cycle.
func (b *batch) lockAccounts(ids []string) error {
	ids = sortedUnique(ids)
	if len(ids) == 0 {
		return nil
	}
	cond, arg := inList(b.dialect(), "id", 1, ids)
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE ` + cond + ` ORDER BY id`
	if b.dialect() == store.Postgres {
		// NO KEY UPDATE: the balance columns are not keys, so inserts of
		// postings referencing these rows are not blocked.
		q += ` FOR NO KEY UPDATE`
	}
	rows, err := b.tx.QueryContext(b.ctx, q, arg)
	if err != nil {
		return fmt.Errorf("lock accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return err
		}
		b.accounts[a.ID] = a
	}
	return rows.Err()
}

const holdColumns = `id, account_id, amount, captured, currency, status, description, created_by, expires_at, created_at, updated_at`

func scanHold(s scanner) (*Hold, error) {
	var h Hold
	var expires sql.NullTime
	if err := s.Scan(&h.ID, &h.AccountID, &h.Amount, &h.CapturedAmount, &h.Currency, &h.Status,
		&h.Description, &h.createdBy, &expires, &h.CreatedAt, &h.updatedAt); err != nil {
		return nil, err
	}
	if expires.Valid {
		t := expires.Time.UTC()
		h.ExpiresAt = &t
	}
	h.CreatedAt = h.CreatedAt.UTC()
	return &h, nil
}

func (b *batch) lockHolds(ids []string) error {
	ids = sortedUnique(ids)
	if len(ids) == 0 {
		return nil
	}
	cond, arg := inList(b.dialect(), "id", 1, ids)
	q := `SELECT ` + holdColumns + ` FROM holds WHERE ` + cond + ` ORDER BY id`
	if b.dialect() == store.Postgres {
		q += ` FOR UPDATE`
	}
	rows, err := b.tx.QueryContext(b.ctx, q, arg)
	if err != nil {
		return fmt.Errorf("lock holds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return err
		}
		b.holds[h.ID] = h
	}
	return rows.Err()
}

// loadOriginals loads the transactions to be reversed, their postings, and
// whether each has been reversed already. A concurrent reversal of the same
// transaction is caught by the unique reverses_id and the batch retried.
func (b *batch) loadOriginals(ids []string) error {
	ids = sortedUnique(ids)
	if len(ids) == 0 {
		return nil
	}
	txs, err := loadTransactions(b.ctx, b.tx, b.dialect(), ids)
	if err != nil {
		return err
	}
	for _, t := range txs {
		b.originals[t.ID] = t
	}
	cond, arg := inList(b.dialect(), "reverses_id", 1, ids)
	rows, err := b.tx.QueryContext(b.ctx, `SELECT reverses_id FROM transactions WHERE `+cond, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		b.reversed[id] = true
	}
	return rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadTransactions returns the transactions ids with their postings, in the
// order of ids; missing ones are left out.
func loadTransactions(ctx context.Context, q querier, d store.Dialect, ids []string) ([]*Transaction, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cond, arg := inList(d, "id", 1, ids)
	rows, err := q.QueryContext(ctx, `SELECT id, type, amount, currency, description, created_by,
		reverses_id, hold_id, created_at FROM transactions WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("load transactions: %w", err)
	}
	byID := map[string]*Transaction{}
	for rows.Next() {
		var t Transaction
		var reverses, hold sql.NullString
		if err := rows.Scan(&t.ID, &t.Type, &t.Amount, &t.Currency, &t.Description, &t.createdBy,
			&reverses, &hold, &t.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		t.Status, t.ReversesID, t.HoldID, t.CreatedAt = "posted", reverses.String, hold.String, t.CreatedAt.UTC()
		byID[t.ID] = &t
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	cond, arg = inList(d, "transaction_id", 1, ids)
	// Debits first, then credits: the order the postings were written in.
	rows, err = q.QueryContext(ctx, `SELECT transaction_id, account_id, amount FROM postings WHERE `+
		cond+` ORDER BY transaction_id, amount, account_id`, arg)
	if err != nil {
		return nil, fmt.Errorf("load postings: %w", err)
	}
	defer rows.Close()
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

// storedResponses returns the stored responses of the requests' idempotency keys.
func (b *batch) storedResponses(reqs []*request) (map[idemKey]storedKey, error) {
	var users, keys []string
	for _, r := range reqs {
		if r.idem.Key != "" {
			users, keys = append(users, r.p.UserID), append(keys, r.idem.Key)
		}
	}
	out := map[idemKey]storedKey{}
	if len(keys) == 0 {
		return out, nil
	}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var s storedKey
			if err := rows.Scan(&s.user, &s.key, &s.hash, &s.status, &s.body); err != nil {
				return err
			}
			out[idemKey{s.user, s.key}] = s
		}
		return rows.Err()
	}
	const cols = `SELECT user_id, key, request_hash, status, response FROM idempotency_keys`
	if b.dialect() == store.Postgres {
		rows, err := b.tx.QueryContext(b.ctx, cols+` WHERE (user_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, users, keys)
		if err != nil {
			return nil, fmt.Errorf("read idempotency keys: %w", err)
		}
		return out, scan(rows)
	}
	stmt, err := b.tx.PrepareContext(b.ctx, cols+` WHERE user_id = $1 AND key = $2`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for i := range keys {
		rows, err := stmt.QueryContext(b.ctx, users[i], keys[i])
		if err != nil {
			return nil, fmt.Errorf("read idempotency keys: %w", err)
		}
		if err := scan(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// event is an outbox row.
type event struct {
	id, typ, aggregate string
	payload            []byte
}

func (b *batch) event(typ, aggregate string, payload map[string]any) {
	id := bank.NewID()
	payload["event_id"], payload["type"], payload["occurred_at"] = id, typ, b.now
	body, _ := json.Marshal(payload)
	b.events = append(b.events, event{id: id, typ: typ, aggregate: aggregate, payload: body})
}

// eventPayload says what a notification needs: everything is in the message
// body, because a DLQ redrive re-sends only the body.
func (t *Transaction) eventPayload(accounts map[string]*Account) map[string]any {
	type leg struct {
		AccountID string `json:"account_id"`
		OwnerID   string `json:"owner_id,omitempty"`
		Amount    int64  `json:"amount"`
	}
	legs := make([]leg, len(t.Postings))
	for i, p := range t.Postings {
		legs[i] = leg{AccountID: p.AccountID, Amount: p.Amount}
		if a := accounts[p.AccountID]; a != nil {
			legs[i].OwnerID = a.OwnerID
		}
	}
	return map[string]any{"transaction_id": t.ID, "transaction_type": t.Type, "amount": t.Amount,
		"currency": t.Currency, "description": t.Description, "postings": legs}
}

func (h *Hold) eventPayload(a *Account) map[string]any {
	return map[string]any{"hold_id": h.ID, "account_id": h.AccountID, "owner_id": a.OwnerID,
		"amount": h.Amount, "captured_amount": h.CapturedAmount, "currency": h.Currency, "status": h.Status}
}

// flush writes what the batch changed.
func (b *batch) flush() error {
	if b.dialect() == store.Postgres {
		return b.flushPostgres()
	}
	return b.flushSQLite()
}

func (b *batch) dirtyAccounts() (ids []string, posted, pending []int64) {
	for id := range b.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := b.accounts[id]
		posted, pending = append(posted, a.Balance.Posted), append(pending, a.Balance.Pending)
	}
	return ids, posted, pending
}

func (b *batch) flushPostgres() error {
	ctx, tx := b.ctx, b.tx
	exec := func(what, q string, args ...any) error {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
		return nil
	}
	if ids, posted, pending := b.dirtyAccounts(); len(ids) > 0 {
		// "AND a.id = ANY($1)" keeps the planner on the primary key: joined to
		// an unnest of more than a few dozen rows it would otherwise scan the table.
		if err := exec("balances", `UPDATE accounts a SET posted = v.posted, pending = v.pending
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, posted, pending)
			WHERE a.id = v.id AND a.id = ANY($1)`, ids, posted, pending); err != nil {
			return err
		}
	}
	if len(b.txs) > 0 {
		n := len(b.txs)
		id, typ, cur, desc, by, rev, hold := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]*string, n), make([]*string, n)
		amt := make([]int64, n)
		var pTx, pAcct, pCur []string
		var pAmt []int64
		for i, t := range b.txs {
			id[i], typ[i], cur[i], desc[i], by[i], amt[i] = t.ID, t.Type, string(t.Currency), t.Description, t.createdBy, t.Amount
			rev[i], hold[i] = nullable(t.ReversesID), nullable(t.HoldID)
			for _, p := range t.Postings {
				pTx, pAcct, pCur, pAmt = append(pTx, t.ID), append(pAcct, p.AccountID), append(pCur, string(t.Currency)), append(pAmt, p.Amount)
			}
		}
		if err := exec("transactions", `INSERT INTO transactions (id, type, amount, currency, description, created_by, reverses_id, hold_id, created_at)
			SELECT v.*, $8::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $9::text[])
			AS v(id, type, amount, currency, description, created_by, reverses_id, hold_id)`,
			id, typ, amt, cur, desc, by, rev, b.now, hold); err != nil {
			return err
		}
		if err := exec("postings", `INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
			SELECT v.*, $5::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS v(t, a, m, c)`,
			pTx, pAcct, pAmt, pCur, b.now); err != nil {
			return err
		}
	}
	for _, h := range b.newHolds {
		if err := exec("hold", `INSERT INTO holds (`+holdColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			h.ID, h.AccountID, h.Amount, h.CapturedAmount, h.Currency, h.Status, h.Description, h.createdBy, h.ExpiresAt, h.CreatedAt, h.updatedAt); err != nil {
			return err
		}
	}
	for _, h := range b.holdsDone {
		if err := exec("hold", `UPDATE holds SET captured = $2, status = $3, updated_at = $4 WHERE id = $1`,
			h.ID, h.CapturedAmount, h.Status, h.updatedAt); err != nil {
			return err
		}
	}
	if len(b.events) > 0 {
		n := len(b.events)
		id, typ, agg, payload := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, e := range b.events {
			id[i], typ[i], agg[i], payload[i] = e.id, e.typ, e.aggregate, string(e.payload)
		}
		if err := exec("outbox", `INSERT INTO outbox (id, type, aggregate_id, payload, created_at)
			SELECT v.*, $5::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v`,
			id, typ, agg, payload, b.now); err != nil {
			return err
		}
	}
	if len(b.keys) > 0 {
		n := len(b.keys)
		user, key, hash, bodies := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
		status := make([]int32, n)
		for i, k := range b.keys {
			user[i], key[i], hash[i], status[i], bodies[i] = k.user, k.key, k.hash, int32(k.status), k.body
		}
		if err := exec("idempotency keys", `INSERT INTO idempotency_keys (user_id, key, request_hash, status, response, created_at)
			SELECT v.*, $6::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bytea[]) AS v`,
			user, key, hash, status, bodies, b.now); err != nil {
			return err
		}
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (b *batch) flushSQLite() error {
	ctx, tx := b.ctx, b.tx
	type row struct {
		what, q string
		args    [][]any
	}
	var rows []row
	ids, posted, pending := b.dirtyAccounts()
	r := row{what: "balances", q: `UPDATE accounts SET posted = $2, pending = $3 WHERE id = $1`}
	for i := range ids {
		r.args = append(r.args, []any{ids[i], posted[i], pending[i]})
	}
	rows = append(rows, r)
	txr := row{what: "transactions", q: `INSERT INTO transactions (id, type, amount, currency, description, created_by, reverses_id, hold_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`}
	pr := row{what: "postings", q: `INSERT INTO postings (transaction_id, account_id, amount, currency, created_at) VALUES ($1, $2, $3, $4, $5)`}
	for _, t := range b.txs {
		txr.args = append(txr.args, []any{t.ID, t.Type, t.Amount, string(t.Currency), t.Description, t.createdBy,
			nullable(t.ReversesID), nullable(t.HoldID), b.now})
		for _, p := range t.Postings {
			pr.args = append(pr.args, []any{t.ID, p.AccountID, p.Amount, string(t.Currency), b.now})
		}
	}
	hr := row{what: "hold", q: `INSERT INTO holds (` + holdColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`}
	for _, h := range b.newHolds {
		hr.args = append(hr.args, []any{h.ID, h.AccountID, h.Amount, h.CapturedAmount, string(h.Currency), h.Status,
			h.Description, h.createdBy, h.ExpiresAt, h.CreatedAt, h.updatedAt})
	}
	hu := row{what: "hold", q: `UPDATE holds SET captured = $2, status = $3, updated_at = $4 WHERE id = $1`}
	for _, h := range b.holdsDone {
		hu.args = append(hu.args, []any{h.ID, h.CapturedAmount, h.Status, h.updatedAt})
	}
	er := row{what: "outbox", q: `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`}
	for _, e := range b.events {
		er.args = append(er.args, []any{e.id, e.typ, e.aggregate, string(e.payload), b.now})
	}
	kr := row{what: "idempotency keys", q: `INSERT INTO idempotency_keys (user_id, key, request_hash, status, response, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`}
	for _, k := range b.keys {
		kr.args = append(kr.args, []any{k.user, k.key, k.hash, k.status, k.body, b.now})
	}
	rows = append(rows, txr, pr, hr, hu, er, kr)
	for _, r := range rows {
		if len(r.args) == 0 {
			continue
		}
		stmt, err := tx.PrepareContext(ctx, r.q)
		if err != nil {
			return fmt.Errorf("write %s: %w", r.what, err)
		}
		for _, a := range r.args {
			if _, err := stmt.ExecContext(ctx, a...); err != nil {
				stmt.Close()
				return fmt.Errorf("write %s: %w", r.what, err)
			}
		}
		stmt.Close()
	}
	return nil
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
