package auth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// hashPool bounds the password hashes in progress and the requests waiting
// for one (Config.MaxConcurrentHashes, MaxQueuedHashes). Registrations may
// hold at most half the slots, so that a flood of them leaves logins room.
type hashPool struct {
	slots    chan struct{}
	register chan struct{}
	waiting  atomic.Int64
	maxWait  int64
}

func newHashPool(slots, queue int) *hashPool {
	return &hashPool{
		slots:    make(chan struct{}, slots),
		register: make(chan struct{}, max(1, slots/2)),
		maxWait:  int64(queue),
	}
}

// errBusy is the answer when the queue for a hash is full or the wait ran
// out: the service as a whole is overloaded, so 503 with a short retry.
func errBusy(cause error) error {
	return &retryError{
		err: &bank.Error{Kind: bank.KindUnavailable, Code: "busy",
			Message: "too many logins and registrations at once; retry later", Err: cause},
		after: time.Second,
	}
}

// do runs fn, a password hash, once a slot is free, and returns its error.
// registration says the hash is a registration's. It returns KindUnavailable
// (code busy) when the queue is full or ctx ends first.
func (p *hashPool) do(ctx context.Context, registration bool, fn func() error) error {
	if p.waiting.Add(1) > p.maxWait+int64(cap(p.slots)) {
		p.waiting.Add(-1)
		return errBusy(nil)
	}
	defer p.waiting.Add(-1)
	if registration {
		select {
		case p.register <- struct{}{}:
		case <-ctx.Done():
			return errBusy(ctx.Err())
		}
		defer func() { <-p.register }()
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return errBusy(ctx.Err())
	}
	defer func() { <-p.slots }()
	return fn()
}
