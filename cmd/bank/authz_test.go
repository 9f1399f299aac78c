package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

// authRoutes lists the routes auth-service registers.
func authRoutes() []string {
	var r routeRecorder
	noop := func(h http.Handler) http.Handler { return h }
	auth.Routes(&r, slog.New(slog.DiscardHandler), nil, noop)
	slices.Sort(r)
	return r
}

// notificationRoutes lists the routes notification-service registers.
func notificationRoutes() []string {
	var r routeRecorder
	noop := func(h http.Handler) http.Handler { return h }
	notification.Routes(&r, slog.New(slog.DiscardHandler), nil, noop)
	slices.Sort(r)
	return r
}

// servedRoutes is every API route "serve all" serves.
func servedRoutes() []string {
	return slices.Sorted(slices.Values(slices.Concat(authRoutes(), ledgerRoutes(), paymentRoutes(), notificationRoutes(), systemRoutes())))
}

// notificationRouteCases are notification-service's routes: every caller,
// staff included, reads and sets only their own, so each actor with a token
// gets 200 (what they see is checked in internal/notification).
var notificationRouteCases = map[string]authRouteCase{
	"GET /api/v1/notifications": {
		path: func(authFixture) string { return "/api/v1/notifications?limit=5" },
		want: every(http.StatusOK, nil)},
	"GET /api/v1/notifications/preferences": {
		path: func(authFixture) string { return "/api/v1/notifications/preferences" },
		want: every(http.StatusOK, nil)},
	"PUT /api/v1/notifications/preferences": {
		path: func(authFixture) string { return "/api/v1/notifications/preferences" },
		body: func(authFixture) any { return map[string]any{"email": true, "sms": false} },
		want: every(http.StatusOK, nil)},
}

// authFixture is what one call of an auth route needs: a fresh user's
// credentials and refresh token, and a customer staff may manage.
type authFixture struct {
	email, password, refresh, target string
}

// authRouteCase is how to call one auth route and the status each actor gets.
type authRouteCase struct {
	path func(f authFixture) string
	body func(f authFixture) any
	want map[actor]int
}

func anyone(status int) map[actor]int {
	return map[actor]int{custA: status, custB: status, operator: status, admin: status, nobody: status}
}

var authRouteCases = map[string]authRouteCase{
	// A token sent to the routes that give tokens is not looked at.
	"POST /api/v1/auth/register": {
		path: func(authFixture) string { return "/api/v1/auth/register" },
		body: func(authFixture) any {
			return map[string]any{"email": "new-" + randomHex(4) + "@example.test", "password": "a new password", "name": "New"}
		},
		want: anyone(http.StatusCreated)},
	"POST /api/v1/auth/login": {
		path: func(authFixture) string { return "/api/v1/auth/login" },
		body: func(f authFixture) any { return map[string]any{"email": f.email, "password": f.password} },
		want: anyone(http.StatusOK)},
	"POST /api/v1/auth/refresh": {
		path: func(authFixture) string { return "/api/v1/auth/refresh" },
		body: func(f authFixture) any { return map[string]any{"refresh_token": f.refresh} },
		want: anyone(http.StatusOK)},
	"POST /api/v1/auth/logout": {
		path: func(authFixture) string { return "/api/v1/auth/logout" },
		body: func(f authFixture) any { return map[string]any{"refresh_token": f.refresh} },
		want: anyone(http.StatusNoContent)},
	"GET /api/v1/auth/me": {
		path: func(authFixture) string { return "/api/v1/auth/me" },
		want: every(http.StatusOK, nil)},
	"POST /api/v1/auth/logout-all": {
		path: func(authFixture) string { return "/api/v1/auth/logout-all" },
		want: every(http.StatusNoContent, nil)},
	"PUT /api/v1/users/{id}/role": {
		path: func(f authFixture) string { return "/api/v1/users/" + f.target + "/role" },
		body: func(authFixture) any { return map[string]any{"role": "customer"} },
		want: every(http.StatusOK, map[actor]int{custA: http.StatusForbidden, custB: http.StatusForbidden, operator: http.StatusForbidden})},
	"GET /api/v1/users": {
		path: func(f authFixture) string { return "/api/v1/users?email=" + f.email },
		want: staffOnly(http.StatusOK)},
	"POST /api/v1/users/{id}/lock": {
		path: func(f authFixture) string { return "/api/v1/users/" + f.target + "/lock" },
		want: staffOnly(http.StatusOK)},
	"GET /api/v1/audit": {
		path: func(authFixture) string { return "/api/v1/audit" },
		want: every(http.StatusOK, map[actor]int{custA: http.StatusForbidden, custB: http.StatusForbidden, operator: http.StatusForbidden})},
	"POST /api/v1/users/{id}/unlock": {
		path: func(f authFixture) string { return "/api/v1/users/" + f.target + "/unlock" },
		want: staffOnly(http.StatusOK)},
}

