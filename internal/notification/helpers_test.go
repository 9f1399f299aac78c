package notification

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/notification/notificationtest"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// The SMTP server of the tests, in notificationtest so cmd/bank's tests
// use it too.
type smtpServer struct {
	addr string
	*notificationtest.SMTPServer
}

type sentMail struct {
	from, to string
	data     string
}

func startSMTP(t *testing.T) *smtpServer { return startSMTPServer(t) }

// startSMTPB starts one for a benchmark and returns its address.
func startSMTPB(b *testing.B) string { return startSMTPServer(b).addr }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startSMTPServer(t testing.TB) *smtpServer {
	s := notificationtest.StartSMTP(t)
	return &smtpServer{addr: s.Addr, SMTPServer: s}
}

func (s *smtpServer) sent() []sentMail {
	var out []sentMail
	for _, m := range s.Sent() {
		out = append(out, sentMail{m.From, m.To, m.Data})
	}
	return out
}

// hookReceiver is a webhook endpoint: it checks each POST's signature with
// the secret of the user in its path (/hook/{user}) and counts the valid
// ones by event id and user. fail decides which event ids it answers 500.
type hookReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]string
	got     map[string]int // event_id + " " + user → valid deliveries
	bodies  []map[string]any
	bad     int // requests with a wrong signature
	fail    atomic.Pointer[func(eventID string) bool]
}

func startHooks(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{secrets: map[string]string{}, got: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimPrefix(r.URL.Path, "/hook/")
		body, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get("X-Bank-Timestamp"), 10, 64)
		h.mu.Lock()
		secret := h.secrets[user]
		h.mu.Unlock()
		want := Sign(secret, ts, body)
		if err != nil || secret == "" || !hmac.Equal([]byte(r.Header.Get("X-Bank-Signature")), []byte(want)) ||
			time.Since(time.Unix(ts, 0)) > time.Minute || r.Header.Get("X-Bank-Delivery-Id") == "" {
			h.mu.Lock()
			h.bad++
			h.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		eventID, _ := doc["event_id"].(string)
		if f := h.fail.Load(); f != nil && (*f)(eventID) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h.mu.Lock()
		h.got[eventID+" "+user]++
		h.bodies = append(h.bodies, doc)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) url(user string) string { return h.srv.URL + "/hook/" + user }

func (h *hookReceiver) setFail(f func(eventID string) bool) { h.fail.Store(&f) }

func (h *hookReceiver) count(eventID, user string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[eventID+" "+user]
}

// testConfig is a Config for tests: private webhooks allowed, short waits.
func testConfig(smtpAddr string) Config {
	c := DefaultConfig()
	if smtpAddr != "" {
		c.SMTPURL = "smtp://" + smtpAddr
	}
	c.AllowPrivateWebhooks = true
	c.Wait = 50 * time.Millisecond
	c.WebhookBackoff = time.Millisecond
	c.SendTimeout = 2 * time.Second
	c.Lease = 10 * time.Second
	c.MessageTimeout = 10 * time.Second
	return c
}

func newTestService(t *testing.T, db *store.DB, cfg Config) *Service {
	t.Helper()
	s, err := New(db, slog.New(slog.DiscardHandler), time.Now, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addUser inserts a customer directly: auth-service is not under test.
func addUser(t testing.TB, db *store.DB, id, email, name string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO users (id, email, name, role, password_hash, created_at)
		VALUES ($1, $2, $3, 'customer', 'x', $4)`, id, email, name, time.Now().UTC()); err != nil {
		t.Fatalf("add user %s: %v", id, err)
	}
}

// setPrefs stores preferences for user and returns the webhook secret made.
func setPrefs(t testing.TB, s *Service, user string, email, sms bool, phone, hook string) string {
	t.Helper()
	in := PreferencesInput{Email: &email, SMS: &sms}
	if phone != "" {
		in.Phone = &phone
	}
	if hook != "" {
		in.WebhookURL = &hook
	}
	v, err := s.SetPreferences(context.Background(), bank.Principal{UserID: user, Role: bank.RoleCustomer}, in)
	if err != nil {
		t.Fatalf("set preferences of %s: %v", user, err)
	}
	return v.WebhookSecret
}

// transferEvent is the body of a transaction.posted event moving amount
// from from's account to to's, as the ledger writes it.
func transferEvent(eventID, from, to string, amount int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"event_id": eventID, "type": "transaction.posted", "occurred_at": time.Now().UTC(),
		"transaction_id": "tx-" + eventID, "transaction_type": "transfer", "amount": amount, "currency": "EUR",
		"description": "rent", "postings": []map[string]any{
			{"account_id": "acc-" + from, "owner_id": from, "amount": -amount},
			{"account_id": "acc-" + to, "owner_id": to, "amount": amount},
		},
	})
	return b
}

// receiveOne receives the next message of q, failing the test after a while.
func receiveOne(t *testing.T, q queue.Queue) queue.Message {
	t.Helper()
	ms, err := q.Receive(context.Background(), 1, 2*time.Second)
	if err != nil || len(ms) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(ms))
	}
	return ms[0]
}

// rows counts notifications rows matching where.
func rows(t testing.TB, db *store.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notifications WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
