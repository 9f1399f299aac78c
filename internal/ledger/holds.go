package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fintech-banking/bank/internal/bank"
)

func holdNotFound(id string) error {
	return bank.Errorf(bank.KindNotFound, "hold_not_found", "hold %s not found", id)
}

// Hold returns the hold id if p may see it: staff, or the owner of its
// account. KindNotFound otherwise.
func (l *Ledger) Hold(ctx context.Context, p bank.Principal, id string) (*Hold, error) {
	if bank.CheckID("id", id) != nil {
		return nil, holdNotFound(id)
	}
	h, err := scanHold(l.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM holds WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, holdNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get hold: %w", err)
	}
	// A hold is p's to see when its account is.
	if _, err := l.Account(ctx, p, h.AccountID); bank.ErrorKind(err) == bank.KindNotFound {
		return nil, holdNotFound(id)
	} else if err != nil {
		return nil, err
	}
	l.showExpiry(h)
	return h, nil
}

// Holds lists the holds of an account p may see, newest first, those in
// status only when it is not "". It returns KindNotFound for an account p
// may not see and KindInvalid for an unknown status.
func (l *Ledger) Holds(ctx context.Context, p bank.Principal, accountID, status string, page Page) ([]*Hold, string, error) {
	switch status {
	case "", HoldPending, HoldCaptured, HoldVoided, HoldExpired:
	default:
		return nil, "", bank.Invalid("status", "must be pending, captured, voided or expired")
	}
	if _, err := l.Account(ctx, p, accountID); err != nil {
		return nil, "", err
	}
	cur, err := bank.DecodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + holdColumns + ` FROM holds WHERE account_id = $1`
	args := []any{accountID}
	// A pending hold past its expiry is expired, whether or not the sweeper
	// has released it yet.
	switch status {
	case HoldPending:
		args = append(args, l.clock())
		q += fmt.Sprintf(` AND status = 'pending' AND (expires_at IS NULL OR expires_at > $%d)`, len(args))
	case HoldExpired:
		args = append(args, l.clock())
		q += fmt.Sprintf(` AND (status = 'expired' OR status = 'pending' AND expires_at <= $%d)`, len(args))
	case HoldCaptured, HoldVoided:
		args = append(args, status)
		q += fmt.Sprintf(` AND status = $%d`, len(args))
	}
	q, args = cur.NewestFirst(q, args, "id", page.Limit)
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list holds: %w", err)
	}
	defer rows.Close()
	out := []*Hold{}
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, "", err
		}
		l.showExpiry(h)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list holds: %w", err)
	}
	out, next := bank.OnePage(out, page.Limit, func(h *Hold) bank.Cursor { return bank.Cursor{At: h.CreatedAt, ID: h.ID} })
	return out, next, nil
}

// showExpiry shows a pending hold past its expiry as expired, as a capture
// or void of it is answered.
func (l *Ledger) showExpiry(h *Hold) {
	if h.Status == HoldPending && h.ExpiresAt != nil && !h.ExpiresAt.After(l.clock()) {
		h.Status = HoldExpired
	}
}

// HoldIn reserves money on an account of p's (or any, for staff) as part of
// the caller's database transaction tx, with the money rules of CreateHold:
// the hold, the account's pending balance and the hold.created event commit
// or roll back with whatever else tx writes. It takes no Idempotency-Key: the
// caller's transaction keeps its own request's key (internal/idem), and a
// hold it rolls back never was. It locks the account until tx ends, as the
// write path would; lock nothing the write path may hold before it.
//
// It returns KindInvalid for bad input, KindNotFound for an account p may not
// use, and KindRejected for a money rule (funds, status, currency): then it
// wrote nothing.
func (l *Ledger) HoldIn(ctx context.Context, tx *sql.Tx, p bank.Principal, in HoldInput) (*Hold, error) {
	if err := checkAccountMoney(in.AccountID, in.Money, in.Description, in.Metadata); err != nil {
		return nil, err
	}
	if in.ID != "" {
		if err := bank.CheckID("id", in.ID); err != nil {
			return nil, err
		}
	}
	r := &request{p: p, origin: bank.OriginOf(ctx), cmds: []command{{op: opHold, from: in.AccountID, money: in.Money,
		expiresAt: in.ExpiresAt, description: in.Description, metadata: in.Metadata, holdID: in.ID}}}
	replies, err := newBatch(l).run([]*request{r}, &sqlBatch{ctx: ctx, tx: tx, dialect: l.db.Dialect})
	if err != nil {
		return nil, fmt.Errorf("place hold: %w", err)
	}
	if err := replies[0].err; err != nil {
		return nil, err
	}
	return replies[0].res.Hold, nil
}
