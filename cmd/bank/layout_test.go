package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayout holds the README's layout rule: each of the five services is a
// package internal/<service> whose routes.go registers its endpoints
// (func Routes), and no package below the services imports HTTP.
func TestLayout(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "internal")
	for _, svc := range []string{"auth", "account", "transaction", "payment", "notification"} {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, svc, "routes.go"), nil, 0)
		if err != nil {
			t.Errorf("service %s: %v", svc, err)
			continue
		}
		if o := f.Scope.Lookup("Routes"); o == nil || o.Kind.String() != "func" {
			t.Errorf("service %s: routes.go declares no func Routes", svc)
		}
	}
	for _, core := range []string{"bank", "ledger", "idem", "event", "audit", "lease"} {
		files, err := filepath.Glob(filepath.Join(root, core, "*.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("package %s: no Go files (%v)", core, err)
			continue
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if path == "net/http" || strings.HasSuffix(path, "/internal/httpapi") {
					t.Errorf("%s imports %s: a package below the services serves no HTTP", name, path)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "ledger", "routes.go")); err == nil {
		t.Error("internal/ledger/routes.go: the ledger's endpoints are account-service's and transaction-service's")
	}
}
