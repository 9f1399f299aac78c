package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/notification/notificationtest"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestNotificationsThroughServeAll: "serve all" consumes its table queue.
// An event published twice (a redelivery) reaches each side of a transfer
// once: an email each through a real SMTP exchange, and the payer's signed
// webhook; each sees only their own notifications.
func TestNotificationsThroughServeAll(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mail := notificationtest.StartSMTP(t)
			var (
				mu     sync.Mutex
				secret string
				hooks  []map[string]any
				forged int
			)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get("X-Bank-Timestamp"), 10, 64)
				mu.Lock()
				defer mu.Unlock()
				if !hmac.Equal([]byte(r.Header.Get("X-Bank-Signature")), []byte(notification.Sign(secret, ts, body))) {
					forged++
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				var doc map[string]any
				_ = json.Unmarshal(body, &doc)
				hooks = append(hooks, doc)
			}))
			defer hook.Close()
			dbURL := storetest.URL(t, d)
			b := startBankWith(t, dbURL, map[string]string{"BANK_SMTP_URL": mail.URL(), "BANK_WEBHOOK_ALLOW_PRIVATE": "true"})
			emailA, emailB := b.customerEmail("a"), b.customerEmail("b")
			a, bc := b.tokensOf(emailA, "password of a"), b.tokensOf(emailB, "password of b")
			var ua, ub client.User
			if err := a.Me(ctx, &ua); err != nil {
				t.Fatal(err)
			}
			if err := bc.Me(ctx, &ub); err != nil {
				t.Fatal(err)
			}
			p, err := a.SetNotificationPreferences(ctx, client.NotificationPreferences{Email: true, WebhookURL: hook.URL + "/a"})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			secret = p.WebhookSecret
			mu.Unlock()

			// The event as the outbox relay publishes it, twice.
			db, err := store.Open(ctx, dbURL, store.Options{AppName: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			q, err := queue.OpenTable(ctx, db, queue.DefaultTableConfig())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(map[string]any{"event_id": "ev-serve-all", "type": "transaction.posted",
				"occurred_at": time.Now().UTC(), "transaction_id": "tx1", "transaction_type": "transfer",
				"amount": 4200, "currency": "EUR", "description": "",
				"postings": []map[string]any{{"account_id": "x", "owner_id": ua.ID, "amount": -4200},
					{"account_id": "y", "owner_id": ub.ID, "amount": 4200}}})
			if err := q.Send(ctx, body, body); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, 30*time.Second, "the queue to be consumed", func() bool {
				st, err := q.Stats(ctx)
				return err == nil && st.Main.Visible+st.Main.InFlight == 0
			})

			got := map[string]string{}
			for _, m := range mail.Sent() {
				for _, l := range strings.Split(m.Data, "\r\n") {
					if s, ok := strings.CutPrefix(l, "Subject: "); ok {
						got[m.To] += s
					}
				}
			}
			want := map[string]string{emailA: "You paid 42.00 EUR", emailB: "You received 42.00 EUR"}
			if len(got) != 2 || got[emailA] != want[emailA] || got[emailB] != want[emailB] || len(mail.Sent()) != 2 {
				t.Errorf("emails %v (%d), want one each: %v", got, len(mail.Sent()), want)
			}
			mu.Lock()
			if len(hooks) != 1 || forged != 0 || hooks[0]["event_id"] != "ev-serve-all" {
				t.Errorf("webhooks %v (%d badly signed), want one", hooks, forged)
			}
			mu.Unlock()
			for who, c := range map[string]*meClient{"a": a, "b": bc} {
				list, err := c.Notifications(ctx, 10, "")
				if err != nil {
					t.Fatal(err)
				}
				channels := map[string]string{}
				for _, n := range list.Data {
					channels[n.Channel] = n.Status
				}
				wantChannels := map[string]string{"email": "sent"}
				if who == "a" {
					wantChannels["webhook"] = "sent"
				}
				if len(channels) != len(wantChannels) || channels["email"] != "sent" || channels["webhook"] != wantChannels["webhook"] {
					t.Errorf("%s's notifications %+v, want %v", who, list.Data, wantChannels)
				}
			}
			if _, body := get(t, b.url+"/actuator/prometheus"); !strings.Contains(body, `bank_notification_deliveries_total{channel="email",outcome="sent"} 2`) {
				t.Error("the email deliveries are not counted")
			}
			var health struct {
				Components map[string]struct {
					Status string `json:"status"`
				} `json:"components"`
			}
			if _, err := b.staff["operator"].Do(ctx, http.MethodGet, "/actuator/health", "", nil, &health); err != nil ||
				health.Components["notificationConsumer"].Status != "UP" {
				t.Errorf("health: %+v, %v; want notificationConsumer UP", health, err)
			}
		})
	}
}

// TestPaymentOutcomesNotified: a payment that settles through the simulated
// rail reaches its owner as payment.settled, by email, read from the event
// payment-service writes.
func TestPaymentOutcomesNotified(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mail := notificationtest.StartSMTP(t)
			b := startBankWith(t, storetest.URL(t, d), map[string]string{"BANK_SMTP_URL": mail.URL(),
				"BANK_PAYMENT_SIM_DELAY": "100ms", "BANK_PAYMENT_SUBMIT_INTERVAL": "100ms", "BANK_PAYMENT_POLL_INTERVAL": "100ms",
				"BANK_PAYMENT_SIM_FAIL_RATE": "0", "BANK_PAYMENT_SIM_RETURN_RATE": "0"})
			email := b.customerEmail("payer")
			c := b.tokensOf(email, "password of payer").Client
			acct := b.account(c, "EUR", 10_000)
			if _, err := c.Do(ctx, http.MethodPost, "/api/v1/payments", "pay-1", paymentOrder(acct.ID, 1234), nil); err != nil {
				t.Fatal(err)
			}
			var settled *client.Notification
			var last []client.Notification
			if !poll.Wait(time.Minute, func() bool {
				list, err := c.Notifications(ctx, 50, "")
				if err != nil {
					t.Fatal(err)
				}
				last = list.Data
				for i, n := range list.Data {
					if n.Event == "payment.settled" && n.Status == "sent" {
						settled = &list.Data[i]
					}
				}
				return settled != nil
			}) {
				t.Fatalf("no payment.settled notification: %+v", last)
			}
			if settled.Subject != "Your payment of 12.34 EUR was completed" {
				t.Errorf("subject %q", settled.Subject)
			}
			var found bool
			for _, m := range mail.Sent() {
				found = found || (m.To == email && strings.Contains(m.Data, "Subject: Your payment of 12.34 EUR was completed"))
			}
			if !found {
				t.Error("no settlement email")
			}
		})
	}
}
