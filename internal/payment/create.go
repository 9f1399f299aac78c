package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

// CreateInput is a payment order.
type CreateInput struct {
	FromAccountID string
	Money         bank.Money
	Beneficiary   Beneficiary
	Reference     string
	// ScheduledFor, when set, is when the payment runs (in the future).
	ScheduledFor *time.Time
	// Schedule, when set, repeats the payment; ScheduledFor then bounds its
	// first occurrence from below.
	Schedule *ScheduleInput
	// Metadata is the client's own, kept with the payment (the first
	// occurrence of a recurring one).
	Metadata bank.Metadata
}

// maxReference is the longest reference, in characters (what SEPA carries).
const maxReference = 140

// check refuses input that is not a payment order (KindInvalid) and
// normalises the beneficiary; a beneficiary that cannot exist is returned
// separately, as a refusal to keep.
func (in *CreateInput) check(now time.Time) (refusal error, err error) {
	if err := bank.CheckID("from_account_id", in.FromAccountID); err != nil {
		return nil, err
	}
	if _, err := bank.ParseMoney("amount", bank.Amount(in.Money.Amount), string(in.Money.Currency)); err != nil {
		return nil, err
	}
	if err := bank.CheckText("reference", in.Reference, maxReference); err != nil {
		return nil, err
	}
	if err := bank.CheckMetadata("metadata", in.Metadata); err != nil {
		return nil, err
	}
	if in.ScheduledFor != nil && !in.ScheduledFor.After(now) && in.Schedule == nil {
		return nil, bank.Invalid("scheduled_for", "must be in the future")
	}
	if in.Schedule != nil {
		if err := in.Schedule.check(); err != nil {
			return nil, err
		}
	}
	if err := in.Beneficiary.check(); err != nil {
		if bank.ErrorKind(err) == bank.KindRejected {
			return err, nil
		}
		return nil, err
	}
	return nil, nil
}

// Answer is the answer to a payment order, as kept for its Idempotency-Key
// in the one store of idempotent answers (internal/idem) and replayed byte
// for byte: Created with the payment, or Refused with the refusal's error
// document.
type Answer struct {
	Outcome  idem.Outcome
	Body     []byte
	Replayed bool
}

// Create accepts a payment order from an account p may use. It checks the
// order, then in one database transaction counts it against the account's
// limits, holds its money through the ledger (a payment made now), stores
// the payment with its first history entry, and keeps the answer under the
// Idempotency-Key: Created with the payment (pending, or scheduled), or
// Refused by a rule (insufficient_funds, limit_exceeded,
// invalid_beneficiary, currency_mismatch, account_frozen, …), nothing held.
// Errors that store nothing: KindInvalid, KindNotFound (another customer's
// account), KindRejected idempotency_key_reused, KindConflict
// request_in_progress, KindUnavailable.
func (s *Service) Create(ctx context.Context, p bank.Principal, key ledger.Idempotency, in CreateInput) (Answer, error) {
	if err := bank.CheckIdempotencyKey(key.Key); err != nil {
		return Answer{}, err
	}
	now := s.clock()
	refusal, err := in.check(now)
	if err != nil {
		return Answer{}, err
	}
	acct, err := s.l.Account(ctx, p, in.FromAccountID)
	if err != nil {
		return Answer{}, err
	}
	if acct.System() {
		return Answer{}, bank.Errorf(bank.KindNotFound, "account_not_found", "account %s not found", in.FromAccountID)
	}
	if refusal == nil && acct.Currency != in.Money.Currency {
		refusal = bank.Errorf(bank.KindRejected, "currency_mismatch", "account %s holds %s, not %s",
			acct.ID, acct.Currency, in.Money.Currency)
	}
	o, err := s.newOrder(acct, in, now)
	if err != nil {
		return Answer{}, err
	}
	end, err := s.inflight.Begin(p.UserID, key.Key)
	if err != nil {
		return Answer{}, err
	}
	defer end()
	var a Answer
	var waiting string
	// A unique violation is another request that kept the same key first:
	// the next attempt finds its answer.
	for {
		err = store.Retry(ctx, func(err error) bool { return store.Retryable(err) || store.IsUniqueViolation(err) }, func() error {
			// On SQLite, orders placed side by side share a transaction and
			// its commit, placed in the order of the accounts their holds
			// lock (store.Group).
			return s.orders.Do(ctx, o.pay.FromAccountID, func(ctx context.Context, tx *sql.Tx) error {
				var err error
				a, waiting, err = s.place(ctx, tx, p, key, o.fresh(), refusal, now)
				return err
			})
		})
		var late refusedLate
		if !errors.As(err, &late) {
			break
		}
		refusal = late.refusal // once: an order refused places no hold
	}
	switch {
	case err != nil:
		return Answer{}, fmt.Errorf("accept payment: %w", err)
	case waiting != "":
		return s.finishLegacy(ctx, p, key, waiting)
	case !a.Replayed && a.Outcome == idem.Created:
		s.metrics.created(o.pay)
	}
	return a, nil
}