// actuatorRoutes is every actuator route each service serves.
func actuatorRoutes() []string {
	var r routeRecorder
	observe.NewActuator(prometheus.NewRegistry(), observe.NewHealth(0)).Routes(&r)
	slices.Sort(r)
	return r
}

// actuatorRouteCases are the actuator routes, anonymous by design: Kubernetes
// probes and Prometheus call them without a token, and they show nothing of a
// customer (health answers statuses only).
var actuatorRouteCases = map[string]string{
	"GET /actuator/health":           "/actuator/health",
	"GET /actuator/health/liveness":  "/actuator/health/liveness",
	"GET /actuator/health/readiness": "/actuator/health/readiness",
	"GET /actuator/metrics":          "/actuator/metrics",
	"GET /actuator/metrics/{name}":   "/actuator/metrics/hikaricp.connections.active",
	"GET /actuator/prometheus":       "/actuator/prometheus",
	"GET /metrics":                   "/metrics",
}

// TestEveryRouteHasRows fails when a served route has no row in routeCases,
// authRouteCases or actuatorRouteCases, or a row names a route that is not
// served.
func TestEveryRouteHasRows(t *testing.T) {
	served := append(servedRoutes(), actuatorRoutes()...)
	for _, r := range served {
		_, inLedger := routeCases[r]
		_, inAuth := authRouteCases[r]
		_, inActuator := actuatorRouteCases[r]
		_, inPayment := paymentRouteCases[r]
		_, inNotification := notificationRouteCases[r]
		_, inSystem := systemRouteCases[r]
		if !inLedger && !inAuth && !inActuator && !inPayment && !inNotification && !inSystem {
			t.Errorf("route %q has no row in routeCases, authRouteCases, paymentRouteCases, notificationRouteCases, systemRouteCases or actuatorRouteCases", r)
		}
	}
	for _, rows := range []map[string]bool{keys(authRouteCases), keys(actuatorRouteCases), keys(paymentRouteCases), keys(notificationRouteCases), keys(systemRouteCases)} {
		for r := range rows {
			if !slices.Contains(served, r) {
				t.Errorf("a row names %q, which is not a route", r)
			}
		}
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// TestActuatorRoutesMatrix calls every actuator route as every actor, a
// revoked token included: all answer 200.
func TestActuatorRoutesMatrix(t *testing.T) {
	t.Parallel()
	b := startBank(t, store.SQLite)
	a, _ := b.customer("a")
	clients := map[actor]*client.Client{custA: a, operator: b.staff["operator"], admin: b.staff["admin"], nobody: b.anon,
		"a forged token": b.anon.WithToken("not.a.token")}
	for _, route := range actuatorRoutes() {
		for who, c := range clients {
			res, err := c.Do(context.Background(), http.MethodGet, actuatorRouteCases[route], "", nil, nil)
			if res == nil {
				t.Fatalf("%s as %s: %v", route, who, err)
			}
			if res.Status != http.StatusOK {
				t.Errorf("%s as %s: %d, want 200", route, who, res.Status)
			}
		}
	}
}

// TestAuthRoutesMatrix calls every auth-service route as a customer, another
// customer, an operator, an admin and with no token, each with a fresh
// session (logout-all ends the caller's).
func TestAuthRoutesMatrix(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			emails := map[actor]string{custA: b.customerEmail("a"), custB: b.customerEmail("b"),
				operator: "operator@bank.test", admin: "admin@bank.test"}
			passwords := map[actor]string{custA: "password of a", custB: "password of b",
				operator: "staff password operator", admin: "staff password admin"}
			targetEmail := b.customerEmail("target")
			var target client.User
			if err := b.tokensOf(targetEmail, "password of target").Me(ctx, &target); err != nil {
				t.Fatal(err)
			}
			// A login is a password hash: each actor logs in again only
			// after a route that ends its sessions.
			logins := map[actor]*client.Client{nobody: b.anon}
			for _, route := range authRoutes() {
				rc := authRouteCases[route]
				method, _, _ := strings.Cut(route, " ")
				ends := strings.HasSuffix(route, "/auth/logout") || strings.HasSuffix(route, "/auth/logout-all")
				for _, who := range actors {
					c := logins[who]
					if c == nil {
						c = b.tokensOf(emails[who], passwords[who]).Client
						logins[who] = c
					}
					f := authFixture{email: emails[custB], password: passwords[custB], refresh: "not-a-token", target: target.ID}
					if ends || strings.HasSuffix(route, "/auth/refresh") {
						// These take a refresh token of B's, and use it up.
						f.refresh = b.tokens(emails[custB], passwords[custB]).RefreshToken
					}
					if ends && who != nobody {
						delete(logins, who)
						delete(logins, custB) // B's sessions may be the ones ended
					}
					var body any
					if rc.body != nil {
						body = rc.body(f)
					}
					res, err := c.Do(ctx, method, rc.path(f), "", body, nil)
					if res == nil {
						t.Fatalf("%s as %s: %v", route, who, err)
					}
					if res.Status != rc.want[who] {
						t.Errorf("%s as %s: status %d, want %d (%s)", route, who, res.Status, rc.want[who], res.Body)
					}
				}
			}
		})
	}
}

