package notification

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/event"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	tmpl, err := newTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for typ := range specs() {
		if _, ok := texts[typ]; !ok {
			t.Errorf("event type %s has a spec and no template", typ)
		}
	}
	cases := []struct {
		body, recipient, subject, inText string
	}{
		{string(transferEvent("e", "a", "b", 1250)), "a", "You paid 12.50 EUR", "12.50 EUR was debited from your account (transfer: rent)"},
		{string(transferEvent("e", "a", "b", 1250)), "b", "You received 12.50 EUR", "credited"},
		{string(transferEvent("e", "a", "a", 5)), "a", "Money moved between your accounts", "0.05 EUR moved between your own accounts"},
		{`{"event_id":"e","type":"hold.created","owner_id":"a","hold_id":"h","account_id":"acc1","amount":500,"currency":"JPY"}`, "a",
			"500 JPY reserved on your account", "acc1"},
		{`{"event_id":"e","type":"account.frozen","owner_id":"a","account_id":"acc1","frozen_by":"op"}`, "a",
			"Your account has been frozen", "acc1"},
		{`{"event_id":"e","type":"auth.login_failed_locked","user_id":"a","email":"a@x"}`, "a", "Your sign-in has been locked", "Hello Ann"},
		{`{"event_id":"e","type":"payment.settled","payment_id":"p1","owner_id":"a","amount":100000,"currency":"EUR","status":"settled"}`, "a",
			"Your payment of 1000.00 EUR was completed", "p1"},
		{`{"event_id":"e","type":"payment.failed","payment_id":"p1","owner_id":"a","amount":7,"currency":"EUR","status":"failed","failure_reason":"account closed"}`, "a",
			"Your payment of 0.07 EUR failed", "failed (account closed)"},
		{`{"event_id":"e","type":"payment.returned","payment_id":"p1","owner_id":"a","amount":7,"currency":"USD","status":"returned"}`, "a",
			"Your payment of 0.07 USD was returned", "back on your account"},
		// What an event says cannot break the subject out of its header.
		{`{"event_id":"e","type":"payment.failed","payment_id":"p1","owner_id":"a","amount":7,"currency":"EUR\r\nBcc: x@evil.test"}`, "a",
			"Your payment of 7 EUR  Bcc: x@evil.test failed", ""},
	}
	for _, c := range cases {
		e, err := decodeEvent([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := specs()[e.Type].recipients(e); err != nil && !strings.Contains(c.body, "Bcc") {
			t.Errorf("%s: %v", e.Type, err)
		}
		m, err := tmpl.render(e, c.recipient, "Ann", true)
		if err != nil {
			t.Errorf("%s: %v", e.Type, err)
			continue
		}
		if m.Subject != c.subject || !strings.Contains(m.Text, c.inText) {
			t.Errorf("%s to %s: %q / %q; want subject %q and text with %q", e.Type, c.recipient, m.Subject, m.Text, c.subject, c.inText)
		}
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{1250, "EUR", "12.50 EUR"}, {5, "EUR", "0.05 EUR"}, {-5, "EUR", "-0.05 EUR"}, {100, "EUR", "1.00 EUR"},
		{1250, "JPY", "1250 JPY"}, {0, "USD", "0.00 USD"}, {1, "BHD", "0.001 BHD"},
	} {
		if got := formatMoney(c.amount, c.currency); got != c.want {
			t.Errorf("formatMoney(%d, %s) = %q, want %q", c.amount, c.currency, got, c.want)
		}
	}
}

// TestWebhookDataIsTheRecipients: a transfer's webhook tells each side its
// own leg and accounts, never the other's.
func TestWebhookDataIsTheRecipients(t *testing.T) {
	t.Parallel()
	e, _ := decodeEvent(transferEvent("e", "alice", "bob", 300))
	d, _ := json.Marshal(specs()[event.TransactionPosted].data(e, "bob"))
	if got := string(d); strings.Contains(got, "alice") || !strings.Contains(got, `"amount":300`) || !strings.Contains(got, "acc-bob") {
		t.Errorf("bob's data %s", got)
	}
}
