package ledger_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestStaffActionsAudited checks that every staff action on money and
// accounts leaves one audit record, written with the action, naming who,
// what, on what and from where; and that a customer's own actions and
// refused actions leave none.
func TestStaffActionsAudited(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		l := newLedger(t, db)
		alice := customer(t, db, "alice")
		from := bank.Origin{RequestID: "req-1", ClientIP: "192.0.2.7"}
		ctx := bank.WithOrigin(context.Background(), from)
		a := open(t, l, alice, "EUR", 0)
		b := open(t, l, alice, "EUR", 0)
		before := auditRows(t, db)

		dep, err := l.Deposit(ctx, operator, idem("d"), ledger.CashInput{AccountID: a, Money: eur(500)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Withdraw(ctx, alice, idem("own"), ledger.CashInput{AccountID: a, Money: eur(10)}); err != nil { // the owner: not audited
			t.Fatal(err)
		}
		if _, err := l.Withdraw(ctx, operator, idem("behalf"), ledger.CashInput{AccountID: a, Money: eur(20)}); err != nil {
			t.Fatal(err)
		}
		tr, err := l.Transfer(ctx, alice, idem("t"), ledger.TransferInput{From: a, To: b, Money: eur(30)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reverse(ctx, operator, idem("r"), txID(t, tr), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reverse(ctx, operator, idem("r2"), txID(t, tr), ""); bank.ErrorCode(err) != "already_reversed" {
			t.Fatalf("second reversal: %v", err) // refused: not audited
		}
		for _, act := range []string{ledger.ActionFreeze, ledger.ActionUnfreeze} {
			if _, err := l.SetStatus(ctx, operator, b, act); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.SetOverdraftLimit(ctx, operator, a, 100); err != nil {
			t.Fatal(err)
		}

		type row struct{ Actor, Action, Target, IP, Request string }
		var got []row
		for _, r := range auditRows(t, db)[len(before):] {
			got = append(got, row{r.actor, r.action, r.target, r.ip, r.request})
		}
		op := operator.UserID
		want := []row{
			{op, ledger.AuditDeposit, a, "192.0.2.7", "req-1"},
			{op, ledger.AuditWithdrawalOnBehalf, a, "192.0.2.7", "req-1"},
			{op, ledger.AuditReversal, txID(t, tr), "192.0.2.7", "req-1"},
			{op, ledger.AuditFrozen, b, "192.0.2.7", "req-1"},
			{op, ledger.AuditUnfrozen, b, "192.0.2.7", "req-1"},
			{op, ledger.AuditOverdraftLimit, a, "192.0.2.7", "req-1"},
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("audit records (-got +want):\n%s", diff)
		}
		var details map[string]string
		if err := json.Unmarshal([]byte(auditRows(t, db)[len(before)].details), &details); err != nil ||
			details["transaction_id"] != txID(t, dep) || details["amount"] != "500" || details["currency"] != "EUR" {
			t.Errorf("deposit's audit details %v (%v), want its transaction, amount and currency", details, err)
		}
	})
}

type auditRow struct{ actor, action, target, ip, request, details string }

// auditRows returns the audit trail in the order it was written.
func auditRows(t *testing.T, db *store.DB) []auditRow {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT actor_id, action, target_id, client_ip, request_id, details
		FROM audit_log ORDER BY occurred_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.actor, &r.action, &r.target, &r.ip, &r.request, &r.details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditHostileOrigin posts a staff deposit from an origin holding NUL,
// invalid UTF-8 and a newline: the deposit commits on both databases, through
// the batch's own write of its audit records, and the record holds the same
// safe strings on both.
func TestAuditHostileOrigin(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		l := newLedger(t, db)
		a := open(t, l, customer(t, db, "alice"), "EUR", 0)
		ctx := bank.WithOrigin(context.Background(), bank.Origin{RequestID: "req\x00\xff\n", ClientIP: "192.0.2.7"})
		before := len(auditRows(t, db))
		if _, err := l.Deposit(ctx, operator, idem("d"), ledger.CashInput{AccountID: a, Money: eur(500)}); err != nil {
			t.Fatal(err)
		}
		rows := auditRows(t, db)[before:]
		if len(rows) != 1 || rows[0].request != "req\uFFFD\uFFFD\uFFFD" {
			t.Errorf("audit records %+v, want one with request id %q", rows, "req\uFFFD\uFFFD\uFFFD")
		}
	})
}
