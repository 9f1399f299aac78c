package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/poll"
)

// TestGracefulShutdown sends SIGTERM to a real "bank serve all" process while
// a request is in flight: readiness must turn DOWN at once, the request must
// complete, and the process must exit 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	p := startProcess(t, "127.0.0.1:0", map[string]string{"BANK_DATABASE_URL": "sqlite://" + filepath.Join(dir, "bank.db"),
		"BANK_DATA_DIR": dir, "BANK_LOG_LEVEL": "info"}, "serve", "all", "--shutdown-delay", "2s")
	url, exited, out := p.url, p.exited, p.out

	// A slow request: its body arrives in two halves, SIGTERM in between.
	body := `{"email":"slow@example.test","password":"a slow password","name":"Slow"}`
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/api/v1/auth/register", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("slow request: %v", err)
			close(answered)
			return
		}
		answered <- resp
	}()
	// The first half is out once the transport has read it from the pipe;
	// the server takes it within the shutdown delay either way.
	if _, err := pw.Write([]byte(body[:20])); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "readiness DOWN after SIGTERM", func() bool {
		resp, err := http.Get(url + "/actuator/health/readiness")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	select {
	case err := <-exited:
		t.Fatalf("exited with a request in flight: %v", err)
	default:
	}
	if _, err := pw.Write([]byte(body[20:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	resp := <-answered
	if resp == nil {
		t.Fatal("no answer to the in-flight request")
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request: %d %s, want 201", resp.StatusCode, b)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after SIGTERM")
	}
	if strings.Contains(out.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged during shutdown:\n%s", out.String())
	}
}
