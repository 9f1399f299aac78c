// Package deploytest builds the bank binary for the deploy tests as the
// Dockerfile builds it (static, -trimpath), once per test binary, so they
// run what the image holds and share one build cache, and starts it.
package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests live two folders below the module: deploy/k8s, deploy/monitoring.
const pkg = "../../cmd/bank"

var once = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bank-deploy-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bank")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// Bank returns the path of the built binary, building it on first use.
func Bank(t testing.TB) string {
	t.Helper()
	bin, err := once()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main runs a package's tests and removes the binary after them: call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if bin, err := once(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// Server is a running bank command that serves HTTP.
type Server struct {
	// Addr is the address it listens on, from its "serving" log line.
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

// Start runs `bin args...` with env (which should set BANK_HTTP_ADDR to
// port 0) and returns once it logs the address it serves on. The process is
// killed when the test ends.
func Start(t testing.TB, bin string, env []string, args ...string) *Server {
	t.Helper()
	s := &Server{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	s.cmd.Env = env
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.out.Write(sc.Bytes())
			s.out.WriteByte('\n')
			s.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" {
				addr <- rec.Addr
			}
		}
	}()
	go func() { s.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	name := "bank " + strings.Join(args, " ")
	select {
	case s.Addr = <-addr:
	case <-s.done:
		t.Fatalf("%s stopped:\n%s", name, s.Logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, s.Logs())
	}
	return s
}

// Logs returns what the process has printed so far.
func (s *Server) Logs() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.out.Bytes())
}

// Stop sends SIGTERM and waits for the process to end.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Error("the server did not stop on SIGTERM")
	}
}
