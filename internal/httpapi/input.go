package httpapi

import (
	"net/http"
	"net/url"

	"github.com/fintech-banking/bank/internal/bank"
)

// checkInput refuses a request whose path or query holds something no field
// may hold: invalid UTF-8 or a control character (NUL included), once
// percent-decoded. Path parameters are ids and query parameters are ids,
// times, cursors and filters; none of them is free text. Bodies are checked
// field by field as they are decoded (DecodeBytes), the Idempotency-Key by
// IdempotencyKey.
func checkInput(r *http.Request) error {
	if !bank.ValidText(r.URL.Path) {
		return bank.Invalid("path", "must be valid UTF-8 without control characters")
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return bank.Invalid("query", "is not a valid query string")
	}
	for k, vs := range q {
		if !bank.ValidText(k) {
			return bank.Invalid("query", "parameter names must be valid UTF-8 without control characters")
		}
		for _, v := range vs {
			if !bank.ValidText(v) {
				return bank.Invalid(k, "must be valid UTF-8 text without control characters")
			}
		}
	}
	return nil
}
