package queue_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

type relayEvent struct {
	event.Header
	Aggregate string `json:"aggregate"`
	N         int    `json:"n"`
}

// exclusive is a queue that fails the test if two relays send at once.
type exclusive struct {
	queue.Queue
	sending *atomic.Int32
	t       *testing.T
	after   func() // called after each send
}

func (e exclusive) Send(ctx context.Context, bodies ...[]byte) error {
	if e.sending.Add(1) != 1 {
		e.t.Error("two relays send at the same time")
	}
	defer e.sending.Add(-1)
	err := e.Queue.Send(ctx, bodies...)
	if e.after != nil {
		e.after()
	}
	return err
}

// TestRelay writes five hundred events from concurrent writers while two
// relays run, one of which dies between a send and its delete; a third
// takes over. Every event must arrive, in order per aggregate, and the
// outbox must end empty.
func TestRelay(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		const aggregates, writersPerAggregate, perAggregate = 10, 2, 50
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "relay-test", Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		cfg := queue.RelayConfig{Batch: 50, Poll: 10 * time.Millisecond, Lease: 900 * time.Millisecond, Forward: true}
		var sending atomic.Int32
		reg := prometheus.NewRegistry()
		metrics := queue.NewRelayMetrics(reg, db)

		// Relay A dies right after its fifth send, before deleting the rows.
		actx, acancel := context.WithCancel(ctx)
		var sends atomic.Int32
		a := queue.NewRelay(db, exclusive{q, &sending, t, func() {
			if sends.Add(1) == 5 {
				acancel()
			}
		}}, log, cfg, metrics)
		b := queue.NewRelay(db, exclusive{q, &sending, t, nil}, log, cfg, metrics)
		var relays sync.WaitGroup
		run := func(ctx context.Context, r *queue.Relay) {
			relays.Add(1)
			go func() { defer relays.Done(); _ = r.Run(ctx) }()
		}
		bctx, bcancel := context.WithCancel(ctx)
		defer bcancel()
		run(actx, a)

		// Writers of one aggregate take turns, as the aggregate's row lock
		// makes them in production: its events are numbered in commit order.
		var writers sync.WaitGroup
		writeErr := make(chan error, aggregates*writersPerAggregate)
		for g := range aggregates {
			var lock sync.Mutex
			next := 1
			agg := fmt.Sprintf("acc-%02d", g)
			for range writersPerAggregate {
				writers.Add(1)
				go func() {
					defer writers.Done()
					for {
						lock.Lock()
						n := next
						if n > perAggregate {
							lock.Unlock()
							return
						}
						h := event.NewHeader("test.event", time.Now())
						err := db.InTx(ctx, func(tx *sql.Tx) error {
							return event.Publish(ctx, tx, &relayEvent{h, agg, n})
						})
						if err == nil {
							next++
						}
						lock.Unlock()
						if err != nil {
							writeErr <- err
							return
						}
					}
				}()
			}
		}

		// B starts once A holds the lease, so that A is the one to die.
		poll.Until(t, time.Minute, "relay A's first send", func() bool { return sends.Load() > 0 })
		run(bctx, b)

		// One consumer checks order: per aggregate, each event not seen
		// before must be the next one. Repeats (at least once) are allowed.
		last := map[string]int{}
		seen := map[string]bool{}
		repeats := 0
		restarted := false
		for len(seen) < aggregates*perAggregate {
			if ctx.Err() != nil {
				t.Fatalf("received %d of %d events before the deadline", len(seen), aggregates*perAggregate)
			}
			select {
			case err := <-writeErr:
				t.Fatal(err)
			default:
			}
			if actx.Err() != nil && !restarted {
				// A third replica starts, as a restarted pod would.
				restarted = true
				run(ctx, queue.NewRelay(db, exclusive{q, &sending, t, nil}, log, cfg, metrics))
				bcancel()
			}
			ms, err := q.Receive(ctx, 10, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				var e relayEvent
				if err := json.Unmarshal(m.Body, &e); err != nil {
					t.Fatalf("body %q: %v", m.Body, err)
				}
				switch {
				case seen[e.EventID]:
					repeats++
				case e.N != last[e.Aggregate]+1:
					t.Fatalf("%s: event %d arrived after %d", e.Aggregate, e.N, last[e.Aggregate])
				default:
					seen[e.EventID] = true
					last[e.Aggregate] = e.N
				}
				if err := q.Delete(ctx, m.Receipt); err != nil {
					t.Fatal(err)
				}
			}
		}
		writers.Wait()
		if !restarted {
			t.Error("relay A never died: the test did not test a restart")
		}
		if repeats == 0 {
			t.Error("nothing was sent twice: relay A's crash between send and delete was not exercised")
		}
		var left int
		poll.Until(t, time.Minute, "the events' rows to be published and deleted", func() bool {
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM queue_messages WHERE queue = $1`, event.Queue).Scan(&left); err != nil {
				t.Fatal(err)
			}
			return left == 0
		})
		if lag, err := queue.Lag(ctx, db, time.Now(), true); err != nil || lag != 0 {
			t.Errorf("lag of an empty outbox: %s, %v", lag, err)
		}
		cancel()
		relays.Wait()
		t.Logf("%d events, %d sent twice", len(seen), repeats)
	})
}

// TestRelayStaleHolder: a relay that stalls past its lease, which another
// takes meanwhile, cannot renew it when it wakes and publishes nothing; the
// new holder publishes. The lease is made to expire by writing its end into
// the past, in the database's clock; the stall is the relays' fake clock.
func TestRelayStaleHolder(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "stale"})
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(time.Now())
		cfg := queue.RelayConfig{Lease: time.Hour, Forward: true, Clock: clk}
		log := slog.New(slog.DiscardHandler)
		a := queue.NewRelay(db, q, log, cfg, nil)
		b := queue.NewRelay(db, q, log, cfg, nil)
		publish := func(n int) {
			t.Helper()
			h := event.NewHeader("test.event", time.Now())
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Publish(ctx, tx, &relayEvent{h, "acc", n}) }); err != nil {
				t.Fatal(err)
			}
		}
		step := func(name string, r *queue.Relay, wantSent int, wantLeader bool) {
			t.Helper()
			n, leader, err := r.Step(ctx)
			if err != nil || n != wantSent || leader != wantLeader {
				t.Fatalf("%s: sent %d, holder %v, %v; want %d, %v", name, n, leader, err, wantSent, wantLeader)
			}
		}
		publish(1)
		step("a takes the lease", a, 1, true)
		step("b while a holds the lease", b, 0, false)

		// a stalls past its lease; b takes it over.
		if err := lease.New(db, lease.Columns{Table: "relay_lease", Key: "name", Owner: "holder", Until: "expires_at", Millis: true}).
			Expire(ctx, "outbox"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour / 2)
		step("b after a's lease ended", b, 0, true)
		publish(2)
		step("a wakes", a, 0, false)
		step("b", b, 1, true)

		ms, err := q.Receive(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, m := range ms {
			var e relayEvent
			if err := json.Unmarshal(m.Body, &e); err != nil {
				t.Fatal(err)
			}
			got = append(got, e.N)
		}
		if !slices.Equal(got, []int{1, 2}) {
			t.Errorf("received %v, want [1 2], each once", got)
		}
	})
}

func TestRelayLag(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Now().Add(-90 * time.Second)
		h := event.NewHeader("test.event", at)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Publish(ctx, tx, &h) }); err != nil {
			t.Fatal(err)
		}
		lag, err := queue.Lag(ctx, db, time.Now(), true)
		if err != nil || lag < 89*time.Second || lag > 100*time.Second {
			t.Fatalf("lag %s, %v; want about 90s", lag, err)
		}
	})
}

// TestRelayLateCommit: a row that took its seq first but commits last is
// still published. PostgreSQL only: SQLite has one writer, so its insert
// order is its commit order.
func TestRelayLateCommit(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "late"})
	if err != nil {
		t.Fatal(err)
	}
	early, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback()
	he := event.NewHeader("test.early", time.Now())
	if err := event.Publish(ctx, early, &he); err != nil {
		t.Fatal(err)
	}
	hl := event.NewHeader("test.late", time.Now())
	if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Publish(ctx, tx, &hl) }); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	r := queue.NewRelay(db, q, slog.New(slog.DiscardHandler), queue.RelayConfig{Poll: 10 * time.Millisecond, Forward: true}, nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()
	var got []string
	receive := func() {
		ms, err := q.Receive(ctx, 10, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			var h event.Header
			_ = json.Unmarshal(m.Body, &h)
			got = append(got, h.Type)
		}
	}
	receive()
	if err := early.Commit(); err != nil {
		t.Fatal(err)
	}
	receive()
	rcancel()
	<-done
	if fmt.Sprint(got) != "[test.late test.early]" {
		t.Fatalf("published %v, want the late row and then the early one", got)
	}
}

// refusing is a queue that refuses, for good, every body that mentions
// "poison" and takes the others, as SQS does with an entry it cannot carry.
type refusing struct {
	queue.Queue
	refusals *atomic.Int32 // how many sends refused a body
	largest  *atomic.Int32 // the most bodies of one send, when not nil
}

func (r refusing) Send(ctx context.Context, bodies ...[]byte) error {
	if r.largest != nil && int32(len(bodies)) > r.largest.Load() {
		r.largest.Store(int32(len(bodies)))
	}
	var ok [][]byte
	var sent []int
	for i, b := range bodies {
		if !strings.Contains(string(b), "poison") {
			ok = append(ok, b)
			sent = append(sent, i)
		}
	}
	if err := r.Queue.Send(ctx, ok...); err != nil {
		return err
	}
	if len(sent) == len(bodies) {
		return nil
	}
	r.refusals.Add(1)
	return &queue.SendError{Sent: sent, Err: errors.New("refused a poison body")}
}

// TestRelayRefusedRow: a row the queue refuses stays in the outbox (none
// lost) without holding back the rows behind it (none stuck) or making
// them go out again with every retry.
func TestRelayRefusedRow(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "poison", Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			typ := "test.ok"
			if i == 1 {
				typ = "test.poison"
			}
			h := event.NewHeader(typ, time.Now())
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Publish(ctx, tx, &h) }); err != nil {
				t.Fatal(err)
			}
		}
		rctx, rcancel := context.WithCancel(ctx)
		var refusals atomic.Int32
		r := queue.NewRelay(db, refusing{q, &refusals, nil}, slog.New(slog.DiscardHandler), queue.RelayConfig{Poll: 10 * time.Millisecond, Forward: true}, nil)
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(rctx) }()
		got := 0
		for got < 4 {
			ms, err := q.Receive(ctx, 10, 5*time.Second)
			if err != nil || len(ms) == 0 {
				t.Fatalf("received %d of 4 rows: %v", got, err)
			}
			for _, m := range ms {
				if err := q.Delete(ctx, m.Receipt); err != nil {
					t.Fatal(err)
				}
			}
			got += len(ms)
		}
		// The relay retries the refused row (after a pause of a second):
		// once it has, nothing else has come.
		seen := refusals.Load()
		poll.Until(t, time.Minute, "the refused row retried", func() bool { return refusals.Load() > seen })
		if ms, err := q.Receive(ctx, 10, 0); err != nil || len(ms) != 0 {
			t.Fatalf("after the 4 rows: %d more messages, %v; want none", len(ms), err)
		}
		rcancel()
		<-done
		var body []byte
		var h event.Header
		err = db.QueryRowContext(ctx, `SELECT body FROM queue_messages WHERE queue = $1`, event.Queue).Scan(&body)
		if err != nil || json.Unmarshal(body, &h) != nil || h.Type != "test.poison" {
			t.Fatalf("the events' queue holds %s, %v; want the refused row alone", body, err)
		}
	})
}

// TestRelaySplitsGroups: a group of events (one commit's) goes out an event
// a message; a group one of whose events the queue refuses stays whole,
// and its other events go out (again with each retry: at least once).
func TestRelaySplitsGroups(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "split", Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, types := range [][]string{{"test.ok", "test.ok", "test.ok"}, {"test.ok", "test.poison"}} {
			var recs []event.Record
			for _, typ := range types {
				h := event.NewHeader(typ, time.Now())
				r, err := event.Encode(&h)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
				if typ == "test.ok" {
					want = append(want, h.EventID)
				}
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Write(ctx, tx, recs...) }); err != nil {
				t.Fatal(err)
			}
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM queue_messages`).Scan(&rows); err != nil || rows != 2 {
			t.Fatalf("%d rows for two commits' events (%v), want 2", rows, err)
		}
		rctx, rcancel := context.WithCancel(ctx)
		var refusals, largest atomic.Int32
		// Two events a send: the first group's three go whole, the second
		// group's after them.
		r := queue.NewRelay(db, refusing{q, &refusals, &largest}, slog.New(slog.DiscardHandler), queue.RelayConfig{Batch: 2, Poll: 10 * time.Millisecond, Forward: true}, nil)
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(rctx) }()
		var got []string
		for len(got) < len(want) {
			ms, err := q.Receive(ctx, 10, 5*time.Second)
			if err != nil || len(ms) == 0 {
				t.Fatalf("received %v of %d events: %v", got, len(want), err)
			}
			for _, m := range ms {
				var h event.Header
				if err := json.Unmarshal(m.Body, &h); err != nil {
					t.Fatalf("message %s is not one event: %v", m.Body, err)
				}
				if !slices.Contains(got, h.EventID) { // the refused group's again
					got = append(got, h.EventID)
				}
				if err := q.Delete(ctx, m.Receipt); err != nil {
					t.Fatal(err)
				}
			}
		}
		rcancel()
		<-done
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want %v in order", got, want)
		}
		if n := largest.Load(); n != 3 {
			t.Errorf("sends of up to %d events, want 3 (the first group whole, the second alone)", n)
		}
		var body []byte
		if err := db.QueryRowContext(ctx, `SELECT body FROM queue_messages WHERE queue = $1`, event.Queue).Scan(&body); err != nil {
			t.Fatalf("the refused group is not kept: %v", err)
		}
		if parts, err := event.Split(body); err != nil || len(parts) != 2 {
			t.Errorf("kept %s (%v), want the group of two events", body, err)
		}
	})
}

