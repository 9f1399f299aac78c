package main

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// startChromium starts the chromium the browser tests share and returns its
// root context.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 800))...)
	t.Cleanup(cancel)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return root
}

// signIn opens a browser signed in as email.
func signIn(t *testing.T, root context.Context, base, dir, email, password string) *browser {
	t.Helper()
	br := newBrowser(t, root, base, dir)
	br.open("/login")
	if st := br.fill(map[string]string{"email": email, "password": password}, `form[action="/login"] button`); st != 200 {
		t.Fatalf("sign in %s: %d", email, st)
	}
	return br
}

// TestWebConsoleActions drives in chromium what staff do in the console
// beyond the customers' pages, and checks each effect through the API: a
// deposit held by the four-eyes rule, approved by an admin (and not by its
// own requester) and another rejected; an overdraft limit set; a role
// changed by an admin; the dead-letter queue redriven from the system page.
func TestWebConsoleActions(t *testing.T) {
	t.Parallel()
	root := startChromium(t)
	dbURL := storetest.MigratedURL(t, store.SQLite)
	b := startBankWith(t, dbURL, map[string]string{"BANK_APPROVAL_RULES": "deposit>100000", "BANK_NOTIFICATION_CONSUMER": "false"})
	dir := screenshotDir(t)
	ctx := context.Background()
	email := "erin-" + randomHex(4) + "@example.test"
	if _, err := b.anon.Register(ctx, email, "password of erin", "Erin"); err != nil {
		t.Fatal(err)
	}
	erin := b.login(email, "password of erin")
	acct := b.account(erin, "EUR", 0)
	operator := signIn(t, root, b.url, dir, "operator@bank.test", "staff password operator")
	admin := signIn(t, root, b.url, dir, "admin@bank.test", "staff password admin")

	// Four eyes: the operator's large deposit waits.
	deposit := func(amount string) client.Approval {
		t.Helper()
		operator.open("/console?email=" + email)
		operator.fill(map[string]string{"amount-" + acct.ID: amount, "description-" + acct.ID: "cash over the counter"}, `form.deposit button`)
		if got := operator.text(".flash"); got != "The deposit waits for a second staff member's approval." {
			t.Fatalf("a held deposit: %q", got)
		}
		l, err := b.staff["admin"].Approvals(ctx, "pending", "")
		if err != nil || len(l.Data) == 0 || l.Data[0].Action != "deposit" {
			t.Fatalf("pending approvals: %+v, %v", l, err)
		}
		return l.Data[0]
	}
	posted := func() int64 {
		t.Helper()
		a, err := erin.Account(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance.Posted
	}
	first := deposit("2000.00")
	if got := posted(); got != 0 {
		t.Fatalf("a held deposit moved money: posted %d", got)
	}
	// Its requester may not approve it.
	operator.open("/console/approvals")
	operator.fill(nil, `form[action="/console/approvals/`+first.ID+`/approve"] button`)
	if got := operator.text(".flash"); !strings.HasPrefix(got, "That did not work") {
		t.Errorf("the requester's own approval: %q", got)
	}
	if got := posted(); got != 0 {
		t.Fatalf("the requester approved their own deposit: posted %d", got)
	}
	admin.open("/console/approvals")
	admin.shots("approvals")
	admin.fill(nil, `form[action="/console/approvals/`+first.ID+`/approve"] button`)
	if got := admin.text(".flash"); got != "Approved: the deposit is done." {
		t.Errorf("after the approval: %q", got)
	}
	if got := posted(); got != 200000 {
		t.Errorf("after the approval: posted %d, want 200000", got)
	}
	l, err := b.staff["admin"].Approvals(ctx, "approved", "")
	if err != nil || len(l.Data) != 1 || l.Data[0].ID != first.ID || l.Data[0].DecidedBy == "" {
		t.Errorf("approved approvals: %+v, %v", l, err)
	}

	second := deposit("3000.00")
	admin.open("/console/approvals")
	admin.fill(map[string]string{"reason-" + second.ID: "no cash slip"}, `form[action="/console/approvals/`+second.ID+`/reject"] button`)
	if got := admin.text(".flash"); got != "Rejected." {
		t.Errorf("after the rejection: %q", got)
	}
	if got := posted(); got != 200000 {
		t.Errorf("after the rejection: posted %d, want 200000 still", got)
	}
	l, err = b.staff["admin"].Approvals(ctx, "rejected", "")
	if err != nil || len(l.Data) != 1 || l.Data[0].ID != second.ID || l.Data[0].Reason != "no cash slip" {
		t.Errorf("rejected approvals: %+v, %v", l, err)
	}

	// The overdraft limit.
	operator.open("/console?email=" + email)
	operator.fill(map[string]string{"overdraft-" + acct.ID: "50.00"}, `form.overdraft button`)
	if got := operator.text(".flash"); got != "Account "+acct.Number+" may now go 50.00 EUR below zero." {
		t.Errorf("after the overdraft: %q", got)
	}
	if a, err := erin.Account(ctx, acct.ID); err != nil || a.OverdraftLimit != 5000 || a.Balance.Available != 205000 {
		t.Errorf("after the overdraft: %+v, %v; want a limit of 5000", a, err)
	}

	// An admin makes Erin an operator: her token now reaches staff routes.
	admin.open("/console?email=" + email)
	admin.step("choose operator", chromedp.SetValue(chromedp.ID("role"), "operator"))
	admin.fill(nil, `form[action$="/role"] button`)
	if got := admin.text(".flash"); got != "Erin is now operator." {
		t.Errorf("after the role change: %q", got)
	}
	users, err := b.staff["admin"].FindUsers(ctx, email)
	if err != nil || len(users) != 1 || users[0].Role != "operator" {
		t.Errorf("after the role change: %+v, %v", users, err)
	}
	erin = b.login(email, "password of erin")
	if _, err := erin.Approvals(ctx, "pending", ""); err != nil {
		t.Errorf("Erin as an operator lists approvals: %v", err)
	}

	// The dead-letter queue, redriven from the system page.
	deadLetter(t, dbURL, 3)
	qs, err := b.staff["admin"].Queues(ctx)
	if err != nil || len(qs) != 1 || qs[0].DeadLetter.Visible < 3 {
		t.Fatalf("queues: %+v, %v", qs, err)
	}
	dead := qs[0].DeadLetter.Visible
	admin.open("/console/system")
	if got := admin.text("#queues tbody"); !strings.Contains(got, strconv.FormatInt(dead, 10)) {
		t.Errorf("the queue table does not show %d dead letters:\n%s", dead, got)
	}
	admin.fill(nil, `#queues form.redrive button`)
	if got, want := admin.text(".flash"), fmt.Sprintf("Moved %d messages from the dead-letter queue back to notifications.", dead); got != want {
		t.Errorf("after the redrive: %q, want %q", got, want)
	}
	if qs, err := b.staff["admin"].Queues(ctx); err != nil || qs[0].DeadLetter.Visible != 0 || qs[0].Main.Visible < dead {
		t.Errorf("after the redrive: %+v, %v; want no dead letter and %d waiting", qs, err, dead)
	}
	// An operator sees the page, not the button.
	operator.open("/console/system")
	if n := operator.eval(`document.querySelectorAll("form.redrive").length`); n != 0 {
		t.Errorf("an operator's system page offers %d redrive buttons", n)
	}
}

// TestWebWebhookSecretRotation: a customer sets a webhook in the settings,
// then makes a new secret there; the webhooks that follow are signed with
// the new secret, and no longer with the old.
func TestWebWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	root := startChromium(t)
	var (
		mu     sync.Mutex
		bodies []signed
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Bank-Timestamp"), 10, 64)
		mu.Lock()
		bodies = append(bodies, signed{ts: ts, body: body, signature: r.Header.Get("X-Bank-Signature")})
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	b := startBankWith(t, storetest.MigratedURL(t, store.SQLite), map[string]string{"BANK_WEBHOOK_ALLOW_PRIVATE": "true"})
	dir := screenshotDir(t)
	ctx := context.Background()
	email := "finn-" + randomHex(4) + "@example.test"
	if _, err := b.anon.Register(ctx, email, "password of finn", "Finn"); err != nil {
		t.Fatal(err)
	}
	acct := b.account(b.login(email, "password of finn"), "EUR", 0)
	finn := signIn(t, root, b.url, dir, email, "password of finn")

	// deliveredAfter deposits amount and returns the webhook of it.
	deliveredAfter := func(amount int64) signed {
		t.Helper()
		if _, err := b.staff["operator"].Deposit(ctx, "hook-"+randomHex(6), acct.ID, amount, "EUR"); err != nil {
			t.Fatal(err)
		}
		var got signed
		if !poll.Wait(20*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range bodies {
				if strings.Contains(string(s.body), `"amount":`+strconv.FormatInt(amount, 10)) {
					got = s
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no webhook of the deposit of %d within 20s", amount)
		}
		return got
	}

	finn.open("/settings")
	if st := finn.fill(map[string]string{"webhook_url": hook.URL + "/finn"}, `form[action="/settings"] button`); st != 200 {
		t.Fatalf("webhook: status %d: %s", st, finn.text("main"))
	}
	old := finn.text("#webhook-secret")
	if w := deliveredAfter(111); !w.by(old) {
		t.Fatalf("the first webhook is not signed with the secret shown (%q)", old)
	}

	finn.open("/settings")
	finn.step("tick rotate", chromedp.Click(chromedp.ID("rotate")))
	if st := finn.fill(nil, `form[action="/settings"] button`); st != 200 {
		t.Fatalf("rotate: status %d: %s", st, finn.text("main"))
	}
	fresh := finn.text("#webhook-secret")
	if fresh == old || len(fresh) < 16 {
		t.Fatalf("the new secret %q, the old %q", fresh, old)
	}
	w := deliveredAfter(222)
	if !w.by(fresh) || w.by(old) {
		t.Errorf("after the rotation, the webhook is signed with the new secret: %t, with the old: %t", w.by(fresh), w.by(old))
	}
	if p, err := b.login(email, "password of finn").NotificationPreferences(ctx); err != nil || p.WebhookURL != hook.URL+"/finn" {
		t.Errorf("preferences after the rotation: %+v, %v; want the same webhook", p, err)
	}
}

// signed is a webhook as it arrived.
type signed struct {
	ts        int64
	body      []byte
	signature string
}

// by reports whether the webhook is signed with secret.
func (s signed) by(secret string) bool {
	return hmac.Equal([]byte(s.signature), []byte(notification.Sign(secret, s.ts, s.body)))
}
