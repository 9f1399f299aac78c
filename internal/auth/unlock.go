package auth

import (
	"context"
	"fmt"

	"github.com/fintech-banking/bank/internal/bank"
)

// Unlock lifts the lock that failed logins put on the user with email and
// resets the count of failed logins: an operator's way out for a locked user.
// It returns KindNotFound when no user has that email.
func (s *Service) Unlock(ctx context.Context, email string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE email = $1`, normalizeEmail(email))
	if err != nil {
		return fmt.Errorf("unlock user: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("unlock user: %w", err)
	} else if n == 0 {
		return bank.Errorf(bank.KindNotFound, "user_not_found", "no user has the email %s", normalizeEmail(email))
	}
	return nil
}
