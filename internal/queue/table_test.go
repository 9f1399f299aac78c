package queue_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/queuetest"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// tableFactory makes fresh table queues in db: a new queue name per test.
func tableFactory(db *store.DB) queuetest.Factory {
	return func(t *testing.T, cfg queuetest.Config) (queue.Queue, queuetest.Later) {
		t.Helper()
		var b [4]byte
		_, _ = rand.Read(b[:])
		clk := clock.NewFake(time.Now())
		q, err := queue.OpenTable(context.Background(), db, queue.TableConfig{
			Name: "test-" + hex.EncodeToString(b[:]), VisibilityTimeout: cfg.VisibilityTimeout,
			MaxReceiveCount: cfg.MaxReceiveCount, Poll: 20 * time.Millisecond, Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return q, clk.Advance
	}
}

func TestTableQueueContract(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		queuetest.Run(t, tableFactory(db), queuetest.Gaps{})
	})
}

func TestTableQueueSettingsReachEveryReplica(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "shared", VisibilityTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// A second replica configured otherwise finds the queue as it is.
		b, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "shared", VisibilityTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := b.VisibilityTimeout(ctx); err != nil || d != 30*time.Second {
			t.Fatalf("second replica sees %s, %v; want the stored 30s", d, err)
		}
		if err := a.SetVisibilityTimeout(ctx, 300*time.Second); err != nil {
			t.Fatal(err)
		}
		if d, err := b.VisibilityTimeout(ctx); err != nil || d != 300*time.Second {
			t.Fatalf("after set-visibility on one replica, the other sees %s, %v; want 5m0s", d, err)
		}
		if _, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: "bad", MaxReceiveCount: 1001}); err == nil {
			t.Error("max receive count 1001 accepted")
		}
	})
}

