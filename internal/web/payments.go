package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/fintech-banking/bank/client"
)

// paymentRoutes are payments to other banks: to an IBAN or a US account.
func (s *Server) paymentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /payments", s.payments)
	mux.HandleFunc("POST /payments", s.pay)
	mux.HandleFunc("GET /payments/{id}", s.payment)
	mux.HandleFunc("POST /payments/{id}/cancel", s.cancelPayment)
}

// paymentStatuses are the statuses the list filters by, as the API names them.
var paymentStatuses = []string{"scheduled", "pending", "submitted", "settled", "failed", "returned", "cancelled"}

type paymentsData struct {
	Accounts []client.Account
	Numbers  map[string]string // account id → number, for the list
	Payments []client.Payment
	Status   string
	Statuses []string
	Next     string
	Key      string
}

func (s *Server) payments(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderPayments(w, r, c, http.StatusOK, map[string]string{"kind": "iban"}, nil)
}

// renderPayments shows the payment form, with a fresh idempotency key, and
// a page of the payments made.
func (s *Server) renderPayments(w http.ResponseWriter, r *http.Request, c *client.Client, status int, form, errs map[string]string) {
	accts, err := ownAccounts(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := paymentsData{Accounts: accts, Numbers: map[string]string{}, Status: q.Get("status"), Statuses: paymentStatuses, Key: randomToken()}
	for _, a := range accts {
		d.Numbers[a.ID] = a.Number
	}
	if d.Status != "" && !contains(paymentStatuses, d.Status) {
		d.Status = ""
	}
	if d.Payments, d.Next, err = paymentsPage(r, c, d.Status, 25, "/payments"); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "payments", page{Title: "Payments", Form: form, Errors: errs, Data: d})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// paymentFields maps the API's field names to the form's.
var paymentFields = map[string]string{"from_account_id": "from", "amount": "amount", "currency": "amount",
	"beneficiary": "iban", "beneficiary.name": "name", "beneficiary.iban": "iban",
	"beneficiary.account_number": "account_number", "beneficiary.routing_number": "routing_number", "reference": "reference"}

func (s *Server) pay(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkForm(w, r); !ok {
		return
	}
	ss, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "from", "kind", "name", "iban", "account_number", "routing_number", "amount", "reference")
	accts, err := ownAccounts(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var from *client.Account
	for i := range accts {
		if accts[i].ID == f["from"] {
			from = &accts[i]
		}
	}
	errs := map[string]string{}
	b := client.Beneficiary{Name: f["name"]}
	switch f["kind"] {
	case "iban":
		b.IBAN = f["iban"]
		if b.IBAN == "" {
			errs["iban"] = "Enter the IBAN, like DE89 3704 0044 0532 0130 00."
		}
	case "us":
		b.AccountNumber, b.RoutingNumber = f["account_number"], f["routing_number"]
		if b.AccountNumber == "" {
			errs["account_number"] = "Enter the account number."
		}
		if b.RoutingNumber == "" {
			errs["routing_number"] = "Enter the 9-digit routing number."
		}
	default:
		errs["kind"] = "Choose an IBAN or a US account."
	}
	if b.Name == "" {
		errs["name"] = "Enter who you are paying."
	}
	var amount int64
	if from == nil {
		errs["from"] = "Choose the account to pay from."
	} else {
		var problem string
		if amount, problem = parseAmount(f["amount"], from.Currency); problem != "" {
			errs["amount"] = problem
		}
	}
	if len(errs) == 0 {
		in := client.PaymentRequest{FromAccountID: from.ID, Amount: amount, Currency: from.Currency, Beneficiary: b, Reference: f["reference"]}
		key := r.PostForm.Get("key")
		p, err := moneyCall(r.Context(), func() (*client.Payment, error) { return c.CreatePayment(r.Context(), key, in) })
		if err == nil {
			ss.setFlash("Payment of " + formatMoney(amount, from.Currency) + " to " + b.Name + " is " + p.Status + ".")
			http.Redirect(w, r, "/payments/"+url.PathEscape(p.ID), http.StatusSeeOther)
			return
		}
		beneficiary := "iban"
		if f["kind"] == "us" {
			beneficiary = "account_number"
		}
		fields := map[string]string{}
		for k, v := range paymentFields {
			fields[k] = v
		}
		fields["beneficiary"] = beneficiary
		errs = formErrors(err, fields, map[string]string{"insufficient_funds": "amount", "limit_exceeded": "amount",
			"currency_mismatch": "from", "account_frozen": "from", "account_closed": "from", "account_not_found": "from"})
	}
	s.renderPayments(w, r, c, http.StatusUnprocessableEntity, f, errs)
}

type paymentData struct {
	Payment    client.Payment
	From       string // the paying account's number
	Cancelable bool
}

// beneficiaryText says where a payment goes.
func beneficiaryText(b client.Beneficiary) string {
	if b.IBAN != "" {
		return b.IBAN
	}
	return "US " + b.AccountNumber + " (routing " + b.RoutingNumber + ")"
}

func (s *Server) payment(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	p, err := c.Payment(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := paymentData{Payment: *p, Cancelable: p.Status == "scheduled" || p.Status == "pending"}
	if a, err := c.Account(r.Context(), p.FromAccountID); err == nil {
		d.From = a.Number
	}
	s.render(w, r, http.StatusOK, "payment", page{Title: "Payment to " + p.Beneficiary.Name, Data: d})
}

func (s *Server) cancelPayment(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkForm(w, r); !ok {
		return
	}
	ss, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	p, err := c.CancelPayment(r.Context(), id)
	var ae *client.Error
	switch {
	case err == nil:
		ss.setFlash("The payment to " + p.Beneficiary.Name + " is cancelled.")
	case errors.As(err, &ae) && (ae.Code == "payment_not_cancellable" || ae.Code == "payment_in_progress"):
		ss.setFlash(words(ae))
	default:
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/payments/"+url.PathEscape(id), http.StatusSeeOther)
}

// statusWords says a payment's status in plain words.
func statusWords(status string) string {
	switch status {
	case "scheduled":
		return "Scheduled"
	case "pending":
		return "Waiting to be sent"
	case "submitted":
		return "Sent to the other bank"
	case "settled":
		return "Paid"
	case "failed":
		return "Failed"
	case "returned":
		return "Returned by the other bank"
	case "cancelled":
		return "Cancelled"
	}
	return strings.ToUpper(status[:min(1, len(status))]) + status[min(1, len(status)):]
}

// paymentsPage reads one page of the payments c may see, in status when it
// is not "", from the request's cursor, and returns them with the link of
// the next page on path ("" on the last).
func paymentsPage(r *http.Request, c *client.Client, status string, limit int, path string) ([]client.Payment, string, error) {
	l, err := c.Payments(r.Context(), status, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return nil, "", err
	}
	if l.NextCursor == "" {
		return l.Data, "", nil
	}
	q := url.Values{"cursor": {l.NextCursor}}
	if status != "" {
		q.Set("status", status)
	}
	return l.Data, path + "?" + q.Encode(), nil
}
