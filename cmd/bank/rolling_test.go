package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// startHAProxy runs HAProxy with config until the test ends.
func startHAProxy(t *testing.T, config string) {
	t.Helper()
	needTools(t, "haproxy")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, config)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	var out serveLog
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// lbStatus returns HAProxy's view of the servers of backend: name → status
// ("UP", "DOWN", …), read from its statistics page at stats.
func lbStatus(stats, backend string) map[string]string {
	resp, err := http.Get(stats + ";csv")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		if r[col["pxname"]] == backend && r[col["svname"]] != "BACKEND" {
			out[r[col["svname"]]] = strings.Fields(r[col["status"]] + " ")[0]
		}
	}
	return out
}

// TestRollingRestart restarts three "serve transaction" replicas behind
// HAProxy one after the other, each with SIGTERM, while 32 clients make
// transfers through HAProxy and "bank jwt rotate" replaces the key the
// tokens are signed with (runbooks 1.1 and 6.2): not one request fails.
// HAProxy sends requests only to replicas whose readiness is UP, as a
// Kubernetes Service does; a replica turns readiness DOWN on SIGTERM and
// keeps serving for BANK_SHUTDOWN_DELAY, longer than HAProxy takes to see
// it. Clients log in again all along, so that tokens of the new key reach
// every replica, the restarted ones among them.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load-shaped")
	}
	script, err := os.ReadFile("../../bench/replicas.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(haproxyReadiness), "\n") {
		if !strings.Contains(string(script), strings.TrimSpace(line)) {
			t.Errorf("bench/replicas.sh does not check readiness as this test does: no %q", strings.TrimSpace(line))
		}
	}
	needTools(t, "haproxy")
	dbURL := storetest.MigratedURL(t, store.Postgres)
	dir := t.TempDir()
	keyFile, prevFile := filepath.Join(dir, "jwt-secret"), filepath.Join(dir, "jwt-previous-secret")
	oldKey := randomHex(32)
	for path, key := range map[string]string{keyFile: oldKey, prevFile: randomHex(32)} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"BANK_DATABASE_URL":             dbURL,
		"BANK_DATA_DIR":                 dir,
		"BANK_JWT_SECRET_FILE":          keyFile,
		"BANK_JWT_PREVIOUS_SECRET_FILE": prevFile,
		"BANK_JWT_RELOAD_INTERVAL":      "100ms",
		"BANK_JWT_SIGNING_DELAY":        "1s",
		"BANK_MIGRATE":                  "false",
		"BANK_LOG_LEVEL":                "info",
		"BANK_RATE_LIMIT":               "0",
		// HAProxy checks readiness every 100ms and takes a replica out
		// after one failure: two seconds leave room for a busy machine.
		"BANK_SHUTDOWN_DELAY": "2s",
	}
	auth := startProcess(t, "127.0.0.1:0", env, "serve", "auth")
	account := startProcess(t, "127.0.0.1:0", env, "serve", "account")
	var replicas []*bankProcess
	for range 3 {
		replicas = append(replicas, startProcess(t, "127.0.0.1:0", env, "serve", "transaction"))
	}

	// The ingress's routes (deploy/k8s/base/ingress.yaml) for the three
	// services; the transaction replicas checked for readiness, as
	// bench/replicas.sh does. No retry and no redispatch: like a
	// Kubernetes Service, HAProxy passes a refused connection on, so a
	// replica that stopped listening while still in rotation fails requests.
	front, stats := freePort(t), freePort(t)
	var servers strings.Builder
	for i, r := range replicas {
		fmt.Fprintf(&servers, "  server t%d %s check\n", i, strings.TrimPrefix(r.url, "http://"))
	}
	startHAProxy(t, fmt.Sprintf(`global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  retries 0
frontend api
  bind 127.0.0.1:%d
  acl auth path_beg /api/v1/auth /api/v1/users /api/v1/audit
  acl account path_beg /api/v1/accounts
  use_backend auth if auth
  use_backend account if account
  default_backend transaction
frontend stats
  bind 127.0.0.1:%d
  stats enable
  stats uri /stats
backend auth
  server a %s
backend account
  server a %s
backend transaction
  balance roundrobin
%s%s`, front, stats, strings.TrimPrefix(auth.url, "http://"), strings.TrimPrefix(account.url, "http://"),
		haproxyReadiness, servers.String()))
	lb := fmt.Sprintf("http://127.0.0.1:%d", front)
	statsURL := fmt.Sprintf("http://127.0.0.1:%d/stats", stats)
	allUp := func() bool {
		s := lbStatus(statsURL, "transaction")
		return len(s) == 3 && s["t0"] == "UP" && s["t1"] == "UP" && s["t2"] == "UP"
	}
	poll.Until(t, 30*time.Second, "HAProxy seeing the three replicas UP", allUp)

	b := &testBank{t: t, url: lb, env: env,
		anon: client.New(lb, &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}})}
	b.makeStaff()
	l := newLoad(t, b, 4, 6, 1_000_000)
	began := time.Now()
	l.start(32)
	// Tokens renewed all along: after the rotation they are the new key's.
	renewals, renewed := make(chan struct{}), make(chan error, 1)
	go func() {
		var err error
		defer func() { renewed <- err }()
		for {
			select {
			case <-renewals:
				return
			case <-clock.Real().After(200 * time.Millisecond):
			}
			if _, err = l.renewTokens(context.Background(), b.anon); err != nil {
				return
			}
		}
	}()
	l.waitDecided(int64(scale(100, 2000)), time.Minute, "before the restarts")

	var rotated chan error
	for i, r := range replicas {
		r.terminate()
		if i == 0 {
			// The rotation starts while a replica is down: it waits for
			// that one too, once it is back, before the new key signs.
			rotated = make(chan error, 1)
			// The addresses, read here: a restart below writes them again.
			args := []string{"jwt", "rotate", "--settle", "2m", "--url", auth.url, "--url", account.url}
			for _, r := range replicas {
				args = append(args, "--url", r.url)
			}
			go func() {
				out, err := runArgs(t, env, args...)
				if err != nil {
					err = fmt.Errorf("%w\n%s", err, out)
				}
				rotated <- err
			}()
		}
		r.restart()
		poll.Until(t, 30*time.Second, fmt.Sprintf("HAProxy seeing replica %d UP again", i), allUp)
		l.waitDecided(int64(scale(50, 1000)), time.Minute, fmt.Sprintf("after restarting replica %d", i))
	}
	if err := <-rotated; err != nil {
		t.Fatalf("jwt rotate: %v", err)
	}
	restarted := time.Now()
	newKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kid := keyID(string(newKey))
	if kid == keyID(oldKey) {
		t.Fatal("the key did not change")
	}
	poll.Until(t, 30*time.Second, "auth-service signing with the new key "+kid, func() bool {
		tok, err := l.renewTokens(context.Background(), b.anon)
		return err == nil && kidOf(tok) == kid
	})
	l.waitDecided(int64(scale(100, 2000)), time.Minute, "with tokens of the new key")
	close(renewals)
	if err := <-renewed; err != nil {
		t.Errorf("logging in again through HAProxy: %v\nauth-service's errors:\n%s", err, errorLines(auth.out.String()))
	}
	l.stopAndWait()

	all := l.during(began, time.Now())
	rolling := l.during(began, restarted)
	t.Logf("rolling restart of 3 replicas with a key rotation: %d transfers, %d failed; p50 %s, p99 %s during the restarts; answers %v",
		len(all), len(failed(all)), percentile(rolling, 50), percentile(rolling, 99), statusCounts(all))
	if bad := failed(all); len(bad) > 0 {
		t.Errorf("%d of %d transfers failed, want 0; the first: %d %s", len(bad), len(all), bad[0].status, bad[0].err)
	}
	l.check(context.Background(), openTestDB(t, dbURL))
	b.verify()
}

// haproxyReadiness is how HAProxy checks a replica, here and in
// bench/replicas.sh: GET /actuator/health/readiness every 100ms, out of
// rotation after one failure, back after two successes. A check may take
// up to 2s (without timeout check, inter would bound it): a busy replica
// is not a stopping one.
const haproxyReadiness = `  option httpchk GET /actuator/health/readiness
  http-check expect status 200
  timeout check 2s
  default-server inter 100ms fall 1 rise 2
`

// errorLines returns the lines of a process's log at level ERROR.
func errorLines(log string) string {
	var out []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
