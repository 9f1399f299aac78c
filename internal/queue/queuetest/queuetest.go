// Package queuetest is the contract of queue.Queue: one suite that every
// implementation (the table queue on SQLite and PostgreSQL, SQS) passes.
package queuetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
)

// Config is what a test asks of a fresh queue.
type Config struct {
	VisibilityTimeout time.Duration // whole seconds
	MaxReceiveCount   int
}

// Factory returns a fresh, empty queue (and dead-letter queue) with cfg,
// used by this test alone, and how to let time pass on its clock.
type Factory func(t *testing.T, cfg Config) (queue.Queue, Later)

// Later lets d pass on a queue's clock: a fake clock the test owns moves at
// once; the clock of a server (SQS) is waited for, as nothing else moves it.
type Later func(d time.Duration)

// ServerClock is the Later of a queue whose clock is a server's.
func ServerClock(d time.Duration) { time.Sleep(d) }

// Gaps names what an implementation is allowed not to do, each for a reason
// its test states.
type Gaps struct {
	// StaleReceiptsWork: a receipt of an earlier receive may still delete
	// the message (SQS documents that it may).
	StaleReceiptsWork bool
	// VisibleCountsInFlight: the visible count includes in-flight messages
	// (local-aws-sqs's ApproximateNumberOfMessages does).
	VisibleCountsInFlight bool
	// ChangeVisibilityCounts: ChangeVisibility adds one to the receive
	// count (local-aws-sqs does; SQS does not).
	ChangeVisibilityCounts bool
}

// Run runs the contract against the queues f makes.
func Run(t *testing.T, f Factory, gaps Gaps) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f Factory, gaps Gaps)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"VisibilityExpiry", testVisibilityExpiry},
		{"ChangeVisibility", testChangeVisibility},
		{"SetVisibilityTimeout", testSetVisibilityTimeout},
		{"DeadLetter", testDeadLetter},
		{"Redrive", testRedrive},
		{"Purge", testPurge},
		{"Stats", testStats},
		{"CompetingConsumers", testCompetingConsumers},
		{"HostileBodies", testHostileBodies},
		{"Rewrite", testRewrite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, f, gaps)
		})
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// receiveN receives until it has n messages or within ends; SQS may answer
// with fewer messages than it holds.
func receiveN(t *testing.T, q queue.Queue, n int, within time.Duration) []queue.Message {
	t.Helper()
	ctx := ctxFor(t, within+5*time.Second)
	deadline := time.Now().Add(within)
	var got []queue.Message
	for len(got) < n && time.Now().Before(deadline) {
		ms, err := q.Receive(ctx, min(10, n-len(got)), time.Second)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		got = append(got, ms...)
	}
	if len(got) != n {
		t.Fatalf("received %d messages within %s, want %d", len(got), within, n)
	}
	return got
}

// expectNone checks that nothing is received during wait.
func expectNone(t *testing.T, q queue.Queue, wait time.Duration) {
	t.Helper()
	ms, err := q.Receive(ctxFor(t, wait+5*time.Second), 10, wait)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(ms) > 0 {
		t.Fatalf("received %d messages (first %q, count %d), want none", len(ms), ms[0].Body, ms[0].ReceiveCount)
	}
}

