package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
)

// Limits are an account's payment limits, in minor units of its currency.
type Limits struct {
	AccountID  string     `json:"account_id"`
	PerPayment int64      `json:"per_payment"`
	Daily      int64      `json:"daily"`
	Default    bool       `json:"default"` // the configured defaults: no operator set any
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// limits returns the per-payment and daily limits of an account.
func (s *Service) limits(ctx context.Context, q querier, accountID string) (int64, int64, error) {
	var per, daily int64
	err := q.QueryRowContext(ctx, `SELECT per_payment, daily FROM payment_limits WHERE account_id = $1`, accountID).Scan(&per, &daily)
	if errors.Is(err, sql.ErrNoRows) {
		return s.cfg.PerPaymentLimit, s.cfg.DailyLimit, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read payment limits: %w", err)
	}
	return per, daily, nil
}

// overPerPayment returns the refusal of a payment above per, its account's
// per-payment limit.
func overPerPayment(p *Payment, per int64) error {
	if p.Amount > per {
		return limitExceeded("account %s may pay at most %d %s at once", p.FromAccountID, per, p.Currency)
	}
	return nil
}

// AuditLimitsSet is the audit trail's action for staff setting an
// account's payment limits.
const AuditLimitsSet = "payment.limits_set"

// SetLimits sets the payment limits of a customer account. Staff only. It
// returns KindForbidden, KindNotFound and KindInvalid (a limit outside 1 …
// bank.MaxAmount, or a daily limit below the per-payment one).
func (s *Service) SetLimits(ctx context.Context, p bank.Principal, accountID string, perPayment, daily int64) (*Limits, error) {
	if !p.Staff() {
		return nil, bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the operator role")
	}
	switch {
	case perPayment <= 0 || perPayment > bank.MaxAmount:
		return nil, bank.Invalid("per_payment", "must be from 1 to 1000000000000000 minor units")
	case daily <= 0 || daily > bank.MaxAmount:
		return nil, bank.Invalid("daily", "must be from 1 to 1000000000000000 minor units")
	case daily < perPayment:
		return nil, bank.Invalid("daily", "must be at least per_payment")
	}
	acct, err := s.l.Account(ctx, p, accountID)
	if err != nil {
		return nil, err
	}
	if acct.System() {
		return nil, bank.Errorf(bank.KindNotFound, "account_not_found", "account %s not found", accountID)
	}
	now := s.clock()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO payment_limits (account_id, per_payment, daily, updated_by, updated_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET per_payment = excluded.per_payment,
			daily = excluded.daily, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			accountID, perPayment, daily, p.UserID, now)
		if err != nil {
			return err
		}
		return audit.Write(ctx, tx, now, audit.New(p.UserID, AuditLimitsSet, accountID, bank.OriginOf(ctx), map[string]string{
			"owner_id": acct.OwnerID, "per_payment": strconv.FormatInt(perPayment, 10), "daily": strconv.FormatInt(daily, 10)}))
	})
	if err != nil {
		return nil, fmt.Errorf("set payment limits: %w", err)
	}
	return &Limits{AccountID: accountID, PerPayment: perPayment, Daily: daily, UpdatedAt: &now}, nil
}

func limitExceeded(format string, args ...any) error {
	return bank.Errorf(bank.KindRejected, "limit_exceeded", format, args...)
}

// errOverLimit rolls back a reservation that would pass the daily limit.
var errOverLimit = errors.New("over the daily limit")

// reserveIn counts a new payment, not yet written, against daily, its
// account's daily limit, in tx; it returns the refusal when the limit would
// be passed.
func reserveIn(ctx context.Context, tx *sql.Tx, p *Payment, daily int64, now time.Time) (error, error) {
	day := now.Format(time.DateOnly)
	ok, err := addToDay(ctx, tx, p, day, daily)
	if err != nil || !ok {
		return limitExceeded("account %s may pay at most %d %s a day", p.FromAccountID, daily, p.Currency), err
	}
	p.limitDay = day
	return nil, nil
}

// addToDay adds p's amount to its account's total of day unless that would
// pass daily. A conditional upsert: concurrent payments of one account
// serialise on its row, and none passes the limit.
func addToDay(ctx context.Context, tx *sql.Tx, p *Payment, day string, daily int64) (bool, error) {
	if p.Amount > daily {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_daily_totals (account_id, day, amount) VALUES ($1, $2, $3)
		ON CONFLICT (account_id, day) DO UPDATE SET amount = payment_daily_totals.amount + excluded.amount
		WHERE payment_daily_totals.amount + excluded.amount <= $4`, p.FromAccountID, day, p.Amount, daily)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// reserve counts p against its account's daily limit for today (UTC), once:
// the payment row remembers the day. It returns the refusal when the limit
// would be passed, and reloads p when another run reserved first.
func (s *Service) reserve(ctx context.Context, p *Payment) (error, error) {
	now := s.clock()
	day := now.Format(time.DateOnly)
	var daily int64
	lost := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		lost = false
		_, d, err := s.limits(ctx, tx, p.FromAccountID)
		if err != nil {
			return err
		}
		daily = d
		res, err := tx.ExecContext(ctx, `UPDATE payments SET limit_day = $2 WHERE id = $1 AND limit_day IS NULL AND status = 'accepting'`, p.ID, day)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			lost = true
			return nil
		}
		if ok, err := addToDay(ctx, tx, p, day, daily); err != nil {
			return err
		} else if !ok {
			return errOverLimit
		}
		return nil
	})
	switch {
	case errors.Is(err, errOverLimit):
		return limitExceeded("account %s may pay at most %d %s a day", p.FromAccountID, daily, p.Currency), nil
	case err != nil:
		return nil, err
	case lost:
		fresh, err := s.load(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if fresh == nil {
			return nil, fmt.Errorf("payment %s is gone", p.ID)
		}
		*p = *fresh
		return nil, nil
	}
	p.limitDay = day
	return nil, nil
}

// unreserve gives back what payment p counted against its day's limit.
func unreserve(ctx context.Context, tx *sql.Tx, p *Payment, day string) error {
	if day == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE payment_daily_totals SET amount = amount - $3 WHERE account_id = $1 AND day = $2 AND amount >= $3`,
		p.FromAccountID, day, p.Amount)
	return err
}
