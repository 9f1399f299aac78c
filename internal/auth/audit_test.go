package auth

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// auditPage is GET /api/v1/audit's answer.
type auditPage = httpapi.List[AuditEntry]

func (s *staffServer) audit(query string) auditPage {
	s.t.Helper()
	res := s.do("GET", "/api/v1/audit"+query, "", s.adminTok.AccessToken)
	if res.status != http.StatusOK {
		s.t.Fatalf("audit%s: status %d, body %s", query, res.status, res.body)
	}
	var p auditPage
	res.decode(s.t, &p)
	return p
}

// TestAuditTrail: every staff action and security event of auth-service is
// recorded with who, what, whom, when and from where; admins read it, paged
// and filtered; nobody rewrites it.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		start := s.clock.Now().UTC().Truncate(time.Microsecond)

		// A lock with the client's request id, to see it recorded.
		req, _ := http.NewRequest("POST", s.url+"/api/v1/users/"+s.customer.ID+"/lock", nil)
		req.Header.Set("Authorization", "Bearer "+s.operatorTok.AccessToken)
		req.Header.Set("X-Request-Id", "req-lock-1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("lock: status %d", res.StatusCode)
		}
		s.clock.Advance(time.Second)
		// Refused actions are not recorded.
		wantError(t, s.lock(s.operatorTok.AccessToken, s.admin.ID), http.StatusNotFound, "user_not_found")
		if r := s.unlock(s.adminTok.AccessToken, s.customer.ID); r.status != http.StatusOK {
			t.Fatalf("unlock: %d %s", r.status, r.body)
		}
		s.clock.Advance(time.Second)
		if r := s.setRole(s.adminTok.AccessToken, s.operator.ID, RoleCustomer); r.status != http.StatusOK {
			t.Fatalf("demote: %d %s", r.status, r.body)
		}
		s.clock.Advance(time.Second)
		tok := s.mustLogin(email, password)
		if r := s.refresh(tok.RefreshToken); r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		wantError(t, s.refresh(tok.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token") // reuse
		s.clock.Advance(time.Second)
		cust := s.mustLogin(email, password)
		if r := s.do("POST", "/api/v1/auth/logout-all", "", cust.AccessToken); r.status != http.StatusNoContent {
			t.Fatalf("logout-all: %d %s", r.status, r.body)
		}
		s.clock.Advance(time.Second)
		gone := s.mustRegister("gone@example.com", password, "Gone")
		goneTok := s.mustLogin("gone@example.com", password)
		for _, q := range []string{`DELETE FROM refresh_tokens WHERE user_id = $1`, `DELETE FROM users WHERE id = $1`} {
			if _, err := db.Exec(q, gone.ID); err != nil {
				t.Fatal(err)
			}
		}
		s.clock.Advance(UserStateTTL)
		for range 3 { // recorded once, however often the token is tried
			wantError(t, s.me(goneTok.AccessToken), http.StatusUnauthorized, "unauthenticated")
		}

		all := s.audit("")
		type row struct{ Actor, Action, Target string }
		var got []row
		for _, e := range all.Data {
			got = append(got, row{e.ActorID, e.Action, e.TargetID})
			if e.ClientIP != "127.0.0.1" || e.OccurredAt.Before(start) || e.ID == "" {
				t.Errorf("record %+v: want client 127.0.0.1, a time after %v and an id", e, start)
			}
		}
		want := []row{ // newest first
			{gone.ID, AuditTokenOfMissingUser, gone.ID},
			{s.customer.ID, AuditLoggedOutEverywhere, s.customer.ID},
			{"", AuditFamilyRevoked, s.customer.ID},
			{s.admin.ID, AuditRoleChanged, s.operator.ID},
			{s.admin.ID, AuditUnlocked, s.customer.ID},
			{s.operator.ID, AuditLocked, s.customer.ID},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("audit trail (-want +got):\n%s", diff)
		}
		lock := all.Data[len(all.Data)-1]
		if lock.RequestID != "req-lock-1" {
			t.Errorf("lock record request id %q, want the client's req-lock-1", lock.RequestID)
		}
		if d := all.Data[3].Details; d["from"] != "operator" || d["to"] != "customer" {
			t.Errorf("role change details %v, want from operator to customer", d)
		}

		// Filters.
		if p := s.audit("?actor=" + s.admin.ID); len(p.Data) != 2 || p.Data[0].Action != AuditRoleChanged {
			t.Errorf("by actor: %+v, want the admin's two records", p.Data)
		}
		if p := s.audit("?action=" + AuditLocked); len(p.Data) != 1 || p.Data[0].TargetID != s.customer.ID {
			t.Errorf("by action: %+v, want the lock", p.Data)
		}
		from := lock.OccurredAt.Add(time.Second).Format(time.RFC3339Nano)
		to := all.Data[3].OccurredAt.Add(time.Microsecond).Format(time.RFC3339Nano)
		if p := s.audit("?from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)); len(p.Data) != 2 {
			t.Errorf("from %s to %s: %d records, want the unlock and the role change", from, to, len(p.Data))
		}
		// Pages of 2 walk the whole trail once.
		var walked []string
		cursor := ""
		for range 10 {
			q := "?limit=2"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			p := s.audit(q)
			for _, e := range p.Data {
				walked = append(walked, e.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		var ids []string
		for _, e := range all.Data {
			ids = append(ids, e.ID)
		}
		if diff := cmp.Diff(ids, walked); diff != "" {
			t.Errorf("paged walk (-all +walked):\n%s", diff)
		}

		// Admins only, and bad queries are 400s.
		wantError(t, s.do("GET", "/api/v1/audit", "", ""), http.StatusUnauthorized, "unauthenticated")
		fresh := s.mustLogin(email, password)
		wantError(t, s.do("GET", "/api/v1/audit", "", fresh.AccessToken), http.StatusForbidden, "forbidden")
		wantError(t, s.do("GET", "/api/v1/audit?from=yesterday", "", s.adminTok.AccessToken), http.StatusBadRequest, "invalid_request")
		wantError(t, s.do("GET", "/api/v1/audit?cursor=nonsense", "", s.adminTok.AccessToken), http.StatusBadRequest, "invalid_request")

		// Append-only, even for the application's own database user.
		for _, q := range []string{`UPDATE audit_log SET actor_id = 'someone else'`, `DELETE FROM audit_log`} {
			if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want refused as append-only", q, err)
			}
		}
		if n := len(s.audit("").Data); n != len(all.Data) {
			t.Errorf("%d records after the attempts to rewrite, want %d", n, len(all.Data))
		}
	})
}

// TestAuditHostileOrigin locks a user from an origin holding NUL, invalid
// UTF-8 and a newline: the lock commits on both databases and its record
// holds the same safe request id on both.
func TestAuditHostileOrigin(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := bank.WithOrigin(context.Background(), bank.Origin{RequestID: "req\x00\xff\n", ClientIP: "192.0.2.7"})
		s, err := NewService(db, newTestKeyring(t, testKey1), testConfig(), time.Now, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		op, err := s.CreateUser(ctx, "op@example.com", "Op", password, RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		cust, err := s.CreateUser(ctx, "cu@example.com", "Cu", password, RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lock(ctx, Principal{UserID: op.ID, Role: RoleOperator}, cust.ID); err != nil {
			t.Fatal(err)
		}
		var request string
		if err := db.QueryRowContext(ctx, `SELECT request_id FROM audit_log WHERE action = $1`, AuditLocked).Scan(&request); err != nil {
			t.Fatal(err)
		}
		if request != "req\uFFFD\uFFFD\uFFFD" {
			t.Errorf("lock's record has request id %q, want %q", request, "req\uFFFD\uFFFD\uFFFD")
		}
	})
}
