// Package httpapi is the HTTP edge shared by every service: strict JSON
// decoding, encoding, the one mapping of error kinds to statuses, and the
// middleware every request passes through.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// MaxBodyBytes bounds every request body. A batch of 1,000 transfers is about
// 200 KiB; anything larger is refused before it is read.
const MaxBodyBytes = 1 << 20

// Decode reads r's body strictly into v (see DecodeBytes).
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := ReadBody(w, r)
	if err != nil {
		return err
	}
	return DecodeBytes(body, v)
}

// DecodeOptional decodes r's body strictly into v when the request has one
// (see DecodeBytes); with no body at all, v keeps its zero value. For an
// endpoint whose fields are all optional, or that takes none (v an empty
// struct): a body that is sent must still be a valid JSON object.
func DecodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := ReadBody(w, r)
	if err != nil || len(body) == 0 {
		return err
	}
	return DecodeBytes(body, v)
}

// ReadBody reads r's whole body, up to MaxBodyBytes, for a handler that looks
// at the bytes before it decodes them.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return ReadBodyUpTo(w, r, MaxBodyBytes)
}

// ReadBodyUpTo reads r's whole body, up to limit bytes, for an endpoint
// that takes a file larger than MaxBodyBytes.
func ReadBodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, decodeError(err)
	}
	return b, nil
}

// DecodeBytes decodes body strictly into v. Each of these is a KindInvalid
// error naming the field at fault: an empty body, malformed JSON or trailing
// data, a duplicate key, a key that is not a field (one that matches a field
// only case-insensitively included), a type mismatch, invalid UTF-8, and a
// string holding a control character (NUL included). A gateway or signature
// check reading the first of two keys, or a key's other spelling, would see
// another request than the bank; a string PostgreSQL refuses would fail the
// statement that carries it, and with it every request sharing its transaction.
func DecodeBytes(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return decodeError(io.EOF)
	}
	// Every request body is an object: null, which decodes into a struct
	// as nothing, or an array must not pass for one.
	if trimmed[0] != '{' {
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "the request body must be a JSON object"}
	}
	if err := json.Unmarshal(body, v, strict); err != nil {
		return decodeError(err)
	}
	return refuseNulls(trimmed, reflect.TypeOf(v))
}

// refuseNulls names the first null in body whose field is not a pointer.
// Decoding reads null as "leave the zero value", so {"unset": null} would
// pass for {"unset": []}; the document marks nullable exactly the fields
// that are pointers (absent and null mean the same there), and every other
// field refuses it.
func refuseNulls(body []byte, t reflect.Type) error {
	if !bytes.Contains(body, []byte("null")) {
		return nil
	}
	const problem = "must not be null; leave it out instead"
	var e *bank.Error
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if err != nil { // the body decoded: only its end is left
			if e == nil {
				return nil
			}
			return e
		}
		if p := dec.StackPointer(); tok.Kind() == 'n' && !nullable(t, p) {
			field := fieldName(p)
			if e == nil {
				e = bank.Invalid(field, problem)
			} else {
				e.Details[field] = problem
				e.Message += "; " + field + ": " + problem
			}
		}
	}
}

// nullable reports whether the value at p within a t may be null: a
// pointer or an interface, or a member t does not have (refused by
// decoding, so never seen here).
func nullable(t reflect.Type, p jsontext.Pointer) bool {
	for tok := range p.Tokens() {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := jsonField(t, tok)
			if !ok {
				return true
			}
			t = f.Type
		case reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return true
		}
	}
	return t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface
}

