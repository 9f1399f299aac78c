package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

// startServe runs "bank serve svc" with env until the test ends or stop is
// called, and returns its URL once it is ready.
func startServe(t *testing.T, svc string, env map[string]string) (url string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var log serveLog
	go func() {
		done <- run(ctx, []string{"bank", "serve", svc}, func(k string) string { return env[k] }, nil, &log, &log)
	}()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("serve %s did not stop within 30s", svc)
			}
		}
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve %s: %v\n%s", svc, err, log.String())
		}
	})
	url = waitListening(t, done, &log)
	waitReady(t, url, done, &log)
	return url, stop
}

// diagnoseJSON runs "bank diagnose -o json" and returns its report and exit status.
func diagnoseJSON(t *testing.T, env map[string]string, args ...string) (report, int) {
	t.Helper()
	out, err := runArgs(t, env, append([]string{"diagnose", "-o", "json"}, args...)...)
	var r report
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		t.Fatalf("diagnose printed no JSON report (%v, %v):\n%s", jerr, err, out)
	}
	return r, exitCode(err)
}

type report struct {
	Level  string `json:"level"`
	Checks []struct {
		Name, Level, Detail string
	} `json:"checks"`
}

// levels returns each check's level by name.
func (r report) levels() map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.Name] = c.Level
	}
	return m
}

// TestDiagnose sets up a healthy, a warning and critical platforms and
// checks diagnose's grades and exit statuses.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			svc := "--url=bank=" + b.url
			r, code := diagnoseJSON(t, b.env, svc)
			want := map[string]string{"bank liveness": "OK", "bank readiness": "OK", "database": "OK", "ledger invariant": "OK", "queue": "OK", "maintenance": "OK", "search": "OK"}
			if d == store.Postgres {
				want["database connections"] = "OK"
				want["database long queries"] = "OK"
			}
			if diff := cmp.Diff(want, r.levels()); diff != "" || code != 0 {
				t.Errorf("healthy: exit %d, checks (-want +got):\n%s", code, diff)
			}

			// A certificate with 20 days left: a warning.
			soon := filepath.Join(t.TempDir(), "tls.crt")
			writeTestCert(t, soon, time.Now().Add(20*24*time.Hour+time.Hour))
			if r, code := diagnoseJSON(t, b.env, svc, "--cert", soon); code != 1 || r.Level != "WARN" || r.levels()["cert "+soon] != "WARN" {
				t.Errorf("expiring certificate: exit %d, %+v; want 1 and WARN", code, r)
			}

			// Maintenance on: a warning (every request is a planned 503).
			if _, err := runArgs(t, b.env, "maintenance", "on"); err != nil {
				t.Fatal(err)
			}
			if r, code := diagnoseJSON(t, b.env, svc); code != 1 || r.levels()["maintenance"] != "WARN" {
				t.Errorf("maintenance on: exit %d, %+v; want 1 and maintenance WARN", code, r)
			}
			if _, err := runArgs(t, b.env, "maintenance", "off"); err != nil {
				t.Fatal(err)
			}
			// The server follows within BANK_MAINTENANCE_POLL: the
			// registration below must not meet the maintenance 503.
			poll.Until(t, 10*time.Second, "maintenance off on the server", func() bool {
				resp, err := http.Get(b.url + "/api/v1/auth/me")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode != http.StatusServiceUnavailable
			})

			// A service that does not answer: critical.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			gone := ln.Addr().String()
			ln.Close()
			if r, code := diagnoseJSON(t, b.env, svc, "--url", "payment=http://"+gone); code != 2 || r.levels()["payment liveness"] != "CRIT" {
				t.Errorf("service down: exit %d, %+v; want 2 and payment CRIT", code, r)
			}

			// No database to look at: unknown.
			noDB := map[string]string{"BANK_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "missing.db")}
			if r, code := diagnoseJSON(t, noDB, svc); code != 3 || r.levels()["database"] != "UNKNOWN" || r.levels()["queue"] != "UNKNOWN" || r.levels()["maintenance"] != "UNKNOWN" {
				t.Errorf("no database: exit %d, %+v; want 3 and database UNKNOWN", code, r)
			}

			// A balance that no longer matches its postings: critical.
			db, err := store.Open(context.Background(), b.env["BANK_DATABASE_URL"], store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			c, _ := b.customer("dora")
			b.account(c, "EUR", 500)
			if _, err := db.ExecContext(context.Background(), `UPDATE accounts SET posted = posted + 1`); err != nil {
				t.Fatal(err)
			}
			if r, code := diagnoseJSON(t, b.env, svc); code != 2 || r.levels()["ledger invariant"] != "CRIT" {
				t.Errorf("broken ledger: exit %d, %+v; want 2 and the ledger CRIT", code, r)
			}
			// A dead-lettered message: a warning on the queue.
			if _, err := db.ExecContext(context.Background(), `INSERT INTO queue_messages (id, queue, body, sent_at, visible_at, receive_count)
				VALUES ('dead-1', 'notifications-dlq', $1, 0, 0, 5)`, []byte(`{"event_id":"x"}`)); err != nil {
				t.Fatal(err)
			}
			if r, _ := diagnoseJSON(t, b.env, svc); r.levels()["queue"] != "WARN" {
				t.Errorf("a dead-lettered message: %+v; want the queue WARN", r)
			}
			out, err := runArgs(t, b.env, "diagnose", svc)
			if exitCode(err) != 2 || !regexp.MustCompile(`(?m)^ledger invariant +CRIT +5 violations`).MatchString(out) {
				t.Errorf("table output, exit %d:\n%s", exitCode(err), out)
			}
		})
	}
}

