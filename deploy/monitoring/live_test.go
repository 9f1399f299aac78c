package monitoring

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/deploy/deploytest"
	"github.com/fintech-banking/bank/internal/poll"
)

// TestLive runs the real thing on loopback: `bank serve all` on a PostgreSQL
// database of its own, scraped every second by a real Prometheus that loads
// the PrometheusRule's groups. It drives traffic in three phases — healthy,
// slow (a table lock holds requests for 1.6s), failing (the database refuses
// the bank's role) — and checks after each what the runbook's HighErrorRate
// and HighLatency expressions evaluate to, that the alerts go pending, that
// every dashboard query has data, and that no secret reached the logs.
func TestLive(t *testing.T) {
	promBin := tool(t, "prometheus", "prometheus")
	pgURL := os.Getenv("BANK_TEST_POSTGRES_URL")
	if pgURL == "" {
		t.Skip("BANK_TEST_POSTGRES_URL is not set: the live monitoring test needs PostgreSQL")
	}
	if testing.Short() {
		t.Skip("-short: the live monitoring test takes about half a minute")
	}
	ctx := context.Background()
	bin := buildBank(t)
	db := newDatabase(t, pgURL)
	dir := t.TempDir()

	secrets := []string{}
	jwtKey := randomHex(32)
	secrets = append(secrets, jwtKey)
	keyFile := filepath.Join(dir, "jwt-secret")
	if err := os.WriteFile(keyFile, []byte(jwtKey), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"BANK_DATABASE_URL=" + db.bankURL,
		"BANK_JWT_SECRET_FILE=" + keyFile,
		"BANK_HTTP_ADDR=127.0.0.1:0",
		"BANK_DATA_DIR=" + dir,
	}
	operatorPassword := "operator " + randomHex(8)
	secrets = append(secrets, operatorPassword)
	out, err := runWith(bin, append(env, "BANK_USER_PASSWORD="+operatorPassword), "users", "create", "--role", "operator", "--email", "ops@bank.example")
	if err != nil {
		t.Fatalf("bank users create: %v\n%s", err, out)
	}
	srv := deploytest.Start(t, bin, env, "serve", "all")
	prom := startPrometheus(t, promBin, srv.Addr)

	c := &client{t: t, base: "http://" + srv.Addr}
	customerPassword := "customer " + randomHex(8)
	secrets = append(secrets, customerPassword)
	c.do("POST", "/api/v1/auth/register", "", map[string]any{"email": "ann@example.com", "password": customerPassword, "name": "Ann"}, 201, nil)
	var login, opLogin struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": customerPassword}, 200, &login)
	c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "ops@bank.example", "password": operatorPassword}, 200, &opLogin)
	c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": "a wrong " + customerPassword}, 401, nil)
	secrets = append(secrets, login.AccessToken, login.RefreshToken, opLogin.AccessToken, opLogin.RefreshToken)
	var a1, a2 struct{ ID string }
	c.do("POST", "/api/v1/accounts", login.AccessToken, map[string]any{"currency": "EUR", "type": "checking"}, 201, &a1)
	c.do("POST", "/api/v1/accounts", login.AccessToken, map[string]any{"currency": "EUR", "type": "savings"}, 201, &a2)
	c.doKey("POST", "/api/v1/deposits", opLogin.AccessToken, "deposit-1",
		map[string]any{"account_id": a1.ID, "amount": 100000, "currency": "EUR"}, 201)

	// Phase 1, healthy: transfers, some refused for want of funds, reads.
	for i := range 40 {
		c.doKey("POST", "/api/v1/transfers", login.AccessToken, fmt.Sprintf("t-%d", i),
			map[string]any{"from_account_id": a1.ID, "to_account_id": a2.ID, "amount": 100, "currency": "EUR"}, 201)
		c.do("GET", "/api/v1/accounts", login.AccessToken, nil, 200, nil)
	}
	for i := range 3 {
		c.doKey("POST", "/api/v1/transfers", login.AccessToken, fmt.Sprintf("big-%d", i),
			map[string]any{"from_account_id": a2.ID, "to_account_id": a1.ID, "amount": 1_000_000_000, "currency": "EUR"}, 422)
	}
	c.do("GET", "/api/v1/no-such-path", login.AccessToken, nil, 404, nil)
	prom.waitScraped(t, requests(t, srv.Addr))

	t.Run("healthy", func(t *testing.T) {
		if got := prom.query(t, runbookErrorRate); len(got) != 0 {
			t.Errorf("HighErrorRate's expression with no 5xx: %v, want no result", got)
		}
		if got := prom.query(t, runbookLatency); len(got) != 0 {
			t.Errorf("HighLatency's expression with fast requests: %v, want no result", got)
		}
		for _, m := range []struct {
			operation, outcome string
			want               float64
		}{{"transfer", "completed", 40}, {"transfer", "insufficient_funds", 3}, {"deposit", "completed", 1}, {"withdrawal", "completed", 0}} {
			q := `sum(bank_money_movements_total{operation="` + m.operation + `",outcome="` + m.outcome + `"})`
			if got := prom.query(t, q); len(got) != 1 || got[0] != m.want {
				t.Errorf("%s: %v, want [%v]", q, got, m.want)
			}
		}
	})

	// Phase 2, slow: a lock on the accounts table holds 60 reads for 1.6s.
	lock := db.super(t)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	slow := c.parallel(60, func() int { return c.status("GET", "/api/v1/accounts", login.AccessToken) }, func(oldest func() time.Duration) {
		// The lock goes once the reads behind it have been slow for 1.6 s:
		// the latency the rules look for.
		poll.Until(t, time.Minute, "reads slow for 1.6 s", func() bool { return oldest() >= 1600*time.Millisecond })
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
	})
	prom.waitScraped(t, requests(t, srv.Addr))
	t.Run("slow", func(t *testing.T) {
		if n := count(slow.statuses, 200); n != 60 {
			t.Errorf("%d of 60 slow reads answered 200", n)
		}
		if d := slow.slowest(); d < time.Second {
			t.Errorf("slowest read took %s: the lock did not hold the reads", d)
		}
		got := prom.query(t, runbookLatency)
		t.Logf("slowest read %s; HighLatency's expression: %v", slow.slowest(), got)
		if len(got) != 1 || got[0] <= 1 {
			t.Errorf("HighLatency's expression after 60 reads of 1.6s: %v, want one value above 1", got)
		}
		if got := prom.query(t, runbookErrorRate); len(got) != 0 {
			t.Errorf("HighErrorRate's expression: %v, want no result (slow is not failed)", got)
		}
	})

	// Phase 3, failing: the database refuses the bank's role; every read fails.
	super := db.super(t)
	for _, q := range []string{
		`ALTER ROLE ` + db.role + ` NOLOGIN`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '` + db.role + `'`,
	} {
		if _, err := super.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// In four bursts a few scrapes apart, as an outage's failures arrive: a
	// counter series first seen at its final value would show no increase.
	var failed burst
	for i := range 4 {
		if i > 0 {
			prom.waitScraped(t, requests(t, srv.Addr))
		}
		b := c.parallel(10, func() int { return c.status("GET", "/api/v1/accounts", login.AccessToken) }, nil)
		failed.statuses = append(failed.statuses, b.statuses...)
	}
	if _, err := super.Exec(ctx, `ALTER ROLE `+db.role+` LOGIN`); err != nil {
		t.Fatal(err)
	}
	prom.waitScraped(t, requests(t, srv.Addr))
	t.Run("failing", func(t *testing.T) {
		var fives int
		for _, s := range failed.statuses {
			if s >= 500 {
				fives++
			}
		}
		if fives < 30 {
			t.Fatalf("%d of 40 reads failed with 5xx while the database refused the bank (statuses %v)", fives, failed.statuses)
		}
		got := prom.query(t, runbookErrorRate)
		t.Logf("%d of 40 reads failed (statuses %v); HighErrorRate's expression: %v", fives, failed.statuses, got)
		if len(got) != 1 || got[0] <= 0.05 || got[0] > 1 {
			t.Errorf("HighErrorRate's expression after %d failures: %v, want one value above 0.05", fives, got)
		}
		// The rules themselves, loaded by Prometheus: pending, since they
		// need 5 minutes to fire.
		for _, alert := range []string{"HighErrorRate", "HighLatency", "ErrorRateCritical", "APILatencyP99Critical"} {
			q := `ALERTS{alertname="` + alert + `", alertstate="pending"}`
			if got := prom.waitFor(t, q, func(v []float64) bool { return len(v) == 1 }); len(got) != 1 {
				t.Errorf("alert %s: %v, want pending", alert, got)
			}
		}
	})

	// Runbook 4.1, as printed but for the port: curl … | jq . in the pod.
	t.Run("runbook 4.1", func(t *testing.T) {
		tool(t, "curl", "curl")
		tool(t, "jq", "jq")
		out, err := exec.Command("sh", "-c", "curl -s "+srv.Addr+"/actuator/metrics/hikaricp.connections.active | jq .").CombinedOutput()
		if err != nil {
			t.Fatalf("curl | jq: %v\n%s", err, out)
		}
		var m struct {
			Name         string
			Measurements []struct{ Statistic string }
		}
		if err := json.Unmarshal(out, &m); err != nil || m.Name != "hikaricp.connections.active" ||
			len(m.Measurements) != 1 || m.Measurements[0].Statistic != "VALUE" {
			t.Errorf("curl | jq printed %s (%v)", out, err)
		}
	})

	t.Run("dashboard queries have data", func(t *testing.T) {
		for _, p := range dashboardQueries(t) {
			if usesQueue(p.expr) {
				continue // TestDashboardMetricsExist checks the queue's names
			}
			if got := prom.query(t, p.promql()); len(got) == 0 {
				t.Errorf("panel %q: %s has no data", p.panel, p.promql())
			}
		}
	})

	srv.Stop(t)
	t.Run("logs", func(t *testing.T) {
		checkLogs(t, srv.Logs(), secrets)
	})
}

const (
	runbookErrorRate = `sum(rate(http_server_requests_seconds_count{status=~"5.."}[5m])) / sum(rate(http_server_requests_seconds_count[5m])) > 0.05`
	runbookLatency   = `histogram_quantile(0.99, sum(rate(http_server_requests_seconds_bucket[5m])) by (le)) > 1`
)

// checkLogs: every line is JSON; every request line names its request id,
// service, route, status and duration; no secret or token used appears.
func checkLogs(t *testing.T, logs []byte, secrets []string) {
	t.Helper()
	requests := 0
	for i, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Errorf("log line %d is not JSON: %s", i+1, line)
			continue
		}
		if rec["msg"] != "request" {
			continue
		}
		requests++
		for _, k := range []string{"request_id", "service", "route", "status", "duration_ms", "method", "path"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("request log line %d has no %s: %s", i+1, k, line)
			}
		}
	}
	if requests < 100 {
		t.Errorf("%d request lines, want one per request", requests)
	}
	for _, s := range secrets {
		if s == "" {
			t.Error("a secret of the scenario is empty")
			continue
		}
		// A token's signature alone is enough to find it again.
		probe := s
		if parts := strings.Split(s, "."); len(parts) == 3 {
			probe = parts[2]
		}
		if bytes.Contains(logs, []byte(probe)) {
			t.Errorf("the logs hold a secret of the scenario (%d characters, starting %.4s…)", len(s), s)
		}
	}
}

// database is a PostgreSQL database and role of the test's own.
type database struct {
	role, bankURL, superURL string
}

func newDatabase(t *testing.T, pgURL string) database {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatalf("connect %s: %v", pgURL, err)
	}
	name := "bank_live_" + randomHex(4)
	for _, q := range []string{`CREATE ROLE ` + name + ` LOGIN`, `CREATE DATABASE ` + name + ` OWNER ` + name} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		conn.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`)
		conn.Exec(ctx, `DROP ROLE `+name)
		conn.Close(ctx)
	})
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	super := u.String()
	u.User = url.User(name)
	return database{role: name, bankURL: u.String(), superURL: super}
}

