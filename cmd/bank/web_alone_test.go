package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// formClient is a browser without a browser: a cookie jar, no redirects
// followed, and the hidden fields of the last page read.
type formClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	last string
}

func newFormClient(t *testing.T, base string) *formClient {
	jar, _ := cookiejar.New(nil)
	return &formClient{t: t, base: base, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *formClient) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		c.last = string(b)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

// hidden returns the value of the last page's first hidden field name.
func (c *formClient) hidden(name string) string {
	c.t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(c.last)
	if m == nil {
		c.t.Fatalf("no hidden %s in the page", name)
	}
	return m[1]
}

// TestWebAlone runs "bank serve web" beside "serve all", calling it through
// --api-url: a customer registers and opens an account; a transfer form
// and a payment form sent twice move money once; an operator sees the
// system page, without its switches; a form without its CSRF token is
// refused.
func TestWebAlone(t *testing.T) {
	t.Parallel()
	b := startBankWith(t, storetest.MigratedURL(t, store.SQLite), nil)
	webURL, _ := startServe(t, "web", map[string]string{"BANK_API_URL": b.url, "BANK_HTTP_ADDR": "127.0.0.1:0",
		"BANK_SHUTDOWN_DELAY": "0s", "BANK_SERVICE_URLS": "bank=" + b.url})
	ctx := context.Background()
	bob, _ := b.customer("bob")
	dest := b.account(bob, "EUR", 0)

	c := newFormClient(t, webURL)
	c.do("GET", "/register", nil)
	if st, loc := c.do("POST", "/register", url.Values{"csrf": {c.hidden("csrf")}, "name": {"Ann"},
		"email": {"ann-" + randomHex(4) + "@example.test"}, "password": {"password of ann"}}); st != http.StatusSeeOther || loc != "/accounts" {
		t.Fatalf("register: %d %s", st, loc)
	}
	c.do("GET", "/accounts", nil)
	st, loc := c.do("POST", "/accounts", url.Values{"csrf": {c.hidden("csrf")}, "currency": {"EUR"}, "type": {"checking"}})
	if st != http.StatusSeeOther {
		t.Fatalf("open account: %d %s", st, loc)
	}
	from := strings.TrimPrefix(loc, "/accounts/")
	if _, err := b.staff["operator"].Deposit(ctx, "fund-"+from, from, 1000, "EUR"); err != nil {
		t.Fatal(err)
	}

	c.do("GET", "/transfer", nil)
	form := url.Values{"csrf": {c.hidden("csrf")}, "key": {c.hidden("key")}, "from": {from},
		"to_number": {dest.Number}, "amount": {"2.50"}}
	for i := range 2 {
		if st, loc := c.do("POST", "/transfer", form); st != http.StatusSeeOther || loc != "/accounts/"+from {
			t.Fatalf("transfer, sending %d: %d %s", i+1, st, loc)
		}
	}
	got, err := bob.Account(ctx, dest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance.Posted != 250 {
		t.Errorf("a transfer form sent twice moved %d, want 250 once", got.Balance.Posted)
	}

	// A payment form sent twice pays once.
	c.do("GET", "/payments", nil)
	pay := url.Values{"csrf": {c.hidden("csrf")}, "key": {c.hidden("key")}, "from": {from}, "kind": {"iban"},
		"name": {"Carol"}, "iban": {"GB82 WEST 1234 5698 7654 32"}, "amount": {"1.50"}}
	var first string
	for i := range 2 {
		st, loc := c.do("POST", "/payments", pay)
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/payments/") || (first != "" && loc != first) {
			t.Fatalf("payment, sending %d: %d %s (first %s)", i+1, st, loc, first)
		}
		first = loc
	}
	payments, err := b.staff["operator"].Payments(ctx, "", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range payments.Data {
		if p.FromAccountID == from {
			n++
		}
	}
	if n != 1 {
		t.Errorf("a payment form sent twice made %d payments, want 1", n)
	}

	// The system page reads the platform through the API and the
	// services' Actuator (TestWebAloneSystemPage drives it over split
	// services); an operator sees it without the admins' switches.
	staff := newFormClient(t, webURL)
	staff.do("GET", "/login", nil)
	if st, loc := staff.do("POST", "/login", url.Values{"csrf": {staff.hidden("csrf")}, "email": {"operator@bank.test"},
		"password": {"staff password operator"}}); st != http.StatusSeeOther || loc != "/console" {
		t.Fatalf("operator sign-in: %d %s", st, loc)
	}
	if st, body := staff.do("GET", "/console/system", nil); st != http.StatusOK || !strings.Contains(body, "bank: <span class=\"ok\">UP</span>") ||
		!strings.Contains(body, "<td>notifications</td>") || strings.Contains(body, `action="/console/system/maintenance"`) {
		t.Errorf("an operator's system page of serve web: %d\n%s", st, body)
	}
	if st, _ := staff.do("POST", "/console/system/maintenance", url.Values{"csrf": {staff.hidden("csrf")}, "mode": {"on"}}); st != http.StatusForbidden {
		t.Errorf("an operator's maintenance switch: %d, want 403", st)
	}
	if st, _ := c.do("GET", "/accounts", nil); st != http.StatusOK {
		t.Errorf("after the refused switch, a customer's page: %d", st)
	}

	form.Set("csrf", "forged")
	form.Set("key", "another")
	if st, body := c.do("POST", "/transfer", form); st != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
		t.Errorf("a forged CSRF token: %d\n%s", st, body)
	}
}

// TestWebStatementDownload: the statement a customer downloads from the
// pages, of serve all (in process) and of serve web alone (over HTTP), is
// the API's file byte for byte, streamed through.
func TestWebStatementDownload(t *testing.T) {
	t.Parallel()
	b := startBankWith(t, storetest.MigratedURL(t, store.SQLite), nil)
	webURL, _ := startServe(t, "web", map[string]string{"BANK_API_URL": b.url, "BANK_HTTP_ADDR": "127.0.0.1:0",
		"BANK_SHUTDOWN_DELAY": "0s", "BANK_SERVICE_URLS": "bank=" + b.url})
	ctx := context.Background()
	email := "gil-" + randomHex(4) + "@example.test"
	if _, err := b.anon.Register(ctx, email, "password of gil", "Gil"); err != nil {
		t.Fatal(err)
	}
	gil := b.login(email, "password of gil")
	from, to := b.account(gil, "EUR", 10_000_000), b.account(gil, "EUR", 0)
	items := make([]client.Transfer, 700) // more than one flush of the API's stream
	for i := range items {
		items[i] = client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: int64(i + 1), Currency: "EUR",
			Description: fmt.Sprintf("=line %d, \"quoted\"", i)}
	}
	if _, err := gil.TransferBatch(ctx, "seed-"+from.ID, items); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format("2006-01-02")
	start, _ := time.Parse("2006-01-02", day)
	want, err := gil.StatementFile(ctx, from.ID, start, start.AddDate(0, 0, 1).Add(-time.Nanosecond), "csv")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(want), "\n"); n < 702 {
		t.Fatalf("the API's statement has %d lines", n)
	}
	for name, base := range map[string]string{"serve all": b.url, "serve web": webURL} {
		c := newFormClient(t, base)
		c.do("GET", "/login", nil)
		if st, _ := c.do("POST", "/login", url.Values{"csrf": {c.hidden("csrf")}, "email": {email}, "password": {"password of gil"}}); st != http.StatusSeeOther {
			t.Fatalf("%s: sign-in %d", name, st)
		}
		st, got := c.do("GET", "/accounts/"+from.ID+"/statement?"+url.Values{"format": {"csv"}, "from": {day}, "to": {day}}.Encode(), nil)
		if st != http.StatusOK || got != string(want) {
			t.Errorf("%s: the page's statement (%d, %d bytes) is not the API's (%d bytes)", name, st, len(got), len(want))
		}
	}
}