// TestEventsAreTheQueue: on the table queue an event needs no relay: the
// row committed with the change is the message a consumer receives, once.
func TestEventsAreTheQueue(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := queue.OpenTable(ctx, db, queue.DefaultTableConfig())
		if err != nil {
			t.Fatal(err)
		}
		var sent []string
		for i := range 3 {
			h := event.NewHeader(fmt.Sprintf("test.%d", i), time.Now())
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return event.Publish(ctx, tx, &h) }); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, h.EventID)
		}
		ms, err := q.Receive(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			var h event.Header
			if err := json.Unmarshal(m.Body, &h); err != nil {
				t.Fatal(err)
			}
			got = append(got, h.EventID)
		}
		if !slices.Equal(got, sent) {
			t.Errorf("received %v, want the events %v in order", got, sent)
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM queue_messages`).Scan(&rows); err != nil || rows != len(sent) {
			t.Errorf("%d rows for %d events (%v): want one each", rows, len(sent), err)
		}
	})
}

// TestRelayDrainsAnEarlierOutbox: rows that a release before events went
// straight to the queue left in the outbox table reach consumers after the
// upgrade, on the table queue and on any other.
func TestRelayDrainsAnEarlierOutbox(t *testing.T) {
	t.Parallel()
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprint("forward=", forward), func(t *testing.T) {
			t.Parallel()
			storetest.ForEach(t, func(t *testing.T, db *store.DB) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				name := event.Queue
				if forward {
					name = "elsewhere"
				}
				q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: name, Poll: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				at := time.Now().Add(-time.Minute).UTC()
				var want []string
				for i := range 5 {
					h := event.NewHeader("test.before", at)
					body, _ := json.Marshal(h)
					if _, err := db.ExecContext(ctx, `INSERT INTO outbox (id, type, aggregate_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
						h.EventID, h.Type, fmt.Sprint("agg-", i), string(body), at); err != nil {
						t.Fatal(err)
					}
					want = append(want, h.EventID)
				}
				if lag, err := queue.Lag(ctx, db, time.Now(), forward); err != nil || lag < 59*time.Second {
					t.Errorf("lag with a minute-old outbox row: %s, %v", lag, err)
				}
				r := queue.NewRelay(db, q, slog.New(slog.DiscardHandler), queue.RelayConfig{Poll: 10 * time.Millisecond, Forward: forward}, nil)
				rctx, rcancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); _ = r.Run(rctx) }()
				var got []string
				for len(got) < len(want) && ctx.Err() == nil {
					ms, err := q.Receive(ctx, 10, time.Second)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range ms {
						var h event.Header
						_ = json.Unmarshal(m.Body, &h)
						got = append(got, h.EventID)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("received %v, want the outbox's rows %v in order", got, want)
				}
				// The relay deletes what it sent just after the send.
				poll.Until(t, time.Minute, "the outbox drained", func() bool {
					lag, err := queue.Lag(ctx, db, time.Now(), forward)
					if err != nil {
						t.Fatal(err)
					}
					return lag == 0
				})
				rcancel()
				<-done
			})
		})
	}
}
