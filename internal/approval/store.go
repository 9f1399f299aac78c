package approval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
)

const columns = `id, action, status, requested_by, requester_role, request, COALESCE(idempotency_key, ''),
	request_hash, expires_at, created_at, COALESCE(decided_by, ''), decided_at, COALESCE(reason, ''), result`

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (*Approval, error) {
	var (
		a         Approval
		role, req string
		decidedAt sql.NullTime
		result    sql.NullString
	)
	if err := row.Scan(&a.ID, &a.Action, &a.Status, &a.RequestedBy, &role, &req, &a.key, &a.hash,
		&a.ExpiresAt, &a.CreatedAt, &a.DecidedBy, &decidedAt, &a.Reason, &result); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(req), &a.Request); err != nil {
		return nil, fmt.Errorf("approval %s: stored request: %w", a.ID, err)
	}
	a.Request.Action = a.Action
	a.requesterRole = bank.Role(role)
	a.ExpiresAt, a.CreatedAt = a.ExpiresAt.UTC(), a.CreatedAt.UTC()
	if decidedAt.Valid {
		t := decidedAt.Time.UTC()
		a.DecidedAt = &t
	}
	if result.Valid {
		a.result = []byte(result.String)
	}
	return &a, nil
}

func notFound(id string) error {
	return bank.Errorf(bank.KindNotFound, "approval_not_found", "approval %s not found", id)
}

func requireStaff(p bank.Principal) error {
	if !p.Staff() {
		return bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the operator role")
	}
	return nil
}

// get reads the approval id, as it is now: a pending one past its expiry
// reads as expired, whether or not the sweeper has marked it yet.
func (s *Service) get(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, id string) (*Approval, error) {
	if bank.CheckID("id", id) != nil {
		return nil, notFound(id)
	}
	a, err := scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM approvals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get approval: %w", err)
	}
	if a.Status == StatusPending && !a.ExpiresAt.After(s.now()) {
		a.Status = StatusExpired
	}
	return a, nil
}

// Get returns the approval id. Staff only (KindForbidden); KindNotFound.
func (s *Service) Get(ctx context.Context, p bank.Principal, id string) (*Approval, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, id)
}

// check refuses input the action would refuse, and an account or
// transaction p cannot see, before anyone is asked to approve it.
func (s *Service) check(ctx context.Context, p bank.Principal, req Request) error {
	if req.Action == ActionReversal {
		if err := bank.CheckText("description", req.Description, 500); err != nil {
			return err
		}
		_, err := s.l.Transaction(ctx, p, req.TransactionID)
		return err
	}
	switch req.Action {
	case ActionDeposit, ActionWithdrawal:
		if _, err := bank.ParseMoney("amount", bank.Amount(req.money().Amount), req.Currency); err != nil {
			return err
		}
		if err := bank.CheckText("description", req.Description, 500); err != nil {
			return err
		}
	case ActionOverdraftLimit:
		if n := req.money().Amount; n < 0 || n > bank.MaxAmount {
			return bank.Invalid("amount", "must be from 0 to 1000000000000000 minor units")
		}
	}
	if err := bank.CheckID("account_id", req.AccountID); err != nil {
		return err
	}
	_, err := s.l.Account(ctx, p, req.AccountID)
	return err
}

// request records req by p as a pending approval. A request with an
// Idempotency-Key already used for the same request answers that approval
// again, whatever its status now; for another request the key is refused.
func (s *Service) request(ctx context.Context, p bank.Principal, key string, req Request) (Outcome, error) {
	if key != "" {
		if err := bank.CheckIdempotencyKey(key); err != nil {
			return Outcome{}, err
		}
		if o, found, err := s.byKey(ctx, p, key, req); found || err != nil {
			return o, err
		}
	}
	if err := s.check(ctx, p, req); err != nil {
		return Outcome{}, err
	}
	now := s.now()
	a := &Approval{ID: bank.NewID(), Action: req.Action, Status: StatusPending, RequestedBy: p.UserID,
		Request: req, ExpiresAt: now.Add(s.cfg.TTL), CreatedAt: now, requesterRole: p.Role, key: key, hash: req.hash()}
	body, _ := json.Marshal(req)
	var k any
	if key != "" {
		k = key
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (id, action, status, requested_by, requester_role,
			request, idempotency_key, request_hash, expires_at, created_at) VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9)`,
			a.ID, a.Action, a.RequestedBy, string(p.Role), string(body), k, a.hash, a.ExpiresAt, a.CreatedAt); err != nil {
			return err
		}
		return s.record(ctx, tx, p.UserID, AuditRequested, event.ApprovalRequested, a)
	})
	if store.IsUniqueViolation(err) {
		// The same key, sent twice at once: the other made the approval.
		if o, found, err := s.byKey(ctx, p, key, req); found || err != nil {
			return o, err
		}
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("request approval: %w", err)
	}
	return Outcome{Approval: a}, nil
}

// byKey finds the approval p requested with key.
func (s *Service) byKey(ctx context.Context, p bank.Principal, key string, req Request) (Outcome, bool, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM approvals WHERE requested_by = $1 AND idempotency_key = $2`, p.UserID, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Outcome{}, false, nil
	}
	if err != nil {
		return Outcome{}, false, fmt.Errorf("find approval by key: %w", err)
	}
	a, err := s.get(ctx, s.db, id)
	if err != nil {
		return Outcome{}, false, err
	}
	if a.hash != req.hash() {
		return Outcome{}, true, bank.Errorf(bank.KindRejected, "idempotency_key_reused",
			"this Idempotency-Key was used for another request")
	}
	return Outcome{Approval: a, Replayed: true}, true, nil
}

