package notification

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDeliversOnEveryChannel sends one transfer's event through a real
// SMTP exchange on loopback, a webhook receiver that checks the signature,
// and an SMS provider, each recipient by their own preferences.
func TestDeliversOnEveryChannel(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mail := startSMTP(t)
		hooks := startHooks(t)
		var (
			smsMu sync.Mutex
			texts []map[string]string
		)
		smsProvider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m map[string]string
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &m); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			smsMu.Lock()
			texts = append(texts, m)
			smsMu.Unlock()
		}))
		defer smsProvider.Close()
		cfg := testConfig(mail.addr)
		cfg.SMSURL = smsProvider.URL
		cfg.From = "bank@example.test"
		reg := prometheus.NewRegistry()
		s, err := New(db, newTestService(t, db, cfg).log, time.Now, cfg, NewMetrics(reg))
		if err != nil {
			t.Fatal(err)
		}
		addUser(t, db, "alice", "alice@example.test", "Alice")
		addUser(t, db, "bob", "bob@example.test", "Bob")
		hooks.secrets["alice"] = setPrefs(t, s, "alice", true, true, "+447700900123", hooks.url("alice"))

		q := newMemQueue(time.Minute, 5)
		if err := q.Send(ctx, transferEvent("ev1", "alice", "bob", 1250)); err != nil {
			t.Fatal(err)
		}
		if got := s.Handle(ctx, q, receiveOne(t, q)); got != "delivered" {
			t.Fatalf("outcome %q, want delivered", got)
		}
		if st, _ := q.Stats(ctx); st.Main.Visible+st.Main.InFlight != 0 {
			t.Errorf("message not deleted: %+v", st)
		}

		mails := mail.sent()
		if len(mails) != 2 {
			t.Fatalf("%d emails, want 2: %+v", len(mails), mails)
		}
		subjects := map[string]string{}
		for _, m := range mails {
			if m.from != "bank@example.test" {
				t.Errorf("MAIL FROM %q", m.from)
			}
			for _, l := range strings.Split(m.data, "\r\n") {
				if v, ok := strings.CutPrefix(l, "Subject: "); ok {
					subjects[m.to] = v
				}
			}
			if !strings.Contains(m.data, "Message-ID: <") || !strings.Contains(m.data, "rent") {
				t.Errorf("email to %s lacks its Message-ID or the description:\n%s", m.to, m.data)
			}
		}
		want := map[string]string{"alice@example.test": "You paid 12.50 EUR", "bob@example.test": "You received 12.50 EUR"}
		for to, subj := range want {
			if subjects[to] != subj {
				t.Errorf("subject to %s: %q, want %q", to, subjects[to], subj)
			}
		}

		if n := hooks.count("ev1", "alice"); n != 1 || hooks.bad != 0 {
			t.Errorf("alice's webhook: %d valid, %d badly signed; want 1 and 0", n, hooks.bad)
		}
		if n := hooks.count("ev1", "bob"); n != 0 {
			t.Errorf("bob, without a webhook, got %d", n)
		}
		data, _ := hooks.bodies[0]["data"].(map[string]any)
		if data["amount"] != float64(-1250) || strings.Contains(mustJSON(hooks.bodies[0]), "bob") {
			t.Errorf("alice's webhook data %v: want her own leg (-1250) and nothing of bob", hooks.bodies[0])
		}

		smsMu.Lock()
		if len(texts) != 1 || texts[0]["to"] != "+447700900123" || texts[0]["text"] != "You paid 12.50 EUR" {
			t.Errorf("texts %v, want one to alice", texts)
		}
		smsMu.Unlock()

		if n := rows(t, db, `status = 'sent'`); n != 4 {
			t.Errorf("%d sent rows, want 4 (alice: email, sms, webhook; bob: email)", n)
		}
		if v := testutil.ToFloat64(s.metrics.deliveries.WithLabelValues("email", "sent")); v != 2 {
			t.Errorf("email sent counter %v, want 2", v)
		}
		if v := testutil.ToFloat64(s.metrics.processed.WithLabelValues("delivered")); v != 1 {
			t.Errorf("delivered counter %v, want 1", v)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRedeliveryDeliversOnce hands the same event to the consumer again:
// as the same message (its visibility ran out) and as a new message with
// the same body (a DLQ redrive). Nothing is sent twice.
func TestRedeliveryDeliversOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mail := startSMTP(t)
		hooks := startHooks(t)
		s := newTestService(t, db, testConfig(mail.addr))
		addUser(t, db, "alice", "alice@example.test", "Alice")
		addUser(t, db, "bob", "bob@example.test", "Bob")
		hooks.secrets["alice"] = setPrefs(t, s, "alice", true, false, "", hooks.url("alice"))

		q := newMemQueue(time.Minute, 5)
		body := transferEvent("ev1", "alice", "bob", 100)
		m := receiveAfterSend(t, q, body)
		s.Handle(ctx, q, m)
		s.Handle(ctx, q, m) // the same message again, as after a lost delete
		for range 3 {       // redriven copies: new message ids, same body
			if got := s.Handle(ctx, q, receiveAfterSend(t, q, body)); got != "delivered" {
				t.Errorf("redelivery: outcome %q, want delivered (and deleted)", got)
			}
		}
		if n := len(mail.sent()); n != 2 {
			t.Errorf("%d emails, want 2 (one per recipient)", n)
		}
		if n := hooks.count("ev1", "alice"); n != 1 {
			t.Errorf("%d webhooks, want 1", n)
		}
		if n := rows(t, db, `event_id = 'ev1'`); n != 3 {
			t.Errorf("%d rows for ev1, want 3", n)
		}
	})
}

