package payment

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/ledger"
)

// A payment's life: the statuses, the moves between them, what each move
// does to the payment, and the steps that make them. Every move is a
// compare-and-set on the status (store.go), so replicas and retries racing
// on one payment make each move once.

// Payment statuses. StatusAccepting and StatusRefused are internal: a
// payment being checked and held, and one refused before anything was held.
const (
	StatusAccepting = "accepting"
	StatusRefused   = "refused"
	StatusScheduled = "scheduled"
	StatusPending   = "pending"
	StatusSubmitted = "submitted"
	StatusSettled   = "settled"
	StatusFailed    = "failed"
	StatusReturned  = "returned"
	StatusCancelled = "cancelled"
)

// transitions lists the legal moves from each status.
var transitions = map[string][]string{
	StatusScheduled: {StatusAccepting, StatusCancelled},
	StatusAccepting: {StatusPending, StatusRefused, StatusFailed},
	StatusPending:   {StatusSubmitted, StatusFailed, StatusCancelled},
	StatusSubmitted: {StatusSettled, StatusFailed},
	StatusSettled:   {StatusReturned},
}

// Legal reports whether a payment may move from status from to status to.
func Legal(from, to string) bool { return slices.Contains(transitions[from], to) }

// internal reports whether a status is never shown in a payment's history.
func internal(status string) bool { return status == StatusAccepting || status == StatusRefused }

// events names the event each status announces.
var events = map[string]string{
	StatusSubmitted: event.PaymentSubmitted,
	StatusSettled:   event.PaymentSettled,
	StatusFailed:    event.PaymentFailed,
	StatusReturned:  event.PaymentReturned,
	StatusCancelled: event.PaymentCancelled,
}

// event is p's event of type typ, as p is after a move to status.
func (p *Payment) event(typ string, at time.Time, status, failure string) *event.Payment {
	return &event.Payment{Header: event.NewHeader(typ, at), PaymentID: p.ID, OwnerID: p.OwnerID,
		FromAccountID: p.FromAccountID, Amount: p.Amount, Currency: p.Currency, Status: status,
		FailureReason: failure, Reference: p.Reference}
}

// move is one prepared transition: the payment as it is, and as it will be.
type move struct {
	p    *Payment
	next Payment
}

// prepare computes the state p moves to; it refuses an illegal move.
func (s *Service) prepare(p *Payment, to, reason string, change func(next *Payment)) (*move, error) {
	if !Legal(p.Status, to) {
		return nil, bank.Errorf(bank.KindConflict, "illegal_transition", "payment %s cannot go from %s to %s", p.ID, p.Status, to)
	}
	now := s.clock()
	next := *p
	next.Status, next.UpdatedAt = to, now
	if !internal(to) {
		next.History = append(append([]Change(nil), p.History...), Change{Status: to, At: now, Reason: reason})
	}
	if to == StatusFailed || to == StatusReturned || to == StatusRefused {
		next.FailureReason = reason
	}
	if to == StatusSubmitted {
		next.submittedAt = &now
	}
	// A hold is released after the commit; until then the flag says it is due.
	if (to == StatusFailed || to == StatusCancelled) && next.HoldID != "" {
		next.releaseDue = true
	}
	next.claimedBy = "" // a move ends the lease
	if change != nil {
		change(&next)
	}
	return &move{p: p, next: next}, nil
}

// execute checks an accepting payment against its account's daily limit,
// holds its money and makes it pending; or refuses it (a payment ordered
// now) or fails it (a scheduled one that came due), nothing held. It is
// idempotent: a crash at any point is resumed by running it again.
func (s *Service) execute(ctx context.Context, p *Payment) error {
	if p.limitDay == "" {
		refusal, err := s.reserve(ctx, p)
		if err != nil {
			return err
		}
		if refusal != nil {
			return s.refuse(ctx, p, refusal)
		}
		if p.Status != StatusAccepting {
			return nil // decided meanwhile by another
		}
	}
	res, err := s.l.CreateHold(ctx, system, stepKey(p.ID, "hold"), ledger.HoldInput{AccountID: p.FromAccountID,
		Money: bank.Money{Amount: p.Amount, Currency: p.Currency}, Description: "payment " + p.ID})
	switch k := bank.ErrorKind(err); {
	case err == nil:
	case k == bank.KindRejected || k == bank.KindNotFound:
		return s.refuse(ctx, p, err)
	default:
		return err
	}
	if res.Hold == nil {
		return fmt.Errorf("payment %s: the ledger answered its hold with no hold", p.ID)
	}
	holdID := res.Hold.ID
	ok, err := s.transition(ctx, p, StatusPending, "", func(next *Payment) { next.HoldID = holdID },
		func(tx *sql.Tx, next *Payment) error { return answer(ctx, tx, next, nil) })
	if err != nil || ok {
		return err
	}
	// Someone else moved the payment: from accepting only another run of
	// this same step can, which made it pending with the same hold.
	return nil
}

