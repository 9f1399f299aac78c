package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

// longFaults reports whether the fault tests run their long form
// (BANK_FAULTS_LONG=1), whose figures docs/reliability.md gives; CI runs the
// short one.
func longFaults() bool { return os.Getenv("BANK_FAULTS_LONG") != "" }

// scale is short, or long in the long form.
func scale(short, long int) int {
	if longFaults() {
		return long
	}
	return short
}

// pgCluster is a PostgreSQL primary and its streaming standby on loopback,
// made in a folder of their own with the server binaries, as the runbook's
// failover (3.2) has them: a commit waits until the standby has it.
type pgCluster struct {
	t        *testing.T
	bin, dir string
	cred     *syscall.Credential // the servers' user; nil when the test is not root
	ports    [2]int              // primary, standby
}

// pgServerBinaries returns the folder of the PostgreSQL server binaries
// (the newest under /usr/lib/postgresql), or skips the test without them;
// with BANK_REQUIRE_TOOLS set it fails it instead.
func pgServerBinaries(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, name)); err != nil {
				ok = false
			}
		}
		if ok {
			return d
		}
	}
	if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
		t.Fatal("the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are required under /usr/lib/postgresql/*/bin (BANK_REQUIRE_TOOLS is set)")
	}
	t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
	return ""
}

// serverDir makes a temporary folder for PostgreSQL servers, removed when
// the test ends. As root it belongs to the postgres OS user (PostgreSQL
// refuses to run as root), whose credential it returns for serverCommand;
// otherwise the credential is nil.
func serverDir(t *testing.T, prefix string) (string, *syscall.Credential) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() != 0 {
		return dir, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the test runs as root, and PostgreSQL needs another user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// serverCommand runs one of the server binaries in bin, as cred when set.
func serverCommand(bin string, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return cmd
}

// freePort returns a port nobody listens on now. PostgreSQL is told its
// port, so one is picked and handed over; another process could take it in
// between, which startCluster would report.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCluster makes and starts a primary and a synchronous standby. As
// root the servers run as the postgres OS user (PostgreSQL refuses root),
// in a folder it owns. Both are stopped and removed when the test ends.
func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	c := &pgCluster{t: t, bin: pgServerBinaries(t), ports: [2]int{freePort(t), freePort(t)}}
	dir, cred := serverDir(t, "bank-failover-")
	c.dir, c.cred = dir, cred
	t.Cleanup(func() {
		for _, node := range []string{"primary", "standby"} {
			if _, err := os.Stat(filepath.Join(c.dir, node, "postmaster.pid")); err == nil {
				_ = c.command("pg_ctl", "-D", filepath.Join(c.dir, node), "stop", "-m", "immediate").Run()
			}
		}
	})

	primary, standby := filepath.Join(dir, "primary"), filepath.Join(dir, "standby")
	c.run("initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	// synchronous_standby_names makes each commit wait until the standby
	// has flushed it; '*' is whichever standby connects. fsync is off: the
	// test stops processes, never the machine, so what a server wrote is
	// in the page cache either way, and the box's disk is shared.
	c.appendConf(primary, fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
synchronous_standby_names = '*'
max_connections = 100
shared_buffers = 32MB
fsync = off
`, c.ports[0], dir))
	c.run("pg_ctl", "-D", primary, "-l", filepath.Join(dir, "primary.log"), "-w", "start")
	// -R writes standby.signal and the primary_conninfo to follow.
	c.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.ports[0]), "-U", "postgres",
		"-D", standby, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	// Once promoted, the standby has no standby of its own: it must not
	// wait for one (as Patroni or RDS turn synchronous replication off
	// while the pair is one server short).
	c.appendConf(standby, fmt.Sprintf("port = %d\nsynchronous_standby_names = ''\n", c.ports[1]))
	c.run("pg_ctl", "-D", standby, "-l", filepath.Join(dir, "standby.log"), "-w", "start")

	admin, err := store.Open(context.Background(), c.url(0, "postgres"), store.Options{AppName: "bank-test"})
	if err != nil {
		t.Fatalf("%v\n%s", err, c.logs())
	}
	defer admin.Close()
	poll.Until(t, 30*time.Second, "the standby streaming synchronously", func() bool {
		var n int
		err := admin.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pg_stat_replication WHERE sync_state = 'sync'`).Scan(&n)
		return err == nil && n == 1
	})
	if _, err := admin.ExecContext(context.Background(), `CREATE DATABASE bank`); err != nil {
		t.Fatal(err)
	}
	return c
}

