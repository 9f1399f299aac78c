package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// dbProxy forwards TCP connections to PostgreSQL; stopping it cuts every
// connection and refuses new ones, as a database restart does.
type dbProxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func startDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *dbProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// stop makes the database unreachable; start brings it back.
func (p *dbProxy) stop()  { p.down.Store(true); p.cut() }
func (p *dbProxy) start() { p.down.Store(false) }

// readiness returns the status of the service's readiness endpoint.
func readiness(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/actuator/health/readiness")
	if err != nil {
		t.Fatalf("readiness: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReadiness polls readiness until it answers want.
func waitReadiness(t *testing.T, base string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for readiness(t, base) != want {
		if time.Now().After(deadline) {
			t.Fatalf("readiness did not turn %d within 30s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSurviveDatabaseOutage runs "serve all" on PostgreSQL behind a proxy and
// takes the database away twice: the runbook's pg_terminate_backend of every
// connection (4.1), then a restart (the proxy refuses and cuts everything,
// 2.4, 3.2). Requests fail with 503, never 500; readiness turns DOWN while the
// database is gone and UP when it is back; the process keeps running and
// serves again without a restart; the ledger is intact.
func TestSurviveDatabaseOutage(t *testing.T) {
	t.Parallel()
	direct := storetest.URL(t, store.Postgres)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	p := startDBProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	b := &testBank{t: t, env: map[string]string{
		"BANK_DATABASE_URL": u.String(),
		"BANK_HTTP_ADDR":    "127.0.0.1:0",
		"BANK_DATA_DIR":     t.TempDir(),
		"BANK_JWT_SECRET":   randomHex(32),
		"BANK_LOG_LEVEL":    "info",
	}}
	b.url, _ = startServe(t, "all", b.env)
	b.anon = client.New(b.url, &http.Client{Timeout: 60 * time.Second})
	env := map[string]string{"BANK_USER_PASSWORD": "operator password"}
	for k, v := range b.env {
		env[k] = v
	}
	if out, err := runArgs(t, env, "users", "create", "--role", "operator", "--email", "op@bank.test"); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	b.staff = map[string]*client.Client{"operator": b.login("op@bank.test", "operator password")}
	ctx := context.Background()
	c, _ := b.customer("rhea")
	from := b.account(c, "EUR", 10_000)
	to := b.account(c, "EUR", 0)
	transfer := func(key string) error {
		_, err := c.Transfer(ctx, key, client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: 1, Currency: "EUR"})
		return err
	}
	if err := transfer("before"); err != nil {
		t.Fatal(err)
	}

	// Every connection of the service terminated, as the runbook's query does.
	admin, err := store.Open(ctx, direct, store.Options{AppName: "bank-cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'bank'`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminated %d connections (%v), want the service's", n, err)
	}
	for i, key := range []string{"after-terminate-1", "after-terminate-2"} {
		// A request on a terminated connection is retried on a new one
		// when nothing was sent; else it answers 503 and the client's
		// retry with the same key is safe.
		err := transfer(key)
		if err != nil && status(t, err) == http.StatusServiceUnavailable {
			t.Logf("transfer %d after pg_terminate_backend answered 503; retrying it with its key", i)
			err = transfer(key)
		}
		if err != nil {
			t.Errorf("transfer %d after pg_terminate_backend: %v", i, err)
		}
	}
	// A read on a terminated connection answers 503 (each discards one
	// dead connection); a client's retry gets through.
	for i := 0; ; i++ {
		_, err := c.Account(ctx, from.ID)
		if err == nil {
			break
		}
		if status(t, err) != http.StatusServiceUnavailable || i == 20 {
			t.Fatalf("read %d after pg_terminate_backend: %v, want 200 or 503", i, err)
		}
	}
	if got := readiness(t, b.url); got != http.StatusOK {
		t.Errorf("readiness after pg_terminate_backend: %d, want 200", got)
	}

	// The database goes away.
	p.stop()
	waitReadiness(t, b.url, http.StatusServiceUnavailable)
	if err := transfer("during"); status(t, err) != http.StatusServiceUnavailable {
		t.Errorf("transfer while the database is gone: %v, want 503", err)
	}
	if _, err := c.Account(ctx, from.ID); status(t, err) != http.StatusServiceUnavailable {
		t.Errorf("read while the database is gone: %v, want 503", err)
	}
	resp, err := http.Get(b.url + "/actuator/health/liveness")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("liveness while the database is gone: %v %v, want 200 (no restart)", resp.StatusCode, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	// And comes back.
	p.start()
	waitReadiness(t, b.url, http.StatusOK)
	for _, key := range []string{"during", "after"} {
		if err := transfer(key); err != nil {
			t.Errorf("transfer %s after the database is back: %v", key, err)
		}
	}
	a, err := c.Account(ctx, to.ID)
	if err != nil {
		t.Fatal(err)
	}
	// before, after-terminate-1, after-terminate-2, during (retried), after: once each.
	if a.Balance.Posted != 5 {
		t.Errorf("destination balance %d, want 5: every transfer applied once", a.Balance.Posted)
	}
	b.verify()
}
