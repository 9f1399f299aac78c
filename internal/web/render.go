package web

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/bank"
)

// page is what every template gets: the signed-in user (nil if none), the
// session's CSRF token, a message from the last action, what the form held
// and the API's complaints about it, field by field, and the page's own data.
type page struct {
	Title  string
	User   *client.User
	Staff  bool
	CSRF   string
	Flash  string
	Form   map[string]string
	Errors map[string]string
	Data   any
}

// formatMoney writes minor units as people read them: "12.50 EUR".
func formatMoney(amount int64, currency string) string {
	return bank.Money{Amount: amount, Currency: bank.Currency(currency)}.String()
}

var funcs = template.FuncMap{
	"money":       formatMoney,
	"statusWords": statusWords,
	"beneficiary": beneficiaryText,
	"list":        func(s ...string) []string { return s },
	"date":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
}

// render writes page name with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if ss := s.session(r); ss != nil {
		ss.mu.Lock()
		p.User, p.CSRF = ss.user, ss.csrf
		p.Flash, ss.flash = ss.flash, ""
		ss.mu.Unlock()
		p.Staff = p.User != nil && p.User.Role != "customer"
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// notFound is the one answer for a page that does not exist or that the
// caller may not see: the console looks the same as nothing to a customer.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", page{Title: "Page not found"})
}

// fail shows what went wrong with a request to the API outside any form: the
// maintenance page, the sign-in page when the session is gone, or a page
// saying what went wrong in plain words.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *client.Error
	switch {
	case errors.As(err, &ae) && ae.Code == "maintenance":
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusServiceUnavailable, "maintenance", page{Title: "Down for maintenance", Data: ae.Message})
	case errors.Is(err, errSignedOut) || (errors.As(err, &ae) && ae.Status == http.StatusUnauthorized):
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		s.notFound(w, r)
	case errors.As(err, &ae) && ae.Status < 500:
		s.render(w, r, ae.Status, "problem", page{Title: "That did not work", Data: words(ae)})
	default:
		s.log.ErrorContext(r.Context(), "page", "path", r.URL.Path, "err", err)
		s.render(w, r, http.StatusBadGateway, "problem", page{Title: "That did not work",
			Data: "The bank could not answer just now. Please try again in a moment."})
	}
}

// checkForm parses a posted form and checks its CSRF token against the
// session's. It answers the request itself and returns false when they do
// not match.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request) (*session, bool) {
	ss := s.session(r)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, "problem", page{Title: "That did not work", Data: "The form could not be read."})
		return nil, false
	}
	if ss == nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ss.csrf)) != 1 {
		s.render(w, r, http.StatusForbidden, "problem", page{Title: "This form has expired",
			Data: "This form is too old or came from another site. Please go back, reload the page and try again."})
		return nil, false
	}
	return ss, true
}

// formValues returns the posted form's values, trimmed, by field name.
func formValues(r *http.Request, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = strings.TrimSpace(r.PostForm.Get(n))
	}
	return m
}

// messages are the API's error codes in plain words.
var messages = map[string]string{
	"insufficient_funds":       "There is not enough money in this account.",
	"account_frozen":           "This account is frozen. Please contact the bank.",
	"account_closed":           "This account is closed.",
	"currency_mismatch":        "The accounts hold different currencies.",
	"account_not_found":        "There is no such account.",
	"invalid_credentials":      "The email or password is wrong.",
	"account_locked":           "This sign-in is locked. Please contact the bank.",
	"rate_limited":             "Too many tries. Please wait a minute and try again.",
	"email_taken":              "An account with this email already exists.",
	"idempotency_key_reused":   "This form was already sent with other values. Please reload the page.",
	"request_in_progress":      "This form is still being sent. Please wait a moment.",
	"forbidden":                "You are not allowed to do that.",
	"four_eyes_required":       "A second staff member must approve this.",
	"limit_exceeded":           "This is over the account's limit.",
	"unavailable":              "The bank could not answer just now. Please try again in a moment.",
	"busy":                     "The bank is busy. Please try again in a moment.",
	"maintenance":              "The bank is down for maintenance. Please try again later.",
	"overdraft_limit_exceeded": "This is over the account's overdraft limit.",
	"payment_not_cancellable":  "This payment was already sent or has ended: it can no longer be cancelled.",
	"payment_in_progress":      "This payment is being sent right now. Please try again in a moment.",
	"balance_not_zero":         "The account still holds money or has pending amounts: it can be closed only when empty.",
	"already_reversed":         "This transaction was already reversed.",
	"not_reversible":           "This transaction cannot be reversed.",
	"transaction_not_found":    "There is no such transaction.",
	"overdraft_in_use":         "The account is using its overdraft: the limit cannot go below what it owes.",
	"approval_expired":         "This approval has expired.",
	"already_approved":         "This was already approved.",
	"already_rejected":         "This was already rejected.",
	"approval_in_progress":     "This approval is being decided right now. Please try again in a moment.",
}

// words says err in plain words: the code's sentence, else the API's own
// message.
func words(ae *client.Error) string {
	if m, ok := messages[ae.Code]; ok {
		return m
	}
	if len(ae.Details) > 0 {
		var parts []string
		for f, p := range ae.Details {
			parts = append(parts, strings.ReplaceAll(f, "_", " ")+": "+p)
		}
		return strings.Join(parts, "; ")
	}
	return ae.Message
}

// formErrors places an API error beside the form's fields: fields maps the
// API's field names to the form's, and codes says which field a money rule
// belongs to. What has no field goes under "" (the top of the form).
func formErrors(err error, fields map[string]string, codes map[string]string) map[string]string {
	var ae *client.Error
	if !errors.As(err, &ae) {
		return map[string]string{"": "The bank could not answer just now. Please try again in a moment."}
	}
	out := map[string]string{}
	if f, ok := codes[ae.Code]; ok {
		out[f] = words(ae)
		return out
	}
	if _, known := messages[ae.Code]; !known {
		for api, problem := range ae.Details {
			if f, ok := fields[api]; ok {
				out[f] = problem
			}
		}
	}
	if len(out) == 0 {
		out[""] = words(ae)
	}
	return out
}
