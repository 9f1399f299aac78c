package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// chromium returns the path of Debian's chromium, skipping the test without
// it unless BANK_REQUIRE_TOOLS is set.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
		t.Fatal("chromium is required (BANK_REQUIRE_TOOLS is set): apt-get install chromium")
	}
	t.Skip("chromium is not installed")
	return ""
}

// screenshotDir is where the browser tests save their screenshots:
// BANK_WEB_SCREENSHOTS when set, else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BANK_WEB_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser is one person's browser: a browser context of its own (its own
// cookies) in the shared chromium.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

// newBrowser opens a fresh browser context in the chromium of parent.
func newBrowser(t *testing.T, parent context.Context, base, dir string) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, base: base, dir: dir}
}

// step runs actions with a time limit, failing the test on error.
func (b *browser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads path and returns the status of its answer.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// fill sets the form fields by id, then clicks the button sel and waits for
// the page that answers; it returns that page's status.
func (b *browser) fill(fields map[string]string, button string) int64 {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.ID(id), v))
	}
	b.step("fill "+button, steps...)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		b.t.Fatalf("submit %s: %v", button, err)
	}
	return resp.Status
}

// text is the visible text of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// eval returns the number a JavaScript expression gives on the page.
func (b *browser) eval(js string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return n
}