// refuse ends an accepting payment that a rule refused, releasing its daily
// reservation: a payment ordered now is refused (its request answers with
// the refusal); a scheduled one fails with the refusal's code as its reason.
func (s *Service) refuse(ctx context.Context, p *Payment, refusal error) error {
	to := StatusRefused
	if p.ScheduledFor != nil {
		to = StatusFailed
	}
	day := p.limitDay
	_, err := s.transition(ctx, p, to, bank.ErrorCode(refusal), func(next *Payment) { next.limitDay = "" },
		func(tx *sql.Tx, next *Payment) error {
			if err := unreserve(ctx, tx, p, day); err != nil {
				return err
			}
			return answer(ctx, tx, next, refusal)
		})
	return err
}

// Cancel cancels a scheduled or pending payment p may see and releases its
// hold. Cancelling a cancelled payment answers it again. It returns
// KindNotFound, and KindConflict with payment_not_cancellable (already
// submitted or ended) or payment_in_progress (being checked or handed to
// the rail right now: try again in a moment).
func (s *Service) Cancel(ctx context.Context, pr bank.Principal, id string) (*Payment, error) {
	if _, err := s.Get(ctx, pr, id); err != nil { // pr may see it
		return nil, err
	}
	for range 5 {
		p, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		switch p.Status {
		case StatusCancelled:
			if err := s.release(ctx, p); err != nil {
				return nil, err
			}
			return p.view(), nil
		case StatusScheduled:
		case StatusPending:
			if leased, err := s.leased(ctx, p.ID); err != nil {
				return nil, err
			} else if leased {
				return nil, bank.Errorf(bank.KindConflict, "payment_in_progress",
					"payment %s is being handed to the rail; try again in a moment", id)
			}
		case StatusAccepting:
			return nil, bank.Errorf(bank.KindConflict, "payment_in_progress", "payment %s is being processed; try again in a moment", id)
		default:
			return nil, bank.Errorf(bank.KindConflict, "payment_not_cancellable",
				"payment %s is %s; only a scheduled or pending payment can be cancelled", id, p.Status)
		}
		day := p.limitDay
		ok, err := s.cancelIfFree(ctx, p, day)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := s.release(ctx, p); err != nil {
				return nil, err
			}
			return p.view(), nil
		}
	}
	return nil, bank.Errorf(bank.KindConflict, "payment_in_progress", "payment %s is changing; try again in a moment", id)
}

// cancelIfFree cancels p unless a submitter holds its lease: the condition is
// checked in the same transaction as the change.
func (s *Service) cancelIfFree(ctx context.Context, p *Payment, day string) (bool, error) {
	return s.transition(ctx, p, StatusCancelled, "", func(next *Payment) { next.limitDay = "" },
		func(tx *sql.Tx, next *Payment) error {
			var leased bool
			if err := tx.QueryRowContext(ctx, `SELECT NOT `+s.leases.Free()+` FROM payments WHERE id = $1`, p.ID).Scan(&leased); err != nil {
				return err
			}
			if leased {
				return errLost
			}
			return unreserve(ctx, tx, p, day)
		})
}

// leased reports whether a submitter holds payment id now.
func (s *Service) leased(ctx context.Context, id string) (bool, error) {
	var leased bool
	err := s.db.QueryRowContext(ctx, `SELECT NOT `+s.leases.Free()+` FROM payments WHERE id = $1`, id).Scan(&leased)
	return leased, err
}

