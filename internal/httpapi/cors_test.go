package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOrigins(t *testing.T) {
	t.Parallel()
	got, err := ParseOrigins(" https://app.bank.example, http://localhost:3000 ,")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"https://app.bank.example", "http://localhost:3000"}, got); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
	if got, err := ParseOrigins(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseOrigins("") = %v, %v; want none`, got, err)
	}
	for _, bad := range []string{"*", "https://*.bank.example", "http://app.bank.example", "https://app.bank.example/",
		"https://app.bank.example/path", "app.bank.example", "https://user@app.bank.example", "https://"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) = nil error, want refused", bad)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	allowed := "https://app.bank.example"
	tests := []struct {
		name, method, origin, preflight string
		origins                         []string
		status                          int
		allowOrigin, allowMethods       string
	}{
		{"closed by default", "GET", allowed, "", nil, http.StatusTeapot, "", ""},
		{"closed preflight", "OPTIONS", allowed, "POST", nil, http.StatusTeapot, "", ""},
		{"allowed origin", "GET", allowed, "", []string{allowed}, http.StatusTeapot, allowed, ""},
		{"allowed preflight", "OPTIONS", allowed, "POST", []string{allowed}, http.StatusNoContent, allowed, "GET, POST, PUT"},
		{"other origin", "GET", "https://evil.example", "", []string{allowed}, http.StatusTeapot, "", ""},
		{"other origin's preflight", "OPTIONS", "https://evil.example", "POST", []string{allowed}, http.StatusTeapot, "", ""},
		{"no origin", "GET", "", "", []string{allowed}, http.StatusTeapot, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/api/v1/things", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight != "" {
				r.Header.Set("Access-Control-Request-Method", tt.preflight)
			}
			w := httptest.NewRecorder()
			CORS(tt.origins)(ok).ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.allowOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.allowOrigin)
			}
			if got := w.Header().Get("Access-Control-Allow-Methods"); got != tt.allowMethods {
				t.Errorf("Access-Control-Allow-Methods = %q, want %q", got, tt.allowMethods)
			}
			if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none", got)
			}
		})
	}
}
