package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

// perPaymentLimit returns the refusal of a payment above its account's
// per-payment limit.
func (s *Service) perPaymentLimit(ctx context.Context, q querier, p *Payment) (error, error) {
	per, _, err := s.limits(ctx, q, p.FromAccountID)
	if err != nil {
		return nil, err
	}
	if p.Amount > per {
		return limitExceeded("account %s may pay at most %d %s at once", p.FromAccountID, per, p.Currency), nil
	}
	return nil, nil
}

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
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set payment limits: %w", err)
	}
	return &Limits{AccountID: accountID, PerPayment: perPayment, Daily: daily, UpdatedAt: &now}, nil
}
