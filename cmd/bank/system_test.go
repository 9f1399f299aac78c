package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// systemRoutes lists the staff's system routes (notification-service's).
func systemRoutes() []string {
	var r routeRecorder
	noop := func(h http.Handler) http.Handler { return h }
	ops.SystemRoutes(&r, slog.New(slog.DiscardHandler), nil, noop)
	slices.Sort(r)
	return r
}

// adminOnly is a route only admins may call.
func adminOnly(ok int) map[actor]int {
	return every(ok, map[actor]int{custA: http.StatusForbidden, custB: http.StatusForbidden, operator: http.StatusForbidden})
}

// systemRouteCases: staff read the queues and the maintenance mode, admins
// act on them. Maintenance is set to what it was (off), so the calls leave
// the bank as they found it.
var systemRouteCases = map[string]authRouteCase{
	"GET /api/v1/system/queues": {
		path: func(authFixture) string { return "/api/v1/system/queues" },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/system/queues/{name}/redrive": {
		path: func(authFixture) string { return "/api/v1/system/queues/notifications/redrive" },
		want: adminOnly(http.StatusOK)},
	"GET /api/v1/system/maintenance": {
		path: func(authFixture) string { return "/api/v1/system/maintenance" },
		want: staffOnly(http.StatusOK)},
	"PUT /api/v1/system/maintenance": {
		path: func(authFixture) string { return "/api/v1/system/maintenance" },
		body: func(authFixture) any { return map[string]any{"on": false} },
		want: adminOnly(http.StatusOK)},
}

// TestSystemRoutesMatrix calls every system route as a customer, another
// customer, an operator, an admin and with no token.
func TestSystemRoutesMatrix(t *testing.T) {
	t.Parallel()
	b := startBank(t, store.SQLite)
	ctx := context.Background()
	a, _ := b.customer("a")
	bc, _ := b.customer("b")
	clients := map[actor]*client.Client{custA: a, custB: bc, operator: b.staff["operator"], admin: b.staff["admin"], nobody: b.anon}
	for _, route := range systemRoutes() {
		rc, ok := systemRouteCases[route]
		if !ok {
			t.Fatalf("route %s has no row in systemRouteCases", route)
		}
		method, _, _ := strings.Cut(route, " ")
		for _, who := range actors {
			var body any
			if rc.body != nil {
				body = rc.body(authFixture{})
			}
			res, err := clients[who].Do(ctx, method, rc.path(authFixture{}), "", body, nil)
			if res == nil {
				t.Fatalf("%s as %s: %v", route, who, err)
			}
			if res.Status != rc.want[who] {
				t.Errorf("%s as %s: status %d, want %d (%s)", route, who, res.Status, rc.want[who], res.Body)
			}
		}
	}
}

