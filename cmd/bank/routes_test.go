package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/account"
	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/recon"
	"github.com/fintech-banking/bank/internal/transaction"
)

// routeRecorder lists the routes a service registers.
type routeRecorder []string

func (r *routeRecorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }

func ledgerRoutes() []string {
	var r routeRecorder
	noop := func(h http.Handler) http.Handler { return h }
	account.Routes(&r, slog.New(slog.DiscardHandler), nil, nil, nil, account.Issuer{}, noop)
	transaction.Routes(&r, slog.New(slog.DiscardHandler), nil, nil, nil, noop)
	approval.Routes(&r, slog.New(slog.DiscardHandler), nil, noop)
	recon.Routes(&r, slog.New(slog.DiscardHandler), nil, noop)
	slices.Sort(r)
	return r
}

// fixture holds fresh resources for one call of a route: customer A's
// accounts, a pending hold and a transfer of A's; B is another customer.
type fixture struct {
	account, other, empty, hold, tx string
}

type actor string

const (
	custA    actor = "owner"
	custB    actor = "other customer"
	operator actor = "operator"
	admin    actor = "admin"
	nobody   actor = "no token"
)

var actors = []actor{custA, custB, operator, admin, nobody}

// routeCase is how to call one route, and the status each actor must get.
type routeCase struct {
	path func(f fixture) string
	body func(f fixture) any
	want map[actor]int
}

func every(status int, except map[actor]int) map[actor]int {
	m := map[actor]int{custA: status, custB: status, operator: status, admin: status, nobody: http.StatusUnauthorized}
	for k, v := range except {
		m[k] = v
	}
	return m
}

var (
	ownerOnly = func(ok int) map[actor]int { return every(ok, map[actor]int{custB: http.StatusNotFound}) }
	staffOnly = func(ok int) map[actor]int {
		return every(ok, map[actor]int{custA: http.StatusForbidden, custB: http.StatusForbidden})
	}
)

func money(f fixture) map[string]any {
	return map[string]any{"account_id": f.account, "amount": 10, "currency": "EUR"}
}

var routeCases = map[string]routeCase{
	"POST /api/v1/accounts": {
		path: func(fixture) string { return "/api/v1/accounts" },
		body: func(fixture) any { return map[string]any{"currency": "EUR", "type": "savings"} },
		want: every(http.StatusCreated, nil)},
	"GET /api/v1/accounts": {
		path: func(fixture) string { return "/api/v1/accounts" },
		want: every(http.StatusOK, nil)},
	"GET /api/v1/accounts/{id}": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account },
		want: ownerOnly(http.StatusOK)},
	"GET /api/v1/accounts/{id}/balance": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account + "/balance?at=2030-01-01T00:00:00Z" },
		want: ownerOnly(http.StatusOK)},
	"GET /api/v1/accounts/{id}/statement": {
		path: func(f fixture) string {
			return "/api/v1/accounts/" + f.account + "/statement?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&format=csv"
		},
		want: ownerOnly(http.StatusOK)},
	"POST /api/v1/accounts/{id}/freeze": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.empty + "/freeze" },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/accounts/{id}/unfreeze": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.empty + "/unfreeze" },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/accounts/{id}/close": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.empty + "/close" },
		want: staffOnly(http.StatusOK)},
	"PUT /api/v1/accounts/{id}/overdraft-limit": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account + "/overdraft-limit" },
		body: func(fixture) any { return map[string]any{"amount": 500} },
		want: staffOnly(http.StatusOK)},
	"PATCH /api/v1/accounts/{id}/metadata": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account + "/metadata" },
		body: func(fixture) any { return map[string]any{"set": map[string]string{"ref": "x"}} },
		want: staffOnly(http.StatusOK)},
	"PATCH /api/v1/transactions/{id}/metadata": {
		path: func(f fixture) string { return "/api/v1/transactions/" + f.tx + "/metadata" },
		body: func(fixture) any { return map[string]any{"unset": []string{"ref"}} },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/deposits": {
		path: func(fixture) string { return "/api/v1/deposits" },
		body: func(f fixture) any { return money(f) },
		want: staffOnly(http.StatusCreated)},
	"POST /api/v1/withdrawals": {
		path: func(fixture) string { return "/api/v1/withdrawals" },
		body: func(f fixture) any { return money(f) },
		want: ownerOnly(http.StatusCreated)},
	"POST /api/v1/transfers": {
		path: func(fixture) string { return "/api/v1/transfers" },
		body: func(f fixture) any {
			return map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 10, "currency": "EUR"}
		},
		want: ownerOnly(http.StatusCreated)},
	// A batch answers 201 with a result per item; another customer's items
	// fail with account_not_found (checked in TestAuthorizationMatrix).
	"POST /api/v1/transfers/batch": {
		path: func(fixture) string { return "/api/v1/transfers/batch" },
		body: func(f fixture) any {
			return map[string]any{"transfers": []any{map[string]any{"from_account_id": f.account, "to_account_id": f.other, "amount": 10, "currency": "EUR"}}}
		},
		want: every(http.StatusCreated, nil)},
	// Everyone searches; a customer finds only their own (TestSearch).
	"GET /api/v1/transactions/search": {
		path: func(f fixture) string { return "/api/v1/transactions/search?account_id=" + f.account },
		want: every(http.StatusOK, nil)},
	"GET /api/v1/transactions/{id}": {
		path: func(f fixture) string { return "/api/v1/transactions/" + f.tx },
		want: ownerOnly(http.StatusOK)},
	"GET /api/v1/accounts/{id}/transactions": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account + "/transactions" },
		want: ownerOnly(http.StatusOK)},
	"POST /api/v1/holds": {
		path: func(fixture) string { return "/api/v1/holds" },
		body: func(f fixture) any { return money(f) },
		want: ownerOnly(http.StatusCreated)},
	"POST /api/v1/holds/{id}/capture": {
		path: func(f fixture) string { return "/api/v1/holds/" + f.hold + "/capture" },
		body: func(f fixture) any { return map[string]any{"to_account_id": f.other} },
		want: ownerOnly(http.StatusCreated)},
	"POST /api/v1/holds/{id}/void": {
		path: func(f fixture) string { return "/api/v1/holds/" + f.hold + "/void" },
		want: ownerOnly(http.StatusOK)},
	"GET /api/v1/holds/{id}": {
		path: func(f fixture) string { return "/api/v1/holds/" + f.hold },
		want: ownerOnly(http.StatusOK)},
	"GET /api/v1/accounts/{id}/holds": {
		path: func(f fixture) string { return "/api/v1/accounts/" + f.account + "/holds?status=pending" },
		want: ownerOnly(http.StatusOK)},
	"POST /api/v1/transactions/{id}/reverse": {
		path: func(f fixture) string { return "/api/v1/transactions/" + f.tx + "/reverse" },
		want: staffOnly(http.StatusCreated)},
	// No rule holds any action in this bank: an approval's id that does not
	// exist is 404 to staff (testApprovals decides real ones).
	"GET /api/v1/approvals": {
		path: func(fixture) string { return "/api/v1/approvals?status=pending" },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/approvals/{id}/approve": {
		path: func(fixture) string { return "/api/v1/approvals/no-such-approval/approve" },
		want: staffOnly(http.StatusNotFound)},
	"POST /api/v1/approvals/{id}/reject": {
		path: func(fixture) string { return "/api/v1/approvals/no-such-approval/reject" },
		want: staffOnly(http.StatusNotFound)},
	// A statement of one line that matches nothing of A's account.
	"POST /api/v1/reconciliations": {
		path: func(fixture) string { return "/api/v1/reconciliations" },
		body: func(f fixture) any {
			return map[string]any{"account_id": f.account, "format": "csv",
				"content":     "date,amount,reference\n2026-01-02,1.00,elsewhere\n",
				"csv_columns": map[string]string{"date": "date", "amount": "amount", "reference": "reference"}}
		},
		want: staffOnly(http.StatusCreated)},
	"GET /api/v1/reconciliations/{id}": {
		path: func(fixture) string { return "/api/v1/reconciliations/no-such-reconciliation" },
		want: staffOnly(http.StatusNotFound)},
	"GET /api/v1/reconciliations/{id}/items": {
		path: func(fixture) string { return "/api/v1/reconciliations/no-such-reconciliation/items" },
		want: staffOnly(http.StatusNotFound)},
	"POST /api/v1/reconciliations/{id}/items/{item}/resolve": {
		path: func(fixture) string { return "/api/v1/reconciliations/no-such-reconciliation/items/1/resolve" },
		want: staffOnly(http.StatusNotFound)},
}

