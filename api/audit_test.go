package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/api"
)

// TestAuditActionsDocumented: every action a service writes to the audit
// trail (a constant named Audit… in internal/) is in AuditEntry's enum, and
// the enum names no action nobody writes, so a client that validates answers
// against the document accepts every entry of GET /api/v1/audit.
func TestAuditActionsDocumented(t *testing.T) {
	var written []string
	err := filepath.WalkDir("../internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				for i, name := range v.Names {
					if !strings.HasPrefix(name.Name, "Audit") || i >= len(v.Values) {
						continue
					}
					if lit, ok := v.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						written = append(written, s)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := doc.Components.Schemas["AuditEntry"].Properties["action"].Enum
	slices.Sort(written)
	slices.Sort(documented)
	if len(written) < 20 || !slices.Equal(written, documented) {
		t.Errorf("AuditEntry.action enum\n %v\nwant the actions the services write\n %v", documented, written)
	}
}

// TestEveryOperationListsBadRequest: the edge refuses a path or query
// parameter holding NUL, control or invisible characters or invalid UTF-8
// on every route (and a body that is not an object on every route taking
// one), so every operation's responses list 400. And every route answers
// 503 while the database is unreachable or the service is in maintenance,
// so they list 503 too.
func TestEveryOperationListsBadRequest(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method, op := range item {
			fields, _ := op.(map[string]any)
			responses, ok := fields["responses"].(map[string]any)
			if !ok {
				continue // path-level parameters, not an operation
			}
			n++
			for _, status := range []string{"400", "503"} {
				if _, ok := responses[status]; !ok {
					t.Errorf("%s %s lists no %s", strings.ToUpper(method), path, status)
				}
			}
		}
	}
	if n < 40 {
		t.Errorf("found %d operations under /api/; the document did not parse as expected", n)
	}
}
