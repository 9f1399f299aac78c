package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type body struct {
		Amount bank.Amount `json:"amount"`
		Name   string      `json:"name"`
		Tags   []string    `json:"tags"`
		Note   *string     `json:"note"`
	}
	tests := []struct {
		name, in  string
		wantCode  string
		wantField string
	}{
		{name: "valid", in: `{"amount":5,"name":"x"}`},
		{name: "empty", in: ``, wantCode: "invalid_json"},
		{name: "malformed", in: `{"amount":`, wantCode: "invalid_json"},
		{name: "syntax", in: `{"amount" 5}`, wantCode: "invalid_json"},
		{name: "unknown field", in: `{"amount":5,"colour":"red"}`, wantCode: "unknown_field", wantField: "colour"},
		{name: "trailing object", in: `{}{}`, wantCode: "invalid_json"},
		{name: "trailing junk", in: `{} ]`, wantCode: "invalid_json"},
		{name: "array", in: `[1]`, wantCode: "invalid_json"},
		{name: "null", in: `null`, wantCode: "invalid_json"},
		{name: "null string", in: `{"amount":5,"name":null}`, wantCode: "invalid_request", wantField: "name"},
		{name: "null amount", in: `{"amount":null}`, wantCode: "invalid_request", wantField: "amount"},
		{name: "null array", in: `{"tags":null}`, wantCode: "invalid_request", wantField: "tags"},
		{name: "null in an array", in: `{"tags":["a",null]}`, wantCode: "invalid_request", wantField: "tags[1]"},
		{name: "null pointer", in: `{"amount":5,"note":null}`},
		{name: "null text containing null", in: `{"amount":5,"name":"null"}`},
		{name: "null spaced", in: " \n null ", wantCode: "invalid_json"},
		{name: "number", in: `5`, wantCode: "invalid_json"},
		{name: "string for int", in: `{"amount":"5"}`, wantCode: "invalid_request", wantField: "amount"},
		{name: "float for int", in: `{"amount":5.5}`, wantCode: "invalid_request", wantField: "amount"},
		{name: "number for string", in: `{"name":5}`, wantCode: "invalid_request", wantField: "name"},
		{name: "object for array", in: `{"tags":{}}`, wantCode: "invalid_request", wantField: "tags"},
		{name: "oversize", in: `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, wantCode: "body_too_large"},
		{name: "duplicate key", in: `{"amount":1,"amount":5}`, wantCode: "duplicate_field", wantField: "amount"},
		{name: "case-folded key", in: `{"Amount":1}`, wantCode: "unknown_field", wantField: "Amount"},
		{name: "NUL", in: `{"name":"a\u0000b"}`, wantCode: "invalid_request", wantField: "name"},
		{name: "control character", in: `{"name":"\u001b[2J"}`, wantCode: "invalid_request", wantField: "name"},
		{name: "C1 control character", in: `{"name":"\u0085"}`, wantCode: "invalid_request", wantField: "name"},
		{name: "invalid UTF-8", in: "{\"name\":\"\xff\"}", wantCode: "invalid_request", wantField: "name"},
		{name: "NUL in an array", in: `{"tags":["ok","\u0000"]}`, wantCode: "invalid_request", wantField: "tags[1]"},
		{name: "unicode text", in: `{"name":"Zoë 🙂 東京"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.in))
			var v body
			err := Decode(httptest.NewRecorder(), r, &v)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Decode(%s) = %v, want nil", tt.in, err)
				}
				return
			}
			var e *bank.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%.40s) = %v, want a *bank.Error", tt.in, err)
			}
			if e.Kind != bank.KindInvalid || e.Code != tt.wantCode {
				t.Errorf("Decode(%.40s) = %v %q, want invalid %q", tt.in, e.Kind, e.Code, tt.wantCode)
			}
			if tt.wantField != "" && e.Details[tt.wantField] == "" {
				t.Errorf("Decode(%.40s) details = %v, want a problem for %q", tt.in, e.Details, tt.wantField)
			}
		})
	}
}

