package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fintech-banking/bank/client"
)

// customerRoutes are online banking: signing in and out, registering, the
// accounts, their history and statements, and transfers.
func (s *Server) customerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /register", s.registerPage)
	mux.HandleFunc("POST /register", s.register)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /accounts", s.accounts)
	mux.HandleFunc("POST /accounts", s.openAccount)
	mux.HandleFunc("GET /accounts/{id}", s.account)
	mux.HandleFunc("GET /accounts/{id}/statement", s.statement)
	mux.HandleFunc("GET /transfer", s.transferPage)
	mux.HandleFunc("POST /transfer", s.transfer)
	s.paymentRoutes(mux)
	s.settingsRoutes(mux)
	mux.HandleFunc("/", s.notFound)
}

// landing is where a signed-in user starts: staff in the console.
func landing(u *client.User) string {
	if u.Role != "customer" {
		return "/console"
	}
	return "/accounts"
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if ss := s.session(r); ss != nil && ss.user != nil {
		http.Redirect(w, r, landing(ss.user), http.StatusSeeOther)
		return
	}
	s.loginPage(w, r)
}

// anonymous makes sure the browser has a session, for the CSRF token of the
// sign-in and register forms. It answers the request itself and returns
// false when it cannot.
func (s *Server) anonymous(w http.ResponseWriter, r *http.Request) bool {
	if s.session(r) != nil {
		return true
	}
	ss, err := s.sessions.create(nil, nil)
	if err == nil {
		err = setCookie(w, r, ss)
	}
	if err != nil {
		s.noSession(w, r, err)
		return false
	}
	// The page is rendered for this request: let it see the new session.
	r.AddCookie(&http.Cookie{Name: cookieName(r), Value: ss.id})
	return true
}

func cookieName(r *http.Request) string {
	if isHTTPS(r) {
		return cookieSecure
	}
	return cookiePlain
}

func (s *Server) noSession(w http.ResponseWriter, r *http.Request, err error) {
	msg := "Too many people are signed in just now. Please try again in a few minutes."
	status := http.StatusServiceUnavailable
	if errors.Is(err, errNeedsHTTPS) {
		msg, status = "Signing in needs a secure (https) connection. Please use the bank's https address.", http.StatusForbidden
	}
	s.render(w, r, status, "problem", page{Title: "Cannot sign in here", Data: msg})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.anonymous(w, r) {
		s.render(w, r, http.StatusOK, "login", page{Title: "Sign in"})
	}
}

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) {
	if s.anonymous(w, r) {
		s.render(w, r, http.StatusOK, "register", page{Title: "Open online banking"})
	}
}

var loginFields = map[string]string{"email": "email", "password": "password", "name": "name"}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	old, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	f := formValues(r, "email")
	if err := s.signIn(w, r, old, f["email"], r.PostForm.Get("password")); err != nil {
		f["password"] = ""
		s.render(w, r, statusOf(err), "login", page{Title: "Sign in", Form: f,
			Errors: formErrors(err, loginFields, map[string]string{"invalid_credentials": "password"})})
	}
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	old, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	f := formValues(r, "email", "name")
	password := r.PostForm.Get("password")
	_, err := s.api.Register(r.Context(), f["email"], password, f["name"])
	if err == nil {
		err = s.signIn(w, r, old, f["email"], password)
	}
	if err != nil {
		s.render(w, r, statusOf(err), "register", page{Title: "Open online banking", Form: f,
			Errors: formErrors(err, loginFields, map[string]string{"email_taken": "email"})})
	}
}

// signIn logs in and, on success, replaces the anonymous session old with a
// new one (a new id: a session id seen before sign-in is never trusted
// after it) and redirects to the user's landing page.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, old *session, email, password string) error {
	t, err := s.api.Login(r.Context(), email, password)
	if err != nil {
		return err
	}
	u, err := s.api.WithToken(t.AccessToken).Me(r.Context())
	if err != nil {
		return err
	}
	ss, err := s.sessions.create(u, t)
	if err == nil {
		err = setCookie(w, r, ss)
	}
	if err != nil {
		s.sessions.delete(ss.id)
		s.noSession(w, r, err)
		return nil
	}
	s.sessions.delete(old.id)
	old.mu.Lock()
	spent := old.refresh
	old.mu.Unlock()
	if spent != "" { // signed in again over a live session: end the old one's tokens too
		if err := s.api.Logout(r.Context(), spent); err != nil {
			s.log.WarnContext(r.Context(), "log out the replaced session", "err", err)
		}
	}
	http.Redirect(w, r, landing(u), http.StatusSeeOther)
	return nil
}

func statusOf(err error) int {
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadGateway
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	ss.mu.Lock()
	refresh := ss.refresh
	ss.mu.Unlock()
	s.sessions.delete(ss.id)
	if refresh != "" {
		if err := s.api.Logout(r.Context(), refresh); err != nil {
			s.log.WarnContext(r.Context(), "log out", "err", err)
		}
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signedIn returns the session and API client of a signed-in user, or sends
// the browser to the sign-in page and returns false.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) (*session, *client.Client, bool) {
	ss := s.session(r)
	if ss == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil, nil, false
	}
	c, err := s.as(r.Context(), ss)
	if err != nil {
		s.fail(w, r, err)
		return nil, nil, false
	}
	return ss, c, true
}

