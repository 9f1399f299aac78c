package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
)

// Metadata (bank.Metadata) is stored with its object, in the object's own
// row and transaction: a jsonb column on PostgreSQL, indexed by GIN for the
// lists' filters; a JSON text column on SQLite, whose pairs are also kept one
// per row in metadata_entries for the same filters. Staff amend the metadata
// of accounts and transactions; a transaction's postings never change, but
// its metadata is the client's own notes, not money.

// The kinds of object whose metadata lists filter on.
const (
	kindAccount     = "account"
	kindTransaction = "transaction"
)

// The audit actions of metadata changes.
const (
	AuditAccountMetadata     = "account.metadata_changed"
	AuditTransactionMetadata = "transaction.metadata_changed"
)

const insertMetadataSQL = `INSERT INTO metadata_entries (kind, object_id, key, value) VALUES ($1, $2, $3, $4)`

// MetadataChange amends an object's metadata: the keys of Set are added or
// replaced, the keys of Unset removed (a missing one is no error). JSON
// decodes it from the body of the PATCH …/metadata endpoints.
type MetadataChange struct {
	Set   bank.Metadata `json:"set"`
	Unset []string      `json:"unset"`
}

func (c MetadataChange) check() error {
	if err := bank.CheckMetadata("set", c.Set); err != nil {
		return err
	}
	if len(c.Unset) > bank.MaxMetadataKeys {
		return bank.Invalid("unset", "must hold at most "+strconv.Itoa(bank.MaxMetadataKeys)+" keys")
	}
	for i, k := range c.Unset {
		if err := bank.CheckMetadataKey("unset["+strconv.Itoa(i)+"]", k); err != nil {
			return err
		}
		if _, ok := c.Set[k]; ok {
			return bank.Invalid("unset["+strconv.Itoa(i)+"]", "is also in set")
		}
	}
	return nil
}

