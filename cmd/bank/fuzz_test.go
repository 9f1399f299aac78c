package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/store"
)

// bodyRoute is an operation of the document that reads a request body.
type bodyRoute struct {
	method, path string // the path with its {parameters} filled in
}

// notFuzzed are the operations the fuzzer leaves alone because they would
// end the session it fuzzes with: logging out, locking a user, changing a
// role.
var notFuzzed = regexp.MustCompile(`/logout|/lock$|/role$`)

// FuzzRequestBodies sends any body to every operation of api/openapi.yaml
// that reads one, as a customer or as an admin, through "serve all" on
// SQLite: every answer is one the document allows for the operation (the
// clients check each against it), never a 5xx, never a dropped connection.
// The seeds are a valid body of each route and some hostile ones.
func FuzzRequestBodies(f *testing.F) {
	b := startBank(f, store.SQLite)
	ctx := context.Background()
	cust, userID := b.customer("fuzzed")
	other, _ := b.customer("other")
	acct, dest := b.account(cust, "EUR", 1_000_000), b.account(other, "EUR", 0)
	var hold client.Hold
	if _, err := cust.Do(ctx, http.MethodPost, "/api/v1/holds", "fuzz-hold", money(fixture{account: acct.ID}), &hold); err != nil {
		f.Fatal(err)
	}
	tx, err := cust.Transfer(ctx, "fuzz-tx", client.Transfer{FromAccountID: acct.ID, ToAccountID: dest.ID, Amount: 10, Currency: "EUR"})
	if err != nil {
		f.Fatal(err)
	}
	fx := fixture{account: acct.ID, other: dest.ID, hold: hold.ID, tx: tx.ID}
	params := map[string]string{"accounts": acct.ID, "holds": hold.ID, "transactions": tx.ID, "users": userID, "limits": acct.ID}

	documentRouter(f)
	var routes []bodyRoute
	for path, item := range document.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || notFuzzed.MatchString(path) {
				continue
			}
			parts := strings.Split(path, "/")
			for i, p := range parts {
				if strings.HasPrefix(p, "{") {
					parts[i] = "x" // an id that names nothing: a 404 after the body is read, or before
					if v, ok := params[parts[i-1]]; ok {
						parts[i] = v
					}
				}
			}
			routes = append(routes, bodyRoute{method, strings.Join(parts, "/")})
		}
	}
	slices.SortFunc(routes, func(a, b bodyRoute) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	if len(routes) < 20 {
		f.Fatalf("%d operations with a body in the document; it did not load as expected", len(routes))
	}
	for i, r := range routes {
		seed := []byte(`{}`)
		if rc, ok := routeCases[r.method+" "+templatePath(r.path, fx)]; ok && rc.body != nil {
			seed, _ = json.Marshal(rc.body(fx))
		}
		f.Add(uint8(i), false, seed)
		f.Add(uint8(i), true, seed)
	}
	for _, s := range []string{`{"amount":1e400}`, `{"currency":"EUR\u0000"}`, `{"description":"\u202e"}`, "{\"name\":\"\xff\"}",
		`{"transfers":[{}]}`, `{"metadata":{"":""}}`, `{"content":"` + strings.Repeat("a,", 1000) + `"}`, `[]`, `null`, ``} {
		f.Add(uint8(0), false, []byte(s))
	}
	shared := &http.Transport{MaxIdleConnsPerHost: 4}
	f.Fuzz(func(t *testing.T, route uint8, staff bool, body []byte) {
		r := routes[int(route)%len(routes)]
		who := cust
		if staff {
			who = b.staff["admin"]
		}
		c := *who
		c.HTTP = checkedHTTP(t, 30*time.Second, shared)
		res, err := c.Do(ctx, r.method, r.path, fmt.Sprintf("fuzz-%s", randomHex(8)), body, nil)
		if res == nil {
			t.Fatalf("%s %s with %q: no answer: %v", r.method, r.path, body, err)
		}
		if res.Status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, res.Status, res.Body)
		}
	})
}

// templatePath turns a filled path back into routeCases' key for the
// fixture f.
func templatePath(path string, f fixture) string {
	for _, id := range []string{f.account, f.hold, f.tx} {
		path = strings.ReplaceAll(path, id, "{id}")
	}
	return path
}