// TestRouteTableIsComplete fails when a route is added without a row in
// routeCases (and so without authorization and bad-input checks).
func TestRouteTableIsComplete(t *testing.T) {
	t.Parallel()
	routes := ledgerRoutes()
	for _, r := range routes {
		if _, ok := routeCases[r]; !ok {
			t.Errorf("route %q has no row in routeCases", r)
		}
	}
	for r := range routeCases {
		if !slices.Contains(routes, r) {
			t.Errorf("routeCases has a row for %q, which is not a route", r)
		}
	}
}

// TestAuthorizationMatrix calls every account and transaction route as the
// owner, another customer, an operator, an admin and with no token.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			a, _ := b.customer("a")
			bc, _ := b.customer("b")
			clients := map[actor]*client.Client{custA: a, custB: bc, operator: b.staff["operator"],
				admin: b.staff["admin"], nobody: b.anon}
			n := 0
			newFixture := func() fixture {
				acct := b.account(a, "EUR", 10_000)
				other := b.account(bc, "EUR", 0)
				empty := b.account(a, "EUR", 0)
				var h client.Hold
				if _, err := a.Do(ctx, http.MethodPost, "/api/v1/holds", "fixture-hold-"+acct.ID, money(fixture{account: acct.ID}), &h); err != nil {
					t.Fatalf("fixture hold: %v", err)
				}
				// Between A's own accounts: B, as a counterparty, could see it.
				own := b.account(a, "EUR", 0)
				tx, err := a.Transfer(ctx, "fixture-tx-"+acct.ID, client.Transfer{FromAccountID: acct.ID, ToAccountID: own.ID, Amount: 10, Currency: "EUR"})
				if err != nil {
					t.Fatalf("fixture transfer: %v", err)
				}
				return fixture{account: acct.ID, other: other.ID, empty: empty.ID, hold: h.ID, tx: tx.ID}
			}
			for _, route := range ledgerRoutes() {
				rc := routeCases[route]
				method, _, _ := strings.Cut(route, " ")
				for _, who := range actors {
					f := newFixture()
					var body any
					if rc.body != nil {
						body = rc.body(f)
					}
					n++
					res, err := clients[who].Do(ctx, method, rc.path(f), fmt.Sprintf("matrix-%d", n), body, nil)
					if res == nil {
						t.Fatalf("%s as %s: %v", route, who, err)
					}
					if res.Status != rc.want[who] {
						t.Errorf("%s as %s: status %d, want %d (%s)", route, who, res.Status, rc.want[who], res.Body)
					}
					if route == "POST /api/v1/transfers/batch" && who == custB && !strings.Contains(string(res.Body), "account_not_found") {
						t.Errorf("batch as another customer moved money: %s", res.Body)
					}
				}
			}
			b.verify()
		})
	}
}
