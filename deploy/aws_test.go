package deploy

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWS runs aws/check.sh: the CDK app's assertion tests, its synth with no
// AWS credentials, and the runbook's aws commands through the aws CLI's own
// parameter validation. Without node, npm, aws or python3 it is skipped,
// unless BANK_REQUIRE_TOOLS is set (as .ci/run sets it).
func TestAWS(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the CDK app's packages and synthesizes it: not in -short")
	}
	for _, tool := range []struct{ name, pkg string }{
		{"node", "nodejs"}, {"npm", "npm"}, {"aws", "awscli"}, {"python3", "python3"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is required (BANK_REQUIRE_TOOLS is set): apt-get install -y %s", tool.name, tool.pkg)
			}
			t.Skipf("%s not found: apt-get install -y %s to run this test", tool.name, tool.pkg)
		}
	}
	out, err := exec.Command("bash", "aws/check.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("aws/check.sh: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "# pass") || strings.HasPrefix(l, "# fail") ||
			strings.HasPrefix(l, "synthesized") || strings.HasPrefix(l, "aws CLI:") {
			t.Log(l)
		}
	}
}