func receiveAfterSend(t *testing.T, q *memQueue, body []byte) queue.Message {
	t.Helper()
	if err := q.Send(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	return receiveOne(t, q)
}

// TestPartialFailureResendsOnlyWhatFailed: the email goes out, the webhook
// fails; the message stays. When it comes back and the webhook works, only
// the webhook is sent.
func TestPartialFailureResendsOnlyWhatFailed(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mail := startSMTP(t)
		hooks := startHooks(t)
		s := newTestService(t, db, testConfig(mail.addr))
		addUser(t, db, "alice", "alice@example.test", "Alice")
		hooks.secrets["alice"] = setPrefs(t, s, "alice", true, false, "", hooks.url("alice"))
		hooks.setFail(func(string) bool { return true })

		q := newMemQueue(20*time.Millisecond, 5)
		body, _ := json.Marshal(map[string]any{"event_id": "h1", "type": "hold.created", "occurred_at": time.Now(),
			"hold_id": "hold1", "account_id": "acc1", "owner_id": "alice", "amount": 500, "currency": "EUR", "status": "pending"})
		m := receiveAfterSend(t, q, body)
		if got := s.Handle(ctx, q, m); got != "retry" {
			t.Fatalf("outcome %q, want retry", got)
		}
		if n := len(mail.sent()); n != 1 {
			t.Fatalf("%d emails, want 1", n)
		}
		if n := rows(t, db, `channel = 'webhook' AND status = 'pending' AND attempts = 1 AND last_error <> ''`); n != 1 {
			t.Errorf("the failed webhook's row is not pending with its error (%d rows)", n)
		}

		hooks.setFail(func(string) bool { return false })
		m = receiveOne(t, q) // back after the visibility timeout
		if m.ReceiveCount != 2 {
			t.Errorf("receive count %d, want 2", m.ReceiveCount)
		}
		if got := s.Handle(ctx, q, m); got != "delivered" {
			t.Fatalf("outcome %q, want delivered", got)
		}
		if n := len(mail.sent()); n != 1 {
			t.Errorf("%d emails after the retry, want still 1", n)
		}
		if n := hooks.count("h1", "alice"); n != 1 {
			t.Errorf("%d webhooks, want 1", n)
		}
		if st, _ := q.Stats(ctx); st.Main.Visible+st.Main.InFlight != 0 {
			t.Errorf("message not deleted: %+v", st)
		}
	})
}