func send(t *testing.T, q queue.Queue, bodies ...string) {
	t.Helper()
	bs := make([][]byte, len(bodies))
	for i, b := range bodies {
		bs[i] = []byte(b)
	}
	if err := q.Send(ctxFor(t, 10*time.Second), bs...); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func bodies(ms []queue.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	slices.Sort(out)
	return out
}

// eventually retries check until it returns nil or within ends.
func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func event(i int) string { return fmt.Sprintf(`{"event_id":"e-%03d","type":"test.sent"}`, i) }

func testSendReceiveDelete(t *testing.T, f Factory, _ Gaps) {
	q, _ := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5})
	var want []string
	for i := range 25 { // more than one SQS batch
		want = append(want, event(i))
	}
	before := time.Now().Add(-time.Minute)
	send(t, q, want...)
	got := receiveN(t, q, len(want), 20*time.Second)
	if g := bodies(got); !slices.Equal(g, want) {
		t.Fatalf("received %q, want %q", g, want)
	}
	ids := map[string]bool{}
	for _, m := range got {
		if m.ReceiveCount != 1 || m.ID == "" || m.Receipt == "" || ids[m.ID] || m.SentAt.Before(before) || m.SentAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("message %+v: want receive count 1, a unique id, a receipt and a send time of now", m)
		}
		ids[m.ID] = true
	}
	ctx := ctxFor(t, 20*time.Second)
	// Twenty in one call (more than one SQS batch), the rest one by one.
	var receipts []string
	for _, m := range got[:20] {
		receipts = append(receipts, m.Receipt)
	}
	if err := q.Delete(ctx, receipts...); err != nil {
		t.Fatalf("delete 20: %v", err)
	}
	for _, m := range got[20:] {
		if err := q.Delete(ctx, m.Receipt); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	// A made-up receipt among good ones: the good ones go all the same.
	send(t, q, event(100), event(101))
	two := receiveN(t, q, 2, 20*time.Second)
	if err := q.Delete(ctx, two[0].Receipt, "not-a-receipt", two[1].Receipt); !errors.Is(err, queue.ErrUnknownReceipt) {
		t.Errorf("delete with a made-up receipt among two good ones: %v, want ErrUnknownReceipt", err)
	}
	eventually(t, 10*time.Second, func() error {
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		if s.Main.Visible+s.Main.InFlight+s.Main.Delayed != 0 {
			return fmt.Errorf("stats after deleting everything: %+v, want an empty queue", s)
		}
		return nil
	})
	if err := q.Delete(ctx, "not-a-receipt"); !errors.Is(err, queue.ErrUnknownReceipt) {
		t.Errorf("delete with a made-up receipt: %v, want ErrUnknownReceipt", err)
	}
	if _, err := q.Receive(ctx, 0, 0); err == nil {
		t.Error("receive of 0 messages: no error")
	}
}

func testVisibilityExpiry(t *testing.T, f Factory, gaps Gaps) {
	q, later := f(t, Config{VisibilityTimeout: time.Second, MaxReceiveCount: 5})
	send(t, q, event(1))
	first := receiveN(t, q, 1, 10*time.Second)[0]
	// Hidden for the visibility timeout, then back with count 2.
	expectNone(t, q, 0)
	later(time.Second)
	second := receiveN(t, q, 1, 10*time.Second)[0]
	if second.ID != first.ID || second.ReceiveCount != 2 || string(second.Body) != event(1) {
		t.Fatalf("redelivered %+v, want message %s with receive count 2", second, first.ID)
	}
	if second.Receipt == first.Receipt {
		t.Fatal("the redelivery has the first receive's receipt")
	}
	ctx := ctxFor(t, 10*time.Second)
	if !gaps.StaleReceiptsWork {
		// The first consumer's receipt is dead: its late delete must not
		// take the message from the consumer that has it now.
		if err := q.Delete(ctx, first.Receipt); !errors.Is(err, queue.ErrUnknownReceipt) {
			t.Fatalf("delete with the receipt of the first receive: %v, want ErrUnknownReceipt", err)
		}
		if err := q.ChangeVisibility(ctx, first.Receipt, 0); !errors.Is(err, queue.ErrUnknownReceipt) {
			t.Fatalf("change visibility with the receipt of the first receive: %v, want ErrUnknownReceipt", err)
		}
	}
	if err := q.Delete(ctx, second.Receipt); err != nil {
		t.Fatalf("delete with the current receipt: %v", err)
	}
	later(2 * time.Second)
	expectNone(t, q, 0)
}

