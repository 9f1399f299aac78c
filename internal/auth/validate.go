package auth

import (
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
)

// Limits on what a user is made of.
const (
	minPasswordLen = 8
	// maxPasswordLen is generous for passphrases and bounds the work one
	// request can ask of the hash.
	maxPasswordLen = 128
	maxNameLen     = 200
	maxEmailLen    = 254 // RFC 5321's limit on a forward path, less the brackets
)

// problems collects what is wrong with a request's fields, so that one answer
// names them all rather than one per round trip.
type problems struct {
	fields map[string]string
}

// check records problem for field unless problem is "".
func (p *problems) check(field, problem string) {
	if problem == "" {
		return
	}
	if p.fields == nil {
		p.fields = map[string]string{}
	}
	p.fields[field] = problem
}

// err returns a KindInvalid error naming every field at fault, or nil.
func (p *problems) err() error {
	if len(p.fields) == 0 {
		return nil
	}
	fields := make([]string, 0, len(p.fields))
	for f := range p.fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	e := bank.Invalid(fields[0], p.fields[fields[0]])
	for _, f := range fields[1:] {
		e.Details[f] = p.fields[f]
		e.Message += "; " + f + ": " + p.fields[f]
	}
	return e
}

// normalizeEmail is the form emails are stored and looked up in: the domain
// is case-insensitive and nearly every mailbox is too, so "Ann@X.com" and
// "ann@x.com" are one account.
func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func normalizeName(name string) string {
	return strings.TrimSpace(name)
}

// emailProblem returns what is wrong with a normalized email, or "".
func emailProblem(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > maxEmailLen {
		return "must be at most 254 characters"
	}
	// ParseAddress also accepts "Name <addr>"; only a bare address is one.
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return "must be an email address such as name@example.com"
	}
	return ""
}

// passwordProblem returns what is wrong with a new password, or "". Length is
// counted in characters, not bytes, so a passphrase in any script has the
// same limits.
func passwordProblem(password string) string {
	switch n := utf8.RuneCountInString(password); {
	case password == "":
		return "is required"
	case n < minPasswordLen:
		return "must be at least 8 characters"
	case n > maxPasswordLen:
		return "must be at most 128 characters"
	}
	return ""
}

// nameProblem returns what is wrong with a normalized name, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "is required"
	case utf8.RuneCountInString(name) > maxNameLen:
		return "must be at most 200 characters"
	case strings.ContainsFunc(name, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}