// super connects to the test's database as the administrator.
func (d database) super(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), d.superURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func buildBank(t *testing.T) string { return deploytest.Bank(t) }

func TestMain(m *testing.M) { deploytest.Main(m) }

func runWith(bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}

// requests is the bank's own count of the requests the server at addr served.
func requests(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/actuator/metrics/http.server.requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Measurements []struct {
			Statistic string
			Value     float64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, x := range m.Measurements {
		if x.Statistic == "COUNT" {
			return x.Value
		}
	}
	t.Fatal("http.server.requests has no COUNT")
	return 0
}

// prometheus is a running Prometheus on loopback.
type prometheus struct{ base string }

func startPrometheus(t *testing.T, bin, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("prometheus-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec any `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	rules, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	// The labels the ServiceMonitor's scrape would add in the cluster.
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yaml]
scrape_configs:
- job_name: bank
  metrics_path: /actuator/prometheus
  static_configs:
  - targets: [%q]
    labels: {namespace: fintech-banking, service: bank, pod: bank-0}
`, target)
	for name, data := range map[string][]byte{"rules.yaml": rules, "prometheus.yml": []byte(conf)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &prometheus{base: "http://" + addr}
	if !poll.Wait(time.Minute, func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("prometheus is not ready:\n%s", out.String())
	}
	return p
}

// freeAddr returns a loopback address nothing listens on: Prometheus cannot
// report the port it took, so one is chosen for it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// query runs an instant query and returns the values of its vector.
func (p *prometheus) query(t *testing.T, q string) []float64 {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	var vs []float64
	for _, s := range r.Data.Result {
		var v float64
		fmt.Sscan(s.Value[1].(string), &v)
		vs = append(vs, v)
	}
	return vs
}

// waitFor runs q until ok accepts its answer, for 15s at most, and returns
// the last answer.
func (p *prometheus) waitFor(t *testing.T, q string, ok func([]float64) bool) []float64 {
	t.Helper()
	var got []float64
	poll.Wait(30*time.Second, func() bool { got = p.query(t, q); return ok(got) })
	return got
}

// waitScraped waits until Prometheus has scraped at least n requests and the
// rules have been evaluated on that scrape.
func (p *prometheus) waitScraped(t *testing.T, n float64) {
	t.Helper()
	poll.Until(t, time.Minute, fmt.Sprintf("prometheus to scrape %v requests", n), func() bool {
		got := p.query(t, `sum(http_server_requests_seconds_count)`)
		return len(got) == 1 && got[0] >= n
	})
	// Two rule evaluations after that scrape: a rule may read another's.
	for range 2 {
		since := p.lastEvaluation(t)
		poll.Until(t, time.Minute, "a rule evaluation", func() bool { return p.lastEvaluation(t).After(since) })
	}
}

// lastEvaluation is when every rule group had been evaluated last: the
// earliest of their last evaluations.
func (p *prometheus) lastEvaluation(t *testing.T) time.Time {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				LastEvaluation time.Time `json:"lastEvaluation"`
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if len(r.Data.Groups) == 0 {
		t.Fatal("prometheus has no rule groups")
	}
	earliest := r.Data.Groups[0].LastEvaluation
	for _, g := range r.Data.Groups[1:] {
		if g.LastEvaluation.Before(earliest) {
			earliest = g.LastEvaluation
		}
	}
	return earliest
}

// client calls the bank's API.
type client struct {
	t    *testing.T
	base string
}

func (c *client) request(method, path, token, key string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	return hc.Do(req)
}

func (c *client) do(method, path, token string, body any, want int, into any) {
	c.t.Helper()
	c.doFull(method, path, token, "", body, want, into)
}

func (c *client) doKey(method, path, token, key string, body any, want int) {
	c.t.Helper()
	c.doFull(method, path, token, key, body, want, nil)
}

func (c *client) doFull(method, path, token, key string, body any, want int, into any) {
	c.t.Helper()
	resp, err := c.request(method, path, token, key, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// status makes a request and returns its status (0 if it got none).
func (c *client) status(method, path, token string) int {
	resp, err := c.request(method, path, token, "", nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// burst is what a parallel run saw.
type burst struct {
	statuses  []int
	durations []time.Duration
}

func (b burst) slowest() time.Duration { return slices.Max(b.durations) }

// parallel runs f n times at once; meanwhile, once they are under way, runs during.
func (c *client) parallel(n int, f func() int, during func(oldest func() time.Duration)) burst {
	var wg sync.WaitGroup
	b := burst{statuses: make([]int, n), durations: make([]time.Duration, n)}
	// Unix nanoseconds each call began, 0 once it has ended: during asks
	// how long the oldest call still running has run.
	began := make([]atomic.Int64, n)
	for i := range n {
		wg.Add(1)
		start := time.Now()
		began[i].Store(start.UnixNano())
		go func() {
			defer wg.Done()
			defer began[i].Store(0)
			b.statuses[i] = f()
			b.durations[i] = time.Since(start)
		}()
	}
	if during != nil {
		during(func() time.Duration {
			var oldest time.Duration
			for i := range began {
				if at := began[i].Load(); at != 0 {
					oldest = max(oldest, time.Since(time.Unix(0, at)))
				}
			}
			return oldest
		})
	}
	wg.Wait()
	return b
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}
