package payment

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
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
// and replayed byte for byte.
type Answer struct {
	Status   int
	Body     []byte
	Replayed bool
}

// request is a row of payment_requests.
type request struct {
	hash, paymentID string
	status          int
	body            []byte
}

// Create accepts a payment order from an account p may use. It returns the
// answer kept for the Idempotency-Key: 201 with the payment (pending, or
// scheduled), or a refusal by a rule (422: insufficient_funds,
// limit_exceeded, invalid_beneficiary, currency_mismatch, account_frozen,
// …), nothing held. Errors that store nothing: KindInvalid, KindNotFound
// (another customer's account), KindRejected idempotency_key_reused,
// KindConflict request_in_progress, KindUnavailable.
func (s *Service) Create(ctx context.Context, p bank.Principal, idem ledger.Idempotency, in CreateInput) (Answer, error) {
	if err := bank.CheckIdempotencyKey(idem.Key); err != nil {
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
	pay := &Payment{ID: bank.NewID(), OwnerID: acct.OwnerID, FromAccountID: acct.ID, Amount: in.Money.Amount,
		Currency: in.Money.Currency, Beneficiary: in.Beneficiary, Reference: in.Reference, Status: StatusAccepting,
		Rail: s.rail.Name(), History: []Change{}, CreatedAt: now, UpdatedAt: now}
	if len(in.Metadata) > 0 {
		pay.Metadata = in.Metadata
	}
	var sched *schedule
	if in.Schedule != nil {
		sched = newSchedule(pay, in.Schedule, in.ScheduledFor, now)
		first := sched.occurrence(now)
		if first == nil {
			return Answer{}, bank.Invalid("schedule.until", "leaves no occurrence")
		}
		pay.ScheduleID, pay.occurrence, pay.ScheduledFor = sched.id, first.nominal, &first.runAt
	} else if in.ScheduledFor != nil {
		t := in.ScheduledFor.UTC().Truncate(time.Microsecond)
		pay.ScheduledFor = &t
	}
	if pay.ScheduledFor != nil && pay.ScheduledFor.After(now) {
		pay.Status = StatusScheduled
		pay.History = []Change{{Status: StatusScheduled, At: now}}
	}
	var prior *request
	refused := false
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		prior, refused = nil, false
		res, err := tx.ExecContext(ctx, `INSERT INTO payment_requests (owner_id, idem_key, request_hash, payment_id, status, created_at)
			VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING`, p.UserID, idem.Key, idem.Hash, pay.ID, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			prior, err = readRequest(ctx, tx, p.UserID, idem.Key)
			return err
		}
		if refusal == nil {
			if refusal, err = s.perPaymentLimit(ctx, tx, pay); err != nil {
				return err
			}
		}
		if refusal == nil && pay.Status == StatusAccepting {
			// Paid now: count it against today's limit in this same
			// transaction (a scheduled payment counts when it runs).
			if refusal, err = s.reserveIn(ctx, tx, pay, now); err != nil {
				return err
			}
		}
		if refusal != nil {
			refused = true
			return keepAnswer(ctx, tx, p.UserID, idem.Key, refusal)
		}
		if err := insert(ctx, tx, pay); err != nil {
			return err
		}
		if sched != nil {
			if err := sched.insert(ctx, tx); err != nil {
				return err
			}
		}
		if pay.Status == StatusScheduled {
			s.metrics.created(pay)
			_, err := tx.ExecContext(ctx, `UPDATE payment_requests SET status = $3, response = $4 WHERE owner_id = $1 AND idem_key = $2`,
				p.UserID, idem.Key, http.StatusCreated, mustJSON(pay.view()))
			return err
		}
		return nil
	})
	if err != nil {
		return Answer{}, fmt.Errorf("accept payment: %w", err)
	}
	if prior != nil {
		switch {
		case prior.hash != idem.Hash:
			return Answer{}, bank.Errorf(bank.KindRejected, "idempotency_key_reused",
				"this Idempotency-Key was used with a different request")
		case prior.status != 0:
			return Answer{Status: prior.status, Body: prior.body, Replayed: true}, nil
		}
		// Still being decided, here or by a request that died: carry on with
		// it. Every step is idempotent, so two at once are harmless.
		pay, err = s.load(ctx, prior.paymentID)
		if err != nil {
			return Answer{}, err
		}
		if pay == nil {
			return Answer{}, bank.Errorf(bank.KindConflict, "request_in_progress", "a request with this Idempotency-Key is in progress")
		}
	}
	if pay.Status == StatusAccepting && !refused {
		if err := s.execute(ctx, pay); err != nil {
			return Answer{}, err
		}
		if pay.answerStatus != 0 {
			return Answer{Status: pay.answerStatus, Body: pay.answerBody, Replayed: prior != nil}, nil
		}
	}
	var a *request
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = readRequest(ctx, tx, p.UserID, idem.Key)
		return err
	})
	if err != nil {
		return Answer{}, err
	}
	if a.status == 0 {
		return Answer{}, bank.Errorf(bank.KindConflict, "request_in_progress", "a request with this Idempotency-Key is in progress")
	}
	return Answer{Status: a.status, Body: a.body, Replayed: prior != nil}, nil
}

func readRequest(ctx context.Context, tx *sql.Tx, owner, key string) (*request, error) {
	var r request
	err := tx.QueryRowContext(ctx, `SELECT request_hash, payment_id, status, response FROM payment_requests
		WHERE owner_id = $1 AND idem_key = $2`, owner, key).Scan(&r.hash, &r.paymentID, &r.status, &r.body)
	if err != nil {
		return nil, fmt.Errorf("read payment request: %w", err)
	}
	return &r, nil
}

// keepAnswer stores a refusal as the answer of a request.
func keepAnswer(ctx context.Context, tx *sql.Tx, owner, key string, refusal error) error {
	_, doc := bank.BodyOf(refusal)
	_, err := tx.ExecContext(ctx, `UPDATE payment_requests SET status = $3, response = $4 WHERE owner_id = $1 AND idem_key = $2`,
		owner, key, http.StatusUnprocessableEntity, mustJSON(doc))
	return err
}

// answer stores the answer of the request that made payment p, if it has one
// still undecided.
func answer(ctx context.Context, tx *sql.Tx, p *Payment, refusal error) error {
	status, body := http.StatusCreated, mustJSON(p.view())
	if refusal != nil {
		_, doc := bank.BodyOf(refusal)
		status, body = http.StatusUnprocessableEntity, mustJSON(doc)
	}
	_, err := tx.ExecContext(ctx, `UPDATE payment_requests SET status = $2, response = $3 WHERE payment_id = $1 AND status = 0`,
		p.ID, status, body)
	p.answerStatus, p.answerBody = status, body
	return err
}
