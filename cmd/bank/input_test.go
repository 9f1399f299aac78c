package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/client"
)

// badBodies are malformed bodies every route that reads a body must refuse.
var badBodies = map[string]string{
	"malformed":     `{"amount":`,
	"unknown field": `{"no_such_field":1}`,
	"trailing data": `{}{}`,
	"trailing junk": `{} x`,
	"array":         `[]`,
	"string":        `"x"`,
	"number":        `42`,
	"oversize":      `{"description":"` + strings.Repeat("x", 2<<20) + `"}`,
}

// badFields are well-formed bodies with a bad field, per route.
var badFields = map[string]map[string]func(f fixture) any{
	"POST /api/v1/accounts": {
		"no currency":      func(fixture) any { return map[string]any{"type": "checking"} },
		"unknown currency": func(fixture) any { return map[string]any{"currency": "EURO", "type": "checking"} },
		"lowercase":        func(fixture) any { return map[string]any{"currency": "eur", "type": "checking"} },
		"currency number":  func(fixture) any { return map[string]any{"currency": 978, "type": "checking"} },
		"bad type":         func(fixture) any { return map[string]any{"currency": "EUR", "type": "gold"} },
		"long name": func(fixture) any {
			return map[string]any{"currency": "EUR", "type": "checking", "name": strings.Repeat("n", 101)}
		},
		"empty body": nil,
	},
	"PUT /api/v1/accounts/{id}/overdraft-limit": {
		"no amount":       func(fixture) any { return map[string]any{} },
		"negative":        func(fixture) any { return map[string]any{"amount": -1} },
		"float":           func(fixture) any { return map[string]any{"amount": 1.5} },
		"string":          func(fixture) any { return map[string]any{"amount": "5"} },
		"exponent":        func(fixture) any { return json.RawMessage(`{"amount":1e3}`) },
		"empty body":      nil,
		"null":            func(fixture) any { return json.RawMessage(`{"amount":null}`) },
		"too big integer": func(fixture) any { return json.RawMessage(`{"amount":99999999999999999999}`) },
	},
	"POST /api/v1/transfers": {
		"same account": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.account, "amount": 10, "currency": "EUR"}
		},
		"no destination": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "amount": 10, "currency": "EUR"}
		},
		"float amount": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 10.5, "currency": "EUR"}
		},
		"NUL in description": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 1, "currency": "EUR", "description": "\x00"}
		},
		"control character in description": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 1, "currency": "EUR", "description": "bell\x07"}
		},
		"invalid UTF-8 in description": func(f fixture) any {
			return []byte(`{"from_account_id":"` + f.account + `","to_account_id":"` + f.other + `","amount":1,"currency":"EUR","description":"\xff"}`)
		},
		"right-to-left override in description": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 1, "currency": "EUR", "description": "refund \u202e0001 RUE"}
		},
		"zero-width space in description": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 1, "currency": "EUR", "description": "rent\u200bmarch"}
		},
		"duplicate amount": func(f fixture) any {
			return json.RawMessage(`{"from_account_id":"` + f.account + `","to_account_id":"` + f.other + `","amount":1,"currency":"EUR","amount":5000}`)
		},
		"case-folded key": func(f fixture) any {
			return json.RawMessage(`{"From_Account_ID":"` + f.account + `","to_account_id":"` + f.other + `","amount":1,"currency":"EUR"}`)
		},
		"zero amount": func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 0, "currency": "EUR"}
		},
		"id number": func(f fixture) any {
			return map[string]any{"from_account_id": 7, "to_account_id": f.other, "amount": 10, "currency": "EUR"}
		},
		"empty body": nil,
	},
	"POST /api/v1/transfers/batch": {
		"no transfers":    func(fixture) any { return map[string]any{} },
		"empty transfers": func(fixture) any { return map[string]any{"transfers": []any{}} },
		"item not object": func(fixture) any { return map[string]any{"transfers": []any{1}} },
		"too many": func(f fixture) any {
			items := make([]any, 1001)
			for i := range items {
				items[i] = map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 1, "currency": "EUR"}
			}
			return map[string]any{"transfers": items}
		},
		"item unknown field": func(f fixture) any {
			return map[string]any{"transfers": []any{map[string]any{"from_account_id": f.account, "x": 1}}}
		},
		"empty body": nil,
	},
	"POST /api/v1/holds": {
		"bad expiry": func(f fixture) any {
			return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR", "expires_at": "tomorrow"}
		},
		"past expiry": func(f fixture) any {
			return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR", "expires_at": "2001-01-01T00:00:00Z"}
		},
		"expiry number": func(f fixture) any {
			return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR", "expires_at": 5}
		},
	},
	"POST /api/v1/holds/{id}/capture": {
		"no destination": func(fixture) any { return map[string]any{"amount": 5} },
		"zero amount":    func(f fixture) any { return map[string]any{"to_account_id": f.other, "amount": 0} },
		"float amount":   func(f fixture) any { return map[string]any{"to_account_id": f.other, "amount": 1.5} },
		"empty body":     nil,
	},
	"POST /api/v1/transactions/{id}/reverse": {
		"description number": func(fixture) any { return map[string]any{"description": 5} },
	},
}

