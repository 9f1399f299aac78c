package recon

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fintech-banking/bank/internal/bank"
)

// itemsPerInsert is how many items one INSERT writes: 7 parameters each,
// well under SQLite's 32,766 and PostgreSQL's 65,535.
const itemsPerInsert = 1000

// save writes r and its items in one transaction.
func (s *Service) save(ctx context.Context, r *Reconciliation, items []Item) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reconciliations (id, account_id, format, created_by, created_at,
			matched, mismatched, unmatched_ours, unmatched_theirs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.ID, r.AccountID, r.Format, r.CreatedBy, r.CreatedAt, r.Matched, r.Mismatched, r.UnmatchedOurs, r.UnmatchedTheirs); err != nil {
			return err
		}
		for len(items) > 0 {
			chunk := items[:min(len(items), itemsPerInsert)]
			items = items[len(chunk):]
			var q strings.Builder
			q.WriteString(`INSERT INTO reconciliation_items (reconciliation_id, item, status, ours, theirs, difference, transaction_id) VALUES `)
			args := make([]any, 0, 7*len(chunk))
			for i, it := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, NULL)", n+1, n+2, n+3, n+4, n+5, n+6)
				args = append(args, r.ID, it.ID, it.Status, stored(it.Ours), stored(it.Theirs), stored(it.Difference))
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	return nil
}

// stored is v as JSON, or NULL when v is a nil pointer.
func stored[T any](v *T) *string {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v) // the package's own types always encode
	s := string(b)
	return &s
}

func notFound(id string) error {
	return bank.Errorf(bank.KindNotFound, "reconciliation_not_found", "reconciliation %s not found", id)
}

func (s *Service) load(ctx context.Context, id string) (*Reconciliation, error) {
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	r := &Reconciliation{Status: "done"}
	err := s.db.QueryRowContext(ctx, `SELECT id, account_id, format, created_by, created_at, matched, mismatched,
		unmatched_ours, unmatched_theirs FROM reconciliations WHERE id = $1`, id).Scan(&r.ID, &r.AccountID, &r.Format,
		&r.CreatedBy, &r.CreatedAt, &r.Matched, &r.Mismatched, &r.UnmatchedOurs, &r.UnmatchedTheirs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get reconciliation: %w", err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

const itemColumns = `item, status, ours, theirs, difference, transaction_id`

func (s *Service) items(ctx context.Context, id string, f ItemFilter) ([]Item, error) {
	q, args := `SELECT `+itemColumns+` FROM reconciliation_items WHERE reconciliation_id = $1 AND item > $2`, []any{id, f.After}
	if f.Status != "" {
		q, args = q+` AND status = $3`, append(args, f.Status)
	}
	q += ` ORDER BY item`
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rs, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reconciliation items: %w", err)
	}
	defer rs.Close()
	items := []Item{}
	for rs.Next() {
		it, err := scanItem(rs)
		if err != nil {
			return nil, fmt.Errorf("reconciliation items: %w", err)
		}
		items = append(items, it)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reconciliation items: %w", err)
	}
	return items, nil
}

func (s *Service) item(ctx context.Context, id string, n int) (Item, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM reconciliation_items
		WHERE reconciliation_id = $1 AND item = $2`, id, n))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, bank.Errorf(bank.KindNotFound, "item_not_found", "reconciliation %s has no item %d", id, n)
	}
	if err != nil {
		return Item{}, fmt.Errorf("reconciliation item: %w", err)
	}
	return it, nil
}

func scanItem(row interface{ Scan(...any) error }) (Item, error) {
	var (
		it                 Item
		ours, theirs, diff *string
		tx                 sql.NullString
	)
	if err := row.Scan(&it.ID, &it.Status, &ours, &theirs, &diff, &tx); err != nil {
		return Item{}, err
	}
	it.TransactionID = tx.String
	for _, f := range []struct {
		s *string
		v any
	}{{ours, &it.Ours}, {theirs, &it.Theirs}, {diff, &it.Difference}} {
		if f.s != nil {
			if err := json.Unmarshal([]byte(*f.s), f.v); err != nil {
				return Item{}, fmt.Errorf("item %d: %w", it.ID, err)
			}
		}
	}
	return it, nil
}

// claim makes p.UserID the resolver of item n unless it has one, and
// returns the resolver.
func (s *Service) claim(ctx context.Context, id string, n int, user string) (string, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE reconciliation_items SET resolved_by = $3
		WHERE reconciliation_id = $1 AND item = $2 AND resolved_by IS NULL`, id, n, user); err != nil {
		return "", fmt.Errorf("resolve item: %w", err)
	}
	var by string
	if err := s.db.QueryRowContext(ctx, `SELECT resolved_by FROM reconciliation_items
		WHERE reconciliation_id = $1 AND item = $2`, id, n).Scan(&by); err != nil {
		return "", fmt.Errorf("resolve item: %w", err)
	}
	return by, nil
}

// setTransaction records the suspense posting that cleared item n. Racing
// resolves get the same transaction from the ledger, so the last write is
// the first's.
func (s *Service) setTransaction(ctx context.Context, id string, n int, txID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE reconciliation_items SET transaction_id = $3
		WHERE reconciliation_id = $1 AND item = $2`, id, n, txID); err != nil {
		return fmt.Errorf("resolve item: %w", err)
	}
	return nil
}