// TestConcurrentConsumersSendOnce hands copies of one event to many
// consumers at once (a visibility timeout that ran out mid-delivery): the
// lease lets one send each delivery.
func TestConcurrentConsumersSendOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mail := startSMTP(t)
		s := newTestService(t, db, testConfig(mail.addr))
		addUser(t, db, "alice", "alice@example.test", "Alice")
		addUser(t, db, "bob", "bob@example.test", "Bob")
		q := newMemQueue(time.Minute, 100)
		body := transferEvent("ev1", "alice", "bob", 100)
		var wg sync.WaitGroup
		for range 10 {
			m := receiveAfterSend(t, q, body)
			wg.Go(func() { s.Handle(ctx, q, m) })
		}
		wg.Wait()
		if n := len(mail.sent()); n != 2 {
			t.Errorf("%d emails, want 2", n)
		}
	})
}

// TestUnknownAndMalformed: an unknown type and a quiet one are
// acknowledged; bodies that are not events stay for the dead-letter queue,
// and only they land there.
func TestUnknownAndMalformed(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for _, kind := range []string{"receive", "table"} {
			t.Run(kind, func(t *testing.T) { testUnknownAndMalformed(t, db, kind) })
		}
	})
}

// testUnknownAndMalformed runs on the in-memory queue, whose messages are
// received, and on the table queue, which consumes in place what it can.
func testUnknownAndMalformed(t *testing.T, db *store.DB, kind string) {
	{
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		cfg := testConfig("")
		cfg.Workers = 2
		s, err := New(db, newTestService(t, db, cfg).log, time.Now, cfg, NewMetrics(reg))
		if err != nil {
			t.Fatal(err)
		}
		alice := "alice-" + kind
		addUser(t, db, alice, alice+"@example.test", "Alice")
		// The visibility timeout is long enough for a loaded machine: only
		// malformed bodies may come back.
		var (
			q    queue.Queue
			dead func() []string
		)
		if kind == "table" {
			main, dlq := newTestQueue(t, db, 2*time.Second, 2)
			q = main
			dead = func() []string {
				ms, err := dlq.Receive(ctx, 100, 0)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, m := range ms {
					out = append(out, string(m.Body))
				}
				return out
			}
		} else {
			mq := newMemQueue(2*time.Second, 2)
			q = mq
			dead = func() []string {
				var out []string
				for _, m := range *mq.dead {
					out = append(out, string(m.body))
				}
				return out
			}
		}
		acknowledged := []string{
			`{"event_id":"u1","type":"card.issued","occurred_at":"2026-01-01T00:00:00Z"}`,
			`{"event_id":"u2","type":"hold.voided","owner_id":"` + alice + `"}`,
			string(transferEvent("ok1", alice, "nobody-such", 5)),
		}
		malformed := []string{
			`not json`,
			`{}`,
			`[1,2]`,
			`{"event_id":"m1"}`,
			`{"event_id":"","type":"transaction.posted"}`,
			`{"event_id":"m2","type":"transaction.posted","currency":"EUR","transaction_id":"t"}`,
			`{"event_id":"m3","type":"payment.failed","amount":5,"currency":"EUR"}`,
			`{"event_id":"m4","type":"hold.created","owner_id":7}`,
		}
		for _, b := range append(append([]string{}, acknowledged...), malformed...) {
			if err := q.Send(ctx, []byte(b)); err != nil {
				t.Fatal(err)
			}
		}
		runFor(t, s, q, func() bool {
			st, _ := q.Stats(ctx)
			return st.Main.Visible+st.Main.InFlight == 0
		})
		deadBodies := dead()
		if len(deadBodies) != len(malformed) {
			t.Errorf("dead-letter queue holds %d messages, want the %d malformed: %q", len(deadBodies), len(malformed), deadBodies)
		}
		for _, b := range deadBodies {
			for _, a := range acknowledged {
				if a == b {
					t.Errorf("acknowledged message %s dead-lettered", b)
				}
			}
		}
		if v := testutil.ToFloat64(s.metrics.processed.WithLabelValues("unknown_type")); v != 1 {
			t.Errorf("unknown_type counter %v, want 1", v)
		}
		if v := testutil.ToFloat64(s.metrics.processed.WithLabelValues("malformed")); v != float64(2*len(malformed)) {
			t.Errorf("malformed counter %v, want %d (each received twice)", v, 2*len(malformed))
		}
		if n := rows(t, db, `user_id = $1`, alice); n != 1 {
			t.Errorf("%d notifications, want 1 (alice's, the missing user gets none)", n)
		}
	}
}

