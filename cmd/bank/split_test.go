package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestSplitServices runs auth, account and transaction as separate services
// on one database, as three Kubernetes Deployments would, and drives them
// with "bank bench": each serves its own routes and only those.
func TestSplitServices(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := &testBank{t: t, env: map[string]string{
				"BANK_DATABASE_URL": storetest.URL(t, d),
				"BANK_DATA_DIR":     t.TempDir(),
				"BANK_JWT_SECRET":   randomHex(32),
				"BANK_LOG_LEVEL":    "warn",
				"BANK_RATE_LIMIT":   "0", // bench drives one customer harder than the default limit
			}}
			var out bytes.Buffer
			if err := run(context.Background(), []string{"bank", "migrate"}, b.getenv, nil, &out, &out); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out.String())
			}
			urls := map[string]string{}
			// Two replicas of transaction-service, as a Deployment runs them.
			for name, svc := range map[string]string{"auth": "auth", "account": "account",
				"transaction": "transaction", "transaction-2": "transaction", "notification": "notification"} {
				env := map[string]string{"BANK_HTTP_ADDR": "127.0.0.1:0", "BANK_MIGRATE": "false", "BANK_LOG_LEVEL": "info"}
				for k, v := range b.env {
					if env[k] == "" {
						env[k] = v
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				var log serveLog
				go func() {
					done <- run(ctx, []string{"bank", "serve", svc}, func(k string) string { return env[k] }, nil, &log, &log)
				}()
				t.Cleanup(func() {
					cancel()
					select {
					case err := <-done:
						if err != nil {
							t.Errorf("serve %s: %v", svc, err)
						}
					case <-time.After(30 * time.Second):
						t.Errorf("serve %s did not stop", svc)
					}
				})
				urls[name] = waitListening(t, done, &log)
				waitReady(t, urls[name], done, &log)
			}
			for svc, path := range map[string]string{"auth": "/api/v1/transfers", "account": "/api/v1/auth/login", "transaction": "/api/v1/accounts",
				"notification": "/api/v1/transfers"} {
				resp, err := http.Post(urls[svc]+path, "application/json", bytes.NewReader([]byte(`{}`)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s-service answered POST %s with %d, want 404: not its route", svc, path, resp.StatusCode)
				}
			}
			// notification-service serves its own routes, and only it does.
			for svc, want := range map[string]int{"notification": http.StatusUnauthorized, "transaction": http.StatusNotFound} {
				if status, body := get(t, urls[svc]+"/api/v1/notifications"); status != want {
					t.Errorf("%s-service answered GET /api/v1/notifications with %d, want %d: %s", svc, status, want, body)
				}
			}
			if status, body := get(t, urls["notification"]+"/actuator/prometheus"); status != http.StatusOK ||
				!strings.Contains(body, "bank_notification_deliveries_total") {
				t.Errorf("notification-service does not export its delivery series")
			}
			out.Reset()
			var errOut bytes.Buffer
			err := run(context.Background(), []string{"bank", "bench", "--url", urls["transaction"] + "," + urls["transaction-2"], "--auth-url", urls["auth"],
				"--account-url", urls["account"], "--scenario", "mixed", "-c", "4", "-d", "1s", "--warmup", "100ms",
				"--accounts", "4", "-o", "json"}, b.getenv, nil, &out, &errOut)
			if err != nil {
				t.Fatalf("bench: %v\n%s", err, errOut.String())
			}
			var sum struct {
				Transfers int            `json:"transfers"`
				Errors    map[string]int `json:"errors"`
			}
			if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Transfers == 0 || len(sum.Errors) > 0 {
				t.Errorf("bench over split services: %+v, want transfers and no errors", sum)
			}
			// The clients were spread over both replicas.
			for _, name := range []string{"transaction", "transaction-2"} {
				status, body := get(t, urls[name]+"/actuator/prometheus")
				if status != http.StatusOK || !strings.Contains(body, `uri="/api/v1/transfers"`) {
					t.Errorf("%s served no transfer", name)
				}
			}
		})
	}
}
