package event_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProducersDoNotImportTheQueue: the services that make events write them
// through this package, in their own transactions; none of them depends on
// the queue, nor, through it, on the AWS SDK.
func TestProducersDoNotImportTheQueue(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err) // go test runs with go on PATH
	}
	for _, pkg := range []string{"ledger", "auth", "payment"} {
		out, err := exec.Command(goBin, "list", "-deps", "../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasSuffix(dep, "/internal/queue") || strings.Contains(dep, "/internal/queue/") ||
				strings.HasPrefix(dep, "github.com/aws/") {
				t.Errorf("internal/%s depends on %s", pkg, dep)
			}
		}
	}
}