// release voids the hold of a failed or cancelled payment, once: the void's
// key makes a repeat a replay, and a hold that is no longer pending has
// nothing left to release.
func (s *Service) release(ctx context.Context, p *Payment) error {
	if !p.releaseDue || p.HoldID == "" {
		return nil
	}
	_, err := s.l.VoidHold(ctx, system, stepKey(p.ID, "void"), p.HoldID)
	if err != nil && bank.ErrorKind(err) != bank.KindRejected {
		return fmt.Errorf("payment %s: void its hold: %w", p.ID, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE payments SET release_due = FALSE WHERE id = $1`, p.ID); err != nil {
		return fmt.Errorf("payment %s: mark its hold released: %w", p.ID, err)
	}
	p.releaseDue = false
	return nil
}

// fail ends a pending or submitted payment with reason and releases its hold.
func (s *Service) fail(ctx context.Context, p *Payment, reason string) (bool, error) {
	day := p.limitDay
	ok, err := s.transition(ctx, p, StatusFailed, reason, func(next *Payment) { next.limitDay = "" },
		func(tx *sql.Tx, next *Payment) error { return unreserve(ctx, tx, p, day) })
	if err != nil || !ok {
		return ok, err
	}
	return true, s.release(ctx, p)
}

// settle captures a submitted payment's hold into the settlement account of
// its currency and marks it settled.
func (s *Service) settle(ctx context.Context, p *Payment) (bool, error) {
	txID, err := s.capture(ctx, p)
	if err != nil {
		return false, err
	}
	return s.transition(ctx, p, StatusSettled, "", func(next *Payment) { next.TransactionID = txID }, nil)
}

// capture moves a submitted payment's held money to the settlement account
// of its currency and returns the transaction's id; a repeat replays.
func (s *Service) capture(ctx context.Context, p *Payment) (string, error) {
	res, err := s.l.CaptureToSettlement(ctx, system, stepKey(p.ID, "capture"), p.HoldID, p.Currency)
	if err != nil {
		return "", fmt.Errorf("payment %s: capture its hold: %w", p.ID, err)
	}
	if res.Transaction == nil {
		return "", fmt.Errorf("payment %s: the ledger answered its capture with no transaction", p.ID)
	}
	return res.Transaction.ID, nil
}

// giveBack credits a settled payment back from the settlement account, as
// the reversal of its settlement, and marks it returned with reason.
func (s *Service) giveBack(ctx context.Context, p *Payment, reason string) (bool, error) {
	res, err := s.l.Reverse(ctx, system, stepKey(p.ID, "return"), p.TransactionID, "return of payment "+p.ID+": "+reason)
	if err != nil {
		return false, fmt.Errorf("payment %s: credit its return: %w", p.ID, err)
	}
	if res.Transaction == nil {
		return false, fmt.Errorf("payment %s: the ledger answered its return with no transaction", p.ID)
	}
	returnID := res.Transaction.ID
	return s.transition(ctx, p, StatusReturned, reason, func(next *Payment) { next.ReturnID = returnID }, nil)
}

// apply makes a rail's outcome true of its payment. It reports whether the
// outcome is done with (applied now or before); false means not yet (the
// payment is not marked submitted yet) and the outcome is kept for later.
func (s *Service) apply(ctx context.Context, o Outcome) (bool, error) {
	p, err := s.load(ctx, o.PaymentID)
	if err != nil {
		return false, err
	}
	if p == nil {
		s.log.Warn("rail outcome for an unknown payment", "payment_id", o.PaymentID, "outcome", o.Kind)
		return true, nil
	}
	for range 3 {
		switch {
		case p.Status == StatusPending || p.Status == StatusAccepting:
			return false, nil // sent, but not yet marked submitted: wait for the submitter
		case o.Kind == OutcomeSettled && p.Status == StatusSubmitted:
			_, err = s.settle(ctx, p)
		case o.Kind == OutcomeFailed && p.Status == StatusSubmitted:
			_, err = s.fail(ctx, p, o.Reason)
		case o.Kind == OutcomeReturned && p.Status == StatusSubmitted:
			_, err = s.settle(ctx, p) // a return implies the payment went out first
		case o.Kind == OutcomeReturned && p.Status == StatusSettled:
			_, err = s.giveBack(ctx, p, o.Reason)
		default:
			// Applied before, or it cannot apply (a failure after
			// settlement): nothing more to do.
			if p.Status == StatusFailed || p.Status == StatusCancelled {
				return true, s.release(ctx, p)
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if p, err = s.load(ctx, o.PaymentID); err != nil {
			return false, err
		}
	}
	return true, nil
}