// TestRevokedTokensMatrix calls every served route with the tokens that must
// no longer work: expired, of a demoted operator, of a locked customer and of
// a removed customer. Every authenticated route answers 401; the routes that
// give tokens do not look at one.
func TestRevokedTokensMatrix(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			a, _ := b.customer("a")
			bc, _ := b.customer("b")
			acct := b.account(a, "EUR", 10_000)
			other := b.account(bc, "EUR", 0)
			tx, err := a.Transfer(ctx, "revoked-fixture", client.Transfer{FromAccountID: acct.ID, ToAccountID: other.ID, Amount: 10, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			lf := fixture{account: acct.ID, other: other.ID, empty: other.ID, hold: "no-hold", tx: tx.ID}

			// An expired token, signed with the bank's own key.
			keys, err := auth.NewKeyring(auth.KeySource{Secret: b.env["BANK_JWT_SECRET"]}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			me, err := a.Me(ctx)
			if err != nil {
				t.Fatal(err)
			}
			expired, err := keys.IssueAccessToken(auth.Principal{UserID: me.ID, Role: auth.RoleAdmin}, time.Now().Add(-auth.AccessTokenTTL-time.Second))
			if err != nil {
				t.Fatal(err)
			}

			// An operator the admin demotes, with the token from before.
			b.createUser("operator", "demoted@bank.test", "demoted operator password")
			demoted := b.tokensOf("demoted@bank.test", "demoted operator password")
			var demotedUser client.User
			if err := demoted.Me(ctx, &demotedUser); err != nil {
				t.Fatal(err)
			}
			if _, err := demoted.Do(ctx, http.MethodPost, "/api/v1/accounts/"+other.ID+"/freeze", "", nil, nil); err != nil {
				t.Fatalf("operator freezes before the demotion: %v", err)
			}
			if _, err := b.staff["admin"].Do(ctx, http.MethodPut, "/api/v1/users/"+demotedUser.ID+"/role", "", map[string]any{"role": "customer"}, nil); err != nil {
				t.Fatalf("demote: %v", err)
			}

			// A customer the operator locks, and one removed from the database.
			locked, lockedID := b.customer("locked")
			if _, err := b.staff["operator"].Do(ctx, http.MethodPost, "/api/v1/users/"+lockedID+"/lock", "", nil, nil); err != nil {
				t.Fatalf("lock: %v", err)
			}
			deleted, deletedID := b.customer("deleted")
			b.removeUser(d, deletedID, deleted)

			revoked := map[string]*client.Client{
				"an expired token": b.anon.WithToken(expired), "a demoted operator's token": demoted.Client,
				"a locked customer's token": locked, "a removed customer's token": deleted,
			}
			af := authFixture{email: "nobody@example.test", password: "not a password", refresh: "not-a-token", target: lockedID}
			for _, route := range servedRoutes() {
				method, _, _ := strings.Cut(route, " ")
				for name, c := range revoked {
					var (
						path string
						body any
						want int
					)
					if rc, ok := routeCases[route]; ok {
						path, want = rc.path(lf), rc.want[nobody]
						if rc.body != nil {
							body = rc.body(lf)
						}
					} else if rc, ok := notificationRouteCases[route]; ok {
						path, want = rc.path(af), rc.want[nobody]
						if rc.body != nil {
							body = rc.body(af)
						}
					} else if rc, ok := systemRouteCases[route]; ok {
						path, want = rc.path(af), rc.want[nobody]
						if rc.body != nil {
							body = rc.body(af)
						}
					} else if rc, ok := paymentRouteCases[route]; ok {
						pf := payFixture{account: acct.ID, payment: "no-payment"}
						path, want = rc.path(pf), rc.want[nobody]
						if rc.body != nil {
							body = rc.body(pf)
						}
					} else {
						rc := authRouteCases[route]
						path, want = rc.path(af), rc.want[nobody]
						if rc.body != nil {
							body = rc.body(af)
						}
						switch route { // these look at their body, not the token
						case "POST /api/v1/auth/login", "POST /api/v1/auth/refresh":
							want = http.StatusUnauthorized
						}
					}
					res, err := c.Do(ctx, method, path, "revoked-"+randomHex(4), body, nil)
					if res == nil {
						t.Fatalf("%s with %s: %v", route, name, err)
					}
					if res.Status != want {
						t.Errorf("%s with %s: status %d, want %d (%s)", route, name, res.Status, want, res.Body)
					}
				}
			}
			// What the issue saw: the removed user's GET /accounts answered 200 [].
			if _, err := deleted.Do(ctx, http.MethodGet, "/api/v1/accounts", "", nil, nil); status(t, err) != http.StatusUnauthorized {
				t.Errorf("GET /accounts as a removed user: %v, want 401", err)
			}
		})
	}
}

