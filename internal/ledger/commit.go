package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/store"
)

// The write path: group commit without a background goroutine.
//
// A request is appended to the waiting list, then its submitter waits either
// for its reply or for the committer token. Whoever takes the token posts
// everything waiting (up to MaxBatch requests) in one database transaction,
// answers each request, and gives the token back. A submitter stops waiting
// only once it has its reply or has taken its request back off the list, so
// every waiting request always has someone able to take the token.
//
// One database transaction per batch turns N fsyncs and N×6 round trips into
// one fsync and a handful of set-based statements, and a hot account is locked
// once per batch instead of once per transfer.
//
// The rules a caller can rely on:
//   - A request whose context ends while it waits is taken off the list and
//     answered "cancelled": nothing of it is written. Once it is in a batch it
//     is posted or not as the batch is, and its answer says which, even if its
//     context has ended meanwhile.
//   - One request's failure never fails another's. Money rules are checked per
//     request; a transaction that fails for any other reason is posted again
//     in halves until the request at fault fails alone.
//   - A transient failure (serialization, deadlock, a lost connection, a key
//     committed meanwhile by another process) is retried under store.Retry's
//     one policy. A retry after a lost COMMIT is safe because every request
//     carries an Idempotency-Key: a batch that did commit has stored its keys,
//     and its requests are now replayed. Hold expiry, the one internal request
//     without a key, changes only holds still pending and past their expiry,
//     so posting it twice changes nothing the second time.

// idemKey scopes an idempotency key to its user.
type idemKey struct{ user, key string }

// Idempotency is a request's Idempotency-Key and the fingerprint of the
// decoded request it was first used with; its answer is kept in the one
// store of idempotent answers (internal/idem).
type Idempotency = idem.Request

// Result is the ledger's answer to a money-moving request: the transaction
// or hold it made or changed, or a batch's answers item by item. JSON
// encodes it as the API writes it.
type Result struct {
	Transaction *Transaction // made: a deposit, withdrawal, transfer, capture or reversal
	Hold        *Hold        // made, voided or expired
	Items       []BatchItem  // a batch transfer's answers, in its request's order
	Created     bool         // a transaction or hold was made; false: an existing hold changed
	Replayed    bool         // the answer of an earlier request with the same key

	// body is the answer already encoded: as kept under its key (a replay
	// writes what the first answer wrote, byte for byte, whichever release
	// wrote it) or as just stored there.
	body []byte
}

// BatchItem is one item's answer in a batch: its transaction (a batch
// transfer) or hold (the expiry of holds), or the refusal of that item alone.
type BatchItem struct {
	Transaction *Transaction
	Hold        *Hold
	Err         error
}

// JSON returns the answer as the API writes it.
func (r Result) JSON() []byte {
	switch {
	case r.body != nil:
		return r.body
	case r.Items != nil:
		b := append(make([]byte, 0, 512*len(r.Items)), `{"data":[`...)
		for i, it := range r.Items {
			if i > 0 {
				b = append(b, ',')
			}
			switch {
			case it.Err != nil:
				_, doc := bank.BodyOf(it.Err)
				b = append(b, mustJSON(doc)...)
			case it.Hold != nil:
				b = append(b, mustJSON(it.Hold)...)
			default:
				b = it.Transaction.appendJSON(b)
			}
		}
		return append(b, "]}"...)
	case r.Transaction != nil:
		return r.Transaction.appendJSON(make([]byte, 0, 512))
	case r.Hold != nil:
		return mustJSON(r.Hold)
	}
	return nil
}

// request is one money-moving request waiting for the write path. A
// batch-transfer request has many commands; every other request has one.
type request struct {
	p     bank.Principal
	idem  Idempotency
	cmds  []command
	batch bool // a batch-transfer request: one result or error per item
	done  chan reply

	origin bank.Origin // where the request came from, for the audit trail

	answered bool // touched only by the holder of the committer token
}

type reply struct {
	res Result
	err error
}

// answer sends rep to r's submitter, once.
func (r *request) answer(rep reply) {
	if !r.answered {
		r.answered = true
		r.done <- rep
	}
}

// maxCommands bounds the commands of one database transaction.
const maxCommands = 4096

// errPanic marks a commit attempt that panicked.
var errPanic = errors.New("ledger commit panicked")

func cancelled(err error) error {
	return &bank.Error{Kind: bank.KindUnavailable, Code: "request_cancelled",
		Message: "the request was cancelled before it was posted; nothing was written", Err: err}
}

// submit queues r and returns its answer once it is decided.
func (l *Ledger) submit(ctx context.Context, r *request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, cancelled(err)
	}
	if r.idem.Key != "" {
		end, err := l.inflight.Begin(r.p.UserID, r.idem.Key)
		if err != nil {
			return Result{}, err
		}
		defer end()
	}
	r.done = make(chan reply, 1)
	r.origin = bank.OriginOf(ctx)
	l.mu.Lock()
	l.waiting = append(l.waiting, r)
	l.mu.Unlock()
	for {
		select {
		case rep := <-r.done:
			return rep.res, rep.err
		case l.committer <- struct{}{}:
			l.commitWaiting()
		case <-ctx.Done():
			if l.unqueue(r) {
				return Result{}, cancelled(ctx.Err())
			}
			rep := <-r.done // already in a batch: it is decided there
			return rep.res, rep.err
		}
	}
}

