package auth

import (
	_ "embed"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

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

// normalizePassword is the form a password is hashed in: NFKC (NIST SP
// 800-63B, 5.1.1.2), so that the same password typed on another keyboard or
// system, composed or decomposed, full-width or not, is the same password.
func normalizePassword(password string) string {
	return norm.NFKC.String(password)
}

// passwordProblem returns what is wrong with a new password, or "", after
// NIST SP 800-63B: at least 8 characters once normalised (counted in
// characters, not bytes, so a passphrase in any script has the same limits),
// at most 128 so that one request bounds the hash's work, no control
// characters, not only white space, and not one of the most common passwords.
func passwordProblem(password string) string {
	if password == "" {
		return "is required"
	}
	if !utf8.ValidString(password) {
		return "must be valid UTF-8"
	}
	p := normalizePassword(password)
	switch n := utf8.RuneCountInString(p); {
	case n < minPasswordLen:
		return "must be at least 8 characters"
	case n > maxPasswordLen:
		return "must be at most 128 characters"
	case strings.ContainsFunc(p, unicode.IsControl):
		return "must not contain control characters"
	case strings.TrimFunc(p, unicode.IsSpace) == "":
		return "must not be only white space"
	case isCommonPassword(p):
		return "is too common; choose another"
	}
	return ""
}

// commonPasswordsText is the 10,000 most common passwords, most common
// first, one a line, lower case: the first 10,000 entries of the "passwords"
// frequency list of zxcvbn (Dropbox, MIT licence), as Debian's python3-zxcvbn
// 4.4.28-3 ships it in zxcvbn/frequency_lists.py.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	for _, p := range strings.Split(strings.TrimSpace(commonPasswordsText), "\n") {
		m[p] = struct{}{}
	}
	return m
})

// isCommonPassword reports whether password, normalised, is in the list of
// common passwords, whatever its letters' case.
func isCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
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