func init() {
	// The money-in-one-account routes share their field checks.
	shared := map[string]func(f fixture) any{
		"empty body":       nil,
		"no account":       func(fixture) any { return map[string]any{"amount": 10, "currency": "EUR"} },
		"float amount":     func(f fixture) any { return map[string]any{"account_id": f.account, "amount": 12.5, "currency": "EUR"} },
		"string amount":    func(f fixture) any { return map[string]any{"account_id": f.account, "amount": "12", "currency": "EUR"} },
		"negative amount":  func(f fixture) any { return map[string]any{"account_id": f.account, "amount": -5, "currency": "EUR"} },
		"zero amount":      func(f fixture) any { return map[string]any{"account_id": f.account, "amount": 0, "currency": "EUR"} },
		"null amount":      func(f fixture) any { return json.RawMessage(`{"account_id":"x","amount":null,"currency":"EUR"}`) },
		"unknown currency": func(f fixture) any { return map[string]any{"account_id": f.account, "amount": 10, "currency": "XXX"} },
		"no currency":      func(f fixture) any { return map[string]any{"account_id": f.account, "amount": 10} },
		"long description": func(f fixture) any {
			return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR", "description": strings.Repeat("d", 501)}
		},
		"NUL in description": func(f fixture) any {
			return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR", "description": "a\x00b"}
		},
		"NUL in account id": func(f fixture) any {
			return map[string]any{"account_id": f.account + "\x00", "amount": 10, "currency": "EUR"}
		},
		"duplicate amount": func(f fixture) any {
			return json.RawMessage(`{"account_id":"` + f.account + `","amount":1,"currency":"EUR","amount":5}`)
		},
		"case-folded key": func(f fixture) any {
			return json.RawMessage(`{"Account_ID":"` + f.account + `","amount":1,"currency":"EUR"}`)
		},
	}
	for _, r := range []string{"POST /api/v1/deposits", "POST /api/v1/withdrawals", "POST /api/v1/holds"} {
		if badFields[r] == nil {
			badFields[r] = map[string]func(f fixture) any{}
		}
		for k, v := range shared {
			badFields[r][k] = v
		}
	}
	// Every body that carries metadata refuses each bad metadata object.
	bodies := map[string]func(f fixture, md string) string{
		"POST /api/v1/accounts": func(_ fixture, md string) string {
			return `{"currency":"EUR","type":"checking","metadata":` + md + `}`
		},
		"POST /api/v1/transfers": func(f fixture, md string) string {
			return `{"from_account_id":"` + f.account + `","to_account_id":"` + f.other + `","amount":1,"currency":"EUR","metadata":` + md + `}`
		},
		"PATCH /api/v1/accounts/{id}/metadata":     func(_ fixture, md string) string { return `{"set":` + md + `}` },
		"PATCH /api/v1/transactions/{id}/metadata": func(_ fixture, md string) string { return `{"set":` + md + `}` },
	}
	for _, r := range []string{"POST /api/v1/deposits", "POST /api/v1/withdrawals", "POST /api/v1/holds"} {
		bodies[r] = func(f fixture, md string) string {
			return `{"account_id":"` + f.account + `","amount":1,"currency":"EUR","metadata":` + md + `}`
		}
	}
	for r, body := range bodies {
		if badFields[r] == nil {
			badFields[r] = map[string]func(f fixture) any{}
		}
		for what, md := range badMetadata {
			badFields[r]["metadata: "+what] = func(f fixture) any { return []byte(body(f, md)) }
		}
	}
	for _, r := range []string{"PATCH /api/v1/accounts/{id}/metadata", "PATCH /api/v1/transactions/{id}/metadata"} {
		badFields[r]["unset a malformed key"] = func(fixture) any { return map[string]any{"unset": []string{"Tier"}} }
		badFields[r]["set and unset one key"] = func(fixture) any {
			return map[string]any{"set": map[string]string{"a": "1"}, "unset": []string{"a"}}
		}
		badFields[r]["unset not a list"] = func(fixture) any { return map[string]any{"unset": "a"} }
		badFields[r]["empty body"] = nil
	}
}