// TestNotificationRoutesMatrix calls every notification-service route as
// a customer, another customer, an operator, an admin and with no token.
func TestNotificationRoutesMatrix(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			ctx := context.Background()
			a, _ := b.customer("a")
			bc, _ := b.customer("b")
			clients := map[actor]*client.Client{custA: a, custB: bc, operator: b.staff["operator"],
				admin: b.staff["admin"], nobody: b.anon}
			for _, route := range notificationRoutes() {
				rc := notificationRouteCases[route]
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
		})
	}
}

// TestNotificationPreferencesThroughServeAll: a customer sets a webhook
// through the real program, gets its secret once, and another customer
// does not see it; bad input is a 400.
func TestNotificationPreferencesThroughServeAll(t *testing.T) {
	t.Parallel()
	b := startBank(t, store.SQLite)
	ctx := context.Background()
	a, _ := b.customer("a")
	bc, _ := b.customer("b")
	set, err := a.SetNotificationPreferences(ctx, client.NotificationPreferences{Email: true, WebhookURL: "https://hooks.example.test/a"})
	if err != nil || !strings.HasPrefix(set.WebhookSecret, "whsec_") {
		t.Fatalf("set: %+v, %v; want a webhook secret", set, err)
	}
	got, err := a.NotificationPreferences(ctx)
	if err != nil || got.WebhookURL != "https://hooks.example.test/a" || got.WebhookSecret != "" {
		t.Errorf("read back: %+v, %v", got, err)
	}
	if other, err := bc.NotificationPreferences(ctx); err != nil || other.WebhookURL != "" || !other.Email {
		t.Errorf("another customer sees %+v, %v; want their own defaults", other, err)
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "https://u:p@hooks.example.test/"} {
		if _, err := a.SetNotificationPreferences(ctx, client.NotificationPreferences{Email: true, WebhookURL: u}); status(t, err) != http.StatusBadRequest {
			t.Errorf("webhook %s: %v, want 400", u, err)
		}
	}
	if list, err := a.Notifications(ctx, 10, ""); err != nil || list.Data == nil {
		t.Errorf("list: %+v, %v", list, err)
	}
}

