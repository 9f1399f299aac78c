package approval_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

var (
	alice = bank.Principal{UserID: "alice", Role: bank.RoleCustomer}
	op1   = bank.Principal{UserID: "op1", Role: bank.RoleOperator}
	op2   = bank.Principal{UserID: "op2", Role: bank.RoleOperator}
)

type fixture struct {
	gate *approval.Service
	l    *ledger.Ledger
	db   *store.DB
	clk  *clock.Fake
	acct string
}

func newFixture(t *testing.T, db *store.DB, rules string) *fixture {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ('alice', 'alice@example.test', 'Alice', 'customer', 'x', $1)`, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	l := ledger.New(db, slog.New(slog.DiscardHandler), clk.Now, ledger.DefaultConfig())
	t.Cleanup(l.Close)
	rs, err := approval.ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.OpenAccount(ctx, alice, ledger.OpenAccountInput{Currency: "EUR", Type: ledger.TypeChecking})
	if err != nil {
		t.Fatal(err)
	}
	gate := approval.New(db, l, slog.New(slog.DiscardHandler), clk, approval.Config{Rules: rs, TTL: time.Hour})
	return &fixture{gate: gate, l: l, db: db, clk: clk, acct: a.ID}
}

func (f *fixture) deposit(t *testing.T, p bank.Principal, key string, amount int64) approval.Outcome {
	t.Helper()
	o, err := f.gate.Do(context.Background(), p, ledger.Idempotency{Key: key, Hash: key},
		approval.Request{Action: approval.ActionDeposit, AccountID: f.acct, Amount: &amount, Currency: "EUR"})
	if err != nil {
		t.Fatalf("deposit %d: %v", amount, err)
	}
	return o
}

func (f *fixture) posted(t *testing.T) int64 {
	t.Helper()
	a, err := f.l.Account(context.Background(), op1, f.acct)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance.Posted
}

// audits counts the audit records of action on target.
func (f *fixture) audits(t *testing.T, action, target string) int {
	t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = $1 AND target_id = $2`,
		action, target).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRacingApprovals: twenty staff users approve one deposit at once; the
// money moves once, one approval wins with the deposit's answer, and the
// others are told it was already approved.
func TestRacingApprovals(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "deposit>1000")
		if o := f.deposit(t, op1, "small", 1000); o.Approval != nil {
			t.Fatalf("a deposit at the threshold waits for approval: %+v", o.Approval)
		}
		o := f.deposit(t, op1, "big", 5000)
		if o.Approval == nil || o.Approval.Status != approval.StatusPending || o.Approval.RequestedBy != "op1" {
			t.Fatalf("a deposit above the threshold: %+v, want a pending approval by op1", o)
		}
		if again := f.deposit(t, op1, "big", 5000); again.Approval == nil || again.Approval.ID != o.Approval.ID || !again.Replayed {
			t.Errorf("the same request retried: %+v, want approval %s replayed", again.Approval, o.Approval.ID)
		}
		if got := f.posted(t); got != 1000 {
			t.Fatalf("posted %d before the approval, want 1000", got)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			won     int
			refused = map[string]int{}
		)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := bank.Principal{UserID: fmt.Sprint("approver-", i), Role: bank.RoleOperator}
				d, err := f.gate.Approve(context.Background(), p, o.Approval.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					refused[bank.ErrorCode(err)]++
					return
				}
				if len(d.Result) == 0 || d.Approval.Status != approval.StatusApproved {
					t.Errorf("approval by %s: %+v, want approved with a result", p.UserID, d)
				}
				won++
			}()
		}
		wg.Wait()
		if won != 1 || refused["already_approved"] != 19 {
			t.Errorf("20 racing approvals: %d won, refused %v; want 1 and 19 already_approved", won, refused)
		}
		if got := f.posted(t); got != 6000 {
			t.Errorf("posted %d after the approvals, want 6000: the deposit moved once", got)
		}
		if f.audits(t, approval.AuditRequested, o.Approval.ID) != 1 || f.audits(t, approval.AuditApproved, o.Approval.ID) != 1 {
			t.Errorf("audit trail of %s: want one request and one approval", o.Approval.ID)
		}
	})
}

