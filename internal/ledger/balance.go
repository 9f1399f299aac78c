package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// Balances as of a time.
//
// An account's posted balance at t is the sum of its postings whose
// created_at <= t. A posting's created_at is its batch's clock reading, taken
// before the batch locks its accounts, so a batch may commit a little after
// a later batch and still post at an earlier time: the balance at a moment
// of the last few seconds may yet change, one further back may not.
//
// Summing a long history on every request would cost O(postings), so the
// read path keeps checkpoints (table balance_checkpoints, migration 0014): as
// it sums an account's postings it records the running balance every
// CheckpointEvery postings, at moments older than CheckpointSettle, and the
// next read starts from the nearest checkpoint at or before its t. The write
// path is unchanged: a running balance kept on every posting would cost each
// transfer a wider row, and would be right only if created_at followed the
// commit order per account, which the batches above do not promise.

// CheckpointSettle is how old a moment must be before a checkpoint is
// recorded at it: far longer than any batch takes between its clock reading
// and its commit.
const CheckpointSettle = 10 * time.Minute

// BalanceAt is an account's posted balance as of a time.
type BalanceAt struct {
	AccountID string        `json:"account_id"`
	Currency  bank.Currency `json:"currency"`
	At        time.Time     `json:"at"`
	Posted    int64         `json:"posted"`
}

// Balance returns the posted balance of account id as of at: the sum of its
// postings committed at or before at (taken to the microsecond). A zero at
// means now. It returns KindNotFound when p may not see the account.
func (l *Ledger) Balance(ctx context.Context, p bank.Principal, id string, at time.Time) (*BalanceAt, error) {
	a, err := l.Account(ctx, p, id)
	if err != nil {
		return nil, err
	}
	b := &BalanceAt{AccountID: a.ID, Currency: a.Currency, At: at.UTC().Truncate(time.Microsecond)}
	if at.IsZero() {
		b.At, b.Posted = l.clock(), a.Balance.Posted
		return b, nil
	}
	var cps []checkpoint
	b.Posted, cps, err = l.balanceAt(ctx, sqlQuery(l.db), a.ID, b.At)
	if err != nil {
		return nil, fmt.Errorf("balance at %s: %w", b.At.Format(time.RFC3339Nano), err)
	}
	l.saveCheckpoints(ctx, a.ID, cps)
	return b, nil
}

// checkpoint is an account's posted balance at a moment: the sum of its
// postings with created_at <= at.
type checkpoint struct {
	at     time.Time
	posted int64
}

// balanceAt sums the postings of account id up to at (inclusive) through q,
// from the nearest checkpoint at or before at. It returns the balance and the
// checkpoints worth recording that it passed on the way.
func (l *Ledger) balanceAt(ctx context.Context, q query, id string, at time.Time) (int64, []checkpoint, error) {
	var start checkpoint
	found := false
	rs, done, err := q(ctx, `SELECT at, posted FROM balance_checkpoints WHERE account_id = $1 AND at <= $2
		ORDER BY at DESC LIMIT 1`, id, at)
	if err != nil {
		return 0, nil, err
	}
	if rs.Next() {
		found = true
		err = rs.Scan(&start.at, &start.posted)
	}
	if err == nil {
		err = rs.Err()
	}
	done()
	if err != nil {
		return 0, nil, err
	}
	s := `SELECT created_at, amount FROM postings WHERE account_id = $1 AND created_at <= $2`
	args := []any{id, at}
	if found {
		s += ` AND created_at > $3`
		args = append(args, start.at)
	}
	rs, done, err = q(ctx, s+` ORDER BY created_at`, args...)
	if err != nil {
		return 0, nil, err
	}
	defer done()
	settled := l.clock().Add(-CheckpointSettle)
	sum, n := start.posted, 0
	var prev time.Time
	var cps []checkpoint
	for rs.Next() {
		var c time.Time
		var amount int64
		if err := rs.Scan(&c, &amount); err != nil {
			return 0, nil, err
		}
		// A checkpoint falls between two moments, never inside one: every
		// posting at prev has been summed once created_at moves on.
		if n >= l.cfg.CheckpointEvery && !c.Equal(prev) && !prev.After(settled) {
			cps, n = append(cps, checkpoint{prev.UTC(), sum}), 0
		}
		sum, prev, n = sum+amount, c, n+1
	}
	if err := rs.Err(); err != nil {
		return 0, nil, err
	}
	if n >= l.cfg.CheckpointEvery && !prev.After(settled) {
		cps = append(cps, checkpoint{prev.UTC(), sum})
	}
	return sum, cps, nil
}

// saveCheckpoints records cps for account id. They only speed later reads
// up, so a failure is logged and the answer stands. Two readers may record
// the same checkpoint: it is the same row, and the second is ignored.
func (l *Ledger) saveCheckpoints(ctx context.Context, id string, cps []checkpoint) {
	if len(cps) == 0 {
		return
	}
	var err error
	if l.db.Dialect == store.Postgres {
		ats, posted := make([]time.Time, len(cps)), make([]int64, len(cps))
		for i, c := range cps {
			ats[i], posted[i] = c.at, c.posted
		}
		_, err = l.db.Pool.Exec(ctx, `INSERT INTO balance_checkpoints (account_id, at, posted)
			SELECT $1, v.at, v.posted FROM unnest($2::timestamptz[], $3::bigint[]) AS v(at, posted)
			ON CONFLICT DO NOTHING`, id, ats, posted)
	} else {
		err = l.db.InTx(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO balance_checkpoints (account_id, at, posted)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, c := range cps {
				if _, err := stmt.ExecContext(ctx, id, c.at, c.posted); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil && ctx.Err() == nil {
		l.log.Warn("record balance checkpoints", "account", id, "count", len(cps), "err", err)
	}
}
