package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestApprovals boots the bank with deposits above 1 000 000 held for a
// second staff user, and checks four eyes end to end: the held deposit
// answers 202 (the same approval on a retry), its requester's own approval
// is 403, a customer can neither list nor approve, and twenty staff users
// approving at once move the money once.
func TestApprovals(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBankWith(t, storetest.MigratedURL(t, d), map[string]string{"BANK_APPROVAL_RULES": "deposit>1000000"})
			testApprovals(t, b)
		})
	}
}

func testApprovals(t *testing.T, b *testBank) {
	ctx := context.Background()
	op := b.staff["operator"]
	cust, _ := b.customer("ann")
	acct := b.account(cust, "EUR", 1_000_000) // at the threshold: deposited at once

	_, err := op.Deposit(ctx, "big", acct.ID, 2_000_000, "EUR")
	var held *client.Pending
	if !errors.As(err, &held) || held.Approval.Status != "pending" || held.Approval.Action != "deposit" {
		t.Fatalf("a deposit above the threshold: %v, want 202 with a pending approval", err)
	}
	id := held.Approval.ID
	if _, err := op.Deposit(ctx, "big", acct.ID, 2_000_000, "EUR"); !errors.As(err, &held) || held.Approval.ID != id {
		t.Errorf("the same deposit retried: %v, want approval %s again", err, id)
	}
	if _, err := op.Approve(ctx, id); apiCode(err) != "403 four_eyes_required" {
		t.Errorf("the requester approving their own: %v, want 403 four_eyes_required", err)
	}
	if _, err := cust.Approve(ctx, id); apiCode(err) != "403 forbidden" {
		t.Errorf("a customer approving: %v, want 403", err)
	}
	if _, err := cust.Approvals(ctx, "pending", ""); apiCode(err) != "403 forbidden" {
		t.Errorf("a customer listing approvals: %v, want 403", err)
	}

	approvers := make([]*client.Client, 20)
	for i := range approvers {
		approvers[i] = b.staffUser(fmt.Sprintf("approver%d@bank.test", i))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[string]int{}
	)
	for _, c := range approvers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.Approve(ctx, id)
			got := apiCode(err)
			if err == nil {
				var tx client.Transaction
				if json.Unmarshal(d.Result, &tx) != nil || tx.Amount != 2_000_000 || d.Approval.Status != "approved" {
					t.Errorf("the winning approval: %+v %s, want approved with the deposit", d.Approval, d.Result)
				}
				got = "200"
			}
			mu.Lock()
			answers[got]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if answers["200"] != 1 || answers["409 already_approved"] != 19 {
		t.Errorf("20 racing approvals answered %v, want one 200 and 19 409 already_approved", answers)
	}
	if a, err := cust.Account(ctx, acct.ID); err != nil || a.Balance.Posted != 3_000_000 {
		t.Errorf("balance after the approvals: %+v, %v; want 3000000 posted: the deposit moved once", a, err)
	}

	// The command line, as another staff user: the approval is listed as
	// approved, and approving it again is refused.
	var out bytes.Buffer
	env := map[string]string{"BANK_TOKEN": b.staff["admin"].Token}
	err = run(ctx, []string{"bank", "approvals", "list", "--status", "approved", "--url", b.url, "-o", "json"},
		func(k string) string { return env[k] }, nil, &out, &out)
	if err != nil || !strings.Contains(out.String(), id) {
		t.Errorf("bank approvals list: %v\n%s", err, out.String())
	}
	out.Reset()
	err = run(ctx, []string{"bank", "approvals", "approve", id, "--url", b.url},
		func(k string) string { return env[k] }, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "already_approved") || exitCode(err) != 1 {
		t.Errorf("bank approvals approve of an approved approval: %v (exit %d), want already_approved, exit 1", err, exitCode(err))
	}
	b.verify()
}

// staffUser makes an operator with "bank users create" and logs them in.
func (b *testBank) staffUser(email string) *client.Client {
	b.t.Helper()
	env := map[string]string{"BANK_USER_PASSWORD": "staff password of " + email}
	for k, v := range b.env {
		env[k] = v
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bank", "users", "create", "--role", "operator", "--email", email},
		func(k string) string { return env[k] }, strings.NewReader(""), &out, &out); err != nil {
		b.t.Fatalf("users create %s: %v\n%s", email, err, out.String())
	}
	return b.login(email, env["BANK_USER_PASSWORD"])
}

// apiCode is "status code" of an API error, "" for none.
func apiCode(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d %s", e.Status, e.Code)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