func testChangeVisibility(t *testing.T, f Factory, gaps Gaps) {
	q, later := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5})
	send(t, q, event(1))
	ctx := ctxFor(t, 30*time.Second)
	m := receiveN(t, q, 1, 10*time.Second)[0]
	if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
		t.Fatalf("change visibility to 0: %v", err)
	}
	again := receiveN(t, q, 1, 5*time.Second)[0]
	wantCount := 2
	if gaps.ChangeVisibilityCounts {
		wantCount = 3
	}
	if again.ID != m.ID || again.ReceiveCount != wantCount {
		t.Fatalf("after visibility 0, received %s with count %d, want message %s, count %d", again.ID, again.ReceiveCount, m.ID, wantCount)
	}
	if err := q.ChangeVisibility(ctx, again.Receipt, time.Hour); err != nil {
		t.Fatalf("change visibility to 1h: %v", err)
	}
	later(2 * time.Second)
	expectNone(t, q, 0)
	if err := q.ChangeVisibility(ctx, again.Receipt, 13*time.Hour); err == nil {
		t.Error("visibility of 13h accepted; SQS allows 12h at most")
	}
	if err := q.ChangeVisibility(ctx, "not-a-receipt", time.Second); !errors.Is(err, queue.ErrUnknownReceipt) {
		t.Errorf("change visibility with a made-up receipt: %v, want ErrUnknownReceipt", err)
	}
}

// testRewrite: a queue that can rewrite a received message keeps its
// visibility and receive count, and what comes back, and in the end goes
// to the dead-letter queue, is the new body. Such a queue's messages can
// hold several events (event.Group), and its depths count the events.
func testRewrite(t *testing.T, f Factory, _ Gaps) {
	q, later := f(t, Config{VisibilityTimeout: time.Second, MaxReceiveCount: 2})
	rq, ok := q.(queue.Rewriter)
	if !ok {
		t.Skip("this queue cannot rewrite a message; its relay sends one event a message")
	}
	ctx := ctxFor(t, 30*time.Second)
	depths := func(when string, visible, inFlight int64) {
		t.Helper()
		s, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Main.Visible != visible || s.Main.InFlight != inFlight {
			t.Errorf("%s: %d visible and %d in flight, want %d and %d (events, not messages)",
				when, s.Main.Visible, s.Main.InFlight, visible, inFlight)
		}
	}
	send(t, q, `[`+event(1)+`,`+event(2)+`,`+event(3)+`]`, event(4))
	depths("a group of three and an event sent", 4, 0)
	m := receiveN(t, q, 1, 10*time.Second)[0]
	if err := q.Delete(ctx, receiveN(t, q, 1, 10*time.Second)[0].Receipt); err != nil {
		t.Fatal(err)
	}
	depths("the group received", 0, 3)
	kept := `[` + event(2) + `,` + event(3) + `]`
	if err := rq.Rewrite(ctx, m.Receipt, []byte(kept)); err != nil {
		t.Fatalf("rewrite: %v", err)
	}
	depths("the group rewritten to hold two events", 0, 2)
	expectNone(t, q, 0) // still invisible
	later(time.Second)
	again := receiveN(t, q, 1, 10*time.Second)[0]
	if string(again.Body) != kept || again.ReceiveCount != 2 || again.ID != m.ID {
		t.Fatalf("after the rewrite, received %s (count %d), want %s (count 2)", again.Body, again.ReceiveCount, kept)
	}
	if err := rq.Rewrite(ctx, m.Receipt, []byte(event(3))); !errors.Is(err, queue.ErrUnknownReceipt) {
		t.Errorf("rewrite with the first receive's receipt: %v, want ErrUnknownReceipt", err)
	}
	later(time.Second)
	expectNone(t, q, 0)
	deadLettered(t, q, 2)
	if n, err := q.Redrive(ctx, 0); err != nil || n != 1 {
		t.Fatalf("redrive moved %d, %v; want 1", n, err)
	}
	depths("the group redriven", 2, 0)
	if back := receiveN(t, q, 1, 10*time.Second)[0]; string(back.Body) != kept {
		t.Errorf("redriven %s, want the rewritten %s", back.Body, kept)
	}
}

func testSetVisibilityTimeout(t *testing.T, f Factory, _ Gaps) {
	q, later := f(t, Config{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 5})
	ctx := ctxFor(t, 30*time.Second)
	if err := q.SetVisibilityTimeout(ctx, time.Second); err != nil {
		t.Fatalf("set visibility timeout: %v", err)
	}
	send(t, q, event(1))
	m := receiveN(t, q, 1, 5*time.Second)[0]
	// Back after about 1 s, not 60: the new timeout applies to this receive.
	later(time.Second)
	again := receiveN(t, q, 1, 10*time.Second)[0]
	if again.ID != m.ID || again.ReceiveCount != 2 {
		t.Fatalf("received %+v, want message %s again", again, m.ID)
	}
	if err := q.SetVisibilityTimeout(ctx, -time.Second); err == nil {
		t.Error("a negative visibility timeout was accepted")
	}
}