// runFor runs s's consumer on q until done reports true, for at most 60 s.
func runFor(t *testing.T, s *Service, q queue.Queue, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { _ = s.Run(ctx, q); close(finished) }()
	defer func() { cancel(); <-finished }()
	// The deadline only bounds a hang: under -race on a busy 2-core box a
	// thousand events on SQLite take well over a minute.
	poll.Until(t, 5*time.Minute, "the consumer to finish", done)
}

// TestCrashedConsumersLeaseIsTakenOver: a consumer that claimed a delivery
// and died holds it only until its lease ends; then the next one sends it,
// once. The lease ends by writing its end into the past.
func TestCrashedConsumersLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mail := startSMTP(t)
		cfg := testConfig(mail.addr)
		dead, s := newTestService(t, db, cfg), newTestService(t, db, cfg)
		addUser(t, db, "alice", "alice@example.test", "Alice")
		addUser(t, db, "bob", "bob@example.test", "Bob")
		id, st, err := dead.claim(ctx, delivery{eventID: "ev1", eventType: event.TransactionPosted, userID: "alice", channel: Email, subject: "x"})
		if err != nil || st != claimed {
			t.Fatalf("claim: %v, %v", st, err)
		}
		q := newMemQueue(time.Minute, 10)
		body := transferEvent("ev1", "alice", "bob", 100)
		if got := s.Handle(ctx, q, receiveAfterSend(t, q, body)); got != "retry" {
			t.Errorf("while the dead consumer's lease runs: %q, want retry", got)
		}
		if got := mail.sent(); len(got) != 1 || got[0].to != "bob@example.test" {
			t.Errorf("sent %v, want bob's email only", got)
		}
		if err := dead.claims.Expire(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := s.Handle(ctx, q, receiveAfterSend(t, q, body)); got != "delivered" {
			t.Errorf("after the lease: %q, want delivered", got)
		}
		if got := mail.sent(); len(got) != 2 || got[1].to != "alice@example.test" {
			t.Errorf("sent %v, want bob's then alice's", got)
		}
		if n := rows(t, db, `user_id = 'alice' AND status = 'sent' AND attempts = 2`); n != 1 {
			t.Errorf("alice's row is not sent after 2 attempts")
		}
	})
}

// TestStaleConsumerKeepsOffAnothersClaim: a consumer whose claim ran out
// and was taken by another, failing its delivery, leaves the other's claim
// in place, so that a third consumer cannot take the delivery while the
// second is sending it.
func TestStaleConsumerKeepsOffAnothersClaim(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cfg := testConfig(startSMTP(t).addr)
		a, b, c := newTestService(t, db, cfg), newTestService(t, db, cfg), newTestService(t, db, cfg)
		d := delivery{eventID: "ev1", eventType: event.TransactionPosted, userID: "alice", channel: Email, subject: "x"}
		claim := func(name string, s *Service, want claimResult) string {
			t.Helper()
			id, st, err := s.claim(ctx, d)
			if err != nil || st != want {
				t.Fatalf("%s claims: %v, %v; want %v", name, st, err, want)
			}
			return id
		}
		id := claim("a", a, claimed)
		claim("b while a's claim runs", b, busy)
		if err := a.claims.Expire(ctx, id); err != nil {
			t.Fatal(err)
		}
		claim("b after a's claim ran out", b, claimed)
		if err := a.finish(ctx, d, errors.New("smtp: timeout"), StatusSent); err != nil {
			t.Fatal(err)
		}
		claim("c while b's claim runs", c, busy)
		if err := b.finish(ctx, d, errors.New("smtp: timeout"), StatusSent); err != nil {
			t.Fatal(err)
		}
		claim("c after b gave its claim up", c, claimed)
	})
}