// TestFourEyes: the requester cannot approve their own; a customer can
// neither list nor approve; another staff user's rejection keeps the money
// where it is, and a rejected approval cannot be approved.
func TestFourEyes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "deposit")
		ctx := context.Background()
		o := f.deposit(t, op1, "k", 500)
		if _, err := f.gate.Approve(ctx, op1, o.Approval.ID); bank.ErrorCode(err) != "four_eyes_required" || bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("the requester approving their own: %v, want forbidden four_eyes_required", err)
		}
		if _, err := f.gate.Approve(ctx, alice, o.Approval.ID); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("a customer approving: %v, want forbidden", err)
		}
		if _, _, err := f.gate.List(ctx, alice, "", ledger.Page{Limit: 10}); bank.ErrorKind(err) != bank.KindForbidden {
			t.Errorf("a customer listing: %v, want forbidden", err)
		}
		a, err := f.gate.Reject(ctx, op2, o.Approval.ID, "not today")
		if err != nil || a.Status != approval.StatusRejected || a.DecidedBy != "op2" {
			t.Fatalf("reject: %+v, %v", a, err)
		}
		if _, err := f.gate.Approve(ctx, op2, o.Approval.ID); bank.ErrorCode(err) != "already_rejected" {
			t.Errorf("approving a rejected approval: %v, want already_rejected", err)
		}
		if got := f.posted(t); got != 0 {
			t.Errorf("posted %d after a rejection, want 0", got)
		}
		if f.audits(t, approval.AuditRejected, o.Approval.ID) != 1 {
			t.Errorf("no audit record of the rejection")
		}
		list, _, err := f.gate.List(ctx, op2, approval.StatusRejected, ledger.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].ID != o.Approval.ID {
			t.Errorf("rejected approvals: %v, %v; want %s", list, err, o.Approval.ID)
		}
		// A customer's own withdrawal is no staff action: it never waits.
	})
}

// TestExpiry: an approval left pending past its expiry cannot be approved,
// lists as expired, and the sweeper records its expiry once.
func TestExpiry(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "unfreeze,deposit>0")
		ctx := context.Background()
		if _, err := f.l.SetStatus(ctx, op1, f.acct, ledger.ActionFreeze); err != nil {
			t.Fatal(err)
		}
		o, err := f.gate.Do(ctx, op1, ledger.Idempotency{}, approval.Request{Action: approval.ActionUnfreeze, AccountID: f.acct})
		if err != nil || o.Approval == nil {
			t.Fatalf("unfreeze: %+v, %v; want an approval", o, err)
		}
		f.clk.Advance(time.Hour)
		if _, err := f.gate.Approve(ctx, op2, o.Approval.ID); bank.ErrorCode(err) != "approval_expired" {
			t.Errorf("approving after the expiry: %v, want approval_expired", err)
		}
		if list, _, err := f.gate.List(ctx, op2, approval.StatusPending, ledger.Page{Limit: 10}); err != nil || len(list) != 0 {
			t.Errorf("pending after the expiry: %v, %v; want none", list, err)
		}
		if n, err := f.gate.Expire(ctx); err != nil || n != 1 {
			t.Errorf("Expire = %d, %v; want 1", n, err)
		}
		if n, err := f.gate.Expire(ctx); err != nil || n != 0 {
			t.Errorf("Expire again = %d, %v; want 0", n, err)
		}
		if f.audits(t, approval.AuditExpired, o.Approval.ID) != 1 {
			t.Errorf("want one audit record of the expiry")
		}
		a, err := f.l.Account(ctx, op1, f.acct)
		if err != nil || a.Status != ledger.StatusFrozen {
			t.Errorf("account after an expired unfreeze: %+v, %v; want still frozen", a, err)
		}
	})
}

// TestAccountActionOnce: an approved unfreeze runs once, as the requester;
// its approver asking again gets the same answer.
func TestAccountActionOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "unfreeze")
		ctx := context.Background()
		if _, err := f.l.SetStatus(ctx, op1, f.acct, ledger.ActionFreeze); err != nil {
			t.Fatal(err)
		}
		o, err := f.gate.Do(ctx, op1, ledger.Idempotency{}, approval.Request{Action: approval.ActionUnfreeze, AccountID: f.acct})
		if err != nil || o.Approval == nil {
			t.Fatalf("unfreeze: %+v, %v", o, err)
		}
		d, err := f.gate.Approve(ctx, op2, o.Approval.ID)
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.gate.Approve(ctx, op2, o.Approval.ID)
		if err != nil || !again.Replayed || string(again.Result) != string(d.Result) {
			t.Errorf("the approver again: %s %v, want %s replayed", again.Result, err, d.Result)
		}
		if n := f.audits(t, ledger.AuditUnfrozen, f.acct); n != 1 {
			t.Errorf("%d unfreeze records, want 1", n)
		}
	})
}

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"deposit>1000000, withdrawal>1000000,reversal,overdraft_limit,unfreeze", "deposit>1000000,withdrawal>1000000,reversal,overdraft_limit,unfreeze", ""},
		{"deposit>", "", `rule "deposit>": the threshold must be a whole number`},
		{"deposit>-1", "", `rule "deposit>-1": the threshold`},
		{"reversal>5", "", `rule "reversal>5": reversal has no amount`},
		{"transfer", "", `rule "transfer": unknown action "transfer"`},
		{"deposit,deposit>5", "", `rule "deposit>5": deposit has a rule already`},
	} {
		rs, err := approval.ParseRules(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseRules(%q) = %v, want an error with %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || rs.String() != tc.want):
			t.Errorf("ParseRules(%q) = %q, %v; want %q", tc.in, rs, err, tc.want)
		}
	}
}
