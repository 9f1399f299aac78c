package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/store"
)

// sqlBatch is the write path over database/sql: SQLite's, in process, with
// the database's single writer lock taken by BEGIN IMMEDIATE, so reads need
// no row locks and one prepared statement per row costs no round trip; and
// on either database, a caller's own transaction (HoldIn), where PostgreSQL
// locks what it reads, in the order every batch locks it.
type sqlBatch struct {
	ctx     context.Context
	tx      *sql.Tx
	dialect store.Dialect
}

// lock is what makes a read of rows to change lock them: nothing under
// SQLite's single writer, row locks in id order on PostgreSQL.
func (s *sqlBatch) lock(strength string) string {
	if s.dialect == store.Postgres {
		return ` ORDER BY id FOR ` + strength
	}
	return ""
}

func (s *sqlBatch) load(b *batch, p *loadPlan) error {
	if len(p.keys) > 0 {
		stmt, err := s.tx.PrepareContext(s.ctx, idem.SelectSQL+`user_id = $1 AND key = $2`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range p.keys {
			rs, err := stmt.QueryContext(s.ctx, p.users[i], p.keys[i])
			if err != nil {
				return fmt.Errorf("read idempotency keys: %w", err)
			}
			err = scanStored(b, &loadPlan{users: p.users[i : i+1], keys: p.keys[i : i+1]}, rs)
			rs.Close()
			if err != nil {
				return err
			}
		}
	}
	if ids := sortedUnique(p.holdIDs); len(ids) > 0 {
		if err := s.queryInto(holdsSQL, ids, s.lock("UPDATE"), func(rs rows) error { return scanHolds(b, rs) }); err != nil {
			return fmt.Errorf("read holds: %w", err)
		}
	}
	if ids := sortedUnique(p.txIDs); len(ids) > 0 {
		txs, err := loadTransactions(s.ctx, sqlQuery(s.tx), s.dialect, ids)
		if err != nil {
			return err
		}
		for _, t := range txs {
			b.originals[t.ID] = t
		}
		cond, arg := inList(s.dialect, "reverses_id", 1, ids)
		rs, err := s.tx.QueryContext(s.ctx, `SELECT reverses_id FROM transactions WHERE `+cond, arg)
		if err != nil {
			return err
		}
		err = scanReversed(b, rs)
		rs.Close()
		if err != nil {
			return err
		}
	}
	if p.accountIDs != nil {
		return s.lockAccounts(b, p.accountIDs)
	}
	return nil
}

func (s *sqlBatch) transactions(ids []string) ([]*Transaction, error) {
	return loadTransactions(s.ctx, sqlQuery(s.tx), s.dialect, ids)
}

func (s *sqlBatch) lockAccounts(b *batch, ids []string) error {
	if ids = sortedUnique(ids); len(ids) == 0 {
		return nil
	}
	if err := s.queryInto(accountsSQL, ids, s.lock("NO KEY UPDATE"), func(rs rows) error { return scanAccounts(b, rs) }); err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	return nil
}

// queryInto runs prefix + "id IN ids" + suffix and hands the rows to scan.
func (s *sqlBatch) queryInto(prefix string, ids []string, suffix string, scan func(rows) error) error {
	cond, arg := inList(s.dialect, "id", 1, ids)
	rs, err := s.tx.QueryContext(s.ctx, prefix+cond+suffix, arg)
	if err != nil {
		return err
	}
	defer rs.Close()
	return scan(rs)
}

// write runs one prepared statement per row; the caller commits.
func (s *sqlBatch) write(b *batch) error {
	type table struct {
		what, q string
		args    [][]any
	}
	ids, posted, pending := b.dirtyAccounts()
	bal := table{what: "balances", q: `UPDATE accounts SET posted = $2, pending = $3 WHERE id = $1`}
	for i := range ids {
		bal.args = append(bal.args, []any{ids[i], posted[i], pending[i]})
	}
	txr := table{what: "transactions", q: `INSERT INTO transactions (id, type, amount, currency, description, created_by, reverses_id, hold_id, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`}
	sr := table{what: "search entries", q: `INSERT INTO transactions_search (transaction_id, created_at, description) VALUES ($1, $2, $3)`}
	so := table{what: "search entries", q: `INSERT INTO transactions_search_owned (transaction_id, created_at, words) VALUES ($1, $2, $3)`}
	mr := table{what: "metadata", q: insertMetadataSQL}
	pr := table{what: "postings", q: `INSERT INTO postings (transaction_id, account_id, amount, currency, created_at) VALUES ($1, $2, $3, $4, $5)`}
	for _, t := range b.txs {
		txr.args = append(txr.args, []any{t.ID, t.Type, t.Amount, string(t.Currency), t.Description, t.createdBy,
			nullable(t.ReversesID), nullable(t.HoldID), t.Metadata.Stored(), b.now})
		if s.dialect == store.SQLite { // the FTS5 tables are SQLite's; HoldIn on PostgreSQL makes no transaction
			sr.args = append(sr.args, []any{t.ID, b.now, t.Description})
			if words := search.Words(t.Description); len(words) > 0 {
				for _, o := range b.ownerIDs(t) {
					so.args = append(so.args, []any{t.ID, b.now, ftsOwned(o, words)})
				}
			}
		}
		for _, k := range t.Metadata.Keys() {
			mr.args = append(mr.args, []any{kindTransaction, t.ID, k, t.Metadata[k]})
		}
		for _, p := range t.Postings {
			pr.args = append(pr.args, []any{t.ID, p.AccountID, p.Amount, string(t.Currency), b.now})
		}
	}
	hr := table{what: "holds", q: insertHoldSQL}
	for _, h := range b.newHolds {
		hr.args = append(hr.args, []any{h.ID, h.AccountID, h.Amount, h.CapturedAmount, string(h.Currency), h.Status,
			h.Description, h.createdBy, h.ExpiresAt, h.CreatedAt, h.updatedAt, h.Metadata.Stored()})
	}
	hu := table{what: "holds", q: `UPDATE holds SET captured = $2, status = $3, updated_at = $4 WHERE id = $1`}
	for _, h := range b.holdsDone {
		hu.args = append(hu.args, []any{h.ID, h.CapturedAmount, h.Status, h.updatedAt})
	}
	kr := table{what: "idempotency keys", q: idem.InsertSQL}
	for _, k := range b.keys {
		kr.args = append(kr.args, k.Args(b.now))
	}
	ar := table{what: "audit records", q: audit.InsertSQL}
	for _, a := range b.audits {
		ar.args = append(ar.args, a.Args(b.now))
	}
	if err := event.Write(s.ctx, s.tx, b.events...); err != nil {
		return err
	}
	for _, t := range []table{bal, txr, sr, so, mr, pr, hr, hu, kr, ar} {
		if len(t.args) == 0 {
			continue
		}
		if len(t.args) == 1 { // a statement prepared for one row would cost PostgreSQL a round trip
			if _, err := s.tx.ExecContext(s.ctx, t.q, t.args[0]...); err != nil {
				return fmt.Errorf("write %s: %w", t.what, err)
			}
			continue
		}
		stmt, err := s.tx.PrepareContext(s.ctx, t.q)
		if err != nil {
			return fmt.Errorf("write %s: %w", t.what, err)
		}
		for _, a := range t.args {
			if _, err := stmt.ExecContext(s.ctx, a...); err != nil {
				stmt.Close()
				return fmt.Errorf("write %s: %w", t.what, err)
			}
		}
		stmt.Close()
	}
	return nil
}