// failingQueue fails its first receives, then hands out its queue's.
type failingQueue struct {
	queue.Queue
	fails atomic.Int32
}

func (f *failingQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, errors.New("queue unreachable")
	}
	return f.Queue.Receive(ctx, max, wait)
}

// TestReceiveErrorsDoNotStopTheConsumer: the consumer counts a failed
// receive, pauses, and goes on.
func TestReceiveErrorsDoNotStopTheConsumer(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	reg := prometheus.NewRegistry()
	cfg := testConfig("")
	cfg.Workers = 1
	s, err := New(db, newTestService(t, db, cfg).log, time.Now, cfg, NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice", "alice@example.test", "Alice")
	mq := newMemQueue(time.Minute, 5)
	q := &failingQueue{Queue: mq}
	q.fails.Store(3)
	if err := mq.Send(context.Background(), transferEvent("ev1", "alice", "alice", 1)); err != nil {
		t.Fatal(err)
	}
	runFor(t, s, q, func() bool { m, _ := depth(t, mq); return m == 0 })
	if v := testutil.ToFloat64(s.metrics.recvErrors); v != 3 {
		t.Errorf("receive errors %v, want 3", v)
	}
}

// TestCopiesInOneReceiveAreAllDeleted: copies of one event received
// together are handled in turn, so none waits out a visibility timeout.
func TestCopiesInOneReceiveAreAllDeleted(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	mail := startSMTP(t)
	cfg := testConfig(mail.addr)
	cfg.Workers = 1
	s := newTestService(t, db, cfg)
	addUser(t, db, "alice", "alice@example.test", "Alice")
	q := newMemQueue(time.Hour, 5)
	body := transferEvent("ev1", "alice", "alice", 1)
	if err := q.Send(context.Background(), body, body, []byte("not json"), body); err != nil {
		t.Fatal(err)
	}
	runFor(t, s, q, func() bool { st, _ := q.Stats(context.Background()); return st.Main.Visible+st.Main.InFlight == 1 })
	if n := len(mail.sent()); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

// TestCheckReportsAStuckConsumer: the health check is DOWN before the
// consumer runs and when no receive has answered for a while.
func TestCheckReportsAStuckConsumer(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := testConfig("")
	cfg.Workers = 1
	s, err := New(db, discard(), clock, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Check(context.Background()) == nil {
		t.Error("UP before the consumer runs")
	}
	mq := newMemQueue(time.Minute, 5)
	q := &failingQueue{Queue: mq}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx, q); close(done) }()
	defer func() { cancel(); <-done }()
	poll.Until(t, time.Minute, "the consumer UP once it receives", func() bool { return s.Check(context.Background()) == nil })
	// The queue stops answering; once a receive has failed, the one loop
	// is past every receive that answered.
	q.fails.Store(1 << 30)
	poll.Until(t, time.Minute, "a failed receive", func() bool { return q.fails.Load() < 1<<30 })
	offset.Store(int64(2*cfg.Wait + time.Minute))
	if s.Check(context.Background()) == nil {
		t.Error("UP although no receive answered for a minute")
	}
}

// TestLogOnlyEventsConsumedInPlace: on the table queue with log-only
// channels (serve all's defaults), several consumers take events in place:
// each delivery is recorded once, however many copies of its event were
// sent (together, or after the first was consumed: the fresh insert fails
// and the take runs again), and each message is counted once.
func TestLogOnlyEventsConsumedInPlace(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		cfg := testConfig("")
		cfg.Workers = 3
		cfg.Batch = 7
		s, err := New(db, newTestService(t, db, cfg).log, time.Now, cfg, NewMetrics(reg))
		if err != nil {
			t.Fatal(err)
		}
		const users, events = 5, 60
		for u := range users {
			id := fmt.Sprintf("inplace-%d", u)
			addUser(t, db, id, id+"@example.test", "User "+id)
		}
		q, _ := newTestQueue(t, db, time.Minute, 5)
		var bodies [][]byte
		for i := range events {
			b := transferEvent(fmt.Sprintf("ev-%d", i), fmt.Sprintf("inplace-%d", i%users), fmt.Sprintf("inplace-%d", (i+1)%users), 1)
			bodies = append(bodies, b, b) // a copy beside each event
		}
		if err := q.Send(ctx, bodies...); err != nil {
			t.Fatal(err)
		}
		empty := func() bool { m, _ := depth(t, q); return m == 0 }
		runFor(t, s, q, empty)
		// Copies sent again once the first were consumed record nothing new.
		if err := q.Send(ctx, bodies[:20]...); err != nil {
			t.Fatal(err)
		}
		runFor(t, s, q, empty)

		if n := rows(t, db, `status = 'logged' AND channel = 'email'`); n != 2*events {
			t.Errorf("%d logged emails, want %d: one to each side of each event", n, 2*events)
		}
		if n := rows(t, db, `status <> 'logged'`); n != 0 {
			t.Errorf("%d notifications not logged", n)
		}
		var dup int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT event_id, user_id FROM notifications
			GROUP BY event_id, user_id HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil || dup != 0 {
			t.Errorf("%d deliveries recorded twice (%v)", dup, err)
		}
		if v := testutil.ToFloat64(s.metrics.processed.WithLabelValues("delivered")); v != 2*events+20 {
			t.Errorf("delivered counter %v, want %d: every message once", v, 2*events+20)
		}
		// A copy whose deliveries are recorded is taken again skipping
		// them, not counted as a failed receive.
		if v := testutil.ToFloat64(s.metrics.recvErrors); v != 0 {
			t.Errorf("%v failed receives, want none", v)
		}
	})
}

