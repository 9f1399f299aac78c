package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

func TestDecode(t *testing.T) {
	type body struct {
		Amount bank.Amount `json:"amount"`
		Name   string      `json:"name"`
		Tags   []string    `json:"tags"`
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
		{name: "string for int", in: `{"amount":"5"}`, wantCode: "invalid_request", wantField: "amount"},
		{name: "float for int", in: `{"amount":5.5}`, wantCode: "invalid_request", wantField: "amount"},
		{name: "number for string", in: `{"name":5}`, wantCode: "invalid_request", wantField: "name"},
		{name: "object for array", in: `{"tags":{}}`, wantCode: "invalid_request", wantField: "tags"},
		{name: "oversize", in: `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, wantCode: "body_too_large"},
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