// order is a payment order made into a payment, and its schedule if it
// recurs.
type order struct {
	pay   *Payment
	sched *schedule
}

// newOrder makes the payment of in, from account acct.
func (s *Service) newOrder(acct *ledger.Account, in CreateInput, now time.Time) (order, error) {
	pay := &Payment{ID: bank.NewID(), OwnerID: acct.OwnerID, FromAccountID: acct.ID, Amount: in.Money.Amount,
		Currency: in.Money.Currency, Beneficiary: in.Beneficiary, Reference: in.Reference, Status: StatusPending,
		Rail: s.rail.Name(), CreatedAt: now, UpdatedAt: now}
	if len(in.Metadata) > 0 {
		pay.Metadata = in.Metadata
	}
	var sched *schedule
	if in.Schedule != nil {
		sched = newSchedule(pay, in.Schedule, in.ScheduledFor, now)
		first := sched.occurrence(now)
		if first == nil {
			return order{}, bank.Invalid("schedule.until", "leaves no occurrence")
		}
		pay.ScheduleID, pay.occurrence, pay.ScheduledFor = sched.id, first.nominal, &first.runAt
	} else if in.ScheduledFor != nil {
		t := in.ScheduledFor.UTC().Truncate(time.Microsecond)
		pay.ScheduledFor = &t
	}
	if pay.ScheduledFor != nil && pay.ScheduledFor.After(now) {
		pay.Status = StatusScheduled
	}
	pay.History = []Change{{Status: pay.Status, At: now}}
	return order{pay: pay, sched: sched}, nil
}

// fresh returns a copy of o for one attempt at placing it.
func (o order) fresh() order {
	pay := *o.pay
	return order{pay: &pay, sched: o.sched}
}

// place decides a payment order in tx: the answer kept for its key, or the
// order placed or refused and its answer kept. It returns instead the id of
// the payment of a request that the previous release left undecided.
func (s *Service) place(ctx context.Context, tx *sql.Tx, p bank.Principal, key ledger.Idempotency, o order,
	refusal error, now time.Time) (Answer, string, error) {
	if a, waiting, found, err := s.kept(ctx, tx, p.UserID, key); found || err != nil {
		return a, waiting, err
	}
	pay := o.pay
	held := false
	if refusal == nil {
		per, daily, err := s.limits(ctx, tx, pay.FromAccountID)
		if err != nil {
			return Answer{}, "", err
		}
		if refusal = overPerPayment(pay, per); refusal == nil && pay.Status == StatusPending {
			if refusal, err = reserveIn(ctx, tx, pay, daily, now); err != nil {
				return Answer{}, "", err
			}
			held = refusal == nil
		}
	}
	if refusal != nil {
		_, doc := bank.BodyOf(refusal)
		a, err := s.keep(ctx, tx, p.UserID, key, idem.Refused, mustJSON(doc), now)
		return a, "", err
	}
	if held {
		// Named now, so that the payment and its answer are written
		// before the hold is placed.
		pay.HoldID = bank.NewID()
	}
	if err := insert(ctx, tx, pay); err != nil {
		return Answer{}, "", err
	}
	if o.sched != nil {
		if err := o.sched.insert(ctx, tx); err != nil {
			return Answer{}, "", err
		}
	}
	if s.beforeKeep != nil {
		if err := s.beforeKeep(); err != nil {
			return Answer{}, "", err
		}
	}
	a, err := s.keep(ctx, tx, p.UserID, key, idem.Created, mustJSON(pay.view()), now)
	if err != nil || !held {
		return a, "", err
	}
	// The hold comes last: it locks the account until the commit, which
	// follows at once. Refused, it takes everything above back with it.
	if err := s.hold(ctx, tx, pay); err != nil {
		return Answer{}, "", err
	}
	return a, "", nil
}

// refusedLate is a hold the ledger refused after the order was written in
// the same transaction: Create rolls that transaction back and keeps the
// refusal alone.
type refusedLate struct{ refusal error }

func (r refusedLate) Error() string { return "hold refused: " + r.refusal.Error() }

// hold holds pay's money through the ledger, in tx, under the hold id pay
// names. A money rule's refusal is refusedLate.
func (s *Service) hold(ctx context.Context, tx *sql.Tx, pay *Payment) error {
	_, err := s.l.HoldIn(ctx, tx, system, ledger.HoldInput{ID: pay.HoldID, AccountID: pay.FromAccountID,
		Money: bank.Money{Amount: pay.Amount, Currency: pay.Currency}, Description: "payment " + pay.ID})
	if k := bank.ErrorKind(err); k == bank.KindRejected || k == bank.KindNotFound {
		return refusedLate{err}
	}
	return err
}

