package auth

import (
	"errors"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// retryError is a *bank.Error that knows when the client may try again; the
// handlers turn the delay into a Retry-After header.
type retryError struct {
	err   *bank.Error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// retryAfter returns the delay err asks the client to wait, if it asks.
func retryAfter(err error) (time.Duration, bool) {
	var re *retryError
	if errors.As(err, &re) {
		return re.after, true
	}
	return 0, false
}
