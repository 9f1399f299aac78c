package notification

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/fintech-banking/bank/internal/event"
)

// message is what one recipient is told: a subject (an email's, a webhook's
// "subject") and a plain-text body.
type message struct {
	Subject, Text string
}

// view is what a template sees: the event, the recipient's name and the
// amounts already written out.
type view struct {
	Name        string // the recipient's name
	Type        string
	Description string
	Amount      string // the event's amount, e.g. "12.50 EUR"
	Net         string // for a transaction: what it did to the recipient's money, unsigned
	Credit      bool   // for a transaction: the recipient received money
	Own         bool   // for a transaction: between the recipient's own accounts
	Kind        string // transaction type: transfer, deposit, …
	ID          string // the transaction, hold, payment or account the event is about
	Reason      string // a payment's failure reason
}

// texts are the templates, subject then body, by event type.
var texts = map[string][2]string{
	event.TransactionPosted: {
		`{{if .Own}}Money moved between your accounts{{else if .Credit}}You received {{.Net}}{{else}}You paid {{.Net}}{{end}}`,
		`Hello {{.Name}},

{{if .Own}}{{.Amount}} moved between your own accounts{{else if .Credit}}{{.Net}} was credited to your account{{else}}{{.Net}} was debited from your account{{end}} ({{.Kind}}{{with .Description}}: {{.}}{{end}}).
Transaction {{.ID}}.`},
	event.HoldCreated: {
		`{{.Amount}} reserved on your account`,
		`Hello {{.Name}},

{{.Amount}} is reserved on your account {{.ID}} and no longer available to spend until it is captured or released.`},
	event.AccountFrozen: {
		`Your account has been frozen`,
		`Hello {{.Name}},

Your account {{.ID}} has been frozen: no money can leave it. Please contact us if you did not expect this.`},
	event.UserLocked: {
		`Your sign-in has been locked`,
		`Hello {{.Name}},

Your access has been locked and every session signed out. Please contact us to unlock it.`},
	event.PaymentSettled: {
		`Your payment of {{.Amount}} was completed`,
		`Hello {{.Name}},

Your payment {{.ID}} of {{.Amount}} has been settled.`},
	event.PaymentFailed: {
		`Your payment of {{.Amount}} failed`,
		`Hello {{.Name}},

Your payment {{.ID}} of {{.Amount}} failed{{with .Reason}} ({{.}}){{end}}. The money was released to your account.`},
	event.PaymentReturned: {
		`Your payment of {{.Amount}} was returned`,
		`Hello {{.Name}},

Your payment {{.ID}} of {{.Amount}} was returned by the receiving bank{{with .Reason}} ({{.}}){{end}}; the money is back on your account.`},
}

// templates holds the parsed texts.
type templates struct {
	subject, text map[string]*template.Template
}

func newTemplates() (*templates, error) {
	t := &templates{subject: map[string]*template.Template{}, text: map[string]*template.Template{}}
	for typ, st := range texts {
		var err error
		if t.subject[typ], err = template.New(typ + " subject").Option("missingkey=error").Parse(st[0]); err != nil {
			return nil, fmt.Errorf("template %s: %w", typ, err)
		}
		if t.text[typ], err = template.New(typ).Option("missingkey=error").Parse(st[1]); err != nil {
			return nil, fmt.Errorf("template %s: %w", typ, err)
		}
	}
	return t, nil
}

// render writes e's message to recipient, named name: its subject, and its
// text when withText (a log-only delivery records the subject alone).
func (t *templates) render(e *notice, recipient, name string, withText bool) (message, error) {
	v := view{Name: name, Type: e.Type, Description: e.Description, Amount: formatMoney(e.Amount, e.Currency),
		Kind: e.TransactionType, Reason: e.FailureReason}
	switch e.Type {
	case event.TransactionPosted:
		net := e.net(recipient)
		v.ID, v.Credit, v.Own = e.TransactionID, net > 0, net == 0
		if net < 0 {
			net = -net
		}
		v.Net = formatMoney(net, e.Currency)
	case event.HoldCreated:
		v.ID = e.AccountID
	case event.AccountFrozen:
		v.ID = e.AccountID
	default:
		v.ID = e.PaymentID
	}
	st, ok := t.subject[e.Type]
	if !ok {
		return message{}, fmt.Errorf("no template for %s", e.Type)
	}
	var subject, text strings.Builder
	if err := st.Execute(&subject, v); err != nil {
		return message{}, err
	}
	if withText {
		if err := t.text[e.Type].Execute(&text, v); err != nil {
			return message{}, err
		}
	}
	// A subject is one line whatever the event held: it becomes an email
	// header.
	return message{Subject: cleanText(subject.String()), Text: text.String()}, nil
}

// cleanText replaces control characters (CR and LF among them) with spaces
// and trims the result, for text bound for a header or a log.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s))
}