// shots saves the page at phone and desktop width as name-phone.png and
// name-desktop.png.
func (b *browser) shots(name string) {
	b.t.Helper()
	for _, v := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"phone", 390, 844, true}, {"desktop", 1280, 800, false}} {
		opts := []chromedp.EmulateViewportOption{}
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		b.step("viewport", chromedp.EmulateViewport(v.w, v.h, opts...), chromedp.Reload())
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(b.dir, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

var accountNumber = regexp.MustCompile(`\d{11}`)

// openAccount opens an EUR account on the accounts page and returns its
// number and the path of its page.
func (b *browser) openAccount(name string) (number, path string) {
	b.t.Helper()
	b.open("/accounts")
	if st := b.fill(map[string]string{"currency": "EUR", "name": name}, `form[action="/accounts"] button`); st != 200 {
		b.t.Fatalf("open account: status %d", st)
	}
	number = accountNumber.FindString(b.text("h1"))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil || number == "" {
		b.t.Fatalf("open account: %q %v", b.text("main"), err)
	}
	return number, strings.TrimPrefix(loc, b.base)
}

// TestWebPages drives the pages in chromium as customers and staff would:
// customers register and open accounts, staff find one in the console and
// deposit, the customer transfers to the other by account number and both
// see it in their history; a customer gets the not-found page for the
// console; a frozen account's transfer shows the frozen message; names and
// descriptions holding markup show as text; maintenance shows its page.
func TestWebPages(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	b := startBankWith(t, storetest.MigratedURL(t, store.SQLite), map[string]string{"BANK_MAINTENANCE_POLL": "100ms",
		"BANK_PAYMENT_SIM_DELAY": "50ms", "BANK_PAYMENT_SUBMIT_INTERVAL": "50ms", "BANK_PAYMENT_POLL_INTERVAL": "50ms",
		"BANK_PAYMENT_SIM_FAIL_RATE": "0", "BANK_PAYMENT_SIM_RETURN_RATE": "0"})
	dir := screenshotDir(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 800))...)
	t.Cleanup(cancel)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	const evil = `<script>document.title="owned"</script>`
	suffix := randomHex(4)
	register := func(name string) (*browser, string) {
		br := newBrowser(t, root, b.url, dir)
		email := fmt.Sprintf("%s-%s@example.test", strings.ToLower(name), suffix)
		br.open("/register")
		if st := br.fill(map[string]string{"name": name + " " + evil, "email": email, "password": "password of " + name},
			`form[action="/register"] button`); st != 200 {
			t.Fatalf("register %s: status %d: %s", name, st, br.text("main"))
		}
		if h := br.text("h1"); h != "Your accounts" {
			t.Fatalf("register %s: landed on %q", name, h)
		}
		return br, email
	}
	alice, aliceEmail := register("Alice")
	bob, bobEmail := register("Bob")
	aliceNumber, alicePage := alice.openAccount("Everyday " + evil)
	bobNumber, bobPage := bob.openAccount("Savings")

	// The session cookie: HttpOnly, SameSite=Strict, and over plain http
	// to 127.0.0.1 not Secure (see web.setCookie).
	cookies, err := chromedp.Run(alice.ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
	})
	if err != nil || len(cookies.Cookies) != 1 || !cookies.Cookies[0].HTTPOnly || cookies.Cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Errorf("cookies %+v %v: want one HttpOnly SameSite=Strict session cookie", cookies, err)
	}

	// Staff sign in, find Alice and deposit.
	staff := newBrowser(t, root, b.url, dir)
	staff.open("/login")
	staff.fill(map[string]string{"email": "operator@bank.test", "password": "staff password operator"}, `form[action="/login"] button`)
	if h := staff.text("h1"); h != "Console" {
		t.Fatalf("operator landed on %q", h)
	}
	staff.open("/console?email=" + aliceEmail)
	aliceID := strings.TrimPrefix(alicePage, "/accounts/")
	if st := staff.fill(map[string]string{"amount-" + aliceID: "100.00", "description-" + aliceID: "cash " + evil},
		`form.deposit button`); st != 200 {
		t.Fatalf("deposit: status %d: %s", st, staff.text("main"))
	}
	if got := staff.text(".flash"); got != "Deposited 100.00 EUR into "+aliceNumber+"." {
		t.Errorf("after the deposit: %q", got)
	}
	staff.shots("console")

	// Alice sends money to Bob by account number.
	alice.open("/transfer")
	if st := alice.fill(map[string]string{"to_number": bobNumber, "amount": "25.50", "description": "rent " + evil},
		`form[action="/transfer"] button`); st != 200 {
		t.Fatalf("transfer: status %d: %s", st, alice.text("main"))
	}
	if got := alice.text(".flash"); got != "Sent 25.50 EUR." {
		t.Errorf("after the transfer: %q", got)
	}
	if got := alice.text("#available"); got != "74.50 EUR" {
		t.Errorf("Alice's available balance %q, want 74.50 EUR", got)
	}
	history := alice.text("#history")
	for _, want := range []string{"rent " + evil, "-25.50 EUR", "cash " + evil, "100.00 EUR"} {
		if !strings.Contains(history, want) {
			t.Errorf("Alice's history lacks %q:\n%s", want, history)
		}
	}
	alice.shots("account")
	bob.open(bobPage)
	if got := bob.text("#history"); !strings.Contains(got, "rent "+evil) || !strings.Contains(got, "25.50 EUR") {
		t.Errorf("Bob's history:\n%s", got)
	}
	// Alice pays an IBAN: a wrong one is refused beside its field, a right
	// one is taken and settles.
	alice.open("/payments")
	if st := alice.fill(map[string]string{"name": "Carol " + evil, "iban": "DE89 3704 0044 0532 0130 01", "amount": "20"},
		`form[action="/payments"] button`); st != 422 {
		t.Errorf("payment to a bad IBAN: status %d, want 422", st)
	}
	if got := alice.text("#iban + .error"); !strings.Contains(got, "check") {
		t.Errorf("bad IBAN's message beside the field: %q\n%s", got, alice.text("main"))
	}
	if st := alice.fill(map[string]string{"iban": "DE89 3704 0044 0532 0130 00", "reference": "invoice " + evil},
		`form[action="/payments"] button`); st != 200 {
		t.Fatalf("payment: status %d: %s", st, alice.text("main"))
	}
	if got := alice.text(".flash"); !strings.HasPrefix(got, "Payment of 20.00 EUR to Carol "+evil+" is ") {
		t.Errorf("after the payment: %q", got)
	}
	paymentPage, err := chromedp.Run(alice.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	paymentPage = strings.TrimPrefix(paymentPage, b.url)
	if !poll.Wait(20*time.Second, func() bool { alice.open(paymentPage); return alice.text("#payment-status") == "Paid" }) {
		t.Fatalf("the payment did not settle within 20s: %s", alice.text("main"))
	}
	if got := alice.text("#payment-history"); !strings.Contains(got, "Waiting to be sent") || !strings.Contains(got, "Sent to the other bank") {
		t.Errorf("payment history:\n%s", got)
	}
	if n := alice.eval(`document.querySelectorAll("form[action$='/cancel']").length`); n != 0 {
		t.Errorf("a settled payment offers %d cancel buttons", n)
	}
	alice.shots("payment")
	alice.open("/payments")
	if got := alice.text("#payments"); !strings.Contains(got, "Carol "+evil) || !strings.Contains(got, "Paid") {
		t.Errorf("payments list:\n%s", got)
	}
	alice.shots("payments")

	// Search on the history page: words and amounts.
	alice.open(alicePage)
	alice.fill(map[string]string{"q": "ren"}, `#history-filter button`)
	if got := alice.text("#history"); !strings.Contains(got, "rent") || strings.Contains(got, "cash") {
		t.Errorf("history searched for ren:\n%s", got)
	}
	alice.open(alicePage)
	alice.fill(map[string]string{"min": "50"}, `#history-filter button`)
	if got := alice.text("#history"); !strings.Contains(got, "cash") || strings.Contains(got, "rent") {
		t.Errorf("history of amounts from 50:\n%s", got)
	}
	alice.open(alicePage)
	alice.fill(map[string]string{"max": "1.234"}, `#history-filter button`)
	if got := alice.text("#max + .error"); !strings.Contains(got, "at most 2 digits") {
		t.Errorf("a bad amount in the search: %q", got)
	}

	// Notifications: a webhook's secret shows once, a private address is
	// refused beside its field.
	alice.open("/settings")
	if st := alice.fill(map[string]string{"webhook_url": "http://127.0.0.1/hook"}, `form[action="/settings"] button`); st != 422 {
		t.Errorf("a loopback webhook: status %d, want 422", st)
	}
	if got := alice.text("#webhook_url + .error"); got == "" {
		t.Error("no message beside the webhook address")
	}
	if st := alice.fill(map[string]string{"webhook_url": "https://93.184.215.14/hook"}, `form[action="/settings"] button`); st != 200 {
		t.Fatalf("webhook: status %d: %s", st, alice.text("main"))
	}
	if got := alice.text("#webhook-secret"); len(got) < 16 {
		t.Errorf("webhook secret %q", got)
	}
	alice.open("/settings")
	if n := alice.eval(`document.querySelectorAll("#webhook-secret").length`); n != 0 {
		t.Error("the webhook secret shows again")
	}
	if got := alice.eval(`document.getElementById("webhook_url").value === "https://93.184.215.14/hook" ? 1 : 0`); got != 1 {
		t.Error("the saved webhook address is not in the form")
	}
	alice.shots("settings")

	// Markup in names and descriptions is text: no script element made it
	// into any page, and none ran.
	alice.open("/payments")
	for _, br := range []*browser{alice, bob, staff} {
		if n := br.eval(`document.querySelectorAll("script").length`); n != 0 {
			t.Errorf("a page holds %d script elements", n)
		}
		if title, err := chromedp.Run(br.ctx, chromedp.Evaluate[string]("document.title")); err != nil || title == "owned" {
			t.Errorf("title %q %v: a script from a name or description ran", title, err)
		}
	}
	alice.open(alicePage)
	if h := alice.text("h1"); !strings.Contains(h, "Everyday "+evil) {
		t.Errorf("account name shown as %q", h)
	}

	// A customer gets the console as an unknown page: same status, same page.
	unknownStatus := alice.open("/no-such-page")
	unknown := alice.text("main")
	for _, p := range []string{"/console", "/console?email=" + aliceEmail, "/console/anything"} {
		if st := alice.open(p); st != unknownStatus || alice.text("main") != unknown {
			t.Errorf("customer at %s: %d %q, want %d %q", p, st, alice.text("main"), unknownStatus, unknown)
		}
	}
	if unknownStatus != 404 {
		t.Errorf("unknown page: %d, want 404", unknownStatus)
	}

	// Staff freeze Alice's account; her transfer shows why it failed.
	staff.open("/console?email=" + aliceEmail)
	staff.fill(nil, `form[action="/console/accounts/`+aliceID+`/freeze"] button`)
	if got := staff.text(".flash"); got != "Account "+aliceNumber+" is frozen." {
		t.Errorf("after the freeze: %q", got)
	}
	alice.open("/transfer")
	if st := alice.fill(map[string]string{"to_number": bobNumber, "amount": "1"}, `form[action="/transfer"] button`); st != 422 {
		t.Errorf("transfer from a frozen account: status %d, want 422", st)
	}
	if got := alice.text("#from + .error"); got != "This account is frozen. Please contact the bank." {
		t.Errorf("frozen message beside the account: %q\n%s", got, alice.text("main"))
	}

	staff.shots("frozen")
	staff.fill(nil, `form[action="/console/accounts/`+aliceID+`/unfreeze"] button`)
	if got := staff.text(".flash"); got != "Account "+aliceNumber+" is active." {
		t.Errorf("after the unfreeze: %q", got)
	}

	// Staff find Alice by a piece of her name; a deposit made by mistake is
	// reversed after a confirmation step.
	staff.open("/console")
	staff.fill(map[string]string{"q": "alic"}, `#find button`)
	if got := staff.text("main h2"); got != "Alice "+evil {
		t.Errorf("found by name: %q", got)
	}
	staff.fill(map[string]string{"amount-" + aliceID: "10", "description-" + aliceID: "mistake"}, `form.deposit button`)
	staff.open("/console/accounts/" + aliceID + "?email=" + aliceEmail)
	staff.fill(nil, `#history tbody tr:first-child a`)
	if h := staff.text("h1"); h != "Reverse this transaction?" {
		t.Fatalf("reverse: landed on %q", h)
	}
	staff.shots("reverse")
	staff.fill(map[string]string{"description": "deposited twice"}, `form[action$="/reverse"] button`)
	if got := staff.text(".flash"); got != "Reversed: 10.00 EUR went back." {
		t.Errorf("after the reversal: %q", got)
	}

	// Closing an account asks first, then closes it.
	spareNumber, sparePage := bob.openAccount("Spare")
	spareID := strings.TrimPrefix(sparePage, "/accounts/")
	staff.open("/console?q=" + bobEmail)
	staff.fill(nil, `a[href^="/console/accounts/`+spareID+`/close"]`)
	if h := staff.text("h1"); h != "Close account "+spareNumber+"?" {
		t.Fatalf("close: landed on %q", h)
	}
	staff.fill(nil, `form[action$="/close"] button`)
	if got := staff.text(".flash"); got != "Account "+spareNumber+" is closed." {
		t.Errorf("after closing: %q", got)
	}

	// Locking Bob ends his session; unlocking lets him sign in again.
	staff.open("/console?q=" + bobEmail)
	staff.fill(nil, `form[action$="/lock"] button`)
	if got := staff.text(".flash"); got != "Bob "+evil+" is locked." {
		t.Errorf("after the lock: %q", got)
	}
	bob.open("/accounts")
	if h := bob.text("h1"); h != "Sign in" {
		t.Errorf("a locked customer sees %q", h)
	}
	staff.open("/console?q=" + bobEmail)
	staff.fill(nil, `form[action$="/unlock"] button`)
	if got := staff.text(".flash"); got != "Bob "+evil+" is unlocked." {
		t.Errorf("after the unlock: %q", got)
	}
	staff.open("/console/payments")
	if got := staff.text("#payments"); !strings.Contains(got, "Carol "+evil) {
		t.Errorf("console payments:\n%s", got)
	}
	staff.open("/console/approvals")
	if h := staff.text("h1"); h != "Approvals" {
		t.Errorf("approvals page: %q", h)
	}

	// An admin reads the audit trail and turns maintenance on and off from
	// the system page; customers meanwhile see the maintenance page.
	admin := newBrowser(t, root, b.url, dir)
	admin.open("/login")
	admin.fill(map[string]string{"email": "admin@bank.test", "password": "staff password admin"}, `form[action="/login"] button`)
	admin.open("/console/audit")
	if got := admin.text("#audit"); !strings.Contains(got, "account.frozen") || !strings.Contains(got, "money.reversal") || !strings.Contains(got, "user.locked") {
		t.Errorf("audit trail:\n%s", got)
	}
	admin.open("/console/system")
	for _, want := range []string{"db", "queue"} {
		if got := admin.text("#health"); !strings.Contains(got, want+": UP") {
			t.Errorf("health lacks %s UP:\n%s", want, got)
		}
	}
	if got := admin.text("#metrics"); !strings.Contains(got, "Queue depth") || !strings.Contains(got, "> 1000") || !strings.Contains(got, "> 10000") {
		t.Errorf("key metrics:\n%s", got)
	}
	admin.shots("system")
	admin.fill(map[string]string{"message": "Back soon <b>really</b>"}, `#maintenance button`)
	if got := admin.text("#maintenance-state"); !strings.Contains(got, "Back soon <b>really</b>") {
		t.Errorf("maintenance state: %q", got)
	}
	if !poll.Wait(10*time.Second, func() bool { return alice.open(alicePage) == 503 }) {
		t.Fatal("no maintenance page within 10s")
	}
	if h, p := alice.text("h1"), alice.text("main p"); h != "Down for maintenance" || p != "Back soon <b>really</b>" {
		t.Errorf("maintenance page: %q %q", h, p)
	}
	alice.shots("maintenance")
	if st := staff.open("/console/system"); st != 503 {
		t.Errorf("an operator's system page in maintenance: %d, want 503", st)
	}
	admin.open("/console/system")
	admin.fill(nil, `#maintenance button`)
	if got := admin.text("#maintenance-state"); got != "Off" {
		t.Errorf("maintenance state after off: %q", got)
	}
	if !poll.Wait(10*time.Second, func() bool { return alice.open(alicePage) == 200 }) {
		t.Error("still in maintenance 10s after it was turned off")
	}
	t.Logf("screenshots in %s", dir)
}
