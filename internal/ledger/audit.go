package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Staff actions on money and accounts go to the audit trail (audit_log,
// which the database keeps append-only), written in the transaction of the
// action itself: an action that commits is recorded, one that does not
// leaves no record. Who acted is the principal; from where, the request's
// bank.Origin.

// The audit actions the ledger writes.
const (
	AuditDeposit            = "money.deposit"
	AuditWithdrawalOnBehalf = "money.withdrawal_on_behalf" // staff paying out of a customer's account
	AuditReversal           = "money.reversal"
	AuditFrozen             = "account.frozen"
	AuditUnfrozen           = "account.unfrozen"
	AuditClosed             = "account.closed"
	AuditOverdraftLimit     = "account.overdraft_limit_set"
)

// auditRow is one record of the audit trail.
type auditRow struct {
	id, actor, action, target string
	origin                    bank.Origin
	details                   []byte // JSON object of strings
}

func newAuditRow(p bank.Principal, o bank.Origin, action, target string, details map[string]string) auditRow {
	return auditRow{id: bank.NewID(), actor: p.UserID, action: action, target: target, origin: o, details: mustJSON(details)}
}

const insertAuditSQL = `INSERT INTO audit_log (id, occurred_at, actor_id, action, target_id, client_ip, request_id, details)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func (a auditRow) args(at time.Time) []any {
	return []any{a.id, at, a.actor, a.action, a.target, a.origin.ClientIP, a.origin.RequestID, string(a.details)}
}

// auditCommand records c, decided for r with the result v, if it is a
// staff action: a deposit, a reversal, or a withdrawal from an account the
// caller does not own.
func (b *batch) auditCommand(r *request, c command, v any) {
	t, ok := v.(*Transaction)
	if !ok {
		return
	}
	var action, target string
	switch {
	case c.op == opDeposit:
		action, target = AuditDeposit, c.to
	case c.op == opReversal:
		action, target = AuditReversal, c.txID
	case c.op == opWithdrawal && b.accounts[c.from].OwnerID != r.p.UserID:
		action, target = AuditWithdrawalOnBehalf, c.from
	default:
		return
	}
	b.audits = append(b.audits, newAuditRow(r.p, r.origin, action, target, map[string]string{
		"transaction_id": t.ID, "amount": strconv.FormatInt(t.Amount, 10), "currency": string(t.Currency)}))
}

// writeAudit writes one audit record in tx.
func (l *Ledger) writeAudit(ctx context.Context, tx *sql.Tx, a auditRow) error {
	if _, err := tx.ExecContext(ctx, insertAuditSQL, a.args(l.clock())...); err != nil {
		return fmt.Errorf("write audit record %s: %w", a.action, err)
	}
	return nil
}
