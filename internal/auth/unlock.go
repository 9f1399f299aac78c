package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fintech-banking/bank/internal/bank"
)

// UnlockEmail is Unlock for the user with email, for the operator's command
// line, which knows users by email. It returns KindNotFound when no user has
// that email, and what Unlock returns.
func (s *Service) UnlockEmail(ctx context.Context, by Principal, email string) (User, error) {
	email = normalizeEmail(email)
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM users WHERE email = $1`, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, bank.Errorf(bank.KindNotFound, "user_not_found", "no user has the email %s", email)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return s.Unlock(ctx, by, id)
}