// TestSendsOfABatchAreBounded hands one batch of events whose webhooks
// outnumber sendsAtOnce to the consumer: they go out side by side, never
// more than sendsAtOnce at a time, and every one of them goes out.
func TestSendsOfABatchAreBounded(t *testing.T) {
	t.Parallel()
	var inFlight, most, got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	db := storetest.Open(t, store.SQLite)
	s := newTestService(t, db, testConfig(""))
	const users, events = 20, 150
	for u := range users {
		id := fmt.Sprintf("bounded-%d", u)
		addUser(t, db, id, id+"@example.test", "User "+id)
		setPrefs(t, s, id, false, false, "", srv.URL+"/"+id)
	}
	q := newMemQueue(time.Minute, 5)
	ctx := context.Background()
	for i := range events {
		if err := q.Send(ctx, transferEvent(fmt.Sprintf("bounded-ev-%d", i), fmt.Sprintf("bounded-%d", i%users),
			fmt.Sprintf("bounded-%d", (i+1)%users), 1)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := q.Receive(ctx, events, time.Second)
	if err != nil || len(msgs) != events {
		t.Fatalf("receive: %v, %d messages", err, len(msgs))
	}
	for i, outcome := range s.HandleBatch(ctx, q, msgs) {
		if outcome != "delivered" {
			t.Fatalf("message %d: %s", i, outcome)
		}
	}
	if n := got.Load(); n != 2*events {
		t.Errorf("%d webhooks received, want %d: one to each side of each event", n, 2*events)
	}
	if m := most.Load(); m > sendsAtOnce || m < 2 {
		t.Errorf("at most %d webhooks on their way at once, want from 2 to %d", m, sendsAtOnce)
	}
}

// takeSpy is a table queue that records each receive's size in messages,
// and the most events a receive took (consumed in place or received) and
// handed back to be handled.
type takeSpy struct {
	queue.Queue
	taker              queue.Taker
	mu                 sync.Mutex
	asked              []int // messages asked for, receive by receive
	mostTook, mostSent int
}

func (s *takeSpy) Take(ctx context.Context, n int, wait time.Duration, fn queue.TakeFunc) ([]queue.Message, error) {
	took := 0
	msgs, err := s.taker.Take(ctx, n, wait, func(ctx context.Context, ms []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
		done, write, err := fn(ctx, ms)
		took = 0
		for _, m := range ms[:len(done)] {
			took += events(m)
		}
		return done, write, err
	})
	sent := 0
	for _, m := range msgs {
		sent += events(m)
	}
	s.mu.Lock()
	s.asked = append(s.asked, n)
	s.mostTook, s.mostSent = max(s.mostTook, took), max(s.mostSent, sent)
	s.mu.Unlock()
	return msgs, err
}

// events counts the events of m.
func events(m queue.Message) int {
	parts, _ := event.Split(m.Body)
	return len(parts)
}

// TestReceivesWithSendsStaySmall: a receive loop takes Batch events while
// it consumes them in place, but hands no more than sendsAtOnce at a time
// to be sent (they must be done within MessageTimeout), also on its first
// receive; the same when events come in groups (a commit's, event.Group).
func TestReceivesWithSendsStaySmall(t *testing.T) {
	t.Parallel()
	for _, group := range []int{1, 50} {
		t.Run(fmt.Sprintf("groups of %d", group), func(t *testing.T) {
			t.Parallel()
			hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			t.Cleanup(hooks.Close)
			db := storetest.Open(t, store.SQLite)
			cfg := testConfig("")
			cfg.Workers, cfg.Batch = 1, 500
			s := newTestService(t, db, cfg)
			for u := range 10 {
				hook, quiet := fmt.Sprintf("small-hook-%d", u), fmt.Sprintf("small-log-%d", u)
				addUser(t, db, hook, hook+"@example.test", "Hook "+hook)
				addUser(t, db, quiet, quiet+"@example.test", "Log "+quiet)
				setPrefs(t, s, hook, false, false, "", hooks.URL+"/"+hook)
			}
			main, _ := newTestQueue(t, db, time.Minute, 5)
			spy := &takeSpy{Queue: main, taker: main.(queue.Taker)}
			send := func(prefix string, n int) {
				var bodies [][]byte
				for i := 0; i < n; i += group {
					var evs [][]byte
					for j := i; j < i+group; j++ {
						evs = append(evs, transferEvent(fmt.Sprintf("%s-ev-%d", prefix, j), fmt.Sprintf("%s-%d", prefix, j%10), fmt.Sprintf("%s-%d", prefix, (j+1)%10), 1))
					}
					bodies = append(bodies, event.Join(evs...))
				}
				if err := main.Send(context.Background(), bodies...); err != nil {
					t.Fatal(err)
				}
			}
			empty := func() bool { m, _ := depth(t, main); return m == 0 }

			send("small-hook", 300) // every event has webhooks to send
			runFor(t, s, spy, empty)
			if spy.mostSent == 0 || spy.mostSent > sendsAtOnce {
				t.Errorf("receives handed up to %d events to send at once, want from 1 to %d", spy.mostSent, sendsAtOnce)
			}
			spy.asked = nil
			send("small-log", 1500) // every delivery log-only: consumed in place
			runFor(t, s, spy, empty)
			if spy.mostTook != cfg.Batch {
				t.Errorf("receives took %d events at most, want the batch of %d once nothing is left to send", spy.mostTook, cfg.Batch)
			}
			// The first receive of a loop knows nothing of groups: the
			// next ones ask for what fills the batch.
			if want := cfg.Batch / group; len(spy.asked) < 2 || slices.Max(spy.asked[1:]) != want {
				t.Errorf("receives asked for %v messages, want %d (%d events) after the first", spy.asked, want, cfg.Batch)
			}
			if n := rows(t, db, `status = 'sent' AND channel = 'webhook'`); n != 600 {
				t.Errorf("%d webhooks sent, want 600", n)
			}
			if n := rows(t, db, `status = 'logged'`); n != 2*1500 {
				t.Errorf("%d log-only deliveries, want %d", n, 2*1500)
			}
		})
	}
}