// deadLetter puts n messages in the dead-letter queue of q, whose max
// receive count is 1, and returns their bodies.
func deadLetter(t *testing.T, q queue.Queue, later Later, n int) []string {
	t.Helper()
	var want []string
	for i := range n {
		want = append(want, event(i))
	}
	send(t, q, want...)
	ctx := ctxFor(t, 30*time.Second)
	for _, m := range receiveN(t, q, n, 20*time.Second) {
		if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
			t.Fatal(err)
		}
	}
	later(time.Second)
	expectNone(t, q, 0)
	deadLettered(t, q, n)
	return want
}

// deadLettered waits until n messages are in q's dead-letter queue and
// none in q.
func deadLettered(t *testing.T, q queue.Queue, n int) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	eventually(t, 10*time.Second, func() error {
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		if s.DLQ.Visible != int64(n) || s.Main.Visible+s.Main.InFlight != 0 {
			return fmt.Errorf("stats: %+v, want %d in the DLQ and none in the queue", s, n)
		}
		return nil
	})
}

func testDeadLetter(t *testing.T, f Factory, _ Gaps) {
	q, later := f(t, Config{VisibilityTimeout: time.Second, MaxReceiveCount: 2})
	send(t, q, event(1))
	for i := 1; i <= 2; i++ {
		// Not deleted: back after the visibility timeout.
		if i > 1 {
			later(time.Second)
		}
		m := receiveN(t, q, 1, 10*time.Second)[0]
		if m.ReceiveCount != i {
			t.Fatalf("receive %d: count %d", i, m.ReceiveCount)
		}
	}
	// Received twice, its max: it goes to the DLQ instead of a third consumer.
	later(time.Second)
	expectNone(t, q, 0)
	deadLettered(t, q, 1)
}

func testRedrive(t *testing.T, f Factory, _ Gaps) {
	q, later := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 1})
	want := deadLetter(t, q, later, 3)
	ctx := ctxFor(t, 60*time.Second)
	n, err := q.Redrive(ctx, 2)
	if err != nil || n != 2 {
		t.Fatalf("redrive of 2: %d, %v", n, err)
	}
	got := receiveN(t, q, 2, 10*time.Second)
	n, err = q.Redrive(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("redrive of the rest: %d, %v", n, err)
	}
	got = append(got, receiveN(t, q, 1, 10*time.Second)...)
	if g := bodies(got); !slices.Equal(g, want) {
		t.Fatalf("redriven bodies %q, want %q", g, want)
	}
	for _, m := range got {
		if m.ReceiveCount != 1 {
			t.Errorf("redriven message %s has receive count %d, want 1", m.ID, m.ReceiveCount)
		}
		if err := q.Delete(ctx, m.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Redrive(ctx, 0); err != nil || n != 0 {
		t.Fatalf("redrive of an empty DLQ: %d, %v", n, err)
	}
}

func testPurge(t *testing.T, f Factory, _ Gaps) {
	q, later := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 1})
	deadLetter(t, q, later, 2)
	send(t, q, event(7), event(8))
	ctx := ctxFor(t, 90*time.Second)
	if err := q.Purge(ctx, queue.Main); err != nil {
		t.Fatalf("purge main: %v", err)
	}
	if s, err := q.Stats(ctx); err != nil || s.DLQ.Visible != 2 {
		t.Fatalf("after purging main: %+v, %v; want the DLQ's 2 messages kept", s, err)
	}
	if err := q.Purge(ctx, queue.DLQ); err != nil {
		t.Fatalf("purge dlq: %v", err)
	}
	// SQS allows a purge 60 s to act.
	eventually(t, 75*time.Second, func() error {
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		if s.Main.Visible+s.Main.InFlight+s.DLQ.Visible+s.DLQ.InFlight != 0 {
			return fmt.Errorf("after purging both queues: %+v, want both empty", s)
		}
		return nil
	})
	expectNone(t, q, 0)
	if err := q.Purge(ctx, "other"); err == nil {
		t.Error("purge of an unknown queue: no error")
	}
}