// keep keeps a payment order's answer under its key, in tx. Releases
// before the one idempotency store kept them in payment_requests, which
// this release still reads but no longer writes (docs/operations.md, 5).
func (s *Service) keep(ctx context.Context, tx *sql.Tx, user string, key ledger.Idempotency,
	o idem.Outcome, body []byte, now time.Time) (Answer, error) {
	if err := idem.Keep(ctx, tx, now, idem.Kept{User: user, Key: key.Key, Hash: key.Hash, Outcome: o, Body: body}); err != nil {
		return Answer{}, err
	}
	return Answer{Outcome: o, Body: body}, nil
}

// keptSQL reads what is kept for a user's key: its answer in the one store,
// and the row the previous release kept in payment_requests (status 0: its
// request was not decided yet), in one round trip.
const keptSQL = `SELECT request_hash, status, outcome, response, NULL FROM idempotency_keys WHERE user_id = $1 AND key = $2
	UNION ALL
	SELECT request_hash, status, NULL, response, payment_id FROM payment_requests WHERE owner_id = $1 AND idem_key = $2`

// kept returns the answer kept for user's key and true; or the id of the
// payment whose request the previous release left undecided, and true; or
// false when the key is new. A key kept for another request is
// idempotency_key_reused.
func (s *Service) kept(ctx context.Context, tx *sql.Tx, user string, key ledger.Idempotency) (Answer, string, bool, error) {
	rows, err := tx.QueryContext(ctx, keptSQL, user, key.Key)
	if err != nil {
		return Answer{}, "", false, fmt.Errorf("read idempotency key: %w", err)
	}
	defer rows.Close()
	var (
		found        bool
		one, legacy  *Answer // a matching answer kept in the one store, in payment_requests
		waiting      string
		outcome, pid sql.NullString
	)
	for rows.Next() {
		k := idem.Kept{User: user, Key: key.Key}
		var status int
		if err := rows.Scan(&k.Hash, &status, &outcome, &k.Body, &pid); err != nil {
			return Answer{}, "", false, err
		}
		found = true
		switch {
		case !k.Matches(key.Hash):
		case !pid.Valid:
			one = &Answer{Outcome: idem.OutcomeOf(outcome, status), Body: k.Body, Replayed: true}
		case status == 0:
			waiting = pid.String
		default:
			legacy = &Answer{Outcome: idem.OutcomeOf(outcome, status), Body: k.Body, Replayed: true}
		}
	}
	if err := rows.Err(); err != nil {
		return Answer{}, "", false, err
	}
	switch {
	case one != nil:
		return *one, "", true, nil
	case legacy != nil:
		return *legacy, "", true, nil
	case waiting != "":
		return Answer{}, waiting, true, nil
	case found:
		return Answer{}, "", true, idem.Reused()
	}
	return Answer{}, "", false, nil
}

// finishLegacy answers a request that the previous release accepted and
// left undecided (its replica is still at it, or died): it carries on with
// its payment, as that release did. Every step is idempotent, so two at once
// are harmless.
func (s *Service) finishLegacy(ctx context.Context, p bank.Principal, key ledger.Idempotency, paymentID string) (Answer, error) {
	pay, err := s.load(ctx, paymentID)
	if err != nil {
		return Answer{}, err
	}
	if pay == nil {
		return Answer{}, idem.InProgress()
	}
	if pay.Status == StatusAccepting {
		if err := s.execute(ctx, pay); err != nil {
			return Answer{}, err
		}
	}
	var status int
	var body []byte
	err = s.db.QueryRowContext(ctx, `SELECT status, response FROM payment_requests WHERE owner_id = $1 AND idem_key = $2`,
		p.UserID, key.Key).Scan(&status, &body)
	if err != nil {
		return Answer{}, fmt.Errorf("read payment request: %w", err)
	}
	if status == 0 {
		return Answer{}, idem.InProgress()
	}
	return Answer{Outcome: idem.OutcomeOf(sql.NullString{}, status), Body: body, Replayed: true}, nil
}

// answer stores the answer of the request that made payment p, if the
// previous release left one undecided.
func answer(ctx context.Context, tx *sql.Tx, p *Payment, refusal error) error {
	o, body := idem.Created, mustJSON(p.view())
	if refusal != nil {
		_, doc := bank.BodyOf(refusal)
		o, body = idem.Refused, mustJSON(doc)
	}
	_, err := tx.ExecContext(ctx, `UPDATE payment_requests SET status = $2, response = $3 WHERE payment_id = $1 AND status = 0`,
		p.ID, o.LegacyStatus(), body)
	return err
}