// jsonField finds the field of struct t that JSON name decodes into,
// looking into embedded structs as encoding/json does.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "" && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct):
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if sf, ok := jsonField(et, name); ok {
				return sf, true
			}
		case tag == name || tag == "" && f.Name == name:
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// strict is how every request body decodes: JSON v2 semantics (duplicate
// names and invalid UTF-8 are errors, names match case-sensitively), no
// unknown members, and every string checked as it is decoded.
var strict = json.JoinOptions(json.RejectUnknownMembers(true),
	json.WithUnmarshalers(json.UnmarshalFromFunc(func(dec *jsontext.Decoder, s *string) error {
		if dec.PeekKind() != '"' {
			return errors.ErrUnsupported // not a string: the default decoding names the mismatch
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if !bank.ValidText(tok.String()) {
			return errNotText
		}
		*s = tok.String()
		return nil
	})))

var errNotText = errors.New("not valid text")

func decodeError(err error) error {
	var (
		syntaxErr   *jsontext.SyntacticError
		semanticErr *json.SemanticError
		maxErr      *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "request body is empty; a JSON object is required"}
	case errors.As(err, &maxErr):
		return &bank.Error{Kind: bank.KindInvalid, Code: "body_too_large", Message: fmt.Sprintf("request body exceeds %d bytes", maxErr.Limit)}
	case errors.Is(err, jsontext.ErrDuplicateName):
		field := fieldName(syntaxPointer(err))
		return &bank.Error{Kind: bank.KindInvalid, Code: "duplicate_field", Message: "duplicate field " + field,
			Details: map[string]string{field: "appears more than once"}}
	case errors.As(err, &syntaxErr):
		if strings.Contains(syntaxErr.Error(), "invalid UTF-8") {
			return bank.Invalid(fieldName(syntaxErr.JSONPointer), "must be valid UTF-8 text without control characters")
		}
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "malformed JSON: " + strings.TrimPrefix(syntaxErr.Error(), "jsontext: ")}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "malformed JSON: unexpected end of body"}
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &semanticErr):
		field := fieldName(semanticErr.JSONPointer)
		return &bank.Error{Kind: bank.KindInvalid, Code: "unknown_field", Message: "unknown field " + field,
			Details: map[string]string{field: "unknown field"}}
	case errors.Is(err, errNotText) && errors.As(err, &semanticErr):
		return bank.Invalid(fieldName(semanticErr.JSONPointer), "must be valid UTF-8 text without control characters")
	case errors.As(err, &semanticErr):
		field := fieldName(semanticErr.JSONPointer)
		if field == "" {
			return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "request body must be a JSON object"}
		}
		problem := "has the wrong type"
		if semanticErr.GoType != nil {
			problem = "must be " + jsonType(semanticErr.GoType)
		}
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_request", Message: field + ": " + problem,
			Details: map[string]string{field: problem}}
	default:
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "malformed JSON"}
	}
}

func syntaxPointer(err error) jsontext.Pointer {
	var e *jsontext.SyntacticError
	if errors.As(err, &e) {
		return e.JSONPointer
	}
	return ""
}

// fieldName turns a JSON pointer into the field name errors show:
// "/transfers/3/amount" is "transfers[3].amount".
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch k := t.Kind(); {
	case k >= reflect.Int && k <= reflect.Uint64:
		return "an integer"
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	case k == reflect.String:
		return "a string"
	case k == reflect.Bool:
		return "true or false"
	case k == reflect.Slice || k == reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// Encode writes v as JSON with the given status.
func Encode(w http.ResponseWriter, status int, v any) {
	b, err := stdjson.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	WriteJSON(w, status, b)
}

// WriteJSON writes body, already JSON, with the given status.
func WriteJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Status is the HTTP status of an error's kind: the one place kinds become statuses.
func Status(k bank.Kind) int {
	switch k {
	case bank.KindInvalid:
		return http.StatusBadRequest
	case bank.KindUnauthenticated:
		return http.StatusUnauthorized
	case bank.KindForbidden:
		return http.StatusForbidden
	case bank.KindNotFound:
		return http.StatusNotFound
	case bank.KindConflict:
		return http.StatusConflict
	case bank.KindRejected:
		return http.StatusUnprocessableEntity
	case bank.KindLocked:
		return http.StatusLocked
	case bank.KindRateLimited:
		return http.StatusTooManyRequests
	case bank.KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody and ErrorDetail are the API's error document.
type (
	ErrorBody   = bank.ErrorBody
	ErrorDetail = bank.ErrorDetail
)

// ErrorJSON returns the API error document for err and its status. Internal
// errors are masked: their detail belongs in the log, not in a response. An
// unreachable database is 503 unavailable: nothing about the request is wrong.
func ErrorJSON(err error) (int, []byte) {
	status, body, _ := errorDocument(err)
	return status, body
}

// errorDocument returns err's status, its error document and its code.
func errorDocument(err error) (status int, body []byte, code string) {
	kind, doc := bank.BodyOf(classify(err))
	body, _ = stdjson.Marshal(doc)
	return Status(kind), body, doc.Error.Code
}

// classify gives an error that is not a *bank.Error the kind it has to the
// client: a client that went away or an unreachable database is not an
// internal error.
func classify(err error) error {
	if bank.ErrorKind(err) != bank.KindInternal {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &bank.Error{Kind: bank.KindUnavailable, Code: "request_cancelled",
			Message: "the request was cancelled", Err: err}
	case store.Unreachable(err):
		return &bank.Error{Kind: bank.KindUnavailable, Code: "unavailable",
			Message: "the database cannot be reached; try again later", Err: err}
	}
	return err
}

// Error writes err as the API's error document. Internal errors are logged with
// the request's id and answered with a masked 500.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, body, code := errorDocument(err)
	if status >= http.StatusInternalServerError {
		// Micrometer's exception label: the error's code, a bounded set.
		noteException(w, code)
	}
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "internal error", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "err", err)
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, body)
}

