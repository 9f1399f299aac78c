package web

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fintech-banking/bank/client"
)

// consoleRoutes are the staff's pages. To anyone else they do not exist:
// the same 404 page as any unknown path, signed in or not.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console", s.staffOnly(s.console))
	mux.Handle("GET /console/accounts/{id}", s.staffOnly(s.consoleAccount))
	mux.Handle("GET /console/accounts/{id}/close", s.staffOnly(s.confirmClose))
	mux.Handle("POST /console/accounts/{id}/{action}", s.staffOnly(s.setStatus))
	mux.Handle("POST /console/accounts/{id}/overdraft", s.staffOnly(s.setOverdraft))
	mux.Handle("POST /console/deposits", s.staffOnly(s.deposit))
	mux.Handle("GET /console/transactions/{id}/reverse", s.staffOnly(s.confirmReverse))
	mux.Handle("POST /console/transactions/{id}/reverse", s.staffOnly(s.reverse))
	mux.Handle("POST /console/users/{id}/{action}", s.staffOnly(s.userAction))
	mux.Handle("GET /console/payments", s.staffOnly(s.consolePayments))
	mux.Handle("GET /console/payments/{id}", s.staffOnly(s.payment))
	mux.Handle("GET /console/audit", s.staffOnly(s.audit))
	mux.Handle("GET /console/approvals", s.staffOnly(s.approvals))
	mux.Handle("POST /console/approvals/{id}/{decision}", s.staffOnly(s.decide))
	mux.Handle("GET /console/system", s.staffOnly(s.system))
	mux.Handle("POST /console/system/maintenance", s.staffOnly(s.setMaintenance))
	mux.Handle("POST /console/system/redrive", s.staffOnly(s.redrive))
	mux.Handle("/console/", s.staffOnly(s.notFound))
}

// staffOnly serves h to signed-in staff, and the not-found page to
// everyone else.
func (s *Server) staffOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := s.session(r)
		if ss == nil {
			s.notFound(w, r)
			return
		}
		ss.mu.Lock()
		staff := ss.user != nil && ss.user.Role != "customer"
		ss.mu.Unlock()
		if !staff {
			s.notFound(w, r)
			return
		}
		h(w, r)
	})
}

type consoleData struct {
	Query    string // what was searched: an email, or words of a name
	Searched bool
	Found    []client.User // a name's matches, when more than one
	Customer *client.User
	Accounts []client.Account
	Admin    bool     // the signed-in user is an admin: may change roles
	Roles    []string // the roles there are
	Key      string   // the idempotency key of this rendering's deposit forms
}

func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if query == "" {
		query = strings.TrimSpace(q.Get("email"))
	}
	s.renderConsole(w, r, c, http.StatusOK, query, nil, nil)
}

// renderConsole shows the customer search and, for an email or a name only
// one customer has, the customer with their accounts and what staff may do.
func (s *Server) renderConsole(w http.ResponseWriter, r *http.Request, c *client.Client, status int, query string, form, errs map[string]string) {
	d := consoleData{Query: query, Key: randomToken(), Roles: []string{"customer", "operator", "admin"}}
	if ss := s.session(r); ss != nil {
		ss.mu.Lock()
		d.Admin = ss.user != nil && ss.user.Role == "admin"
		ss.mu.Unlock()
	}
	if errs == nil {
		errs = map[string]string{}
	}
	if query != "" {
		d.Searched = true
		var users []client.User
		var err error
		if strings.Contains(query, "@") {
			users, err = c.FindUsers(r.Context(), query)
		} else {
			users, err = c.FindUsersByName(r.Context(), query)
		}
		if err != nil {
			for k, v := range formErrors(err, map[string]string{"email": "q", "name": "q"}, nil) {
				if k == "" {
					k = "q"
				}
				errs[k] = v
			}
		}
		switch len(users) {
		case 0:
		case 1:
			d.Customer = &users[0]
			l, err := c.AccountsOf(r.Context(), d.Customer.ID, "")
			if err != nil {
				s.fail(w, r, err)
				return
			}
			d.Accounts = l.Data
		default:
			d.Found = users
		}
	}
	s.render(w, r, status, "console", page{Title: "Console", Form: form, Errors: errs, Data: d})
}

