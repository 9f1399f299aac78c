package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// testAuth authenticates the user named in X-Test-User: tokens are
// auth-service's business, tested there and end to end in cmd/bank.
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) (auth.Principal, error) {
	u := r.Header.Get("X-Test-User")
	if u == "" {
		return auth.Principal{}, bank.Errorf(bank.KindUnauthenticated, "unauthenticated", "a bearer token is required")
	}
	return auth.Principal{UserID: u, Role: bank.RoleCustomer}, nil
}

// api serves s's routes as serve does, behind testAuth.
func api(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	Routes(mux, log, s, auth.Middleware(testAuth{}, log))
	srv := httptest.NewServer(httpapi.JSONMux(mux))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, srv *httptest.Server, user, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a answer
	a.status = res.StatusCode
	var raw json.RawMessage
	_ = json.NewDecoder(res.Body).Decode(&raw)
	a.raw = string(raw)
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func errorCode(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestPreferencesAPI(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newTestService(t, db, testConfig(""))
		srv := api(t, s)

		got := call(t, srv, "alice", "GET", "/api/v1/notifications/preferences", "")
		if got.status != 200 || got.body["email"] != true || got.body["sms"] != false || got.body["webhook_url"] != nil {
			t.Fatalf("defaults: %d %s, want email only", got.status, got.raw)
		}
		if a := call(t, srv, "", "GET", "/api/v1/notifications/preferences", ""); a.status != 401 {
			t.Errorf("no token: %d, want 401", a.status)
		}

		hook := "https://hooks.example.test/bank"
		got = call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences",
			`{"email":false,"sms":true,"phone":"+447700900123","webhook_url":"`+hook+`"}`)
		secret, _ := got.body["webhook_secret"].(string)
		if got.status != 200 || !strings.HasPrefix(secret, "whsec_") || got.body["webhook_url"] != hook {
			t.Fatalf("set: %d %s, want 200 with a webhook secret", got.status, got.raw)
		}
		got = call(t, srv, "alice", "GET", "/api/v1/notifications/preferences", "")
		if got.body["email"] != false || got.body["sms"] != true || got.body["webhook_url"] != hook || got.body["webhook_secret"] != nil {
			t.Errorf("read back: %s, want the stored choice and no secret", got.raw)
		}
		if strings.Contains(got.raw, secret) {
			t.Error("GET shows the webhook secret")
		}
		// Another user sees their own defaults, not alice's.
		if b := call(t, srv, "bob", "GET", "/api/v1/notifications/preferences", ""); b.body["webhook_url"] != nil {
			t.Errorf("bob sees %s", b.raw)
		}

		// The same URL again keeps the secret (and does not show it); a
		// rotation makes a new one; removing the URL removes it.
		got = call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", `{"email":true,"sms":false,"webhook_url":"`+hook+`"}`)
		if got.status != 200 || got.body["webhook_secret"] != nil {
			t.Errorf("unchanged URL: %d %s, want no new secret", got.status, got.raw)
		}
		if p, _ := s.preferences(context.Background(), "alice"); p.webhookSecret != secret {
			t.Error("the secret changed without a rotation")
		}
		got = call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", `{"email":true,"sms":false,"webhook_url":"`+hook+`","rotate_webhook_secret":true}`)
		if s2, _ := got.body["webhook_secret"].(string); s2 == "" || s2 == secret {
			t.Errorf("rotation: %s, want a new secret", got.raw)
		}
		got = call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", `{"email":true,"sms":false,"webhook_url":null}`)
		if p, _ := s.preferences(context.Background(), "alice"); got.status != 200 || p.WebhookURL != "" || p.webhookSecret != "" {
			t.Errorf("removing the webhook: %d %s, stored %+v", got.status, got.raw, p)
		}
	})
}

