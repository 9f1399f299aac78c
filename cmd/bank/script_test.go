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
