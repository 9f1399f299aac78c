// Package deploytest builds the bank binary for the deploy tests as the
// Dockerfile builds it (static, -trimpath), once per test binary, so they
// run what the image holds and share one build cache.
package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