// ownAccounts lists every account of the user's (the first pages, enough
// for a person).
func ownAccounts(ctx context.Context, c *client.Client) ([]client.Account, error) {
	var all []client.Account
	cursor := ""
	for range 10 {
		l, err := c.Accounts(ctx, nil, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, l.Data...)
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	return all, nil
}

var currencies = []string{"EUR", "USD", "GBP", "CHF", "JPY"}

type accountsData struct {
	Accounts   []client.Account
	Currencies []string
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderAccounts(w, r, c, http.StatusOK, nil, nil)
}

func (s *Server) renderAccounts(w http.ResponseWriter, r *http.Request, c *client.Client, status int, form, errs map[string]string) {
	accts, err := ownAccounts(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "accounts", page{Title: "Your accounts", Form: form, Errors: errs,
		Data: accountsData{Accounts: accts, Currencies: currencies}})
}

func (s *Server) openAccount(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkForm(w, r); !ok {
		return
	}
	ss, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "currency", "type", "name")
	a, err := c.OpenAccount(r.Context(), f["currency"], f["type"], f["name"])
	if err != nil {
		s.renderAccounts(w, r, c, statusOf(err), f, formErrors(err,
			map[string]string{"currency": "currency", "type": "type", "name": "name"}, nil))
		return
	}
	ss.mu.Lock()
	ss.flash = "Your new account " + a.Number + " is open."
	ss.mu.Unlock()
	http.Redirect(w, r, "/accounts/"+url.PathEscape(a.ID), http.StatusSeeOther)
}

// line is one transaction as the account's history shows it: signed from
// the account's side.
type line struct {
	client.Transaction
	Signed int64
}

type accountData struct {
	Account  client.Account
	Lines    []line
	From, To string // the filter, as dates
	Text     string // the search's words
	Min, Max string // the search's amounts, as typed
	Search   bool   // the lines are a search's
	Next     string // the address of the next page, "" on the last
	CSV, PDF string // the addresses of the statement files
}

const day = "2006-01-02"

// historyPage is how many transactions a page of history shows.
const historyPage = 25

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
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
	d := accountData{Account: *a, From: q.Get("from"), To: q.Get("to"), Text: strings.TrimSpace(q.Get("q")),
		Min: strings.TrimSpace(q.Get("min")), Max: strings.TrimSpace(q.Get("max"))}
	hq := client.HistoryQuery{Limit: historyPage, Cursor: q.Get("cursor")}
	errs := map[string]string{}
	if d.From != "" {
		if hq.From, err = time.Parse(day, d.From); err != nil {
			errs["from"] = "Enter a date like 2026-01-31."
		}
	}
	if d.To != "" {
		t, err := time.Parse(day, d.To)
		if err != nil {
			errs["to"] = "Enter a date like 2026-01-31."
		}
		hq.To = t.AddDate(0, 0, 1) // the whole of the last day
	}
	search := client.Search{Text: d.Text, AccountID: id, From: hq.From, To: hq.To, Limit: historyPage, Cursor: hq.Cursor}
	for _, b := range []struct {
		field, typed string
		into         **int64
	}{{"min", d.Min, &search.MinAmount}, {"max", d.Max, &search.MaxAmount}} {
		if b.typed == "" {
			continue
		}
		n, problem := parseAmount(b.typed, a.Currency)
		if problem != "" {
			errs[b.field] = problem
			continue
		}
		*b.into = &n
	}
	d.Search = d.Text != "" || search.MinAmount != nil || search.MaxAmount != nil
	if len(errs) == 0 {
		var txs []client.Transaction
		var next string
		if d.Search {
			l, err := c.SearchTransactions(r.Context(), search)
			if err != nil {
				var ae *client.Error
				if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
					errs["q"] = words(ae)
				} else {
					s.fail(w, r, err)
					return
				}
			} else {
				for _, f := range l.Data {
					txs = append(txs, f.Transaction)
				}
				next = l.NextCursor
			}
		} else {
			l, err := c.HistoryPage(r.Context(), id, hq)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			txs, next = l.Data, l.NextCursor
		}
		for _, tx := range txs {
			ln := line{Transaction: tx}
			for _, p := range tx.Postings {
				if p.AccountID == id {
					ln.Signed += p.Amount
				}
			}
			d.Lines = append(d.Lines, ln)
		}
		if next != "" {
			nq := url.Values{"cursor": {next}}
			for _, k := range []string{"from", "to", "q", "min", "max"} {
				if v := q.Get(k); v != "" {
					nq.Set(k, v)
				}
			}
			d.Next = "/accounts/" + url.PathEscape(id) + "?" + nq.Encode()
		}
	}
	from, to := statementRange(hq.From, hq.To, s.now())
	sq := url.Values{"from": {from.Format(day)}, "to": {to.AddDate(0, 0, -1).Format(day)}}
	base := "/accounts/" + url.PathEscape(id) + "/statement?"
	sq.Set("format", "csv")
	d.CSV = base + sq.Encode()
	sq.Set("format", "pdf")
	d.PDF = base + sq.Encode()
	s.render(w, r, http.StatusOK, "account", page{Title: accountTitle(a), Errors: errs, Data: d})
}

