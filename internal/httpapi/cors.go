package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ParseOrigins reads a comma-separated list of the browser origins allowed
// to call the API (BANK_CORS_ORIGINS): each an exact scheme://host[:port],
// https unless the host is localhost. A wildcard is refused: a bank names
// the sites it trusts.
func ParseOrigins(list string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		local := err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")
		if err != nil || u.Host == "" || strings.Contains(o, "*") || (u.Scheme != "https" && !(u.Scheme == "http" && local)) ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || o != u.Scheme+"://"+u.Host {
			return nil, fmt.Errorf("CORS origin %q must be https://host[:port] (http only for localhost), without a path or a wildcard", o)
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// CORS returns middleware that lets browsers on origins call the API: it
// answers their preflight requests and marks the answers to their requests
// as readable by them. Other origins get no CORS header, so browsers keep
// them out; with no origins the middleware changes nothing. Credentials are
// bearer tokens, never cookies, so Access-Control-Allow-Credentials is not
// sent.
func CORS(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(origins) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			h := w.Header()
			h.Add("Vary", "Origin")
			if origin == "" || !slices.Contains(origins, origin) {
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id, Idempotent-Replayed")
			next.ServeHTTP(w, r)
		})
	}
}
