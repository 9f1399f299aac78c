package notification

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// The end-to-end tests take their queue from newTestQueue: the table queue
// (BANK_QUEUE_URL=db) in the test's database, a fresh one per test, and its
// dead-letter queue opened as a queue of its own (SQS's shape, which the
// runbook's redrive loop uses).
func newTestQueue(t testing.TB, db *store.DB, visibility time.Duration, maxReceive int) (main, dlq queue.Queue) {
	t.Helper()
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "notify-test-" + hex.EncodeToString(b[:])
	m, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: name, VisibilityTimeout: visibility,
		MaxReceiveCount: maxReceive, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: name + "-dlq", VisibilityTimeout: visibility,
		MaxReceiveCount: 1000, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m, d
}

// depth is how many messages q holds, visible or in flight.
func depth(t *testing.T, q queue.Queue) (main, dead int64) {
	t.Helper()
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Main.Visible + st.Main.InFlight + st.Main.Delayed, st.DLQ.Visible + st.DLQ.InFlight
}

// emailsPerEvent counts the emails the SMTP server took, by recipient and
// the transaction, hold or event id their text names.
var txInText = regexp.MustCompile(`Transaction (\S+)\.`)

// TestPoisonEventsDeadLetterAndRedriveOnce: 1,000 events, of which 100 make
// the webhook endpoint fail. Exactly those land in the dead-letter queue;
// every email went out once. After the endpoint is fixed, a redrive
// (Queue.Redrive, or the runbook's receive-send-delete loop) delivers each
// failed webhook once, and nothing else is sent again.
func TestPoisonEventsDeadLetterAndRedriveOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 events")
	}
	redrives := map[string]func(t *testing.T, main, dlq queue.Queue){
		"Queue.Redrive": func(t *testing.T, main, _ queue.Queue) {
			n, err := main.Redrive(context.Background(), 0)
			if err != nil || n != 100 {
				t.Fatalf("redrive moved %d, %v; want 100", n, err)
			}
		},
		// runbook 5.4's redrive.py, through the same interface.
		"runbook loop": func(t *testing.T, main, dlq queue.Queue) {
			ctx := context.Background()
			for {
				ms, err := dlq.Receive(ctx, 10, 100*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 {
					return
				}
				for _, m := range ms {
					if err := main.Send(ctx, m.Body); err != nil {
						t.Fatal(err)
					}
					if err := dlq.Delete(ctx, m.Receipt); err != nil {
						t.Fatal(err)
					}
				}
			}
		},
	}
	for name, redrive := range redrives {
		t.Run(name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				mail := startSMTP(t)
				hooks := startHooks(t)
				cfg := testConfig(mail.addr)
				cfg.WebhookAttempts = 2
				// A few messages at a time: on SQLite's one writer, many
				// more would outlast the short visibility timeout and
				// dead-letter healthy messages.
				cfg.Workers, cfg.Batch = 2, 5
				s := newTestService(t, db, cfg)
				const users, events = 10, 1000
				for u := range users {
					id := fmt.Sprintf("u%d", u)
					addUser(t, db, id, id+"@example.test", "User "+id)
					hooks.secrets[id] = setPrefs(t, s, id, true, false, "", hooks.url(id))
				}
				poison := map[string]bool{}
				main, dlq := newTestQueue(t, db, 3*time.Second, 3)
				for i := range events {
					ev := fmt.Sprintf("ev%04d", i)
					if i%10 == 7 {
						poison[ev] = true
					}
					if err := main.Send(ctx, transferEvent(ev, fmt.Sprintf("u%d", i%users), fmt.Sprintf("u%d", (i+3)%users), int64(i+1))); err != nil {
						t.Fatal(err)
					}
				}
				hooks.setFail(func(ev string) bool { return poison[ev] })

				runFor(t, s, main, func() bool { m, _ := depth(t, main); return m == 0 })
				_, dead := depth(t, main)
				if dead != int64(len(poison)) {
					t.Errorf("%d dead-lettered, want %d", dead, len(poison))
				}
				deadIDs := map[string]bool{}
				var receipts []string
				for {
					ms, err := dlq.Receive(ctx, 10, 0)
					if err != nil {
						t.Fatal(err)
					}
					if len(ms) == 0 {
						break
					}
					for _, m := range ms {
						e, err := decodeEvent(m.Body)
						receipts = append(receipts, m.Receipt)
						if err != nil || !poison[e.EventID] {
							t.Errorf("dead-lettered %s, not a poisoned event", m.Body)
							continue
						}
						deadIDs[e.EventID] = true
					}
				}
				for _, r := range receipts { // visible again, for the redrive
					if err := dlq.ChangeVisibility(ctx, r, 0); err != nil {
						t.Fatal(err)
					}
				}
				if len(deadIDs) != len(poison) {
					t.Errorf("%d distinct poisoned events in the DLQ, want %d", len(deadIDs), len(poison))
				}
				emailsBefore := len(mail.sent())

				hooks.setFail(func(string) bool { return false })
				redrive(t, main, dlq)
				runFor(t, s, main, func() bool { m, _ := depth(t, main); return m == 0 })
				if _, dead := depth(t, main); dead != 0 {
					t.Errorf("%d left in the DLQ after the redrive", dead)
				}

				for i := range events {
					ev := fmt.Sprintf("ev%04d", i)
					for _, u := range []string{fmt.Sprintf("u%d", i%users), fmt.Sprintf("u%d", (i+3)%users)} {
						if n := hooks.count(ev, u); n != 1 {
							t.Errorf("%s to %s: %d webhooks, want 1", ev, u, n)
						}
					}
				}
				sent := mail.sent()
				if len(sent) != 2*events || emailsBefore != 2*events {
					t.Errorf("%d emails before the redrive and %d after, want %d both times", emailsBefore, len(sent), 2*events)
				}
				perEvent := map[string]int{}
				for _, m := range sent {
					if tx := txInText.FindStringSubmatch(m.data); tx != nil {
						perEvent[m.to+" "+tx[1]]++
					}
				}
				for k, n := range perEvent {
					if n != 1 {
						t.Errorf("%s: %d emails, want 1", k, n)
					}
				}
				if hooks.bad != 0 {
					t.Errorf("%d webhooks with a bad signature", hooks.bad)
				}
			})
		})
	}
}
