// Package bank is the shared vocabulary of the platform: money, identifiers and
// the error type every layer speaks. It does no I/O.
package bank

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The HTTP edge turns a Kind into a status code once;
// nothing else in the program maps errors to statuses.
type Kind uint8

// The kinds of error. KindInternal is the zero value so that a forgotten kind is
// masked rather than leaked.
const (
	KindInternal        Kind = iota // a bug or an unavailable dependency; the detail is logged, never shown
	KindInvalid                     // the request is malformed (400)
	KindUnauthenticated             // no or bad credentials (401)
	KindForbidden                   // authenticated but not allowed (403)
	KindNotFound                    // absent, or not visible to the caller (404)
	KindConflict                    // a concurrent request holds the resource (409)
	KindRejected                    // a business rule refuses the request (422)
	KindLocked                      // the resource is locked for a while (423)
	KindRateLimited                 // too many requests (429)
	KindUnavailable                 // not ready, shutting down or in maintenance (503)
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "forbidden", "not_found",
	"conflict", "rejected", "locked", "rate_limited", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the platform's error. Code is the stable, machine-readable code of the
// API's error body ("insufficient_funds"); Message is for people; Details names
// fields and what is wrong with them.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string]string
	Err     error // the cause, for logs; never shown to clients
}

// Errorf returns an *Error of the given kind and code with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error that names one field and its problem.
func Invalid(field, problem string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_request", Message: field + ": " + problem,
		Details: map[string]string{field: problem}}
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorKind returns the kind of the first *Error in err's chain, or KindInternal.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of the first *Error in err's chain, or "internal".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return "internal"
}

// ErrorBody is the document clients see for an error:
// {"error":{"code":…,"message":…,"details":{…}}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
}

// BodyOf returns the error document of err and its kind. An error that is not
// an *Error, or is internal, is masked: its cause belongs in the log, never in
// an answer.
func BodyOf(err error) (Kind, ErrorBody) {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindInternal {
		e = &Error{Kind: KindInternal, Code: "internal", Message: "internal error"}
	}
	return e.Kind, ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}}
}
