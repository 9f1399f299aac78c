package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// testBank is the platform started through run on a fresh database, as
// "bank serve all" would start it.
type testBank struct {
	t     testing.TB
	url   string
	env   map[string]string
	anon  *client.Client
	staff map[string]*client.Client // "operator", "admin"
	log   *serveLog                 // its warnings and errors
}

func (b *testBank) getenv(k string) string { return b.env[k] }

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// built is the bank binary, built once per test run for the tests that run
// it as a process.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// TestMain removes the built binary once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// bankBinary returns the path of the bank binary, building it on first use.
func bankBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "bank-test-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "bank")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// startBank runs "bank serve all" on a fresh, migrated database of dialect d
// until the test ends, with an operator and an admin made by "bank users
// create".
func startBank(t testing.TB, d store.Dialect) *testBank {
	t.Helper()
	return startBankOn(t, storetest.MigratedURL(t, d))
}

// startBankOn runs "bank serve all" on the database at dbURL; see startBank.
func startBankOn(t testing.TB, dbURL string) *testBank {
	t.Helper()
	return startBankWith(t, dbURL, nil)
}

// startBankWith runs "bank serve all" on the database at dbURL with the
// settings of env over the tests' own.
func startBankWith(t testing.TB, dbURL string, env map[string]string) *testBank {
	t.Helper()
	b := &testBank{t: t, env: map[string]string{
		"BANK_DATABASE_URL": dbURL,
		"BANK_HTTP_ADDR":    "127.0.0.1:0",
		"BANK_DATA_DIR":     t.TempDir(),
		"BANK_JWT_SECRET":   randomHex(32),
		"BANK_LOG_LEVEL":    "info",
		// The tests drive more requests per customer than the default limit
		// allows; TestThrottling checks the limits themselves.
		"BANK_RATE_LIMIT": "0",
	}}
	for k, v := range env {
		b.env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out serveLog
	b.log = &out
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"bank", "serve", "all"}, b.getenv, nil, &out, &out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve all: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve all did not stop within 30s")
		}
	})
	b.url = waitListening(t, done, &out)
	b.anon = client.New(b.url, checkedHTTP(t, 60*time.Second, nil))
	waitReady(t, b.url, done, &out)
	b.makeStaff()
	return b
}

// makeStaff creates an operator and an admin with "bank users create" on
// the bank's database and logs them in.
func (b *testBank) makeStaff() {
	b.t.Helper()
	b.staff = map[string]*client.Client{}
	for _, role := range []string{"operator", "admin"} {
		email := role + "@bank.test"
		env := map[string]string{"BANK_USER_PASSWORD": "staff password " + role}
		for k, v := range b.env {
			env[k] = v
		}
		var cout bytes.Buffer
		err := run(context.Background(), []string{"bank", "users", "create", "--role", role, "--email", email},
			func(k string) string { return env[k] }, strings.NewReader(""), &cout, &cout)
		if err != nil {
			b.t.Fatalf("users create %s: %v\n%s", role, err, cout.String())
		}
		b.staff[role] = b.login(email, env["BANK_USER_PASSWORD"])
	}
}

// bankProcess is "bank serve …" run as a process of its own, as in a
// cluster: it can be sent SIGTERM and started again on its address.
type bankProcess struct {
	t      *testing.T
	args   []string
	env    []string
	cmd    *exec.Cmd
	out    *serveLog
	exited chan error    // its exit status, once
	gone   chan struct{} // closed once it has exited
	url    string
}

// startProcess runs the bank binary with args and env (over the tests'
// environment) on addr ("127.0.0.1:0" for any port) until the test ends,
// and returns once it is ready.
func startProcess(t *testing.T, addr string, env map[string]string, args ...string) *bankProcess {
	t.Helper()
	p := &bankProcess{t: t, args: args, env: os.Environ()}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	p.start(addr)
	t.Cleanup(func() {
		select {
		case <-p.gone:
		default:
			_ = p.cmd.Process.Kill()
			<-p.gone
		}
	})
	return p
}

