package docs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParseRunbook checks how steps are read from a fenced block.
func TestParseRunbook(t *testing.T) {
	const text = "## 1. One\n\n### 1.1 First\n\n1. **Look** - at it\n\n```bash\n" +
		"# Do a\ncmd a \\\n  --flag\n\ncmd b\n\n# A note\n# Do c\ncat <<EOF | x\n# not a step\n\nEOF\n# trailing note\n```\n\n" +
		"### 1.2 Table only\n\n| a |\n\n## 2. Two\n"
	got := ParseRunbook(text)
	want := []Section{
		{ID: "1.1", Title: "First", Steps: []Step{
			{Label: "Look"},
			{Label: "Do a", Command: "cmd a \\\n  --flag\ncmd b"},
			{Label: "Do c", Command: "cat <<EOF | x\n# not a step\n\nEOF"},
		}},
		{ID: "1.2", Title: "Table only", Steps: []Step{{Label: "Table only"}}},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreFields(Section{}, "Blocks")); diff != "" {
		t.Errorf("ParseRunbook (-got +want):\n%s", diff)
	}
}