func TestErrorJSONMasksInternalErrors(t *testing.T) {
	t.Parallel()
	status, body := ErrorJSON(errors.New("pq: password authentication failed for secret"))
	if status != http.StatusInternalServerError || bytes.Contains(body, []byte("secret")) {
		t.Errorf("ErrorJSON(internal) = %d %s, want a masked 500", status, body)
	}
	status, body = ErrorJSON(bank.Errorf(bank.KindRejected, "insufficient_funds", "not enough"))
	var got ErrorBody
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnprocessableEntity || got.Error.Code != "insufficient_funds" {
		t.Errorf("ErrorJSON(rejected) = %d %s, want 422 insufficient_funds", status, body)
	}
}

func TestWrapRecoversPanics(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }), log, nil)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("X-Request-Id", "req-123")
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("panic answered %d %s, want a masked 500", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id = %q, want the caller's req-123", got)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := NewLimiter(1, 2, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if got, _ := l.Allow("a"); got != want {
			t.Errorf("Allow #%d = %v, want %v", i, got, want)
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key was limited")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("a token did not come back after a second")
	}
}

func TestJSONMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.PathValue("id")))
	})
	h := JSONMux(mux)
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{http.MethodPost, "/things/7", http.StatusOK, "7"},
		{http.MethodGet, "/things/7", http.StatusMethodNotAllowed, `"code":"method_not_allowed"`},
		{http.MethodGet, "/nothing", http.StatusNotFound, `"code":"not_found"`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("%s %s = %d %s, want %d with %s", tt.method, tt.path, rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
		}
		if tt.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
}

func TestUnreachableDatabaseIs503(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("list accounts: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	w := httptest.NewRecorder()
	Error(w, httptest.NewRequest(http.MethodGet, "/", nil), slog.New(slog.DiscardHandler), err)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"unavailable"`) {
		t.Errorf("database unreachable: %d %q %s, want 503 unavailable with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if strings.Contains(w.Body.String(), "refused") {
		t.Errorf("the cause leaked into the answer: %s", w.Body)
	}
}

func TestFingerprintIsOfTheDecodedRequest(t *testing.T) {
	t.Parallel()
	type body struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	var one, two, three body
	for in, v := range map[string]*body{`{"a":1,"b":"x"}`: &one, "{ \"b\" : \"x\",\n \"a\": 1 }": &two, `{"a":2,"b":"x"}`: &three} {
		if err := DecodeBytes([]byte(in), v); err != nil {
			t.Fatal(err)
		}
	}
	if Fingerprint(r, &one) != Fingerprint(r, &two) {
		t.Error("the same request spaced and ordered otherwise has another fingerprint")
	}
	if Fingerprint(r, &one) == Fingerprint(r, &three) {
		t.Error("two different requests share a fingerprint")
	}
}

type observed struct {
	status    int
	exception string
}

type observer struct{ got []observed }

func (o *observer) ObserveRequest(_, _ string, status int, exception string, _ time.Duration) {
	o.got = append(o.got, observed{status, exception})
}

// TestExceptionLabel checks what Wrap reports as the exception of a request:
// nothing for an answer that is not a server error, the error's code for one
// that is, "panic" for a panic.
func TestExceptionLabel(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		h    http.HandlerFunc
		want observed
	}{
		{"ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }, observed{200, ""}},
		{"refused", func(w http.ResponseWriter, r *http.Request) {
			Error(w, r, log, bank.Errorf(bank.KindRejected, "insufficient_funds", "no"))
		}, observed{422, ""}},
		{"internal", func(w http.ResponseWriter, r *http.Request) { Error(w, r, log, errors.New("boom")) }, observed{500, "internal"}},
		{"database gone", func(w http.ResponseWriter, r *http.Request) {
			Error(w, r, log, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")})
		}, observed{503, "unavailable"}},
		{"panic", func(http.ResponseWriter, *http.Request) { panic("boom") }, observed{500, "panic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o observer
			Wrap(tt.h, log, &o).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
			if len(o.got) != 1 || o.got[0] != tt.want {
				t.Errorf("observed %+v, want %+v", o.got, tt.want)
			}
		})
	}
}