func (p *bankProcess) start(addr string) {
	p.t.Helper()
	p.cmd = exec.Command(bankBinary(p.t), p.args...)
	p.cmd.Env = append(p.env, "BANK_HTTP_ADDR="+addr)
	p.out = &serveLog{}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	cmd, exited, gone := p.cmd, make(chan error, 1), make(chan struct{})
	p.exited, p.gone = exited, gone
	go func() {
		exited <- cmd.Wait()
		close(gone)
	}()
	p.url = waitListening(p.t, p.exited, p.out)
	waitReady(p.t, p.url, p.exited, p.out)
}

// terminate sends SIGTERM and waits for the process to exit, which it must
// do with status 0 and no error logged.
func (p *bankProcess) terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil || strings.Contains(p.out.String(), `"level":"ERROR"`) {
			p.t.Errorf("%v after SIGTERM: exit %v\n%s", p.args, err, p.out.String())
		}
	case <-time.After(time.Minute):
		p.t.Fatalf("%v still running a minute after SIGTERM", p.args)
	}
}

// restart starts the process again on the address it had.
func (p *bankProcess) restart() {
	p.t.Helper()
	p.start(strings.TrimPrefix(p.url, "http://"))
}

func waitReady(t testing.TB, url string, done chan error, out fmt.Stringer) {
	t.Helper()
	ready := poll.Wait(30*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve all stopped: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(url + "/actuator/health/readiness")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ready {
		t.Fatalf("not ready after 30s\n%s", out.String())
	}
}

func (b *testBank) login(email, password string) *client.Client {
	b.t.Helper()
	tok, err := b.anon.Login(context.Background(), email, password)
	if err != nil {
		b.t.Fatalf("login %s: %v", email, err)
	}
	return b.anon.WithToken(tok.AccessToken)
}

// customer registers a customer and returns its client and id.
func (b *testBank) customer(name string) (*client.Client, string) {
	b.t.Helper()
	email := name + "-" + randomHex(4) + "@example.test"
	u, err := b.anon.Register(context.Background(), email, "password of "+name, name)
	if err != nil {
		b.t.Fatalf("register %s: %v", name, err)
	}
	return b.login(email, "password of "+name), u.ID
}

// account opens an account of c's and, if funds > 0, has the operator deposit them.
func (b *testBank) account(c *client.Client, currency string, funds int64) *client.Account {
	b.t.Helper()
	ctx := context.Background()
	a, err := c.OpenAccount(ctx, currency, "checking", "")
	if err != nil {
		b.t.Fatalf("open account: %v", err)
	}
	if funds > 0 {
		if _, err := b.staff["operator"].Deposit(ctx, "fund-"+a.ID, a.ID, funds, currency); err != nil {
			b.t.Fatalf("deposit: %v", err)
		}
	}
	return a
}

// verify runs "bank ledger verify" on the bank's database and fails the test
// on any violation.
func (b *testBank) verify() {
	b.t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bank", "ledger", "verify"}, b.getenv, nil, &out, &out); err != nil {
		b.t.Fatalf("ledger verify: %v\n%s", err, out.String())
	}
}

// status returns the HTTP status of err (a *client.Error), or 0 for nil.
func status(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an API error: %v", err)
	}
	return e.Status
}

func code(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprint(err)
}

// serveLog keeps what a test needs of a server's JSON log: the line that
// says where it listens, and every warning and error, for failure messages.
// Access lines and the rest are dropped.
type serveLog struct {
	mu    sync.Mutex
	b     bytes.Buffer
	addr  string
	parts []byte // a line not yet ended
}

func (s *serveLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, p...)
	for {
		i := bytes.IndexByte(s.parts, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := s.parts[:i+1]
		var l struct{ Level, Msg, Addr string }
		if json.Unmarshal(line, &l) != nil || l.Level != "INFO" && l.Level != "DEBUG" {
			s.b.Write(line) // not JSON (a panic, a usage error), a warning or an error
		} else if l.Msg == "serving" && s.addr == "" {
			s.addr = l.Addr
		}
		s.parts = s.parts[i+1:]
	}
}

func (s *serveLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *serveLog) listening() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// waitListening returns the URL of a server started on port 0, once its log
// says where it listens: no port is picked free and then reused.
func waitListening(t testing.TB, done chan error, out *serveLog) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := out.listening(); addr != "" {
			return "http://" + addr
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening address after 30s\n%s", out.String())
	return ""
}