// backToCustomer redirects to the console page of the customer with email.
func backToCustomer(w http.ResponseWriter, r *http.Request, email string) {
	http.Redirect(w, r, "/console?"+url.Values{"q": {email}}.Encode(), http.StatusSeeOther)
}

// held says what happened to an action: done, or waiting for a second
// member of staff (four eyes).
func held(err error, what string) (string, bool) {
	var p *client.Pending
	if errors.As(err, &p) {
		return "The " + what + " waits for a second staff member's approval.", true
	}
	return "", false
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "freeze" && action != "unfreeze" && action != "close" {
		s.notFound(w, r)
		return
	}
	if action == "close" && r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, "/console/accounts/"+url.PathEscape(id)+"/close", http.StatusSeeOther)
		return
	}
	a, err := c.SetStatus(r.Context(), id, action)
	if msg, ok := held(err, action); ok {
		ss.setFlash(msg)
	} else if err != nil {
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == http.StatusUnauthorized {
			s.fail(w, r, err)
			return
		}
		ss.setFlash("Could not " + action + " the account: " + words(ae))
	} else {
		ss.setFlash("Account " + a.Number + " is " + a.Status + ".")
	}
	backToCustomer(w, r, r.PostForm.Get("email"))
}

type confirmData struct {
	Account     *client.Account
	Transaction *client.Transaction
	Email       string
	Key         string
}

// confirmClose asks staff to confirm closing an account: it cannot be undone.
func (s *Server) confirmClose(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	a, err := c.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Close account " + a.Number + "?",
		Data: confirmData{Account: a, Email: r.URL.Query().Get("email")}})
}

func (s *Server) setOverdraft(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "overdraft", "email")
	a, err := c.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	errs := map[string]string{}
	var limit int64
	if f["overdraft"] != "0" {
		var problem string
		if limit, problem = parseAmount(f["overdraft"], a.Currency); problem != "" {
			errs["overdraft-"+a.ID] = problem + " Enter 0 for no overdraft."
		}
	}
	if len(errs) == 0 {
		b, err := c.SetOverdraftLimit(r.Context(), a.ID, limit)
		if msg, ok := held(err, "overdraft limit"); ok {
			ss.setFlash(msg)
			backToCustomer(w, r, f["email"])
			return
		}
		if err == nil {
			ss.setFlash("Account " + b.Number + " may now go " + formatMoney(b.OverdraftLimit, b.Currency) + " below zero.")
			backToCustomer(w, r, f["email"])
			return
		}
		for k, v := range formErrors(err, map[string]string{"amount": "overdraft"}, map[string]string{"overdraft_in_use": "overdraft", "account_closed": "overdraft"}) {
			if k == "" {
				k = "overdraft"
			}
			errs[k+"-"+a.ID] = v
		}
	}
	s.renderConsole(w, r, c, http.StatusUnprocessableEntity, f["email"], map[string]string{"account": a.ID, "overdraft": f["overdraft"]}, errs)
}

