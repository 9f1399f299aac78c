package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// staffServer is a server with an admin, an operator and a customer, each
// logged in.
type staffServer struct {
	*server
	admin, operator, customer          User
	adminTok, operatorTok, customerTok Tokens
}

func newStaffServer(t *testing.T, db *store.DB) *staffServer {
	t.Helper()
	s := &staffServer{server: newServer(t, db, testConfig())}
	ctx := context.Background()
	var err error
	if s.admin, err = s.svc.CreateUser(ctx, "admin@bank.example", "Admin", password, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if s.operator, err = s.svc.CreateUser(ctx, "operator@bank.example", "Operator", password, RoleOperator); err != nil {
		t.Fatal(err)
	}
	s.customer = s.mustRegister(email, password, "Ann")
	s.adminTok = s.mustLogin("admin@bank.example", password)
	s.operatorTok = s.mustLogin("operator@bank.example", password)
	s.customerTok = s.mustLogin(email, password)
	return s
}

func (s *staffServer) lock(token, id string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/users/"+id+"/lock", "", token)
}

func (s *staffServer) unlock(token, id string) response {
	s.t.Helper()
	return s.do("POST", "/api/v1/users/"+id+"/unlock", "", token)
}

func (s *staffServer) setRole(token, id string, role Role) response {
	s.t.Helper()
	return s.do("PUT", "/api/v1/users/"+id+"/role", jsonBody(s.t, map[string]any{"role": role}), token)
}

func (s *staffServer) me(token string) response {
	s.t.Helper()
	return s.do("GET", "/api/v1/auth/me", "", token)
}

// TestDemotedOperator: a demoted operator's token stops working at once, and
// the refreshed one carries the new role, which staff routes refuse.
func TestDemotedOperator(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		if res := s.lock(s.operatorTok.AccessToken, s.customer.ID); res.status != http.StatusOK {
			t.Fatalf("operator locks a customer: status %d, body %s", res.status, res.body)
		}
		if res := s.unlock(s.operatorTok.AccessToken, s.customer.ID); res.status != http.StatusOK {
			t.Fatalf("operator unlocks a customer: status %d, body %s", res.status, res.body)
		}
		res := s.setRole(s.adminTok.AccessToken, s.operator.ID, RoleCustomer)
		if res.status != http.StatusOK {
			t.Fatalf("demote: status %d, body %s", res.status, res.body)
		}
		var u User
		res.decode(t, &u)
		if u.Role != RoleCustomer || u.ID != s.operator.ID {
			t.Errorf("demoted user = %+v, want %s as customer", u, s.operator.ID)
		}
		wantError(t, s.lock(s.operatorTok.AccessToken, s.customer.ID), http.StatusUnauthorized, "unauthenticated")
		wantError(t, s.me(s.operatorTok.AccessToken), http.StatusUnauthorized, "unauthenticated")

		res = s.refresh(s.operatorTok.RefreshToken)
		if res.status != http.StatusOK {
			t.Fatalf("refresh after demotion: status %d, body %s", res.status, res.body)
		}
		var tok Tokens
		res.decode(t, &tok)
		wantError(t, s.lock(tok.AccessToken, s.customer.ID), http.StatusForbidden, "forbidden")
		var me User
		s.me(tok.AccessToken).decode(t, &me)
		if me.Role != RoleCustomer {
			t.Errorf("me after demotion: role %s, want customer", me.Role)
		}
		// Only admins change roles, and not their own.
		wantError(t, s.setRole(s.operatorTok.AccessToken, s.customer.ID, RoleAdmin), http.StatusUnauthorized, "unauthenticated")
		wantError(t, s.setRole(tok.AccessToken, s.customer.ID, RoleAdmin), http.StatusForbidden, "forbidden")
		wantError(t, s.setRole(s.adminTok.AccessToken, s.admin.ID, RoleCustomer), http.StatusForbidden, "forbidden")
		wantError(t, s.setRole(s.adminTok.AccessToken, s.customer.ID, "root"), http.StatusBadRequest, "invalid_request")
		wantError(t, s.setRole(s.adminTok.AccessToken, "no-such-user", RoleAdmin), http.StatusNotFound, "user_not_found")
	})
}