// command runs a server binary as the servers' user.
func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	return serverCommand(c.bin, c.cred, name, args...)
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, c.logs())
	}
}

func (c *pgCluster) appendConf(dataDir, conf string) {
	c.t.Helper()
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

// logs returns the servers' logs, for failure messages.
func (c *pgCluster) logs() string {
	var b strings.Builder
	for _, node := range []string{"primary", "standby"} {
		log, _ := os.ReadFile(filepath.Join(c.dir, node+".log"))
		fmt.Fprintf(&b, "--- %s.log\n%s", node, log)
	}
	return b.String()
}

// url is the URL of database db on node i (0 primary, 1 standby).
func (c *pgCluster) url(i int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.ports[i], db)
}

// multiHostURL names both servers: a connection goes to whichever accepts
// writes, as a client of an RDS Multi-AZ endpoint or a Patroni pair would.
func (c *pgCluster) multiHostURL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write",
		c.ports[0], c.ports[1], db)
}

// TestFailover runs the runbook's failover (3.2) under load: "serve all"
// on a multi-host URL, 32 clients making transfers with Idempotency-Keys and
// retrying a 503 or a network error with the same key, the primary stopped
// hard (pg_ctl stop -m immediate) and the standby promoted. Every transfer
// answered 201 is in the new primary once, no retry posted twice, the
// ledger verifies, every answer during the switch was 201 or 503 (no 500,
// no request left hanging), and the same process serves again once the
// standby is promoted.
func TestFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load-shaped")
	}
	c := startCluster(t)
	dbURL := c.multiHostURL("bank")
	if out, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": dbURL}, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	b := startBankWith(t, dbURL, map[string]string{"BANK_MIGRATE": "false"})
	l := newLoad(t, b, 4, 6, 1_000_000)
	l.retry = true
	l.start(32)
	l.waitDecided(int64(scale(100, 3000)), 2*time.Minute, "before the failover")

	killed := time.Now()
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "primary"), "stop", "-m", "immediate")
	stopped := time.Now()
	// No server takes writes until the promotion, which waits for the
	// service to say so: every request answers 503 without hanging. (RDS
	// takes a minute or two to fail over; a promotion within the ledger's
	// own retries would hide the switch from the clients altogether.)
	poll.Until(t, time.Minute, "32 answers 503 with the primary stopped", func() bool {
		return statusCounts(l.during(stopped, time.Now()))[http.StatusServiceUnavailable] >= 32
	})
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "standby"), "promote", "-w")
	promoted := time.Now()
	if got := readiness(t, b.url); got != http.StatusOK && got != http.StatusServiceUnavailable {
		t.Errorf("readiness right after the promotion: %d, want 200 or 503", got)
	}
	l.waitDecided(int64(scale(100, 3000)), 2*time.Minute, "after the promotion")
	l.stopAndWait()

	during := l.during(killed, time.Now())
	counts := statusCounts(during)
	for _, a := range failed(during) {
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("during the failover a transfer was answered %d after %s, want 201 or 503: %s", a.status, a.took, a.err)
		}
	}
	// The window: from the first attempt that failed to the end of the
	// last one; and from the promotion to the first transfer posted on the
	// new primary.
	var first, last time.Time
	for _, a := range failed(during) {
		if first.IsZero() || a.start.Before(first) {
			first = a.start
		}
		if end := a.start.Add(a.took); end.After(last) {
			last = end
		}
	}
	var back time.Time
	for _, a := range during {
		if a.status == http.StatusCreated && a.start.After(promoted) && (back.IsZero() || a.start.Add(a.took).Before(back)) {
			back = a.start.Add(a.took)
		}
	}
	window := last.Sub(first)
	t.Logf("failover: stop -m immediate took %s, the first 32 answers 503 and the promotion %s; writes failed for %s (first failure to last), "+
		"first 201 %s after the promotion; answers since the stop %v; p99 of the attempts since the stop %s",
		stopped.Sub(killed).Round(time.Millisecond), promoted.Sub(stopped).Round(time.Millisecond), window.Round(time.Millisecond),
		back.Sub(promoted).Round(time.Millisecond), counts, percentile(during, 99).Round(time.Millisecond))

	// The checks read the promoted standby alone, and bank ledger verify
	// the multi-host URL the service used.
	l.check(context.Background(), openTestDB(t, c.url(1, "bank")))
	b.verify()
}