func (s *Server) deposit(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "account", "amount", "description", "email")
	a, err := c.Account(r.Context(), f["account"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	errs := map[string]string{}
	amount, problem := parseAmount(f["amount"], a.Currency)
	if problem != "" {
		errs["amount-"+a.ID] = problem
	} else {
		key := r.PostForm.Get("key")
		_, err = moneyCall(r.Context(), func() (*client.Transaction, error) {
			return c.DepositWith(r.Context(), key, a.ID, amount, a.Currency, f["description"])
		})
		if msg, ok := held(err, "deposit"); ok {
			ss.setFlash(msg)
			backToCustomer(w, r, f["email"])
			return
		}
		if err == nil {
			ss.setFlash("Deposited " + formatMoney(amount, a.Currency) + " into " + a.Number + ".")
			backToCustomer(w, r, f["email"])
			return
		}
		for k, v := range formErrors(err, map[string]string{"amount": "amount", "description": "description"},
			map[string]string{"account_frozen": "amount", "account_closed": "amount"}) {
			if k == "" {
				k = "amount"
			}
			errs[k+"-"+a.ID] = v
		}
	}
	s.renderConsole(w, r, c, http.StatusUnprocessableEntity, f["email"], f, errs)
}

type consoleAccountData struct {
	Account client.Account
	Lines   []line
	Email   string
	Next    string
}

// consoleAccount is an account's history as staff see it, with a way to
// reverse each transaction.
func (s *Server) consoleAccount(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	a, err := c.Account(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := c.HistoryPage(r.Context(), id, client.HistoryQuery{Limit: historyPage, Cursor: q.Get("cursor")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := consoleAccountData{Account: *a, Email: q.Get("email")}
	for _, tx := range l.Data {
		ln := line{Transaction: tx}
		for _, p := range tx.Postings {
			if p.AccountID == id {
				ln.Signed += p.Amount
			}
		}
		d.Lines = append(d.Lines, ln)
	}
	if l.NextCursor != "" {
		d.Next = "/console/accounts/" + url.PathEscape(id) + "?" + url.Values{"cursor": {l.NextCursor}, "email": {d.Email}}.Encode()
	}
	s.render(w, r, http.StatusOK, "console_account", page{Title: accountTitle(a), Data: d})
}

// confirmReverse shows the transaction and asks staff to confirm its
// reversal, with a fresh idempotency key: a double submit reverses once.
func (s *Server) confirmReverse(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderReverse(w, r, c, http.StatusOK, nil, nil)
}

func (s *Server) renderReverse(w http.ResponseWriter, r *http.Request, c *client.Client, status int, form, errs map[string]string) {
	t, err := c.Transaction(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.URL.Query().Get("email")
	if r.PostForm != nil && r.PostForm.Has("email") {
		email = r.PostForm.Get("email")
	}
	s.render(w, r, status, "confirm", page{Title: "Reverse this transaction?", Form: form, Errors: errs,
		Data: confirmData{Transaction: t, Email: email, Key: randomToken()}})
}

func (s *Server) reverse(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	f := formValues(r, "description", "email")
	if r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, "/console/transactions/"+url.PathEscape(id)+"/reverse", http.StatusSeeOther)
		return
	}
	key := r.PostForm.Get("key")
	t, err := moneyCall(r.Context(), func() (*client.Transaction, error) { return c.Reverse(r.Context(), key, id, f["description"]) })
	if msg, ok := held(err, "reversal"); ok {
		ss.setFlash(msg)
		backToCustomer(w, r, f["email"])
		return
	}
	if err != nil {
		s.renderReverse(w, r, c, http.StatusUnprocessableEntity, f, formErrors(err, map[string]string{"description": "description"}, nil))
		return
	}
	ss.setFlash("Reversed: " + formatMoney(t.Amount, t.Currency) + " went back.")
	backToCustomer(w, r, f["email"])
}

func (s *Server) userAction(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	var u *client.User
	var err error
	switch action {
	case "lock", "unlock":
		u, err = c.LockUser(r.Context(), id, action == "lock")
	case "role":
		u, err = c.SetRole(r.Context(), id, r.PostForm.Get("role"))
	default:
		s.notFound(w, r)
		return
	}
	var ae *client.Error
	switch {
	case err == nil && action == "role":
		ss.setFlash(u.Name + " is now " + u.Role + ".")
	case err == nil:
		ss.setFlash(u.Name + " is " + action + "ed.")
	case errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized:
		what := map[string]string{"lock": "lock the user", "unlock": "unlock the user", "role": "change the user's role"}[action]
		ss.setFlash("Could not " + what + ": " + words(ae))
	default:
		s.fail(w, r, err)
		return
	}
	backToCustomer(w, r, r.PostForm.Get("email"))
}

type consolePaymentsData struct {
	Payments []client.Payment
	Status   string
	Statuses []string
	Next     string
}

// consolePayments lists everyone's payments, newest first.
func (s *Server) consolePayments(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := consolePaymentsData{Status: q.Get("status"), Statuses: paymentStatuses}
	if !contains(paymentStatuses, d.Status) {
		d.Status = ""
	}
	var err error
	if d.Payments, d.Next, err = paymentsPage(r, c, d.Status, 50, "/console/payments"); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "console_payments", page{Title: "Payments", Data: d})
}

type auditData struct {
	Entries       []client.AuditEntry
	Actor, Action string
	Next          string
	Denied        string // why the trail cannot be shown to this user
}

// audit shows the audit trail (admins), filtered by actor and action.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action"))}
	errs := map[string]string{}
	l, err := c.Audit(r.Context(), client.AuditQuery{Actor: d.Actor, Action: d.Action, Limit: 50, Cursor: q.Get("cursor")})
	var ae *client.Error
	switch {
	case err == nil:
		d.Entries = l.Data
		if l.NextCursor != "" {
			nq := url.Values{"cursor": {l.NextCursor}}
			for k, v := range map[string]string{"actor": d.Actor, "action": d.Action} {
				if v != "" {
					nq.Set(k, v)
				}
			}
			d.Next = "/console/audit?" + nq.Encode()
		}
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		d.Denied = "The audit trail is for admins."
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		errs = formErrors(err, map[string]string{"actor": "actor", "action": "action"}, nil)
	default:
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "audit", page{Title: "Audit trail", Errors: errs, Data: d})
}

// approvalView is an approval with its request laid out for people.
type approvalView struct {
	client.Approval
	Fields [][2]string
}

type approvalsData struct {
	Approvals []approvalView
	Status    string
	Next      string
}

// approvals lists the staff actions held for a second member of staff.
func (s *Server) approvals(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := approvalsData{Status: q.Get("status")}
	if !contains([]string{"pending", "approved", "rejected", "expired", "all"}, d.Status) {
		d.Status = "pending"
	}
	status := d.Status
	if status == "all" {
		status = ""
	}
	l, err := c.Approvals(r.Context(), status, q.Get("cursor"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, a := range l.Data {
		v := approvalView{Approval: a}
		var m map[string]any
		if json.Unmarshal(a.Request, &m) == nil {
			for _, k := range sortedKeys(m) {
				b, _ := json.Marshal(m[k])
				v.Fields = append(v.Fields, [2]string{strings.ReplaceAll(k, "_", " "), strings.Trim(string(b), `"`)})
			}
		}
		d.Approvals = append(d.Approvals, v)
	}
	if l.NextCursor != "" {
		d.Next = "/console/approvals?" + url.Values{"cursor": {l.NextCursor}, "status": {d.Status}}.Encode()
	}
	s.render(w, r, http.StatusOK, "approvals", page{Title: "Approvals", Data: d})
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var err error
	switch r.PathValue("decision") {
	case "approve":
		var d *client.Decision
		if d, err = c.Approve(r.Context(), id); err == nil {
			msg := "Approved: the " + d.Approval.Action + " is done."
			var e struct {
				Error *client.Error `json:"error"`
			}
			if json.Unmarshal(d.Result, &e) == nil && e.Error != nil {
				msg = "Approved, but the " + d.Approval.Action + " did not go through: " + words(e.Error)
			}
			ss.setFlash(msg)
		}
	case "reject":
		if _, err = c.Reject(r.Context(), id, strings.TrimSpace(r.PostForm.Get("reason"))); err == nil {
			ss.setFlash("Rejected.")
		}
	default:
		s.notFound(w, r)
		return
	}
	var ae *client.Error
	if err != nil {
		if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == http.StatusUnauthorized {
			s.fail(w, r, err)
			return
		}
		ss.setFlash("That did not work: " + words(ae))
	}
	http.Redirect(w, r, "/console/approvals", http.StatusSeeOther)
}