// IdempotencyKey returns the request's Idempotency-Key header: required,
// 1–255 characters of valid text.
func IdempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	return k, bank.CheckIdempotencyKey(k)
}

// Fingerprint identifies a request for idempotency by its method, path and
// decoded body in, so the same JSON spaced or ordered otherwise is the same
// request; the same key with another fingerprint is another request.
func Fingerprint(r *http.Request, in any) string {
	body, _ := json.Marshal(in, json.Deterministic(true))
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Query returns the query parameter name, "" when it is absent or empty.
// Given more than once it is refused: taking one of two values would be a
// guess.
func Query(r *http.Request, name string) (string, error) {
	vs := r.URL.Query()[name]
	if len(vs) > 1 {
		return "", bank.Invalid(name, "must be given once")
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// TypedQuery is Query for a parameter whose schema is a number, a time or an
// enum, which the empty string is not: given empty, it is refused.
func TypedQuery(r *http.Request, name string) (string, error) {
	if vs, ok := r.URL.Query()[name]; ok && len(vs) == 1 && vs[0] == "" {
		return "", bank.Invalid(name, "must not be empty; leave it out instead")
	}
	return Query(r, name)
}

// Pagination reads ?limit= (default 50, 1–500) and ?cursor=.
func Pagination(r *http.Request) (limit int, cursor string, err error) {
	limit = 50
	s, err := TypedQuery(r, "limit")
	if err != nil {
		return 0, "", err
	}
	if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return 0, "", bank.Invalid("limit", "must be an integer from 1 to 500")
		}
		limit = n
	}
	cursor, err = Query(r, "cursor")
	return limit, cursor, err
}

// List is the API's list document.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// MetadataFilter reads the metadata filters of r's query, ?metadata[k]=v,
// as the pairs a listed object must all carry. A malformed key, a value
// that is not metadata, or the same key twice is KindInvalid.
func MetadataFilter(r *http.Request) (bank.Metadata, error) {
	var f bank.Metadata
	for name, vs := range r.URL.Query() {
		k, ok := strings.CutPrefix(name, "metadata[")
		if !ok {
			continue
		}
		k, ok = strings.CutSuffix(k, "]")
		if !ok || !bank.ValidMetadataKey(k) {
			return nil, bank.Invalid("metadata", "filters are metadata[key]=value, keys 1 to 40 characters of a-z 0-9 _ . -")
		}
		if len(vs) > 1 {
			return nil, bank.Invalid("metadata["+k+"]", "is given more than once")
		}
		if err := bank.CheckMetadataValue("metadata", k, vs[0]); err != nil {
			return nil, err
		}
		if f == nil {
			f = bank.Metadata{}
		}
		f[k] = vs[0]
	}
	if err := bank.CheckMetadata("metadata", f); err != nil {
		return nil, err
	}
	return f, nil
}