// record writes the audit record and the event of a step of a's life, in tx.
func (s *Service) record(ctx context.Context, tx *sql.Tx, actor, action, eventType string, a *Approval) error {
	details := map[string]string{"action": a.Action, "requested_by": a.RequestedBy}
	if a.Request.AccountID != "" {
		details["account_id"] = a.Request.AccountID
	}
	if a.Request.TransactionID != "" {
		details["transaction_id"] = a.Request.TransactionID
	}
	if a.Request.Amount != nil {
		details["amount"] = fmt.Sprint(*a.Request.Amount)
	}
	if err := audit.Write(ctx, tx, s.now(), audit.New(actor, action, a.ID, bank.OriginOf(ctx), details)); err != nil {
		return err
	}
	return event.Publish(ctx, tx, &event.Approval{Header: event.NewHeader(eventType, s.now()),
		ApprovalID: a.ID, Action: a.Action, Status: a.Status, RequestedBy: a.RequestedBy, DecidedBy: a.DecidedBy})
}

// decide moves the approval id from pending to status, by p, if it is
// still pending and not expired: the compare-and-set that lets one decision
// win however many race. It reports whether this call won.
func (s *Service) decide(ctx context.Context, p bank.Principal, id, status, reason, auditAction string) (*Approval, bool, error) {
	var (
		a   *Approval
		won bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, reason = $5
			WHERE id = $1 AND status = 'pending' AND expires_at > $4`, id, status, p.UserID, now, nullIfEmpty(reason))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if a, err = s.get(ctx, tx, id); err != nil {
			return err
		}
		if won = n == 1; won {
			return s.record(ctx, tx, p.UserID, auditAction, event.ApprovalDecided, a)
		}
		return nil
	})
	return a, won, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// decided is the refusal to decide a that another decision already took.
func decided(a *Approval) error {
	switch a.Status {
	case StatusExpired:
		return bank.Errorf(bank.KindConflict, "approval_expired", "approval %s expired at %s", a.ID, a.ExpiresAt.Format(time.RFC3339))
	case StatusRejected:
		return bank.Errorf(bank.KindConflict, "already_rejected", "approval %s was rejected by %s", a.ID, a.DecidedBy)
	}
	return bank.Errorf(bank.KindConflict, "already_approved", "approval %s was approved by %s", a.ID, a.DecidedBy)
}

func fourEyes(a *Approval) error {
	return bank.Errorf(bank.KindForbidden, "four_eyes_required",
		"approval %s was requested by you; another staff user must approve it", a.ID)
}

// Approve approves the approval id as p and runs its action, as its
// requester, once: of racing approvals one wins and the others are refused
// (KindConflict, already_approved). The winner asking again gets the same
// decision back, marked Replayed; if its action's outcome was unknown (the
// database unreachable), a money action runs again under its key, which
// the ledger answers as it was. Errors: KindForbidden (a customer;
// four_eyes_required for the requester), KindNotFound, KindConflict
// (already_approved, already_rejected, approval_expired,
// approval_in_progress), and those of an action that did not finish.
func (s *Service) Approve(ctx context.Context, p bank.Principal, id string) (Decision, error) {
	if err := requireStaff(p); err != nil {
		return Decision{}, err
	}
	a, err := s.get(ctx, s.db, id)
	if err != nil {
		return Decision{}, err
	}
	if a.RequestedBy == p.UserID {
		return Decision{}, fourEyes(a)
	}
	a, won, err := s.decide(ctx, p, id, StatusApproved, "", AuditApproved)
	if err != nil {
		return Decision{}, err
	}
	if !won {
		switch {
		case a.Status != StatusApproved || a.DecidedBy != p.UserID:
			return Decision{}, decided(a)
		case a.result != nil:
			return Decision{Approval: a, Result: a.result, Replayed: true}, nil
		case !keyed(a.Action):
			return Decision{}, bank.Errorf(bank.KindConflict, "approval_in_progress",
				"approval %s is approved and its action is running", a.ID)
		}
		// Approved by p, with no answer kept: run again under the same key.
	}
	return s.execute(ctx, a)
}

// execute runs a's action as its requester and keeps its answer. A
// refusal by the action's rules is an answer too; a failure that left the
// outcome unknown is returned and nothing is kept, so the approver may ask
// again.
func (s *Service) execute(ctx context.Context, a *Approval) (Decision, error) {
	o, err := s.run(ctx, a.requester(), a.idempotency(), a.Request)
	var result []byte
	switch kind := bank.ErrorKind(err); {
	case err == nil:
		result = o.JSON()
	case kind == bank.KindRejected || kind == bank.KindNotFound || kind == bank.KindInvalid || kind == bank.KindForbidden:
		_, doc := bank.BodyOf(err)
		result, _ = json.Marshal(doc) // an error document always marshals
	default:
		if !keyed(a.Action) {
			// Give the approval back: an account action that may not have
			// run is approved again, and setting a state twice is harmless.
			if _, uerr := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE approvals SET status = 'pending',
				decided_by = NULL, decided_at = NULL WHERE id = $1 AND status = 'approved' AND result IS NULL`, a.ID); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		return Decision{}, err
	}
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE approvals SET result = $2 WHERE id = $1 AND result IS NULL`,
		a.ID, string(result)); err != nil {
		return Decision{}, fmt.Errorf("keep the answer of approval %s: %w", a.ID, err)
	}
	a.result = result
	return Decision{Approval: a, Result: result, Replayed: o.Result.Replayed}, nil
}

// Reject rejects the approval id as p, with an optional reason; its action
// never runs. The requester may reject (withdraw) their own. Errors:
// KindForbidden (a customer), KindNotFound, KindInvalid (reason),
// KindConflict (already_approved, already_rejected, approval_expired).
func (s *Service) Reject(ctx context.Context, p bank.Principal, id, reason string) (*Approval, error) {
	if err := requireStaff(p); err != nil {
		return nil, err
	}
	if err := bank.CheckText("reason", reason, 500); err != nil {
		return nil, err
	}
	if _, err := s.get(ctx, s.db, id); err != nil {
		return nil, err
	}
	a, won, err := s.decide(ctx, p, id, StatusRejected, reason, AuditRejected)
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, decided(a)
	}
	return a, nil
}

// List returns the approvals of status ("" for every status), newest
// first. Staff only (KindForbidden); KindInvalid for another status.
func (s *Service) List(ctx context.Context, p bank.Principal, status string, page ledger.Page) ([]*Approval, string, error) {
	if err := requireStaff(p); err != nil {
		return nil, "", err
	}
	cur, err := bank.DecodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	q := `SELECT ` + columns + ` FROM approvals WHERE TRUE`
	var args []any
	// A pending approval past its expiry is expired, swept or not.
	switch status {
	case "":
	case StatusPending:
		args = append(args, now)
		q += ` AND status = 'pending' AND expires_at > $1`
	case StatusExpired:
		args = append(args, now)
		q += ` AND (status = 'expired' OR (status = 'pending' AND expires_at <= $1))`
	case StatusApproved, StatusRejected:
		args = append(args, status)
		q += ` AND status = $1`
	default:
		return nil, "", bank.Invalid("status", "must be pending, approved, rejected or expired")
	}
	q, args = cur.NewestFirst(q, args, "id", page.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	out := []*Approval{}
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		if a.Status == StatusPending && !a.ExpiresAt.After(now) {
			a.Status = StatusExpired
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := bank.OnePage(out, page.Limit, func(a *Approval) bank.Cursor { return bank.Cursor{At: a.CreatedAt, ID: a.ID} })
	return out, next, nil
}

// system is who expires approvals, in the audit trail.
var system = bank.Principal{UserID: "system", Role: bank.RoleAdmin}

// Expire marks the pending approvals past their expiry expired, each with
// its audit record and event, and returns how many.
func (s *Service) Expire(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= $1
		ORDER BY expires_at LIMIT 1000`, s.now())
	if err != nil {
		return 0, fmt.Errorf("find expired approvals: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		expired := false
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE approvals SET status = 'expired', decided_at = $2
				WHERE id = $1 AND status = 'pending' AND expires_at <= $2`, id, s.now())
			if err != nil {
				return err
			}
			changed, err := res.RowsAffected()
			if err != nil || changed == 0 {
				expired = false
				return err // decided meanwhile, or by another replica
			}
			a, err := s.get(ctx, tx, id)
			if err != nil {
				return err
			}
			expired = true
			return s.record(ctx, tx, system.UserID, AuditExpired, event.ApprovalDecided, a)
		})
		if err != nil {
			return n, fmt.Errorf("expire approval %s: %w", id, err)
		}
		if expired {
			n++
		}
	}
	return n, nil
}