// deadLetter sends n messages to the bank's table queue at dbURL and fails
// every receive of everything the queue holds until all of it is in the
// dead-letter queue. The bank's consumer must be off.
func deadLetter(t *testing.T, dbURL string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := queue.OpenTable(ctx, db, queue.DefaultTableConfig())
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"event_id":"dead-%d-%s"}`, i, randomHex(4))
	}
	if err := q.Send(ctx, bodies...); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		ms, err := q.Receive(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return
		}
		for _, m := range ms {
			if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("the queue still hands out messages after 100 failed receives")
}

// TestSystemAPI: the queues' depths and a redrive through the API, the
// maintenance mode set and read, the system endpoints answering during
// maintenance while the rest of the API does not, and bad input refused.
func TestSystemAPI(t *testing.T) {
	t.Parallel()
	dbURL := storetest.MigratedURL(t, store.SQLite)
	b := startBankWith(t, dbURL, map[string]string{"BANK_NOTIFICATION_CONSUMER": "false"})
	ctx := context.Background()
	cust, _ := b.customer("c")
	admin, operator := b.staff["admin"], b.staff["operator"]

	deadLetter(t, dbURL, 3)
	qs, err := operator.Queues(ctx)
	if err != nil || len(qs) != 1 || qs[0].Name != "notifications" || qs[0].DeadLetter.Visible < 3 || qs[0].Main.Visible != 0 {
		t.Fatalf("queues: %+v, %v; want notifications with 3 or more dead letters", qs, err)
	}
	dead := qs[0].DeadLetter.Visible
	if n, err := admin.Redrive(ctx, "notifications", 1); err != nil || n != 1 {
		t.Errorf("redrive of 1: %d, %v", n, err)
	}
	if n, err := admin.Redrive(ctx, "notifications", 0); err != nil || int64(n) != dead-1 {
		t.Errorf("redrive of the rest: %d, %v; want %d", n, err, dead-1)
	}
	if qs, err := operator.Queues(ctx); err != nil || qs[0].DeadLetter.Visible != 0 || qs[0].Main.Visible != dead {
		t.Errorf("after the redrive: %+v, %v; want %d waiting, none dead", qs, err, dead)
	}

	tokens := b.tokens("admin@bank.test", "staff password admin")
	m, err := admin.SetMaintenance(ctx, true, "Back at noon")
	if err != nil || !m.On || m.Message != "Back at noon" || m.Since == nil || m.RetryAfterSeconds != 300 {
		t.Fatalf("maintenance on: %+v, %v", m, err)
	}
	if _, err := cust.Accounts(ctx, nil, ""); status(t, err) != http.StatusServiceUnavailable {
		t.Errorf("a customer's request in maintenance: %v, want 503", err)
	}
	// The system endpoints still answer, to staff only.
	if m, err := operator.Maintenance(ctx); err != nil || !m.On || m.Message != "Back at noon" {
		t.Errorf("maintenance read in maintenance: %+v, %v", m, err)
	}
	if _, err := cust.Maintenance(ctx); status(t, err) != http.StatusForbidden {
		t.Errorf("a customer's read of maintenance: %v, want 403", err)
	}
	if _, err := operator.SetMaintenance(ctx, false, ""); status(t, err) != http.StatusForbidden {
		t.Errorf("an operator's maintenance off: %v, want 403", err)
	}
	if _, err := operator.Queues(ctx); err != nil {
		t.Errorf("queues in maintenance: %v", err)
	}
	// A maintenance outlasting the access tokens: staff still refresh them.
	if _, err := b.anon.Refresh(ctx, tokens.RefreshToken); err != nil {
		t.Errorf("a refresh in maintenance: %v", err)
	}
	if m, err := admin.SetMaintenance(ctx, false, ""); err != nil || m.On {
		t.Fatalf("maintenance off: %+v, %v", m, err)
	}
	if _, err := cust.Accounts(ctx, nil, ""); err != nil {
		t.Errorf("after maintenance: %v", err)
	}
	audit, err := admin.Do(ctx, http.MethodGet, "/api/v1/audit?limit=50", "", nil, nil)
	for _, action := range []string{ops.AuditMaintenanceOn, ops.AuditMaintenanceOff, ops.AuditQueueRedrive} {
		if err != nil || !strings.Contains(string(audit.Body), `"`+action+`"`) {
			t.Errorf("the audit trail has no %s: %v", action, err)
		}
	}

	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"PUT", "/api/v1/system/maintenance", map[string]any{}, 400},
		{"PUT", "/api/v1/system/maintenance", nil, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": "yes"}, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": true, "message": strings.Repeat("x", 501)}, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": true, "message": "a\x00b"}, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": true, "retry_after_seconds": -1}, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": true, "retry_after_seconds": 86401}, 400},
		{"PUT", "/api/v1/system/maintenance", map[string]any{"on": true, "mode": "on"}, 400},
		{"POST", "/api/v1/system/queues/notifications/redrive", map[string]any{"max": -1}, 400},
		{"POST", "/api/v1/system/queues/notifications/redrive", map[string]any{"max": 1.5}, 400},
		{"POST", "/api/v1/system/queues/notifications/redrive", []any{}, 400},
		{"POST", "/api/v1/system/queues/no-such-queue/redrive", nil, 404},
		{"POST", "/api/v1/system/queues/bad%00name/redrive", nil, 400},
	} {
		res, err := admin.Do(ctx, tc.method, tc.path, "", tc.body, nil)
		if res == nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if res.Status != tc.want {
			t.Errorf("%s %s %v: %d, want %d (%s)", tc.method, tc.path, tc.body, res.Status, tc.want, res.Body)
		}
	}
	// None of the refused requests turned maintenance on.
	if m, err := admin.Maintenance(ctx); err != nil || m.On {
		t.Errorf("after the refused requests: %+v, %v", m, err)
	}
}

// TestSystemAPIOnSQS: with the queue on SQS (a local server), the API's
// queue depths are the SQS queue's and its dead-letter queue's, and a
// redrive through the API moves the dead letters back.
func TestSystemAPIOnSQS(t *testing.T) {
	_, url, _ := sqsWithDeadLetters(t)
	b := startBankWith(t, storetest.URL(t, store.SQLite), map[string]string{"BANK_QUEUE_URL": url, "BANK_NOTIFICATION_CONSUMER": "false"})
	ctx := context.Background()
	var err error
	name := url[strings.LastIndex(url, "/")+1:]
	admin := b.staff["admin"]
	var qs []client.QueueDepth
	if !poll.Wait(30*time.Second, func() bool {
		qs, err = admin.Queues(ctx)
		return err == nil && len(qs) == 1 && qs[0].DeadLetter.Visible >= 2
	}) {
		t.Fatalf("queues: %+v, %v; want %s with 2 dead letters", qs, err, name)
	}
	if qs[0].Name != name {
		t.Errorf("queue %q, want %q", qs[0].Name, name)
	}
	if n, err := admin.Redrive(ctx, name, 0); err != nil || n < 2 {
		t.Fatalf("redrive: %d, %v; want 2 or more", n, err)
	}
	if !poll.Wait(30*time.Second, func() bool {
		qs, err = admin.Queues(ctx)
		return err == nil && qs[0].DeadLetter.Visible == 0 && qs[0].Main.Visible >= 2
	}) {
		t.Errorf("after the redrive: %+v, %v", qs, err)
	}
}
