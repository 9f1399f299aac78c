// Package httpapi is the HTTP edge shared by every service: strict JSON
// decoding, encoding, the one mapping of error kinds to statuses, and the
// middleware every request passes through.
package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/bank"
)

// MaxBodyBytes bounds every request body. A batch of 1,000 transfers is about
// 200 KiB; anything larger is refused before it is read.
const MaxBodyBytes = 1 << 20

// Decode reads r's body strictly into v: unknown fields, trailing data, a body
// over MaxBodyBytes, an empty body and type mismatches are KindInvalid errors
// that name the field at fault.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decode(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v)
}

// ReadBody reads r's whole body, up to MaxBodyBytes, for a handler that needs
// the bytes themselves (an idempotency fingerprint) before DecodeBytes.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, decodeError(err)
	}
	return b, nil
}

// DecodeBytes decodes body strictly into v, as Decode does.
func DecodeBytes(body []byte, v any) error {
	return decode(bytes.NewReader(body), v)
}

func decode(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "request body must hold exactly one JSON value"}
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "request body is empty; a JSON object is required"}
	case errors.As(err, &maxErr):
		return &bank.Error{Kind: bank.KindInvalid, Code: "body_too_large", Message: fmt.Sprintf("request body exceeds %d bytes", maxErr.Limit)}
	case errors.As(err, &syntaxErr):
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "malformed JSON: unexpected end of body"}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: "request body must be a JSON object"}
		}
		problem := "must be " + jsonType(typeErr.Type.Kind().String())
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_request", Message: field + ": " + problem,
			Details: map[string]string{field: problem}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &bank.Error{Kind: bank.KindInvalid, Code: "unknown_field", Message: "unknown field " + field,
			Details: map[string]string{field: "unknown field"}}
	default:
		return &bank.Error{Kind: bank.KindInvalid, Code: "invalid_json", Message: err.Error()}
	}
}

func jsonType(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case goKind == "slice", goKind == "array":
		return "an array"
	default:
		return "an object"
	}
}

// Encode writes v as JSON with the given status.
func Encode(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
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

// ErrorBody is the API's error document.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
}

// ErrorJSON returns the API error document for err and its status. Internal
// errors are masked: their detail belongs in the log, not in a response.
func ErrorJSON(err error) (int, []byte) {
	var e *bank.Error
	if !errors.As(err, &e) || e.Kind == bank.KindInternal {
		return http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	b, _ := json.Marshal(ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}})
	return Status(e.Kind), b
}

// Error writes err as the API's error document. Internal errors are logged with
// the request's id and answered with a masked 500.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, body := ErrorJSON(err)
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "internal error", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "err", err)
	}
	var e *bank.Error
	if errors.As(err, &e) && e.Kind == bank.KindRateLimited && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, body)
}

// IdempotencyKey returns the request's Idempotency-Key header: required,
// 1–255 characters.
func IdempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" || utf8.RuneCountInString(k) > 255 {
		return "", &bank.Error{Kind: bank.KindInvalid, Code: "idempotency_key_required",
			Message: "an Idempotency-Key header of 1 to 255 characters is required",
			Details: map[string]string{"Idempotency-Key": "required, 1 to 255 characters"}}
	}
	return k, nil
}

// Fingerprint identifies a request for idempotency: the same key with another
// fingerprint is another request.
func Fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Pagination reads ?limit= (default 50, 1–500) and ?cursor=.
func Pagination(r *http.Request) (limit int, cursor string, err error) {
	limit = 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return 0, "", bank.Invalid("limit", "must be an integer from 1 to 500")
		}
		limit = n
	}
	return limit, r.URL.Query().Get("cursor"), nil
}

// List is the API's list document.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}