// customerEmail registers a customer named name, with password "password of
// name", and returns its email.
func (b *testBank) customerEmail(name string) string {
	b.t.Helper()
	email := name + "-" + randomHex(4) + "@example.test"
	if _, err := b.anon.Register(context.Background(), email, "password of "+name, name); err != nil {
		b.t.Fatalf("register %s: %v", name, err)
	}
	return email
}

// tokens logs email in and returns its tokens.
func (b *testBank) tokens(email, password string) *client.Tokens {
	b.t.Helper()
	tok, err := b.anon.Login(context.Background(), email, password)
	if err != nil {
		b.t.Fatalf("login %s: %v", email, err)
	}
	return tok
}

// tokensOf logs email in and returns a client with the access token.
func (b *testBank) tokensOf(email, password string) *meClient {
	b.t.Helper()
	return &meClient{b.anon.WithToken(b.tokens(email, password).AccessToken)}
}

// meClient is a client that can ask who it is.
type meClient struct{ *client.Client }

func (c *meClient) Me(ctx context.Context, u *client.User) error {
	_, err := c.Do(ctx, http.MethodGet, "/api/v1/auth/me", "", nil, u)
	return err
}

// createUser runs "bank users create" for a user with role.
func (b *testBank) createUser(role, email, password string) {
	b.t.Helper()
	env := map[string]string{"BANK_USER_PASSWORD": password}
	for k, v := range b.env {
		env[k] = v
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"bank", "users", "create", "--role", role, "--email", email},
		func(k string) string { return env[k] }, strings.NewReader(""), &out, &out)
	if err != nil {
		b.t.Fatalf("users create %s: %v\n%s", email, err, out.String())
	}
}

// removeUser deletes user id, who owns nothing, from the database, as an
// erasure done outside the API would, and waits until c, the user's client,
// is refused: the platform may trust its cached state of the user for up to
// auth.UserStateTTL.
func (b *testBank) removeUser(d store.Dialect, id string, c *client.Client) {
	b.t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, b.env["BANK_DATABASE_URL"], store.Options{AppName: "test"})
	if err != nil {
		b.t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM refresh_tokens WHERE user_id = $1`, `DELETE FROM users WHERE id = $1`} {
		if _, err := db.ExecContext(ctx, q, id); err != nil {
			b.t.Fatalf("remove user (%s): %v", d, err)
		}
	}
	poll.Until(b.t, 30*time.Second, "the removed user's token to be refused", func() bool {
		res, _ := c.Do(ctx, http.MethodGet, "/api/v1/auth/me", "", nil, nil)
		return res != nil && res.Status == http.StatusUnauthorized
	})
}