// badMetadata are metadata objects, as JSON, that break the rules: the
// limits of API.md, the string rules, and the decoder's (duplicate keys).
var badMetadata = func() map[string]string {
	many := make([]string, 51)
	for i := range many {
		many[i] = `"k` + strings.Repeat("x", i) + `":"v"`
	}
	return map[string]string{
		"51 keys":               "{" + strings.Join(many, ",") + "}",
		"41-char key":           `{"` + strings.Repeat("k", 41) + `":"v"}`,
		"empty key":             `{"":"v"}`,
		"501-char value":        `{"k":"` + strings.Repeat("v", 501) + `"}`,
		"upper-case key":        `{"Tier":"gold"}`,
		"case-folded duplicate": `{"tier":"a","Tier":"b"}`,
		"duplicate key":         `{"tier":"a","tier":"b"}`,
		"NUL in value":          `{"k":"a\u0000b"}`,
		"NUL in key":            `{"k\u0000":"v"}`,
		"control in value":      `{"k":"bell\u0007"}`,
		"C1 control in value":   `{"k":"a\u0085b"}`,
		"raw control in value":  "{\"k\":\"a\x01b\"}",
		"invalid UTF-8 value":   "{\"k\":\"\xff\"}",
		"invalid UTF-8 key":     "{\"\xfe\":\"v\"}",
		"number value":          `{"k":5}`,
		"not an object":         `["k"]`,
	}
}()

// badQueries are bad query strings of the list routes.
var badQueries = map[string][]string{
	"GET /api/v1/accounts":                   append([]string{"limit=0", "limit=501", "limit=abc", "cursor=zzz", "limit=", "limit=5&limit=6"}, badMetadataQueries...),
	"GET /api/v1/accounts/{id}/transactions": append([]string{"limit=-1", "from=yesterday", "to=2026-13-01", "cursor=bm90IGEgY3Vyc29y", "cursor=%00", "from=%FF", "from=", "to="}, badMetadataQueries...),
	"GET /api/v1/accounts/{id}/holds":        {"status=bogus", "limit=0", "status=%00pending", "cursor=%01", "status=", "status=active&status=voided"},
	"GET /api/v1/payments":                   {"status=", "limit=", "status=bogus"},
	"GET /api/v1/transactions/{id}":          {"x=%00"},
	"GET /api/v1/holds/{id}":                 {"%FF=1"},
}

// badMetadataQueries are metadata filters no metadata can match.
var badMetadataQueries = []string{"metadata[Tier]=gold", "metadata[k]=%00", "metadata[k]=%FF", "metadata[k]=a%0Ab",
	"metadata[k]=a&metadata[k]=b", "metadata[" + strings.Repeat("k", 41) + "]=v", "metadata[k]=" + strings.Repeat("v", 501),
	"metadata[k=v", "metadata[]=v", "metadata[a%20b]=v"}

// badPaths are paths whose parameters hold what no id may.
var badPaths = []string{"/api/v1/accounts/%00", "/api/v1/transactions/ab%00cd", "/api/v1/holds/%FF", "/api/v1/accounts/%1B/holds"}

