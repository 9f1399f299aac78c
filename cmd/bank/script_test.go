package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

// TestDiagnoseScript runs the runbook's ./scripts/diagnose.sh with a built
// binary against a running platform: its exit status is diagnose's.
func TestDiagnoseScript(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := bankBinary(t)
	b := startBank(t, store.SQLite)
	tests := []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"healthy", []string{"--url", "bank=" + b.url}, 0, "overall           OK"},
		{"service down", []string{"--url", "bank=" + b.url, "--url", "payment=http://127.0.0.1:1"}, 2, "payment liveness"},
		{"help", []string{"--help"}, 0, "Usage:"},
	}
	for _, tt := range tests {
		cmd := exec.Command("../../scripts/diagnose.sh", tt.args...)
		cmd.Env = append(os.Environ(), "BANK_BIN="+bin, "BANK_DATABASE_URL="+b.env["BANK_DATABASE_URL"], "DIAGNOSE_IN_CLUSTER=0")
		out, err := cmd.CombinedOutput()
		code := 0
		var x *exec.ExitError
		if errors.As(err, &x) {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.exit || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s: exit %d, want %d and %q in:\n%s", tt.name, code, tt.exit, tt.want, out)
		}
	}
}

// TestDiagnoseScriptInCluster runs ./scripts/diagnose.sh as the on-call
// engineer does from a laptop, with a kubectl that stands in for a cluster
// (none runs here): kubectl exec runs diagnose "in the pod", its exit status
// passes through, and a cluster kubectl cannot reach is UNKNOWN (3), not a
// warning (kubectl's own 1).
func TestDiagnoseScriptInCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := bankBinary(t)
	b := startBank(t, store.SQLite)
	dir := t.TempDir()
	kubectl := `#!/bin/sh
echo "$@" >>"$KUBECTL_LOG"
case $1 in
get) if [ -n "$KUBECTL_FAIL" ]; then echo 'error: You must be logged in to the server (Unauthorized)' >&2; exit 1; fi ;;
exec) while [ "$1" != "--" ]; do shift; done; shift 2; exec "$POD_BANK" "$@" ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte(kubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		exit int
		want string
	}{
		{"in a pod", []string{"DIAGNOSE_IN_CLUSTER=1"}, []string{"--url", "bank=" + b.url}, 0, "overall           OK"},
		{"in a pod, a service down", []string{"DIAGNOSE_IN_CLUSTER=1"}, []string{"--url", "bank=" + b.url, "--url", "payment=http://127.0.0.1:1"}, 2, "payment liveness"},
		{"no cluster", []string{"DIAGNOSE_IN_CLUSTER=1", "KUBECTL_FAIL=1"}, nil, 3, "cannot reach deployment auth-service in namespace fintech-banking: error: You must be logged in"},
	}
	if resp, err := http.Get("http://localhost:8080/actuator/health/liveness"); err == nil {
		resp.Body.Close() // something serves on 8080 here: the script would rightly check it
	} else {
		tests = append(tests, struct {
			name string
			env  []string
			args []string
			exit int
			want string
		}{"from a laptop, nothing on 8080", nil, nil, 2, "liveness"})
	}
	for _, tt := range tests {
		log := filepath.Join(t.TempDir(), "kubectl.log")
		cmd := exec.Command("../../scripts/diagnose.sh", tt.args...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "KUBECTL_LOG="+log, "POD_BANK="+bin,
			"BANK_DATABASE_URL="+b.env["BANK_DATABASE_URL"], "KUBERNETES_SERVICE_HOST=", "BANK_DIAGNOSE_URLS=")
		cmd.Env = append(cmd.Env, tt.env...)
		out, err := cmd.CombinedOutput()
		code := 0
		var x *exec.ExitError
		if errors.As(err, &x) {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		calls, _ := os.ReadFile(log)
		if code != tt.exit || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s: exit %d, want %d and %q in:\n%s\nkubectl calls:\n%s", tt.name, code, tt.exit, tt.want, out, calls)
		}
		if tt.exit != 3 && !strings.Contains(string(calls), "exec -n fintech-banking deploy/auth-service -- bank diagnose") {
			t.Errorf("%s: diagnose did not run in the pod; kubectl calls:\n%s", tt.name, calls)
		}
	}
}

// TestReadmeQuickStart runs the README's quick start, the shell block as
// printed, against a fresh serve all: with the built binary for "go run
// ./cmd/bank" and the server's address for localhost:8080. Every step must
// succeed and the balance come out as the README says.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needTools(t, "bash", "curl", "jq")
	_, rest, _ := strings.Cut(readme(t), "## Quick start")
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok || !strings.Contains(block, "B=http://localhost:8080") {
		t.Fatalf("no quick start block with B=http://localhost:8080 in the README:\n%s", block)
	}
	bin := bankBinary(t)
	env := map[string]string{
		"BANK_DATA_DIR":  t.TempDir(),
		"BANK_HTTP_ADDR": "127.0.0.1:0",
		"BANK_LOG_LEVEL": "info", // the "serving" line names the address
	}
	url, _ := startServe(t, "all", env)
	script := strings.NewReplacer("go run ./cmd/bank", `"$BANK_BIN"`, "B=http://localhost:8080", "B="+url).Replace(block)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "BANK_BIN="+bin, "BANK_DATA_DIR="+env["BANK_DATA_DIR"])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the quick start failed: %v\n%s", err, out)
	}
	for _, want := range []string{`{"posted":7500,"pending":0,"available":7500}`, "violations\t0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quick start's output lacks %s:\n%s", want, out)
		}
	}
}

// TestReadmeServicesApart runs the README's "services apart" block as
// printed, in a folder of its own: the built binary for "go build", free
// ports for :8081…:8085. All five services come up on one database and key,
// and bank diagnose finds every one of them healthy.
func TestReadmeServicesApart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and starts five services")
	}
	needTools(t, "bash", "openssl")
	_, rest, _ := strings.Cut(readme(t), "### The services apart")
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok || !strings.Contains(block, "go build -o bank ./cmd/bank") {
		t.Fatalf("no services-apart block that builds the binary in the README:\n%s", block)
	}
	bin := bankBinary(t)
	replace := []string{"go build -o bank ./cmd/bank", `cp "$BANK_BIN" bank`}
	urls := map[string]string{}
	for i, svc := range []string{"auth", "account", "transaction", "payment", "notification"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		printed := fmt.Sprintf(":%d", 8081+i)
		if !strings.Contains(block, "--http-addr "+printed) {
			t.Fatalf("the block starts no %s on %s", svc, printed)
		}
		replace = append(replace, "--http-addr "+printed, "--http-addr "+addr)
		urls[svc] = "http://" + addr
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.NewReplacer(replace...).Replace(block))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BANK_BIN="+bin, "BANK_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the services run on after the block: stop them all
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) })
	// A file, not a pipe: the services keep their output open, and a pipe
	// would keep Wait waiting for them.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "block.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logFile.Name())
		t.Fatalf("the block failed: %v\n%s", err, out)
	}
	args := []string{"diagnose"}
	for svc, u := range urls {
		poll.Until(t, time.Minute, svc+" ready", func() bool {
			resp, err := http.Get(u + "/actuator/health/readiness")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		args = append(args, "--url", svc+"="+u)
	}
	diagnose := exec.Command(bin, args...)
	diagnose.Env = append(os.Environ(), "BANK_DATABASE_URL=sqlite://"+filepath.Join(dir, "data/apart/bank.db"))
	if out, err := diagnose.CombinedOutput(); err != nil {
		t.Errorf("bank diagnose of the five services: %v\n%s", err, out)
	}
}

// needTools skips the test without one of the commands named, or fails it
// when BANK_REQUIRE_TOOLS is set (as .ci/run sets it).
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is required (BANK_REQUIRE_TOOLS is set)", name)
			}
			t.Skipf("%s not found", name)
		}
	}
}

// readme is the repository's README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