// TestPreferencesRefuseHostileInput: every bad body is a 400 with a code,
// never a 500, and changes nothing.
func TestPreferencesRefuseHostileInput(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig("")
		cfg.AllowPrivateWebhooks = false // as in production
		s := newTestService(t, db, cfg)
		srv := api(t, s)
		ok := `{"email":true,"sms":false,"webhook_url":"https://hooks.example.test/x"}`
		if a := call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", ok); a.status != 200 {
			t.Fatalf("valid body: %d %s", a.status, a.raw)
		}
		hook := func(u string) string { return `{"email":true,"sms":false,"webhook_url":` + mustJSON(u) + `}` }
		cases := map[string]string{
			"empty body":            ``,
			"not an object":         `[true]`,
			"trailing data":         `{"email":true,"sms":false}{}`,
			"unknown field":         `{"email":true,"sms":false,"admin":true}`,
			"duplicate key":         `{"email":true,"email":false,"sms":false}`,
			"case-folded key":       `{"Email":true,"sms":false}`,
			"email missing":         `{"sms":false}`,
			"sms missing":           `{"email":true}`,
			"email a string":        `{"email":"yes","sms":false}`,
			"sms a number":          `{"email":true,"sms":1}`,
			"sms without phone":     `{"email":true,"sms":true}`,
			"phone not E.164":       `{"email":true,"sms":true,"phone":"0044 7700 900123"}`,
			"phone with letters":    `{"email":true,"sms":true,"phone":"+44abc"}`,
			"phone with NUL":        `{"email":true,"sms":true,"phone":"+447700900123\u0000"}`,
			"url NUL":               hook("https://a.example.test/\x00"),
			"url newline":           hook("https://a.example.test/\r\nX-Evil: 1"),
			"url invalid UTF-8":     `{"email":true,"sms":false,"webhook_url":"https://a.example.test/` + "\xff" + `"}`,
			"url not a string":      `{"email":true,"sms":false,"webhook_url":5}`,
			"ftp":                   hook("ftp://files.example.test/x"),
			"file":                  hook("file:///etc/passwd"),
			"javascript":            hook("javascript:alert(1)"),
			"gopher":                hook("gopher://a.example.test:70/_x"),
			"no scheme":             hook("hooks.example.test/x"),
			"credentials":           hook("https://user:pass@hooks.example.test/x"),
			"user only":             hook("https://user@hooks.example.test/x"),
			"no host":               hook("https:///x"),
			"fragment":              hook("https://hooks.example.test/x#y"),
			"bad port":              hook("https://hooks.example.test:99999/x"),
			"too long":              hook("https://hooks.example.test/" + strings.Repeat("a", 2100)),
			"loopback":              hook("http://127.0.0.1:8080/x"),
			"loopback v6":           hook("http://[::1]/x"),
			"localhost":             hook("http://localhost/x"),
			"metadata service":      hook("http://169.254.169.254/latest/meta-data/"),
			"private":               hook("http://10.1.2.3/x"),
			"private 192":           hook("https://192.168.0.1/x"),
			"mapped v4":             hook("http://[::ffff:127.0.0.1]/x"),
			"unspecified":           hook("http://0.0.0.0/x"),
			"cgnat":                 hook("http://100.64.0.1/x"),
			"nat64 loopback":        hook("http://[64:ff9b::7f00:1]/x"),
			"nat64 metadata":        hook("http://[64:ff9b::a9fe:a9fe]/x"),
			"6to4":                  hook("http://[2002:7f00:1::1]/x"),
			"teredo":                hook("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x"),
			"v4-compatible":         hook("http://[::127.0.0.1]/x"),
			"v4-compatible hex":     hook("http://[::7f00:1]/x"),
			"short v4":              hook("http://127.1/x"),
			"hex v4":                hook("http://0x7f000001/x"),
			"decimal v4":            hook("http://2130706433/x"),
			"octal v4":              hook("http://0177.0.0.1/x"),
			"trailing dot":          hook("http://169.254.169.254./latest/meta-data/"),
			"localhost dot":         hook("http://localhost./x"),
			"localhost subdomain":   hook("http://foo.localhost/x"),
			"localhost upper":       hook("http://LOCALHOST/x"),
			"zone":                  hook("http://[fe80::1%25eth0]/x"),
			"reserved":              hook("http://240.0.0.1/x"),
			"rotate without a hook": `{"email":true,"sms":false,"rotate_webhook_secret":true}`,
		}
		for name, body := range cases {
			a := call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", body)
			if a.status != 400 || errorCode(a) == "" {
				t.Errorf("%s: %d %s, want 400 with a code", name, a.status, a.raw)
			}
		}
		p, err := s.preferences(context.Background(), "alice")
		if err != nil || p.WebhookURL != "https://hooks.example.test/x" || p.SMS {
			t.Errorf("after the refusals: %+v, %v; want the valid body's preferences", p, err)
		}
		if a := call(t, srv, "alice", "PUT", "/api/v1/notifications/preferences", "{\"email\":true,\"sms\":false}"); a.status != 200 {
			t.Errorf("valid again: %d", a.status)
		}
	})
}