// TestTableTake: what Take's function is done with is deleted in the
// function's own transaction, and only if it commits; the rest is received
// as Receive receives it, dead-lettering included.
func TestTableTake(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE take_marks (body TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		q, later := tableFactory(db)(t, queuetest.Config{VisibilityTimeout: 10 * time.Second, MaxReceiveCount: 2})
		tq := q.(*queue.Table)
		if err := q.Send(ctx, []byte("a"), []byte("b"), []byte("c"), []byte("d")); err != nil {
			t.Fatal(err)
		}
		marks := func() []string {
			t.Helper()
			rows, err := db.QueryContext(ctx, `SELECT body FROM take_marks ORDER BY body`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var b string
				if err := rows.Scan(&b); err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		}
		// A function that fails leaves everything as it was: no mark, no
		// receive.
		boom := errors.New("boom")
		_, err := tq.Take(ctx, 10, 0, func(context.Context, []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
			return []bool{true, true, true, true}, func(ctx context.Context, tx *sql.Tx, _ []bool) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO take_marks (body) VALUES ('rolled back')`); err != nil {
					return err
				}
				return boom
			}, nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Take with a failing function: %v, want boom", err)
		}
		if got := marks(); len(got) != 0 {
			t.Fatalf("a failed Take left marks %v", got)
		}
		// Done with a and c: marked and gone; b and d received.
		var seen []string
		got, err := tq.Take(ctx, 10, 0, func(_ context.Context, ms []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
			seen = seen[:0]
			done := make([]bool, len(ms))
			for i, m := range ms {
				seen = append(seen, string(m.Body))
				if m.Receipt != "" || m.ReceiveCount != 0 {
					return nil, nil, fmt.Errorf("message %s offered with receipt %q and count %d", m.Body, m.Receipt, m.ReceiveCount)
				}
				done[i] = string(m.Body) == "a" || string(m.Body) == "c"
			}
			return done, func(ctx context.Context, tx *sql.Tx, taken []bool) error {
				for i, m := range ms {
					if taken[i] != done[i] {
						return fmt.Errorf("message %s taken %v, want %v", m.Body, taken[i], done[i])
					}
					if taken[i] {
						if _, err := tx.ExecContext(ctx, `INSERT INTO take_marks (body) VALUES ($1)`, string(m.Body)); err != nil {
							return err
						}
					}
				}
				return nil
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != "[a b c d]" || fmt.Sprint(bodies(got)) != "[b d]" || fmt.Sprint(marks()) != "[a c]" {
			t.Fatalf("offered %v, received %v, marked %v; want [a b c d], [b d], [a c]", seen, bodies(got), marks())
		}
		for _, m := range got {
			if m.ReceiveCount != 1 || m.Receipt == "" {
				t.Fatalf("received %s with count %d, receipt %q", m.Body, m.ReceiveCount, m.Receipt)
			}
		}
		// b is deleted by its receipt; d comes back after the timeout and,
		// out of receives, goes to the dead-letter queue, never to fn.
		if err := q.Delete(ctx, got[0].Receipt); err != nil {
			t.Fatal(err)
		}
		later(11 * time.Second)
		again, err := q.Receive(ctx, 10, 0)
		if err != nil || fmt.Sprint(bodies(again)) != "[d]" {
			t.Fatalf("second receive: %v, %v; want [d]", bodies(again), err)
		}
		later(11 * time.Second)
		left, err := tq.Take(ctx, 10, 0, func(context.Context, []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
			return nil, nil, errors.New("a dead-lettered message was offered")
		})
		if err != nil || len(left) != 0 {
			t.Fatalf("take after the last receive: %v, %v; want nothing", bodies(left), err)
		}
		st, err := q.Stats(ctx)
		if err != nil || st.DLQ.Visible != 1 || st.Main.Visible+st.Main.InFlight != 0 {
			t.Fatalf("stats %+v, %v; want d alone, in the dead-letter queue", st, err)
		}
	})
}

// TestTableTakeLeavesTheRest: the messages past what a Take's function
// decided on are left as they were, for the next receive.
func TestTableTakeLeavesTheRest(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, _ := tableFactory(db)(t, queuetest.Config{VisibilityTimeout: time.Minute, MaxReceiveCount: 5})
		tq := q.(*queue.Table)
		if err := q.Send(ctx, []byte("a"), []byte("b"), []byte("c"), []byte("d")); err != nil {
			t.Fatal(err)
		}
		got, err := tq.Take(ctx, 10, 0, func(_ context.Context, ms []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
			if len(ms) != 4 {
				return nil, nil, fmt.Errorf("offered %d messages, want 4", len(ms))
			}
			return []bool{true, false}, nil, nil
		})
		if err != nil || fmt.Sprint(bodies(got)) != "[b]" {
			t.Fatalf("take of a, b of four: received %v, %v; want [b]", bodies(got), err)
		}
		rest, err := q.Receive(ctx, 10, 0)
		if err != nil || fmt.Sprint(bodies(rest)) != "[c d]" {
			t.Fatalf("the next receive: %v, %v; want [c d]", bodies(rest), err)
		}
		for _, m := range rest {
			if m.ReceiveCount != 1 {
				t.Errorf("%s: receive count %d, want 1 (left untouched)", m.Body, m.ReceiveCount)
			}
		}
	})
}

// TestTableTakeRace: a receive that runs while a Take looks at its messages
// (on PostgreSQL they are locked and skipped; on SQLite they are read
// without a lock and the receive may win) gets each message or leaves it
// to the Take: never both.
func TestTableTakeRace(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, _ := tableFactory(db)(t, queuetest.Config{VisibilityTimeout: time.Minute, MaxReceiveCount: 5})
		tq := q.(*queue.Table)
		if err := q.Send(ctx, []byte("a"), []byte("b"), []byte("c")); err != nil {
			t.Fatal(err)
		}
		var (
			raced []queue.Message
			took  []string
		)
		_, err := tq.Take(ctx, 10, 0, func(ctx context.Context, ms []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
			var err error
			if raced, err = q.Receive(ctx, 2, 0); err != nil {
				return nil, nil, err
			}
			done := make([]bool, len(ms))
			for i := range done {
				done[i] = true
			}
			return done, func(_ context.Context, _ *sql.Tx, taken []bool) error {
				took = took[:0]
				for i, m := range ms {
					if taken[i] {
						took = append(took, string(m.Body))
					}
				}
				return nil
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		all := append(bodies(raced), took...)
		slices.Sort(all)
		if fmt.Sprint(all) != "[a b c]" {
			t.Fatalf("the receive got %v and the take consumed %v: want each message once", bodies(raced), took)
		}
		if db.Dialect == store.Postgres && len(raced) != 0 {
			t.Errorf("on PostgreSQL a receive got %v, which a take held locked", bodies(raced))
		}
		t.Logf("received %v, taken %v", bodies(raced), took)
	})
}

func bodies(ms []queue.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

// TestInstrumentedTableTakes: the instrumented table queue is still a
// Taker, and counts what it consumes in place as received and deleted.
func TestInstrumentedTableTakes(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	raw, _ := tableFactory(db)(t, queuetest.Config{VisibilityTimeout: time.Minute, MaxReceiveCount: 5})
	reg := prometheus.NewRegistry()
	q, ok := queue.Instrument(raw, "q", queue.NewMetrics(reg)).(queue.Taker)
	if !ok {
		t.Fatal("the instrumented table queue is not a Taker")
	}
	if err := q.Send(ctx, []byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	got, err := q.Take(ctx, 10, 0, func(context.Context, []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
		return []bool{true, false, true}, nil, nil
	})
	if err != nil || fmt.Sprint(bodies(got)) != "[b]" {
		t.Fatalf("take: %v, %v; want [b] received", bodies(got), err)
	}
	count := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	if r, d := count("bank_queue_messages_received_total"), count("bank_queue_messages_deleted_total"); r != 3 || d != 2 {
		t.Errorf("received %v, deleted %v; want 3 and 2", r, d)
	}
}

// TestReadsInOrderUnderABacklog: the queue's statistics are taken while it
// is drained, as autovacuum mostly finds it; then a backlog arrives. A
// receive, and the relay's read of the events, must still read the index
// in seq order and stop at their limit. Left to its estimate of a message
// or two, PostgreSQL reads every waiting message and sorts them: each read
// would cost the whole backlog.
func TestReadsInOrderUnderABacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	q, err := queue.OpenTable(ctx, db, queue.TableConfig{Name: event.Queue})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE queue_messages`); err != nil {
		t.Fatal(err)
	}
	bodies := make([][]byte, 5000)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"n":%d}`, i))
	}
	if err := q.Send(ctx, bodies...); err != nil {
		t.Fatal(err)
	}
	receive, err := q.ExplainReceive(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := queue.ExplainRelayRead(ctx, db, 100)
	if err != nil {
		t.Fatal(err)
	}
	for what, plan := range map[string]string{"a receive": receive, "the relay's read": relay} {
		if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan using queue_messages_pkey on queue_messages") {
			t.Errorf("%s under a backlog is planned as\n%s\nwant the key's index read in order, no sort", what, plan)
		}
	}

	// The consumer's connections plan its statements once and keep the
	// plan: made when the queue was analyzed drained, it must read the
	// key's index all the same.
	seqs := storetest.Column[int64](t, db, `SELECT seq FROM queue_messages ORDER BY seq LIMIT 100`)
	kept, consume, err := q.ExplainKept(ctx, 100, seqs)
	if err != nil {
		t.Fatal(err)
	}
	for what, plan := range map[string]string{"a receive": kept, "the deletion of consumed messages": consume} {
		if !strings.Contains(plan, "$1") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") ||
			!strings.Contains(plan, "queue_messages_pkey") {
			t.Errorf("%s, prepared, is kept as\n%s\nwant one generic plan that reads the key's index, no sort", what, plan)
		}
	}
}
