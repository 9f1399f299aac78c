package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/notification/notificationtest"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestTransfersNotifiedOnceAcrossRestart: 1,000 transfers through the API
// of "serve all", which is stopped and started again midway (its outbox
// relay and notification consumer with it), notify both sides of every
// transfer exactly once: one email per recipient and transaction through a
// real SMTP exchange, and one notification in each customer's list.
func TestTransfersNotifiedOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		for _, channel := range []string{"smtp", "log-only"} {
			t.Run(string(d)+"/"+channel, func(t *testing.T) {
				t.Parallel()
				notifiedOnceAcrossRestart(t, d, channel)
			})
		}
	}
}

// notifiedOnceAcrossRestart is TestTransfersNotifiedOnceAcrossRestart on
// one database, with emails through an SMTP server or, as the platform
// ships, log-only (consumed in place from the table queue).
func notifiedOnceAcrossRestart(t *testing.T, d store.Dialect, channel string) {
	ctx := context.Background()
	mail := notificationtest.StartSMTP(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String() // the same port for both runs: the clients keep their URL
	ln.Close()
	dbURL := storetest.MigratedURL(t, d)
	env := map[string]string{
		"BANK_DATABASE_URL": dbURL, "BANK_HTTP_ADDR": addr, "BANK_DATA_DIR": t.TempDir(),
		"BANK_JWT_SECRET": randomHex(32), "BANK_LOG_LEVEL": "info", "BANK_RATE_LIMIT": "0",
		"BANK_SHUTDOWN_TIMEOUT": "20s",
	}
	status := "logged"
	if channel == "smtp" {
		env["BANK_SMTP_URL"], status = mail.URL(), "sent"
	}
	db, err := store.Open(ctx, dbURL, store.Options{AppName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	delivered := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE event_type = 'transaction.posted' AND status = $1`, status).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	getenv := func(k string) string { return env[k] }
	start := func() (stop func()) {
		t.Helper()
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		var out serveLog
		go func() { done <- run(sctx, []string{"bank", "serve", "all"}, getenv, nil, &out, &out) }()
		waitListening(t, done, &out)
		waitReady(t, "http://"+addr, done, &out)
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve all: %v", err)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("serve all did not stop within 40s")
			}
		}
	}
	stop := start()
	anon := client.New("http://"+addr, checkedHTTP(t, 30*time.Second, nil))
	b := &testBank{t: t, env: env, url: "http://" + addr, anon: anon, staff: map[string]*client.Client{}}
	var cout bytes.Buffer
	if err := run(ctx, []string{"bank", "users", "create", "--role", "operator", "--email", "op@bank.test"},
		func(k string) string {
			if k == "BANK_USER_PASSWORD" {
				return "staff password operator"
			}
			return env[k]
		}, strings.NewReader(""), &cout, &cout); err != nil {
		t.Fatalf("users create: %v\n%s", err, cout.String())
	}
	b.staff["operator"] = b.login("op@bank.test", "staff password operator")

	const customers, transfers = 10, 200
	clients := make([]*client.Client, customers)
	emails := make([]string, customers)
	accounts := make([]string, customers)
	for i := range customers {
		emails[i] = b.customerEmail(fmt.Sprintf("c%d", i))
		clients[i] = b.login(emails[i], fmt.Sprintf("password of c%d", i))
		accounts[i] = b.account(clients[i], "EUR", 1_000_000).ID
	}

	// The transfers, from four clients at once; one that fails
	// while the server restarts is sent again with its key.
	var (
		next, posted atomic.Int64
		wg           sync.WaitGroup
	)
	txs := make([]string, transfers)
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= transfers {
					return
				}
				from, to := i%customers, (i+1+i/customers)%customers
				if from == to {
					to = (to + 1) % customers
				}
				// Retried with the same key while serve all restarts.
				var err error
				if !poll.Wait(90*time.Second, func() bool {
					var tx *client.Transaction
					tx, err = clients[from].Transfer(ctx, fmt.Sprintf("n-%d", i),
						client.Transfer{FromAccountID: accounts[from], ToAccountID: accounts[to], Amount: 1, Currency: "EUR"})
					if err != nil {
						return false
					}
					txs[i] = tx.ID
					posted.Add(1)
					return true
				}) {
					t.Errorf("transfer %d: %v", i, err)
					return
				}
			}
		})
	}
	poll.Until(t, time.Minute, "a third of the transfers", func() bool { return posted.Load() >= transfers/3 })
	stop() // relay and consumer stop with it, mid-way
	before := delivered()
	stop = start()
	defer stop()
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every deposit's owner, and both sides of every transfer.
	want := customers + 2*transfers
	// Done once every event's message is deleted: then none can
	// come back to be sent again.
	poll.Wait(2*time.Minute, func() bool { return delivered() >= want && waiting(t, db) == 0 })
	if n, w := delivered(), waiting(t, db); n != want || w != 0 {
		t.Fatalf("%d notifications sent and %d messages waiting, want %d and none", n, w, want)
	}
	if before == 0 || before >= want {
		t.Errorf("%d notifications before the restart: the restart did not come mid-way", before)
	}
	// What each customer should have: their deposit, and each
	// transfer they are a side of.
	expected := make([]int, customers)
	for i := range transfers {
		from, to := i%customers, (i+1+i/customers)%customers
		if from == to {
			to = (to + 1) % customers
		}
		expected[from]++
		expected[to]++
	}
	for i := range expected {
		expected[i]++
	}
	if channel != "smtp" {
		listsHoldEachOnce(t, clients, expected)
		return
	}

	txInText := regexp.MustCompile(`Transaction (\S+)\.`)
	perTx := map[string]int{}
	for _, m := range mail.Sent() {
		tx := txInText.FindStringSubmatch(m.Data)
		if tx == nil {
			t.Fatalf("email without a transaction: %s", m.Data)
		}
		perTx[m.To+" "+tx[1]]++
	}
	if len(perTx) != want || len(mail.Sent()) != want {
		t.Errorf("%d emails to %d (recipient, transaction) pairs, want %d of each", len(mail.Sent()), len(perTx), want)
	}
	for k, n := range perTx {
		if n != 1 {
			t.Errorf("%s: %d emails, want 1", k, n)
		}
	}
	for i, tx := range txs {
		from, to := i%customers, (i+1+i/customers)%customers
		if from == to {
			to = (to + 1) % customers
		}
		if perTx[emails[from]+" "+tx] != 1 || perTx[emails[to]+" "+tx] != 1 {
			t.Errorf("transfer %d (%s) did not reach both sides once", i, tx)
		}
	}
	for i, email := range emails {
		var mine int
		for k := range perTx {
			if strings.HasPrefix(k, email+" ") {
				mine++
			}
		}
		if mine != expected[i] {
			t.Errorf("customer %d was emailed %d times, want %d", i, mine, expected[i])
		}
	}
	listsHoldEachOnce(t, clients, expected)
}

// listsHoldEachOnce checks that customer i's notification list holds
// want[i] notifications, each event once.
func listsHoldEachOnce(t *testing.T, clients []*client.Client, want []int) {
	t.Helper()
	ctx := context.Background()
	for i, c := range clients {
		seen := map[string]bool{}
		cursor := ""
		for {
			page, err := c.Notifications(ctx, 500, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page.Data {
				if seen[n.EventID] {
					t.Errorf("customer %d sees event %s twice", i, n.EventID)
				}
				seen[n.EventID] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != want[i] {
			t.Errorf("customer %d lists %d notifications, want %d", i, len(seen), want[i])
		}
	}
}

// waiting counts the messages of the platform's table queue, in flight or
// not.
func waiting(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM queue_messages WHERE queue = $1`, event.Queue).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPoisonedWebhooksRedrivenByTheCommand: through "serve all" and its
// relay, the transfers whose webhooks fail (amounts ending in 7) are exactly
// the messages that land in the dead-letter queue; every email went out
// once meanwhile. After the endpoint is fixed, `bank queue redrive` brings
// them back and each failed webhook is delivered once; nothing else is
// sent again.
func TestPoisonedWebhooksRedrivenByTheCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for messages to dead-letter")
	}
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mail := notificationtest.StartSMTP(t)
			var (
				mu      sync.Mutex
				secrets = map[string]string{}
				got     = map[string]int{} // event_id + " " + customer → valid deliveries
				broken  = true
			)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				who := strings.TrimPrefix(r.URL.Path, "/")
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get("X-Bank-Timestamp"), 10, 64)
				var doc struct {
					EventID string `json:"event_id"`
					Data    struct {
						Amount int64 `json:"amount"`
					} `json:"data"`
				}
				_ = json.Unmarshal(body, &doc)
				mu.Lock()
				defer mu.Unlock()
				if !hmac.Equal([]byte(r.Header.Get("X-Bank-Signature")), []byte(notification.Sign(secrets[who], ts, body))) {
					t.Errorf("webhook to %s with a bad signature", who)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if broken && (doc.Data.Amount%10 == 7 || doc.Data.Amount%10 == -7) {
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				got[doc.EventID+" "+who]++
			}))
			defer hook.Close()
			dbURL := storetest.MigratedURL(t, d)
			b := startBankWith(t, dbURL, map[string]string{"BANK_SMTP_URL": mail.URL(), "BANK_WEBHOOK_ALLOW_PRIVATE": "true"})
			cli := map[string]string{"BANK_DATABASE_URL": dbURL}
			// Short visibility, so five failed receives take seconds.
			if out, err := runArgs(t, cli, "queue", "set-visibility", "--seconds", "2"); err != nil {
				t.Fatalf("set-visibility: %v\n%s", err, out)
			}
			custs := map[string]*client.Client{}
			for _, who := range []string{"a", "b"} {
				c, _ := b.customer(who)
				custs[who] = c
				p, err := c.SetNotificationPreferences(ctx, client.NotificationPreferences{Email: true, WebhookURL: hook.URL + "/" + who})
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				secrets[who] = p.WebhookSecret
				mu.Unlock()
			}
			from, to := b.account(custs["a"], "EUR", 100_000), b.account(custs["b"], "EUR", 0)
			const transfers = 50
			for i := 1; i <= transfers; i++ {
				if _, err := custs["a"].Transfer(ctx, fmt.Sprintf("p-%d", i),
					client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: int64(i), Currency: "EUR"}); err != nil {
					t.Fatal(err)
				}
			}
			waitQueue := func(what string, main, dlq int64) {
				t.Helper()
				var rows []queueStatsRow
				if !poll.Wait(2*time.Minute, func() bool {
					rows = queueStatsOf(t, cli)
					return rows[0].Visible+rows[0].InFlight == main && rows[1].Visible+rows[1].InFlight == dlq
				}) {
					t.Fatalf("%s: queue stats %+v", what, rows)
				}
			}
			const poisoned = transfers / 10 // 7, 17, 27, 37, 47
			waitQueue("the poisoned messages dead-lettered", 0, poisoned)
			emails := len(mail.Sent())
			if want := 1 + 2*transfers; emails != want { // the deposit's, and both sides of each transfer
				t.Errorf("%d emails before the redrive, want %d", emails, want)
			}

			mu.Lock()
			broken = false
			mu.Unlock()
			if out, err := runArgs(t, cli, "queue", "redrive"); err != nil || !strings.Contains(out, fmt.Sprintf("moved %d", poisoned)) {
				t.Fatalf("queue redrive: %v\n%s", err, out)
			}
			// Every message is deleted: none can come back to be sent again.
			waitQueue("the redriven messages consumed", 0, 0)
			if n := len(mail.Sent()); n != emails {
				t.Errorf("%d emails after the redrive, want still %d", n, emails)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1+2*transfers {
				t.Errorf("%d (event, customer) webhooks, want %d", len(got), 1+2*transfers)
			}
			for k, n := range got {
				if n != 1 {
					t.Errorf("%s: %d webhooks, want 1", k, n)
				}
			}
		})
	}
}
