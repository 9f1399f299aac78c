package ledger

import (
	"strconv"

	"github.com/fintech-banking/bank/internal/audit"
)

// Staff actions on money and accounts go to the audit trail (package
// audit), written in the transaction of the action itself; a batch's records
// go with the batch's other writes. Who acted is the principal; from where,
// the request's bank.Origin.

// The audit actions the ledger writes.
const (
	AuditDeposit            = "money.deposit"
	AuditWithdrawalOnBehalf = "money.withdrawal_on_behalf" // staff paying out of a customer's account
	AuditReversal           = "money.reversal"
	AuditFrozen             = "account.frozen"
	AuditUnfrozen           = "account.unfrozen"
	AuditClosed             = "account.closed"
	AuditOverdraftLimit     = "account.overdraft_limit_set"
	AuditSuspense           = "money.suspense_posting" // a reconciliation difference cleared
)

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
	case c.op == opSuspense:
		action, target = AuditSuspense, t.Postings[0].AccountID
		if b.accounts[target].Type == TypeSuspense {
			target = t.Postings[1].AccountID
		}
	case c.op == opWithdrawal && b.accounts[c.from].OwnerID != r.p.UserID:
		action, target = AuditWithdrawalOnBehalf, c.from
	default:
		return
	}
	b.audits = append(b.audits, audit.New(r.p.UserID, action, target, r.origin, map[string]string{
		"transaction_id": t.ID, "amount": strconv.FormatInt(t.Amount, 10), "currency": string(t.Currency)}))
}