// statementRange is the statement period the history's filter implies: the
// filter's dates, else the last 30 days to the end of today.
func statementRange(from, to, now time.Time) (time.Time, time.Time) {
	today := now.UTC().Truncate(24 * time.Hour)
	if to.IsZero() {
		to = today.AddDate(0, 0, 1)
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	return from, to
}

func accountTitle(a *client.Account) string {
	if a.Name != "" {
		return a.Name + " · " + a.Number
	}
	return "Account " + a.Number
}

// statement hands the API's statement file to the browser as a download.
func (s *Server) statement(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	from, errFrom := time.Parse(day, q.Get("from"))
	to, errTo := time.Parse(day, q.Get("to"))
	if (format != "csv" && format != "pdf") || errFrom != nil || errTo != nil {
		s.notFound(w, r)
		return
	}
	// The statement's end is inclusive: up to the last instant of "to".
	body, err := c.OpenStatement(r.Context(), r.PathValue("id"), from, to.AddDate(0, 0, 1).Add(-time.Nanosecond), format)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer body.Close()
	ct := "text/csv; charset=utf-8"
	if format == "pdf" {
		ct = "application/pdf"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="statement-`+q.Get("from")+`-`+q.Get("to")+`.`+format+`"`)
	// The file goes on as the API writes it. Cut short there, it is cut
	// short here too: the browser sees a download that failed, never a
	// statement that merely looks complete.
	if _, err := io.Copy(w, body); err != nil {
		if r.Context().Err() != nil {
			return // the browser went away
		}
		s.log.ErrorContext(r.Context(), "statement cut short", "account", r.PathValue("id"), "err", err)
		panic(http.ErrAbortHandler)
	}
}

type transferData struct {
	Accounts []client.Account
	Key      string
}

func (s *Server) transferPage(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderTransfer(w, r, c, http.StatusOK, map[string]string{"from": r.URL.Query().Get("from")}, nil)
}

// renderTransfer shows the transfer form with a fresh idempotency key: every
// rendering is a new transfer, and a double submit of one rendering sends
// one key twice, so money moves once.
func (s *Server) renderTransfer(w http.ResponseWriter, r *http.Request, c *client.Client, status int, form, errs map[string]string) {
	accts, err := ownAccounts(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "transfer", page{Title: "Move money", Form: form, Errors: errs,
		Data: transferData{Accounts: accts, Key: randomToken()}})
}

var transferFields = map[string]string{"from_account_id": "from", "to_account_id": "to_own",
	"to_account_number": "to_number", "amount": "amount", "currency": "amount", "description": "description"}

func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkForm(w, r); !ok {
		return
	}
	ss, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "from", "to_own", "to_number", "amount", "description")
	f["to_number"] = strings.ReplaceAll(f["to_number"], " ", "")
	key := r.PostForm.Get("key")
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
	switch {
	case from == nil:
		errs["from"] = "Choose the account to send from."
	case f["to_own"] == "" && f["to_number"] == "":
		errs["to_number"] = "Choose one of your accounts or enter an account number."
	case f["to_own"] != "" && f["to_number"] != "":
		errs["to_number"] = "Choose one of your accounts or enter an account number, not both."
	}
	var amount int64
	if from != nil {
		var problem string
		if amount, problem = parseAmount(f["amount"], from.Currency); problem != "" {
			errs["amount"] = problem
		}
	}
	if len(errs) == 0 {
		in := client.Transfer{FromAccountID: from.ID, ToAccountID: f["to_own"], ToAccountNumber: f["to_number"],
			Amount: amount, Currency: from.Currency, Description: f["description"]}
		_, err = moneyCall(r.Context(), func() (*client.Transaction, error) { return c.Transfer(r.Context(), key, in) })
		if err == nil {
			ss.mu.Lock()
			ss.flash = "Sent " + formatMoney(amount, from.Currency) + "."
			ss.mu.Unlock()
			http.Redirect(w, r, "/accounts/"+url.PathEscape(from.ID), http.StatusSeeOther)
			return
		}
		to := "to_number"
		if f["to_own"] != "" {
			to = "to_own"
		}
		codes := map[string]string{"insufficient_funds": "amount", "currency_mismatch": to, "account_not_found": to}
		var ae *client.Error
		if errors.As(err, &ae) && (ae.Code == "account_frozen" || ae.Code == "account_closed") {
			codes[ae.Code] = "from"
			if !strings.Contains(ae.Message, from.ID) {
				codes[ae.Code] = to
			}
		}
		errs = formErrors(err, transferFields, codes)
	}
	s.renderTransfer(w, r, c, http.StatusUnprocessableEntity, f, errs)
}