// TestLockedUser: a locked user's access and refresh tokens stop working at
// once; a login with the right password says the account is locked, with a
// wrong one says what any wrong password says; unlocking lets them log in.
func TestLockedUser(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		res := s.lock(s.operatorTok.AccessToken, s.customer.ID)
		if res.status != http.StatusOK {
			t.Fatalf("lock: status %d, body %s", res.status, res.body)
		}
		var u User
		res.decode(t, &u)
		if !u.Locked {
			t.Errorf("locked user = %+v, want locked", u)
		}
		wantError(t, s.me(s.customerTok.AccessToken), http.StatusUnauthorized, "unauthenticated")
		wantError(t, s.refresh(s.customerTok.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantError(t, s.login(email, password), http.StatusLocked, "account_locked")
		wantError(t, s.login(email, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
		if n := countOutbox(t, db); n != 1 {
			t.Errorf("%d outbox events, want the lock's", n)
		}

		// Operators manage customers only; nobody locks themselves.
		wantError(t, s.lock(s.operatorTok.AccessToken, s.admin.ID), http.StatusNotFound, "user_not_found")
		wantError(t, s.lock(s.operatorTok.AccessToken, s.operator.ID), http.StatusForbidden, "forbidden")
		wantError(t, s.lock(s.adminTok.AccessToken, "no-such-user"), http.StatusNotFound, "user_not_found")

		res = s.unlock(s.adminTok.AccessToken, s.customer.ID)
		if res.status != http.StatusOK {
			t.Fatalf("unlock: status %d, body %s", res.status, res.body)
		}
		res.decode(t, &u)
		if u.Locked {
			t.Errorf("unlocked user = %+v, want not locked", u)
		}
		// The sessions the lock ended stay ended.
		wantError(t, s.me(s.customerTok.AccessToken), http.StatusUnauthorized, "unauthenticated")
		wantError(t, s.refresh(s.customerTok.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		tok := s.mustLogin(email, password)
		if res := s.me(tok.AccessToken); res.status != http.StatusOK {
			t.Errorf("me after unlock: status %d, body %s", res.status, res.body)
		}
	})
}

// TestDeletedUser: the tokens of a user removed from the database are
// refused with 401, not answered with 500 or an empty list.
func TestDeletedUser(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		if res := s.me(s.customerTok.AccessToken); res.status != http.StatusOK {
			t.Fatalf("me: status %d", res.status)
		}
		for _, q := range []string{`DELETE FROM refresh_tokens WHERE user_id = $1`, `DELETE FROM users WHERE id = $1`} {
			if _, err := db.Exec(q, s.customer.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Another replica's deletion: this one sees it once its cache ages.
		s.clock.Advance(UserStateTTL)
		wantError(t, s.me(s.customerTok.AccessToken), http.StatusUnauthorized, "unauthenticated")
		wantError(t, s.refresh(s.customerTok.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantError(t, s.login(email, password), http.StatusUnauthorized, "invalid_credentials")
	})
}

// TestLogoutEverywhere: every session of the user ends, access tokens too.
func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		other := s.mustLogin(email, password) // a second device
		wantError(t, s.do("POST", "/api/v1/auth/logout-all", "", ""), http.StatusUnauthorized, "unauthenticated")
		if res := s.do("POST", "/api/v1/auth/logout-all", "", s.customerTok.AccessToken); res.status != http.StatusNoContent {
			t.Fatalf("logout-all: status %d, body %s", res.status, res.body)
		}
		for _, tok := range []Tokens{s.customerTok, other} {
			wantError(t, s.me(tok.AccessToken), http.StatusUnauthorized, "unauthenticated")
			wantError(t, s.refresh(tok.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		}
		// Other users' sessions are untouched.
		if res := s.me(s.operatorTok.AccessToken); res.status != http.StatusOK {
			t.Errorf("another user's token after logout-all: status %d", res.status)
		}
		tok := s.mustLogin(email, password)
		if res := s.me(tok.AccessToken); res.status != http.StatusOK {
			t.Errorf("me after logging in again: status %d, body %s", res.status, res.body)
		}
	})
}

// TestOtherReplicaWithinTTL: a replica that did not make a change applies it
// within UserStateTTL, and until then keeps answering from its cache.
func TestOtherReplicaWithinTTL(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newStaffServer(t, db)
		// The second replica: its own verifier and cache, the same database.
		log := discardLogger()
		states := NewUserStates(db, UserStateTTL, s.clock.Now)
		mux := http.NewServeMux()
		Routes(mux, log, s.svc, Middleware(NewVerifier(s.keys, s.clock.Now).CheckUsers(states, log), log))
		ts := httptest.NewServer(mux)
		t.Cleanup(ts.Close)
		replica := &server{t: t, url: ts.URL, db: db, clock: s.clock}

		if res := replica.do("GET", "/api/v1/auth/me", "", s.operatorTok.AccessToken); res.status != http.StatusOK {
			t.Fatalf("me on the replica: status %d", res.status)
		}
		if res := s.setRole(s.adminTok.AccessToken, s.operator.ID, RoleCustomer); res.status != http.StatusOK {
			t.Fatalf("demote: status %d, body %s", res.status, res.body)
		}
		s.clock.Advance(UserStateTTL - time.Millisecond)
		if res := replica.do("GET", "/api/v1/auth/me", "", s.operatorTok.AccessToken); res.status != http.StatusOK {
			t.Errorf("replica within the TTL: status %d, want 200 from its cache", res.status)
		}
		s.clock.Advance(time.Millisecond)
		wantError(t, replica.do("GET", "/api/v1/auth/me", "", s.operatorTok.AccessToken), http.StatusUnauthorized, "unauthenticated")
	})
}

// TestUserStateUnavailable: when the database cannot be read a token is not
// trusted blind: 503, not 200 and not 500.
func TestUserStateUnavailable(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	s := newServer(t, db, testConfig())
	s.mustRegister(email, password, "Ann")
	tok := s.mustLogin(email, password)
	s.clock.Advance(UserStateTTL)
	db.Close()
	wantError(t, s.do("GET", "/api/v1/auth/me", "", tok.AccessToken), http.StatusServiceUnavailable, "unavailable")
}
