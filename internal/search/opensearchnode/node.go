// Package opensearchnode starts a real single-node OpenSearch 2.19 for tests:
// the Java launcher beside this file (pom.xml, src/, start.sh) runs the
// server in-process from Maven Central's jars. One node per test binary,
// started on first use on a free loopback port, with path.repo set so that
// "fs" snapshot repositories work; it stops when the test binary exits
// (its standard input closes).
package opensearchnode

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Node is a running node.
type Node struct {
	URL string
	// Repo is the node's path.repo: an "fs" snapshot repository's
	// location must lie under it.
	Repo string
}

var started struct {
	once  sync.Once
	node  *Node
	err   error
	stdin io.WriteCloser // held, never closed: its end (the process's) stops the node
}

// Start returns the test binary's node, starting it on first use. Without
// java or mvn the test is skipped, unless BANK_REQUIRE_TOOLS is set: then it
// fails.
func Start(t testing.TB) *Node {
	t.Helper()
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
				t.Fatalf("OpenSearch node: %s not found and BANK_REQUIRE_TOOLS is set", tool)
			}
			t.Skipf("OpenSearch node: %s not found (install openjdk-17-jdk-headless and maven)", tool)
		}
	}
	started.once.Do(func() { started.node, started.err = start() })
	if started.err != nil {
		t.Fatalf("OpenSearch node: %v", started.err)
	}
	return started.node
}

func start() (*Node, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "start.sh")
	home, err := os.MkdirTemp("", "opensearchnode-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(script, home, fmt.Sprint(port))
	// The pipe stays open for the life of the test binary; its end stops
	// the node. It is kept referenced: a collected *os.File closes itself.
	if started.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	// A first run builds the launcher and may download its jars.
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				return nil, fmt.Errorf("exited before it started (%v):\n%s", err, stderr.String())
			}
			if strings.TrimSpace(line) == "started" {
				go func() {
					for range lines {
					}
				}()
				return &Node{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Repo: filepath.Join(home, "repo")}, nil
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("not started after 5 minutes:\n%s", stderr.String())
		}
	}
}

// tail keeps the last 8 KiB written to it: the node's log, for failures.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
