package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
)

const columns = `id, owner_id, from_account_id, amount, currency, beneficiary, reference, status,
	failure_reason, history, scheduled_for, schedule_id, occurrence, hold_id, capture_tx_id, return_tx_id,
	limit_day, release_due, rail, submitted_at, created_at, updated_at, metadata`

type scanner interface{ Scan(dest ...any) error }

func scanPayment(s scanner) (*Payment, error) {
	var p Payment
	var benef, history string
	var reason, schedID, occ, hold, capture, ret, limitDay sql.NullString
	var schedFor, submitted sql.NullTime
	var md *string
	if err := s.Scan(&p.ID, &p.OwnerID, &p.FromAccountID, &p.Amount, &p.Currency, &benef, &p.Reference, &p.Status,
		&reason, &history, &schedFor, &schedID, &occ, &hold, &capture, &ret,
		&limitDay, &p.releaseDue, &p.Rail, &submitted, &p.CreatedAt, &p.UpdatedAt, &md); err != nil {
		return nil, err
	}
	var err error
	if p.Metadata, err = bank.ParseMetadata(md); err != nil {
		return nil, fmt.Errorf("payment %s metadata: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(benef), &p.Beneficiary); err != nil {
		return nil, fmt.Errorf("payment %s beneficiary: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(history), &p.History); err != nil {
		return nil, fmt.Errorf("payment %s history: %w", p.ID, err)
	}
	p.FailureReason, p.ScheduleID, p.occurrence = reason.String, schedID.String, occ.String
	p.HoldID, p.TransactionID, p.ReturnID, p.limitDay = hold.String, capture.String, ret.String, limitDay.String
	if schedFor.Valid {
		t := schedFor.Time.UTC()
		p.ScheduledFor = &t
	}
	if submitted.Valid {
		t := submitted.Time.UTC()
		p.submittedAt = &t
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insert writes a new payment in tx.
func insert(ctx context.Context, tx *sql.Tx, p *Payment) error {
	var sched any
	if p.ScheduledFor != nil {
		sched = *p.ScheduledFor
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, owner_id, from_account_id, amount, currency, beneficiary,
		reference, status, history, scheduled_for, schedule_id, occurrence, rail, limit_day, hold_id, created_at, updated_at, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17)`,
		p.ID, p.OwnerID, p.FromAccountID, p.Amount, p.Currency, string(mustJSON(p.Beneficiary)), p.Reference,
		p.Status, string(mustJSON(p.History)), sched, null(p.ScheduleID), null(p.occurrence), p.Rail, null(p.limitDay),
		null(p.HoldID), p.CreatedAt, p.Metadata.Stored())
	return err
}

// load reads payment id whoever owns it; nil when there is none.
func (s *Service) load(ctx context.Context, id string) (*Payment, error) {
	p, err := scanPayment(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load payment %s: %w", id, err)
	}
	return p, nil
}

func notFound(id string) error {
	return bank.Errorf(bank.KindNotFound, "payment_not_found", "payment %s not found", id)
}

// visible reports whether a client may see p at all: a payment being
// accepted now, or refused, exists only as its request's answer.
func visible(p *Payment) bool {
	return p.Status != StatusRefused && !(p.Status == StatusAccepting && p.ScheduledFor == nil)
}

// Get returns payment id if p may see it: its owner, or staff. KindNotFound
// otherwise.
func (s *Service) Get(ctx context.Context, pr bank.Principal, id string) (*Payment, error) {
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	p, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if p == nil || !pr.Owns(p.OwnerID) || !visible(p) {
		return nil, notFound(id)
	}
	return p.view(), nil
}

// ListFilter selects a page of payments.
type ListFilter struct {
	Status string // "" for every status
	Limit  int
	Cursor string
}

// List returns the payments pr may see, newest first: a customer's own,
// everyone's for staff. It returns KindInvalid for an unknown status or a
// cursor it did not make.
func (s *Service) List(ctx context.Context, pr bank.Principal, f ListFilter) ([]*Payment, string, error) {
	q := `SELECT ` + columns + ` FROM payments WHERE status <> 'refused' AND NOT (status = 'accepting' AND scheduled_for IS NULL)`
	var args []any
	switch f.Status {
	case "":
	case StatusScheduled:
		q += ` AND status IN ('scheduled', 'accepting')`
	case StatusPending, StatusSubmitted, StatusSettled, StatusFailed, StatusReturned, StatusCancelled:
		args = append(args, f.Status)
		q += fmt.Sprintf(` AND status = $%d`, len(args))
	default:
		return nil, "", bank.Invalid("status", "must be scheduled, pending, submitted, settled, failed, returned or cancelled")
	}
	if owner := pr.OwnerScope(); owner != "" {
		args = append(args, owner)
		q += fmt.Sprintf(` AND owner_id = $%d`, len(args))
	}
	c, err := bank.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	q, args = c.NewestFirst(q, args, "id", f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	out := []*Payment{}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p.view())
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list payments: %w", err)
	}
	out, next := bank.OnePage(out, f.Limit, func(p *Payment) bank.Cursor { return bank.Cursor{At: p.CreatedAt, ID: p.ID} })
	return out, next, nil
}

// errLost says a compare-and-set found the payment no longer in the status
// it expected: another replica or request moved it first.
var errLost = errors.New("payment changed meanwhile")

// transition moves p to status to by compare-and-set on its current status,
// records the change in its history, applies change to the new state (ids of
// what the step made), writes the status's event, and runs also in the same
// transaction. It returns false, leaving p as it was, when p was no longer in
// the status it had: someone else made a move first.
func (s *Service) transition(ctx context.Context, p *Payment, to, reason string,
	change func(next *Payment), also func(tx *sql.Tx, next *Payment) error) (bool, error) {
	m, err := s.prepare(p, to, reason, change)
	if err != nil {
		return false, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.cas(ctx, tx, m)
		if err != nil {
			return err
		}
		if !ok {
			return errLost
		}
		if also != nil {
			return also(tx, &m.next)
		}
		return nil
	})
	if errors.Is(err, errLost) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.done(m)
	return true, nil
}

// cas writes a prepared move in tx if the payment is still in the status it
// had, with the new status's event; false when it was not.
func (s *Service) cas(ctx context.Context, tx *sql.Tx, m *move) (bool, error) {
	p, next := m.p, &m.next
	var submitted any
	if next.submittedAt != nil {
		submitted = *next.submittedAt
	}
	res, err := tx.ExecContext(ctx, `UPDATE payments SET status = $2, failure_reason = $3, history = $4,
		hold_id = $5, capture_tx_id = $6, return_tx_id = $7, limit_day = $8, release_due = $9,
		submitted_at = $10, updated_at = $11, lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND status = $12 AND ($13 = '' OR `+s.leases.Owned("$13")+`)`,
		p.ID, next.Status, null(next.FailureReason), string(mustJSON(next.History)), null(next.HoldID),
		null(next.TransactionID), null(next.ReturnID), null(next.limitDay), next.releaseDue,
		submitted, next.UpdatedAt, p.Status, p.claimedBy)
	if err != nil {
		return false, fmt.Errorf("payment %s to %s: %w", p.ID, next.Status, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if typ, ok := events[next.Status]; ok {
		if err := event.Publish(ctx, tx, p.event(typ, next.UpdatedAt, next.Status, next.FailureReason)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// done records a committed move: metrics, and the caller's copy.
func (s *Service) done(m *move) {
	s.metrics.moved(m.p.Status, m.next.Status, &m.next, m.next.UpdatedAt)
	*m.p = m.next
}

// transitionAll makes moves of many payments from one status to submitted
// or settled in one transaction, with set-based statements (one UPDATE and
// one INSERT of events for the lot), and reports which took place; the
// others found their payment moved by someone else first.
func (s *Service) transitionAll(ctx context.Context, moves []*move) ([]bool, error) {
	if len(moves) == 0 {
		return nil, nil
	}
	to, now, owner := moves[0].next.Status, moves[0].next.UpdatedAt, moves[0].p.claimedBy
	type row struct {
		ID       string `json:"id"`
		Expected string `json:"expected"`
		History  string `json:"history"`
		Tx       string `json:"tx,omitempty"`
	}
	rows := make([]row, len(moves))
	for i, m := range moves {
		if m.next.Status != to || (to != StatusSubmitted && to != StatusSettled) {
			return nil, fmt.Errorf("transitionAll: moves to %s and %s", to, m.next.Status)
		}
		if m.p.claimedBy != owner {
			return nil, fmt.Errorf("transitionAll: moves of payments claimed by %q and %q", owner, m.p.claimedBy)
		}
		m.next.UpdatedAt = now
		if to == StatusSubmitted {
			m.next.submittedAt = &now
		}
		rows[i] = row{ID: m.p.ID, Expected: m.p.Status, History: string(mustJSON(m.next.History)), Tx: m.next.TransactionID}
	}
	update := `UPDATE payments SET status = $1, history = v.history, capture_tx_id = COALESCE(v.tx, payments.capture_tx_id),
		updated_at = $2, submitted_at = CASE WHEN $1 = 'submitted' THEN $2 ELSE payments.submitted_at END,
		lease_owner = NULL, lease_until = NULL
		FROM jsonb_to_recordset($3::jsonb) AS v(id text, expected text, history text, tx text)
		WHERE payments.id = v.id COLLATE "C" AND payments.status = v.expected
		AND ($4 = '' OR ` + s.leases.Owned("$4") + `) RETURNING payments.id`
	if !s.isPostgres() {
		update = `UPDATE payments SET status = $1, history = json_extract(v.value, '$.history'),
			capture_tx_id = COALESCE(json_extract(v.value, '$.tx'), capture_tx_id),
			updated_at = $2, submitted_at = CASE WHEN $1 = 'submitted' THEN $2 ELSE submitted_at END,
			lease_owner = NULL, lease_until = NULL
			FROM json_each($3) AS v WHERE payments.id = json_extract(v.value, '$.id')
			AND payments.status = json_extract(v.value, '$.expected')
			AND ($4 = '' OR ` + s.leases.Owned("$4") + `) RETURNING payments.id`
	}
	byID := make(map[string]int, len(moves))
	for i, m := range moves {
		byID[m.p.ID] = i
	}
	var ok []bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok = make([]bool, len(moves))
		rs, err := tx.QueryContext(ctx, update, to, now, string(mustJSON(rows)), owner)
		if err != nil {
			return fmt.Errorf("payments to %s: %w", to, err)
		}
		var evs []event.Record
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return err
			}
			i, known := byID[id]
			if !known {
				continue
			}
			ok[i] = true
			p, next := moves[i].p, &moves[i].next
			r, err := event.Encode(p.event(events[to], now, to, next.FailureReason))
			if err != nil {
				rs.Close()
				return err
			}
			evs = append(evs, r)
		}
		err = rs.Err()
		rs.Close()
		if err != nil || len(evs) == 0 {
			return err
		}
		// Each event commits with the change it announces.
		return event.Write(ctx, tx, evs...)
	})
	if err != nil {
		return nil, err
	}
	for i, m := range moves {
		if ok[i] {
			s.done(m)
		}
	}
	return ok, nil
}

// isPostgres reports whether the store is PostgreSQL.
func (s *Service) isPostgres() bool { return s.db.Dialect == store.Postgres }
