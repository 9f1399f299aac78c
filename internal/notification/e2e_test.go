package notification

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
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
	return newClockedQueue(t, db, visibility, maxReceive, time.Now)
}

// newClockedQueue is newTestQueue measuring time on now.
func newClockedQueue(t testing.TB, db *store.DB, visibility time.Duration, maxReceive int, now func() time.Time) (main, dlq queue.Queue) {
	t.Helper()
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "notify-test-" + hex.EncodeToString(b[:])
	m, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: name, VisibilityTimeout: visibility,
		MaxReceiveCount: maxReceive, Poll: 5 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	d, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: name + "-dlq", VisibilityTimeout: visibility,
		MaxReceiveCount: 1000, Poll: 5 * time.Millisecond, Now: now})
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

// drain hands q's messages to s a batch at a time until q holds none, moving
// clk past the visibility timeout whenever every message left is in flight:
// those are the ones that failed, back for another receive or, out of
// receives, off to the dead-letter queue. One batch at a time, so that no
// healthy message is in flight when time moves.
func drain(t *testing.T, s *Service, q queue.Queue, clk *clock.Fake, visibility time.Duration) {
	t.Helper()
	ctx := context.Background()
	for range 10_000 { // bounds a loop that never drains
		ms, err := q.Receive(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			s.HandleBatch(ctx, q, ms)
			continue
		}
		if m, _ := depth(t, q); m == 0 {
			return
		}
		clk.Advance(visibility)
	}
	t.Fatal("the queue never drained")
}

// TestPoisonEventsDeadLetterAndRedriveOnce: 200 events, of which 20 make
// the webhook endpoint fail. Exactly those land in the dead-letter queue;
// every email went out once. After the endpoint is fixed, a redrive
// (Queue.Redrive, or the runbook's receive-send-delete loop) delivers each
// failed webhook once, and nothing else is sent again. The same when the
// events come in groups of ten (a commit's, event.Group), one poisoned
// event in each: the group keeps it alone, and it alone is dead-lettered.
func TestPoisonEventsDeadLetterAndRedriveOnce(t *testing.T) {
	t.Parallel()
	const events, poisoned = 200, 20
	redrives := map[string]func(t *testing.T, main, dlq queue.Queue){
		"Queue.Redrive": func(t *testing.T, main, _ queue.Queue) {
			n, err := main.Redrive(context.Background(), 0)
			if err != nil || n != poisoned {
				t.Fatalf("redrive moved %d, %v; want %d", n, err, poisoned)
			}
		},
		// runbook 5.4's redrive.py, through the same interface.
		"runbook loop": func(t *testing.T, main, dlq queue.Queue) {
			ctx := context.Background()
			for {
				ms, err := dlq.Receive(ctx, 10, 0)
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
		for _, group := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/groups of %d", name, group), func(t *testing.T) {
				t.Parallel()
				storetest.ForEach(t, func(t *testing.T, db *store.DB) {
					ctx := context.Background()
					mail := startSMTP(t)
					hooks := startHooks(t)
					cfg := testConfig(mail.addr)
					cfg.WebhookAttempts = 2
					// An email whose server stored it but whose answer came
					// after the send's timeout counts as not sent, and goes
					// again (its Message-ID, the notification id, lets a
					// receiver drop the copy): on a machine loaded far past its
					// cores the tests' 2 s is too short for the exact count
					// this test checks.
					cfg.SendTimeout, cfg.MessageTimeout, cfg.Lease = 10*time.Second, 30*time.Second, time.Minute
					s := newTestService(t, db, cfg)
					const users = 10
					for u := range users {
						id := fmt.Sprintf("u%d", u)
						addUser(t, db, id, id+"@example.test", "User "+id)
						hooks.secrets[id] = setPrefs(t, s, id, true, false, "", hooks.url(id))
					}
					poison := map[string]bool{}
					const visibility = 30 * time.Second
					clk := clock.NewFake(time.Now())
					main, dlq := newClockedQueue(t, db, visibility, 3, clk.Now)
					var bodies [][]byte
					for i := range events {
						ev := fmt.Sprintf("ev%04d", i)
						if i%10 == 7 {
							poison[ev] = true
						}
						bodies = append(bodies, transferEvent(ev, fmt.Sprintf("u%d", i%users), fmt.Sprintf("u%d", (i+3)%users), int64(i+1)))
						if len(bodies) == group {
							if err := main.Send(ctx, event.Join(bodies...)); err != nil {
								t.Fatal(err)
							}
							bodies = nil
						}
					}
					hooks.setFail(func(ev string) bool { return poison[ev] })

					drain(t, s, main, clk, visibility)
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
					drain(t, s, main, clk, visibility)
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
}