func TestListNotifications(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Now())
		s, err := New(db, discard(), clk.Now, testConfig(""), nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := api(t, s)
		addUser(t, db, "alice", "alice@example.test", "Alice")
		addUser(t, db, "bob", "bob@example.test", "Bob")
		q := newMemQueue(time.Minute, 5)
		for i := range 5 {
			body := transferEvent(fmt.Sprintf("ev%d", i), "alice", "bob", int64(100+i))
			if got := s.Handle(ctx, q, receiveAfterSend(t, q, body)); got != "delivered" {
				t.Fatalf("event %d: %s", i, got)
			}
			clk.Advance(time.Millisecond) // distinct created_at, to check the order
		}
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			a := call(t, srv, "alice", "GET", "/api/v1/notifications?limit=2&cursor="+cursor, "")
			if a.status != 200 {
				t.Fatalf("page %d: %d %s", page, a.status, a.raw)
			}
			data, _ := a.body["data"].([]any)
			for _, d := range data {
				n := d.(map[string]any)
				if n["channel"] != "email" || n["status"] != StatusLogged || n["event"] != "transaction.posted" {
					t.Errorf("notification %v", n)
				}
				seen = append(seen, n["event_id"].(string))
			}
			next, _ := a.body["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if want := []string{"ev4", "ev3", "ev2", "ev1", "ev0"}; strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Errorf("alice's notifications %v, want %v, newest first, each once", seen, want)
		}
		if a := call(t, srv, "carol", "GET", "/api/v1/notifications", ""); a.status != 200 || a.raw != `{"data":[]}` {
			t.Errorf("carol sees %d %s, want an empty list", a.status, a.raw)
		}
		for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=nope", "cursor=%00", "cursor=e30"} {
			if a := call(t, srv, "alice", "GET", "/api/v1/notifications?"+q, ""); a.status != 400 || errorCode(a) == "" {
				t.Errorf("?%s: %d %s, want 400", q, a.status, a.raw)
			}
		}
	})
}

// TestWebhookDialerRefusesPrivateAddresses: the address check holds at
// dial time, after name resolution, whatever the stored URL says.
func TestWebhookDialerRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()
	cfg := testConfig("")
	cfg.AllowPrivateWebhooks = false
	w := newWebhookClient(cfg)
	res, err := w.http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		res.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "not public") || hits != 0 {
		t.Errorf("post to %s: %v, %d hits; want refused before connecting", srv.URL, err, hits)
	}
	// The same URL through post is refused by the URL check.
	if err := w.post(context.Background(), srv.URL, "s", "d", []byte("{}")); err == nil || hits != 0 {
		t.Errorf("post: %v, %d hits", err, hits)
	}
	cfg.AllowPrivateWebhooks = true
	if err := newWebhookClient(cfg).post(context.Background(), srv.URL, "s", "d", []byte("{}")); err != nil || hits != 1 {
		t.Errorf("allowed: %v, %d hits; want delivered", err, hits)
	}
}