// unqueue takes r off the waiting list and reports whether it was still there.
func (l *Ledger) unqueue(r *request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.waiting, r)
	if i < 0 {
		return false
	}
	l.waiting = slices.Delete(l.waiting, i, i+1)
	return true
}

// take removes the first waiting requests that fit in one batch.
func (l *Ledger) take() []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, cmds := 0, 0
	for n < len(l.waiting) && n < l.cfg.MaxBatch && (n == 0 || cmds+len(l.waiting[n].cmds) <= maxCommands) {
		cmds += len(l.waiting[n].cmds)
		n++
	}
	reqs := slices.Clone(l.waiting[:n])
	l.waiting = slices.Delete(l.waiting, 0, n)
	return reqs
}

// commitWaiting posts what is waiting; the caller holds the committer token,
// which commitWaiting gives back whatever happens.
func (l *Ledger) commitWaiting() {
	defer func() { <-l.committer }()
	reqs := l.take()
	if len(reqs) == 0 {
		return
	}
	defer func() {
		// attempt recovers its own panics; this is for a bug anywhere else
		// on the way, so that no request is left waiting for ever.
		if p := recover(); p != nil {
			l.reportPanic(p, len(reqs))
			for _, r := range reqs {
				r.answer(reply{err: fmt.Errorf("%w: %v", errPanic, p)})
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.commit(ctx, reqs)
}

// commit posts reqs in one database transaction and answers each. When the
// transaction fails for a reason retrying did not cure, reqs are posted again
// in halves, until the request at fault is alone and fails by itself. An
// unreachable database fails them all at once: no half would fare better.
func (l *Ledger) commit(ctx context.Context, reqs []*request) {
	start := time.Now()
	replies, err := l.post(ctx, reqs)
	l.cfg.Metrics.observe(len(reqs), time.Since(start), err)
	switch {
	case err == nil:
		for i, r := range reqs {
			r.answer(replies[i])
		}
	case len(reqs) > 1 && !store.Unreachable(err):
		l.cfg.Metrics.split()
		mid := len(reqs) / 2
		l.commit(ctx, reqs[:mid])
		l.commit(ctx, reqs[mid:])
	default:
		if store.Unreachable(err) {
			err = &bank.Error{Kind: bank.KindUnavailable, Code: "unavailable",
				Message: "the database could not be reached and the outcome is unknown; " +
					"retry with the same Idempotency-Key: a request that was posted is then answered as it was", Err: err}
		} else {
			err = fmt.Errorf("post %d requests: %w", len(reqs), err)
		}
		for _, r := range reqs {
			r.answer(reply{err: err})
		}
	}
}

// post posts reqs in one database transaction and returns a reply for each,
// retrying transient failures under store.Retry.
func (l *Ledger) post(ctx context.Context, reqs []*request) ([]reply, error) {
	var replies []reply
	err := store.Retry(ctx, transient, func() error {
		var err error
		replies, err = l.attempt(ctx, reqs)
		return err
	})
	return replies, err
}

// transient reports whether a failed attempt may succeed when run again: a
// serialization failure, deadlock or busy database; a lost or refused
// connection; a unique violation, raised when another process committed the
// same idempotency key or reversed the same transaction meanwhile, which the
// next attempt reads.
func transient(err error) bool {
	return store.Retryable(err) || store.Unreachable(err) || store.IsUniqueViolation(err)
}

// attempt runs reqs in one database transaction. A panic inside is reported
// and returned as an error, after the transaction is rolled back.
func (l *Ledger) attempt(ctx context.Context, reqs []*request) (replies []reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			l.reportPanic(p, len(reqs))
			if l.pg != nil {
				l.pg.drop() // whatever it was sending, its transaction dies with it
			}
			replies, err = nil, fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	b := newBatch(l)
	if l.pg != nil {
		return l.pg.run(ctx, b, reqs)
	}
	// SQLite runs in process: a statement cannot hang on a network, and its
	// lock waits end at the busy timeout. With a context that can be
	// cancelled, the driver starts a watcher goroutine for every statement.
	ctx = context.WithoutCancel(ctx)
	err = l.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		replies, err = b.run(reqs, &sqlBatch{ctx: ctx, tx: tx, dialect: store.SQLite})
		return err
	})
	return replies, err
}

func (l *Ledger) reportPanic(p any, requests int) {
	l.cfg.Metrics.panicked()
	l.log.Error("ledger commit panicked", "panic", fmt.Sprint(p), "requests", requests, "stack", string(debug.Stack()))
}
