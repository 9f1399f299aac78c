package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

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
		cmd.Env = append(os.Environ(), "BANK_BIN="+bin, "BANK_DATABASE_URL="+b.env["BANK_DATABASE_URL"])
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

// TestReadmeQuickStart runs the README's quick start, the shell block as
// printed, against a fresh serve all: with the built binary for "go run
// ./cmd/bank" and the server's address for localhost:8080. Every step must
// succeed and the balance come out as the README says.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is required (BANK_REQUIRE_TOOLS is set)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(readme), "## Quick start")
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
