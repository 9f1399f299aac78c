package monitoring

import (
	"os"
	"os/exec"
	"testing"
)

// tool returns the path of a command the test needs. Without it the test is
// skipped, unless BANK_REQUIRE_TOOLS is set (as .ci/run sets it), where a
// missing tool is a failure rather than a silent pass.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is required (BANK_REQUIRE_TOOLS is set): apt-get install -y %s", name, pkg)
		}
		t.Skipf("%s not found: apt-get install -y %s to run this test", name, pkg)
	}
	return p
}

// run runs a command and returns its combined output, failing the test if
// it exits non-zero.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