func writeTestCert(t *testing.T, path string, notAfter time.Time) {
	t.Helper()
	pem := testCertPEM(t, notAfter)
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiagnoseServices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		urls []string
		env  map[string]string
		want []ops.Service
	}{
		{"flags", []string{"auth=http://a:1", "account=http://b:2"}, nil, []ops.Service{{Name: "auth", URL: "http://a:1"}, {Name: "account", URL: "http://b:2"}}},
		{"environment", nil, map[string]string{"BANK_DIAGNOSE_URLS": "auth=http://a:1, transaction=http://t:3"}, []ops.Service{{Name: "auth", URL: "http://a:1"}, {Name: "transaction", URL: "http://t:3"}}},
		{"cluster", nil, map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, []ops.Service{
			{Name: "auth-service", URL: "http://auth-service:8080"}, {Name: "account-service", URL: "http://account-service:8080"},
			{Name: "transaction-service", URL: "http://transaction-service:8080"}, {Name: "payment-service", URL: "http://payment-service:8080"},
			{Name: "notification-service", URL: "http://notification-service:8080"}}},
		{"laptop", nil, nil, []ops.Service{{Name: "bank", URL: "http://localhost:8080"}}},
	}
	for _, tt := range tests {
		got, err := diagnoseServices(tt.urls, func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestCertsCheck checks the command's exit statuses over files.
func TestCertsCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	day := 24 * time.Hour
	for name, left := range map[string]time.Duration{"ok.crt": 90 * day, "warn.crt": 20 * day, "crit.crt": 3 * day} {
		writeTestCert(t, filepath.Join(dir, name), time.Now().Add(left+time.Hour))
	}
	tests := []struct {
		files []string
		exit  int
	}{
		{[]string{"ok.crt"}, 0},
		{[]string{"ok.crt", "warn.crt"}, 1},
		{[]string{"warn.crt", "crit.crt", "ok.crt"}, 2},
		{[]string{"ok.crt", "missing.crt"}, 3},
	}
	for _, tt := range tests {
		args := []string{"certs", "check"}
		for _, f := range tt.files {
			args = append(args, filepath.Join(dir, f))
		}
		args = append(args, "-o", "json")
		out, err := runArgs(t, nil, args...)
		if got := exitCode(err); got != tt.exit {
			t.Errorf("certs check %v: exit %d, want %d\n%s", tt.files, got, tt.exit, out)
		}
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Checks) != len(tt.files) {
			t.Errorf("certs check %v -o json: %v, %d checks\n%s", tt.files, err, len(r.Checks), out)
		}
	}
}

// TestDBCommands runs the db commands through the command line on
// PostgreSQL, and checks that SQLite gets a clear refusal.
func TestDBCommands(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			out, err := runArgs(t, b.env, "db", "connections", "-o", "json")
			if d == store.SQLite {
				if err == nil || !strings.Contains(err.Error(), "needs a PostgreSQL database") {
					t.Errorf("db connections on SQLite: %v, want a refusal naming PostgreSQL", err)
				}
			} else {
				var gs []ops.ConnGroup
				if err != nil || json.Unmarshal([]byte(out), &gs) != nil {
					t.Fatalf("db connections: %v\n%s", err, out)
				}
				found := false
				for _, g := range gs {
					found = found || g.Application == "bank"
				}
				if !found {
					t.Errorf("db connections shows no connection of the running bank: %+v", gs)
				}
				_, err = runArgs(t, b.env, "db", "slow-queries")
				if err != nil && !strings.Contains(err.Error(), "CREATE EXTENSION pg_stat_statements") {
					t.Errorf("db slow-queries without the extension: %v, want how to enable it", err)
				}
				out, err = runArgs(t, b.env, "db", "terminate", "--older-than", "1h")
				if err != nil || !strings.Contains(out, "no statement has run for longer than 1h0m0s") {
					t.Errorf("db terminate --older-than 1h: %v\n%s", err, out)
				}
			}
			out, err = runArgs(t, b.env, "db", "maintenance", "vacuum", "--table", "transactions", "--table", "postings")
			if err != nil || !strings.Contains(out, "vacuum transactions") || !strings.Contains(out, "vacuum postings") {
				t.Errorf("db maintenance vacuum: %v\n%s", err, out)
			}
		})
	}
}

// TestUsersUnlock has an operator lock a customer out and the command let
// them back in.
func TestUsersUnlock(t *testing.T) {
	t.Parallel()
	b := startBank(t, store.SQLite)
	ctx := context.Background()
	email := "locked-" + randomHex(4) + "@example.test"
	u, err := b.anon.Register(ctx, email, "the right password", "Lou")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.staff["operator"].Do(ctx, http.MethodPost, "/api/v1/users/"+u.ID+"/lock", "", nil, nil); err != nil {
		t.Fatalf("lock: %v", err)
	}
	if _, err := b.anon.Login(ctx, email, "the right password"); status(t, err) != http.StatusLocked {
		t.Fatalf("login of a locked user: %v, want 423 locked", err)
	}
	if out, err := runArgs(t, b.env, "users", "unlock", "--email", strings.ToUpper(email)); err != nil {
		t.Fatalf("users unlock: %v\n%s", err, out)
	}
	if _, err := b.anon.Login(ctx, email, "the right password"); err != nil {
		t.Errorf("login after unlock: %v", err)
	}
	_, err = runArgs(t, b.env, "users", "unlock", "--email", "nobody@example.test")
	if err == nil || errorText(err) != "no user has the email nobody@example.test" {
		t.Errorf("unlock of an unknown user: %q, want a sentence naming the email", errorText(err))
	}
}
