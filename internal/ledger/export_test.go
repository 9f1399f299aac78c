package ledger

// SetBeforeApply makes l call f inside each commit, before it decides the
// request with Idempotency-Key key: a test's way to stall or break a commit.
func SetBeforeApply(l *Ledger, f func(key string)) { l.beforeApply = f }

// Waiting is how many requests wait for the write path.
func (l *Ledger) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiting)
}