func testStats(t *testing.T, f Factory, gaps Gaps) {
	q, later := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5})
	send(t, q, event(1), event(2), event(3))
	later(1100 * time.Millisecond)
	m := receiveN(t, q, 1, 10*time.Second)[0]
	ctx := ctxFor(t, 20*time.Second)
	eventually(t, 10*time.Second, func() error {
		s, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		wantVisible := int64(2)
		if gaps.VisibleCountsInFlight {
			wantVisible = 3
		}
		if s.Main.Visible != wantVisible || s.Main.InFlight != 1 || s.Main.Delayed != 0 || s.DLQ != (queue.Depth{}) {
			return fmt.Errorf("stats: %+v, want %d visible, 1 in flight, an empty DLQ", s, wantVisible)
		}
		if s.Main.OldestAge < time.Second || s.Main.OldestAge > time.Minute {
			return fmt.Errorf("oldest age %s, want a second or so", s.Main.OldestAge)
		}
		return nil
	})
	if err := q.Delete(ctx, m.Receipt); err != nil {
		t.Fatal(err)
	}
}

func testCompetingConsumers(t *testing.T, f Factory, _ Gaps) {
	const consumers, messages = 4, 200
	q, _ := f(t, Config{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 5})
	var want []string
	for i := range messages {
		want = append(want, event(i))
	}
	ctx := ctxFor(t, 90*time.Second)
	var (
		mu   sync.Mutex
		got  []string
		errs []error
		wg   sync.WaitGroup
	)
	// Consumers start before the messages exist, as they do in production.
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				done := len(got) >= messages || len(errs) > 0
				mu.Unlock()
				if done {
					return
				}
				ms, err := q.Receive(ctx, 10, time.Second)
				if err == nil {
					for _, m := range ms {
						if err = q.Delete(ctx, m.Receipt); err != nil {
							break
						}
					}
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, m := range ms {
					got = append(got, string(m.Body))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < messages; i += 50 {
		send(t, q, want[i:i+50]...)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%d consumers received %d messages (%d distinct), want each of %d once", consumers, len(got), len(slices.Compact(slices.Clone(got))), messages)
	}
	expectNone(t, q, time.Second)
}

func testHostileBodies(t *testing.T, f Factory, _ Gaps) {
	q, _ := f(t, Config{VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5})
	hostile := []string{
		"", `"`, `\`, "\x00", "\x00\x01\x1f\x7f", "\xff\xfe invalid UTF-8 \xc3\x28", "line\nbreak\r\ttab",
		"\u2028\u2029", "emoji 🏦💶 and 漢字", "<xml attr='1'>&amp;</xml>", `{"nested":"json"}`, "'; DROP TABLE queue_messages; --",
		"\ufeffBOM", "\ufffd\ufffe", strings.Repeat("x", 100*1024),
	}
	var want []string
	for i, h := range hostile {
		b, err := json.Marshal(map[string]any{"event_id": fmt.Sprintf("h-%02d", i), "type": "test.hostile", "text": h})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(b))
	}
	send(t, q, want...)
	got := receiveN(t, q, len(want), 20*time.Second)
	// What a consumer reads is the JSON value: SQS may carry a character
	// it refuses as its JSON escape.
	decode := func(b []byte) map[string]any {
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("body %.80q: %v", b, err)
		}
		return v
	}
	byID := map[any]map[string]any{}
	for _, w := range want {
		v := decode([]byte(w))
		byID[v["event_id"]] = v
	}
	for _, m := range got {
		v := decode(m.Body)
		w, ok := byID[v["event_id"]]
		if !ok {
			t.Fatalf("unexpected or repeated body %.80q", m.Body)
		}
		if v["text"] != w["text"] {
			t.Errorf("event %v: text %.80q, want %.80q", v["event_id"], v["text"], w["text"])
		}
		delete(byID, v["event_id"])
	}
}
