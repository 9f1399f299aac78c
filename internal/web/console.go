package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/fintech-banking/bank/client"
)

// consoleRoutes are the staff's pages. To anyone else they do not exist:
// the same 404 page as any unknown path, signed in or not.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console", s.staffOnly(s.console))
	mux.Handle("POST /console/accounts/{id}/{action}", s.staffOnly(s.setStatus))
	mux.Handle("POST /console/deposits", s.staffOnly(s.deposit))
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
	Email    string
	Searched bool
	Customer *client.User
	Accounts []client.Account
	Key      string // the idempotency key of this rendering's deposit forms
}

func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderConsole(w, r, c, http.StatusOK, r.URL.Query().Get("email"), nil, nil)
}

func (s *Server) renderConsole(w http.ResponseWriter, r *http.Request, c *client.Client, status int, email string, form, errs map[string]string) {
	d := consoleData{Email: email, Key: randomToken()}
	if email != "" {
		d.Searched = true
		users, err := c.FindUsers(r.Context(), email)
		if err != nil {
			if errs == nil {
				errs = map[string]string{}
			}
			for k, v := range formErrors(err, map[string]string{"email": "email"}, nil) {
				if k == "" {
					k = "email"
				}
				errs[k] = v
			}
		}
		if len(users) == 1 {
			d.Customer = &users[0]
			l, err := c.AccountsOf(r.Context(), d.Customer.ID, "")
			if err != nil {
				s.fail(w, r, err)
				return
			}
			d.Accounts = l.Data
		}
	}
	s.render(w, r, status, "console", page{Title: "Console", Form: form, Errors: errs, Data: d})
}

// backToCustomer redirects to the console page of the customer with email.
func backToCustomer(w http.ResponseWriter, r *http.Request, email string) {
	http.Redirect(w, r, "/console?"+url.Values{"email": {email}}.Encode(), http.StatusSeeOther)
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
	action := r.PathValue("action")
	if action != "freeze" && action != "unfreeze" {
		s.notFound(w, r)
		return
	}
	a, err := c.SetStatus(r.Context(), r.PathValue("id"), action)
	var held *client.Pending
	switch {
	case errors.As(err, &held):
		ss.setFlash("The " + action + " waits for a second staff member's approval.")
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		ss.setFlash("Account " + a.Number + " is " + a.Status + ".")
	}
	backToCustomer(w, r, r.PostForm.Get("email"))
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
		var held *client.Pending
		switch {
		case errors.As(err, &held):
			ss.setFlash("The deposit waits for a second staff member's approval.")
			backToCustomer(w, r, f["email"])
			return
		case err == nil:
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