// apply returns m changed by c, nil when nothing is left.
func (c MetadataChange) apply(m bank.Metadata) bank.Metadata {
	out := maps.Clone(m)
	if out == nil {
		out = bank.Metadata{}
	}
	maps.Copy(out, c.Set)
	for _, k := range c.Unset {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SetAccountMetadata amends the metadata of the customer account id and
// returns the account. Staff only; the change is audited and published as
// account.metadata_changed in its own transaction. It returns KindForbidden,
// KindNotFound, and KindInvalid for a change that breaks the rules of
// bank.Metadata, the limit of keys of the result included.
func (l *Ledger) SetAccountMetadata(ctx context.Context, p bank.Principal, id string, c MetadataChange) (*Account, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	var a *Account
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAccountRead(tx.QueryRowContext(ctx, `SELECT `+accountReadColumns+` FROM accounts WHERE id = $1`+l.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && a.System()) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		a.Metadata, err = l.amendMetadata(ctx, tx, p, kindAccount, id, a.Metadata, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// SetTransactionMetadata amends the metadata of the transaction id and
// returns the transaction, as SetAccountMetadata does for an account
// (event transaction.metadata_changed). Its postings never change.
func (l *Ledger) SetTransactionMetadata(ctx context.Context, p bank.Principal, id string, c MetadataChange) (*Transaction, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	missing := bank.Errorf(bank.KindNotFound, "transaction_not_found", "transaction %s not found", id)
	if bank.CheckID("id", id) != nil {
		return nil, missing
	}
	var t *Transaction
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		if l.db.Dialect == store.Postgres {
			// Two changes at once must not lose one: the second waits.
			// SQLite's write transactions already run one at a time.
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM transactions WHERE id = $1 FOR NO KEY UPDATE`, id); err != nil {
				return err
			}
		}
		txs, err := loadTransactions(ctx, sqlQuery(tx), l.db.Dialect, []string{id})
		if err != nil {
			return err
		}
		if len(txs) == 0 {
			return missing
		}
		t = txs[0]
		t.Metadata, err = l.amendMetadata(ctx, tx, p, kindTransaction, id, t.Metadata, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// forUpdate is the clause that locks the row a read-modify-write reads: on
// PostgreSQL; SQLite's write transactions already run one at a time.
func (l *Ledger) forUpdate() string {
	if l.db.Dialect == store.Postgres {
		return ` FOR NO KEY UPDATE`
	}
	return ""
}

// amendMetadata writes old changed by c as the metadata of the object id of
// kind, with its audit record and event, in tx; it returns the new metadata.
// A change that changes nothing writes nothing.
func (l *Ledger) amendMetadata(ctx context.Context, tx *sql.Tx, p bank.Principal, kind, id string,
	old bank.Metadata, c MetadataChange) (bank.Metadata, error) {
	next := c.apply(old)
	if len(next) > bank.MaxMetadataKeys {
		return nil, bank.Invalid("set", "would leave more than "+strconv.Itoa(bank.MaxMetadataKeys)+" keys")
	}
	if maps.Equal(next, old) {
		return old, nil
	}
	table, action, typ := "accounts", AuditAccountMetadata, event.AccountMetadataChanged
	if kind == kindTransaction {
		table, action, typ = "transactions", AuditTransactionMetadata, event.TransactionMetadataChanged
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET metadata = $2 WHERE id = $1`, id, next.Stored()); err != nil {
		return nil, fmt.Errorf("update %s metadata: %w", kind, err)
	}
	if err := writeEntries(ctx, tx, l.db.Dialect, kind, id, next, true); err != nil {
		return nil, err
	}
	now := l.clock()
	details := map[string]string{}
	if len(c.Set) > 0 {
		details["set"] = *c.Set.Stored()
	}
	if len(c.Unset) > 0 {
		details["unset"] = string(mustJSON(c.Unset))
	}
	if err := audit.Write(ctx, tx, now, audit.New(p.UserID, action, id, bank.OriginOf(ctx), details)); err != nil {
		return nil, err
	}
	return next, event.Publish(ctx, tx, &event.MetadataChanged{Header: event.NewHeader(typ, now),
		ObjectID: id, Metadata: next, Set: c.Set, Unset: c.Unset, ChangedBy: p.UserID})
}

// writeEntries keeps metadata_entries in step with the metadata m of the
// object id on SQLite, after deleting what was there when replace is set;
// PostgreSQL indexes the column itself.
func writeEntries(ctx context.Context, tx *sql.Tx, d store.Dialect, kind, id string, m bank.Metadata, replace bool) error {
	if d != store.SQLite {
		return nil
	}
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM metadata_entries WHERE kind = $1 AND object_id = $2`, kind, id); err != nil {
			return fmt.Errorf("write %s metadata: %w", kind, err)
		}
	}
	for _, k := range m.Keys() {
		if _, err := tx.ExecContext(ctx, insertMetadataSQL, kind, id, k, m[k]); err != nil {
			return fmt.Errorf("write %s metadata: %w", kind, err)
		}
	}
	return nil
}

// matchMetadata adds to q the condition that the object column names (of
// kind) carries every pair of f, and returns q and its arguments. On
// PostgreSQL that is containment, answered by the GIN index on the metadata
// column; on SQLite a lookup in metadata_entries per pair.
func matchMetadata(d store.Dialect, q string, args []any, kind, column string, f bank.Metadata) (string, []any) {
	if len(f) == 0 {
		return q, args
	}
	if d == store.Postgres {
		args = append(args, *f.Stored())
		if kind == kindAccount {
			return q + fmt.Sprintf(` AND metadata @> $%d::jsonb`, len(args)), args
		}
		return q + fmt.Sprintf(` AND %s IN (SELECT id FROM transactions WHERE metadata @> $%d::jsonb)`, column, len(args)), args
	}
	for _, k := range f.Keys() {
		args = append(args, kind, k, f[k])
		n := len(args)
		q += fmt.Sprintf(` AND %s IN (SELECT object_id FROM metadata_entries WHERE kind = $%d AND key = $%d AND value = $%d)`,
			column, n-2, n-1, n)
	}
	return q, args
}
