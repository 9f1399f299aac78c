package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store/storetest"

	"github.com/fintech-banking/bank/internal/poll"
)

// get requests path with accept and returns the status, Retry-After and body.
func getAs(t *testing.T, url, accept string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	poll.Until(t, 30*time.Second, fmt.Sprintf("%s to answer %d", url, want), func() bool {
		got, _, _ := getAs(t, url, "")
		return got == want
	})
}

// TestMaintenanceAcrossProcesses turns the maintenance mode on and off with
// the command while two processes serve the same database: both follow,
// answer 503 with Retry-After (a page for browsers, the error document for
// API clients) and keep their health endpoints up.
func TestMaintenanceAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"BANK_DATABASE_URL":     storetest.URL(t, d),
				"BANK_HTTP_ADDR":        "127.0.0.1:0",
				"BANK_DATA_DIR":         t.TempDir(),
				"BANK_JWT_SECRET":       randomHex(32),
				"BANK_LOG_LEVEL":        "info",
				"BANK_MAINTENANCE_POLL": "100ms",
			}
			if out, err := runArgs(t, env, "migrate"); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			a, _ := startServe(t, "all", env)
			b, _ := startServe(t, "all", env)
			api := "/api/v1/accounts"
			for _, u := range []string{a, b} {
				if got, _, _ := getAs(t, u+api, ""); got != http.StatusUnauthorized {
					t.Fatalf("%s before maintenance: %d, want 401 (no token)", u, got)
				}
			}
			if out, err := runArgs(t, env, "maintenance", "on", "--message", "Back at 04:00 <UTC>", "--retry-after", "90s"); err != nil {
				t.Fatalf("maintenance on: %v\n%s", err, out)
			}
			for _, u := range []string{a, b} {
				waitStatus(t, u+api, http.StatusServiceUnavailable)
				status, retry, body := getAs(t, u+api, "application/json")
				var doc struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal([]byte(body), &doc); err != nil || status != 503 || retry != "90" ||
					doc.Error.Code != "maintenance" || doc.Error.Message != "Back at 04:00 <UTC>" {
					t.Errorf("API client in maintenance: %d Retry-After %q %s", status, retry, body)
				}
				status, retry, body = getAs(t, u+"/", "text/html,application/xhtml+xml")
				if status != 503 || retry != "90" || !strings.Contains(body, "Back at 04:00 &lt;UTC&gt;") || !strings.Contains(body, "<html") {
					t.Errorf("browser in maintenance: %d Retry-After %q\n%s", status, retry, body)
				}
				for _, h := range []string{"/actuator/health/readiness", "/actuator/health/liveness", "/actuator/health"} {
					if got, _, _ := getAs(t, u+h, ""); got != http.StatusOK {
						t.Errorf("%s in maintenance: %d, want 200", h, got)
					}
				}
			}
			// What the alerts read: the mode, and the 503s apart from
			// server errors (exception "maintenance").
			_, _, metrics := getAs(t, a+"/actuator/prometheus", "")
			if !strings.Contains(metrics, "\nbank_maintenance_mode 1\n") ||
				!regexp.MustCompile(`http_server_requests_seconds_count\{[^}]*exception="maintenance"[^}]*status="503"`).MatchString(metrics) {
				t.Errorf("metrics in maintenance: no bank_maintenance_mode 1 or no 503 with exception maintenance:\n%s", metrics)
			}
			out, err := runArgs(t, env, "maintenance", "status", "-o", "json")
			if err != nil || !strings.Contains(out, `"on": true`) || !strings.Contains(out, `"retry_after_seconds": 90`) {
				t.Errorf("maintenance status: %v\n%s", err, out)
			}
			if out, err := runArgs(t, env, "maintenance", "off"); err != nil {
				t.Fatalf("maintenance off: %v\n%s", err, out)
			}
			for _, u := range []string{a, b} {
				waitStatus(t, u+api, http.StatusUnauthorized)
			}
			if _, _, metrics := getAs(t, a+"/actuator/prometheus", ""); !strings.Contains(metrics, "\nbank_maintenance_mode 0\n") {
				t.Errorf("metrics after maintenance: no bank_maintenance_mode 0")
			}
		})
	}
}