// TestBadInput sends bad input to every route that takes any: each gets a 400
// with an error code, never a 500, and nothing is written.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			a, _ := b.customer("a")
			bc, _ := b.customer("b")
			acct := b.account(a, "EUR", 10_000)
			other := b.account(bc, "EUR", 0)
			var h client.Hold
			if _, err := a.Do(ctx, http.MethodPost, "/api/v1/holds", "hold", money(fixture{account: acct.ID}), &h); err != nil {
				t.Fatal(err)
			}
			tx, err := a.Transfer(ctx, "tx", client.Transfer{FromAccountID: acct.ID, ToAccountID: other.ID, Amount: 10, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			f := fixture{account: acct.ID, other: other.ID, empty: other.ID, hold: h.ID, tx: tx.ID}
			before := b.report()
			as := func(route string) *client.Client {
				if strings.Contains(route, "deposits") || strings.Contains(route, "reverse") || strings.Contains(route, "approvals") || strings.Contains(route, "reconciliations") ||
					strings.Contains(route, "metadata") || strings.Contains(route, "/accounts/{id}/") && !strings.Contains(route, "transactions") {
					return b.staff["operator"]
				}
				return a
			}
			n := 0
			check := func(route, what string, res *client.Result, err error) {
				t.Helper()
				if res == nil {
					t.Fatalf("%s %s: %v", route, what, err)
				}
				var e struct {
					Error struct{ Code, Message string }
				}
				_ = json.Unmarshal(res.Body, &e)
				if res.Status != http.StatusBadRequest || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("%s, %s: %d %.200s; want 400 with a code and a message", route, what, res.Status, res.Body)
				}
			}
			for _, route := range ledgerRoutes() {
				method, _, _ := strings.Cut(route, " ")
				rc := routeCases[route]
				c := as(route)
				if method == http.MethodGet {
					for _, q := range badQueries[route] {
						res, err := c.Do(ctx, method, rc.path(f)+"?"+q, "", nil, nil)
						check(route, q, res, err)
					}
					continue
				}
				for what, body := range badBodies {
					n++
					res, err := c.Do(ctx, method, rc.path(f), "bad-"+string(rune('a'+n%26))+strings.Repeat("k", n%7)+what, []byte(body), nil)
					check(route, what, res, err)
				}
				for what, body := range badFields[route] {
					var in any = []byte{}
					if body != nil {
						in = body(f)
					}
					n++
					res, err := c.Do(ctx, method, rc.path(f), "field-"+what+route, in, nil)
					check(route, what, res, err)
				}
				if strings.HasPrefix(route, "POST /api/v1/accounts") || strings.HasPrefix(route, "PUT") || strings.HasPrefix(route, "PATCH") ||
					strings.HasPrefix(route, "POST /api/v1/approvals") || strings.HasPrefix(route, "POST /api/v1/reconciliations") {
					continue // not money-moving, or under a key of its own (an approval's action, a line's resolve): no Idempotency-Key
				}
				var body any
				if rc.body != nil {
					body = rc.body(f)
				}
				res, err := c.Do(ctx, method, rc.path(f), "", body, nil)
				check(route, "no Idempotency-Key", res, err)
				res, err = c.Do(ctx, method, rc.path(f), strings.Repeat("k", 256), body, nil)
				check(route, "Idempotency-Key too long", res, err)
				res, err = c.Do(ctx, method, rc.path(f), "key\xff", body, nil)
				check(route, "Idempotency-Key not UTF-8", res, err)
			}
			for _, path := range badPaths {
				res, err := a.Do(ctx, http.MethodGet, path, "", nil, nil)
				check("GET "+path, "path", res, err)
			}
			if after := b.report(); after.Transactions != before.Transactions || after.Accounts != before.Accounts {
				t.Errorf("bad input wrote: %d transactions and %d accounts before, %d and %d after",
					before.Transactions, before.Accounts, after.Transactions, after.Accounts)
			}
			wantBalance(t, a, acct.ID, client.Balance{Posted: 9990, Pending: 10, Available: 9980})
		})
	}
}

type ledgerReport struct {
	Accounts, Transactions int
	Violations             []string
}

// report runs "bank ledger verify -o json", failing the test on a violation.
func (b *testBank) report() ledgerReport {
	b.t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bank", "ledger", "verify", "-o", "json"}, b.getenv, nil, &out, &out); err != nil {
		b.t.Fatalf("ledger verify: %v\n%s", err, out.String())
	}
	var r ledgerReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		b.t.Fatal(err)
	}
	return r
}
