package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The verdicts a row of operations.md may give a runbook step.
const (
	unchanged = "works unchanged"
	corrected = "works with a corrected command"
	awsOnly   = "AWS-only, covered by deploy/aws"
	notOurs   = "not ours"
)

const verdictHeader = "| step | verdict | how, and what proves it |"

// row is one row of a verdict table in operations.md.
type row struct {
	line               int
	step, verdict, how string
}

// verdictRows returns the rows of every verdict table in text.
func verdictRows(t *testing.T, text string) []row {
	t.Helper()
	var rows []row
	in := false
	for i, l := range strings.Split(text, "\n") {
		switch {
		case l == verdictHeader:
			in = true
		case !strings.HasPrefix(l, "|"):
			in = false
		case in && !strings.HasPrefix(l, "|---"):
			cells := cells(l)
			if len(cells) != 3 {
				t.Errorf("operations.md:%d: %d cells, want 3: %s", i+1, len(cells), l)
				continue
			}
			rows = append(rows, row{i + 1, cells[0], cells[1], cells[2]})
		}
	}
	return rows
}

// cells splits a Markdown table row on the pipes that are not escaped.
func cells(l string) []string {
	l = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "|"), "|")
	var out []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case l[i] == '|':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(l[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

var (
	stepID   = regexp.MustCompile(`^(\d+\.\d+) `)
	testName = regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*)")
	command  = regexp.MustCompile("`[^`]+ [^`]+`")
)

// TestRunbookHasRows holds operations.md to the runbook: each step of each
// subsection has one row, in the runbook's order, naming the step by its
// label; each row has a verdict; a "works unchanged" row names a test, and
// every test a row names exists.
func TestRunbookHasRows(t *testing.T) {
	ops, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := verdictRows(t, string(ops))
	bySection := map[string][]row{}
	for _, r := range rows {
		m := stepID.FindStringSubmatch(r.step)
		if m == nil {
			t.Errorf("operations.md:%d: step %q does not start with a runbook subsection (N.M)", r.line, r.step)
			continue
		}
		bySection[m[1]] = append(bySection[m[1]], r)
	}

	sections := Runbook()
	majors := map[string]bool{}
	for _, s := range sections {
		majors[strings.Split(s.ID, ".")[0]] = true
	}
	if len(majors) != 8 {
		t.Fatalf("read subsections of %d sections from runbook.md, want sections 1 to 8", len(majors))
	}
	known := map[string]bool{}
	for _, s := range sections {
		known[s.ID] = true
		got := bySection[s.ID]
		if len(got) != len(s.Steps) {
			t.Errorf("runbook %s %s has %d steps, operations.md %d rows: want one row per step, in order:\n%s",
				s.ID, s.Title, len(s.Steps), len(got), labels(s.Steps))
			continue
		}
		for i, st := range s.Steps {
			if !strings.Contains(strings.ToLower(got[i].step), strings.ToLower(st.Label)) {
				t.Errorf("operations.md:%d: row %d of %s is %q; want the runbook's step %q", got[i].line, i+1, s.ID, got[i].step, st.Label)
			}
		}
	}
	for id, rs := range bySection {
		if !known[id] {
			t.Errorf("operations.md:%d: rows for %s, which the runbook has not", rs[0].line, id)
		}
	}

	tests := goTests(t, "..")
	for _, r := range rows {
		named := testName.FindAllStringSubmatch(r.how, -1)
		for _, n := range named {
			if !tests[n[1]] {
				t.Errorf("operations.md:%d: %s names %s, which no _test.go file defines", r.line, r.step, n[1])
			}
		}
		switch r.verdict {
		case unchanged:
			if len(named) == 0 {
				t.Errorf("operations.md:%d: %s works unchanged, but the row names no test that exercises it", r.line, r.step)
			}
		case corrected:
			if !command.MatchString(r.how) {
				t.Errorf("operations.md:%d: %s: the row gives no corrected command", r.line, r.step)
			}
		case awsOnly:
			if !strings.Contains(r.how, "deploy/aws") {
				t.Errorf("operations.md:%d: %s is AWS-only, but the row names nothing in deploy/aws", r.line, r.step)
			}
		case notOurs:
		default:
			t.Errorf("operations.md:%d: %s: verdict %q, want one of %q, %q, %q, %q",
				r.line, r.step, r.verdict, unchanged, corrected, awsOnly, notOurs)
		}
	}
}

func labels(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString("\t" + s.Label + "\n")
	}
	return b.String()
}

var testFunc = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)

// goTests returns the names of the test functions in the module at root.
func goTests(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "cdk.out") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
