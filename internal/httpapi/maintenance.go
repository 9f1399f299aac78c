package httpapi

import (
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// MaintenanceState says whether the platform is in maintenance, the message
// its clients see and when they should come back.
type MaintenanceState func() (on bool, message string, retryAfter time.Duration)

// SystemPath is the prefix of the staff's system endpoints (queues and
// maintenance), which maintenance lets through; and RefreshPath, so that
// the admin who ends a long maintenance still holds a token that works.
const (
	SystemPath  = "/api/v1/system/"
	RefreshPath = "/api/v1/auth/refresh"
)

var maintenancePage = template.Must(template.New("maintenance").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Maintenance</title></head>
<body><h1>Down for maintenance</h1><p>{{.}}</p></body></html>
`))

// Maintenance answers every request with 503 and Retry-After while state
// says the platform is in maintenance: a plain page for browsers, the API's
// error document (code "maintenance") for everyone else. The health and
// metrics endpoints stay up, so that Kubernetes keeps the pods and
// monitoring keeps its view; so do the staff's system endpoints
// (SystemPath) and the token refresh (RefreshPath), so that an admin can
// see the platform and end the maintenance through the API.
func Maintenance(state MaintenanceState, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		on, message, retryAfter := state()
		if !on || strings.HasPrefix(r.URL.Path, "/actuator/") || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, SystemPath) ||
			r.URL.Path == RefreshPath {
			next.ServeHTTP(w, r)
			return
		}
		RetryAfter(w, retryAfter)
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = maintenancePage.Execute(w, message)
			return
		}
		Error(w, r, log, bank.Errorf(bank.KindUnavailable, "maintenance", "%s", message))
	})
}
